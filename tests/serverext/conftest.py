"""Fixtures: a Jupyter server with the catalyst_hub extension, and a small stand-in for the
catalyst service's ingest and progress API (for delivery corner cases that the real service
cannot be made to produce on demand: 503s, Retry-After, 413...). Tests against the real
service use the real-process harness (tests marked e2e)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from tornado import httpserver, web
from tornado.testing import bind_unused_port

from catalyst_hub.serverext.detectors import DETECTORS

pytest_plugins = ["pytest_jupyter.jupyter_server"]

TOKEN = "test-server-token"


class FakeService:
    """Records events like the service does (dedup by id) and answers as told."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str | None] = []
        self.responses: list[tuple[int, dict[str, str]]] = []  # forced (status, headers)
        self.invalid_ids: set[str] = set()
        self.refused_ids: set[str] = set()  # events this sender may not assert (403)
        self.max_batch: int | None = None
        self.up = True
        self.progress: dict[str, Any] = {
            "community": "hub",
            "language": "en",
            "consent": {"decision": None, "version": None},
            "steps": [],
            "steps_done": 0,
            "steps_total": 0,
            "training": {},
        }
        self.progress_requests: list[str] = []
        self.port = 0
        self.server: httpserver.HTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/catalyst/"

    def of(self, schema: str) -> list[dict[str, Any]]:
        return [e for e in self.events.values() if e["schema"] == schema]

    def actions(self) -> list[str]:
        return sorted(e["payload"]["action"] for e in self.of("action"))


class _EventsHandler(web.RequestHandler):
    def initialize(self, service: FakeService) -> None:
        self.service = service

    def post(self) -> None:
        s = self.service
        if not s.up:
            raise web.HTTPError(503)
        s.auth_headers.append(self.request.headers.get("Authorization"))
        batch = json.loads(self.request.body)["events"]
        s.requests.append({"count": len(batch)})
        if s.responses:
            status, headers = s.responses.pop(0)
            for k, v in headers.items():
                self.set_header(k, v)
            self.set_status(status)
            self.finish(json.dumps({"status": status, "message": "forced"}))
            return
        if s.max_batch is not None and len(batch) > s.max_batch:
            self.set_status(413)
            self.finish(json.dumps({"status": 413, "message": "too many"}))
            return
        refused = [e for e in batch if e["id"] in s.refused_ids]
        if refused:
            results = [
                {"id": e["id"], "status": "refused" if e in refused else "rejected"} for e in batch
            ]
            self.set_status(403)
            self.finish(json.dumps({"status": 403, "results": results}))
            return
        bad = [e for e in batch if e["id"] in s.invalid_ids]
        if bad:
            results = [
                {"id": e["id"], "status": "error" if e in bad else "rejected"} for e in batch
            ]
            self.set_status(400)
            self.finish(json.dumps({"results": results}))
            return
        results = []
        for e in batch:
            status = "duplicate" if e["id"] in s.events else "stored"
            s.events.setdefault(e["id"], e)
            results.append({"id": e["id"], "status": status})
        self.finish(json.dumps({"results": results}))


class _MeHandler(web.RequestHandler):
    def initialize(self, service: FakeService) -> None:
        self.service = service

    def get(self) -> None:
        if not self.service.up:
            raise web.HTTPError(503)
        self.service.progress_requests.append(self.get_argument("lang", ""))
        self.finish(
            json.dumps({**self.service.progress, "language": self.get_argument("lang", "en")})
        )


@pytest.fixture
def fake_service(jp_asyncio_loop) -> FakeService:
    service = FakeService()
    sock, service.port = bind_unused_port()
    app = web.Application(
        [
            (r"/services/catalyst/api/events", _EventsHandler, {"service": service}),
            (r"/services/catalyst/api/me", _MeHandler, {"service": service}),
        ]
    )

    async def listen() -> None:
        service.server = httpserver.HTTPServer(app)
        service.server.add_sockets([sock])

    jp_asyncio_loop.run_until_complete(listen())
    yield service
    service.server.stop()


@pytest.fixture
def catalyst_config(tmp_path) -> dict[str, Any]:
    """Extra CatalystExtension / detector config for a test (override or mutate)."""
    return {}


@pytest.fixture
def jp_server_config(fake_service, tmp_path, catalyst_config) -> dict[str, Any]:
    config: dict[str, Any] = {
        "ServerApp": {"jpserver_extensions": {"catalyst_hub.serverext": True}},
        "CatalystExtension": {
            "service_url": fake_service.url,
            "api_token": TOKEN,
            "outbox_path": str(tmp_path / "outbox" / "outbox.sqlite"),
            "flush_interval": 0.05,
            "progress_cache_seconds": 0.0,
            # the server's own start and stop are tested in test_live_steps.py: the other
            # tests see only what they do themselves
            "enabled_detectors": sorted(set(DETECTORS) - {"server"}),
        },
        "Outbox": {"retry_base_seconds": 0.05, "retry_max_seconds": 0.2, "auth_retry_seconds": 0.2},
        "GitDetector": {"poll_seconds": 0.1},
        "Recorder": {"activity_window_seconds": 3600},
    }
    for section, values in catalyst_config.items():
        config.setdefault(section, {}).update(values)
    return config


@pytest.fixture
def catalyst(jp_serverapp, jp_asyncio_loop):
    """The started extension (pytest-jupyter does not run the servers' async start hooks)."""
    jp_asyncio_loop.run_until_complete(jp_serverapp.extension_manager.start_all_extensions())
    return jp_serverapp.extension_manager.extension_points["catalyst_hub"].app


async def wait_for(
    predicate: Callable[[], Any], timeout: float = 15.0, message: str = "condition"
) -> Any:
    """Poll until predicate() is truthy (no timing assertions: the timeout only stops a hang)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.05)


async def settle(catalyst, seconds: float = 0.3) -> None:
    """Let listeners run, write to disk and deliver: used before asserting that nothing
    was sent."""
    await asyncio.sleep(seconds)
    await catalyst.recorder.drain()
    catalyst.outbox.kick()
    await asyncio.sleep(seconds)


def new_id() -> str:
    return str(uuid.uuid4())
