"""The consortium publisher's durable queue (SQL only; ``service/publisher.py`` drives it).

A month is queued with its summary document when its figures' fingerprint differs from the
one the consortium last acknowledged; a newer version of a month still queued replaces it
(one row per month, so a month waiting through an outage is sent once, in its latest
version). Sequence numbers only grow, from the clock in milliseconds at least, so a hub
whose database was recreated still sends versions the consortium takes as newer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from . import tables as t
from .sql import upsert_tuples
from .store import Store

#: per community and figure: (value, shown) in one version, as ``queue_month`` records them
VersionCells = Mapping[str, Mapping[str, tuple[int, bool]]]


def _next_sequence(conn: Connection, hub: str, now: datetime) -> int:
    s = t.consortium_state.c
    current = conn.execute(select(s.sequence).where(s.hub == hub)).scalar_one_or_none()
    sequence = max((current or 0) + 1, int(now.timestamp() * 1000))
    if current is None:
        conn.execute(insert(t.consortium_state).values(hub=hub, sequence=sequence))
    else:
        conn.execute(update(t.consortium_state).where(s.hub == hub).values(sequence=sequence))
    return sequence


def queue_month(
    store: Store,
    month: date,
    fingerprint: str,
    document: dict[str, Any],
    now: datetime,
    cells: VersionCells | None = None,
) -> int | None:
    """Queue ``month`` unless the consortium has (or the queue holds) these very figures;
    returns the sequence number given to the document, or None when nothing changed.
    ``document`` gets ``hub``, ``sequence`` and ``generated`` here; ``cells`` (what this
    version does with each count) are recorded with it, in the same transaction."""
    import orjson

    o, p = t.consortium_outbox.c, t.consortium_published.c
    with store.begin() as conn:
        queued = conn.execute(
            select(o.fingerprint).where(o.hub == store.hub, o.month == month)
        ).scalar_one_or_none()
        if queued == fingerprint:
            return None
        published = conn.execute(
            select(p.fingerprint).where(p.hub == store.hub, p.month == month)
        ).scalar_one_or_none()
        if queued is None and published == fingerprint:
            return None
        sequence = _next_sequence(conn, store.hub, now)
        body = orjson.dumps(
            {
                **document,
                "hub": store.hub,
                "sequence": sequence,
                "generated": now.replace(tzinfo=timezone.utc).isoformat(),
            }
        ).decode()
        values = {
            "sequence": sequence,
            "fingerprint": fingerprint,
            "document": body,
            "queued": now,
            "attempts": 0,
            "next_attempt": now,
            "last_error": None,
        }
        if queued is None:
            conn.execute(insert(t.consortium_outbox).values(hub=store.hub, month=month, **values))
        else:
            conn.execute(
                update(t.consortium_outbox)
                .where(o.hub == store.hub, o.month == month)
                .values(**values)
            )
        if cells:
            _record_version(conn, store.hub, month, cells)
    return sequence


def _shown_ever(excluded: Any) -> dict[str, Any]:
    # a value shown once stays "shown": readers have it
    return {"shown": t.consortium_versions.c.shown | excluded.shown}


def _record_version(conn: Connection, hub: str, month: date, cells: VersionCells) -> None:
    rows = [
        (hub, community, month, figure, value, shown)
        for community, figures in cells.items()
        for figure, (value, shown) in figures.items()
    ]
    upsert_tuples(
        conn,
        t.consortium_versions,
        ("hub", "community", "month", "figure", "value", "shown"),
        rows,
        ["hub", "community", "month", "figure", "value"],
        _shown_ever,
    )


def month_versions(store: Store, month: date) -> dict[str, dict[str, dict[int, bool]]]:
    """What earlier versions of ``month``'s summary did: per community and figure, each
    value it had and whether one of them showed it."""
    v = t.consortium_versions.c
    out: dict[str, dict[str, dict[int, bool]]] = {}
    with store.connect() as conn:
        rows = conn.execute(
            select(v.community, v.figure, v.value, v.shown).where(
                v.hub == store.hub, v.month == month
            )
        )
        for community, figure, value, shown in rows:
            out.setdefault(community, {}).setdefault(figure, {})[value] = bool(shown)
    return out


def due(store: Store, now: datetime, limit: int = 50) -> list[dict[str, Any]]:
    """Queued months whose next attempt is due, oldest month first."""
    o = t.consortium_outbox.c
    with store.connect() as conn:
        rows = conn.execute(
            select(o.month, o.sequence, o.fingerprint, o.document, o.attempts)
            .where(o.hub == store.hub, o.next_attempt <= now)
            .order_by(o.month)
            .limit(limit)
        ).all()
    return [r._asdict() for r in rows]


def acknowledge(
    store: Store,
    month: date,
    sequence: int,
    fingerprint: str,
    through: date,
    provisional: bool,
    now: datetime,
) -> None:
    """The consortium has the month's version ``sequence``: out of the queue (unless a newer
    version replaced it meanwhile), and remembered as published."""
    o, p, s = t.consortium_outbox.c, t.consortium_published.c, t.consortium_state.c
    with store.begin() as conn:
        conn.execute(
            delete(t.consortium_outbox).where(
                o.hub == store.hub, o.month == month, o.sequence == sequence
            )
        )
        values = {
            "sequence": sequence,
            "fingerprint": fingerprint,
            "through": through,
            "provisional": provisional,
            "published": now,
        }
        done = conn.execute(
            update(t.consortium_published)
            .where(p.hub == store.hub, p.month == month, p.sequence <= sequence)
            .values(**values)
        ).rowcount
        if not done and (
            conn.execute(
                select(func.count()).where(p.hub == store.hub, p.month == month)
            ).scalar_one()
            == 0
        ):
            conn.execute(
                insert(t.consortium_published).values(hub=store.hub, month=month, **values)
            )
        conn.execute(update(t.consortium_state).where(s.hub == store.hub).values(last_success=now))


def failed(
    store: Store, month: date, sequence: int, error: str, retry_at: datetime, now: datetime
) -> None:
    """A failed attempt: counted, its error kept, tried again at ``retry_at``."""
    o, s = t.consortium_outbox.c, t.consortium_state.c
    error = error[:2000]
    with store.begin() as conn:
        conn.execute(
            update(t.consortium_outbox)
            .where(o.hub == store.hub, o.month == month, o.sequence == sequence)
            .values(attempts=o.attempts + 1, next_attempt=retry_at, last_error=error)
        )
        conn.execute(
            update(t.consortium_state)
            .where(s.hub == store.hub)
            .values(last_error=error, last_error_time=now)
        )


def status(store: Store) -> dict[str, Any]:
    """What the hub's admin sees: the last day published, what waits, the last error."""
    o, p, s = t.consortium_outbox.c, t.consortium_published.c, t.consortium_state.c
    with store.connect() as conn:
        state = conn.execute(
            select(s.last_success, s.last_error, s.last_error_time).where(s.hub == store.hub)
        ).one_or_none()
        last_day = conn.execute(select(func.max(p.through)).where(p.hub == store.hub)).scalar_one()
        closed = conn.execute(
            select(func.max(p.through)).where(p.hub == store.hub, p.provisional.is_(False))
        ).scalar_one()
        published = conn.execute(select(func.count()).where(p.hub == store.hub)).scalar_one()
        pending = conn.execute(
            select(o.month, o.attempts, o.next_attempt, o.last_error)
            .where(o.hub == store.hub)
            .order_by(o.month)
        ).all()

    def iso(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "last_published_day": iso(last_day),
        "last_closed_month_day": iso(closed),
        "months_published": int(published),
        "last_success": iso(state.last_success) if state else None,
        "last_error": state.last_error if state else None,
        "last_error_time": iso(state.last_error_time) if state else None,
        "pending": [
            {
                "month": r.month.isoformat()[:7],
                "attempts": r.attempts,
                "next_attempt": iso(r.next_attempt),
                "last_error": r.last_error,
            }
            for r in pending
        ],
    }


def published_months(store: Store) -> dict[date, date]:
    """Each month the consortium acknowledged, with the last day it covered."""
    p = t.consortium_published.c
    with store.connect() as conn:
        return dict(conn.execute(select(p.month, p.through).where(p.hub == store.hub)).all())
