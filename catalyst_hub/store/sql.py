"""Portable SQL helpers for SQLite and PostgreSQL: upserts (plain, and compiled once for the
projections' hot path), order-free merges, and the drivers' value conversions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Table, case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement


def placeholder(dialect) -> str:
    """The driver's marker of a positional parameter, for plain SQL (``?`` or ``%s``)."""
    return "?" if dialect.paramstyle == "qmark" else "%s"


def dialect_insert(conn: Connection, table: Table):
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def upsert(
    conn: Connection,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    keys: list[str],
    update: Callable[[Any], dict[str, ColumnElement]] | None = None,
) -> None:
    """Insert ``rows``; on a key conflict apply ``update(excluded)`` or keep the existing row.

    Rows must have distinct keys (PostgreSQL refuses to update one row twice in a statement):
    callers merge a batch per key first.
    """
    rows = list(rows)
    if not rows:
        return
    stmt = dialect_insert(conn, table)
    if update is None:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    else:
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=update(stmt.excluded))
    conn.execute(stmt, rows)


def earliest(current: ColumnElement, new: ColumnElement) -> ColumnElement:
    """The earlier of two nullable values (NULL means unknown, not earliest)."""
    return case(
        (current.is_(None), new), (new.is_(None), current), (new < current, new), else_=current
    )


def latest(current: ColumnElement, new: ColumnElement) -> ColumnElement:
    return case(
        (current.is_(None), new), (new.is_(None), current), (new > current, new), else_=current
    )


def if_newer(current_time: ColumnElement, new_time: ColumnElement, current, new) -> ColumnElement:
    """``new`` when ``new_time`` is at or after ``current_time``: last writer by event time."""
    return case((current_time.is_(None), new), (new_time >= current_time, new), else_=current)


def of_earliest(
    current_time: ColumnElement, new_time: ColumnElement, current, new
) -> ColumnElement:
    """``new`` when ``new_time`` is known and earlier than ``current_time`` (or that is unknown):
    the attributes of whichever happened first."""
    return case(
        (new_time.is_(None), current),
        (current_time.is_(None), new),
        (new_time < current_time, new),
        else_=current,
    )


#: compiled upserts by (call site, dialect, columns): compiling once and handing plain tuples
#: to the driver's executemany avoids SQLAlchemy's per-statement and per-row work, which was
#: most of the projection cost of a batch.
_COMPILED: dict[tuple, tuple[str, tuple[int, ...] | None, tuple[str, ...], list]] = {}


def upsert_cached(conn: Connection, table: Table, rows, keys: list[str], update=None) -> None:
    """``upsert`` with a compiled-statement cache (same SQL, same semantics), for the
    projections' hot path.

    Rows must have distinct keys and the same columns. The cache is keyed by ``update``'s
    code, so ``update`` must not close over values that change between calls.
    """
    rows = list(rows)
    if rows:
        columns = tuple(rows[0])
        get = itemgetter(*columns)
        upsert_tuples(
            conn,
            table,
            columns,
            [get(row) for row in rows] if len(columns) > 1 else [(get(row),) for row in rows],
            keys,
            update,
        )


def upsert_tuples(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    keys: list[str],
    update=None,
    where=None,
) -> int:
    """``upsert`` of rows given as tuples in ``columns`` order: no dict per row. ``where``
    (of the proposed row, like ``update``) limits the update to the rows it holds for.
    Returns the rows inserted or updated."""
    if not rows:
        return 0
    dialect = conn.dialect
    cache_key = (
        table.name,
        tuple(keys),
        update.__code__ if update else None,
        where.__code__ if where else None,
        dialect.name,
        columns,
    )
    entry = _COMPILED.get(cache_key)
    if entry is None:
        stmt = dialect_insert(conn, table)
        if update is None:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        else:
            stmt = stmt.on_conflict_do_update(
                index_elements=keys,
                set_=update(stmt.excluded),
                where=where(stmt.excluded) if where else None,
            )
        compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
        if compiled.positional:
            positions = tuple(columns.index(name) for name in compiled.positiontup or ())
            names = None if positions == tuple(range(len(columns))) else positions
        else:
            names = None
        processors = [
            (i, p)
            for i, p in enumerate(bind_processor(table.c[name], dialect) for name in columns)
            if p is not None
        ]
        entry = _COMPILED[cache_key] = (str(compiled), names, columns, processors)
    sql, order, _, processors = entry
    if processors:
        converted: list[list[Any]] = []
        for row in rows:
            values = list(row)
            for i, process in processors:
                values[i] = process(values[i])
            converted.append(values)
        rows = converted
    if dialect.name == "postgresql" and len(rows) > 1:
        many = _values_rows(sql, columns)
        if many is not None:
            written = 0
            for i in range(0, len(rows), PG_ROWS_PER_UPSERT):
                chunk = rows[i : i + PG_ROWS_PER_UPSERT]
                written += conn.exec_driver_sql(
                    many(len(chunk)), tuple(v for row in chunk for v in row)
                ).rowcount
            return written
    if not dialect.positional:
        params: Sequence[Any] = [dict(zip(columns, row, strict=True)) for row in rows]
    elif order is not None:
        params = [tuple(row[i] for i in order) for row in rows]
    else:
        params = [tuple(row) for row in rows] if processors else rows
    return conn.exec_driver_sql(sql, params).rowcount


#: rows per upsert statement on PostgreSQL, where psycopg's executemany costs tens of
#: microseconds of Python per row; one statement of many VALUES rows does not
PG_ROWS_PER_UPSERT = 500
_VALUES = re.compile(r"^(.* VALUES )(\(.*?\))( ON CONFLICT .*)$", re.DOTALL)
_NAMED = re.compile(r"%\((\w+)\)s")
_VALUES_SQL: dict[tuple[str, int], str] = {}


def _values_rows(sql: str, columns: tuple[str, ...]) -> Callable[[int], str] | None:
    """For a compiled one-row ``INSERT .. VALUES (%(a)s, ..) ON CONFLICT ..``: a function of
    n giving the same statement with n rows of positional parameters in ``columns`` order;
    None when the statement has another shape."""
    match = _VALUES.match(sql)
    if match is None or "%(" in match.group(1) + match.group(3):
        return None
    head, row, tail = match.groups()
    if tuple(_NAMED.findall(row)) != columns:
        return None
    row = _NAMED.sub("%s", row)

    def statement(n: int) -> str:
        key = (sql, n)
        found = _VALUES_SQL.get(key)
        if found is None:
            found = _VALUES_SQL[key] = head + ", ".join([row] * n) + tail
        return found

    return statement


def bind_processor(column, dialect) -> Callable[[Any], Any] | None:
    """The driver value of ``column``'s Python values; SQLite times and days as SQLAlchemy
    stores them (``YYYY-MM-DD HH:MM:SS.ffffff``), by the C ``isoformat`` rather than string
    formatting."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is not None and dialect.name == "sqlite":
        if isinstance(column.type, DateTime):
            return lambda v: (
                v.isoformat(" ", "microseconds")
                if type(v) is datetime and v.tzinfo is None
                else process(v)
            )
        if isinstance(column.type, Date):
            return lambda v: v.isoformat() if type(v) is date and v.year >= 1000 else process(v)
    return process


def result_processor(column, dialect) -> Callable[[Any], Any] | None:
    """The Python value of ``column``'s driver values; SQLite times by ``fromisoformat``
    (what ``bind_processor`` wrote), SQLAlchemy's own parser for anything else."""
    process = column.type.dialect_impl(dialect).result_processor(dialect, None)
    if process is not None and dialect.name == "sqlite" and isinstance(column.type, DateTime):

        def parse(value):
            try:
                return datetime.fromisoformat(value)
            except (TypeError, ValueError):
                return process(value)

        return parse
    return process
