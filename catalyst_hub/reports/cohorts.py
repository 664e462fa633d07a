"""Training cohorts: a workshop's community, language, dates, learners and lessons.

Cohorts are what training leads create and edit, so they are plain tables (not projections
of the event log); their learners are member ids. Completion itself is never written here:
a lead's sign-off is an ``episode_completed`` event. Cohorts are written by
``catalyst_hub.workflows.training``; this module reads them.

Cohorts follow communities: a cohort's learners are read joined with each member's current
community, so a learner who moved to another community drops out of the former community's
cohort pages, matrix and exports (their row stays, and returns if they come back).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select

from ..catalog import LANGUAGES
from ..store import Store
from ..store import tables as t

MAX_NAME = 200


class CohortError(ValueError):
    """Cohort fields that cannot be saved; the message says which and why."""


@dataclass
class Cohort:
    id: int
    community: str
    name: str
    language: str
    starts: date | None
    ends: date | None
    lessons: list[str]
    created: datetime
    updated: datetime
    #: learners' member ids (only when read with ``get_cohort``)
    members: list[str] = field(default_factory=list)
    learners: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "community": self.community,
            "name": self.name,
            "language": self.language,
            "starts": self.starts.isoformat() if self.starts else None,
            "ends": self.ends.isoformat() if self.ends else None,
            "lessons": list(self.lessons),
            "learners": self.learners,
        }


@dataclass(frozen=True)
class CohortFields:
    name: str
    language: str
    starts: date | None
    ends: date | None
    lessons: list[str]


def parse_fields(
    store: Store,
    name: str | None,
    language: str | None,
    starts: str | None,
    ends: str | None,
    lessons: Iterable[str],
) -> CohortFields:
    """Check a cohort form or JSON body; raises CohortError."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise CohortError(f"a cohort needs a name of 1 to {MAX_NAME} characters")
    language = (language or "en").strip()
    if language not in LANGUAGES:
        raise CohortError(f"language must be one of {', '.join(LANGUAGES)}")
    try:
        first = date.fromisoformat(starts) if starts else None
        last = date.fromisoformat(ends) if ends else None
    except ValueError:
        raise CohortError("dates must be YYYY-MM-DD") from None
    if first and last and last < first:
        raise CohortError("the cohort ends before it starts")
    known = [lesson.id for program in store.catalog.programs for lesson in program.lessons]
    chosen = list(dict.fromkeys(lessons))
    unknown = [x for x in chosen if x not in known]
    if unknown:
        raise CohortError(f"unknown lesson(s): {', '.join(unknown)}")
    if not chosen:
        raise CohortError("choose at least one lesson")
    # keep the catalog's order, the order lessons are taught in
    return CohortFields(name, language, first, last, [x for x in known if x in chosen])


def _current_learners():
    """cohort_members joined with cohorts and members: the learners still in the cohort's
    community (select from it, then filter on the hub and cohort)."""
    c, cm, m = t.cohorts.c, t.cohort_members.c, t.members.c
    return t.cohort_members.join(t.cohorts, and_(c.hub == cm.hub, c.id == cm.cohort_id)).join(
        t.members,
        and_(m.hub == cm.hub, m.member_id == cm.member_id, m.community == c.community),
    )


def get_cohort(store: Store, cohort_id: int) -> Cohort | None:
    c, cm = t.cohorts.c, t.cohort_members.c
    with store.connect() as conn:
        row = conn.execute(select(t.cohorts).where(c.hub == store.hub, c.id == cohort_id)).first()
        if row is None:
            return None
        learners = conn.execute(
            select(cm.member_id)
            .select_from(_current_learners())
            .where(cm.hub == store.hub, cm.cohort_id == cohort_id)
        ).scalars()
        members = sorted(learners)
        return _cohort(row, members, len(members))


def list_cohorts(store: Store, communities: Iterable[str] | None) -> list[Cohort]:
    """Cohorts of ``communities`` (None: all), newest first, with their learner counts."""
    c, cm = t.cohorts.c, t.cohort_members.c
    query = select(t.cohorts).where(c.hub == store.hub)
    if communities is not None:
        query = query.where(c.community.in_(sorted(communities)))
    with store.connect() as conn:
        rows = conn.execute(query.order_by(c.starts.desc(), c.id.desc())).all()
        counts: dict[int, int] = dict(
            conn.execute(
                select(cm.cohort_id, func.count())
                .select_from(_current_learners())
                .where(cm.hub == store.hub, cm.cohort_id.in_([r.id for r in rows]))
                .group_by(cm.cohort_id)
            ).all()
        )
    return [_cohort(row, [], counts.get(row.id, 0)) for row in rows]


def _cohort(row, members: list[str], learners: int) -> Cohort:
    return Cohort(
        id=row.id,
        community=row.community,
        name=row.name,
        language=row.language,
        starts=row.starts,
        ends=row.ends,
        lessons=list(row.lessons or []),
        created=row.created,
        updated=row.updated,
        members=members,
        learners=learners,
    )
