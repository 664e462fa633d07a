"""The one way staff pages learn who a member id is, and the audit trail of such reads.

Analytics tables name people only by member id. A training lead's pages show learners by
username, resolved here from the identity table at render time; every call records, per
person shown, who looked, why and in which community, in ``audit_log``. Nothing else in the
reports reads ``identities``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from ..store import Store
from ..store import tables as t
from ..store.audit import Access, audit
from ..timeutil import isoformat


def usernames(store: Store, member_ids: Iterable[str], access: Access) -> dict[str, str]:
    """Usernames of ``member_ids`` (a member with no identity row keeps its id), audited."""
    wanted = sorted(set(member_ids))
    if not wanted:
        return {}
    i = t.identities.c
    with store.begin() as conn:
        found = dict(
            conn.execute(
                select(i.member_id, i.username).where(i.hub == store.hub, i.member_id.in_(wanted))
            ).all()
        )
        audit(store, access, wanted, conn)
    return {mid: found.get(mid, mid) for mid in wanted}


def known_member(store: Store, username: str) -> tuple[str, str] | None:
    """(member id, community) of a username the hub has seen, else None.

    The id is the keyed hash, computed without writing: a typo must not create an identity."""
    mid = store.pseudonym(username)
    m = t.members.c
    with store.connect() as conn:
        community = conn.execute(
            select(m.community).where(m.hub == store.hub, m.member_id == mid)
        ).scalar()
    return (mid, community) if community is not None else None


@dataclass
class AuditRow:
    time: datetime
    actor: str
    action: str
    community: str | None
    subject: str | None
    detail: str | None


def audit_entries(
    store: Store, communities: Iterable[str] | None = None, limit: int = 200, offset: int = 0
) -> tuple[int, list[AuditRow]]:
    """The newest audit rows (of ``communities``; None means all) and how many there are."""
    a = t.audit_log.c
    where = [a.hub == store.hub]
    if communities is not None:
        where.append(a.community.in_(sorted(communities)))
    with store.connect() as conn:
        total = conn.execute(select(func.count()).select_from(t.audit_log).where(*where)).scalar()
        rows = conn.execute(
            select(a.time, a.actor, a.action, a.community, a.subject, a.detail)
            .where(*where)
            .order_by(a.time.desc(), a.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    return int(total or 0), [AuditRow(*row) for row in rows]


def audit_to_json(row: AuditRow) -> dict[str, Any]:
    return {
        "time": isoformat(row.time),
        "actor": row.actor,
        "action": row.action,
        "community": row.community,
        "subject": row.subject,
        "detail": row.detail,
    }
