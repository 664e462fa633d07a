"""All communities side by side: aggregates only, small groups hidden.

Every figure is one grouped query over all communities at once, so the overview (and the
Prometheus metrics built on it) costs the same for two communities as for fifty.

Small-group suppression is ``reports.suppression``'s policy, applied to each community's row
with the relations between its figures (see ``community_figures``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, select

from ..store import Store
from ..store import tables as t
from ..timeutil import utcnow
from .common import (
    Period,
    Suppressed,
    communities_of,
    in_communities,
    not_excluded,
    percent,
    seconds_sum,
)
from .suppression import Figures, suppress
from .training import training_by_community
from .usage import session_end


@dataclass
class CommunityTotals:
    community: str
    members: int = 0
    new_members: int = 0
    active_members: int = 0
    weekly_active: int = 0
    activated: int = 0
    learners: int = 0
    episodes_started: int = 0
    episodes_completed: int = 0
    sessions: int = 0
    session_members: int = 0
    server_hours: float = 0.0

    @property
    def activation_percent(self) -> float | None:
        return percent(self.activated, self.members)

    @property
    def training_percent(self) -> float | None:
        return percent(self.episodes_completed, self.episodes_started)


Value = int | float | None | Suppressed


@dataclass
class OverviewRow:
    """One community's figures after suppression (a Suppressed where too few people)."""

    community: str
    members: Value
    new_members: Value
    active_members: Value
    weekly_active: Value
    activated: Value
    activation_percent: Value
    learners: Value
    training_percent: Value
    sessions: Value
    server_hours: Value

    def to_json(self) -> dict[str, Any]:
        return {
            key: (value.to_json() if isinstance(value, Suppressed) else value)
            for key, value in self.__dict__.items()
        }


def activated_counts(store: Store, communities: Iterable[str] | None = None) -> dict[str, int]:
    """Activated members per community (the projector's ``members.activated``)."""
    m = t.members.c
    with store.connect() as conn:
        # an explicit list, so that each community is a range of the (community, activated)
        # index: activated members only, read from the index alone
        names = (
            sorted(communities)
            if communities is not None
            else communities_of(conn, store, t.members)
        )
        rows = conn.execute(
            select(m.community, func.count())
            .where(
                m.hub == store.hub,
                m.community.in_(names),
                m.activated.is_not(None),
                not_excluded(store, m.member_id),
            )
            .group_by(m.community)
        ).all()
    return {c: int(n) for c, n in rows}


def active_days_where(
    conn: Connection,
    store: Store,
    first: date,
    last: date,
    communities: Iterable[str] | None = None,
) -> tuple[ColumnElement[bool], ...]:
    """The ``daily_activity`` rows of ``communities`` (default: every community with any)
    from ``first`` to ``last``, staff left out: with an explicit list of communities, so
    each is a range of the (community, day) covering index."""
    da = t.daily_activity.c
    names = (
        sorted(communities)
        if communities is not None
        else communities_of(conn, store, t.daily_activity)
    )
    return (
        da.hub == store.hub,
        da.community.in_(names),
        da.day >= first,
        da.day <= last,
        not_excluded(store, da.member_id),
    )


def active_counts_since(
    store: Store, firsts: Sequence[date], last: date, communities: Iterable[str] | None = None
) -> dict[str, list[int]]:
    """Distinct active members per community from each of ``firsts`` to ``last`` (included):
    the 30 and 7 days of the overview, or a scrape's day, week and month, from one read of
    the (community, day) covering index over the longest of them."""
    da = t.daily_activity.c
    with store.connect() as conn:
        where = active_days_where(conn, store, min(firsts), last, communities)
        if conn.dialect.name == "postgresql":
            # each member's last active day (a hashed grouping), then counted per community:
            # active since a day when their last day is on or after it
            latest = (
                select(da.community, func.max(da.day).label("latest"))
                .where(*where)
                .group_by(da.community, da.member_id)
                .subquery("latest")
            )
            la = latest.c
            counts: list[ColumnElement[Any]] = [
                func.sum(case((la.latest >= first, 1), else_=0)) for first in firsts
            ]
            query = select(la.community, *counts).group_by(la.community)
        else:
            # SQLite counts distinct values with a small index per aggregate, where grouping
            # on the member would sort every row
            counts = [
                func.count(func.distinct(case((da.day >= first, da.member_id), else_=None)))
                for first in firsts
            ]
            query = select(da.community, *counts).where(*where).group_by(da.community)
        rows = conn.execute(query).all()
    return {c: [int(n or 0) for n in ns] for c, *ns in rows}


def community_totals(
    store: Store,
    period: Period,
    communities: Iterable[str] | None = None,
    now: datetime | None = None,
) -> list[CommunityTotals]:
    """Unsuppressed figures per community (for internal use: suppress before showing)."""
    now = now or utcnow()
    chosen = sorted(communities) if communities is not None else None
    m, s = t.members.c, t.server_sessions.c
    with store.connect() as conn:
        in_period = and_(m.first_seen >= period.start_time, m.first_seen < period.end_time)
        members = conn.execute(
            select(m.community, func.count(), func.sum(case((in_period, 1), else_=0)))
            .where(
                m.hub == store.hub,
                in_communities(m.community, chosen),
                not_excluded(store, m.member_id),
            )
            .group_by(m.community)
        ).all()
        ended = session_end(conn.dialect.name, now, period.end_time)
        where = (
            s.hub == store.hub,
            s.started >= period.start_time,
            s.started < period.end_time,
            s.community.in_(
                chosen if chosen is not None else communities_of(conn, store, t.server_sessions)
            ),
            not_excluded(store, s.member_id),
        )
        if conn.dialect.name == "postgresql":
            # per member first, then per community: grouping twice lets PostgreSQL hash where
            # COUNT(DISTINCT) would sort every community's member ids; intervals are added up
            # and turned into seconds once (see ``seconds_sum``)
            per_member = (
                select(
                    s.community,
                    func.count().label("sessions"),
                    func.sum(ended - s.started).label("spent"),
                )
                .where(*where)
                .group_by(s.community, s.member_id)
                .subquery("per_member")
            )
            pm = per_member.c
            query = select(
                pm.community,
                func.sum(pm.sessions),
                func.count(),
                func.extract("epoch", func.sum(pm.spent)),
            ).group_by(pm.community)
        else:
            # SQLite walks the index in community order and counts distinct members with a
            # small index of them, where grouping on the member would sort every session
            query = (
                select(
                    s.community,
                    func.count(),
                    func.count(func.distinct(s.member_id)),
                    seconds_sum(conn.dialect.name, s.started, ended),
                )
                .where(*where)
                .group_by(s.community)
            )
        sessions = conn.execute(query).all()
    rows: dict[str, CommunityTotals] = {}

    def row(name: str) -> CommunityTotals:
        return rows.setdefault(name, CommunityTotals(name))

    for name, total, new in members:
        row(name).members, row(name).new_members = int(total), int(new or 0)
    week = period.end - timedelta(days=6)
    for name, (n, weekly) in active_counts_since(
        store, [period.start, week], period.end, chosen
    ).items():
        row(name).active_members, row(name).weekly_active = n, weekly
    for name, n in activated_counts(store, chosen).items():
        row(name).activated = n
    for name, tr in training_by_community(store, chosen).items():
        row(name).learners = tr.learners
        row(name).episodes_started = tr.episodes_started
        row(name).episodes_completed = tr.episodes_completed
    for name, count, who, seconds in sessions:
        r = row(name)
        r.sessions, r.session_members, r.server_hours = (
            int(count),
            int(who),
            round(float(seconds or 0) / 3600, 1),
        )
    return [rows[name] for name in sorted(rows)]


def community_figures(row: CommunityTotals) -> Figures:
    """A community's overview figures and how they relate, for the suppression policy."""
    f = Figures()
    f.count("members", row.members)
    for part in ("new_members", "activated", "active_members", "learners"):
        f.count(part, getattr(row, part))
        f.part_of("members", part)
    f.count("weekly_active", row.weekly_active)
    f.window_of("active_members", "weekly_active")
    # newcomers are active in the period that first saw them: the others are the difference
    f.part_of("active_members", "new_members")
    f.count("session_members", row.session_members, shown=False)
    f.derived("activation_percent", row.activation_percent, "activated", "members")
    # episode counts describe the learners, sessions and hours the members with a session
    f.derived("training_percent", row.training_percent, "learners")
    f.derived("sessions", row.sessions, "session_members")
    f.derived("server_hours", row.server_hours, "session_members")
    return f


def suppressed(row: CommunityTotals, k: int) -> OverviewRow:
    """The row as someone outside the community sees it (``suppression.suppress``)."""
    return OverviewRow(community=row.community, **suppress(community_figures(row), k))


def overview(store: Store, period: Period, k: int) -> list[OverviewRow]:
    """The consortium overview: every community, aggregates only, suppressed below ``k``."""
    return [suppressed(row, k) for row in community_totals(store, period)]
