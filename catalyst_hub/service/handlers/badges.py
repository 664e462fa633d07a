"""Open Badges: the learner's badges (claim, downloads), the public issuer profile, status
list, achievements, verification, and revocation by a catalyst admin.

Public (no login): ``badges/issuer``, ``badges/status/1``, ``badges/achievements/<lesson>``
and a training path's ``badges/achievements/paths/<program>`` (and ``.svg``),
``badges/verify`` and a claimed badge's own page ``badges/<id>`` (its public verification
link). Everything under ``me/badges`` is the token owner's own.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from tornado import web

from ...badges import credentials as cr
from ...badges.issuer import BadgeIssuer
from ...catalog import Award, key_slug, localized, path_key
from ...store import Store
from ...store import badges as sb
from ...timeutil import isoformat, utcnow
from ...workflows.badges import ClaimError, claim_badge, member_badges, revoke_badge
from .. import scopes
from ..base import APIHandler, BaseHandler, check_json_limits
from ..pages import PageHandler

BADGE_ID = r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
#: the largest credential (or baked SVG) the verifier reads
MAX_VERIFY_BYTES = 256 * 1024


def reason_message(_: Any, reason: str | None) -> str:
    """Why a credential does not verify, in the reader's language."""
    messages = {
        None: _("This credential is valid: signed by this hub and not revoked."),
        "malformed": _("This is not a credential: a JSON object is expected."),
        "not-open-badge": _("This is not an Open Badges 3.0 credential."),
        "context": _(
            "The credential does not use the Verifiable Credentials 2.0 and Open Badges 3.0 contexts."
        ),
        "issuer": _("This credential was not issued by this hub."),
        "no-proof": _("The credential has no proof (signature)."),
        "cryptosuite": _("The proof is not an eddsa-rdfc-2022 Data Integrity proof."),
        "proof-purpose": _("The proof is not meant for issuing credentials."),
        "verification-method": _("The proof does not name a usable key."),
        "unknown-key": _("The credential was not signed with a key of this hub."),
        "proof-value": _("The signature is not well formed."),
        "canonicalization": _(
            "The credential uses terms or contexts that cannot be checked offline."
        ),
        "signature": _(
            "The signature does not match: the credential was changed after it was issued."
        ),
        "not-yet-valid": _("The credential is not valid yet."),
        "expired": _("The credential has expired."),
        "status": _("The credential's revocation status cannot be checked."),
        "revoked": _("The hub revoked this credential."),
        "too-complex": _(
            "The credential holds far more data than a badge does; it is not checked."
        ),
    }
    return messages.get(reason, messages["malformed"])


# -- for the service's pages and workflows ------------------------------------------------------


def verify_credential(store: Store, issuer: BadgeIssuer, credential: Any) -> cr.Verification:
    """Verify against this hub's issuer, keys and revocation list (blocking)."""
    now = utcnow()
    revoked = sb.revoked_indexes(store)

    def lists(url: str) -> dict | None:
        return issuer.status_list(revoked, now) if url == issuer.status_list_url else None

    return cr.verify(credential, issuer.issuer, issuer.keys, lists, now)


def summary(credential: Any) -> dict[str, Any] | None:
    """What a verification page shows of a credential: name, issuer, date, achievement."""
    if not isinstance(credential, dict):
        return None
    issuer = credential.get("issuer")
    subject = credential.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, dict) else None
    achievement = achievement if isinstance(achievement, dict) else {}
    criteria = achievement.get("criteria")
    return {
        "id": credential.get("id"),
        "name": credential.get("name"),
        "issuer": issuer.get("name") if isinstance(issuer, dict) else issuer,
        "validFrom": credential.get("validFrom"),
        "achievement": achievement.get("name"),
        # ``LearningProgram`` for a whole training path's badge
        "achievementType": achievement.get("achievementType"),
        "description": achievement.get("description"),
        "criteria": criteria.get("narrative") if isinstance(criteria, dict) else None,
    }


class BadgesMixin(BaseHandler):
    def issuer(self) -> BadgeIssuer:
        app = self.catalyst
        if app.badge_keys is None:
            raise web.HTTPError(404, self._("Badges are not enabled on this hub."))
        issuer = app.open_badges_issuer()
        if issuer is None:  # the log at start tells the operator what to set
            raise web.HTTPError(
                503, self._("This hub issues no badges until its operator sets its public address.")
            )
        return issuer


# -- the learner's own ------------------------------------------------------------------------


class ClaimHandler(BadgesMixin, PageHandler):
    """``me/badges/<id>/claim``: the form (GET), and the claim (POST): the identity the
    learner chose goes in their badge."""

    @web.authenticated
    async def get(self, badge_id: str) -> None:
        actor = self.require_actor()
        issuer = self.issuer()
        listed = await self.run_db(
            member_badges,
            self.store,
            issuer,
            actor.member_id,
            actor.community,
            self.language,
        )
        badge = next((b for b in listed if b["id"] == badge_id), None)
        if badge is None:
            raise web.HTTPError(404, self._("No such badge of yours."))
        self.page("badges/claim.html", badge=badge)

    @web.authenticated
    async def post(self, badge_id: str) -> None:
        actor = self.require_actor()
        issuer = self.issuer()
        choice = self.get_body_argument("identity", "")
        if choice == "email":
            email = self.get_body_argument("email", "").strip()
            if not cr.EMAIL.match(email) or len(email) > 254:
                raise web.HTTPError(400, self._("Give an email address, such as ana@example.org."))
            identity = {"email": email}
        elif choice == "url":
            url = self.get_body_argument("url", "").strip()
            if not cr.PROFILE_URL.match(url) or len(url) > 500:
                raise web.HTTPError(400, self._("Give a web address starting with https://."))
            identity = {"url": url}
        else:
            raise web.HTTPError(400, self._("Choose how the badge names you."))
        try:
            await self.run_db(
                claim_badge,
                self.store,
                issuer,
                actor.member_id,
                badge_id,
                identity,
                self.language,
            )
        except ClaimError:
            raise web.HTTPError(404, self._("No such badge of yours.")) from None
        self.back_to_me("badge-claimed", anchor=f"badge-{badge_id}")


class OwnBadgeHandler(BadgesMixin, PageHandler):
    async def own_claimed(self, badge_id: str) -> sb.BadgeRow:
        actor = self.require_actor()
        self.issuer()
        row = await self.run_db(sb.badge, self.store, badge_id)
        if row is None or row.member_id != actor.member_id:
            raise web.HTTPError(404, self._("No such badge of yours."))
        if row.claimed is None:
            raise web.HTTPError(409, self._("Claim this badge first: choose how it names you."))
        return row


class CredentialDownload(OwnBadgeHandler):
    """``GET me/badges/<id>/credential.json``: the signed credential."""

    @web.authenticated
    async def get(self, badge_id: str) -> None:
        row = await self.own_claimed(badge_id)
        self.set_header("Content-Type", "application/ld+json; charset=UTF-8")
        self.set_header(
            "Content-Disposition", f'attachment; filename="badge-{key_slug(row.lesson)}.json"'
        )
        self.finish(row.credential)


class BakedDownload(OwnBadgeHandler):
    """``GET me/badges/<id>/badge.svg``: the badge image with the credential baked in."""

    @web.authenticated
    async def get(self, badge_id: str) -> None:
        row = await self.own_claimed(badge_id)
        credential = json.loads(row.credential)
        achievement = credential["credentialSubject"]["achievement"]
        issuer = credential["issuer"]
        svg = cr.badge_svg(achievement["name"], credential.get("name", ""), issuer.get("name", ""))
        self.set_header("Content-Type", "image/svg+xml; charset=UTF-8")
        self.set_header(
            "Content-Disposition", f'attachment; filename="badge-{key_slug(row.lesson)}.svg"'
        )
        self.finish(cr.bake_svg(svg, row.credential))


# -- public ------------------------------------------------------------------------------------


class PublicJSON(BadgesMixin, APIHandler):
    """Public JSON-LD documents: no login, cacheable for a minute."""

    async def prepare(self) -> None:
        self.refuse_control_characters()

    def write_public(self, data: Any) -> None:
        self.set_header("Content-Type", "application/ld+json; charset=UTF-8")
        self.set_header("Cache-Control", "public, max-age=60")
        self.set_header("Access-Control-Allow-Origin", "*")
        self.finish(orjson.dumps(data))


class IssuerHandler(PublicJSON):
    """``GET badges/issuer``: the issuer Profile with its keys (Multikey)."""

    def get(self) -> None:
        self.write_public(self.issuer().issuer_document())


class StatusListHandler(PublicJSON):
    """``GET badges/status/1``: the signed BitstringStatusListCredential (revocations)."""

    async def get(self, list_id: str) -> None:
        issuer = self.issuer()
        revoked = await self.run_db(sb.revoked_indexes, self.store)
        self.write_public(issuer.status_list(revoked, utcnow()))


class AchievementHandler(PublicJSON):
    """``GET badges/achievements/<lesson>``: the Achievement a lesson's badge stands for."""

    def key(self, catalog_id: str) -> str:
        return catalog_id

    def achievement(self, catalog_id: str) -> tuple[BadgeIssuer, Award, cr.Achievement]:
        issuer = self.issuer()
        award = self.store.catalog.badges().get(self.key(catalog_id))
        if award is None:
            raise web.HTTPError(404, self._("No such achievement."))
        return issuer, award, issuer.achievement(award, self.language)

    def get(self, catalog_id: str) -> None:
        issuer, _award, achievement = self.achievement(catalog_id)
        self.write_public(
            {
                "@context": list(cr.CONTEXT),
                **achievement.to_json(),
                "creator": issuer.issuer.profile(),
            }
        )


class PathAchievementHandler(AchievementHandler):
    """``GET badges/achievements/paths/<program>``: the Achievement of a training path's badge."""

    def key(self, catalog_id: str) -> str:
        return path_key(catalog_id)


class AchievementImage(AchievementHandler):
    """``GET badges/achievements/<lesson>.svg``: the badge's image."""

    def get(self, catalog_id: str) -> None:
        issuer, award, achievement = self.achievement(catalog_id)
        self.set_header("Content-Type", "image/svg+xml; charset=UTF-8")
        self.set_header("Cache-Control", "public, max-age=3600")
        self.finish(
            cr.badge_svg(
                achievement.name, localized(award.title, self.language), issuer.issuer.name
            )
        )


class PathAchievementImage(PathAchievementHandler, AchievementImage):
    """``GET badges/achievements/paths/<program>.svg``: a training path's badge image."""


def parse_posted(handler: BaseHandler, body: bytes, content_type: str) -> Any:
    """The credential in a posted body: JSON, a baked SVG, or a form's ``credential`` field
    or ``file`` upload. Raises HTTPError 400 (JSON message) when there is none."""
    _ = handler._
    text: str | bytes = body
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        files = handler.request.files.get("file")
        text = files[0]["body"] if files else handler.get_body_argument("credential", "")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise web.HTTPError(400, _("Send the credential as UTF-8 text.")) from None
    text = text.strip()
    if not text:
        raise web.HTTPError(400, _("Send a credential: its JSON or the baked badge image (SVG)."))
    if text.startswith("<"):
        baked = cr.unbake_svg(text)
        if baked is None:
            raise web.HTTPError(400, _("This image carries no Open Badges credential."))
        text = baked
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise web.HTTPError(
            400, _("Request body is not valid JSON: {error}", error=str(e))
        ) from None
    check_json_limits(handler, data)
    return data


class VerifyAPI(PublicJSON):
    """``POST api/badges/verify``: verify a posted credential (JSON or baked SVG). 200 with
    ``verified`` and, if not, the ``reason`` and a message; 400 for input that is no credential."""

    async def post(self) -> None:
        self.check_body_size(MAX_VERIFY_BYTES)
        issuer = self.issuer()
        credential = parse_posted(
            self, self.request.body, self.request.headers.get("Content-Type", "")
        )
        result = await self.run_db(verify_credential, self.store, issuer, credential)
        self.set_header("Access-Control-Allow-Origin", "*")
        self.write_json(
            {
                **result.to_json(),
                "message": reason_message(self._, result.reason),
                "credential": summary(credential),
            }
        )


class VerifyPage(BadgesMixin, PageHandler):
    """``badges/verify``: paste or upload a credential and see whether it verifies."""

    async def prepare(self) -> None:
        # public, and its form works logged in or not: no login cookie is read
        self.refuse_control_characters()
        if self.request.method == "POST":
            self.check_body_size(MAX_VERIFY_BYTES)

    def get_current_user(self) -> None:
        return None

    def get(self) -> None:
        self.issuer()
        self.page("badges/verify.html", result=None, credential=None, error=None)

    async def post(self) -> None:
        issuer = self.issuer()
        try:
            credential = parse_posted(
                self, self.request.body, self.request.headers.get("Content-Type", "")
            )
        except web.HTTPError as e:
            self.page(
                "badges/verify.html",
                http_status=400,
                result=None,
                credential=None,
                error=e.log_message,
            )
            return
        result = await self.run_db(verify_credential, self.store, issuer, credential)
        self.page(
            "badges/verify.html",
            result=result,
            message=reason_message(self._, result.reason),
            credential=summary(credential),
            error=None,
        )


class PublicBadgePage(BadgesMixin, PageHandler):
    """``badges/<id>``: a claimed badge, its verification, and its credential (``?format=json``).
    Its address is the credential's id: the learner's public verification link."""

    async def get(self, badge_id: str) -> None:
        issuer = self.issuer()
        row = await self.run_db(sb.badge, self.store, badge_id)
        if row is None or row.claimed is None:
            raise web.HTTPError(404, self._("No such badge."))
        credential = json.loads(row.credential)
        if self.get_query_argument("format", "") == "json":
            self.set_header("Content-Type", "application/ld+json; charset=UTF-8")
            self.set_header("Access-Control-Allow-Origin", "*")
            self.finish(row.credential)
            return
        result = await self.run_db(verify_credential, self.store, issuer, credential)
        admin = self.current_user is not None and self.communities(scopes.ADMIN) is scopes.ALL
        self.page(
            "badges/badge.html",
            badge_id=badge_id,
            result=result,
            message=reason_message(self._, result.reason),
            credential=summary(credential),
            revoked=isoformat(row.revoked),
            can_revoke=admin and row.revoked is None,
        )


class RevokeHandler(BadgesMixin, APIHandler):
    """``POST api/badges/<id>/revoke`` (catalyst admins): revoke a badge, e.g. a mistaken
    sign-off; a lesson's takes with it the learner's badges of the paths that need the lesson
    (``also_revoked``). JSON ``{"reason": ...}`` or a form (with ``_xsrf``); a form goes back
    to the badge's page."""

    async def post(self, badge_id: str) -> None:
        self.require_actor()
        self.require_scope(scopes.ADMIN)
        self.issuer()
        self.check_body_size()
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            data = self.json_body()
            reason = data.get("reason", "") if isinstance(data, dict) else None
        else:
            reason = self.get_body_argument("reason", "")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 255:
            raise web.HTTPError(
                400, self._("Say why the badge is revoked (at most 255 characters).")
            )
        row, also = await self.run_db(revoke_badge, self.store, badge_id, reason.strip(), utcnow())
        if row is None:
            raise web.HTTPError(404, self._("No such badge."))
        self.log.info(
            "revoked badge %s (status index %d)%s",
            badge_id,
            row.status_index,
            f" and the path badges {', '.join(also)}" if also else "",
        )
        if not content_type.startswith("application/json"):
            self.redirect(self.issuer().credential_id(badge_id), status=303)
            return
        self.write_json(
            {
                "id": badge_id,
                "revoked": isoformat(row.revoked),
                "reason": row.reason,
                "also_revoked": also,
            }
        )


default_handlers: list[tuple] = [
    (rf"me/badges/{BADGE_ID}/claim", ClaimHandler),
    (rf"me/badges/{BADGE_ID}/credential\.json", CredentialDownload),
    (rf"me/badges/{BADGE_ID}/badge\.svg", BakedDownload),
    (r"badges/issuer", IssuerHandler),
    (r"badges/status/(1)", StatusListHandler),
    (r"badges/achievements/paths/([A-Za-z0-9_.-]+)\.svg", PathAchievementImage),
    (r"badges/achievements/paths/([A-Za-z0-9_.-]+)", PathAchievementHandler),
    (r"badges/achievements/([A-Za-z0-9_.-]+)\.svg", AchievementImage),
    (r"badges/achievements/([A-Za-z0-9_.-]+)", AchievementHandler),
    (r"badges/verify", VerifyPage),
    (r"api/badges/verify", VerifyAPI),
    (rf"api/badges/{BADGE_ID}/revoke", RevokeHandler),
    (rf"badges/{BADGE_ID}", PublicBadgePage),
]
