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
from dataclasses import dataclass, field
from pathlib import Path

from .private_files import PRIVATE_FILE, make_private_dir, restrict


def member_id(secret: bytes, hub: str, username: str) -> str:
    """32 hex characters (128 bits) of HMAC-SHA256 over hub and username."""
    message = hub.encode("utf-8") + b"\x00" + username.encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


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
