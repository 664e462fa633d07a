"""Credentials we issue verify; any change, a wrong key or a revoked status fails, saying why."""

from __future__ import annotations

import json
from datetime import datetime
from xml.etree import ElementTree

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from catalyst_hub.badges import credentials as cr
from catalyst_hub.badges.dataintegrity import sign
from catalyst_hub.badges.keys import Keyring, load_or_create_key

NOW = datetime(2026, 12, 3, 12, 0, 0)
ISSUER = cr.Issuer(
    id="https://hub.example.org/services/catalyst/badges/issuer",
    name="Andes Open Science Hub",
    url="https://andes.example.org",
    description="Training of the Andes hub",
)
LIST = "https://hub.example.org/services/catalyst/badges/status/1"
ACHIEVEMENT = cr.Achievement(
    id="https://hub.example.org/services/catalyst/badges/achievements/hub-basics",
    name="Hub basics",
    description="Works on the hub.",
    criteria="Completed every episode.",
)


class Issuing:
    def __init__(self, keys: Keyring) -> None:
        self.keys = keys
        self.revoked: set[int] = set()

    def badge(self, index: int = 7, identity=None) -> dict:
        unsigned = cr.open_badge(
            credential_id=f"https://hub.example.org/services/catalyst/badges/c/{index}",
            issuer=ISSUER,
            achievement=ACHIEVEMENT,
            valid_from=NOW,
            status_list_url=LIST,
            status_index=index,
            identity=identity,
        )
        return cr.issue(unsigned, self.keys, ISSUER, NOW)

    def status_lists(self, url: str):
        if url != LIST:
            return None
        unsigned = cr.status_list_credential(LIST, ISSUER, self.revoked, NOW)
        return cr.issue(unsigned, self.keys, ISSUER, NOW)

    def verify(self, credential) -> cr.Verification:
        return cr.verify(credential, ISSUER, self.keys, self.status_lists, NOW)


@pytest.fixture
def issuing() -> Issuing:
    return Issuing(Keyring(Ed25519PrivateKey.generate()))


def test_an_issued_badge_verifies(issuing):
    badge = issuing.badge(identity={"email": "Ana@Example.org"})
    result = issuing.verify(badge)
    assert result.verified, result
    assert result.checks == {"issuer": True, "signature": True, "validity": True, "status": True}
    assert badge["credentialSubject"]["type"] == ["AchievementSubject"]
    assert badge["credentialStatus"]["type"] == "BitstringStatusListEntry"
    identity = badge["credentialSubject"]["identifier"][0]
    assert cr.email_matches(identity, "ana@example.org")
    assert not cr.email_matches(identity, "someone@example.org")
    assert "ana" not in json.dumps(badge).lower()


def test_an_unclaimed_badge_says_nothing_about_the_learner(issuing):
    badge = issuing.badge()
    assert set(badge["credentialSubject"]) == {"type", "achievement"}
    assert issuing.verify(badge).verified


@pytest.mark.parametrize(
    "path, value",
    [
        (("name",), "Something else"),
        (("validFrom",), "2026-12-01T00:00:00Z"),
        (("issuer", "name"), "Another hub"),
        (("credentialSubject", "id"), "https://example.org/someone"),
        (("credentialSubject", "achievement", "name"), "Advanced"),
        (("credentialSubject", "achievement", "criteria", "narrative"), "Nothing"),
        (("credentialStatus", "statusListIndex"), "8"),
        (("proof", "created"), "2026-12-03T12:00:01Z"),
        (("id",), "https://hub.example.org/services/catalyst/badges/c/other"),
    ],
)
def test_any_signed_field_changed_fails(issuing, path, value):
    badge = issuing.badge()
    target = badge
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    result = issuing.verify(badge)
    assert not result.verified
    assert result.reason == "signature", result


def test_a_wrong_key_fails(issuing):
    other = Issuing(Keyring(Ed25519PrivateKey.generate()))
    forged = other.badge()  # names the same issuer, signed with another key
    result = issuing.verify(forged)
    assert (result.verified, result.reason) == (False, "unknown-key")
    # claiming our key's verification method, but signed with another key
    unsigned = {k: v for k, v in issuing.badge().items() if k != "proof"}
    method = issuing.keys.verification_method(ISSUER.id)
    forged = sign(unsigned, Ed25519PrivateKey.generate(), method, "2026-12-03T12:00:00Z")
    result = issuing.verify(forged)
    assert (result.verified, result.reason) == (False, "signature")


def test_a_revoked_badge_fails(issuing):
    badge, other = issuing.badge(index=42), issuing.badge(index=43)
    issuing.revoked.add(42)
    result = issuing.verify(badge)
    assert (result.verified, result.reason) == (False, "revoked")
    assert issuing.verify(other).verified


def test_another_issuer_and_shapes_fail(issuing):
    badge = issuing.badge()
    badge["issuer"]["id"] = "https://evil.example.org/issuer"
    assert issuing.verify(badge).reason == "issuer"
    assert issuing.verify([1, 2]).reason == "malformed"
    assert issuing.verify({"type": ["VerifiableCredential"]}).reason == "not-open-badge"
    no_proof = {k: v for k, v in issuing.badge().items() if k != "proof"}
    assert issuing.verify(no_proof).reason == "no-proof"


def test_key_rotation_keeps_old_badges_verifiable(issuing, tmp_path):
    old = issuing.badge()
    rotated = Issuing(Keyring(Ed25519PrivateKey.generate(), [issuing.keys.signing.public_key()]))
    rotated.revoked = issuing.revoked
    # the status list is now signed with the new key; the old badge still verifies
    assert rotated.verify(old).verified
    assert rotated.verify(rotated.badge()).verified
    assert not issuing.verify(rotated.badge()).verified


def test_key_file_is_private_and_stable(tmp_path):
    path = tmp_path / "keys" / "badge_key.pem"
    key = load_or_create_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(path).public_key() == key.public_key()


def test_status_list_bits():
    encoded = cr.encode_status_list([0, 9, cr.STATUS_LIST_SIZE - 1])
    bits = cr.decode_status_list(encoded)
    assert len(bits) == cr.STATUS_LIST_SIZE // 8
    assert bits[0] == 0x80 and bits[1] == 0x40
    assert [i for i in (0, 1, 9, 10, cr.STATUS_LIST_SIZE - 1) if cr.status_bit(bits, i)] == [
        0,
        9,
        cr.STATUS_LIST_SIZE - 1,
    ]


def test_baked_svg_carries_the_credential(issuing):
    badge = issuing.badge()
    text = json.dumps(badge)
    svg = cr.bake_svg(cr.badge_svg("Hub basics", "Andes", "Andes hub"), text)
    assert "<openbadges:credential><![CDATA[" in svg
    assert 'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in svg
    assert json.loads(cr.unbake_svg(svg)) == badge
    assert issuing.verify(json.loads(cr.unbake_svg(svg))).verified
    # well-formed XML: the element is where an XML reader finds it
    root = ElementTree.fromstring(svg)
    found = root.find("{https://purl.imsglobal.org/ob/v3p0}credential")
    assert found is not None and json.loads(found.text) == badge


def test_crafted_blank_node_graphs_are_refused_before_canonicalization(issuing):
    badge = issuing.badge()
    # a clique of blank nodes: cheap to send, costly to canonicalize
    badge["credentialSubject"]["achievement"]["related"] = [
        {"type": "Related", "related": [{"type": "Related"} for _ in range(6)]} for _ in range(6)
    ]
    result = issuing.verify(badge)
    assert (result.verified, result.reason) == (False, "too-complex")
