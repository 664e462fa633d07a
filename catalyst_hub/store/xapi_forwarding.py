"""The xAPI forwarder's state: which statements an LRS acknowledged (``xapi_sent``) and its
progress per hub (``xapi_forwarder``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import exists, func, select, update

from ..timeutil import isoformat, utcnow
from . import tables as t
from .sql import dialect_insert
from .store import Store

#: Longest error text kept for the admin.
MAX_ERROR = 500


def sent_ids(store: Store) -> set[str]:
    """The ids of this hub's statements an LRS has acknowledged."""
    s = t.xapi_sent.c
    with store.connect() as conn:
        return set(conn.execute(select(s.statement_id).where(s.hub == store.hub)).scalars())


def erased_among(store: Store, member_ids: Iterable[str]) -> set[str]:
    """Those of ``member_ids`` erased (and not recording again) or with no member row left:
    their statements are not sent, even those built before the erasure."""
    ids = sorted(set(member_ids))
    if not ids:
        return set()
    m, e = t.members.c, t.member_erasures.c
    with store.connect() as conn:
        present = set(
            conn.execute(
                select(m.member_id).where(
                    m.hub == store.hub,
                    m.member_id.in_(ids),
                    ~exists().where(
                        e.hub == m.hub, e.member_id == m.member_id, e.accepted.is_(None)
                    ),
                )
            ).scalars()
        )
    return set(ids) - present


def mark_sent(store: Store, acknowledged: Iterable[tuple[str, str]], conflicts: int = 0) -> int:
    """Record statements (member id, statement id) the LRS acknowledged, and the progress.
    A member erased meanwhile gets no row. Returns how many rows were new."""
    rows = sorted(set(acknowledged))
    now = utcnow()
    with store.begin() as conn:
        new = 0
        if rows:
            m, e = t.members.c, t.member_erasures.c
            keep = set(
                conn.execute(
                    select(m.member_id).where(
                        m.hub == store.hub,
                        m.member_id.in_(sorted({member for member, _ in rows})),
                        ~exists().where(
                            e.hub == m.hub, e.member_id == m.member_id, e.accepted.is_(None)
                        ),
                    )
                ).scalars()
            )
            values = [
                {"hub": store.hub, "member_id": member, "statement_id": sid, "sent": now}
                for member, sid in rows
                if member in keep
            ]
            if values:
                s = t.xapi_sent.c
                known = set(
                    conn.execute(
                        select(s.statement_id).where(
                            s.hub == store.hub,
                            s.member_id.in_(sorted(keep)),
                            s.statement_id.in_(sorted(v["statement_id"] for v in values)),
                        )
                    ).scalars()
                )
                values = [v for v in values if v["statement_id"] not in known]
            if values:
                conn.execute(dialect_insert(conn, t.xapi_sent).on_conflict_do_nothing(), values)
                new = len(values)
        f = t.xapi_forwarder.c
        conn.execute(
            update(t.xapi_forwarder)
            .where(f.hub == store.hub)
            .values(
                sent_total=f.sent_total + new,
                conflicts=f.conflicts + conflicts,
                last_success=now,
                last_attempt=now,
                failures=0,
            )
        )
    return new


def ensure_progress(store: Store, lrs_url: str) -> None:
    """The hub's progress row, made on the forwarder's first start (keeps its figures)."""
    with store.begin() as conn:
        conn.execute(
            dialect_insert(conn, t.xapi_forwarder).on_conflict_do_nothing(),
            {
                "hub": store.hub,
                "lrs_url": lrs_url,
                "sent_total": 0,
                "conflicts": 0,
                "failures": 0,
                "pending": 0,
            },
        )
        f = t.xapi_forwarder.c
        conn.execute(update(t.xapi_forwarder).where(f.hub == store.hub).values(lrs_url=lrs_url))


def record_pending(store: Store, pending: int, round_done: bool = False) -> None:
    """Record what is left to send; ``round_done``: a whole round went through (no failure
    in a row any more)."""
    f = t.xapi_forwarder.c
    values: dict[str, Any] = {"pending": pending, "last_attempt": utcnow()}
    if round_done:
        values["failures"] = 0
    with store.begin() as conn:
        conn.execute(update(t.xapi_forwarder).where(f.hub == store.hub).values(**values))


def record_failure(store: Store, error: str) -> int:
    """Record a failed attempt; returns the failures in a row."""
    now = utcnow()
    f = t.xapi_forwarder.c
    with store.begin() as conn:
        conn.execute(
            update(t.xapi_forwarder)
            .where(f.hub == store.hub)
            .values(
                failures=f.failures + 1,
                last_error=error[:MAX_ERROR],
                last_error_time=now,
                last_attempt=now,
            )
        )
        return conn.execute(select(f.failures).where(f.hub == store.hub)).scalar() or 0


def progress(store: Store) -> dict[str, Any]:
    """The forwarder's figures for the admin: statements acknowledged (held now, and ever),
    pending at the last attempt, conflicts, failures in a row and the last error."""
    f, s = t.xapi_forwarder.c, t.xapi_sent.c
    with store.connect() as conn:
        row = conn.execute(select(t.xapi_forwarder).where(f.hub == store.hub)).first()
        held = conn.execute(
            select(func.count()).select_from(t.xapi_sent).where(s.hub == store.hub)
        ).scalar()
    if row is None:
        return {"enabled": True, "acknowledged": held or 0}
    return {
        "enabled": True,
        "lrs_url": row.lrs_url,
        "acknowledged": held or 0,
        "sent_total": row.sent_total,
        "pending": row.pending,
        "conflicts": row.conflicts,
        "failures_in_a_row": row.failures,
        "last_attempt": isoformat(row.last_attempt),
        "last_success": isoformat(row.last_success),
        "last_error": row.last_error,
        "last_error_time": isoformat(row.last_error_time),
    }


__all__ = [
    "ensure_progress",
    "erased_among",
    "mark_sent",
    "progress",
    "record_failure",
    "record_pending",
    "sent_ids",
]
