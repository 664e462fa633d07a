"""``catalyst-hub consortium``: the consortium service (a JupyterHub service on the staff's
hub), and its commands for credentials and the database.

Routes, relative to the service prefix:

- ``PUT api/v1/summaries/<YYYY-MM>``: a hub's summary of a month, authenticated by the hub's
  own credential (``Authorization: Bearer cch_...``), never by a JupyterHub token. The
  credential names the hub: a document of another hub is refused (403), a revoked or unknown
  credential too (401), an invalid document (400), each with a JSON message.
- ``api/v1/credentials`` (``custom:consortium:admin``): list, create (``POST {"hub"}``; the
  token is shown once), revoke (``DELETE api/v1/credentials/<id>``).
- Pages, each also ``.csv`` (``?table=``) and ``.json`` (``custom:consortium:read``): the
  overview of a month (``?month=``), ``trends``, ``funder`` (``?quarter=2026-Q4``), a
  community's page ``hubs/<hub>/<community>``; ``metrics`` for Prometheus.
- ``public/<hub>/<community>``: the page of a community whose hub publishes it as public
  (its champion's choice, or ``c.CatalystService.consortium_public_communities``), for
  anyone; the overview links to it (``workflows.consortium.public_page_path``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from functools import partial
from http.client import responses
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

import orjson
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import httpserver, web
from traitlets import Bool, Dict, Float, Instance, Integer, List, Unicode, default
from traitlets.config import Application, catch_config_error

from .. import __version__
from ..i18n import LANGUAGE_NAMES, LANGUAGES, gettext_for, negotiate
from ..reports.charts import line_chart
from ..reports.export import DataTable
from ..service.base import StaticFiles, set_security_headers
from ..service.handlers.base import format_value, send_csv
from ..store import make_engine
from ..timeutil import utcnow
from . import reports, scopes
from .store import (
    ConsortiumStore,
    InvalidJSON,
    PreparedSummary,
    SummaryError,
    WrongHub,
    check_current,
    parser_ready,
    read_summary,
    upgrade,
)

HERE = Path(__file__).parent
SERVICE_STATIC = HERE.parent / "service" / "static"
FORMATS = ("html", "csv", "json")
SUFFIX = r"(?:\.(?P<suffix>csv|json))?"
NAME = r"[^/]+"


class ConsortiumBase(Application):
    """What every consortium command shares: its config file and database."""

    version = __version__
    aliases = {
        "config": "ConsortiumBase.config_file",
        "db-url": "ConsortiumBase.db_url",
        "data-dir": "ConsortiumBase.data_dir",
        "log-level": "Application.log_level",
    }

    @default("log_level")
    def _default_log_level(self):
        return "INFO"

    config_file = Unicode("", config=True, help="A Python config file to load (traitlets).")
    data_dir = Unicode(config=True, help="Folder of the SQLite database (default: here).")

    @default("data_dir")
    def _default_data_dir(self):
        return os.getcwd()

    db_url = Unicode(
        config=True,
        help="""The consortium's database: SQLite `consortium.sqlite` in data_dir by
        default, or postgresql://... (psycopg 3) for a real deployment.""",
    )

    @default("db_url")
    def _default_db_url(self):
        return f"sqlite:///{Path(self.data_dir) / 'consortium.sqlite'}"

    @catch_config_error
    def initialize(self, argv=None) -> None:
        super().initialize(argv)
        if self.subapp is not None:
            return
        if self.config_file:
            self.load_config_file(self.config_file)
            # the command line wins over the file
            self.update_config(self.cli_config)

    def init_store(self, migrate: bool = False) -> ConsortiumStore:
        self.engine = make_engine(self.db_url)
        if migrate:
            upgrade(self.engine)
        check_current(self.engine)
        self.store = ConsortiumStore(self.engine)
        return self.store


class CredentialApp(ConsortiumBase):
    name = "catalyst-hub consortium credential"
    description = """Hubs' credentials: `create HUB` (prints the token once: give it to the
    hub's `c.CatalystService.consortium_token_file`), `revoke ID`, `list`."""

    def start(self) -> None:
        store = self.init_store(migrate=True)
        args = list(self.extra_args)
        action = args[0] if args else "list"
        if action == "create" and len(args) == 2:
            cid, token = store.create_credential(args[1], "command line", utcnow())
            print(f"credential {cid} of hub {args[1]}:")
            print(token)
        elif action == "revoke" and len(args) == 2:
            if not store.revoke_credential(args[1], utcnow()):
                self.log.critical("no credential %s", args[1])
                self.exit(1)
            print(f"credential {args[1]} revoked")
        elif action == "list" and len(args) == 1:
            for c in store.credentials():
                state = f"revoked {c.revoked:%Y-%m-%d}" if c.revoked else "active"
                print(f"{c.id}  {c.hub}  created {c.created:%Y-%m-%d}  {state}")
        else:
            print(self.description, file=sys.stderr)
            self.exit(2)


class ConsortiumService(ConsortiumBase):
    name = "catalyst-hub consortium"
    description = """Run the consortium service (a JupyterHub managed or external service on
    the staff's hub): hubs publish their summaries to it, staff read them side by side."""
    subcommands = {"credential": (CredentialApp, CredentialApp.description)}
    aliases = {**ConsortiumBase.aliases, "url": "ConsortiumService.url"}
    flags = {
        "upgrade-db": (
            {"ConsortiumService": {"upgrade_db": True}},
            "Create or migrate the consortium's tables first.",
        )
    }
    classes = [HubOAuth]

    url = Unicode(config=True, help="Where the service listens (default $JUPYTERHUB_SERVICE_URL).")

    @default("url")
    def _default_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:8090")

    service_prefix = Unicode(
        config=True, help="URL prefix of the service (default $JUPYTERHUB_SERVICE_PREFIX)."
    )

    @default("service_prefix")
    def _default_prefix(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/consortium/")

    service_name = Unicode(config=True, help="The service's name on the hub.")

    @default("service_name")
    def _default_service_name(self):
        return os.environ.get("JUPYTERHUB_SERVICE_NAME", "consortium")

    upgrade_db = Bool(False, config=True, help="Create or migrate the tables at start.")

    hubs = Dict(
        config=True,
        help="""The member hubs: {hub id: {"name": display name, "region": region}}. The id
        is the hub's c.CatalystApp.hub_name; hubs not named here show their id.""",
    )
    max_body_bytes = Integer(
        16 * 1024 * 1024, config=True, help="Largest summary document accepted (413 beyond)."
    )
    trend_months = Integer(12, config=True, help="Months the trends page shows.")
    extra_template_paths = List(Unicode(), config=True, help="Template folders searched first.")
    metrics_cache = Float(10.0, config=True, help="Seconds a Prometheus scrape is cached.")
    #: (when, text) of the last scrape, kept ``metrics_cache`` seconds
    metrics_body: tuple[float, str] | None = None

    hub_auth = Instance(HubOAuth)
    executor = Instance(ThreadPoolExecutor)
    parse_processes = Integer(
        1,
        config=True,
        help="Processes that parse and validate the summaries hubs send (CPU work, kept "
        "out of the service's process so that its database threads never wait on it for "
        "Python's lock); 0 parses in a thread of the service.",
    )
    #: parsing and validating summaries: never on the event loop, nor in ``executor`` where
    #: it would hold up the database's work
    parse_executor = Instance(Executor)

    @default("hub_auth")
    def _default_hub_auth(self):
        return HubOAuth(parent=self, base_url=self.service_prefix, cache_max_age=60)

    @default("executor")
    def _default_executor(self):
        # SQLite has one writer: threads would only wait for each other's locks
        sqlite = self.db_url.startswith("sqlite")
        return ThreadPoolExecutor(
            max_workers=1 if sqlite else 4, thread_name_prefix="consortium-db"
        )

    @default("parse_executor")
    def _default_parse_executor(self):
        if self.parse_processes <= 0:
            return ThreadPoolExecutor(max_workers=2, thread_name_prefix="consortium-parse")
        # spawned, not forked: the service has threads (a fork copies their locks)
        return ProcessPoolExecutor(
            max_workers=self.parse_processes, mp_context=multiprocessing.get_context("spawn")
        )

    async def parse_summary(self, body: bytes, month: str) -> PreparedSummary:
        """``read_summary`` in ``parse_executor``; a parsing process that died (out of
        memory) is replaced, and the request answered 503 for its hub to send again."""
        loop = asyncio.get_running_loop()
        executor = self.parse_executor
        try:
            return await loop.run_in_executor(executor, read_summary, body, month)
        except BrokenProcessPool:
            if self.parse_executor is executor:
                self.log.error("consortium: a parsing process died; starting another")
                self.parse_executor = self._default_parse_executor()
                executor.shutdown(wait=False)
            raise

    def initialize(self, argv=None) -> None:
        super().initialize(argv)
        if self.subapp is not None:
            return
        self.init_store(migrate=self.upgrade_db)

    def handlers(self) -> list[tuple]:
        routes = [
            (r"api/v1/summaries/([0-9]{4}-[0-9]{2})", SummariesHandler),
            (r"api/v1/credentials", CredentialsHandler),
            (rf"api/v1/credentials/({NAME})", CredentialHandler),
            (r"oauth_callback", OAuthCallback),
            (r"metrics", MetricsHandler),
            (rf"trends{SUFFIX}", TrendsPage),
            (rf"funder{SUFFIX}", FunderPage),
            (rf"hubs/(?P<hub>{NAME})/(?P<community>[^/]+?){SUFFIX}", CommunityPage),
            (rf"public/(?P<hub>{NAME})/(?P<community>[^/]+?){SUFFIX}", PublicPage),
            (rf"(?:overview)?{SUFFIX}", OverviewPage),
        ]
        return [(url_path_join(self.service_prefix, p), h) for p, h in routes]

    def make_app(self) -> web.Application:
        loaders = [FileSystemLoader(p) for p in self.extra_template_paths]
        env = Environment(
            loader=ChoiceLoader([*loaders, FileSystemLoader(str(HERE / "templates"))]),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        return web.Application(
            self.handlers(),
            consortium=self,
            hub_auth=self.hub_auth,
            cookie_secret=os.urandom(32),
            jinja_env=env,
            static_path=str(SERVICE_STATIC),
            static_handler_class=StaticFiles,
            static_url_prefix=url_path_join(self.service_prefix, "static/"),
            default_handler_class=NotFound,
            log_function=self._log_request,
            compress_response=True,
        )

    def _log_request(self, handler: web.RequestHandler) -> None:
        status = handler.get_status()
        log = self.log.debug if status < 400 else self.log.warning
        path = "[unknown path]" if isinstance(handler, NotFound) else handler.request.path
        log(
            "%d %s %s %.1fms",
            status,
            handler.request.method,
            path,
            1000 * handler.request.request_time(),
        )

    async def start_server(self) -> httpserver.HTTPServer:
        parsed = urlparse(self.url)
        # the parsing process started (and its validator compiled) before the first hub
        # sends: not on that hub's request
        await asyncio.get_running_loop().run_in_executor(self.parse_executor, parser_ready)
        self.http_server = httpserver.HTTPServer(
            self.make_app(), max_body_size=self.max_body_bytes, xheaders=True
        )
        self.http_server.listen(parsed.port or 80, parsed.hostname or "127.0.0.1")
        self.log.info("consortium service on %s (prefix %s)", self.url, self.service_prefix)
        return self.http_server

    async def stop(self) -> None:
        if getattr(self, "http_server", None):
            self.http_server.stop()
        self.parse_executor.shutdown(wait=True)
        self.executor.shutdown(wait=True)
        self.engine.dispose()

    def start(self) -> None:
        if self.subapp is not None:
            self.subapp.start()
            return
        asyncio.run(self._run())

    async def _run(self) -> None:
        await self.start_server()
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped.set)
        await stopped.wait()
        self.log.info("consortium service stopping")
        await self.stop()


# -- handlers -----------------------------------------------------------------------------


class Handler(web.RequestHandler):
    """What every answer shares: the app, the language, JSON errors for the API."""

    @property
    def consortium(self) -> ConsortiumService:
        return self.settings["consortium"]

    @property
    def log(self):
        return self.consortium.log

    def set_default_headers(self) -> None:
        set_security_headers(self)
        self.set_header("Cache-Control", "no-store")

    @property
    def language(self) -> str:
        if not hasattr(self, "_language"):
            requested = self.get_argument("lang", None)
            self._language = negotiate(requested, self.request.headers.get("Accept-Language"))
        return self._language

    @property
    def _(self):
        return gettext_for(self.language)

    async def run_db(self, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.consortium.executor, partial(fn, *args, **kwargs))

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(orjson.dumps(data, default=_json_default))

    def json_error(self, status_code: int, **kwargs: Any) -> None:
        message = responses.get(status_code, "Error")
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        if status_code == 503:
            self.set_header("Retry-After", "30")
        self.finish(orjson.dumps({"status": status_code, "message": message}))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.json_error(status_code, **kwargs)

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, web.HTTPError):
            return
        self.log.error(
            "Uncaught exception in %s %s",
            self.request.method,
            self.request.path,
            exc_info=(typ, value, tb),
        )


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


class NotFound(Handler):
    def prepare(self) -> None:
        raise web.HTTPError(404, self._("Not found"))


class SummariesHandler(Handler):
    """``PUT api/v1/summaries/<YYYY-MM>``: a hub's month, with the hub's own credential."""

    def check_xsrf_cookie(self) -> None:
        return None  # credentials in a header, never cookies

    async def put(self, month: str) -> None:
        auth = self.request.headers.get("Authorization", "")
        kind, _, token = auth.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise web.HTTPError(
                401, self._("Send the hub's consortium credential as a Bearer token.")
            )
        app = self.consortium
        hub, state = await self.run_db(app.store.authenticate, token.strip(), utcnow())
        if hub is None:
            message = (
                self._("This credential has been revoked.")
                if state == "revoked"
                else self._("Unknown credential.")
            )
            raise web.HTTPError(401, message)
        if len(self.request.body) > app.max_body_bytes:
            raise web.HTTPError(413, self._("The document is too large."))
        try:
            summary = await app.parse_summary(self.request.body, month)
        except BrokenProcessPool:
            raise web.HTTPError(
                503, self._("The consortium could not read the document now: send it again.")
            ) from None
        except InvalidJSON as e:
            raise web.HTTPError(
                400, self._("Request body is not valid JSON: {error}", error=str(e))
            ) from None
        except SummaryError as e:
            raise web.HTTPError(400, self._("Invalid summary: {error}", error=str(e))) from None
        if summary.hub != hub:
            raise web.HTTPError(
                403,
                self._(
                    "This credential is hub {hub}'s: it may not write another hub's figures.",
                    hub=hub,
                ),
            )
        try:
            result = await self.run_db(
                app.store.store_prepared,
                hub,
                summary,
                utcnow(),
                app.store.authenticate_id(token.strip()),
            )
        except WrongHub:
            raise web.HTTPError(
                403, self._("This credential may not write another hub's figures.")
            ) from None
        self.write_json(
            {"hub": hub, "month": month, "sequence": summary.sequence, "result": result}
        )


class AuthHandler(HubOAuthenticated, Handler):
    """Staff and admins, through JupyterHub (HubOAuth: cookies for browsers, tokens)."""

    @property
    def hub_auth(self):
        return self.settings["hub_auth"]

    @hub_auth.setter
    def hub_auth(self, auth):
        self.settings["hub_auth"] = auth

    async def prepare(self) -> None:
        model = await self.hub_auth.get_user(self, sync=False)
        self._not_allowed = False
        if model:
            try:
                model = self.check_hub_user(model)
            except Exception:  # the token may not use this service at all
                self._not_allowed, model = True, None
        self._hub_auth_user_cache = model

    def get_current_user(self):
        return getattr(self, "_hub_auth_user_cache", None)

    @property
    def held(self) -> set[str]:
        return set((self.current_user or {}).get("scopes", []))

    def require(self, scope: str) -> None:
        if self.current_user is None:
            if getattr(self, "_not_allowed", False):
                raise web.HTTPError(
                    403,
                    self._(
                        "This token may not use this service: it needs the scope {scope}.",
                        scope=f"access:services!service={self.consortium.service_name}",
                    ),
                )
            raise web.HTTPError(401, self._("Authentication required: send a JupyterHub token."))
        if scope not in self.held:
            raise web.HTTPError(403, self._("This needs the scope {scope}", scope=scope))


class CredentialsHandler(AuthHandler):
    def check_xsrf_cookie(self):
        if getattr(self, "_token_authenticated", False):
            return None
        return super().check_xsrf_cookie()

    async def get(self) -> None:
        self.require(scopes.ADMIN)
        creds = await self.run_db(self.consortium.store.credentials)
        self.write_json({"credentials": [c.to_json() for c in creds]})

    async def post(self) -> None:
        self.require(scopes.ADMIN)
        try:
            body = orjson.loads(self.request.body or b"{}")
        except orjson.JSONDecodeError as e:
            raise web.HTTPError(
                400, self._("Request body is not valid JSON: {error}", error=str(e))
            ) from None
        hub = body.get("hub") if isinstance(body, dict) else None
        if not isinstance(hub, str) or not 0 < len(hub) <= 64 or any(ch in hub for ch in "/@\0\n"):
            raise web.HTTPError(400, self._('Name the hub in the body: "hub" is its hub_name.'))
        cid, token = await self.run_db(
            self.consortium.store.create_credential,
            hub,
            self.current_user.get("name", "?"),
            utcnow(),
        )
        self.write_json({"id": cid, "hub": hub, "token": token}, status=201)


class CredentialHandler(CredentialsHandler):
    async def delete(self, cid: str) -> None:
        self.require(scopes.ADMIN)
        if not await self.run_db(self.consortium.store.revoke_credential, cid, utcnow()):
            raise web.HTTPError(404, self._("No credential {id}.", id=cid))
        self.set_status(204)
        self.finish()


class OAuthCallback(HubOAuthCallbackHandler):
    @property
    def hub_auth(self):
        return self.settings["hub_auth"]


class Page(AuthHandler):
    """A page that is also CSV and JSON, for ``custom:consortium:read``."""

    scope: str | None = scopes.READ

    @property
    def fmt(self) -> str:
        suffix = (self.path_kwargs or {}).get("suffix")
        fmt = suffix or self.get_query_argument("format", "html")
        return fmt if fmt in FORMATS else "html"

    def get_login_url(self) -> str:
        if self.fmt != "html" or getattr(self, "_not_allowed", False):
            self.require(scopes.READ)
        return super().get_login_url()

    async def check_access(self) -> None:
        if self.scope is None:
            return
        if (
            self.current_user is None
            and self.fmt == "html"
            and not getattr(self, "_not_allowed", False)
        ):
            # HubOAuth's login URL carries the state (with this page to come back to)
            self.redirect(self.get_login_url())
            raise web.Finish()
        self.require(self.scope)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if self.fmt != "html":
            return self.json_error(status_code, **kwargs)
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        message = responses.get(status_code, "Error")
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.set_status(status_code)
        self.finish(self.render_page("consortium/error.html", status=status_code, message=message))

    def context(self) -> dict[str, Any]:
        app = self.consortium
        prefix = app.service_prefix
        model = self.current_user or {}
        return {
            "_": self._,
            "lang": self.language,
            "languages": [(c, LANGUAGE_NAMES[c]) for c in LANGUAGES],
            "static": self.static_url,
            "url": lambda path="": url_path_join(prefix, path),
            "hub_home": url_path_join(app.hub_auth.hub_prefix, "home"),
            "user_name": model.get("name"),
            "staff": scopes.READ in self.held,
            "fmt_value": format_value(self._),
            "export_url": self.export_url,
            "json_url": self.link("json"),
        }

    def render_page(self, template: str, **context: Any) -> str:
        env: Environment = self.settings["jinja_env"]
        return env.get_template(template).render({**self.context(), **context})

    def link(self, fmt: str, table: str | None = None) -> str:
        args = {
            k: v[-1].decode()
            for k, v in self.request.query_arguments.items()
            if k not in ("format", "table")
        }
        args["format"] = fmt
        if table:
            args["table"] = table
        return self.request.path + "?" + urlencode(args)

    def export_url(self, table: DataTable) -> str:
        return self.link("csv", table.id)

    def answer(
        self,
        template: str,
        tables: list[DataTable],
        data: dict[str, Any],
        filename: str,
        **context: Any,
    ) -> None:
        if self.fmt == "json":
            self.write_json({**data, "tables": {t.id: t.records() for t in tables}})
            return
        if self.fmt == "csv":
            send_csv(self, tables, filename, self._)
            return
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(self.render_page(template, tables=tables, **data, **context))


class OverviewPage(Page):
    async def get(self, suffix: str | None = None) -> None:
        await self.check_access()
        store = self.consortium.store
        months = await self.run_db(store.months)
        requested = self.get_query_argument("month", None)
        if requested:
            try:
                month = reports.parse_month(requested)
            except ValueError:
                raise web.HTTPError(400, self._("month must be YYYY-MM")) from None
        else:
            month = months[-1] if months else utcnow().date().replace(day=1)
        hub = self.get_query_argument("hub", None) or None
        region = self.get_query_argument("region", None) or None
        tables = await self.run_db(
            reports.overview, store, month, self.consortium.hubs, self._, hub, region
        )
        self.answer(
            "consortium/overview.html",
            tables,
            {"month": reports.month_label(month)},
            f"consortium-{reports.month_label(month)}",
            months=[reports.month_label(m) for m in months],
            hub=hub,
            region=region,
            hub_choices=sorted(
                ((h, reports.hub_info(self.consortium.hubs, h).name) for h in self.consortium.hubs),
                key=lambda c: c[1],
            ),
        )


class TrendsPage(Page):
    async def get(self, suffix: str | None = None) -> None:
        await self.check_access()
        store = self.consortium.store
        months = await self.run_db(store.months)
        last = months[-1] if months else utcnow().date().replace(day=1)
        count = self.consortium.trend_months
        tables = await self.run_db(reports.trends, store, last, count, self.consortium.hubs, self._)
        _ = self._
        table, by_region = tables
        labels = [r[0] for r in table.rows]
        cols = [c.key for c in table.columns]
        chart = line_chart(
            "trend-active",
            _("Active members per month"),
            _("Active members of every hub, month by month (totals of the figures shown)."),
            labels,
            [
                (_("Active members"), [r[cols.index("active_members")] for r in table.rows]),
                (_("New members"), [r[cols.index("new_members")] for r in table.rows]),
            ],
            _("Month"),
            _("Members"),
        )
        self.answer(
            "consortium/trends.html",
            tables,
            {"last": reports.month_label(last)},
            "consortium-trends",
            chart=chart,
        )


class FunderPage(Page):
    async def get(self, suffix: str | None = None) -> None:
        await self.check_access()
        requested = self.get_query_argument("quarter", None)
        try:
            year, quarter = (
                reports.parse_quarter(requested)
                if requested
                else reports.quarter_of(utcnow().date())
            )
        except ValueError:
            raise web.HTTPError(400, self._("quarter must be like 2026-Q4")) from None
        tables = await self.run_db(
            reports.funder, self.consortium.store, year, quarter, self.consortium.hubs, self._
        )
        label = f"{year}-Q{quarter}"
        self.answer(
            "consortium/funder.html", tables, {"quarter": label}, f"consortium-funder-{label}"
        )


class CommunityPage(Page):
    public = False

    async def get(self, hub: str, community: str, suffix: str | None = None) -> None:
        await self.check_access()
        store = self.consortium.store
        if self.public and not await self.run_db(store.is_public, hub, community):
            raise web.HTTPError(404, self._("No public page for {community}.", community=community))
        tables, rows = await self.run_db(reports.community_report, store, hub, community, self._)
        if not rows:
            raise web.HTTPError(404, self._("No community called {name}.", name=community))
        info = reports.hub_info(self.consortium.hubs, hub)
        self.answer(
            "consortium/community.html",
            tables,
            {"hub": info.name, "region": info.region, "community": community},
            f"{hub}-{community}",
            public=self.public,
        )


class PublicPage(CommunityPage):
    scope = None
    public = True


class MetricsHandler(AuthHandler):
    """Prometheus: each community's figures of the latest month, labelled hub, community and
    region; a hidden figure is left out (missing means hidden, not zero)."""

    _cache: tuple[float, bytes] | None = None

    async def get(self) -> None:
        self.require(scopes.READ)
        import time

        app = self.consortium
        cached = app.metrics_body
        if cached is None or time.monotonic() - cached[0] > app.metrics_cache:
            body = await self.run_db(_metrics_text, app.store, app.hubs)
            app.metrics_body = cached = (time.monotonic(), body)
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(cached[1])


def _metrics_text(store: ConsortiumStore, hubs) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily

    months = store.months()
    rows = store.month_rows(months[-1]) if months else []
    names = {
        "members": "Members of the community at the month's end (or today)",
        "active_members": "Members active in the month so far",
        "new_members": "Members first seen in the month",
        "activated_in_period": "Members who completed the checklist in the month",
        "learners": "Members with training progress",
        "episodes_completed": "Training episodes completed in the month",
        "champions_trained": "Members who completed the champion training in the month",
        "sessions": "Server sessions started in the month",
        "server_hours": "Server-hours of the month's sessions",
        "badges_issued": "Open Badges issued in the month (absent where the hub sends none)",
    }

    class Collector:
        def collect(self):
            for key, doc in names.items():
                g = GaugeMetricFamily(
                    f"consortium_{key}", doc, labels=["hub", "community", "region"]
                )
                for r in rows:
                    if r[key] is not None:
                        g.add_metric(
                            [r["hub"], r["community"], reports.hub_info(hubs, r["hub"]).region],
                            r[key],
                        )
                yield g

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector())
    return generate_latest(registry)


def main(argv: list[str] | None = None) -> None:
    app = ConsortiumService.instance()
    app.initialize(argv)
    app.start()
