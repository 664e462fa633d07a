"""A community's champion publishes or unpublishes its public page on the consortium.

The choice is stored with an audit row in one transaction; the publisher sends it in the
next summaries' ``public`` flag (the hub's ``consortium_public_communities`` setting holds
for communities whose champions have not chosen).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..store import Store
from ..store import tables as t
from ..store.audit import Access, audit
from ..store.sql import upsert
from ..timeutil import utcnow

ACTION = "consortium_public_page"


@dataclass(frozen=True)
class PublicPage:
    community: str
    public: bool
    #: None: no champion has chosen (the hub's setting holds)
    changed: datetime | None


def set_public_page(store: Store, community: str, public: bool, actor: str) -> None:
    """Store ``community``'s choice (``actor``: the champion's member id) and audit it."""
    now = utcnow()
    row = {
        "hub": store.hub,
        "community": community,
        "public": public,
        "changed": now,
        "changed_by": actor,
    }
    with store.begin() as conn:
        upsert(
            conn,
            t.consortium_public_pages,
            [row],
            ["hub", "community"],
            lambda excluded: {
                "public": excluded.public,
                "changed": excluded.changed,
                "changed_by": excluded.changed_by,
            },
        )
        audit(
            store,
            Access(actor, ACTION, community, "public" if public else "private"),
            [None],
            conn,
        )


def choices(store: Store) -> dict[str, bool]:
    """Each community's stored choice (public or not), of the communities with one."""
    p = t.consortium_public_pages.c
    with store.connect() as conn:
        rows = conn.execute(select(p.community, p.public).where(p.hub == store.hub)).all()
    return {r.community: bool(r.public) for r in rows}


def public_page(store: Store, community: str, default: Iterable[str]) -> PublicPage:
    p = t.consortium_public_pages.c
    with store.connect() as conn:
        row = conn.execute(
            select(p.public, p.changed).where(p.hub == store.hub, p.community == community)
        ).one_or_none()
    if row is None:
        return PublicPage(community, community in set(default), None)
    return PublicPage(community, bool(row.public), row.changed)


def public_communities(store: Store, default: Iterable[str]) -> set[str]:
    """The communities whose summaries allow a public page: the champions' choices, and the
    hub's setting (``default``) for the communities without one."""
    chosen = choices(store)
    return {c for c in default if c not in chosen} | {c for c, public in chosen.items() if public}
