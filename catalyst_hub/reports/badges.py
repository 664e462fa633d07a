"""Badges in the staff views: who earned and claimed which badge, and counts per community.

A training path's badge (``path:<program id>``) is listed and counted like a lesson's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from ..catalog import path_key, split_key
from ..store import Store
from ..store import tables as t
from .common import Period, not_excluded


@dataclass(frozen=True)
class LearnerBadge:
    #: the catalog key: a lesson id, or ``path:<program id>``
    key: str
    issued: datetime
    claimed: datetime | None
    revoked: datetime | None


def learner_badges(store: Store, member_ids: Iterable[str]) -> dict[str, dict[str, LearnerBadge]]:
    """{member id: {badge key: badge}} of the given members (a cohort's learners)."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    b, s = t.badges.c, t.badge_status.c
    query = (
        select(b.member_id, b.lesson, b.issued, b.claimed, s.revoked)
        .outerjoin(t.badge_status, (s.hub == b.hub) & (s.status_index == b.status_index))
        .where(b.hub == store.hub, b.member_id.in_(ids))
    )
    found: dict[str, dict[str, LearnerBadge]] = {}
    with store.connect() as conn:
        for row in conn.execute(query):
            found.setdefault(row.member_id, {})[row.lesson] = LearnerBadge(
                row.lesson, row.issued, row.claimed, row.revoked
            )
    return found


@dataclass(frozen=True)
class BadgeCount:
    community: str
    #: the lesson of a lesson's badge, the program of a training path's (the other is None)
    lesson: str | None
    path: str | None
    issued: int
    claimed: int
    revoked: int

    @property
    def key(self) -> str:
        return self.lesson if self.lesson is not None else path_key(str(self.path))


def badges_per_community(
    store: Store, communities: Iterable[str] | None = None
) -> list[BadgeCount]:
    """Badges issued (and of them claimed, revoked) per community and lesson or path, current
    members only (an erased member's badges are gone with the rest of their data)."""
    b, s = t.badges.c, t.badge_status.c
    query = (
        select(
            b.community,
            b.lesson,
            func.count(),
            func.count(b.claimed),
            func.count(s.revoked),
        )
        .outerjoin(t.badge_status, (s.hub == b.hub) & (s.status_index == b.status_index))
        .where(b.hub == store.hub)
        .group_by(b.community, b.lesson)
    )
    if communities is not None:
        query = query.where(b.community.in_(sorted(set(communities))))
    with store.connect() as conn:
        counts = [
            BadgeCount(community, *split_key(key), issued, claimed, revoked)
            for community, key, issued, claimed, revoked in conn.execute(query)
        ]
    # per community, the lessons' badges, then the paths'
    return sorted(counts, key=lambda c: (c.community, c.path is not None, c.key))


@dataclass(frozen=True)
class IssuedInPeriod:
    """Badges issued to a community's current members in a period, and to how many members
    (what the count describes, for the suppression policy outside the community)."""

    badges: int = 0
    earners: int = 0


def badges_issued(store: Store, community: str, period: Period) -> IssuedInPeriod:
    b = t.badges.c
    query = select(func.count(), func.count(func.distinct(b.member_id))).where(
        b.hub == store.hub,
        b.community == community,
        b.issued >= period.start_time,
        b.issued < period.end_time,
        not_excluded(store, b.member_id),
    )
    with store.connect() as conn:
        badges, earners = conn.execute(query).one()
    return IssuedInPeriod(int(badges or 0), int(earners or 0))


@dataclass(frozen=True)
class CommunityBadges:
    """A community's badges (of current members, staff left out), and the members they
    describe (for the suppression policy outside the community)."""

    issued: int = 0
    claimed: int = 0
    #: members holding at least one badge, and at least one claimed badge
    holders: int = 0
    claimers: int = 0


def badges_by_community(
    store: Store, communities: Iterable[str] | None = None
) -> dict[str, CommunityBadges]:
    """Badges issued (revoked ones too: they were issued) and claimed per community, with
    how many members hold and claimed them; communities without badges are absent."""
    b = t.badges.c
    query = (
        select(
            b.community,
            func.count(),
            func.count(b.claimed),
            func.count(func.distinct(b.member_id)),
            func.count(func.distinct(case((b.claimed.is_not(None), b.member_id)))),
        )
        .where(b.hub == store.hub, not_excluded(store, b.member_id))
        .group_by(b.community)
    )
    if communities is not None:
        query = query.where(b.community.in_(sorted(set(communities))))
    with store.connect() as conn:
        return {
            community: CommunityBadges(int(issued), int(claimed), int(holders), int(claimers))
            for community, issued, claimed, holders, claimers in conn.execute(query)
        }
