"""The deployment as an issuer: its profile, keys and the addresses of what it serves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..catalog import Award, localized
from .credentials import Achievement, Issuer, issue, status_list_credential
from .keys import Keyring

#: the one status list of a hub (131,072 badges)
STATUS_LIST = "1"
#: OB 3.0's ``achievementType`` of a whole training path's badge
PATH_ACHIEVEMENT_TYPE = "LearningProgram"


@dataclass(frozen=True)
class BadgeIssuer:
    """Everything a badge needs besides the learner: ``base_url`` is the service's public URL
    with its prefix (``https://hub.example.org/services/catalyst/``)."""

    base_url: str
    profile: dict[str, Any]
    keys: Keyring

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path

    @property
    def issuer(self) -> Issuer:
        p = self.profile
        return Issuer(
            id=self.url("badges/issuer"),
            name=str(p.get("name") or "catalyst_hub"),
            url=p.get("url") or None,
            description=p.get("description") or None,
            image=p.get("image") or None,
            email=p.get("email") or None,
        )

    @property
    def status_list_url(self) -> str:
        return self.url(f"badges/status/{STATUS_LIST}")

    def credential_id(self, badge_id: str) -> str:
        return self.url(f"badges/{badge_id}")

    def achievement_url(self, award: Award) -> str:
        """The Achievement's id: ``badges/achievements/<lesson>`` for a lesson's badge,
        ``badges/achievements/paths/<program>`` for a training path's."""
        if award.is_path:
            return self.url(f"badges/achievements/paths/{award.catalog_id}")
        return self.url(f"badges/achievements/{award.catalog_id}")

    def achievement(self, award: Award, language: str) -> Achievement:
        badge, url = award.badge, self.achievement_url(award)
        return Achievement(
            id=url,
            name=localized(badge.name, language),
            description=localized(badge.description, language),
            criteria=localized(badge.criteria, language),
            image=badge.image or f"{url}.svg",
            language=language,
            achievement_type=PATH_ACHIEVEMENT_TYPE if award.is_path else None,
        )

    def issuer_document(self) -> dict[str, Any]:
        """The issuer ``Profile`` served at its id, with every key it signs or signed with."""
        issuer = self.issuer
        methods = [
            {
                "id": self.keys.verification_method(issuer.id, multikey),
                "type": "Multikey",
                "controller": issuer.id,
                "publicKeyMultibase": multikey,
            }
            for multikey in self.keys.public
        ]
        return {
            "@context": [
                "https://www.w3.org/ns/credentials/v2",
                "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
                "https://w3id.org/security/multikey/v1",
            ],
            **issuer.profile(),
            "verificationMethod": methods,
            "assertionMethod": [m["id"] for m in methods],
        }

    def status_list(self, revoked: list[int], now: datetime) -> dict[str, Any]:
        unsigned = status_list_credential(self.status_list_url, self.issuer, revoked, now)
        return issue(unsigned, self.keys, self.issuer, now)
