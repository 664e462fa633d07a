"""Turn a client's batch of event envelopes into stored events, all or nothing.

An envelope is ``{"id", "schema", "version", "time", "payload"}``. Who the event is about is
never a field of it: the service stamps hub, member and community from the authenticated
sender. A batch with any invalid event stores nothing and says, per event, what is wrong,
so a client (the server extension's outbox) can drop the bad ones and resend the rest.

Who may assert what is part of validation: each schema (and each value of some fields) names
the sender kinds allowed to send it (``catalyst_hub.events.registry``), and the sender's kind
comes from how the service was reached, never from the request. Every field is bounded, and
times (the event's and those inside payloads) lie in a plausible window.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection

from ..events import (
    MEMBER,
    SENDER_KINDS,
    EventError,
    SchemaRegistry,
    SenderRefused,
    StoredEvent,
    registry,
)
from ..events.names import CONSENT
from ..store import Store
from ..store.privacy import (
    ESSENTIAL_EVENTS,
    GIVEN,
    WITHDRAWN,
    RecordingState,
    already_stored,
    lift_erasures,
    recording_states,
)
from ..timeutil import parse_time, utcnow

ENVELOPE_FIELDS = frozenset({"id", "schema", "version", "time", "payload"})
#: How far ahead of the service's clock an event time may be (clients' clocks drift).
MAX_CLOCK_SKEW = timedelta(minutes=10)
#: No event of ours happened before this (older than any of our JupyterHub deployments).
EARLIEST_EVENT_TIME = datetime(2015, 1, 1)
#: Most events stored in one transaction when batches of concurrent requests are merged.
MAX_MERGED_EVENTS = 20_000
#: A UUID as ``str(uuid.UUID(...))`` writes it: such an id needs no parsing.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


#: Why an event was acknowledged without being stored, per status (English: the API handler
#: translates them for the client).
HELD_MESSAGES = {
    "dropped": "not stored: the member opted out of recording or erased their data",
    "deferred": "not stored yet: kept by the client until the member decides on the recording notice",
}


class BatchError(ValueError):
    """The request as a whole is unusable (not JSON, not a list, too many events)."""


@dataclass(frozen=True)
class Sender:
    """Who sent a batch, from the authenticated token: never from the request body.

    ``kind`` is how the events reached the service: ``member`` (the member's own tokens, the
    only kind the ingest API gives), ``collector`` (the service's own poll of the hub) or
    ``lead`` (a training lead's sign-off); the schemas say which kinds may assert what."""

    member_id: str
    community: str
    kind: str = MEMBER

    def __post_init__(self) -> None:
        if self.kind not in SENDER_KINDS:
            raise ValueError(f"unknown sender kind {self.kind!r}")


@dataclass(slots=True)
class EventResult:
    id: str | None
    status: str  # stored | duplicate | dropped | deferred | error | refused | rejected
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.message:
            return {"id": self.id, "status": self.status, "message": self.message}
        return {"id": self.id, "status": self.status}


@dataclass
class Batch:
    """A valid batch, ready to store: its events (one per id) and one result per envelope,
    completed when it is stored."""

    events: list[StoredEvent]
    results: list[EventResult]
    has_consent: bool = field(init=False)

    def __post_init__(self) -> None:
        self.has_consent = any(e.schema == CONSENT for e in self.events)


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    unique = dict(pairs)  # in C: the cheapest way to see a repeated key
    if len(unique) < len(pairs):
        keys = [key for key, _ in pairs]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        raise BatchError(
            "a JSON object of the body has the same key twice: " + ", ".join(map(repr, twice))
        )
    return unique


def parse_batch(body: bytes, max_events: int) -> list[Any]:
    """The list of envelopes in a request body ({"events": [...]} or a bare list)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BatchError(f"request body is not valid JSON: {e}") from None
    # orjson keeps the last of duplicate keys, silently: what was validated might not be what
    # the sender meant (or what another parser reads). A second, checking parse refuses them
    # (about 1.5 µs an event); the body is known to be valid JSON already.
    try:
        json.loads(body, object_pairs_hook=_refuse_duplicate_keys)
    except RecursionError:
        raise BatchError("request body is nested too deeply") from None
    if isinstance(data, dict):
        extra = set(data) - {"events"}
        if extra:
            raise BatchError(f"unexpected field(s) in the batch: {', '.join(sorted(extra))}")
        data = data.get("events")
    if not isinstance(data, list):
        raise BatchError('request body must be {"events": [...]} or a JSON list of events')
    if not data:
        raise BatchError("the batch has no events")
    if len(data) > max_events:
        raise BatchError(
            f"the batch has {len(data)} events; at most {max_events} are accepted per request"
        )
    return data


class Ingestor:
    """Validates envelopes against the schema registry and appends them to a store."""

    def __init__(self, store: Store, schemas: SchemaRegistry = registry) -> None:
        self.store = store
        self.schemas = schemas

    def validate(self, raw: Any, sender: Sender, received: datetime) -> StoredEvent:
        """The event to store for envelope ``raw`` from ``sender``, or EventError (and
        SenderRefused when the sender may not assert it)."""
        if not isinstance(raw, dict):
            raise EventError("an event must be a JSON object")
        if raw.keys() != ENVELOPE_FIELDS:
            extra = set(raw) - ENVELOPE_FIELDS
            if extra:
                names = ", ".join(sorted(extra))
                raise EventError(
                    f"field(s) not accepted: {names}; the service records who sent an event "
                    "from the token, and an envelope has only id, schema, version, time, payload"
                )
            missing = ENVELOPE_FIELDS - set(raw)
            raise EventError(f"missing field(s): {', '.join(sorted(missing))}")
        event_id = raw["id"]
        if type(event_id) is not str or not _CANONICAL_UUID.fullmatch(event_id):
            try:
                event_id = str(uuid.UUID(str(event_id)))
            except ValueError:
                raise EventError("'id' must be a UUID") from None
        time = _time_in_window("'time'", raw["time"], received)
        schema = self.schemas.lookup(raw["schema"], raw["version"])
        schema.check_kind(sender.kind)
        schema, payload = self.schemas.validate_payload(schema, raw["payload"])
        schema.check_sender(payload, sender.kind)
        for name in schema.time_fields:
            if payload.get(name) is not None:
                _time_in_window(f"payload.{name}", payload[name], received)
        # positional: keywords made building the tuple cost several times more
        return StoredEvent(
            event_id,
            self.store.hub,
            sender.member_id,
            sender.community,
            schema.name,
            schema.version,
            time,
            received,
            payload,
        )

    def check(self, raws: list[Any], sender: Sender) -> tuple[list[StoredEvent], list[EventResult]]:
        """Validate a batch: the valid events, and one result per envelope (errors set)."""
        received = utcnow()
        events: list[StoredEvent] = []
        results: list[EventResult] = []
        first: dict[str, StoredEvent] = {}
        for raw in raws:
            raw_id = raw.get("id") if isinstance(raw, dict) else None
            try:
                event = self.validate(raw, sender, received)
                earlier = first.setdefault(event.id, event)
                if earlier is not event and not _same_content(earlier, event):
                    raise EventError(
                        "another event of the batch has this id and a different content"
                    )
            except EventError as e:
                status = "refused" if isinstance(e, SenderRefused) else "error"
                results.append(
                    EventResult(raw_id if isinstance(raw_id, str) else None, status, str(e))
                )
                continue
            events.append(event)
            results.append(EventResult(event.id, "pending"))
        return events, results

    def ingest(self, raws: list[Any], sender: Sender) -> tuple[bool, list[EventResult]]:
        """Validate and store a batch. Returns (stored?, per-event results)."""
        batch, results = self.prepare(raws, sender)
        if batch is None:
            return False, results
        self._store_group([batch])
        return True, results

    def prepare(self, raws: list[Any], sender: Sender) -> tuple[Batch | None, list[EventResult]]:
        """Validate a batch without touching the database: the Batch to store (None when any
        event is invalid, and the batch is rejected), and one result per envelope."""
        events, results = self.check(raws, sender)
        if len(events) < len(results):
            for r in results:
                if r.status == "pending":
                    r.status, r.message = (
                        "rejected",
                        "not stored: another event in the batch is invalid",
                    )
            return None, results
        unique = {e.id: e for e in events}
        return Batch(list(unique.values()) if len(unique) < len(events) else events, results), (
            results
        )

    def store_batches(self, batches: list[Batch]) -> list[BaseException | None]:
        """Store valid batches of concurrent requests, several per transaction where that
        gives the same results as storing them one by one; fills in their results. Returns,
        per batch, None or the error that kept it from being stored.

        Batches are merged when they share no event id and carry no consent event: then
        which events are kept depends on the stored decisions only, as it would one batch
        at a time. When a merged transaction fails, each of its batches is tried alone, so
        one batch's error fails that batch only.
        """
        outcomes: list[BaseException | None] = [None] * len(batches)
        for group in _groups(batches):
            try:
                self._store_group([batches[i] for i in group])
            except Exception as e:
                if len(group) == 1:
                    outcomes[group[0]] = e
                    continue
                for i in group:
                    try:
                        self._store_group([batches[i]])
                    except Exception as alone:
                        outcomes[i] = alone
        return outcomes

    def _store_group(self, group: list[Batch]) -> None:
        """Store the events of ``group`` (batches with distinct event ids) in one transaction."""
        events = group[0].events if len(group) == 1 else [e for b in group for e in b.events]
        held: dict[str, str] = {}

        def keep(events: Sequence[StoredEvent], conn: Connection) -> list[StoredEvent]:
            # in the storing transaction: an opt-out or an erasure committed meanwhile is seen
            kept, not_kept = self.admit(events, conn)
            held.update(not_kept)
            return kept

        stored = self.store.append(events, keep)
        if held:
            # a redelivery of an event stored before the decision is still a duplicate
            for event_id in already_stored(self.store, [e for e in events if e.id in held]):
                del held[event_id]
        for batch in group:
            seen: set[str | None] = set()
            for r in batch.results:
                if r.id in held:
                    # "dropped": acknowledged, so the client's outbox clears it, never stored;
                    # "deferred": the client keeps it until the member decides
                    r.status = held[r.id]
                    r.message = HELD_MESSAGES[r.status]
                else:
                    r.status = "stored" if r.id in stored and r.id not in seen else "duplicate"
                seen.add(r.id)

    def admit(
        self, events: Sequence[StoredEvent], conn: Connection
    ) -> tuple[list[StoredEvent], dict[str, str]]:
        """The events to store, and the status ("dropped", "deferred") of the others, by the
        decision in force of each member: the latest by event time of the projected one and
        this batch's consent events (as the projector will merge them).

        - a member's consent events are always stored; an acceptance lifts an erasure
          tombstone (accepting the notice again starts a new record);
        - erased (not accepted since) or opted out: nothing else (dropped); and nothing dated
          before the member's erasure, ever (a late delivery from a server's outbox);
        - accepted the current notice, or not decided in "opt-out" mode: everything;
        - otherwise (opt-in, not decided on the current notice): essential events only, the
          others deferred.
        """
        states = recording_states(self.store, {e.member_id for e in events}, conn)
        for e in events:
            if e.schema == CONSENT:
                known = states.get(e.member_id) or RecordingState()
                if known.horizon is not None and e.time < known.horizon:
                    continue  # from before the erasure: dropped below
                if known.time is None or e.time >= known.time:
                    decision, version = e.payload["decision"], e.payload["notice_version"]
                    states[e.member_id] = replace(
                        known, decision=decision, version=version, time=e.time
                    )
        # an acceptance made after the erasure: a late delivery of an older one is not a
        # decision to start again
        lifted = [
            member
            for member, s in states.items()
            if s.erased is not None
            and s.decision == GIVEN
            and s.time is not None
            and s.time >= s.erased
        ]
        if lifted:
            lift_erasures(self.store, lifted, utcnow(), conn)
            for member in lifted:
                states[member] = replace(states[member], erased=None)
        verdicts = {member: self._verdict(state) for member, state in states.items()}
        kept: list[StoredEvent] = []
        held: dict[str, str] = {}
        for e in events:
            state = states.get(e.member_id)
            if state is not None and state.horizon is not None and e.time < state.horizon:
                held[e.id] = "dropped"
                continue
            verdict = verdicts.get(e.member_id) or self._verdict(RecordingState())
            if (
                e.schema == CONSENT
                or verdict == "store"
                or (verdict == "essential" and e.schema in ESSENTIAL_EVENTS)
            ):
                kept.append(e)
            else:
                held[e.id] = "dropped" if verdict == "dropped" else "deferred"
        return kept, held

    def _verdict(self, state: RecordingState) -> str:
        """ "store" (everything), "essential" (essential events only) or "dropped"."""
        if state.erased is not None or state.decision == WITHDRAWN:
            return "dropped"
        # the deployment's settings, on the Store so every writer's Ingestor obeys them
        if state.decision == GIVEN and state.version == self.store.notice_version:
            return "store"
        return "store" if self.store.consent_mode == "opt-out" else "essential"

    def ingest_trusted(
        self,
        items: list[tuple[Any, Sender]],
        kind: str | None = None,
        also: Callable[[Connection], None] | None = None,
    ) -> tuple[set[str], set[str]]:
        """Store events the service made itself (the collector, a lead's sign-off), each with
        its own sender; ``kind``, when given, is every sender's kind (the collector's).
        Returns the ids stored now, and those held by their member's decision (the others
        were in the log already). They are validated like any other, senders' kinds too; an
        invalid one is a bug and raises. ``also`` writes, in the storing transaction, what
        must commit with the events or not at all (a sign-off's audit row)."""
        received = utcnow()
        events = {}
        for raw, sender in items:
            if kind is not None and sender.kind != kind:
                sender = replace(sender, kind=kind)
            event = self.validate(raw, sender, received)
            events[event.id] = event
        held: dict[str, str] = {}

        def keep(events: Sequence[StoredEvent], conn: Connection) -> list[StoredEvent]:
            kept, not_kept = self.admit(events, conn)
            held.update(not_kept)
            if also is not None:
                also(conn)
            return kept

        stored = self.store.append(list(events.values()), keep)
        return stored, set(held)


def _time_in_window(name: str, value: Any, received: datetime) -> datetime:
    """``value`` parsed as a time no earlier than EARLIEST_EVENT_TIME and no later than
    ``received`` plus the clock skew allowed, or EventError naming the field."""
    if not isinstance(value, str):
        raise EventError(f"{name} must be an ISO 8601 string")
    try:
        time = parse_time(value)
    except (ValueError, OverflowError):
        # a leap second (23:59:60), a date out of range, an offset past year 9999...
        raise EventError(f"{name} is not an ISO 8601 time: {value[:64]!r}") from None
    if time < EARLIEST_EVENT_TIME:
        raise EventError(f"{name} is before {EARLIEST_EVENT_TIME.date().isoformat()}")
    if time - received > MAX_CLOCK_SKEW:
        raise EventError(f"{name} is in the future")
    return time


def _same_content(a: StoredEvent, b: StoredEvent) -> bool:
    return (a.schema, a.version, a.time, a.payload) == (b.schema, b.version, b.time, b.payload)


def _groups(batches: list[Batch]) -> list[list[int]]:
    """Indexes of ``batches`` in runs that can share a transaction (see store_batches)."""
    groups: list[list[int]] = []
    ids: set[str] = set()
    size = 0
    for i, batch in enumerate(batches):
        batch_ids = {e.id for e in batch.events}
        mergeable = (
            groups
            and not batch.has_consent
            and not batches[groups[-1][0]].has_consent
            and size + len(batch.events) <= MAX_MERGED_EVENTS
            and ids.isdisjoint(batch_ids)
        )
        if mergeable:
            groups[-1].append(i)
            ids |= batch_ids
            size += len(batch.events)
        else:
            groups.append([i])
            ids, size = batch_ids, len(batch.events)
    return groups
