"""Pseudonymous member ids: a keyed hash of hub and username.

The secret belongs to the deployment (a file created on first start). Without it a member id
cannot be linked back to a username; the identity table is the one place that can, so erasing
a person is deleting their identity row and their events.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .private_files import PRIVATE_FILE, make_private_dir, restrict


def member_id(secret: bytes, hub: str, username: str) -> str:
    """32 hex characters (128 bits) of HMAC-SHA256 over hub and username."""
    message = hub.encode("utf-8") + b"\x00" + username.encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def keyed_uuid(secret: bytes, *parts: str) -> str:
    """A deterministic UUID of ``parts`` keyed with the deployment's secret (HMAC-SHA256).

    For ids derived from what they describe (the collector's events), so a re-poll gives the
    same id, while nobody without the secret can test a guessed username against them.
    """
    message = b"\x00".join(part.encode("utf-8") for part in ("catalyst-id", *parts))
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    # RFC 9562 version 8 (custom; uuid.UUID takes version=8 from Python 3.14 only), so it
    # never reads as a uuid5 of a published namespace
    raw = bytearray(digest[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))


def load_or_create_secret(path: str | Path) -> bytes:
    """Read the pseudonymization secret, creating it (mode 0600) if the file is missing."""
    path = Path(path)
    if not path.exists():
        make_private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    restrict(path)
    text = path.read_text().strip()
    if len(text) < 32:
        raise ValueError(f"pseudonymization secret in {path} is too short (need 32+ characters)")
    return text.encode("utf-8")


@dataclass
class Actor:
    """Who sent a request, resolved from JupyterHub. ``username`` never leaves this object
    except into the identity table."""

    username: str
    kind: str
    member_id: str
    community: str
    scopes: set[str] = field(default_factory=set)
    groups: list[str] = field(default_factory=list)
    admin: bool = False
