"""The Ralph LRS project, for tests and benchmarks: strict validation of our xAPI statements
with its model class, and its LRS (FastAPI under uvicorn, file-system backend) as a process.

Ralph lives in a virtual environment of its own (``.ralph-venv`` at the top of the
repository, made by ``make setup``; ``$CATALYST_RALPH_PYTHON`` names another interpreter):
its pinned dependencies (FastAPI, pydantic, uvicorn...) are not ours to share.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from catalyst_hub.localhub import free_ports

ROOT = Path(__file__).resolve().parents[1]

#: Validates each statement (a JSON list on stdin) with Ralph's strict base model; prints a
#: JSON list of [index, errors] for those that fail.
_VALIDATE = r"""
import json, sys
from ralph.models.xapi.base.statements import BaseXapiStatement
from pydantic import ValidationError
failures = []
for index, statement in enumerate(json.load(sys.stdin)):
    try:
        BaseXapiStatement(**statement)
    except ValidationError as error:
        failures.append([index, json.loads(error.json())])
json.dump(failures, sys.stdout)
"""

#: Runs the LRS: uvicorn serving ``ralph.api:app`` in this process, without the reloader
#: ``ralph runserver`` adds (it restarts the LRS whenever a file of its folder changes, and
#: the LRS writes its statements there). Arguments: host, port.
_SERVE = r"""
import sys
from ralph.backends.data.base import BaseOperationType
from ralph.backends.data.fs import FSDataBackend
# The file-system backend writes its LRS file with the "create" operation by default, so
# the second POST of any LRS answers 500 ("already exists"): append instead. Set on the
# class before the app (which makes its backend when imported) starts.
FSDataBackend.default_operation_type = BaseOperationType.APPEND
import uvicorn
uvicorn.run("ralph.api:app", host=sys.argv[1], port=int(sys.argv[2]), log_level="warning",
            reload=False, workers=1)
"""

_HASH = r"""
import bcrypt, sys
print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(4)).decode())
"""


def ralph_python() -> Path | None:
    """The interpreter of Ralph's virtual environment, or None where it is not installed."""
    named = os.environ.get("CATALYST_RALPH_PYTHON")
    path = Path(named) if named else ROOT / ".ralph-venv" / "bin" / "python"
    return path if path.is_file() else None


def require_ralph() -> Path:
    python = ralph_python()
    if python is None:
        from catalyst_hub.pytest_plugin import missing

        missing("Ralph (ralph-malph) is not installed in .ralph-venv: run `make setup`")
    return python


def validate(statements: list[dict[str, Any]], python: Path | None = None) -> list:
    """Ralph's strict ``BaseXapiStatement`` on each statement: the failures (index, errors)."""
    python = python or require_ralph()
    done = subprocess.run(
        [str(python), "-c", _VALIDATE],
        input=json.dumps(statements),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


class RalphLRS:
    """A Ralph LRS process on a free port, its statements in ``folder`` (a file-system
    backend), with one basic-auth account. ``start``/``stop`` may be called again (an outage)."""

    def __init__(self, folder: Path, username: str = "catalyst", password: str = "lrs-pass"):
        self.folder = Path(folder)
        self.username = username
        self.password = password
        self.python = require_ralph()
        (self.port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{self.port}/xAPI/"
        self.process: subprocess.Popen | None = None
        self.app_dir = self.folder / "app"
        self.data_dir = self.folder / "statements"
        self.app_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        hashed = subprocess.run(
            [str(self.python), "-c", _HASH, password],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        (self.app_dir / "auth.json").write_text(
            json.dumps(
                [
                    {
                        "username": username,
                        "hash": hashed,
                        "scopes": ["all"],
                        "agent": {"mbox": "mailto:lrs-account@catalyst.example.org"},
                    }
                ]
            )
        )

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RALPH_")}
        env.update(
            RALPH_APP_DIR=str(self.app_dir),
            RALPH_AUTH_FILE=str(self.app_dir / "auth.json"),
            RALPH_RUNSERVER_BACKEND="fs",
            RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH=str(self.data_dir),
            RALPH_BACKENDS__DATA__FS__DEFAULT_DIRECTORY_PATH=str(self.data_dir),
            RALPH_RUNSERVER_MAX_SEARCH_HITS_COUNT="10000",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self, timeout: float = 60.0) -> None:
        log = open(self.folder / "lrs.log", "ab")  # noqa: SIM115 (the process keeps it)
        self.process = subprocess.Popen(
            [str(self.python), "-c", _SERVE, "127.0.0.1", str(self.port)],
            env=self.environment(),
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    "the Ralph LRS exited: " + (self.folder / "lrs.log").read_text()[-2000:]
                )
            try:
                if requests.get(self.url.replace("xAPI/", "__heartbeat__"), timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the Ralph LRS did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(15)

    def statements(self) -> list[dict[str, Any]]:
        """Every statement the LRS holds, read back through its API (all pages)."""
        found: list[dict[str, Any]] = []
        url: str | None = self.url + "statements?limit=500"
        base = self.url.split("/xAPI/")[0]
        while url:
            answer = requests.get(
                url, auth=self.auth, headers={"X-Experience-API-Version": "1.0.3"}, timeout=30
            )
            answer.raise_for_status()
            body = answer.json()
            found.extend(body["statements"])
            more = body.get("more")
            url = (base + more) if more else None
        return found


if __name__ == "__main__":  # a manual check: python -m harness.ralph < statements.json
    print(validate(json.load(sys.stdin)))
