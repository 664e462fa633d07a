"""Base handlers: who is asking (from JupyterHub), what they may do, and JSON errors."""

from __future__ import annotations

import asyncio
import os
import random
import re
from collections.abc import Callable, Generator
from functools import partial
from http.client import responses
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, Protocol, TypeVar

import orjson
from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from sqlalchemy import exc as db_errors
from tornado import web

from ..i18n import gettext_for, negotiate
from ..identity import Actor
from ..jsonlimits import MAX_DEPTH, JSONLimitError, check_json
from ..workflows.badges import member_badges
from . import scopes

if TYPE_CHECKING:
    import logging
    from concurrent.futures import ThreadPoolExecutor
    from types import TracebackType

    from ..badges.issuer import BadgeIssuer
    from ..badges.keys import Keyring
    from ..communities import CommunityMapper
    from ..ingest import EventResult, Ingestor
    from ..ingest.ingest import Batch
    from ..interop.forwarder import Forwarder
    from ..store import Store
    from .publisher import Publisher

T = TypeVar("T")
P = ParamSpec("P")

#: Largest body of a form or of a JSON request other than ingest (whose limit is
#: ``CatalystService.max_body_bytes``): 500 usernames fit many times over.
MAX_FORM_BYTES = 256 * 1024

#: Database errors that mean "not now" rather than "never": the server is restarting or
#: unreachable, a connection was lost, the pool is exhausted, SQLite is busy. A request that
#: meets one answers 503 with Retry-After, so clients (the server extension's outbox) retry.
TRANSIENT_DB_ERRORS = (db_errors.OperationalError, db_errors.InterfaceError, db_errors.TimeoutError)
#: Seconds a client is asked to wait after a transient database error (spread, so that many
#: outboxes do not all come back in the same second).
DB_RETRY_AFTER = (2, 6)


#: The Content-Security-Policy of every answer. Pages load their style sheets from the
#: service's static files and run no script; charts are inline SVG, and no page shows an
#: image of another origin or a ``data:`` one. ``frame-ancestors`` lets the hub's own pages
#: (the same origin) frame them, and nobody else.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
)


def set_security_headers(handler: web.RequestHandler) -> None:
    handler.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    handler.set_header("X-Content-Type-Options", "nosniff")
    # which server and version answers tells a client nothing it needs (and an attacker
    # something): 29 bytes of every answer on a slow link
    handler.clear_header("Server")


def minify_css(text: str) -> str:
    """A style sheet without its comments and the white space CSS ignores: a seventh fewer
    bytes on the wire, compressed, while the files in the package stay readable. Spaces
    before a ``:`` stay (``a :focus`` is not ``a:focus``)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*([{};,>])\s*", r"\1", text)
    text = re.sub(r":\s+", ":", text)
    return text.replace(";}", "}").strip()


#: minified style sheets by (path, modification time)
_MINIFIED: dict[tuple[str, float], bytes] = {}


def _minified(abspath: str) -> bytes:
    key = (abspath, os.stat(abspath).st_mtime)
    found = _MINIFIED.get(key)
    if found is None:
        with open(abspath, encoding="utf-8") as f:
            found = _MINIFIED[key] = minify_css(f.read()).encode("utf-8")
    return found


class StaticFiles(web.StaticFileHandler):
    """The service's style sheets: ``nosniff``, no server name, and for a versioned URL
    (``?v=``, which every page links) cached for good with nothing to revalidate.

    No Content-Security-Policy: a policy governs a document, and a style sheet is none (it
    runs no script; ``nosniff`` keeps a browser from reading it as anything but CSS)."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("X-Content-Type-Options", "nosniff")
        self.clear_header("Server")

    def set_extra_headers(self, path: str) -> None:
        if self.get_argument("v", None):
            # max-age (set by tornado for a versioned URL) says it all: a browser never
            # asks again, and a new version has a new URL
            for name in ("Etag", "Last-Modified", "Expires", "Accept-Ranges"):
                self.clear_header(name)

    @classmethod
    def get_content(
        cls, abspath: str, start: int | None = None, end: int | None = None
    ) -> Generator[bytes, None, None]:
        if abspath.endswith(".css"):
            yield _minified(abspath)[start:end]
        else:
            yield from super().get_content(abspath, start, end)

    def get_content_size(self) -> int:
        assert self.absolute_path is not None
        if self.absolute_path.endswith(".css"):
            return len(_minified(self.absolute_path))
        return super().get_content_size()

    @classmethod
    def get_content_version(cls, abspath: str) -> str:
        # 16 hex digits tell the versions apart; tornado's 128 weigh on every page's link
        return super().get_content_version(abspath)[:16]


class DatabaseUnavailable(web.HTTPError):
    """503 with a Retry-After header (both error writers copy ``headers`` to the answer)."""

    def __init__(self, message: str) -> None:
        super().__init__(503, message)
        self.headers = {"Retry-After": str(random.randint(*DB_RETRY_AFTER))}


class Service(Protocol):
    """What the handlers use of the CatalystService (``service.app``, which imports the
    handlers to route them: described here rather than imported; ``make_app`` checks that
    the service has all of it)."""

    log: logging.Logger | logging.LoggerAdapter[logging.Logger]
    store: Store | None
    communities: CommunityMapper
    hub_name: str
    service_name: str
    service_prefix: str
    hub_auth: Any  # a jupyterhub HubOAuth (jupyterhub ships no types)
    min_group_size: int
    max_batch_events: int
    max_body_bytes: int
    consent_notice_version: str
    consent_mode: str
    retention_days: int
    collector_enabled: bool
    db_executor: ThreadPoolExecutor
    ingestor: Ingestor
    hub_url: str
    forwarder: Forwarder | None
    consortium_url: str
    consortium_public_communities: list[str]
    publisher: Publisher | None
    badge_keys: Keyring | None

    def open_badges_issuer(self) -> BadgeIssuer | None: ...

    # read-only here (covariant): the service's own classes, described below
    @property
    def logins(self) -> _Logins: ...
    @property
    def group_commit(self) -> _GroupCommit: ...
    @property
    def rate_limiter(self) -> _RateLimiter: ...

    def consent_notice_for(self, language: str) -> dict[str, str]: ...
    def known_actor(self, model: dict) -> Actor | None: ...
    def actor_for(self, model: dict) -> Actor: ...


class _Logins(Protocol):  # service.logins.LoginRecorder
    async def seen(self, handler: BaseHandler, actor: Actor) -> None: ...


class _GroupCommit(Protocol):  # service.app.GroupCommit
    async def store(self, batch: Batch) -> list[EventResult]: ...


class _RateLimiter(Protocol):  # service.limits.RateLimiter
    def check(self, handler: BaseHandler, key: str, cost: int, size: int = 0) -> None: ...


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """Authenticates with the hub asynchronously in ``prepare`` (a blocking check would stall
    the event loop, and deadlock when the hub shares it, as in tests)."""

    actor: Actor | None = None

    def set_default_headers(self) -> None:
        super().set_default_headers()
        set_security_headers(self)

    def compute_etag(self) -> str | None:
        """No ETag on an answer no cache may keep (``no-store``: pages and the API's JSON):
        nothing would ever revalidate it, and it costs 50 bytes of every answer."""
        if "no-store" in self._headers.get("Cache-Control", ""):
            return None
        return super().compute_etag()

    @property
    def catalyst(self) -> Service:
        """The CatalystService application."""
        return self.settings["catalyst"]

    @property
    def store(self) -> Store:
        """The service's Store (``CatalystService.initialize`` sets it)."""
        store = self.catalyst.store
        assert store is not None
        return store

    @property
    def hub_auth(self) -> Any:  # a jupyterhub HubOAuth (jupyterhub ships no types)
        return self.settings["hub_auth"]

    @hub_auth.setter
    def hub_auth(self, auth: Any) -> None:
        self.settings["hub_auth"] = auth

    @property
    def log(self) -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
        return self.catalyst.log

    async def prepare(self) -> None:
        self.refuse_control_characters()
        model = await self.hub_auth.get_user(self, sync=False)
        self._not_allowed = False
        if model:
            try:
                model = self.check_hub_user(model)
            except UserNotAllowed:
                # authenticated, but the token lacks access to this service: 403, not 401
                self._not_allowed, model = True, None
        self._hub_auth_user_cache = model
        if model and model.get("kind", "user") == "user":
            # a thread's round trip only the first time this process sees the user
            actor = self.catalyst.known_actor(model)
            if actor is None:
                actor = await self.run_db(self.catalyst.actor_for, model)
            self.actor = actor
            await self.catalyst.logins.seen(self, actor)
        self.refuse_cookie_post_without_xsrf()

    def refuse_cookie_post_without_xsrf(self) -> None:
        """403 for a cookie-authenticated state change without a valid xsrf token.

        HubOAuth quietly ignores the login cookie of such a request, which would look like no
        login at all: a 401, or a redirect to log in that loses the form. Saying 403 tells the
        truth. Token-authenticated requests need no xsrf token; a request that merely carries
        an ``Authorization`` header (a wrong token, or none at all) is not one of them.
        """
        if (
            self.current_user is None
            and self.request.method not in ("GET", "HEAD", "OPTIONS")
            and self.hub_auth.get_token(self, in_cookie=True)
            and not getattr(self, "_token_authenticated", False)
        ):
            self.check_xsrf_cookie()  # raises 403 when the token is missing or wrong

    def refuse_control_characters(self) -> None:
        """400 for a path or query argument holding a control character (NUL among them):
        no database text column holds NUL, and no name or date of the service has any."""
        values: list[str | bytes] = [*self.path_args, *self.path_kwargs.values()]
        values += [v for vs in self.request.query_arguments.values() for v in vs]
        if any(v is not None and has_control_characters(v) for v in values):
            raise web.HTTPError(
                400, self._("The address holds a control character, which no name or date has.")
            )

    def get_current_user(self) -> dict[str, Any] | None:
        return getattr(self, "_hub_auth_user_cache", None)

    # -- language ----------------------------------------------------------------------------

    @property
    def language(self) -> str:
        if not hasattr(self, "_language"):
            requested = self.get_argument("lang", None) or self.get_cookie("catalyst-lang")
            self._language = negotiate(requested, self.request.headers.get("Accept-Language"))
        return self._language

    @property
    def _(self) -> Callable[..., str]:
        return gettext_for(self.language)

    # -- access ------------------------------------------------------------------------------

    def require_actor(self) -> Actor:
        """The user behind the token; 401/403 for none or for a service token."""
        if self.current_user is None:
            self.raise_unauthenticated()
        if self.actor is None:
            raise web.HTTPError(403, self._("Only JupyterHub users can use this endpoint."))
        return self.actor

    def communities(self, scope: str) -> scopes.Communities:
        """The communities the current token may read with ``scope`` (scopes.ALL or a set)."""
        model = self.current_user
        if model is None:
            self.raise_unauthenticated()
        return scopes.communities_for(model.get("scopes", []), scope, self.catalyst.communities)

    def require_scope(self, scope: str, community: str | None = None) -> scopes.Communities:
        """403 unless the token holds ``scope`` (for ``community`` when given)."""
        allowed = self.communities(scope)
        if allowed is scopes.ALL or (allowed and (community is None or community in allowed)):
            return allowed
        raise web.HTTPError(
            403,
            self._("This needs the scope {scope}", scope=scope)
            + (f" (!group=…{community})" if community else ""),
        )

    def raise_unauthenticated(self) -> NoReturn:
        if getattr(self, "_not_allowed", False):
            raise web.HTTPError(
                403,
                self._(
                    "This token may not use this service: it needs the scope {scope}.",
                    scope=f"access:services!service={self.catalyst.service_name}",
                ),
            )
        raise web.HTTPError(401, self._("Authentication required: send a JupyterHub token."))

    def check_body_size(self, limit: int = MAX_FORM_BYTES) -> None:
        """413 for a request body larger than ``limit`` bytes."""
        size = len(self.request.body or b"")
        if size > limit:
            raise web.HTTPError(
                413,
                self._(
                    "Request body is {size} bytes; the limit is {limit}.", size=size, limit=limit
                ),
            )

    # -- database ----------------------------------------------------------------------------

    async def run_db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking store work off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.catalyst.db_executor, partial(fn, *args, **kwargs))

    async def earned_badges(self, actor: Actor) -> list[dict]:
        """The member's badges for their page or panel, those they earned since they last
        looked issued now; none when the hub issues no badges (or cannot: see
        ``open_badges_issuer``)."""
        issuer = self.catalyst.open_badges_issuer()
        if issuer is None:
            return []
        return await self.run_db(
            member_badges, self.store, issuer, actor.member_id, actor.community, self.language
        )

    # -- a database that is away -------------------------------------------------------------
    # Wherever a transient database error comes from (run_db, the ingest group commit, the
    # identity lookup in prepare), the answer is a 503 with Retry-After rather than a 500:
    # nothing was committed, and the client (the server extension's outbox) sends the same
    # events again. The engine checks pooled connections before use, so the first request
    # after the database is back gets a fresh connection: the service needs no restart.

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(value, TRANSIENT_DB_ERRORS):
            detail = str(getattr(value, "orig", None) or value).strip().splitlines()
            self.log.warning(
                "database unavailable for %s %s: %s",
                self.request.method,
                self.request.path,
                detail[0] if detail else type(value).__name__,
            )
            return
        if isinstance(value, web.HTTPError):
            # the request log has the status already; tornado's line would add the query
            # string (tokens) and the message (which may echo what a user typed)
            if value.status_code >= 500:
                self.log.warning(
                    "%d %s %s: %s",
                    value.status_code,
                    self.request.method,
                    self.request.path,
                    value.log_message % value.args
                    if value.args and value.log_message
                    else value.log_message,
                )
            return
        # tornado's own line shows the whole request, headers (tokens, cookies) included
        assert typ is not None and value is not None  # tornado calls this in an except block
        self.log.error(
            "Uncaught exception in %s %s",
            self.request.method,
            self.request.path,
            exc_info=(typ, value, tb),
        )

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, TRANSIENT_DB_ERRORS):
            unavailable = DatabaseUnavailable(
                self._("The service's database is unavailable right now; please retry shortly.")
            )
            kwargs["exc_info"] = (DatabaseUnavailable, unavailable, None)
            status_code = 503
        super().send_error(status_code, **kwargs)

    # -- output ------------------------------------------------------------------------------

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS))


def has_control_characters(value: str | bytes) -> bool:
    """Whether ``value`` holds a C0 control character or DEL (tab included)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return _CONTROL.search(value) is not None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_json_limits(handler: BaseHandler, data: Any) -> None:
    """400 for decoded JSON nested too deep or holding NUL (see ``catalyst_hub.jsonlimits``)."""
    try:
        check_json(data)
    except JSONLimitError as e:
        if e.reason == "depth":
            message = handler._(
                "Request body is nested more than {depth} levels deep.", depth=MAX_DEPTH
            )
        else:
            message = handler._("Request body holds the NUL character, which text may not hold.")
        raise web.HTTPError(400, message) from None


class APIHandler(BaseHandler):
    """JSON in, JSON out; errors are ``{"status", "message"}``; never redirects to login."""

    def get_login_url(self) -> NoReturn:
        self.raise_unauthenticated()

    def check_xsrf_cookie(self) -> None:
        # Token-authenticated API calls are not subject to xsrf; cookie-authenticated ones are,
        # whatever other header they carry (HubOAuth sets the flag only for a valid token).
        if getattr(self, "_token_authenticated", False):
            return None
        return super().check_xsrf_cookie()

    def json_body(self) -> Any:
        self.check_body_size()
        try:
            data = orjson.loads(self.request.body)
        except orjson.JSONDecodeError as e:
            raise web.HTTPError(
                400, self._("Request body is not valid JSON: {error}", error=str(e))
            ) from None
        check_json_limits(self, data)
        return data

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = responses.get(status_code, "Error")
        exc_info = kwargs.get("exc_info")
        if exc_info:
            error = exc_info[1]
            if isinstance(error, web.HTTPError) and error.log_message:
                message = error.log_message % error.args if error.args else error.log_message
            for name, value in getattr(error, "headers", {}).items():
                self.set_header(name, value)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(orjson.dumps({"status": status_code, "message": message}))


class OAuthCallbackHandler(HubOAuthCallbackHandler):
    """Finishes the OAuth login with the service's own HubOAuth (it holds the PKCE state)."""

    @property
    def hub_auth(self) -> Any:  # the service's HubOAuth
        return self.settings["hub_auth"]
