"""A real JupyterHub with the catalyst service, in local processes: the demo, and the
harness the end-to-end tests build on (``harness.realhub``).

It runs the packaged example ``jupyterhub_config.py`` (the one every deployment starts from,
see ``catalyst_hub.hubconfig``) on 127.0.0.1 with: the real configurable-http-proxy (found on
PATH), the catalyst service as a managed service, local single-user servers with the server
extension, a password per user, and community groups. A ``harness`` service with an admin
role makes users' tokens and starts servers. Every process is in one process group (the
proxy in a session of its own, ended by its pid file), stopped on exit or failed start.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests
from jupyterhub.auth import Authenticator
from traitlets import Dict, Unicode

from .hubconfig import config_path

PROXY_MISSING = """configurable-http-proxy, the proxy JupyterHub runs, is not on PATH.
Install it with Node.js's package manager, then run this again:

    npm install -g configurable-http-proxy

or, without installing globally: `npm install configurable-http-proxy` in a folder, and put
that folder's node_modules/.bin on PATH."""


class ProxyMissing(RuntimeError):
    """configurable-http-proxy is not on PATH (the message says how to install it)."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free right now. All are held open until every one is chosen:
    ports asked for one at a time (the hub's, then the proxy API's) could be the same port,
    since nothing listens on the first until its process starts."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


class PasswordsAuthenticator(Authenticator):
    """Log in with a fixed password per username: the demo and tests. Never for a real hub."""

    passwords = Dict(
        key_trait=Unicode(), value_trait=Unicode(), config=True, help="username -> password"
    )

    async def authenticate(self, handler, data):
        username = data.get("username", "")
        expected = self.passwords.get(username)
        if expected is not None and hmac.compare_digest(expected, data.get("password", "")):
            return username
        return None


class LocalHub:
    """Start with ``with LocalHub(folder, users=...) as hub:``; everything stops on exit,
    and on any failure to start."""

    def __init__(
        self,
        workdir: str | Path,
        *,
        users: dict[str, str] | None = None,
        groups: dict[str, list[str]] | None = None,
        admins: Iterable[str] = frozenset(),
        db_url: str | None = None,
        hub_name: str = "e2e",
        port: int | None = None,
        extra_hub_config: str = "",
        extra_service_config: str = "",
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.users = users or {"alice@example.org": "alice-pass", "bob": "bob-pass"}
        self.groups = groups or {}
        self.admins = set(admins)
        self.db_url = db_url or f"sqlite:///{self.workdir / 'catalyst' / 'catalyst_hub.sqlite'}"
        self.hub_name = hub_name
        # every port this hub's processes listen on, distinct
        hub_port, self.service_port, self.hub_api_port, self.proxy_api_port = free_ports(4)
        self.port = port or hub_port
        self.extra_hub_config = extra_hub_config
        self.extra_service_config = extra_service_config
        self.extra_env = env or {}
        self.harness_token = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / "jupyterhub.log"

    # -- addresses ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def service_url(self) -> str:
        return f"{self.url}services/catalyst/"

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> LocalHub:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "homes").mkdir(exist_ok=True)
        (self.workdir / "catalyst").mkdir(exist_ok=True)
        service_config = self.workdir / "catalyst_config.py"
        service_config.write_text(
            f"c = get_config()  # noqa\n"
            f"load_subconfig({str(config_path('catalyst_config.py'))!r})\n"
            f"c.CatalystApp.hub_name = {self.hub_name!r}\n"
            f"c.CatalystApp.db_url = {self.db_url!r}\n"
            f"c.CatalystApp.data_dir = {str(self.workdir / 'catalyst')!r}\n"
            f"c.Collector.poll_interval = 1\n"
            f"{self.extra_service_config}\n"
        )
        config = self.workdir / "jupyterhub_config.py"
        config.write_text(
            f"c = get_config()  # noqa\n"
            f"load_subconfig({str(config_path('jupyterhub_config.py'))!r})\n"
            # loopback only, whatever the environment says: passwords here are for a demo
            f"c.JupyterHub.ip = '127.0.0.1'\n"
            f"c.JupyterHub.authenticator_class = 'catalyst_hub.localhub.PasswordsAuthenticator'\n"
            f"c.PasswordsAuthenticator.passwords = {self.users!r}\n"
            f"c.Authenticator.allow_all = True\n"
            f"c.Authenticator.admin_users = {self.admins!r}\n"
            f"c.JupyterHub.load_groups = {json.dumps({g: {'users': u} for g, u in self.groups.items()})}\n"
            f"c.JupyterHub.services.append({{'name': 'harness', 'api_token': {self.harness_token!r}}})\n"
            f"c.JupyterHub.load_roles.append({{'name': 'harness', 'scopes': ['admin:users', 'admin:groups', "
            f"'admin:servers', 'tokens', 'read:users', 'access:servers', 'access:services'], 'services': ['harness']}})\n"
            f"c.JupyterHub.cleanup_servers = True\n"
            f"c.JupyterHub.last_activity_interval = 5\n"
            f"c.JupyterHub.db_url = {('sqlite:///' + str(self.workdir / 'jupyterhub.sqlite'))!r}\n"
            f"c.JupyterHub.cookie_secret_file = {str(self.workdir / 'jupyterhub_cookie_secret')!r}\n"
            f"c.ConfigurableHTTPProxy.pid_file = {str(self.workdir / 'proxy.pid')!r}\n"
            f"{self.extra_hub_config}\n"
        )
        return config

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # this Python's scripts (jupyterhub-singleuser, catalyst-hub) first
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.update(
            CATALYST_HUB_PORT=str(self.port),
            CATALYST_HUB_API_PORT=str(self.hub_api_port),
            CATALYST_PROXY_API_PORT=str(self.proxy_api_port),
            CATALYST_SERVICE_PORT=str(self.service_port),
            CATALYST_SERVICE_CONFIG=str(self.workdir / "catalyst_config.py"),
            CATALYST_LOCAL_SPAWNER=str(self.workdir / "homes"),
            CATALYST_PUBLIC_URL=self.url,
            # the example config's roles for leads, staff and admins (groups below)
            CATALYST_EXAMPLE_ROLES="1",
            JUPYTER_PLATFORM_DIRS="1",
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60) -> None:
        if shutil.which("configurable-http-proxy", path=self.environment()["PATH"]) is None:
            raise ProxyMissing(PROXY_MISSING)
        config = self.write_config()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (the hub process writes to it until stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            cwd=self.workdir,
            env=self.environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends proxy and servers too
        )
        try:
            self.wait_up(timeout)
        except BaseException:
            self.stop()  # nothing it started is left running
            raise

    def wait_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(
                    f"jupyterhub exited with {self.proc.returncode}; see {self.log_path}:\n{self.log_tail()}"
                )
            try:
                # the proxy answers 404 until the hub has added its routes
                if (
                    requests.get(self.url + "hub/api/", timeout=2).status_code == 200
                    and requests.get(self.service_url + "api/", timeout=2).status_code == 200
                ):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"hub not up in {timeout}s; log:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                pass
        # whatever is left of the group (servers, service)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        # the proxy runs in a session of its own (it outlives hub restarts): end it by its pid
        # file when the hub could not (a hub killed, or one that failed to start)
        try:
            pid = int((self.workdir / "proxy.pid").read_text())
            if b"configurable-http-proxy" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            pass
        self.proc = None
        self._log.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- hub API -----------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        headers["Authorization"] = f"token {self.harness_token}"
        return requests.request(
            method, f"{self.url}hub/api/{path.lstrip('/')}", headers=headers, timeout=30, **kwargs
        )

    def token(self, username: str) -> str:
        """A new API token of ``username`` with all the user's permissions (the user is
        created on the hub first if it has never logged in)."""
        created = self.api("post", f"users/{username}")
        if created.status_code not in (201, 409):
            created.raise_for_status()
        r = self.api("post", f"users/{username}/tokens", json={"note": "e2e"})
        r.raise_for_status()
        return r.json()["token"]

    def start_server(self, username: str, timeout: float = 60) -> str:
        """Start ``username``'s server and wait until it is ready; returns its URL."""
        r = self.api("post", f"users/{username}/server")
        if r.status_code not in (201, 202, 400):
            raise RuntimeError(
                f"could not start server: {r.status_code} {r.text}\n{self.log_tail()}"
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("get", f"users/{username}").json()
            server = (model.get("servers") or {}).get("")
            if server and server.get("ready"):
                return self.url.rstrip("/") + server["url"]
            time.sleep(0.3)
        raise TimeoutError(f"server of {username} not ready; log:\n{self.log_tail()}")

    def stop_server(self, username: str, timeout: float = 30) -> None:
        self.api("delete", f"users/{username}/server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("get", f"users/{username}").json()
            if not (model.get("servers") or {}):
                return
            time.sleep(0.3)
        raise TimeoutError(f"server of {username} did not stop")

    def service_get(self, path: str, token: str, **kwargs: Any) -> requests.Response:
        return requests.get(
            self.service_url + path,
            headers={"Authorization": f"token {token}"},
            timeout=30,
            **kwargs,
        )

    def service_post(self, path: str, token: str, **kwargs: Any) -> requests.Response:
        return requests.post(
            self.service_url + path,
            headers={"Authorization": f"token {token}"},
            timeout=30,
            **kwargs,
        )
