"""Issuing in the store (SQLite and PostgreSQL): earning by rule, claiming, revocation,
erasure and opt-out."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

import catalyst_hub.store  # noqa: F401  (loads before ingest)
from catalyst_hub.badges import credentials as cr
from catalyst_hub.badges.issuer import BadgeIssuer
from catalyst_hub.badges.keys import Keyring
from catalyst_hub.events import LEAD, MEMBER, envelope
from catalyst_hub.events.names import CONSENT, EPISODE_COMPLETED
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.reports.badges import badges_per_community, learner_badges
from catalyst_hub.store import badges as sb
from catalyst_hub.store import tables as t
from catalyst_hub.store.privacy import erase_member, export_member
from catalyst_hub.timeutil import utcnow
from catalyst_hub.workflows.badges import ClaimError, award_badges, claim_badge

pytestmark = pytest.mark.postgres

HUB_BASICS = ["first-notebook", "data-files", "persistence"]
SHARING = ["git-basics", "publish"]


@pytest.fixture
def issuer() -> BadgeIssuer:
    return BadgeIssuer(
        "https://hub.example.org/services/catalyst/",
        {"name": "Andes hub", "url": "https://andes.example.org"},
        Keyring(Ed25519PrivateKey.generate()),
    )


def complete(store, member, lesson, episodes, kind=MEMBER, community="andes"):
    items = []
    for episode in episodes:
        payload = {"lesson": lesson, "episode": episode, "source": "self"}
        if kind == LEAD:
            payload = {**payload, "source": "lead", "signed_off_by": "lead-id"}
        items.append(
            (
                envelope(EPISODE_COMPLETED, payload),
                Sender(member_id=member, community=community, kind=kind),
            )
        )
    Ingestor(store).ingest_trusted(items)


def verify(store, issuer, credential):
    def lists(url):
        return (
            issuer.status_list(sb.revoked_indexes(store), utcnow())
            if url == issuer.status_list_url
            else None
        )

    return cr.verify(credential, issuer.issuer, issuer.keys, lists, utcnow())


def test_every_episode_earns_the_badge_once(catalyst_store, issuer):
    store, ana = catalyst_store, catalyst_store.member_id("ana")
    complete(store, ana, "hub-basics", HUB_BASICS[:2])
    assert award_badges(store, issuer, ana, "andes", "en") == []
    complete(store, ana, "hub-basics", HUB_BASICS[2:])
    [badge_id] = award_badges(store, issuer, ana, "andes", "es")
    assert award_badges(store, issuer, ana, "andes", "en") == []
    [row] = sb.member_badges(store, ana)
    assert (row.id, row.lesson, row.claimed) == (badge_id, "hub-basics", None)
    credential = json.loads(row.credential)
    assert set(credential["credentialSubject"]) == {"type", "achievement"}
    assert credential["credentialSubject"]["achievement"]["name"] == "Fundamentos del hub"
    assert credential["id"] == issuer.credential_id(badge_id)
    assert "ana" not in row.credential and ana not in row.credential
    assert verify(store, issuer, credential).verified


def test_signed_off_rule_needs_a_lead(catalyst_store, issuer):
    store, ben = catalyst_store, catalyst_store.member_id("ben")
    complete(store, ben, "sharing", SHARING[:1], kind=LEAD)
    complete(store, ben, "sharing", SHARING[1:])  # self-reported: not a sign-off
    assert award_badges(store, issuer, ben, "andes", "en") == []
    complete(store, ben, "sharing", SHARING[1:], kind=LEAD)
    assert len(award_badges(store, issuer, ben, "andes", "en")) == 1


def test_claim_puts_the_chosen_identity_in(catalyst_store, issuer):
    store, ana = catalyst_store, catalyst_store.member_id("ana")
    complete(store, ana, "hub-basics", HUB_BASICS)
    [badge_id] = award_badges(store, issuer, ana, "andes", "en")
    row = claim_badge(store, issuer, ana, badge_id, {"email": "ana@example.org"}, "en")
    credential = json.loads(row.credential)
    [identity] = credential["credentialSubject"]["identifier"]
    assert cr.email_matches(identity, "ana@example.org")
    assert "ana@example.org" not in row.credential
    assert row.claimed is not None and verify(store, issuer, credential).verified
    row = claim_badge(
        store, issuer, ana, badge_id, {"url": "https://orcid.org/0000-0002-1825-0097"}, "pt"
    )
    credential = json.loads(row.credential)
    assert credential["credentialSubject"]["id"] == "https://orcid.org/0000-0002-1825-0097"
    ben = store.member_id("ben")
    with pytest.raises(ClaimError):
        claim_badge(store, issuer, ben, badge_id, {"email": "ben@example.org"}, "en")


def test_revocation_fails_verification(catalyst_store, issuer):
    store, ana = catalyst_store, catalyst_store.member_id("ana")
    complete(store, ana, "hub-basics", HUB_BASICS)
    complete(store, ana, "sharing", SHARING, kind=LEAD)
    first, second, path = award_badges(store, issuer, ana, "andes", "en")
    row = sb.revoke(store, second, "signed off by mistake", utcnow())
    assert row.revoked is not None
    assert verify(store, issuer, json.loads(sb.badge(store, second).credential)).reason == "revoked"
    assert verify(store, issuer, json.loads(sb.badge(store, first).credential)).verified
    # the store revokes one badge (the workflow's revocation takes the path's with it)
    assert verify(store, issuer, json.loads(sb.badge(store, path).credential)).verified
    counts = {
        (c.community, c.key): (c.issued, c.claimed, c.revoked) for c in badges_per_community(store)
    }
    assert counts == {
        ("andes", "hub-basics"): (1, 0, 0),
        ("andes", "sharing"): (1, 0, 1),
        ("andes", "path:champions"): (1, 0, 0),
    }
    assert set(learner_badges(store, [ana])[ana]) == {"hub-basics", "sharing", "path:champions"}


def test_erasure_deletes_badges_and_keeps_revocations(catalyst_store, issuer):
    store, ana = catalyst_store, catalyst_store.member_id("ana")
    complete(store, ana, "hub-basics", HUB_BASICS)
    complete(store, ana, "sharing", SHARING, kind=LEAD)
    claimed, unclaimed, path = award_badges(store, issuer, ana, "andes", "en")
    row = claim_badge(store, issuer, ana, claimed, {"email": "ana@example.org"}, "en")
    held = json.loads(row.credential)  # the learner's download
    sb.revoke(store, unclaimed, "mistake", utcnow())
    assert len(export_member(store, ana)["tables"]["badges"]) == 3
    erase_member(store, ana)
    assert sb.member_badges(store, ana) == []
    with store.connect() as conn:
        assert conn.execute(select(t.badges).where(t.badges.c.hub == store.hub)).all() == []
        # the list keeps every index (never reused) and its revocation
        status = conn.execute(
            select(t.badge_status.c.status_index, t.badge_status.c.revoked.is_not(None))
            .where(t.badge_status.c.hub == store.hub)
            .order_by(t.badge_status.c.status_index)
        ).all()
    assert [revoked for _, revoked in status] == [False, True, False]
    # what the learner downloaded still verifies
    assert verify(store, issuer, held).verified
    # nothing is issued again for the erased member
    assert award_badges(store, issuer, ana, "andes", "en") == []


def test_no_badge_for_an_opted_out_member(catalyst_store, issuer):
    store, caro = catalyst_store, catalyst_store.member_id("caro")
    complete(store, caro, "hub-basics", HUB_BASICS)
    Ingestor(store).ingest_trusted(
        [
            (
                envelope(CONSENT, {"decision": "withdrawn", "notice_version": "1"}),
                Sender(member_id=caro, community="andes", kind=MEMBER),
            )
        ]
    )
    assert award_badges(store, issuer, caro, "andes", "en") == []
    assert sb.member_badges(store, caro) == []


def test_status_indexes_are_unique(catalyst_store, issuer):
    store = catalyst_store
    indexes = []
    for name in ("a1", "a2", "a3"):
        member = store.member_id(name)
        complete(store, member, "hub-basics", HUB_BASICS)
        award_badges(store, issuer, member, "andes", "en")
        indexes += [b.status_index for b in sb.member_badges(store, member)]
    assert indexes == [0, 1, 2]
