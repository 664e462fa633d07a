"""Reads and writes of the badges a learner earned (``badges``) and the revocation list
(``badge_status``). The credentials themselves are built and signed in ``catalyst_hub.badges``.

A badge's ``lesson`` column holds its catalog key: the lesson id for a lesson's badge,
``path:<program id>`` for a training path's (``catalyst_hub.catalog.path_key``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from . import tables as t
from .store import Store


@dataclass(frozen=True)
class BadgeRow:
    id: str
    member_id: str
    community: str
    lesson: str
    status_index: int
    issued: datetime
    claimed: datetime | None
    credential: str
    revoked: datetime | None = None
    reason: str | None = None


def _select():
    b, s = t.badges.c, t.badge_status.c
    return select(
        b.id,
        b.member_id,
        b.community,
        b.lesson,
        b.status_index,
        b.issued,
        b.claimed,
        b.credential,
        s.revoked,
        s.reason,
    ).outerjoin(t.badge_status, (s.hub == b.hub) & (s.status_index == b.status_index))


def member_badges(store: Store, member_id: str) -> list[BadgeRow]:
    b = t.badges.c
    with store.connect() as conn:
        rows = conn.execute(
            _select().where(b.hub == store.hub, b.member_id == member_id).order_by(b.issued, b.id)
        ).all()
    return [BadgeRow(*row) for row in rows]


def badge(store: Store, badge_id: str) -> BadgeRow | None:
    b = t.badges.c
    with store.connect() as conn:
        row = conn.execute(_select().where(b.hub == store.hub, b.id == badge_id)).first()
    return BadgeRow(*row) if row else None


def held_badges(conn: Connection, hub: str, member_id: str) -> dict[str, bool]:
    """{badge key: revoked} of the badges the member received."""
    b, s = t.badges.c, t.badge_status.c
    return {
        row.lesson: row.revoked is not None
        for row in conn.execute(
            select(b.lesson, s.revoked)
            .outerjoin(t.badge_status, (s.hub == b.hub) & (s.status_index == b.status_index))
            .where(b.hub == hub, b.member_id == member_id)
        )
    }


def next_status_index(conn: Connection, hub: str) -> int:
    """Reserve the next status index of the hub's list (never reused, erasure or not)."""
    s = t.badge_status.c
    index = conn.execute(
        select(func.coalesce(func.max(s.status_index) + 1, 0)).where(s.hub == hub)
    ).scalar_one()
    conn.execute(insert(t.badge_status).values(hub=hub, status_index=index))
    return index


def insert_badge(conn: Connection, hub: str, row: BadgeRow) -> None:
    conn.execute(
        insert(t.badges).values(
            hub=hub,
            id=row.id,
            member_id=row.member_id,
            community=row.community,
            lesson=row.lesson,
            status_index=row.status_index,
            issued=row.issued,
            claimed=row.claimed,
            credential=row.credential,
        )
    )


def set_claimed(
    store: Store, badge_id: str, member_id: str, credential: str, when: datetime
) -> bool:
    """Store the credential signed at claim; False if it is not this member's badge."""
    b = t.badges.c
    with store.begin() as conn:
        return (
            conn.execute(
                update(t.badges)
                .where(b.hub == store.hub, b.id == badge_id, b.member_id == member_id)
                .values(credential=credential, claimed=when)
            ).rowcount
            == 1
        )


def revoke(
    store: Store, badge_id: str, reason: str, when: datetime, also: Sequence[tuple[str, str]] = ()
) -> BadgeRow | None:
    """Revoke a badge (its status bit is set), and in the same transaction the badges ``also``
    names (id, reason); None if there is no such badge. A revoked badge keeps its first reason."""
    found = badge(store, badge_id)
    if found is None:
        return None
    b, s = t.badges.c, t.badge_status.c
    with store.begin() as conn:
        for revoked_id, why in ((badge_id, reason), *also):
            index = (
                select(b.status_index)
                .where(b.hub == store.hub, b.id == revoked_id)
                .scalar_subquery()
            )
            conn.execute(
                update(t.badge_status)
                .where(s.hub == store.hub, s.status_index == index, s.revoked.is_(None))
                .values(revoked=when, reason=why[:255])
            )
    return badge(store, badge_id)


def revoked_indexes(store: Store) -> list[int]:
    s = t.badge_status.c
    with store.connect() as conn:
        return list(
            conn.execute(
                select(s.status_index)
                .where(s.hub == store.hub, s.revoked.is_not(None))
                .order_by(s.status_index)
            ).scalars()
        )
