"""Detectors: turn what happens in the user's server into onboarding events.

Each detector is one small class with a ``name`` (what ``CatalystExtension.enabled_detectors``
lists). They learn what happens from public hooks only:

- jupyter_events emitted by jupyter_server (contents service, kernel actions), through
  ``serverapp.event_logger.add_listener``;
- the outcome of HTTP requests, through one tornado output transform added with the public
  ``Application.add_transform``: it sees the status and headers of every response without
  touching handlers. (Not ``log_function``: JupyterHub's single-user server replaces it.)
  Requests are routed by their first path segment, so a request no detector cares about
  costs one dictionary lookup;
- the kernel's IOPub channel (``execute_input`` is broadcast for every non-silent
  execution, whichever client sent it, and ``status: idle`` when it is done), like
  jupyter_server's own activity tracking;
- a low-frequency scan of the home folder, off the event loop, for git repositories.

They call the Recorder, which applies once-per-person, aggregation and consent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar, cast
from urllib.parse import unquote

import orjson
from tornado import httputil
from tornado.web import OutputTransform
from traitlets import Bool, Float, Integer, List, Unicode, default
from traitlets.config import LoggingConfigurable

from .recorder import Recorder

if TYPE_CHECKING:
    from jupyter_events import EventLogger
    from jupyter_server.serverapp import ServerApp
    from zmq.eventloop.zmqstream import ZMQStream

CONTENTS_SCHEMA = "https://events.jupyter.org/jupyter_server/contents_service/v1"
KERNEL_ACTIONS_SCHEMA = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"


class Detector(LoggingConfigurable):
    """Base class. ``routes`` are the first path segments (after the base URL) of requests
    the detector wants to see in ``on_request``."""

    name: ClassVar[str] = ""
    routes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, recorder: Recorder, serverapp: ServerApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorder = recorder
        self.serverapp = serverapp

    def request_routes(self) -> Iterable[str]:
        return self.routes

    def attach(self) -> None:
        """Register listeners (called once the web app exists, before the loop runs)."""

    def start(self) -> None:
        """Start background work (called on the running event loop)."""

    async def stop(self) -> None:
        """Release what start() took."""

    def on_request(
        self,
        request: httputil.HTTPServerRequest,
        rest: str,
        status: int,
        headers: httputil.HTTPHeaders,
    ) -> None:
        """A response to a request under one of ``routes`` is being sent."""


def _contents_path(rest: str) -> str | None:
    """The API path of a file from the rest of a URL path (``api/contents/a%20b.ipynb``)."""
    if not rest.startswith("api/contents/"):
        return None
    return unquote(rest[len("api/contents/") :]).strip("/")


class ServerDetector(Detector):
    """The member's server itself: it started (and so its member logged in) when the
    extension loads, and stopped when it shuts down cleanly.

    These are the checklist's "log in", "start" and "stop" steps at the moment they happen,
    rather than at the collector's next poll of the hub. The collector stays the source of
    the sessions (its ``server_started`` / ``server_stopped`` events) and fills the steps
    when these are not delivered (a server killed, the service down at shutdown): a step is
    one row per member, reached at its earliest time, whoever reported it first.
    """

    name = "server"

    def start(self) -> None:
        self.recorder.action("logged_in")
        self.recorder.action("server_started")

    async def stop(self) -> None:
        # recorded before the recorder stops, so the outbox tries to deliver it on the way out
        self.recorder.action("server_stopped")


class NotebookDetector(Detector):
    """Notebooks created (a 201 from the contents API), opened (the contents API returning a
    notebook's content, or a collaboration session opening one) and saved (a 200 to a PUT).

    Not from the contents service's jupyter_events by default: with any listener attached,
    jupyter_events validates every contents event, and the file manager emits one ``get``
    per entry of a directory listing (and one inside every save): about 100 µs per file
    listed, measured in benchmarks/bench_serverext.py. ``use_contents_events`` turns them on
    for deployments whose saves do not go through the REST API (real-time collaboration
    saves from the server); the contents ``get`` event is never used for "opened", since
    the file manager also emits it internally.
    """

    name = "notebooks"
    routes = ("api",)
    created_grace_seconds = 10.0  # the save that creates a notebook is not "saving work"

    use_contents_events = Bool(
        False,
        config=True,
        help="Also detect saves from the contents service's events (costly: see above).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._created: dict[str, float] = {}

    def attach(self) -> None:
        if self.use_contents_events:
            assert self.serverapp.event_logger is not None  # a server has one
            self.serverapp.event_logger.add_listener(
                schema_id=CONTENTS_SCHEMA, listener=self._on_contents
            )

    async def stop(self) -> None:
        if self.use_contents_events:
            assert self.serverapp.event_logger is not None  # a server has one
            self.serverapp.event_logger.remove_listener(
                schema_id=CONTENTS_SCHEMA, listener=self._on_contents
            )

    def on_request(
        self,
        request: httputil.HTTPServerRequest,
        rest: str,
        status: int,
        headers: httputil.HTTPHeaders,
    ) -> None:
        method = request.method
        if method == "GET" and status == 200:
            path = _contents_path(rest)
            # content=0 is a metadata check (JupyterLab does one before each save)
            if (
                path
                and path.endswith(".ipynb")
                and request.query_arguments.get("content") != [b"0"]
            ):
                self._opened()
        elif method == "PUT" and status in (200, 201) and rest.startswith(_RTC_SESSION):
            if rest.endswith(".ipynb"):
                self._opened()
        elif method == "PUT" and status == 200 and not self.use_contents_events:
            path = _contents_path(rest)
            if path and path.endswith(".ipynb"):  # 200: an existing notebook saved
                self.recorder.action("notebook_saved")
                self.recorder.count("notebook")
        elif status == 201 and method in ("POST", "PUT") and rest.startswith("api/contents"):
            self._created_at(rest, headers)

    def _opened(self) -> None:
        self.recorder.action("notebook_opened")
        self.recorder.count("notebook")

    def _created_at(self, rest: str, headers: httputil.HTTPHeaders) -> None:
        # POST answers with the new file's URL in Location; PUT creates the file at its URL
        location = headers.get("Location", "")
        base = self.serverapp.base_url
        path = _contents_path(location[len(base) :] if location.startswith(base) else rest)
        if not path or not path.endswith(".ipynb"):
            return
        now = time.monotonic()
        self._created = {
            p: t for p, t in self._created.items() if now - t < self.created_grace_seconds
        }
        self._created[path] = now
        self.recorder.action("notebook_created")
        self.recorder.count("notebook")

    async def _on_contents(self, logger: EventLogger, schema_id: str, data: dict[str, Any]) -> None:
        path = data.get("path") or ""
        if data.get("action") != "save" or not path.endswith(".ipynb"):
            return
        created = self._created.pop(path.strip("/"), None)
        if created is not None and time.monotonic() - created < self.created_grace_seconds:
            return
        self.recorder.action("notebook_saved")
        self.recorder.count("notebook")


#: jupyter-collaboration opens documents with PUT api/collaboration/session/<path>
_RTC_SESSION = "api/collaboration/session/"


# A JSON key "format" with the value "base64" in the request body. Inside a JSON string a
# quote is always escaped, so file content cannot fake this match.
_BASE64_FORMAT = re.compile(rb'"format"\s*:\s*"base64"')


class UploadDetector(Detector):
    """A file uploaded through the contents API: JupyterLab's file browser saves uploads
    (other than notebooks) with ``"format": "base64"``, in chunks for large files. The
    contents events do not carry the format, so the request is looked at."""

    name = "uploads"
    routes = ("api",)

    def on_request(
        self,
        request: httputil.HTTPServerRequest,
        rest: str,
        status: int,
        headers: httputil.HTTPHeaders,
    ) -> None:
        if (
            request.method != "PUT"
            or status not in (200, 201)
            or self.recorder.has_action("file_uploaded")
        ):
            return
        path = _contents_path(rest)
        if not path or path.endswith(".ipynb"):
            return
        if _BASE64_FORMAT.search(request.body or b""):
            self.recorder.action("file_uploaded")


class KernelDetector(Detector):
    """Kernels started (kernel_actions events; language from the kernelspec) and cells
    executed, counted as activity.

    A cell counts when the kernel executed code in it: its ``execute_input`` on the kernel's
    IOPub channel carries non-blank code, and the kernel went back to ``idle`` for that
    request (so finished it: a request aborted after an earlier error, or lost when the
    kernel died or restarted, never does). Blank code is not running code, whoever sent it.
    """

    name = "kernels"
    # a client connecting to a kernel's channels: subscribe to its IOPub then, before the
    # client's first execute_request can run (a SUB socket misses what was published before
    # it). Not at the kernel's start event: a subscription made while the kernel is still
    # starting was seen to miss a first cell typed seconds later, on a real hub.
    routes = ("api",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._streams: dict[str, Any] = {}

    def on_request(
        self,
        request: httputil.HTTPServerRequest,
        rest: str,
        status: int,
        headers: httputil.HTTPHeaders,
    ) -> None:
        parts = rest.split("/")
        connecting = status == 101 and len(parts) == 4 and parts[3] == "channels"
        kernel = parts[2] if connecting and parts[:2] == ["api", "kernels"] else None
        if kernel and kernel in self.serverapp.kernel_manager:
            self._watch(kernel)

    def attach(self) -> None:
        assert self.serverapp.event_logger is not None  # a server has one
        self.serverapp.event_logger.add_listener(
            schema_id=KERNEL_ACTIONS_SCHEMA, listener=self._on_kernel_action
        )

    def start(self) -> None:
        km = self.serverapp.kernel_manager
        for kernel_id in list(km.list_kernel_ids()):
            self._watch(kernel_id)

    async def stop(self) -> None:
        assert self.serverapp.event_logger is not None  # a server has one
        self.serverapp.event_logger.remove_listener(
            schema_id=KERNEL_ACTIONS_SCHEMA, listener=self._on_kernel_action
        )
        for kernel_id in list(self._streams):
            self._unwatch(kernel_id)

    def language(self, kernel_id: str) -> str | None:
        try:
            spec = self.serverapp.kernel_manager.get_kernel(kernel_id).kernel_spec
        except Exception:  # gateway kernels, a kernel gone already...
            return None
        language = getattr(spec, "language", None) or None
        # kernelspecs spell it "python", "R", "julia": one spelling for the reports
        return language.lower() if language else None

    async def _on_kernel_action(
        self, logger: EventLogger, schema_id: str, data: dict[str, Any]
    ) -> None:
        if data.get("status") != "success" or not data.get("kernel_id"):
            return
        kernel_id, action = data["kernel_id"], data.get("action")
        if action == "start":
            # the mapping manager adds the kernel once its start returns: give it a moment
            for _ in range(50):
                if kernel_id in self.serverapp.kernel_manager:
                    break
                await asyncio.sleep(0.1)
            self.recorder.action("kernel_started", language=self.language(kernel_id))
        elif action == "restart":
            self._unwatch(kernel_id)
            self._watch(kernel_id)
        elif action == "shutdown":
            self._unwatch(kernel_id)

    def _watch(self, kernel_id: str) -> None:
        if kernel_id in self._streams:
            return
        try:
            # a ZMQStream: jupyter_server's kernels are IOLoopKernelManagers, whose connect_iopub
            # wraps the socket (the annotation of get_kernel says KernelManager, a socket)
            stream = cast(
                "ZMQStream", self.serverapp.kernel_manager.get_kernel(kernel_id).connect_iopub()
            )
        except Exception as e:  # e.g. remote (gateway) kernels: nothing to listen to here
            self.log.debug("catalyst_hub: not watching kernel %s: %s", kernel_id, e)
            return
        language = self.language(kernel_id)
        # the requests whose non-blank code this kernel is executing (msg_id -> None)
        running: dict[str, None] = {}
        stream.on_recv(lambda frames: self._on_iopub(language, running, frames))
        self._streams[kernel_id] = stream

    def _unwatch(self, kernel_id: str) -> None:
        stream = self._streams.pop(kernel_id, None)
        if stream is not None and not stream.closed():
            stream.close()

    #: most requests remembered per kernel between their execute_input and idle
    max_running: ClassVar[int] = 256

    def _on_iopub(
        self, language: str | None, running: dict[str, None], frames: list[bytes]
    ) -> None:
        # Only the header is decoded, and only when it can be an execute_input, or a status
        # while a request with code runs; the content only of an execute_input.
        try:
            i = frames.index(b"<IDS|MSG>")
            header = frames[i + 2]
        except (ValueError, IndexError):
            return
        if b"execute_input" in header:
            kind = "execute_input"
        elif running and b"status" in header:
            kind = "status"
        else:
            return
        try:
            if orjson.loads(header).get("msg_type") != kind:
                return
            parent = orjson.loads(frames[i + 3]).get("msg_id")
            content = orjson.loads(frames[i + 5])
        except (orjson.JSONDecodeError, IndexError, AttributeError):
            return
        if not isinstance(parent, str) or not isinstance(content, dict):
            return
        if kind == "execute_input":
            code = content.get("code")
            if isinstance(code, str) and code.strip():
                if len(running) >= self.max_running:  # replies lost: forget the oldest
                    running.pop(next(iter(running)))
                running[parent] = None
        elif content.get("execution_state") == "idle" and parent in running:
            del running[parent]
            self.recorder.action("cell_executed", language=language)
            self.recorder.count("kernel", language=language)


class TerminalDetector(Detector):
    """Terminals opened (``POST api/terminals``, or a terminal websocket connecting) and, per
    activity window, how many terminals were used (their ``last_activity``)."""

    name = "terminals"
    routes = ("api", "terminals")

    def start(self) -> None:
        self.recorder.add_sampler(self._sample)

    def on_request(
        self,
        request: httputil.HTTPServerRequest,
        rest: str,
        status: int,
        headers: httputil.HTTPHeaders,
    ) -> None:
        if (request.method == "POST" and status == 200 and rest.rstrip("/") == "api/terminals") or (
            status == 101 and rest.startswith("terminals/websocket/")
        ):
            self.recorder.action("terminal_opened")

    def _sample(self, window: float) -> None:
        manager = self.serverapp.web_app.settings.get("terminal_manager")
        terminals = getattr(manager, "terminals", None) or {}
        since = datetime.now(timezone.utc) - timedelta(seconds=window)
        used = 0
        for term in list(terminals.values()):
            last = getattr(term, "last_activity", None)
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=timezone.utc)
            if last is not None and last >= since:
                used += 1
        self.recorder.count("terminal", used)


class ProxyDetector(Detector):
    """Apps behind jupyter-server-proxy (RStudio, VS Code...) opened and used: requests under
    ``{base_url}<app>/``. The app names come from jupyter-server-proxy's entry points and
    ``ServerProxy.servers`` config, plus ``proxy`` (``proxy/<port>/``) and ``extra_apps``."""

    name = "proxy"

    extra_apps = List(
        Unicode(),
        default_value=["rstudio"],
        config=True,
        help="More URL prefixes (first path segment after the base URL) that are proxied apps.",
    )

    apps = List(Unicode(), config=True, help="All proxied app prefixes (default: discovered).")

    @default("apps")
    def _default_apps(self) -> list[str]:
        names = {"proxy", *self.extra_apps}
        with contextlib.suppress(Exception):  # broken metadata must not stop the server
            names |= {ep.name for ep in entry_points(group="jupyter_serverproxy_servers")}
        servers = self.serverapp.config.get("ServerProxy", {}).get("servers", {})
        if isinstance(servers, dict):
            names |= set(servers)
        return sorted(n.strip("/") for n in names if n)

    def request_routes(self) -> Iterable[str]:
        return self.apps

    def on_request(
        self,
        request: httputil.HTTPServerRequest,
        rest: str,
        status: int,
        headers: httputil.HTTPHeaders,
    ) -> None:
        if status >= 400:
            return
        app, _, tail = rest.partition("/")
        if app == "proxy":
            # proxy/<port>/... and proxy/absolute/<port>/...
            parts = tail.split("/", 2)
            port = parts[1] if parts[0] == "absolute" and len(parts) > 1 else parts[0]
            if not port:
                return
            app = f"proxy:{port}"[:64]
        self.recorder.action("proxy_app_opened", app=app)
        self.recorder.count("proxy", app=app)


class GitDetector(Detector):
    """Repositories cloned or committed to in the home folder.

    Every ``poll_seconds``, a thread scans the root folder down to ``depth`` levels for
    ``.git`` folders and reads each repository's reflog (``.git/logs/HEAD``): git writes
    ``clone: from ...`` there when cloning and ``commit: ...`` for every commit, whether from
    a terminal, RStudio or the JupyterLab git panel. Repositories present at the first scan
    are the baseline (only their new reflog lines count). Once both actions were sent the
    detector stops scanning: it only reports first times.
    """

    name = "git"

    poll_seconds = Float(30.0, config=True, help="Seconds between scans of the home folder.")
    depth = Integer(
        2, config=True, help="How many folder levels below the root to look for repositories."
    )
    max_dirs = Integer(
        2000, config=True, help="Most folders looked at per scan (keeps a scan cheap)."
    )
    skip_dirs = List(
        Unicode(),
        default_value=[
            "node_modules",
            "__pycache__",
            "site-packages",
            "venv",
            "env",
            "conda",
            "miniconda3",
        ],
        config=True,
        help="Folder names never descended into.",
    )

    ACTIONS = ("git_cloned", "git_committed")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reflogs: dict[str, int] | None = None  # repository -> reflog size seen
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def root(self) -> str:
        return os.path.abspath(os.path.expanduser(self.serverapp.root_dir))

    def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalyst-git")
        self._task = asyncio.create_task(self._poll(), name="catalyst-git")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _done(self) -> bool:
        return all(self.recorder.has_action(a) for a in self.ACTIONS)

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._done():
            try:
                found = await loop.run_in_executor(self._executor, self.scan)
            except Exception:
                self.log.exception("catalyst_hub: git scan failed")
                found = set()
            for action in found:
                self.recorder.action(action)
            await asyncio.sleep(self.poll_seconds)

    def scan(self) -> set[str]:
        """One scan (in the detector's thread): the git actions seen since the last scan."""
        repos = self._find_repos()
        first = self._reflogs is None
        previous = self._reflogs or {}
        current: dict[str, int] = {}
        found: set[str] = set()
        for repo in repos:
            reflog = os.path.join(repo, ".git", "logs", "HEAD")
            try:
                size = os.stat(reflog).st_size
            except OSError:
                size = 0
            current[repo] = size
            if first:
                continue
            start = previous.get(repo)
            if start is None or size > start:
                found |= self._read_reflog(reflog, start or 0, new_repo=start is None)
        self._reflogs = current
        return found

    def _read_reflog(self, reflog: str, offset: int, new_repo: bool) -> set[str]:
        try:
            with open(reflog, "rb") as f:
                f.seek(offset)
                text = f.read(256 * 1024)
        except OSError:
            return set()
        found = set()
        if new_repo and b"\tclone: " in text:
            found.add("git_cloned")
        # "commit:", "commit (initial):", "commit (amend):", "commit (merge):"
        if b"\tcommit" in text:
            found.add("git_committed")
        return found

    def _find_repos(self) -> list[str]:
        root = self.root
        repos: list[str] = []
        level = [root]
        seen = 0
        skip = set(self.skip_dirs)
        for depth in range(self.depth + 1):
            below: list[str] = []
            for folder in level:
                seen += 1
                if seen > self.max_dirs:
                    return repos
                try:
                    with os.scandir(folder) as entries:
                        for entry in entries:
                            if not entry.is_dir(follow_symlinks=False):
                                continue
                            if entry.name == ".git":
                                repos.append(folder)
                            elif (
                                depth < self.depth
                                and not entry.name.startswith(".")
                                and entry.name not in skip
                            ):
                                below.append(entry.path)
                except OSError:
                    continue
            level = below
        return repos


class RequestObserver:
    """Routes finished requests to the detectors that asked for their first path segment."""

    def __init__(self, base_url: str, detectors: Iterable[Detector], log: Any) -> None:
        self.base_url = base_url
        self.log = log
        self.routes: dict[str, list[Detector]] = {}
        for detector in detectors:
            for segment in detector.request_routes():
                self.routes.setdefault(segment, []).append(detector)
        observer = self

        class CatalystRequestTransform(OutputTransform):
            """Passes responses through unchanged; tells the detectors about them."""

            def __init__(self, request: httputil.HTTPServerRequest) -> None:
                self.request = request

            def transform_first_chunk(
                self, status_code: int, headers: httputil.HTTPHeaders, chunk: bytes, finishing: bool
            ) -> tuple[int, httputil.HTTPHeaders, bytes]:
                observer.observe(self.request, status_code, headers)
                return status_code, headers, chunk

        self.transform = CatalystRequestTransform

    def observe(
        self, request: httputil.HTTPServerRequest, status: int, headers: httputil.HTTPHeaders
    ) -> None:
        path = request.path
        if not path.startswith(self.base_url):
            return
        rest = path[len(self.base_url) :]
        detectors = self.routes.get(rest.partition("/")[0])
        if not detectors:
            return
        for detector in detectors:
            try:
                detector.on_request(request, rest, status, headers)
            except Exception:  # a detector bug must never break a response
                self.log.exception("catalyst_hub: detector %s failed", detector.name)


DETECTORS: dict[str, type[Detector]] = {
    cls.name: cls
    for cls in (
        ServerDetector,
        NotebookDetector,
        UploadDetector,
        KernelDetector,
        TerminalDetector,
        ProxyDetector,
        GitDetector,
    )
}
