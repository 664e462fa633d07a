"""Open Badges 3.0 credentials: what we issue, the revocation list, baking, verification.

Pure functions over JSON-ready dicts: the service gives them its issuer profile, keys and the
revoked status indexes; nothing here reads the database or the network.

- An ``OpenBadgeCredential`` (VC 2.0 + OB 3.0.3 contexts) whose ``credentialSubject`` is an
  ``AchievementSubject`` with the ``Achievement``. Until the learner claims it, the subject
  says nothing about them; at claim it carries what they chose: a salted, hashed email
  (``IdentityObject``) or a profile URL (``id``).
- ``credentialStatus``: a ``BitstringStatusListEntry`` (purpose ``revocation``) into the
  issuer's ``BitstringStatusListCredential`` (W3C Bitstring Status List v1.0: a GZIP-ed
  bitstring of at least 131,072 entries, multibase base64url, the first index the most
  significant bit of the first byte).
- Baking (OB 3.0 §5.3): an SVG with the signed credential in an ``<openbadges:credential>``
  element.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from xml.sax.saxutils import escape

from .contexts import OB_V3, VC_V2
from .dataintegrity import ProofError, sign, verify_proof
from .keys import Keyring

CONTEXT = [VC_V2, OB_V3]
#: entries of one status list (the specification's minimum, 16 KiB)
STATUS_LIST_SIZE = 131072
OB_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"


def timestamp(when: datetime) -> str:
    """XML Schema dateTime in UTC, whole seconds (``2026-12-03T14:00:00Z``)."""
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when.replace(microsecond=0).isoformat() + "Z"


@dataclass(frozen=True)
class Issuer:
    """The issuer ``Profile``: its id is the URL that serves it, with its keys."""

    id: str
    name: str
    url: str | None = None
    description: str | None = None
    image: str | None = None
    email: str | None = None

    def profile(self) -> dict[str, Any]:
        profile: dict[str, Any] = {"id": self.id, "type": ["Profile"], "name": self.name}
        if self.url:
            profile["url"] = self.url
        if self.description:
            profile["description"] = self.description
        if self.image:
            profile["image"] = {"id": self.image, "type": "Image"}
        if self.email:
            profile["email"] = self.email
        return profile


@dataclass(frozen=True)
class Achievement:
    id: str
    name: str
    description: str
    criteria: str
    image: str | None = None
    language: str = "en"
    #: OB 3.0's ``achievementType`` (``LearningProgram`` for a whole training path)
    achievement_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        achievement: dict[str, Any] = {
            "id": self.id,
            "type": ["Achievement"],
        }
        if self.achievement_type:
            achievement["achievementType"] = self.achievement_type
        achievement |= {
            "name": self.name,
            "description": self.description,
            "criteria": {"narrative": self.criteria},
            "inLanguage": self.language,
        }
        if self.image:
            achievement["image"] = {"id": self.image, "type": "Image"}
        return achievement


def email_identity(email: str, salt: str | None = None) -> dict[str, Any]:
    """An OB 3.0 ``IdentityObject`` of a salted SHA-256 hash of ``email`` (lower-cased)."""
    salt = salt if salt is not None else secrets.token_hex(16)
    digest = hashlib.sha256((email.strip().lower() + salt).encode("utf-8")).hexdigest()
    return {
        "type": "IdentityObject",
        "identityHash": f"sha256${digest}",
        "identityType": "emailAddress",
        "hashed": True,
        "salt": salt,
    }


def email_matches(identity: dict[str, Any], email: str) -> bool:
    """Whether a hashed email ``IdentityObject`` names ``email`` (a relying party's check)."""
    expected = email_identity(email, identity.get("salt", ""))["identityHash"]
    return secrets.compare_digest(str(identity.get("identityHash", "")), expected)


EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
PROFILE_URL = re.compile(r"^https?://[^\s<>\"]+$")


def subject(achievement: Achievement, identity: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``AchievementSubject``: ``identity`` is ``{"email": ...}``, ``{"url": ...}`` or None
    (unclaimed: nothing about the learner)."""
    result: dict[str, Any] = {"type": ["AchievementSubject"]}
    if identity and identity.get("url"):
        result["id"] = identity["url"]
    elif identity and identity.get("email"):
        result["identifier"] = [email_identity(identity["email"], identity.get("salt"))]
    result["achievement"] = achievement.to_json()
    return result


def status_entry(list_url: str, index: int) -> dict[str, Any]:
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def open_badge(
    *,
    credential_id: str,
    issuer: Issuer,
    achievement: Achievement,
    valid_from: datetime,
    status_list_url: str,
    status_index: int,
    identity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An unsigned ``OpenBadgeCredential``."""
    return {
        "@context": list(CONTEXT),
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer.profile(),
        "validFrom": timestamp(valid_from),
        "name": achievement.name,
        "credentialSubject": subject(achievement, identity),
        "credentialStatus": status_entry(status_list_url, status_index),
    }


def issue(credential: dict[str, Any], keys: Keyring, issuer: Issuer, now: datetime) -> dict:
    """``credential`` signed with the issuer's current key."""
    return sign(credential, keys.signing, keys.verification_method(issuer.id), timestamp(now))


# -- Bitstring Status List ---------------------------------------------------------------------


def encode_status_list(indexes: Iterable[int], size: int = STATUS_LIST_SIZE) -> str:
    bits = bytearray(size // 8)
    for index in indexes:
        if not 0 <= index < size:
            raise ValueError(f"status index {index} outside the list")
        bits[index // 8] |= 0x80 >> (index % 8)
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).decode("ascii").rstrip("=")


def decode_status_list(encoded: str) -> bytes:
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError("encodedList is not multibase base64url")
    data = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


def status_bit(bits: bytes, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise ValueError("status index outside the list")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def status_list_credential(
    list_url: str, issuer: Issuer, revoked: Iterable[int], now: datetime
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` of the revoked indexes."""
    return {
        "@context": [VC_V2],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer.id,
        "validFrom": timestamp(now),
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode_status_list(revoked),
        },
    }


# -- baking --------------------------------------------------------------------------------------


def bake_svg(svg: str, credential_json: str) -> str:
    """``svg`` with the credential in ``<openbadges:credential>`` (OB 3.0 §5.3.2)."""
    match = re.search(r"<svg\b[^>]*>", svg)
    if match is None:
        raise ValueError("not an SVG image")
    tag = match.group(0)
    if "xmlns:openbadges" not in tag:
        tag = tag[:-1] + f' xmlns:openbadges="{OB_NAMESPACE}">'
    # CDATA keeps the JSON byte for byte (it cannot contain "]]>": JSON escapes nothing so)
    body = credential_json.replace("]]>", "]]]]><![CDATA[>")
    element = f"<openbadges:credential><![CDATA[{body}]]></openbadges:credential>"
    return svg[: match.start()] + tag + element + svg[match.end() :]


def unbake_svg(svg: str) -> str | None:
    """The credential JSON baked in an SVG, or None."""
    match = re.search(
        r"<openbadges:credential[^>]*>\s*<!\[CDATA\[(.*?)\]\]>\s*</openbadges:credential>",
        svg,
        re.S,
    )
    return match.group(1).replace("]]]]><![CDATA[>", "]]>") if match else None


def badge_svg(title: str, subtitle: str, issuer_name: str) -> str:
    """The default badge image: a medal with the achievement's name."""
    t, s, i = escape(title[:40]), escape(subtitle[:60]), escape(issuer_name[:50])
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="280" '
        'viewBox="0 0 240 280" role="img" aria-label="' + t + '">'
        '<path d="M80 180 L60 270 L95 250 L120 275 L120 190 Z" fill="#1c6e8c"/>'
        '<path d="M160 180 L180 270 L145 250 L120 275 L120 190 Z" fill="#155a73"/>'
        '<circle cx="120" cy="110" r="95" fill="#f2b33d" stroke="#a86f00" stroke-width="6"/>'
        '<circle cx="120" cy="110" r="75" fill="#fff7e0"/>'
        f'<text x="120" y="100" font-family="sans-serif" font-size="17" font-weight="bold" '
        f'text-anchor="middle" fill="#3b2b00">{t}</text>'
        f'<text x="120" y="125" font-family="sans-serif" font-size="10" text-anchor="middle" '
        f'fill="#3b2b00">{s}</text>'
        f'<text x="120" y="145" font-family="sans-serif" font-size="9" text-anchor="middle" '
        f'fill="#6b5a2e">{i}</text>'
        "</svg>"
    )


# -- verification ---------------------------------------------------------------------------------


@dataclass
class Verification:
    """The outcome: ``verified`` or the ``reason`` it is not (a stable code)."""

    verified: bool
    reason: str | None = None
    detail: str = ""
    checks: dict[str, bool] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "reason": self.reason,
            "detail": self.detail,
            "checks": self.checks,
        }


#: the most JSON objects, and objects without an ``id`` (blank nodes), a credential to verify
#: may hold: RDF canonicalization can take exponential time on crafted blank-node graphs, and
#: a badge holds a handful of each
MAX_OBJECTS = 200
MAX_BLANK_NODES = 24


def too_complex(document: Any) -> bool:
    """Whether ``document`` has more objects (or blank nodes) than any badge has."""
    objects = blank = 0
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            objects += 1
            blank += "id" not in node and "@id" not in node and "@value" not in node
            if objects > MAX_OBJECTS or blank > MAX_BLANK_NODES:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


StatusLists = Callable[[str], dict[str, Any] | None]


def verify(
    credential: Any,
    issuer: Issuer,
    keys: Keyring,
    status_lists: StatusLists,
    now: datetime,
) -> Verification:
    """Verify an ``OpenBadgeCredential`` of ``issuer``: shape, issuer, proof, validity period
    and revocation status (``status_lists`` gives a status list credential by URL)."""
    checks: dict[str, bool] = {}

    def fail(reason: str, detail: str) -> Verification:
        checks.setdefault(reason, False)
        return Verification(False, reason, detail, checks)

    if not isinstance(credential, dict):
        return fail("malformed", "a credential is a JSON object")
    types = credential.get("type")
    types = [types] if isinstance(types, str) else types
    if (
        not isinstance(types, list)
        or "VerifiableCredential" not in types
        or not ({"OpenBadgeCredential", "AchievementCredential"} & set(types))
    ):
        return fail("not-open-badge", "not an OpenBadgeCredential")
    context = credential.get("@context")
    if not isinstance(context, list) or context[:1] != [VC_V2] or OB_V3 not in context:
        return fail("context", "the credential does not use the VC 2.0 and OB 3.0 contexts")
    issuer_field = credential.get("issuer")
    issuer_id = issuer_field.get("id") if isinstance(issuer_field, dict) else issuer_field
    if issuer_id != issuer.id:
        return fail("issuer", "the credential was not issued by this issuer")
    checks["issuer"] = True
    if too_complex(credential):
        return fail("too-complex", "the credential holds more objects than a badge has")
    try:
        verify_proof(credential, lambda method: keys.resolve(issuer.id, method))
    except ProofError as e:
        return fail(e.reason, str(e))
    checks["signature"] = True
    stamp = timestamp(now)
    valid_from, valid_until = credential.get("validFrom"), credential.get("validUntil")
    if not isinstance(valid_from, str) or valid_from > stamp:
        return fail("not-yet-valid", "the credential is not valid yet")
    if isinstance(valid_until, str) and valid_until < stamp:
        return fail("expired", "the credential has expired")
    checks["validity"] = True
    status = credential.get("credentialStatus")
    if status is not None:
        result = _check_status(status, issuer, keys, status_lists)
        if result is not None:
            return fail(*result)
        checks["status"] = True
    return Verification(True, None, "", checks)


def _check_status(
    status: Any, issuer: Issuer, keys: Keyring, status_lists: StatusLists
) -> tuple[str, str] | None:
    entries = status if isinstance(status, list) else [status]
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("type") != "BitstringStatusListEntry":
            return "status", "unsupported credentialStatus"
        if entry.get("statusPurpose") != "revocation":
            continue
        url = entry.get("statusListCredential")
        try:
            index = int(str(entry.get("statusListIndex")))
        except (TypeError, ValueError):
            return "status", "statusListIndex is not a number"
        listed = status_lists(url) if isinstance(url, str) else None
        if listed is None:
            return "status", "the status list cannot be found"
        try:
            verify_proof(listed, lambda method: keys.resolve(issuer.id, method))
        except ProofError as e:
            return "status", f"the status list does not verify: {e}"
        if listed.get("issuer") != issuer.id:
            return "status", "the status list is not this issuer's"
        try:
            bits = decode_status_list(listed["credentialSubject"]["encodedList"])
            revoked = status_bit(bits, index)
        except (KeyError, TypeError, ValueError, OSError):
            return "status", "the status list cannot be read"
        if revoked:
            return "revoked", "the issuer has revoked this credential"
    return None
