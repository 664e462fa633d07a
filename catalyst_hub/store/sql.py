"""Portable SQL helpers for SQLite and PostgreSQL (upserts and order-free merges)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Table, case
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
