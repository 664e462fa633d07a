"""The end-to-end tests' real hub: a LocalHub with what only a test needs (a running
server's own token, the service's process id for fault tests, the repository's proxy)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from catalyst_hub.events import envelope, names
from catalyst_hub.localhub import LocalHub

REPO = Path(__file__).resolve().parents[1]


class RealHub(LocalHub):
    """Start with ``with RealHub(tmp_path, users=...) as hub:``; everything stops on exit."""

    def environment(self) -> dict[str, str]:
        env = super().environment()
        # the proxy `make setup` installs in the repository, for pytest run by hand
        tools = REPO / ".tools" / "node_modules" / ".bin"
        env["PATH"] = os.pathsep.join([str(tools), env["PATH"]])
        return env

    def decide(self, username: str, decision: str = "given") -> None:
        """``username`` answers the service's recording notice (as on its ``me`` page): the
        service's default is opt-in, which stores little of an undecided member's."""
        r = self.service_post("me/consent", self.token(username), data={"decision": decision})
        r.raise_for_status()

    def earn_hub_basics(self, username: str) -> None:
        """``username`` accepts the notice and completes every episode of the packaged
        "hub-basics" lesson: the badge is earned, issued when something asks for it."""
        self.decide(username)
        events = [
            envelope(
                names.EPISODE_COMPLETED,
                {"lesson": "hub-basics", "episode": episode, "source": "self"},
            )
            for episode in ("first-notebook", "data-files", "persistence")
        ]
        r = self.service_post("api/events", self.token(username), json={"events": events})
        assert r.status_code == 200, r.text

    def server_token(self, username: str) -> str:
        """The API token the hub gave ``username``'s running server (read from its environment,
        as only that process has it): the server of this hub, whose API it calls."""
        hub_api = f"http://127.0.0.1:{self.hub_api_port}/".encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                raw = (proc / "environ").read_bytes()
            except OSError:
                continue
            environ = dict(item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
            if (
                environ.get(b"JUPYTERHUB_USER") == username.encode()
                and environ.get(b"JUPYTERHUB_API_URL", b"").startswith(hub_api)
                and b"JUPYTERHUB_API_TOKEN" in environ
            ):
                return environ[b"JUPYTERHUB_API_TOKEN"].decode()
        raise LookupError(f"no running server for {username}")

    def service_pid(self) -> int | None:
        """The managed service's process id (for fault tests)."""
        out = subprocess.run(["pgrep", "-f", "catalyst_config.py"], capture_output=True, text=True)
        pids = [int(p) for p in out.stdout.split()]
        for pid in pids:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"service" in cmdline and str(self.workdir).encode() in b" ".join(cmdline):
                return pid
        return None
