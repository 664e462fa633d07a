"""What the warehouse export reads: the event log and the projections of one hub, in chunks.

The SQL of ``catalyst-hub export --parquet`` (``catalyst_hub.warehouse`` writes the files).
Pseudonymous by construction: the identities table is never read, rows name members by
member id only, and the rows of erased members (a tombstone not lifted by a new acceptance)
and of excluded staff and service accounts are left out. Every table is read in one
snapshot (a read transaction), so the passes of one export see the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import Column, Connection, DateTime, Table, Text, and_, cast, exists, or_, select
from sqlalchemy.sql.elements import ColumnElement

from . import tables as t
from .store import Store

#: Rows fetched from the database at a time: what the export holds of a table's cursor.
CHUNK_ROWS = 10_000


@dataclass(frozen=True)
class ExportTable:
    """A table as exported: its columns (all but ``hub``, which is the partition folder) and
    the column whose month names its partition."""

    table: Table
    month_column: Column

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def columns(self) -> list[Column]:
        return [c for c in self.table.c if c.name != "hub"]


def export_tables() -> list[ExportTable]:
    """The event log and every projection (never identities, audit, cohorts or tombstones),
    each partitioned by the month of the time its rows depend on (``HORIZON_COLUMNS``)."""
    out = [ExportTable(t.events, t.events.c.time)]
    for table in t.PROJECTION_TABLES:
        out.append(ExportTable(table, t.HORIZON_COLUMNS[table.name]))
    assert all(x.table is not t.identities for x in out)
    return out


@contextmanager
def snapshot(store: Store) -> Iterator[Connection]:
    """A connection whose reads all see one state of the database (SQLite: one read
    transaction in WAL mode; PostgreSQL: REPEATABLE READ), rolled back at the end."""
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        else:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        try:
            yield conn
        finally:
            conn.rollback()


def month_range(table: ExportTable, month: str) -> tuple:
    """The bounds [first, next) of a month ("YYYY-MM") in the type of the table's column."""
    year, number = int(month[:4]), int(month[5:7])
    first, after = date(year, number, 1), date(year + number // 12, number % 12 + 1, 1)
    if isinstance(table.month_column.type, DateTime):
        return datetime.combine(first, time()), datetime.combine(after, time())
    return first, after


def export_query(store: Store, table: ExportTable, months: Iterable[str] | None = None):
    """SELECT of ``table``'s exported columns for this hub (of ``months`` only, "YYYY-MM",
    if given), with the rows of erased and excluded members left out. The JSON payload is
    read as its text."""
    c = table.table.c
    e = t.member_erasures.c
    columns = [
        cast(col, Text).label(col.name) if col.name == "payload" else col for col in table.columns
    ]
    still_erased: ColumnElement[bool] = e.accepted.is_(None)
    if table.table is t.events:
        # nothing dated before an erasure is stored again; never exported either
        still_erased = or_(still_erased, c.time < e.erased)
    erased = exists().where(e.hub == c.hub, e.member_id == c.member_id, still_erased)
    conditions = [c.hub == store.hub, ~erased]
    if months is not None:
        col = table.month_column
        ranges = [month_range(table, month) for month in sorted(months)]
        conditions.append(or_(*(and_(col >= first, col < after) for first, after in ranges)))
    if store.excluded_members:
        conditions.append(c.member_id.not_in(sorted(store.excluded_members)))
    return select(*columns).where(and_(*conditions))


def stream_rows(
    conn: Connection,
    store: Store,
    table: ExportTable,
    chunk: int = CHUNK_ROWS,
    months: Iterable[str] | None = None,
) -> Iterator[list[tuple]]:
    """The exported rows of ``table`` (of ``months``), ``chunk`` at a time, in no particular order (the
    table's own: an ordered read of the whole log would sort it first). A server-side
    cursor on PostgreSQL, SQLite's stepping cursor: memory holds one chunk."""
    result = conn.execution_options(stream_results=True, max_row_buffer=chunk).execute(
        export_query(store, table, months)
    )
    try:
        for rows in result.partitions(chunk):
            yield [tuple(row) for row in rows]
    finally:
        result.close()


def database_bytes(store: Store) -> int | None:
    """Size of the database on disk (SQLite: the file and its WAL; PostgreSQL: the
    database), for comparing with the export's."""
    import os

    with store.connect() as conn:
        if conn.dialect.name == "postgresql":
            return conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
        path = store.engine.url.database
    if not path or path == ":memory:":
        return None
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
