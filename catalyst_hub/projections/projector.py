"""Apply stored events to the projection tables.

Every projection is a merge that does not depend on the order events arrive in (earliest
first-reached time, latest last-active time, consent by event time...). So applying events
as they come, in any batches, gives the same tables as ``rebuild`` replaying the whole log,
and a retried delivery can never move a projection backwards.

A batch is first folded per key in Python, then written with one upsert per table: that keeps
the ingest path to a handful of statements per batch whatever its size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    Table,
    bindparam,
    delete,
    func,
    select,
    tuple_,
    update,
)

from ..catalog import Catalog
from ..store import tables as t
from ..store.sql import dialect_insert, earliest, if_newer, latest, of_earliest
from ..timeutil import parse_time

#: Events that show the member themself was active at the event's time.
ACTIVE_SCHEMAS = frozenset(
    {"activity", "action", "step_reached", "exercise_completed", "server_started"}
)


@dataclass(frozen=True)
class StoredEvent:
    id: str
    hub: str
    member_id: str
    community: str
    schema: str
    version: int
    time: datetime
    received: datetime
    payload: dict[str, Any]

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hub": self.hub,
            "member_id": self.member_id,
            "community": self.community,
            "schema": self.schema,
            "version": self.version,
            "time": self.time,
            "received": self.received,
            "payload": self.payload,
        }


#: compiled upserts by (call site, dialect, columns): compiling once and handing plain tuples
#: to the driver's executemany avoids SQLAlchemy's per-statement and per-row work, which was
#: most of the projection cost of a batch.
_COMPILED: dict[tuple, tuple[str, tuple[str, ...] | None, list]] = {}


def upsert(conn: Connection, table: Table, rows, keys: list[str], update=None) -> None:
    """``store.sql.upsert`` with a compiled-statement cache (same SQL, same semantics).

    Rows must have distinct keys and the same columns (the folds below build them so).
    """
    rows = list(rows)
    if not rows:
        return
    dialect = conn.dialect
    columns = tuple(rows[0])
    cache_key = (
        table.name,
        tuple(keys),
        update.__code__ if update else None,
        dialect.name,
        columns,
    )
    entry = _COMPILED.get(cache_key)
    if entry is None:
        stmt = dialect_insert(conn, table)
        if update is None:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        else:
            stmt = stmt.on_conflict_do_update(index_elements=keys, set_=update(stmt.excluded))
        compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
        order = tuple(compiled.positiontup) if compiled.positional else None
        names = order or columns
        processors = [(name, bind_processor(table.c[name], dialect)) for name in names]
        entry = _COMPILED[cache_key] = (str(compiled), order, processors)
    sql, order, processors = entry
    if order is not None:
        params: list = [tuple(p(row[n]) if p else row[n] for n, p in processors) for row in rows]
    else:
        params = [{n: p(row[n]) if p else row[n] for n, p in processors} for row in rows]
    conn.exec_driver_sql(sql, params)


def bind_processor(column, dialect) -> Callable[[Any], Any] | None:
    """The driver value of ``column``'s Python values; SQLite times as SQLAlchemy stores them
    (``YYYY-MM-DD HH:MM:SS.ffffff``), by the C ``isoformat`` rather than string formatting."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is not None and dialect.name == "sqlite" and isinstance(column.type, DateTime):
        return lambda v: (
            v.isoformat(" ", "microseconds")
            if type(v) is datetime and v.tzinfo is None
            else process(v)
        )
    return process


def _fold(rows: dict, key: tuple, new: dict, merge) -> None:
    if key in rows:
        merge(rows[key], new)
    else:
        rows[key] = new


def _min(a, b):
    return b if a is None or (b is not None and b < a) else a


def _max(a, b):
    return b if a is None or (b is not None and b > a) else a


class Projector:
    """Keeps the projection tables of one catalog current."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._episodes = catalog.episodes()
        # per schema, the payload fields some step's rule looks at: the steps an event
        # reaches depend on those values only, so they are looked up once per distinct value
        self._step_fields: dict[str, tuple[str, ...]] = {"step_reached": ("step",)}
        for step in catalog.steps:
            for rule in step.detect:
                fields = set(self._step_fields.get(rule.schema, ())) | set(rule.match)
                self._step_fields[rule.schema] = tuple(sorted(fields))
        self._steps_cache: dict[tuple, list[str]] = {}

    def _steps(self, schema: str, payload: dict[str, Any]) -> list[str]:
        fields = self._step_fields.get(schema)
        if fields is None:
            return []  # most events (activity) match no step at all
        key = (schema, *(payload.get(f) for f in fields))
        try:
            return self._steps_cache[key]
        except KeyError:
            found = self._steps_cache[key] = self.catalog.steps_matching(schema, payload)
            return found
        except TypeError:  # an unhashable value: no caching
            return self.catalog.steps_matching(schema, payload)

    def apply(self, conn: Connection, events: Iterable[StoredEvent]) -> None:
        members: dict = {}
        consents: dict = {}
        steps: dict = {}
        days: dict = {}
        exercises: dict = {}
        episodes: dict = {}
        started: dict = {}
        stopped: list = []

        for e in events:
            key = (e.hub, e.member_id)
            if e.schema == "consent":
                row = {
                    "time": e.time,
                    "decision": e.payload["decision"],
                    "version": e.payload["notice_version"],
                }
                _fold(
                    consents,
                    key,
                    row,
                    lambda old, new: old.update(new) if new["time"] >= old["time"] else None,
                )
            self._fold_member(members, key, e)
            for step in self._steps(e.schema, e.payload):
                _fold(
                    steps,
                    (*key, step),
                    {
                        "hub": e.hub,
                        "member_id": e.member_id,
                        "step": step,
                        "community": e.community,
                        "reached": e.time,
                    },
                    lambda old, new: old.update(reached=_min(old["reached"], new["reached"])),
                )
            if e.schema in ACTIVE_SCHEMAS:
                count = e.payload.get("count", 1) if e.schema == "activity" else 1
                seconds = e.payload.get("seconds", 0) if e.schema == "activity" else 0
                day = e.time.date()
                _fold(
                    days,
                    (*key, day),
                    {
                        "hub": e.hub,
                        "member_id": e.member_id,
                        "day": day,
                        "community": e.community,
                        "events": count,
                        "seconds": seconds,
                    },
                    lambda old, new: old.update(
                        events=old["events"] + new["events"],
                        seconds=old["seconds"] + new["seconds"],
                    ),
                )
            if e.schema == "exercise_completed":
                p = e.payload
                _fold(
                    exercises,
                    (*key, p["lesson"], p["episode"], p["exercise"]),
                    {
                        "hub": e.hub,
                        "member_id": e.member_id,
                        "lesson": p["lesson"],
                        "episode": p["episode"],
                        "exercise": p["exercise"],
                        "completed": e.time,
                    },
                    lambda old, new: old.update(completed=_min(old["completed"], new["completed"])),
                )
                self._fold_episode(episodes, e, completed=None, source=None)
            elif e.schema == "episode_completed":
                self._fold_episode(
                    episodes, e, completed=e.time, source=e.payload.get("source", "self")
                )
            elif e.schema == "server_started":
                p = e.payload
                _fold(
                    started,
                    (*key, p["server_name"], _parse_time(p["started"])),
                    {
                        "hub": e.hub,
                        "member_id": e.member_id,
                        "server_name": p["server_name"],
                        "started": _parse_time(p["started"]),
                        "community": e.community,
                        "profile": p.get("profile"),
                        "environment": p.get("environment"),
                        "size": p.get("size"),
                        "stopped": None,
                        "last_activity": None,
                    },
                    lambda old, new: None,
                )
            elif e.schema == "server_stopped":
                p = e.payload
                stopped.append(
                    {
                        "hub": e.hub,
                        "member_id": e.member_id,
                        "server_name": p["server_name"],
                        "started": _parse_time(p["started"]),
                        "community": e.community,
                        "stopped": e.time,
                        "last_activity": _parse_time(p.get("last_activity")),
                        "profile": None,
                        "environment": None,
                        "size": None,
                    }
                )

        self._write_members(conn, members, consents)
        upsert(
            conn,
            t.member_steps,
            steps.values(),
            ["hub", "member_id", "step"],
            lambda x: {"reached": earliest(t.member_steps.c.reached, x.reached)},
        )
        upsert(
            conn,
            t.daily_activity,
            days.values(),
            ["hub", "member_id", "day"],
            lambda x: {
                "events": t.daily_activity.c.events + x.events,
                "seconds": t.daily_activity.c.seconds + x.seconds,
            },
        )
        upsert(
            conn,
            t.exercise_completions,
            exercises.values(),
            ["hub", "member_id", "lesson", "episode", "exercise"],
            lambda x: {"completed": earliest(t.exercise_completions.c.completed, x.completed)},
        )
        self._write_episodes(conn, episodes, exercises)
        self._write_sessions(conn, started, stopped)

    # -- members -----------------------------------------------------------------------------

    @staticmethod
    def _fold_member(members: dict, key: tuple, e: StoredEvent) -> None:
        # last_active is the time of the member's latest event of any kind: a maximum, so the
        # row is the same whatever the batches (daily_activity is where activity is counted)
        new = {
            "hub": e.hub,
            "member_id": e.member_id,
            "community": e.community,
            "first_seen": e.time,
            "last_active": e.time,
            "community_time": e.time,
        }

        def merge(old, new):
            if new["community_time"] >= old["community_time"]:
                old["community"], old["community_time"] = new["community"], new["community_time"]
            old["first_seen"] = _min(old["first_seen"], new["first_seen"])
            old["last_active"] = _max(old["last_active"], new["last_active"])

        _fold(members, key, new, merge)

    @staticmethod
    def _write_members(conn: Connection, members: dict, consents: dict) -> None:
        m = t.members.c
        rows = []
        for key, row in members.items():
            consent = consents.get(key, {})
            rows.append(
                {
                    "hub": row["hub"],
                    "member_id": row["member_id"],
                    "community": row["community"],
                    "first_seen": row["first_seen"],
                    "last_active": row["last_active"],
                    "consent": consent.get("decision"),
                    "consent_version": consent.get("version"),
                    "consent_time": consent.get("time"),
                }
            )
        upsert(
            conn,
            t.members,
            rows,
            ["hub", "member_id"],
            lambda x: {
                # community follows the member's most recent event
                "community": if_newer(m.last_active, x.last_active, m.community, x.community),
                "first_seen": earliest(m.first_seen, x.first_seen),
                "last_active": latest(m.last_active, x.last_active),
                "consent": if_newer(m.consent_time, x.consent_time, m.consent, x.consent),
                "consent_version": if_newer(
                    m.consent_time, x.consent_time, m.consent_version, x.consent_version
                ),
                "consent_time": latest(m.consent_time, x.consent_time),
            },
        )

    # -- training ----------------------------------------------------------------------------

    @staticmethod
    def _fold_episode(
        episodes: dict, e: StoredEvent, completed: datetime | None, source: str | None
    ) -> None:
        p = e.payload
        new = {
            "hub": e.hub,
            "member_id": e.member_id,
            "lesson": p["lesson"],
            "episode": p["episode"],
            "community": e.community,
            "exercises_done": 0,
            "first_activity": e.time,
            "completed": completed,
            "source": source,
            "signed_off_by": p.get("signed_off_by") if source == "lead" else None,
        }

        def merge(old, new):
            old["first_activity"] = _min(old["first_activity"], new["first_activity"])
            if new["completed"] is not None and (
                old["completed"] is None or new["completed"] < old["completed"]
            ):
                old.update(
                    completed=new["completed"],
                    source=new["source"],
                    signed_off_by=new["signed_off_by"],
                )

        _fold(episodes, (e.hub, e.member_id, p["lesson"], p["episode"]), new, merge)

    def _write_episodes(self, conn: Connection, episodes: dict, exercises: dict) -> None:
        tp = t.training_progress.c
        upsert(
            conn,
            t.training_progress,
            episodes.values(),
            ["hub", "member_id", "lesson", "episode"],
            lambda x: {
                "community": t.training_progress.c.community,
                "first_activity": earliest(tp.first_activity, x.first_activity),
                "completed": earliest(tp.completed, x.completed),
                # who completed it: whoever did first
                "source": of_earliest(tp.completed, x.completed, tp.source, x.source),
                "signed_off_by": of_earliest(
                    tp.completed, x.completed, tp.signed_off_by, x.signed_off_by
                ),
            },
        )
        touched = {key[:4] for key in exercises}
        if touched:
            self._complete_from_exercises(conn, touched)

    def _complete_from_exercises(self, conn: Connection, keys: set[tuple]) -> None:
        """Count each touched episode's catalog exercises; all of them done completes it, at
        the time the last of them was done (exercises the catalog does not name don't count,
        so the result is the same whatever order they arrive in)."""
        ex = t.exercise_completions.c
        rows = conn.execute(
            select(ex.hub, ex.member_id, ex.lesson, ex.episode, ex.exercise, ex.completed).where(
                tuple_(ex.hub, ex.member_id, ex.lesson, ex.episode).in_(list(keys))
            )
        ).all()
        per_episode: dict[tuple, dict[str, datetime]] = {}
        for hub, member_id, lesson, episode, exercise, completed in rows:
            per_episode.setdefault((hub, member_id, lesson, episode), {})[exercise] = completed
        counts = []
        for (hub, member_id, lesson, episode), done_at in per_episode.items():
            episode_def = self._episodes.get((lesson, episode))
            if episode_def is not None and episode_def.exercises:
                done_at = {k: v for k, v in done_at.items() if k in episode_def.exercises}
            last = max(done_at.values()) if done_at else None
            counts.append((hub, member_id, lesson, episode, len(done_at), last))
        tp = t.training_progress
        where = (
            tp.c.hub == bindparam("k_hub"),
            tp.c.member_id == bindparam("k_member_id"),
            tp.c.lesson == bindparam("k_lesson"),
            tp.c.episode == bindparam("k_episode"),
        )
        done_rows, complete_rows = [], []
        for hub, member_id, lesson, episode, done, last in counts:
            key = {"k_hub": hub, "k_member_id": member_id, "k_lesson": lesson, "k_episode": episode}
            done_rows.append({**key, "v_done": done})
            episode_def = self._episodes.get((lesson, episode))
            if episode_def and episode_def.exercises and done >= len(episode_def.exercises):
                complete_rows.append({**key, "v_last": last})
        # one executemany per kind of update, not two statements per episode
        if done_rows:
            conn.execute(
                update(tp).where(*where).values(exercises_done=bindparam("v_done")), done_rows
            )
        if complete_rows:
            conn.execute(
                update(tp)
                .where(*where, (tp.c.completed.is_(None)) | (tp.c.completed > bindparam("v_last")))
                .values(completed=bindparam("v_last"), source="exercises", signed_off_by=None),
                complete_rows,
            )

    # -- sessions ----------------------------------------------------------------------------

    @staticmethod
    def _write_sessions(conn: Connection, started: dict, stopped: list) -> None:
        s = t.server_sessions.c
        upsert(
            conn,
            t.server_sessions,
            started.values(),
            ["hub", "member_id", "server_name", "started"],
            lambda x: {
                "profile": x.profile,
                "environment": x.environment,
                "size": x.size,
                "community": x.community,
            },
        )
        merged: dict = {}
        for row in stopped:
            _fold(
                merged,
                (row["hub"], row["member_id"], row["server_name"], row["started"]),
                row,
                lambda old, new: old.update(
                    stopped=_max(old["stopped"], new["stopped"]),
                    last_activity=_max(old["last_activity"], new["last_activity"]),
                ),
            )
        # a stop seen before its start (rebuild, or a late collector) still makes a session row
        upsert(
            conn,
            t.server_sessions,
            merged.values(),
            ["hub", "member_id", "server_name", "started"],
            lambda x: {
                "stopped": latest(s.stopped, x.stopped),
                "last_activity": latest(s.last_activity, x.last_activity),
            },
        )

    # -- rebuild -----------------------------------------------------------------------------

    def rebuild(self, conn_factory, hub: str, chunk: int = 20_000) -> int:
        """Empty the hub's projections and replay its whole event log. Returns events replayed.

        After a retention purge the log starts at the hub's horizon (see
        ``store.privacy.purge_expired_events``): rows that depend on purged events are kept
        as they are, and the log from the horizon on is replayed into the rest (see
        ``_from_horizon``). The result is the same tables as before the purge.
        """
        with conn_factory() as conn:
            horizon = retention_horizon(conn, hub)
            for table in t.PROJECTION_TABLES:
                conn.execute(
                    delete(table).where(table.c.hub == hub, *_from_horizon(table, horizon))
                )
        replayed = 0
        for batch in _chunks(conn_factory, hub, chunk, since=horizon):
            with conn_factory() as conn:
                self.apply(conn, batch)
            replayed += len(batch)
        return replayed


def _chunks(
    conn_factory, hub: str, size: int, since: datetime | None = None
) -> Iterator[list[StoredEvent]]:
    """The hub's events in (time, id) order (from ``since`` on), by keyset pagination so
    memory stays flat."""
    e = t.events.c
    after = (since, "") if since is not None else None
    while True:
        query = select(t.events).where(e.hub == hub).order_by(e.time, e.id).limit(size)
        if after is not None:
            query = query.where(tuple_(e.time, e.id) > after)
        with conn_factory() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        yield [StoredEvent(**row._mapping) for row in rows]
        after = (rows[-1].time, rows[-1].id)


# -- rebuild after a retention purge -------------------------------------------------------------


def retention_horizon(conn: Connection, hub: str) -> datetime | None:
    """The hub's retention horizon: raw events before it were purged (None: never purged)."""
    r = t.retention_horizons.c
    return conn.execute(select(r.horizon).where(r.hub == hub)).scalar()


def _from_horizon(table: Table, horizon: datetime | None) -> tuple:
    """The rows of ``table`` a rebuild recomputes: all without a horizon, else those whose
    earliest contributing event time (``tables.HORIZON_COLUMNS``) is at or after it.

    Why that gives the tables as they were: a row's column is the minimum of its events'
    times, so a row from the horizon on depends on kept events only, and every event before
    the horizon (purged, or a consent decision or a late arrival still in the log) went into
    a row before it, which is kept and not replayed into. Events from the horizon on are
    replayed into kept rows too; those merges are idempotent (earliest, latest, by time),
    except the daily sums, and a daily total before the horizon (a midnight) gets no event
    from the horizon on.
    """
    if horizon is None:
        return ()
    column = t.HORIZON_COLUMNS.get(table.name)
    if column is None:
        raise RuntimeError(
            f"projection {table.name} has no horizon column (tables.HORIZON_COLUMNS)"
        )
    return (column >= (horizon.date() if isinstance(column.type, Date) else horizon),)


def _parse_time(value: str | datetime | None) -> datetime | None:
    return parse_time(value) if value is not None else None
