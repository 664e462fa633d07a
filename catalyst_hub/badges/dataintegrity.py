"""Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite (W3C vc-di-eddsa).

Signing, as the specification gives it: the proof options (with the document's ``@context``)
and the document without its proof are each canonicalized with RDFC-1.0 (URDNA2015) and hashed
with SHA-256; the signature is Ed25519 over the proof-options hash followed by the document
hash, and ``proofValue`` is that signature in multibase base58btc (``z...``).

Canonicalization is pyld's (with only bundled contexts, :mod:`.contexts`), signatures are the
``cryptography`` package's Ed25519.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyld import jsonld

from .contexts import bundled_loader

CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_TYPE = "DataIntegrityProof"
#: multicodec prefix of an Ed25519 public key (0xed, varint-encoded)
ED25519_PUB_PREFIX = b"\xed\x01"


class ProofError(ValueError):
    """A proof that cannot be checked or does not hold; ``reason`` is a short stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def canonicalize(document: dict[str, Any]) -> str:
    """RDFC-1.0 (URDNA2015) canonical N-Quads of a JSON-LD document, bundled contexts only."""
    try:
        return jsonld.normalize(
            document,
            {
                "algorithm": "URDNA2015",
                "format": "application/n-quads",
                "documentLoader": bundled_loader,
            },
        )
    except jsonld.JsonLdError as e:
        raise ProofError("canonicalization", f"cannot canonicalize: {e.args[0]}") from e


def multibase_encode(data: bytes) -> str:
    """Multibase base58btc: ``z`` followed by the base58 (Bitcoin alphabet) of ``data``."""
    return "z" + base58.b58encode(data).decode("ascii")


def multibase_decode(text: Any) -> bytes:
    if not isinstance(text, str) or not text.startswith("z"):
        raise ProofError("proof-value", "not a multibase base58btc value")
    try:
        return base58.b58decode(text[1:])
    except ValueError as e:
        raise ProofError("proof-value", "not a multibase base58btc value") from e


def public_key_multibase(key: Ed25519PublicKey) -> str:
    """The Multikey form of an Ed25519 public key (``z6Mk...``)."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return multibase_encode(ED25519_PUB_PREFIX + raw)


def public_key_from_multibase(text: str) -> Ed25519PublicKey:
    data = multibase_decode(text)
    if len(data) != 34 or not data.startswith(ED25519_PUB_PREFIX):
        raise ProofError("verification-method", "not an Ed25519 Multikey")
    return Ed25519PublicKey.from_public_bytes(data[2:])


def did_key(key: Ed25519PublicKey) -> str:
    """The ``did:key`` verification method of ``key`` (``did:key:z6Mk...#z6Mk...``)."""
    mb = public_key_multibase(key)
    return f"did:key:{mb}#{mb}"


def resolve_did_key(verification_method: str) -> Ed25519PublicKey | None:
    """The key a ``did:key`` verification method names, or None for other methods."""
    if not verification_method.startswith("did:key:"):
        return None
    did, _, fragment = verification_method[len("did:key:") :].partition("#")
    if fragment and fragment != did:
        raise ProofError("verification-method", "did:key fragment differs from the key")
    return public_key_from_multibase(did)


@dataclass(frozen=True)
class Hashes:
    proof_canonical: str
    document_canonical: str
    proof_hash: bytes
    document_hash: bytes

    @property
    def data(self) -> bytes:
        """What is signed: the proof-configuration hash, then the document hash."""
        return self.proof_hash + self.document_hash


def _proof_config(document: dict[str, Any], proof: dict[str, Any]) -> dict[str, Any]:
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = document["@context"]
    return config


def hash_data(document: dict[str, Any], proof: dict[str, Any]) -> Hashes:
    """The canonical forms and hashes of ``document`` (its proof left out) and ``proof``."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    proof_canonical = canonicalize(_proof_config(unsecured, proof))
    document_canonical = canonicalize(unsecured)
    return Hashes(
        proof_canonical,
        document_canonical,
        hashlib.sha256(proof_canonical.encode("utf-8")).digest(),
        hashlib.sha256(document_canonical.encode("utf-8")).digest(),
    )


def sign(
    document: dict[str, Any],
    key: Ed25519PrivateKey,
    verification_method: str,
    created: str,
    proof_purpose: str = "assertionMethod",
) -> dict[str, Any]:
    """A copy of ``document`` with an ``eddsa-rdfc-2022`` proof made with ``key``."""
    if "@context" not in document:
        raise ProofError("malformed", "a credential needs an @context")
    unsecured = {k: copy.deepcopy(v) for k, v in document.items() if k != "proof"}
    proof = {
        "type": PROOF_TYPE,
        "created": created,
        "verificationMethod": verification_method,
        "cryptosuite": CRYPTOSUITE,
        "proofPurpose": proof_purpose,
    }
    hashes = hash_data(unsecured, proof)
    proof["proofValue"] = multibase_encode(key.sign(hashes.data))
    return {**unsecured, "proof": proof}


KeyResolver = Callable[[str], Ed25519PublicKey | None]


def verify_proof(document: dict[str, Any], resolve: KeyResolver) -> dict[str, Any]:
    """Check the ``eddsa-rdfc-2022`` proof of ``document``; ``resolve`` gives the public key
    of a verification method (None: unknown). Returns the proof; raises :class:`ProofError`
    with the reason otherwise."""
    if not isinstance(document, dict) or "@context" not in document:
        raise ProofError("malformed", "not a JSON-LD credential")
    proof = document.get("proof")
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    if not isinstance(proof, dict):
        raise ProofError("no-proof", "the credential has no single proof")
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError("cryptosuite", f"only {PROOF_TYPE} with {CRYPTOSUITE} is supported")
    if proof.get("proofPurpose") != "assertionMethod":
        raise ProofError("proof-purpose", "the proof is not for assertionMethod")
    method = proof.get("verificationMethod")
    if not isinstance(method, str) or not method:
        raise ProofError("verification-method", "the proof names no verification method")
    key = resolve(method)
    if key is None:
        raise ProofError("unknown-key", "the verification method is not a key of this issuer")
    signature = multibase_decode(proof.get("proofValue"))
    if len(signature) != 64:
        raise ProofError("proof-value", "an Ed25519 signature is 64 bytes")
    hashes = hash_data(document, proof)
    try:
        key.verify(signature, hashes.data)
    except InvalidSignature as e:
        raise ProofError("signature", "the signature does not match the credential") from e
    return proof
