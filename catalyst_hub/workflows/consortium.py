"""A community's champion publishes or unpublishes its public page on the consortium.

The choice is stored with an audit row in one transaction; the publisher sends it in the
next summaries' ``public`` flag (the hub's ``consortium_public_communities`` setting holds
for communities whose champions have not chosen).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import func, select

from ..store import Store, publish_queue
from ..store import tables as t
from ..store.audit import Access, audit
from ..store.sql import upsert
from ..timeutil import utcnow

ACTION = "consortium_public_page"

#: Where the consortium service shows a community's public page, under its prefix (the
#: hub's ``consortium_url``): the hub's name (``hub_name``) and the community's, escaped.
PUBLIC_PAGE_PATH = "public/{hub}/{community}"


def public_page_path(hub: str, community: str) -> str:
    """The public page's path relative to the consortium service's prefix."""
    return PUBLIC_PAGE_PATH.format(hub=quote(hub, safe=""), community=quote(community, safe=""))


def public_page_url(consortium_url: str, hub: str, community: str) -> str:
    base = consortium_url if consortium_url.endswith("/") else consortium_url + "/"
    return base + public_page_path(hub, community)


@dataclass(frozen=True)
class PublicPage:
    community: str
    public: bool
    #: None: no champion has chosen (the hub's setting holds)
    changed: datetime | None
    #: the page's address on the consortium, once published: public, and the consortium
    #: has acknowledged a summary of this hub since the choice (None otherwise)
    url: str | None = None


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


def public_pages(
    store: Store,
    communities: Iterable[str],
    default: Iterable[str],
    consortium_url: str = "",
) -> dict[str, PublicPage]:
    """Each community's choice, and with the hub's ``consortium_url`` its page's address
    once the consortium has it: one read for them all."""
    names = list(communities)
    p, pub = t.consortium_public_pages.c, t.consortium_published.c
    with store.connect() as conn:
        rows = {
            r.community: r
            for r in conn.execute(
                select(p.community, p.public, p.changed).where(
                    p.hub == store.hub, p.community.in_(names)
                )
            )
        }
        last = conn.execute(
            select(func.max(pub.published)).where(pub.hub == store.hub)
        ).scalar_one()
    default = set(default)
    pages = {}
    for community in names:
        row = rows.get(community)
        public, changed = (
            (community in default, None) if row is None else (bool(row.public), row.changed)
        )
        published = last is not None and (changed is None or last >= changed)
        url = None
        if public and published and consortium_url:
            url = public_page_url(consortium_url, store.hub, community)
        pages[community] = PublicPage(community, public, changed, url)
    return pages


def public_page(
    store: Store, community: str, default: Iterable[str], consortium_url: str = ""
) -> PublicPage:
    """One community's ``public_pages``."""
    return public_pages(store, [community], default, consortium_url)[community]


def public_communities(store: Store, default: Iterable[str]) -> set[str]:
    """The communities whose summaries allow a public page: the champions' choices, and the
    hub's setting (``default``) for the communities without one."""
    chosen = choices(store)
    return {c for c in default if c not in chosen} | {c for c, public in chosen.items() if public}


def publishing_state(store: Store, default: Iterable[str], consortium_url: str) -> dict:
    """What the hub's admin reads of its publishing (``publish_queue.status``), with the
    address of each community's public page the consortium has (``public_pages``)."""
    default = list(default)
    pages = public_pages(store, sorted(public_communities(store, default)), default, consortium_url)
    return {
        **publish_queue.status(store),
        "public_pages": {c: page.url for c, page in pages.items() if page.url},
    }
