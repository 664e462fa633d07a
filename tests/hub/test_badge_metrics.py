"""Open Badges in the hub's Prometheus metrics: issued and claimed per community, gauges (an
erasure takes badges away), hidden from a scraper like the people counts while fewer than k
members hold (or claimed) them. Six members of andes earned hub-basics, one of them also sharing and so the whole champions
path (three badges); five of them claimed one; two members of sahel earned hub-basics."""

from __future__ import annotations

import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import generate_latest

import catalyst_hub.store  # noqa: F401  (loads before ingest)
from catalyst_hub.badges.issuer import BadgeIssuer
from catalyst_hub.badges.keys import Keyring
from catalyst_hub.events import LEAD, MEMBER, envelope
from catalyst_hub.events.names import EPISODE_COMPLETED
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.reports.metrics import metrics_registry
from catalyst_hub.store.privacy import erase_member
from catalyst_hub.workflows.badges import award_badges, claim_badge

pytestmark = pytest.mark.postgres

HUB_BASICS = ["first-notebook", "data-files", "persistence"]
SHARING = ["git-basics", "publish"]


@pytest.fixture
def catalyst_hub_roles():
    return [
        {"name": "scraper", "scopes": ["custom:catalyst:metrics"]},
        {"name": "scraper-sahel", "scopes": ["custom:catalyst:metrics!group=community-sahel"]},
    ]


def earn(svc) -> None:
    """The members complete their lessons' episodes (one batch), then receive the badges."""
    store = svc.store
    issuer = BadgeIssuer(
        "https://hub.example.org/services/catalyst/", {}, Keyring(Ed25519PrivateKey.generate())
    )
    members = [("andes", f"a{i}") for i in range(6)] + [("sahel", "s0"), ("sahel", "s1")]
    self_taught = {"lesson": "hub-basics", "source": "self"}
    signed = {"lesson": "sharing", "source": "lead", "signed_off_by": "lead-id"}
    batch = []
    for community, name in members:
        svc.token(name, groups=[f"community-{community}"])  # who accepted the notice
        member = store.member_id(name)
        batch += [
            (
                envelope(EPISODE_COMPLETED, {**self_taught, "episode": e}),
                Sender(member, community, MEMBER),
            )
            for e in HUB_BASICS
        ]
        if name == "a0":
            batch += [
                (
                    envelope(EPISODE_COMPLETED, {**signed, "episode": e}),
                    Sender(member, community, LEAD),
                )
                for e in SHARING
            ]
    Ingestor(store).ingest_trusted(batch)
    for community, name in members:
        member = store.member_id(name)
        ids = award_badges(store, issuer, member, community, "en")
        assert ids
        if name in ("a0", "a1", "a2", "a3", "a4"):
            claim_badge(store, issuer, member, ids[0], {"url": "https://orcid.org/x"}, "en")


def series(text: str, name: str) -> dict[str, float]:
    """One family's series per community, of andes and sahel (the scrapers' own accounts are
    members of the default community, with no badge: zero, shown)."""
    found = re.findall(rf'^{name}\{{community="([^"]*)"\}} (\S+)$', text, re.M)
    return {community: float(value) for community, value in found if community != "default"}


async def test_badges_per_community_for_a_scraper(catalyst_service):
    svc = catalyst_service
    earn(svc)
    scraper = svc.token("scraper", roles=["scraper"])
    r = await svc.request("get", "metrics", scraper)
    assert r.status_code == 200, r.text
    text = r.text
    # gauges named as Prometheus names a gauge of a count (no _total: they can go down)
    assert "# TYPE catalyst_badges_issued gauge" in text
    assert "# TYPE catalyst_badges_claimed gauge" in text
    assert series(text, "catalyst_badges_issued") == {"andes": 8.0}
    # sahel: two members hold its two badges, below k=5: no series (missing is not zero);
    # none of them claimed one, and zero singles nobody out
    assert series(text, "catalyst_badges_claimed") == {"andes": 5.0, "sahel": 0.0}
    # a token filtered to sahel reads the same suppressed figures, of sahel only
    filtered = svc.token("scraper-sahel", roles=["scraper-sahel"])
    r = await svc.request("get", "metrics", filtered)
    assert r.status_code == 200, r.text
    assert series(r.text, "catalyst_badges_issued") == {}
    assert series(r.text, "catalyst_badges_claimed") == {"sahel": 0.0}
    assert "andes" not in r.text

    # the exact figures, with k=1
    exact = generate_latest(metrics_registry(svc.store, 1, max_age=0)).decode()
    assert series(exact, "catalyst_badges_issued") == {"andes": 8.0, "sahel": 2.0}
    assert series(exact, "catalyst_badges_claimed") == {"andes": 5.0, "sahel": 0.0}


async def test_an_erasure_lowers_the_gauges_and_can_hide_them(catalyst_service):
    store = catalyst_service.store
    earn(catalyst_service)
    erase_member(store, store.member_id("a0"))  # her three badges, one claimed
    text = generate_latest(metrics_registry(store, 5, max_age=0)).decode()
    # five holders of andes left: five badges shown; the four claimers are fewer than k
    assert series(text, "catalyst_badges_issued") == {"andes": 5.0}
    assert series(text, "catalyst_badges_claimed") == {"sahel": 0.0}
    erase_member(store, store.member_id("a1"))
    text = generate_latest(metrics_registry(store, 5, max_age=0)).decode()
    assert series(text, "catalyst_badges_issued") == {}
