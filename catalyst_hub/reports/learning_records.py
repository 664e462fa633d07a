"""The learning records of a hub, read for xAPI (``catalyst_hub.interop.xapi``): exercises,
episodes and onboarding steps reached, per member, from the projections (read only).

Only members whose records may leave the hub are read: not staff and service accounts
(``store.excluded_members``), not a member whose data is erased (their rows are gone, and
the tombstone is checked too), and only members who accepted the recording notice (or, in
``opt-out`` mode, have not objected).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, or_, select

from ..store import tables as t
from ..store.privacy import GIVEN, WITHDRAWN
from ..store.store import Store
from .common import not_excluded


@dataclass(frozen=True, slots=True)
class Learner:
    member_id: str
    community: str
    #: (cohort id, lesson ids of the cohort) of the cohorts the member is in
    cohorts: tuple[tuple[int, tuple[str, ...]], ...] = ()


@dataclass(slots=True)
class LearningRecords:
    """One hub's learning records, by member."""

    learners: dict[str, Learner] = field(default_factory=dict)
    #: (member, lesson, episode, exercise, completed)
    exercises: list[tuple[str, str, str, str, datetime]] = field(default_factory=list)
    #: (member, lesson, episode, completed, source, signed_off_by)
    episodes: list[tuple[str, str, str, datetime, str | None, str | None]] = field(
        default_factory=list
    )
    #: (member, step, reached)
    steps: list[tuple[str, str, datetime]] = field(default_factory=list)


def recordable_members(store: Store, communities: Iterable[str] | None):
    """The members (hub, member id, community) whose learning records may leave the hub."""
    m = t.members.c
    e = t.member_erasures.c
    consent = m.consent == GIVEN
    if store.consent_mode == "opt-out":
        consent = or_(m.consent.is_(None), m.consent != WITHDRAWN)
    erased = exists().where(e.hub == m.hub, e.member_id == m.member_id, e.accepted.is_(None))
    query = select(m.member_id, m.community).where(
        m.hub == store.hub, consent, ~erased, not_excluded(store, m.member_id)
    )
    if communities is not None:
        query = query.where(m.community.in_(sorted(communities)))
    return query


def learning_records(
    store: Store, communities: Iterable[str] | None = None, members: Iterable[str] | None = None
) -> LearningRecords:
    """The learning records of ``communities`` (None: all) or of ``members`` only."""
    query = recordable_members(store, communities)
    if members is not None:
        query = query.where(t.members.c.member_id.in_(sorted(set(members))))
    records = LearningRecords()
    with store.connect() as conn:
        learners = query.subquery()
        cohorts: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        cm, c = t.cohort_members.c, t.cohorts.c
        for member, cohort_id, lessons in conn.execute(
            select(cm.member_id, c.id, c.lessons)
            .join(t.cohorts, and_(c.hub == cm.hub, c.id == cm.cohort_id))
            .where(cm.hub == store.hub, cm.member_id.in_(select(learners.c.member_id)))
            .order_by(cm.member_id, c.id)
        ):
            cohorts.setdefault(member, []).append((cohort_id, tuple(lessons or ())))
        for member, community in conn.execute(select(learners)):
            records.learners[member] = Learner(member, community, tuple(cohorts.get(member, ())))
        ids = select(learners.c.member_id)
        x = t.exercise_completions.c
        records.exercises = [
            tuple(row)
            for row in conn.execute(
                select(x.member_id, x.lesson, x.episode, x.exercise, x.completed).where(
                    x.hub == store.hub, x.member_id.in_(ids)
                )
            )
        ]
        p = t.training_progress.c
        records.episodes = [
            tuple(row)
            for row in conn.execute(
                select(
                    p.member_id, p.lesson, p.episode, p.completed, p.source, p.signed_off_by
                ).where(p.hub == store.hub, p.member_id.in_(ids), p.completed.is_not(None))
            )
        ]
        s = t.member_steps.c
        records.steps = [
            tuple(row)
            for row in conn.execute(
                select(s.member_id, s.step, s.reached).where(
                    s.hub == store.hub, s.member_id.in_(ids)
                )
            )
        ]
    return records
