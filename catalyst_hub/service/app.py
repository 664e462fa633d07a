"""The catalyst service Application, run by JupyterHub as a managed service."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from collections.abc import Awaitable, Mapping
from concurrent.futures import ThreadPoolExecutor
from logging import Logger, LoggerAdapter
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth
from jupyterhub.utils import url_path_join
from tornado import httpserver, httputil, web
from tornado.http1connection import HTTP1Connection
from tornado.ioloop import IOLoop, PeriodicCallback
from traitlets import (
    Any,
    Bool,
    Dict,
    Float,
    Instance,
    Integer,
    List,
    TraitError,
    Unicode,
    default,
    validate,
)
from traitlets.utils.bunch import Bunch

from ..badges.issuer import BadgeIssuer
from ..badges.keys import Keyring, load_key, load_or_create_key
from ..catalog import localized
from ..catalyst_app import CatalystApp
from ..i18n import LANGUAGES, gettext_for
from ..ingest import EventResult, Ingestor
from ..ingest.ingest import Batch
from ..store.engine import WalCheckpointer
from ..store.privacy import CONSENT_MODES, begin_purge, purge_chunk
from . import api, logs, pages
from .base import MAX_FORM_BYTES, Service, StaticFiles
from .collector import Collector
from .handlers import default_handlers
from .limits import RateLimiter
from .logins import LoginRecorder
from .render import make_environment

if TYPE_CHECKING:
    from ..interop.forwarder import Forwarder


class GroupCommit:
    """Stores the ingest batches of concurrent requests together (group commit).

    While the database thread stores one group, batches of new requests wait here; the next
    group takes all of them, in one transaction where the Ingestor can merge them. A request
    alone waits for nothing, and every request is answered once its events are committed.
    """

    def __init__(self, ingestor: Ingestor, executor: ThreadPoolExecutor) -> None:
        self.ingestor = ingestor
        self.executor = executor
        self._waiting: list[tuple[Batch, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def store(self, batch: Batch) -> list[EventResult]:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((batch, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        await future
        return batch.results

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                taken, self._waiting = self._waiting, []
                try:
                    outcomes = await loop.run_in_executor(
                        self.executor, self.ingestor.store_batches, [b for b, _ in taken]
                    )
                except Exception as e:  # the executor itself failed (shut down)
                    outcomes = [e] * len(taken)
                for (_, future), error in zip(taken, outcomes, strict=True):
                    if future.done():
                        continue
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)
        finally:
            self._writer = None


#: Allocations of tracked objects between two collections of the youngest generation
#: (CPython's default is 700).
GC_YOUNG_THRESHOLD = 20_000


def tune_garbage_collector() -> None:
    """Collect garbage cycles less often, and never look again at what startup made.

    Ingest makes many containers (a dict per envelope and per payload) that reference
    counting frees. With CPython's defaults a request of 1,000 events set off several
    collections, and every few requests a full one that walked everything the service had
    imported (about 110,000 objects; up to 75 ms with the GIL held): about 13% of the
    service's time, and the slowest report responses. ``gc.freeze`` leaves the objects made
    at startup out of every later collection, and a higher first threshold runs the young
    collections a few times a second instead of hundreds: HTTP ingest went from about
    57,000 to 75,000-87,000 events/s (batches of 1,000, 8 clients, SQLite, 10 M events).
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


#: Largest declared body the service reads (and drops) after answering 413: beyond it tornado
#: closes the connection with a bare 400 instead.
MAX_DRAINED_BODY = 1024 * 1024 * 1024


class BodyLimitedApplication(web.Application):
    """A tornado application that answers a request declaring a body larger than its
    handler's limit (``CatalystService.max_body_bytes`` for ingest, ``MAX_FORM_BYTES`` for the
    rest) with the service's own 413, from its headers alone: the body is never held.

    Without it tornado answers a body over the HTTP server's ``max_body_size`` with a bare
    400 and closes the connection while the client is still sending, which the hub's proxy
    turns into a 503 page."""

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        routed = super().start_request(server_conn, request_conn)
        return _BodyLimit(self, server_conn, request_conn, routed)


class _BodyLimit(httputil.HTTPMessageDelegate):
    def __init__(
        self,
        app: BodyLimitedApplication,
        server_conn: object,
        request_conn: httputil.HTTPConnection,
        routed: httputil.HTTPMessageDelegate,
    ) -> None:
        self.app, self.server_conn, self.request_conn = app, server_conn, request_conn
        self.delegate = routed

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        declared = headers.get("Content-Length", "")
        # digits only, and few of them: tornado refuses anything else itself
        if declared.isascii() and declared.isdigit() and len(declared) < 19:
            size = int(declared)
            if size > MAX_FORM_BYTES:  # the smallest limit: else no handler refuses it
                self._refuse_if_too_large(start_line, headers, size)
        return self.delegate.headers_received(start_line, headers)

    def _refuse_if_too_large(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
        size: int,
    ) -> None:
        """Send the request to BodyTooLargePage when its handler would refuse ``size``."""
        assert isinstance(start_line, httputil.RequestStartLine)  # a server reads requests
        request = httputil.HTTPServerRequest(
            connection=self.request_conn,
            server_connection=self.server_conn,
            start_line=start_line,
            headers=headers,
        )
        target = getattr(self.app.find_handler(request), "handler_class", None)
        if not isinstance(target, type):
            return
        # ingest takes the largest bodies; every other form and JSON body, MAX_FORM_BYTES
        ingest = issubclass(target, api.EventsHandler)
        limit = self.app.settings["catalyst"].max_body_bytes if ingest else MAX_FORM_BYTES
        if size <= limit:
            return
        if size <= MAX_DRAINED_BODY:
            assert isinstance(self.request_conn, HTTP1Connection)  # tornado's HTTPServer's
            self.request_conn.set_max_body_size(size)
        as_page = issubclass(target, pages.PageHandler) and not headers.get(
            "Content-Type", ""
        ).startswith("application/json")
        self.delegate = self.app.get_handler_delegate(
            request, pages.BodyTooLargePage, {"size": size, "limit": limit, "page": as_page}
        )

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        self.delegate.finish()

    def on_connection_close(self) -> None:
        self.delegate.on_connection_close()


BADGES_NEED_PUBLIC_URL = (
    "Open Badges are not issued: the service does not know its public URL, and a badge's "
    "ids (credential, issuer, status list, verification link) are permanent. Set "
    "c.JupyterHub.public_url (JupyterHub gives a managed service its public URL as "
    "$JUPYTERHUB_PUBLIC_URL), or c.CatalystService.badge_base_url = "
    '"https://<the hub\'s host>%s", or c.CatalystService.badges_enabled = False.'
)


def absolute_base_url(url: str, name: str) -> str:
    """``url`` with a trailing slash; a TraitError unless it is an absolute http(s) URL."""
    if not url:
        return url
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise TraitError(
            f"{name} = {url!r} must be an absolute http(s) URL with the service's prefix, "
            "such as https://hub.example.org/services/catalyst/"
        )
    return url if url.endswith("/") else url + "/"


def badge_public_url(
    configured: str, service_prefix: str, environ: Mapping[str, str], log: Logger | LoggerAdapter
) -> str:
    """The service's public URL, for badge ids: ``configured`` (badge_base_url), else the one
    JupyterHub gives a managed service when ``c.JupyterHub.public_url`` is set
    (``$JUPYTERHUB_PUBLIC_URL``: the public origin and the service's prefix); "" if neither.
    A ``$JUPYTERHUB_PUBLIC_URL`` with another path is not this service's (a shell inside a
    single-user server has its server's) and is not used."""
    if configured:
        return configured
    public = environ.get("JUPYTERHUB_PUBLIC_URL", "")
    if not public:
        return ""
    try:
        url = absolute_base_url(public, "$JUPYTERHUB_PUBLIC_URL")
    except TraitError as e:
        log.warning("%s", e)
        return ""
    if urlparse(url).path != service_prefix:
        log.warning(
            "$JUPYTERHUB_PUBLIC_URL (%s) is not under this service's prefix %s: not used",
            public,
            service_prefix,
        )
        return ""
    return url


class CatalystService(CatalystApp):
    name = "catalyst-hub-service"
    description = """Run the catalyst service (normally started by JupyterHub as a managed
    service: it reads JUPYTERHUB_SERVICE_URL, JUPYTERHUB_SERVICE_PREFIX and JUPYTERHUB_API_TOKEN)."""

    url = Unicode(
        config=True,
        help="URL the service listens on (default: $JUPYTERHUB_SERVICE_URL, else http://127.0.0.1:10101).",
    )

    @default("url")
    def _default_url(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")

    service_prefix = Unicode(
        config=True,
        help="URL prefix of the service on the hub (default: $JUPYTERHUB_SERVICE_PREFIX).",
    )

    @default("service_prefix")
    def _default_prefix(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/catalyst/")

    service_name = Unicode(
        config=True,
        help="The service's name on the hub (default: $JUPYTERHUB_SERVICE_NAME, else 'catalyst').",
    )

    @default("service_name")
    def _default_service_name(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_NAME", "catalyst")

    max_batch_events = Integer(
        1000, config=True, help="Most events accepted in one ingest request."
    )
    max_body_bytes = Integer(
        4 * 1024 * 1024, config=True, help="Largest ingest request body, in bytes (413 beyond)."
    )
    rate_limit = Float(
        2000.0, config=True, help="Events per second one member may send on average (0: no limit)."
    )
    rate_burst = Float(20000.0, config=True, help="Events one member may send in a burst.")
    rate_limit_bytes = Float(
        1024 * 1024,
        config=True,
        help="Bytes of ingest request bodies per second one member may send on average (0: no limit).",
    )
    rate_burst_bytes = Float(
        16 * 1024 * 1024,
        config=True,
        help="""Bytes of ingest request bodies one member may send in a burst; keep it at least
        max_body_bytes, or the largest requests are never accepted.""",
    )
    min_group_size = Integer(
        5,
        config=True,
        help="""Smallest group of people a cross-community view or a metric shows: counts of
        1 to k-1 people appear as "fewer than k" (and are left out of /metrics).""",
    )
    collector_enabled = Bool(True, config=True, help="Poll the hub's REST API for server sessions.")

    extra_template_paths = List(
        Unicode(),
        config=True,
        help="Template folders searched before the packaged ones (restyle any page).",
    )

    # -- consent and retention -----------------------------------------------------------------

    consent_notice_version = Unicode(
        "1",
        config=True,
        help="""Version of the consent notice. Change it whenever the notice's meaning changes:
        members are asked again, and each decision records the version it answered.""",
    )
    consent_mode = Unicode(
        "opt-in",
        config=True,
        help="""How recording starts. "opt-in" (default): until a member accepts the current
        notice only the essential events (see the privacy page) are stored; the others wait
        in their server's outbox, sent if they accept, dropped if they opt out. "opt-out",
        for deployments whose legal basis is legitimate interest: recording starts at once
        and stops when the member opts out. The packaged notice says which applies.""",
    )

    @validate("consent_mode")
    def _validate_consent_mode(self, proposal: Bunch) -> str:
        if proposal.value not in CONSENT_MODES:
            raise TraitError(f"consent_mode must be one of {', '.join(CONSENT_MODES)}")
        return proposal.value

    consent_notice = Dict(
        config=True,
        help="""The consent notice per language: {"en": {"title": ..., "body": ...}, "es": ...}.
        The body is plain text, paragraphs separated by a blank line; "{retention_days}" is
        replaced by the retention setting. Missing languages fall back to English. The packaged
        default (en, es, pt, fr) says what is recorded, why, who can see it, for how long,
        and how recording starts ("{consent_mode}" is replaced by a sentence on it).""",
    )

    @default("consent_notice")
    def _default_consent_notice(self) -> dict[str, dict[str, str]]:
        notice = {}
        for language in LANGUAGES:
            _ = gettext_for(language)
            paragraphs = [
                _(
                    "To help you and your community get started, this hub records which onboarding steps you reach, your progress in training, when your server starts and stops, and how many actions you take each day. It never records the content of your files, notebooks or code."
                ),
                _(
                    "Why: to show you your own checklist and training progress, and to help your community's champions see where newcomers get stuck and how much the hub is used."
                ),
                _(
                    "Who can see it: you see everything recorded about you. Your community's training leads and the hub's admins can see your progress, and every time they look it is logged. Everyone else, consortium staff included, sees totals only, without names, and small groups are hidden when communities are compared."
                ),
                _(
                    "How long: detailed records are deleted after {retention_days} days; what they add up to (your activity per day, the steps you reached, the training you completed) is kept until you erase your data. Your username is stored apart from the records and removed when you erase your data."
                ),
                "{consent_mode}",
                _(
                    "You can opt out at any time: the hub then stops recording anything about you. You can also download or erase your data from the privacy choices on your progress page."
                ),
            ]
            notice[language] = {
                "title": _("What this hub records about your work"),
                "body": "\n\n".join(paragraphs),
            }
        return notice

    @validate("consent_notice")
    def _validate_consent_notice(self, proposal: Bunch) -> dict[str, dict[str, str]]:
        for language, text in proposal.value.items():
            if not (
                isinstance(text, dict)
                and isinstance(text.get("title"), str)
                and isinstance(text.get("body"), str)
            ):
                raise TraitError(
                    f'consent_notice["{language}"] must be {{"title": "...", "body": "..."}}'
                )
        return proposal.value

    retention_days = Integer(
        365,
        config=True,
        help="""Days raw events are kept. Older events are deleted daily; the daily aggregates
        built from them (activity per day, steps reached, training progress) are kept, and so
        are consent decisions. 0 keeps raw events forever.""",
    )
    retention_interval = Float(
        24 * 3600.0, config=True, help="Seconds between two purges of expired raw events."
    )
    _retention = Any(None, allow_none=True)

    # -- Open Badges ---------------------------------------------------------------------------
    badges_enabled = Bool(
        True,
        config=True,
        help="""Issue Open Badges 3.0 credentials for the catalog's lessons and training paths
        that declare a badge.""",
    )
    badge_issuer = Dict(
        config=True,
        help="""The issuer profile in every badge: {"name", "url", "description", "image",
        "email"} (name required; url: the organisation's site; image: a URL).""",
    )

    @default("badge_issuer")
    def _default_badge_issuer(self) -> dict[str, str]:
        return {"name": f"{self.hub_name} (catalyst_hub)"}

    badge_key_file = Unicode(
        config=True,
        help="""The issuer's Ed25519 signing key (PEM, PKCS #8), created (mode 0600) if missing.
        Keep it like the secret file. To rotate: point this at a new file and list the old one
        in badge_retired_key_files, so badges signed with it keep verifying.""",
    )

    @default("badge_key_file")
    def _default_badge_key_file(self) -> str:
        # beside the secret file, kept the same way
        return str(Path(self.secret_file).parent / "catalyst_badge_key.pem")

    badge_retired_key_files = List(
        Unicode(),
        config=True,
        help="Earlier signing keys (PEM): they no longer sign, badges they signed still verify.",
    )
    badge_base_url = Unicode(
        "",
        config=True,
        help="""Public URL of the service, prefix included (https://hub.example.org/services/catalyst/):
        the ids of the issuer, badges and status list, and the links the JupyterLab panel
        shows. They are permanent, so they never come from the address a request came
        through. Default: the public URL JupyterHub gives the service as a managed service
        ($JUPYTERHUB_PUBLIC_URL, set when c.JupyterHub.public_url is). With neither, the
        service issues no badges and says so in its log at start (set one of them, or
        badges_enabled = False).""",
    )

    @validate("badge_base_url")
    def _valid_badge_base_url(self, proposal: Bunch) -> str:
        return absolute_base_url(proposal.value, "CatalystService.badge_base_url")

    #: the public URL badge ids start with (badge_base_url, or JupyterHub's), "" if unknown
    badge_public_url = Unicode("")
    badge_keys = Instance(Keyring, allow_none=True)

    def init_badges(self) -> None:
        if not self.badges_enabled:
            return
        self.badge_keys = Keyring(
            load_or_create_key(self.badge_key_file),
            [load_key(path).public_key() for path in self.badge_retired_key_files],
        )
        self.badge_public_url = badge_public_url(
            self.badge_base_url, self.service_prefix, os.environ, self.log
        )
        if not self.badge_public_url:
            self.log.error(BADGES_NEED_PUBLIC_URL, self.service_prefix)

    def open_badges_issuer(self) -> BadgeIssuer | None:
        """The issuer of this hub's badges, the same whichever request or task issues one;
        None when badges are off or the service's public URL is unknown (logged at start)."""
        if self.badge_keys is None or not self.badge_public_url:
            return None
        return BadgeIssuer(self.badge_public_url, dict(self.badge_issuer), self.badge_keys)

    def consent_notice_for(self, language: str) -> dict[str, str]:
        """The notice shown to members in ``language``: {"version", "title", "body"}."""
        titles = {lang: text.get("title", "") for lang, text in self.consent_notice.items()}
        bodies = {lang: text.get("body", "") for lang, text in self.consent_notice.items()}
        # str.replace, not format: a deployment's own text may contain other braces
        body = localized(bodies, language).replace("{retention_days}", str(self.retention_days))
        body = body.replace("{consent_mode}", self.consent_mode_text(language))
        return {
            "version": self.consent_notice_version,
            "mode": self.consent_mode,
            "title": localized(titles, language),
            "body": body,
        }

    def consent_mode_text(self, language: str) -> str:
        """One sentence on how recording starts with this deployment's ``consent_mode``."""
        _ = gettext_for(language)
        if self.consent_mode == "opt-out":
            return _(
                "This hub records on the basis of its legitimate interest: recording starts when you first use the hub, and stops when you opt out."
            )
        return _(
            "Nothing beyond the essential records (your decision, and when your server starts and stops) is kept until you accept this notice; what happens meanwhile waits in your server and is sent only if you accept."
        )

    def start_retention(self) -> None:
        """Purge expired raw events now and then every ``retention_interval`` (call once the
        event loop runs, e.g. from ``start_server``)."""
        if self.retention_days <= 0 or self._retention is not None:
            return
        self._retention = PeriodicCallback(
            self.purge_expired, self.retention_interval * 1000, jitter=0.05
        )
        self._retention.start()
        IOLoop.current().add_callback(self.purge_expired)

    def stop_retention(self) -> None:
        """Stop the purge schedule (before the database executor shuts down)."""
        if self._retention is not None:
            self._retention.stop()
            self._retention = None

    async def purge_expired(self) -> int:
        """Delete raw events older than ``retention_days``; returns how many."""
        loop = asyncio.get_running_loop()
        if self.retention_days <= 0:
            return 0
        try:
            assert self.store is not None  # set by initialize
            purge = await loop.run_in_executor(
                self.db_executor, begin_purge, self.store, self.retention_days
            )
            purged = 0
            # one chunk per turn of the executor: requests are served in between
            while not purge.finished:
                purged += await loop.run_in_executor(
                    self.db_executor, purge_chunk, self.store, purge
                )
        except Exception:
            self.log.exception("could not purge expired events")
            return 0
        if purged:
            self.log.info("deleted %d raw events older than %d days", purged, self.retention_days)
        return purged

    # -- the consortium ---------------------------------------------------------------------

    consortium_url = Unicode(
        "",
        config=True,
        help="""Address of the consortium service this hub publishes its monthly summaries to
        (aggregates only, suppressed with min_group_size at the source), e.g.
        https://staff.example.org/services/consortium/. Empty: nothing is published.""",
    )
    consortium_token_file = Unicode(
        "",
        config=True,
        help="""File holding this hub's consortium credential (from `catalyst-hub consortium
        credential create`); read at every send, so a new credential needs no restart.""",
    )
    consortium_token = Unicode(
        config=True,
        help="The credential itself, when not in a file. Default: $CATALYST_CONSORTIUM_TOKEN.",
    )

    @default("consortium_token")
    def _default_consortium_token(self) -> str:
        return os.environ.get("CATALYST_CONSORTIUM_TOKEN", "")

    consortium_public_communities = List(
        Unicode(),
        config=True,
        help="""Communities whose champions chose a public page on the consortium (its
        figures as the consortium has them, for anyone with the link).""",
    )
    consortium_interval = Float(
        300.0, config=True, help="Seconds between two computations of the current months."
    )
    consortium_sweep = Float(
        24 * 3600.0,
        config=True,
        help="Seconds between two computations of every month (late events, erasures).",
    )
    consortium_poll = Float(5.0, config=True, help="Seconds between two looks at due retries.")
    consortium_backoff = Float(10.0, config=True, help="First retry delay after a failed send.")
    consortium_backoff_max = Float(3600.0, config=True, help="Longest retry delay.")
    consortium_timeout = Float(30.0, config=True, help="Seconds one send may take.")
    publisher = Any(None, allow_none=True)

    def consortium_credential(self) -> str:
        if self.consortium_token_file:
            return Path(self.consortium_token_file).read_text("utf-8").strip()
        return self.consortium_token

    # -------------------------------------------------------------------------------------------

    hub_auth = Instance(HubOAuth)
    checkpointer = Instance(WalCheckpointer, allow_none=True)
    db_executor = Instance(ThreadPoolExecutor)
    ingest_executor = Instance(ThreadPoolExecutor)
    ingestor = Instance(Ingestor)
    #: members seen logged in today (an authenticated request records the "Log in" step)
    logins = Instance(LoginRecorder, args=())
    group_commit = Instance(GroupCommit)
    collector = Instance(Collector, allow_none=True)
    #: sends the hub's xAPI statements to ``lrs_url`` (None without one)
    forwarder = Instance("catalyst_hub.interop.forwarder.Forwarder", allow_none=True)
    rate_limiter = Instance(RateLimiter)

    @default("db_executor")
    def _default_executor(self) -> ThreadPoolExecutor:
        # One thread on SQLite, which has one writer anyway (ingest has its own thread below:
        # SQLite's lock, with the engine's busy timeout, takes turns between the two).
        return ThreadPoolExecutor(
            max_workers=4 if self.is_postgres else 1, thread_name_prefix="catalyst-db"
        )

    @default("ingest_executor")
    def _default_ingest_executor(self) -> ThreadPoolExecutor:
        # Ingest's writer: one group of batches at a time (GroupCommit), so the other database
        # work (who is asking, reports) does not queue behind the stores of ingest requests.
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalyst-ingest")

    @default("hub_auth")
    def _default_hub_auth(self) -> HubOAuth:
        return HubOAuth(parent=self, base_url=self.service_prefix, cache_max_age=60)

    def initialize(self, argv: list[str] | None = None) -> None:
        super().initialize(argv)
        self.init_store(check=True)
        assert self.store is not None and self.engine is not None
        logs.install(self.log, self.store.pseudonym)
        if WalCheckpointer.applies_to(self.engine):
            self.checkpointer = WalCheckpointer(self.engine)
            self.checkpointer.start()
        self.store.consent_mode = self.consent_mode
        self.store.notice_version = self.consent_notice_version
        self.ingestor = Ingestor(self.store)
        self.group_commit = GroupCommit(self.ingestor, self.ingest_executor)
        self.rate_limiter = RateLimiter(
            self.rate_limit, self.rate_burst, self.rate_limit_bytes, self.rate_burst_bytes
        )
        if self.rate_limit_bytes > 0 and self.rate_burst_bytes < self.max_body_bytes:
            self.log.warning(
                "CatalystService.rate_burst_bytes (%d) is below max_body_bytes (%d): requests "
                "larger than the burst are never accepted",
                self.rate_burst_bytes,
                self.max_body_bytes,
            )
        self.init_badges()
        if self.collector_enabled and self.hub_auth.api_token:
            self.collector = Collector(parent=self, app=self)
        if self.lrs_url:
            self.forwarder = self.make_forwarder()

    def make_forwarder(self) -> Forwarder:
        from ..interop.forwarder import Forwarder, read_credentials

        username, password = self.lrs_username, self.lrs_password
        if self.lrs_credentials_file:
            username, password = read_credentials(self.lrs_credentials_file)
        assert self.store is not None  # made by init_store, before the forwarder
        return Forwarder(
            self.store,
            self.hub_url,
            self.lrs_url,
            username,
            password,
            batch_size=self.lrs_batch_size,
            interval=self.lrs_interval,
            backoff_max=self.lrs_backoff_max,
            # a thread of its own: a round lists every statement of the hub (about a second
            # per 100,000), which must not hold up the requests' database work
            executor=ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalyst-xapi"),
        )

    def handlers(self) -> list[tuple]:
        prefix = self.service_prefix
        return [(url_path_join(prefix, pattern), handler) for pattern, handler in default_handlers]

    def make_app(self) -> web.Application:
        catalyst: Service = self  # all the handlers use of the service
        return BodyLimitedApplication(
            self.handlers(),
            catalyst=catalyst,
            hub_auth=self.hub_auth,
            cookie_secret=os.urandom(32),
            xsrf_cookies=False,  # HubOAuth does its own xsrf checks on cookie-authenticated requests
            jinja_env=make_environment(self.extra_template_paths),
            default_handler_class=pages.NotFoundPage,
            static_path=str(Path(__file__).parent / "static"),
            static_handler_class=StaticFiles,
            static_url_prefix=url_path_join(self.service_prefix, "static/"),
            log_function=self._log_request,
            # HTML, JSON, CSV and SVG shrink 4-8 times: many members are on slow links
            compress_response=True,
        )

    def _log_request(self, handler: web.RequestHandler) -> None:
        status = handler.get_status()
        log = self.log.info if status < 400 else self.log.warning
        if status < 300 and (
            handler.request.method == "GET" or isinstance(handler, api.EventsHandler)
        ):
            # reads, and the batches every server sends every few seconds (as JupyterHub
            # logs its servers' activity reports): routine, at debug level
            log = self.log.debug
        # the path only: query strings may carry tokens; and not a path no route knows,
        # which is whatever a client typed (a username, say)
        path = "[unknown path]" if isinstance(handler, pages.NotFoundPage) else handler.request.path
        log(
            "%d %s %s %.1fms",
            status,
            handler.request.method,
            path,
            1000 * handler.request.request_time(),
        )

    async def start_server(self) -> httpserver.HTTPServer:
        """Listen and start the collector; returns the server (tests stop it)."""
        parsed = urlparse(self.url)
        # Bodies declared too large are answered by the service's own 413 (see
        # BodyLimitedApplication); this limit, above the service's, only bounds bodies sent
        # in chunks, whose size is not known in advance.
        self.http_server = httpserver.HTTPServer(
            self.make_app(), max_body_size=self.max_body_bytes * 2, xheaders=True
        )
        self.http_server.listen(parsed.port or 80, parsed.hostname or "127.0.0.1")
        self.log.info("catalyst service listening on %s (prefix %s)", self.url, self.service_prefix)
        if self.collector:
            self.collector.start()
        self.start_retention()
        if self.consortium_url:
            from .publisher import Publisher

            self.publisher = Publisher(parent=self, app=self)
            self.publisher.start()
        if self.forwarder:
            self.forwarder.start()
        return self.http_server

    async def stop(self) -> None:
        self.stop_retention()
        if self.publisher is not None:
            await self.publisher.stop()
        if self.checkpointer is not None:
            self.checkpointer.stop()
        if self.collector:
            await self.collector.stop()
        if self.forwarder:
            await self.forwarder.stop()
            self.forwarder.executor.shutdown(wait=True)
        if getattr(self, "http_server", None):
            self.http_server.stop()
        self.ingest_executor.shutdown(wait=True)
        self.db_executor.shutdown(wait=True)
        assert self.engine is not None  # set by initialize
        self.engine.dispose()

    def start(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        await self.start_server()
        tune_garbage_collector()
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        # JupyterHub stops managed services with SIGINT, which a background process ignores
        # by default: handle both it and SIGTERM.
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped.set)
        await stopped.wait()
        self.log.info("catalyst service stopping")
        await self.stop()
