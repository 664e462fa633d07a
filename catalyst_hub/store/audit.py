"""The audit trail: one row per person whose data staff read or changed.

Written in the transaction of what it records (``catalyst_hub.workflows``, the audited
username lookup of ``catalyst_hub.reports.people``), so no read or change goes unaudited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from ..timeutil import utcnow
from . import tables as t
from .store import Store


@dataclass(frozen=True)
class Access:
    """Who reads per-person data, for what, in which community (one audit row per subject)."""

    actor: str
    action: str
    community: str | None
    detail: str | None = None


class AuditError(ValueError):
    """An audit subject that is not a member of this hub."""


def unknown_members(
    store: Store, member_ids: Iterable[str], conn: Connection | None = None
) -> list[str]:
    """Those of ``member_ids`` that are not the id of a member of this hub (sorted)."""
    wanted = sorted(set(member_ids))
    if not wanted:
        return []
    m = t.members.c
    query = select(m.member_id).where(m.hub == store.hub, m.member_id.in_(wanted))
    if conn is None:
        with store.connect() as conn:
            found = set(conn.execute(query).scalars())
    else:
        found = set(conn.execute(query).scalars())
    return [mid for mid in wanted if mid not in found]


def audit(
    store: Store, access: Access, subjects: Iterable[str | None], conn: Connection | None = None
) -> None:
    """Write one audit row per subject (one row with no subject when there is none).

    Raises AuditError, writing nothing, when a subject is not a member id of this hub."""
    subjects = list(subjects)
    now = utcnow()
    rows = [
        {
            "hub": store.hub,
            "time": now,
            "actor": access.actor,
            "action": access.action,
            "community": access.community,
            "subject": subject,
            "detail": access.detail,
        }
        for subject in (sorted(set(subjects), key=str) or [None])
    ]
    if conn is not None:
        _write_audit(store, conn, rows)
        return
    with store.begin() as conn:
        _write_audit(store, conn, rows)


def _write_audit(store: Store, conn: Connection, rows: list[dict[str, Any]]) -> None:
    # checked in the writing transaction: nothing is written when any subject is unknown
    unknown = unknown_members(store, (r["subject"] for r in rows if r["subject"] is not None), conn)
    if unknown:
        # the values are not repeated: they may be usernames
        raise AuditError(f"{len(unknown)} audit subject(s) not a member of this hub")
    conn.execute(insert(t.audit_log), rows)
