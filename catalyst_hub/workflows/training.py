"""Training workflows: creating and editing cohorts, adding and removing learners, sign-off."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from ..events import LEAD, envelope
from ..events.names import EPISODE_COMPLETED
from ..ingest import Ingestor, Sender
from ..reports.cohorts import Cohort, CohortFields
from ..reports.training import cohort_columns
from ..store import Store
from ..store import tables as t
from ..store.audit import Access, audit, unknown_members
from ..store.sql import upsert
from ..timeutil import utcnow


class SignOffError(ValueError):
    """A sign-off that does not fit the cohort (not a learner, not one of its episodes)."""


class LearnersError(ValueError):
    """Learners that cannot be added or removed; nothing was written."""

    def __init__(self, unknown_names: list[str], unknown_ids: bool) -> None:
        super().__init__("unknown learners")
        #: usernames that are not members of the cohort's community
        self.unknown_names = unknown_names
        #: whether some learner to remove is not a member id
        self.unknown_ids = unknown_ids


@dataclass(frozen=True)
class LearnersChange:
    added: int
    removed: int


def create_cohort(store: Store, community: str, fields: CohortFields, actor: str) -> int:
    now = utcnow()
    with store.begin() as conn:
        return conn.execute(
            insert(t.cohorts)
            .values(
                hub=store.hub,
                community=community,
                name=fields.name,
                language=fields.language,
                starts=fields.starts,
                ends=fields.ends,
                lessons=fields.lessons,
                created=now,
                created_by=actor,
                updated=now,
            )
            .returning(t.cohorts.c.id)
        ).scalar_one()


def update_cohort(store: Store, cohort_id: int, fields: CohortFields) -> None:
    c = t.cohorts.c
    with store.begin() as conn:
        conn.execute(
            update(t.cohorts)
            .where(c.hub == store.hub, c.id == cohort_id)
            .values(
                name=fields.name,
                language=fields.language,
                starts=fields.starts,
                ends=fields.ends,
                lessons=fields.lessons,
                updated=utcnow(),
            )
        )


def edit_learners(
    store: Store, cohort: Cohort, usernames: Iterable[str], remove: Iterable[str], actor: str
) -> LearnersChange:
    """Add learners by username and remove others by member id, with their audit rows, in
    one transaction. Raises LearnersError, writing nothing, for a username that is not a
    member of the cohort's community (one answer for "no such user" and "user of another
    community": nothing leaks across) or a learner to remove that is not a member id."""
    names, removing = list(usernames), list(remove)
    remove = sorted(set(removing))
    wanted = {name: store.pseudonym(name) for name in names}
    m = t.members.c
    with store.begin() as conn:
        communities = (
            dict(
                conn.execute(
                    select(m.member_id, m.community).where(
                        m.hub == store.hub, m.member_id.in_(sorted(set(wanted.values())))
                    )
                ).all()
            )
            if wanted
            else {}
        )
        unknown = [n for n in names if communities.get(wanted[n]) != cohort.community]
        # learners are removed by member id: anything else (a username, free text) is
        # refused before anything is written, so it never reaches the audit log
        unknown_ids = bool(unknown_members(store, remove, conn)) if remove else False
        if unknown or unknown_ids:
            raise LearnersError(unknown, unknown_ids)
        found = sorted({wanted[n] for n in names})
        detail = f"cohort {cohort.id}"
        if found:
            _add_members(store, conn, cohort.id, found, actor)
            audit(store, Access(actor, "add_learners", cohort.community, detail), found, conn)
        if remove:
            _remove_members(store, conn, cohort.id, remove)
            audit(store, Access(actor, "remove_learners", cohort.community, detail), remove, conn)
    # as asked: a name given twice counts twice
    return LearnersChange(len(names), len(removing))


def _add_members(
    store: Store, conn: Connection, cohort_id: int, member_ids: list[str], actor: str
) -> None:
    now = utcnow()
    rows = [
        {
            "hub": store.hub,
            "cohort_id": cohort_id,
            "member_id": mid,
            "added": now,
            "added_by": actor,
        }
        for mid in member_ids
    ]
    upsert(conn, t.cohort_members, rows, ["hub", "cohort_id", "member_id"])


def _remove_members(store: Store, conn: Connection, cohort_id: int, member_ids: list[str]) -> None:
    cm = t.cohort_members.c
    conn.execute(
        delete(t.cohort_members).where(
            cm.hub == store.hub, cm.cohort_id == cohort_id, cm.member_id.in_(member_ids)
        )
    )


def sign_off(
    store: Store, cohort: Cohort, learner: str, lesson: str, episode: str, lead: str
) -> bool:
    """Record that ``lead`` signed off ``episode`` for ``learner``: an ``episode_completed``
    event about the learner, projected like any other, and its audit row, in one
    transaction. Returns whether the event was stored (False: it was in the log already)."""
    if learner not in cohort.members:
        raise SignOffError("not a learner of this cohort")
    if not any(
        c.lesson == lesson and c.episode == episode for c in cohort_columns(store, cohort, "en")
    ):
        raise SignOffError("not an episode of this cohort's lessons")
    raw = envelope(
        EPISODE_COMPLETED,
        {"lesson": lesson, "episode": episode, "source": "lead", "signed_off_by": lead},
    )
    access = Access(lead, "sign_off", cohort.community, f"cohort {cohort.id}: {lesson}/{episode}")
    stored, _ = Ingestor(store).ingest_trusted(
        # the only sender of a lead's sign-off: the service stamps ``signed_off_by`` itself
        [(raw, Sender(member_id=learner, community=cohort.community, kind=LEAD))],
        also=lambda conn: audit(store, access, [learner], conn),
    )
    return bool(stored)
