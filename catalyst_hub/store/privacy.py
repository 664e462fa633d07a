"""A member's own data: consent in force, export, erasure, and retention of the raw log.

Every function takes the Store and a member id; usernames appear only in the identity rows an
export returns to their owner. Erasure and purge are the only places that delete events.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, tuple_, update

from ..events.names import CONSENT, EPISODE_COMPLETED, SERVER_STARTED, SERVER_STOPPED
from ..timeutil import UTC, day_start, isoformat, local_day, utcnow
from . import tables as t
from .sql import upsert
from .store import Store

if TYPE_CHECKING:
    from ..events import StoredEvent

WITHDRAWN = "withdrawn"
GIVEN = "given"

#: ``c.CatalystService.consent_mode`` values: "opt-in" stores nothing non-essential until the
#: member accepts the current notice; "opt-out" (legitimate interest) records until they object.
CONSENT_MODES = ("opt-in", "opt-out")

#: The essential events: stored whatever the member decided (or before they decided), each
#: with the reason the privacy page gives. Everything else waits for a decision (opt-in).
#: An opted-out or erased member's events are not stored at all, except their own decision.
ESSENTIAL_EVENTS: dict[str, str] = {
    CONSENT: "your decision on the notice, so the hub knows whether it may record",
    SERVER_STARTED: "when your server starts, to plan the hub's capacity",
    SERVER_STOPPED: "when your server stops, to plan the hub's capacity",
}

#: The audit action of an erasure; its row names neither the person nor their member id.
ERASURE_ACTION = "erasure"
#: ``actor`` of audit rows the member wrote about themself (the column may not be empty).
SELF_SERVICE_ACTOR = "self-service"
#: What an erased member's id becomes where others' records name them (a lead's sign-off of
#: a learner's episode, who created a cohort or added someone to it).
ERASED_MEMBER = "erased"


def member_tables() -> list[Table]:
    """Tables with one hub's rows about one member (projections, cohort membership...).

    Found by their columns, so a table added later (by another part) is exported and erased
    without this module knowing it.
    """
    skip = {t.identities.name, t.events.name, t.audit_log.name, t.member_erasures.name}
    return [
        table
        for table in t.metadata.sorted_tables
        if table.name not in skip and "hub" in table.c and "member_id" in table.c
    ]


# -- consent ---------------------------------------------------------------------------------


def consent_of(store: Store, member_id: str) -> str | None:
    """The member's projected consent decision: "given", "withdrawn" or None (not decided)."""
    m = t.members.c
    with store.connect() as conn:
        return conn.execute(
            select(m.consent).where(m.hub == store.hub, m.member_id == member_id)
        ).scalar()


# built once: on the ingest path, building the query cost more than running it
_CONSENTS = select(
    t.members.c.member_id,
    t.members.c.consent,
    t.members.c.consent_version,
    t.members.c.consent_time,
).where(
    t.members.c.hub == bindparam("hub"),
    t.members.c.member_id.in_(bindparam("ids", expanding=True)),
    t.members.c.consent.is_not(None),
)


@dataclass(frozen=True, slots=True)
class RecordingState:
    """What a member decided, as the log and the erasure tombstones say."""

    decision: str | None = None
    version: str | None = None
    time: datetime | None = None
    #: when the member erased their data, if they have not accepted the notice since
    erased: datetime | None = None
    #: when the member last erased their data: nothing dated before it is stored again
    horizon: datetime | None = None


def recording_states(
    store: Store, member_ids: Iterable[str], conn: Connection
) -> dict[str, RecordingState]:
    """The RecordingState of those of ``member_ids`` who decided or erased their data (two
    queries, in the caller's transaction: the ingest path asks for every batch)."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    params = {"hub": store.hub, "ids": ids}
    states = {
        row.member_id: RecordingState(row.consent, row.consent_version, row.consent_time)
        for row in conn.execute(_CONSENTS, params)
    }
    for row in conn.execute(_ERASED, params):
        # a decision recorded since the erasure (an opt-out) stands beside the tombstone
        states[row.member_id] = replace(
            states.get(row.member_id) or RecordingState(),
            erased=row.erased if row.accepted is None else None,
            horizon=row.erased,
        )
    return states


def lift_erasures(
    store: Store, member_ids: Iterable[str], accepted: datetime, conn: Connection
) -> None:
    """They accepted the notice again: the erased members of ``member_ids`` start a new
    record (the erasure's time stays: what is older is never stored again)."""
    ids = sorted(set(member_ids))
    if ids:
        e = t.member_erasures.c
        conn.execute(
            update(t.member_erasures)
            .where(e.hub == store.hub, e.member_id.in_(ids))
            .values(accepted=accepted)
        )


_ERASED = select(
    t.member_erasures.c.member_id, t.member_erasures.c.erased, t.member_erasures.c.accepted
).where(
    t.member_erasures.c.hub == bindparam("hub"),
    t.member_erasures.c.member_id.in_(bindparam("ids", expanding=True)),
)


def already_stored(store: Store, events: Iterable[StoredEvent]) -> set[str]:
    """The ids of those of ``events`` that are in this hub's log (to tell a redelivery from a
    dropped event). An id is unique per member: another member's event of that id is not one."""
    wanted = {(e.member_id, e.id) for e in events}
    if not wanted:
        return set()
    e = t.events.c
    members = sorted({member for member, _ in wanted})
    ids = sorted({event_id for _, event_id in wanted})
    with store.connect() as conn:
        rows = conn.execute(
            select(e.member_id, e.id).where(
                e.hub == store.hub, e.member_id.in_(members), e.id.in_(ids)
            )
        ).all()
    return {row.id for row in rows if (row.member_id, row.id) in wanted}


# -- export ----------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat(value)
    if hasattr(value, "isoformat"):  # date
        return value.isoformat()
    return value


def _rows(conn, query) -> list[dict[str, Any]]:
    return [{k: _jsonable(v) for k, v in row._mapping.items()} for row in conn.execute(query)]


def export_member(store: Store, member_id: str) -> dict[str, Any]:
    """Everything this hub's store holds about one member, as JSON-ready data.

    The username is included: the export goes to its owner only.
    """
    with store.connect() as conn:
        identity = _rows(
            conn,
            select(t.identities).where(
                t.identities.c.hub == store.hub, t.identities.c.member_id == member_id
            ),
        )
        events = _rows(
            conn,
            select(t.events)
            .where(t.events.c.hub == store.hub, t.events.c.member_id == member_id)
            .order_by(t.events.c.time, t.events.c.id),
        )
        tables = {
            table.name: _rows(
                conn,
                select(table).where(table.c.hub == store.hub, table.c.member_id == member_id),
            )
            for table in member_tables()
        }
        # staff reads of this member's data are theirs to see too
        audit = _rows(
            conn,
            select(t.audit_log.c.time, t.audit_log.c.action, t.audit_log.c.community)
            .where(t.audit_log.c.hub == store.hub, t.audit_log.c.subject == member_id)
            .order_by(t.audit_log.c.time),
        )
    member = (tables.get(t.members.name) or [{}])[0]
    return {
        "hub": store.hub,
        "exported": isoformat(utcnow()),
        "identity": identity,
        "member_id": member_id,
        "consent": {
            "decision": member.get("consent"),
            "version": member.get("consent_version"),
            "time": member.get("consent_time"),
        },
        "events": events,
        "tables": tables,
        "audit": audit,
    }


# -- erasure ---------------------------------------------------------------------------------


@dataclass
class Erasure:
    """What an erasure removed. ``receipt`` is random: the member may keep it as proof, and
    nothing in the database links it back to them."""

    receipt: str
    events: int
    identities: int
    rows: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "receipt": self.receipt,
            "events": self.events,
            "identities": self.identities,
            "rows": self.rows,
        }


def erase_member(store: Store, member_id: str) -> Erasure:
    """Remove the member's identity, events and rows in every per-member table, in one
    transaction, and log the erasure without naming them.

    Projections are per member, so removing the member's rows is the same as recomputing
    them without the member's events; hub-wide aggregates are computed from them at read time.

    Records of others that name the member, field by field:

    - ``signed_off_by`` of others' episodes (a training lead's sign-off), in the projection
      and in the learners' ``episode_completed`` events (so a rebuild agrees): replaced by
      ``ERASED_MEMBER``. The learner keeps the completion and that a lead signed it off.
    - ``cohorts.created_by`` and ``cohort_members.added_by``: replaced by ``ERASED_MEMBER``;
      the cohort and its learners stay (they are the community's).
    - ``consortium_public_pages.changed_by`` (a champion's choice of a public consortium
      page): replaced by ``ERASED_MEMBER``; the community's choice stays.
    - ``audit_log.subject`` (staff read this member's data): emptied; the row keeps who read
      and when, without pointing at the person.
    - ``audit_log.actor`` (this member, as staff, read others' data): kept. The audit trail
      exists so the people whose data was read can learn who read it, and it may have to be
      kept for that (accountability; GDPR art. 17(3), LGPD art. 16, POPIA s. 14). The actor is
      a member id, a keyed hash: with the identity row gone, the service can no longer say
      whose it is, but the deployment (which holds the key) can confirm a named person when
      asked. Usernames never appear in the audit log.
    """
    receipt = uuid.uuid4().hex
    now = utcnow()
    with store.begin() as conn:
        rows: dict[str, int] = {}
        for table in member_tables():
            result = conn.execute(
                delete(table).where(table.c.hub == store.hub, table.c.member_id == member_id)
            )
            rows[table.name] = result.rowcount
        events = conn.execute(
            delete(t.events).where(t.events.c.hub == store.hub, t.events.c.member_id == member_id)
        ).rowcount
        identities = conn.execute(
            delete(t.identities).where(
                t.identities.c.hub == store.hub, t.identities.c.member_id == member_id
            )
        ).rowcount
        conn.execute(
            update(t.audit_log)
            .where(t.audit_log.c.hub == store.hub, t.audit_log.c.subject == member_id)
            .values(subject=None)
        )
        rows.update(_erase_from_others(conn, store.hub, member_id))
        # the tombstone, with the deletion: until the member accepts the notice again, no
        # writer (collector, ingest, pages) records them, nor their identity
        upsert(
            conn,
            t.member_erasures,
            [{"hub": store.hub, "member_id": member_id, "erased": now, "accepted": None}],
            ["hub", "member_id"],
            lambda new: {"erased": new.erased, "accepted": None},
        )
        erasure = Erasure(receipt=receipt, events=events, identities=identities, rows=rows)
        conn.execute(
            insert(t.audit_log).values(
                hub=store.hub,
                time=now,
                actor=SELF_SERVICE_ACTOR,
                action=ERASURE_ACTION,
                community=None,
                subject=None,
                detail=json.dumps(erasure.to_json(), sort_keys=True),
            )
        )
    # the next sight of the username must see the tombstone, not a cached identity
    store.forget_member(member_id)
    return erasure


def _erase_from_others(conn, hub: str, member_id: str) -> dict[str, int]:
    """Replace ``member_id`` where other members' records name it (see ``erase_member``)."""
    changed: dict[str, int] = {}
    for table, column in (
        (t.training_progress, t.training_progress.c.signed_off_by),
        (t.cohorts, t.cohorts.c.created_by),
        (t.cohort_members, t.cohort_members.c.added_by),
        (t.consortium_public_pages, t.consortium_public_pages.c.changed_by),
    ):
        result = conn.execute(
            update(table)
            .where(table.c.hub == hub, column == member_id)
            .values({column.name: ERASED_MEMBER})
        )
        changed[f"{table.name}.{column.name}"] = result.rowcount
    e = t.events.c
    signed = conn.execute(
        select(e.member_id, e.id, e.payload).where(
            e.hub == hub,
            e.schema == EPISODE_COMPLETED,
            e.payload["signed_off_by"].as_string() == member_id,
        )
    ).all()
    for learner, event_id, payload in signed:
        conn.execute(
            update(t.events)
            .where(e.hub == hub, e.member_id == learner, e.id == event_id)
            .values(payload={**payload, "signed_off_by": ERASED_MEMBER})
        )
    changed["events.signed_off_by"] = len(signed)
    return changed


# -- retention -------------------------------------------------------------------------------


def purge_horizon(now: datetime, retention_days: int, zone: ZoneInfo = UTC) -> datetime:
    """The cutoff of a purge: the midnight, in the hub's time zone ``zone``, of the first day
    still kept (as naive UTC). Whole days of the daily tables only, so every daily total
    before it comes entirely from purged events and every one after it entirely from kept
    events (at most a day more than ``retention_days`` is kept)."""
    return day_start(local_day(now - timedelta(days=retention_days), zone), zone)


def retention_horizon(store: Store) -> datetime | None:
    """The hub's recorded horizon: raw events before it were purged (None: never purged)."""
    r = t.retention_horizons.c
    with store.connect() as conn:
        return conn.execute(select(r.horizon).where(r.hub == store.hub)).scalar()


def purge_expired_events(
    store: Store, retention_days: int, now: datetime | None = None, chunk: int = 5000
) -> int:
    """Delete this hub's raw events older than ``retention_days`` (whole days); returns how
    many.

    Kept, until the member erases their data:

    - the projections (daily activity, first seen, steps reached, training progress,
      exercises, server sessions): reports and the member's own page read them. The purge
      records its horizon first (``retention_horizons``), and ``rebuild`` keeps the rows that
      depend on events before it instead of recomputing them from a log that no longer has
      them; so a rebuild after a purge gives the very same tables as before it.
    - consent events: they record the member's decision, which the ingest path enforces.

    All other kinds of event are purged alike, milestones included (a step reached is kept
    as its projection row, with its time): keeping the raw milestone events for rebuilds
    would keep per-person records longer than the retention the privacy page states.
    Deleting in chunks keeps each transaction short on a large PostgreSQL log.
    """
    if retention_days <= 0:
        return 0
    purge = begin_purge(store, retention_days, now)
    total = 0
    while not purge.finished:
        total += purge_chunk(store, purge, chunk)
    return total


@dataclass
class Purge:
    """A purge in progress: its cutoff, and how far through the members it has gone (the
    log is indexed by member, then time, so a purge walks the members)."""

    cutoff: datetime
    after_member: str = ""
    finished: bool = False


#: Members whose expired events one purge chunk looks for together.
PURGE_MEMBERS_PER_CHUNK = 200


def begin_purge(store: Store, retention_days: int, now: datetime | None = None) -> Purge:
    """Record the purge horizon (before deleting: a crash mid-purge loses nothing) and
    return the purge; then ``purge_chunk`` until it is finished."""
    now = now or utcnow()
    cutoff = purge_horizon(now, retention_days, store.zone)
    _record_horizon(store, cutoff, now)
    return Purge(cutoff)


def purge_chunk(store: Store, purge: Purge, chunk: int = 5000) -> int:
    """Delete up to ``chunk`` raw events before the cutoff (consent kept) of the next few
    members, in one short transaction; returns how many. A service runs one chunk at a
    time, so requests are served between chunks even when a first purge has a year of
    backlog."""
    e, m = t.events.c, t.members.c
    with store.begin() as conn:
        members = list(
            conn.execute(
                select(m.member_id)
                .where(m.hub == store.hub, m.member_id > purge.after_member)
                .order_by(m.member_id)
                .limit(PURGE_MEMBERS_PER_CHUNK)
            ).scalars()
        )
        if not members:
            purge.finished = True
            return 0
        is_expired = (
            e.hub == store.hub,
            e.member_id.in_(members),
            e.time < purge.cutoff,
            e.schema != CONSENT,
        )
        # the keys of the next expired rows, chosen by the database: a list of ids as bound
        # parameters made a statement of thousands of them, which the driver kept prepared
        # for each list length (about 200 MB for a first purge of a year of 10,000 members)
        key = (e.hub, e.member_id, e.id)
        deleted = conn.execute(
            delete(t.events).where(tuple_(*key).in_(select(*key).where(*is_expired).limit(chunk)))
        ).rowcount
        if deleted < chunk:  # nothing more of these members: on to the next ones
            purge.after_member = members[-1]
    return deleted


def _record_horizon(store: Store, horizon: datetime, now: datetime) -> None:
    """Move the hub's horizon forward to ``horizon`` (never back: a shorter retention set
    once has deleted what a longer one would keep)."""
    r = t.retention_horizons
    with store.begin() as conn:
        current = conn.execute(select(r.c.horizon).where(r.c.hub == store.hub)).scalar()
        if current is None:
            conn.execute(insert(r).values(hub=store.hub, horizon=horizon, updated=now))
        elif horizon > current:
            conn.execute(update(r).where(r.c.hub == store.hub).values(horizon=horizon, updated=now))
