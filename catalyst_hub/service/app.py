"""The catalyst service Application, run by JupyterHub as a managed service."""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import httpserver, web
from traitlets import Bool, Float, Instance, Integer, List, Unicode, default

from ..catalyst_app import CatalystApp
from ..ingest import Ingestor
from . import api, pages, reports_api
from .collector import Collector
from .limits import RateLimiter
from .render import make_environment


class CatalystService(CatalystApp):
    name = "catalyst-hub-service"
    description = """Run the catalyst service (normally started by JupyterHub as a managed
    service: it reads JUPYTERHUB_SERVICE_URL, JUPYTERHUB_SERVICE_PREFIX and JUPYTERHUB_API_TOKEN)."""

    url = Unicode(
        config=True,
        help="URL the service listens on (default: $JUPYTERHUB_SERVICE_URL, else http://127.0.0.1:10101).",
    )

    @default("url")
    def _default_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")

    service_prefix = Unicode(
        config=True, help="URL prefix of the service on the hub (default: $JUPYTERHUB_SERVICE_PREFIX)."
    )

    @default("service_prefix")
    def _default_prefix(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/catalyst/")

    max_batch_events = Integer(1000, config=True, help="Most events accepted in one ingest request.")
    max_body_bytes = Integer(
        4 * 1024 * 1024, config=True, help="Largest ingest request body, in bytes (413 beyond)."
    )
    rate_limit = Float(
        2000.0, config=True, help="Events per second one member may send on average (0: no limit)."
    )
    rate_burst = Float(20000.0, config=True, help="Events one member may send in a burst.")
    collector_enabled = Bool(True, config=True, help="Poll the hub's REST API for server sessions.")

    extra_template_paths = List(
        Unicode(), config=True, help="Template folders searched before the packaged ones (restyle any page)."
    )

    hub_auth = Instance(HubOAuth)
    db_executor = Instance(ThreadPoolExecutor)
    ingestor = Instance(Ingestor)
    collector = Instance(Collector, allow_none=True)
    rate_limiter = Instance(RateLimiter)

    @default("db_executor")
    def _default_executor(self):
        # One writer thread: SQLite has one writer anyway, and it keeps ingest batches ordered.
        return ThreadPoolExecutor(max_workers=4 if self.is_postgres else 1, thread_name_prefix="catalyst-db")

    @default("hub_auth")
    def _default_hub_auth(self):
        return HubOAuth(parent=self, base_url=self.service_prefix, cache_max_age=60)

    def initialize(self, argv=None) -> None:
        super().initialize(argv)
        self.init_store(check=True)
        self.ingestor = Ingestor(self.store)
        self.rate_limiter = RateLimiter(self.rate_limit, self.rate_burst)
        if self.collector_enabled and self.hub_auth.api_token:
            self.collector = Collector(parent=self, app=self)

    def handlers(self) -> list[tuple]:
        prefix = self.service_prefix
        routes = [
            (r"api/?", api.InfoHandler),
            (r"api/events", api.EventsHandler),
            (r"api/me", api.MeHandler),
            (r"oauth_callback", HubOAuthCallbackHandler),
        ]
        routes += pages.handlers() + reports_api.handlers()
        return [(url_path_join(prefix, pattern), handler) for pattern, handler in routes]

    def make_app(self) -> web.Application:
        return web.Application(
            self.handlers(),
            catalyst=self,
            hub_auth=self.hub_auth,
            cookie_secret=os.urandom(32),
            xsrf_cookies=False,  # HubOAuth does its own xsrf checks on cookie-authenticated requests
            jinja_env=make_environment(self.extra_template_paths),
            static_path=str(Path(__file__).parent / "static"),
            static_url_prefix=url_path_join(self.service_prefix, "static/"),
            log_function=self._log_request,
        )

    def _log_request(self, handler: web.RequestHandler) -> None:
        status = handler.get_status()
        log = self.log.info if status < 400 else self.log.warning
        if status < 300 and handler.request.method == "GET":
            log = self.log.debug
        # the path only: query strings may carry tokens
        log("%d %s %s %.1fms", status, handler.request.method, handler.request.path, 1000 * handler.request.request_time())

    async def start_server(self) -> httpserver.HTTPServer:
        """Listen and start the collector; returns the server (tests stop it)."""
        parsed = urlparse(self.url)
        self.http_server = httpserver.HTTPServer(
            self.make_app(), max_body_size=self.max_body_bytes * 2, xheaders=True
        )
        self.http_server.listen(parsed.port or 80, parsed.hostname or "127.0.0.1")
        self.log.info("catalyst service listening on %s (prefix %s)", self.url, self.service_prefix)
        if self.collector:
            self.collector.start()
        return self.http_server

    async def stop(self) -> None:
        if self.collector:
            await self.collector.stop()
        if getattr(self, "http_server", None):
            self.http_server.stop()
        self.db_executor.shutdown(wait=True)
        self.engine.dispose()

    def start(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        await self.start_server()
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        # JupyterHub stops managed services with SIGINT, which a background process ignores
        # by default: handle both it and SIGTERM.
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped.set)
        await stopped.wait()
        self.log.info("catalyst service stopping")
        await self.stop()
