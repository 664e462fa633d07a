"""Server-rendered pages of the service: a researcher's own page, and the privacy statement.

Plain HTML forms, no JavaScript, so they work for RStudio users and on slow links. Forms POST
back here with the xsrf token (``_xsrf``) that HubOAuth checks on cookie-authenticated
requests. What a member reports goes in as events through the ingest path, like any other.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tornado import web

from ..events.names import CONSENT, EPISODE_COMPLETED, STEP_REACHED
from ..i18n import LANGUAGES
from ..ingest import EventResult
from ..reports.progress import member_progress
from ..store.privacy import ESSENTIAL_EVENTS, WITHDRAWN
from . import api
from .base import BaseHandler
from .render import render

LANGUAGE_COOKIE = "catalyst-lang"
#: Outcomes a redirect back to ``me`` may announce (anything else is ignored).
STATUSES = ("saved", "dropped", "deferred", "consent-given", "consent-withdrawn", "badge-claimed")


class PageHandler(BaseHandler):
    """An HTML page: browsers log in through the hub (HubOAuth); tokens work too."""

    async def prepare(self) -> None:
        await super().prepare()
        if self.request.method not in ("GET", "HEAD", "OPTIONS"):
            self.check_body_size()
        requested = self.get_query_argument("lang", None)
        if requested in LANGUAGES:
            # the language switcher's choice sticks for the service's pages
            self.set_cookie(
                LANGUAGE_COOKIE,
                requested,
                path=self.catalyst.service_prefix,
                expires_days=365,
                samesite="Lax",
                httponly=True,
                secure=self.request.protocol == "https",
            )

    def get_login_url(self) -> str:
        if getattr(self, "_not_allowed", False):
            # the hub knows this token, but it may not use the service: logging in again
            # would not help (and a token's request cannot follow a login redirect)
            self.raise_unauthenticated()
        return super().get_login_url()

    def set_default_headers(self) -> None:
        super().set_default_headers()
        # pages show personal data and depend on the chosen language
        self.set_header("Cache-Control", "no-store")
        self.set_header("Vary", "Cookie, Accept-Language")

    def page(self, template: str, http_status: int = 200, **context: Any) -> None:
        self.set_status(http_status)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(render(self, template, **context))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = ""
        error = kwargs.get("exc_info", (None, None))[1]
        if isinstance(error, web.HTTPError) and error.log_message:
            message = error.log_message % error.args if error.args else error.log_message
        for name, value in getattr(error, "headers", {}).items():  # Retry-After of a 503
            self.set_header(name, value)
        try:
            html = render(self, "error.html", status=status_code, message=message)
        except Exception:  # never fail while reporting a failure
            self.log.exception("could not render the error page")
            return super().write_error(status_code, **kwargs)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(html)

    def back_to_me(self, status: str, anchor: str = "") -> None:
        """Post/redirect/get: a reload never sends the form twice."""
        target = self.catalyst.service_prefix + "me?" + urlencode({"status": status})
        self.redirect(target + (f"#{anchor}" if anchor else ""), status=303)


class NotFoundPage(PageHandler):
    """Any path the service does not serve: a 404 in the service's look (JSON under api/)."""

    async def prepare(self) -> None:
        await super().prepare()
        raise web.HTTPError(404)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if self.request.path.startswith(self.catalyst.service_prefix + "api/"):
            return api.APIHandler.write_error(self, status_code, **kwargs)
        return super().write_error(status_code, **kwargs)


@web.stream_request_body
class BodyTooLargePage(PageHandler):
    """What answers a request whose Content-Length is over its handler's limit
    (``app.BodyLimitedApplication``): the 413 that handler would give, JSON for the API and
    JSON requests, an error page for forms. The body is read and dropped, never held,
    before the answer: a proxy still sending it when the connection closed would answer 503.
    """

    def initialize(self, size: int, limit: int, page: bool) -> None:
        self.size, self.limit, self.as_page = size, limit, page

    async def prepare(self) -> None:
        pass  # no login needed to be told the body is too large

    def data_received(self, chunk: bytes) -> None:
        pass

    def post(self, *args: Any, **kwargs: Any) -> None:
        raise web.HTTPError(
            413,
            self._(
                "Request body is {size} bytes; the limit is {limit}.",
                size=self.size,
                limit=self.limit,
            ),
        )

    get = put = patch = delete = post

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if self.as_page:
            return super().write_error(status_code, **kwargs)
        return api.APIHandler.write_error(self, status_code, **kwargs)


class RootHandler(PageHandler):
    """The service's root (the hub's Services menu links here): the member's page."""

    def get(self) -> None:
        self.redirect(self.catalyst.service_prefix + "me")


class MePage(PageHandler):
    """``me``: the checklist and training progress of the api/me JSON, as a page."""

    records_login = True  # the member looks at their checklist: they are logged in

    @web.authenticated
    async def get(self) -> None:
        actor = self.require_actor()
        app = self.catalyst
        progress = await self.run_db(
            member_progress, self.store, actor.member_id, actor.community, self.language
        )
        notice = app.consent_notice_for(self.language)
        consent = progress["consent"]
        status = self.get_query_argument("status", "")
        badges = await self.earned_badges(actor)
        self.page(
            "me.html",
            progress=progress,
            badges=badges,
            notice=notice,
            # asked again when the notice changed since the member decided
            ask_consent=consent["decision"] is None or consent["version"] != notice["version"],
            consent=consent["decision"],
            status=status if status in STATUSES else "",
        )


def outcome(result: EventResult) -> str:
    """The status a self-report redirects with: saved, or why not (opted out, not decided)."""
    return result.status if result.status in ("dropped", "deferred") else "saved"


class StepReportHandler(PageHandler):
    """``POST me/steps``: the member says they did a step the catalog lets them report."""

    @web.authenticated
    async def post(self) -> None:
        actor = self.require_actor()
        step_id = self.get_body_argument("step", "")
        steps = {s.id: s for s in self.store.catalog.steps_for(actor.community)}
        if step_id not in steps or not steps[step_id].self_report:
            raise web.HTTPError(400, self._("This step cannot be reported by hand."))
        result = await self.run_db(
            api.record_own_event,
            self.catalyst,
            actor,
            STEP_REACHED,
            {"step": step_id, "source": "self"},
        )
        self.back_to_me(outcome(result), anchor=f"step-{step_id}")


class EpisodeReportHandler(PageHandler):
    """``POST me/episodes``: the member says they completed a self-reported episode."""

    @web.authenticated
    async def post(self) -> None:
        actor = self.require_actor()
        lesson = self.get_body_argument("lesson", "")
        episode = self.get_body_argument("episode", "")
        found = self.store.catalog.episodes().get((lesson, episode))
        if found is None or not found.self_report:
            raise web.HTTPError(400, self._("This episode cannot be reported by hand."))
        result = await self.run_db(
            api.record_own_event,
            self.catalyst,
            actor,
            EPISODE_COMPLETED,
            {"lesson": lesson, "episode": episode, "source": "self"},
        )
        self.back_to_me(outcome(result), anchor=f"episode-{lesson}-{episode}")


class ConsentHandler(PageHandler):
    """``POST me/consent``: accept the notice, or opt out (decision=given|withdrawn)."""

    @web.authenticated
    async def post(self) -> None:
        actor = self.require_actor()
        decision = self.get_body_argument("decision", "")
        if decision not in ("given", WITHDRAWN):
            raise web.HTTPError(400, self._("Choose to accept or to opt out."))
        await self.run_db(
            api.record_own_event,
            self.catalyst,
            actor,
            CONSENT,
            {"decision": decision, "notice_version": self.catalyst.consent_notice_version},
        )
        self.back_to_me(f"consent-{decision}", anchor="privacy-choices")


class ErasePage(PageHandler):
    """``me/erase``: a confirmation step, then the erasure (the same as POST api/me/erase)."""

    @web.authenticated
    def get(self) -> None:
        self.require_actor()
        self.page("erase.html", error=False)

    @web.authenticated
    async def post(self) -> None:
        actor = self.require_actor()
        if self.get_body_argument("confirm", "") != "yes":
            self.page("erase.html", http_status=400, error=True)
            return
        stop_recording = self.get_body_argument("stop_recording", "") == "yes"
        erasure, stopped = await self.run_db(
            api.erase_own_data, self.catalyst, actor, stop_recording
        )
        self.log.info("erased a member's data on request (receipt %s)", erasure.receipt)
        self.page("erased.html", erasure=erasure, recording_stopped=stopped)


class PrivacyPage(PageHandler):
    """``privacy``: what is recorded, why, who sees it, for how long, with this deployment's
    real settings. Public: people may read it before they log in."""

    def get(self) -> None:
        app = self.catalyst
        self.page(
            "privacy.html",
            notice=app.consent_notice_for(self.language),
            retention_days=app.retention_days,
            # the smallest group cross-community views show, when the reports define one
            min_group_size=getattr(app, "min_group_size", None),
            collector_enabled=app.collector_enabled,
            consent_mode=app.consent_mode,
            # the one list the ingest path enforces
            essential_events=[
                (name, reason)
                for name, reason in ESSENTIAL_EVENTS.items()
                if app.collector_enabled or not name.startswith("server_")
            ],
        )


default_handlers = [
    (r"", RootHandler),
    (r"me", MePage),
    (r"me/steps", StepReportHandler),
    (r"me/episodes", EpisodeReportHandler),
    (r"me/consent", ConsentHandler),
    (r"me/erase", ErasePage),
    (r"privacy", PrivacyPage),
]
