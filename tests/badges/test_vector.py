"""The 1EdTech Open Badges 3.0 ``eddsa-rdfc-2022`` test vector, reproduced exactly."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from catalyst_hub.badges import dataintegrity as di
from catalyst_hub.badges.contexts import bundled_loader

VECTOR = json.loads((Path(__file__).parent / "data" / "ob3-eddsa-rdfc-2022.json").read_text())


def vector_key() -> Ed25519PrivateKey:
    secret = bytes.fromhex(VECTOR["secretKeyHex"])
    return Ed25519PrivateKey.from_private_bytes(secret[:32])


def resolver(method: str):
    if method == VECTOR["proofOptions"]["verificationMethod"]:
        return vector_key().public_key()
    return None


def test_key_pair_and_multikey():
    public = vector_key().public_key()
    assert di.public_key_multibase(public) == VECTOR["publicKeyMultibase"]
    assert bytes.fromhex(VECTOR["secretKeyHex"])[32:].hex() == VECTOR["publicKeyHex"]
    assert di.public_key_from_multibase(VECTOR["publicKeyMultibase"]) == public


def test_canonical_forms_and_hashes():
    hashes = di.hash_data(VECTOR["credential"], VECTOR["proofOptions"])
    assert hashes.proof_canonical == VECTOR["proofCanonical"]
    assert hashes.document_canonical == VECTOR["documentCanonical"]
    assert hashes.proof_hash.hex() == VECTOR["proofHashHex"]
    assert hashes.document_hash.hex() == VECTOR["documentHashHex"]


def test_signature_and_proof_value():
    options = VECTOR["proofOptions"]
    signed = di.sign(
        VECTOR["credential"], vector_key(), options["verificationMethod"], options["created"]
    )
    proof = signed["proof"]
    assert proof["proofValue"] == VECTOR["proofValue"]
    assert di.multibase_decode(proof["proofValue"]).hex() == VECTOR["signatureHex"]
    assert {k: v for k, v in proof.items() if k != "proofValue"} == options
    assert {k: v for k, v in signed.items() if k != "proof"} == VECTOR["credential"]


def test_verifier_accepts_the_vector():
    signed = copy.deepcopy(VECTOR["credential"])
    signed["proof"] = {**VECTOR["proofOptions"], "proofValue": VECTOR["proofValue"]}
    assert di.verify_proof(signed, resolver)["proofValue"] == VECTOR["proofValue"]


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.__setitem__("name", "Teamwork Badges"),
        lambda c: c.__setitem__("validFrom", "2010-01-02T00:00:00Z"),
        lambda c: c["issuer"].__setitem__("name", "Other Corp"),
        lambda c: c["credentialSubject"].__setitem__("id", "did:example:someone-else"),
        lambda c: c["credentialSubject"]["achievement"].__setitem__("name", "Leadership"),
        lambda c: c["proof"].__setitem__("created", "2010-01-01T19:23:25Z"),
    ],
)
def test_a_changed_field_fails(change):
    signed = copy.deepcopy(VECTOR["credential"])
    signed["proof"] = {**VECTOR["proofOptions"], "proofValue": VECTOR["proofValue"]}
    change(signed)
    with pytest.raises(di.ProofError) as e:
        di.verify_proof(signed, resolver)
    assert e.value.reason == "signature"


def test_wrong_key_fails():
    signed = copy.deepcopy(VECTOR["credential"])
    signed["proof"] = {**VECTOR["proofOptions"], "proofValue": VECTOR["proofValue"]}
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(di.ProofError) as e:
        di.verify_proof(signed, lambda m: other)
    assert e.value.reason == "signature"
    with pytest.raises(di.ProofError) as e:
        di.verify_proof(signed, lambda m: None)
    assert e.value.reason == "unknown-key"


def test_did_key_round_trip():
    key = Ed25519PrivateKey.generate()
    method = di.did_key(key.public_key())
    signed = di.sign(VECTOR["credential"], key, method, "2026-01-01T00:00:00Z")
    di.verify_proof(signed, di.resolve_did_key)


def test_contexts_are_never_fetched():
    with pytest.raises(Exception, match="not bundled"):
        bundled_loader("https://example.org/evil-context.json", {})
    doc = {
        **VECTOR["credential"],
        "@context": [*VECTOR["credential"]["@context"], "https://example.org/x"],
    }
    with pytest.raises(di.ProofError) as e:
        di.canonicalize(doc)
    assert e.value.reason == "canonicalization"
