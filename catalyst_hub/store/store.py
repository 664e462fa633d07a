"""The Store: the one object through which catalyst_hub writes and reads its database."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Connection, Engine, select

from ..catalog import Catalog
from ..identity import member_id as keyed_member_id
from ..timeutil import isoformat, utcnow
from ..timeutil import today as local_today
from . import tables as t
from .sql import bind_processor, dialect_insert

if TYPE_CHECKING:
    from ..events import StoredEvent

#: rows per INSERT of events: one statement of many VALUES rows, under both engines' limits
#: on bound parameters (SQLite 32766, PostgreSQL 65535) with the 9 columns of an event
_EVENT_COLUMNS = tuple(c.name for c in t.events.c)
_EVENT_KEY = tuple(c.name for c in t.events.primary_key.columns)


class EventProjector(Protocol):
    """What the store asks of the projections it keeps (``catalyst_hub.projections.Projector``):
    given to the Store, so the store does not depend on the layer above it."""

    catalog: Catalog
    #: the hub's time zone (``c.CatalystApp.timezone``): the days of the daily tables
    zone: ZoneInfo

    def apply(self, conn: Connection, events: Sequence[StoredEvent]) -> None: ...

    def rebuild(
        self, conn_factory: Callable[[], AbstractContextManager[Connection]], hub: str
    ) -> int: ...


class Store:
    """One hub's view of a (possibly shared) database, projecting the events it stores with
    ``projector``: ``Store(engine, hub, secret, Projector(catalog, zone=...))``."""

    def __init__(self, engine: Engine, hub: str, secret: bytes, projector: EventProjector) -> None:
        self.engine = engine
        self.hub = hub
        self.secret = secret
        self.projector = projector
        self.catalog = projector.catalog
        #: the hub's time zone (``c.CatalystApp.timezone``): the days of daily tables and
        #: report periods are calendar days there
        self.zone = projector.zone
        self._known_members: dict[str, str] = {}
        #: member ids of staff and service accounts that reports leave out
        self.excluded_members: set[str] = set()
        #: how recording starts and the notice in force (``c.CatalystService.consent_mode``,
        #: ``consent_notice_version``): what the ingest path stores before a decision
        self.consent_mode = "opt-in"
        self.notice_version = "1"

    def today(self) -> date:
        """Today's date in the hub's time zone."""
        return local_today(self.zone)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction, committed on success."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    # -- identity ----------------------------------------------------------------------------

    def pseudonym(self, username: str) -> str:
        """The member id of ``username``, computed without recording anything."""
        return keyed_member_id(self.secret, self.hub, username)

    def known_member_id(self, username: str) -> str | None:
        """The member id of ``username`` if this Store has recorded or read it already."""
        return self._known_members.get(username)

    def member_id(self, username: str) -> str:
        """The member id of ``username``, recording the identity on first sight, unless the
        member erased their data and has not accepted the notice since (then nothing is
        written, and the next call looks again)."""
        known = self._known_members.get(username)
        if known:
            return known
        mid = self.pseudonym(username)
        e = t.member_erasures.c
        with self.begin() as conn:
            erased = select(e.erased).where(
                e.hub == self.hub, e.member_id == mid, e.accepted.is_(None)
            )
            if conn.execute(erased).first():
                return mid
            # DO NOTHING on a conflict of any unique column, not of the key alone: two first
            # requests of one person at once both insert, and PostgreSQL then reports the
            # loser's conflict on member_id (unique too) as an error, not as a conflict of
            # (hub, username). The member id is derived from the name, so either row is right.
            conn.execute(
                dialect_insert(conn, t.identities).on_conflict_do_nothing(),
                {"hub": self.hub, "username": username, "member_id": mid, "created": utcnow()},
            )
        self._known_members[username] = mid
        return mid

    # -- event log ---------------------------------------------------------------------------

    def append(
        self,
        events: Sequence[StoredEvent],
        keep: Callable[[Sequence[StoredEvent], Connection], Sequence[StoredEvent]] | None = None,
    ) -> set[str]:
        """Store new events and project them, in one transaction. Returns the ids stored;
        ids already in the log are left alone (a retried delivery). ``keep`` chooses, in
        that transaction, which of ``events`` to store (the ingest path's consent rule)."""
        if not events:
            return set()
        with self.begin() as conn:
            if keep is not None:
                events = keep(events, conn)
                if not events:
                    return set()
            # only the rows this transaction really inserted are projected, so a concurrent
            # delivery of the same event by another process is never projected twice
            stored = self._insert_events(conn, events)
            new = [e for e in events if e.id in stored]
            if new:
                self.projector.apply(conn, new)
        return {e.id for e in new}

    def _insert_events(self, conn: Connection, events: Sequence[StoredEvent]) -> set[str]:
        """INSERT .. ON CONFLICT (hub, member_id, id) DO NOTHING of every event; returns the ids
        inserted (the caller's events have distinct ids).

        Plain values straight to the driver: per-row work in SQLAlchemy (and ``json.dumps``)
        was most of the ingest cost.
        """
        dialect = conn.dialect
        to_db = _time_processor(dialect)
        dumps = orjson.dumps
        # the events of a request share one received time: converted once
        received = {r: to_db(r) for r in {e.received for e in events}}
        # a StoredEvent is a tuple in the table's column order: id, hub, member, community,
        # schema, version (as they are), then time, received, payload
        rows = [(*e[:6], to_db(e[6]), received[e[7]], dumps(e[8]).decode()) for e in events]
        if dialect.name == "sqlite":
            return _insert_events_sqlite(conn, rows)
        return _insert_events_postgresql(conn, rows)

    def rebuild(self) -> int:
        """Recompute every projection of this hub from its event log."""
        return self.projector.rebuild(self.begin, self.hub)

    def events_of(self, member_id: str) -> list[dict[str, Any]]:
        with self.connect() as conn:
            rows = conn.execute(
                select(t.events)
                .where(t.events.c.hub == self.hub, t.events.c.member_id == member_id)
                .order_by(t.events.c.time, t.events.c.id)
            ).all()
        return [dict(row._mapping) for row in rows]

    def open_sessions(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """Server sessions with no stop recorded, keyed (member id, server name, started)."""
        s = t.server_sessions.c
        with self.connect() as conn:
            rows = conn.execute(
                select(s.member_id, s.server_name, s.started, s.community, s.last_activity).where(
                    s.hub == self.hub, s.stopped.is_(None)
                )
            ).all()
        return {
            (row.member_id, row.server_name, isoformat(row.started)): {
                "community": row.community,
                "last_activity": isoformat(row.last_activity),
            }
            for row in rows
        }

    # -- privacy -----------------------------------------------------------------------------

    def forget_member(self, member_id: str) -> None:
        """Drop a member from the identity cache (after erasing them), so the next sight of
        their username looks at the database again (where the erasure's tombstone keeps the
        identity unrecorded until they accept the notice again)."""
        self._known_members = {u: m for u, m in self._known_members.items() if m != member_id}


def _time_processor(dialect):
    return bind_processor(t.events.c.time, dialect) or (lambda value: value)


_INSERT_SQL: dict[str, str] = {}


def _insert_events_sqlite(conn: Connection, rows: list[tuple]) -> set[str]:
    """SQLite: one executemany, which SQLite runs faster than a statement of many VALUES
    rows with RETURNING. When some ids were already there (a retried delivery), the rows
    inserted are the ``rowcount`` newest: this transaction has held SQLite's one write lock
    since its first insert, and new rows of a rowid table take rowids above every other."""
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(_insert_events_sql(conn.dialect), rows)
        inserted = cursor.rowcount
        if inserted == len(rows):
            return {row[0] for row in rows}
        if inserted <= 0:
            return set()
        q = conn.dialect.identifier_preparer.quote
        cursor.execute(
            f"SELECT {q('id')} FROM {q(t.events.name)} ORDER BY rowid DESC LIMIT ?", (inserted,)
        )
        return {row[0] for row in cursor.fetchall()}
    finally:
        cursor.close()


def _insert_events_postgresql(conn: Connection, rows: list[tuple]) -> set[str]:
    """PostgreSQL: one INSERT of the rows as column arrays (``unnest``); RETURNING names the
    rows this transaction really inserted, so a concurrent delivery of the same event by
    another connection is never projected twice. A statement of many VALUES rows took
    psycopg longer to parse on every call (too long for its statement cache) than the
    server took to run it; the arrays go in binary (``%b``), as text each element was
    escaped by a regular expression."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    cursor = conn.connection.cursor()
    try:
        cursor.execute(_insert_events_sql(conn.dialect), columns)
        return {row[0] for row in cursor.fetchall()}
    finally:
        cursor.close()


def _insert_events_sql(dialect) -> str:
    sql = _INSERT_SQL.get(dialect.name)
    if sql is None:
        quote = dialect.identifier_preparer.quote
        columns = ", ".join(map(quote, _EVENT_COLUMNS))
        conflict = f"ON CONFLICT ({', '.join(map(quote, _EVENT_KEY))}) DO NOTHING"
        if dialect.paramstyle == "qmark":
            values = ", ".join(["?"] * len(_EVENT_COLUMNS))
            sql = f"INSERT INTO {quote(t.events.name)} ({columns}) VALUES ({values}) {conflict}"
        else:
            arrays = ", ".join(
                f"%b::{column.type.compile(dialect)}[]" for column in t.events.columns
            )
            sql = (
                f"INSERT INTO {quote(t.events.name)} ({columns}) "
                f"SELECT * FROM unnest({arrays}) {conflict} RETURNING {quote('id')}"
            )
        _INSERT_SQL[dialect.name] = sql
    return sql
