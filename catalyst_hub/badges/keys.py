"""The issuer's Ed25519 keys: one signs, earlier ones still verify (key rotation).

The signing key is a PEM (PKCS #8) file created with mode 0600 on first start, kept like the
pseudonymization secret. After a rotation (a new ``badge_key_file``, the old one named in
``badge_retired_key_files``) badges signed earlier keep verifying.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from ..private_files import PRIVATE_FILE, make_private_dir, restrict
from .dataintegrity import public_key_multibase


def load_or_create_key(path: str | Path) -> Ed25519PrivateKey:
    """Read the Ed25519 signing key, creating it (mode 0600) if the file is missing."""
    path = Path(path)
    if not path.exists():
        make_private_dir(path.parent)
        pem = Ed25519PrivateKey.generate().private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        except FileExistsError:  # made meanwhile by another process
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
    restrict(path)
    return load_key(path)


def load_key(path: str | Path) -> Ed25519PrivateKey:
    key = load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


class Keyring:
    """The issuer's signing key and every key it verifies with, by Multikey."""

    def __init__(self, signing: Ed25519PrivateKey, retired: Iterable[Ed25519PublicKey] = ()):
        self.signing = signing
        self.public: dict[str, Ed25519PublicKey] = {}
        for key in [signing.public_key(), *retired]:
            self.public[public_key_multibase(key)] = key

    @property
    def current(self) -> str:
        """The Multikey (``z6Mk...``) of the signing key."""
        return public_key_multibase(self.signing.public_key())

    def verification_method(self, issuer_id: str, multikey: str | None = None) -> str:
        return f"{issuer_id}#{multikey or self.current}"

    def resolve(self, issuer_id: str, method: str) -> Ed25519PublicKey | None:
        """The key of ``method`` when it is one of this issuer's (``<issuer id>#<multikey>``)."""
        prefix = issuer_id + "#"
        if not method.startswith(prefix):
            return None
        return self.public.get(method[len(prefix) :])
