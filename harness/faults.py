"""Fault injection against real processes: does every event a server accepted get stored
exactly once, whatever fails on the way?

Each scenario starts a real JupyterHub (:class:`~harness.realhub.RealHub`: the
proxy, the catalyst service as a managed service, local single-user servers with the server
extension), makes the servers' extensions produce a stream of events, breaks something in
the middle of the stream, and then counts:

``sent``
    events the servers' extensions accepted: each is a ``step_reached`` event with a unique
    marker (``fault.<run>.<server>.<seq>``) POSTed to the server's own local API
    (``{server}catalyst/events``, answered 202 ``{"queued": n}``), from where the extension
    writes it to its outbox on disk and delivers it to the service with retries;
``stored``
    distinct markers of the run in the service's event log;
``duplicated``
    rows beyond one per marker (the same event stored twice, under one id or two), plus
    markers stored that were never sent;
``lost``
    markers sent but not stored.

Scenarios:

``service-kill``
    the catalyst service is killed with SIGKILL, repeatedly; JupyterHub starts it again (it
    polls managed services, every 30 s in JupyterHub 6.1; ``service_poll`` shortens that for
    short runs).
``postgres-restart``
    the service on its own new PostgreSQL database (created and dropped by the run), and
    the PostgreSQL server restarted; the service must answer 503 meanwhile and carry on
    without being restarted itself.
``hub-restart``
    JupyterHub stops and starts with ``cleanup_servers = False`` (the common production
    setting: servers keep running while the hub and the proxy restart).
``corrupt-outbox``
    a server crashes with events still in its outbox (the service is paused so they are not
    delivered), garbage is written over its ``outbox.sqlite``, and the server is started
    again: the damaged file is moved aside and the new outbox delivers everything produced
    afterwards. Events that were only in the destroyed file are reported as ``destroyed``,
    not as ``lost`` (nothing can recover them); ``lost`` must stay 0 for every other event.

Run ``python -m harness.faults --help``; the tests run a small scale
(``tests/e2e/test_faults.py``), ``benchmarks/bench_faults.py`` the full one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from .realhub import RealHub

POSTGRES_URL = os.environ.get(
    "CATALYST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SCENARIOS = ("service-kill", "postgres-restart", "hub-restart", "corrupt-outbox")
#: the most events the server extension's local API takes in one request
CHUNK = 100


class Unavailable(RuntimeError):
    """A component a scenario needs is missing (PostgreSQL, the rights to restart it)."""


@dataclass
class Scale:
    servers: int = 3
    events: int = 3000  # over all servers
    duration: float = 10.0  # seconds the stream of events lasts
    faults: int = 2  # kills / restarts per scenario (corrupt-outbox: always one)
    #: seconds between JupyterHub's checks of the managed service (0: JupyterHub's own 30 s)
    service_poll: float = 1.0
    #: the outbox's longest wait between retries (the extension's default is 300 s)
    outbox_retry_max: float = 5.0
    settle_timeout: float = 180.0  # how long delivery may take once the stream ends
    postgres_down: float = 3.0  # seconds PostgreSQL stays stopped on each restart


TEST_SCALE = Scale(servers=3, events=3000, duration=10.0, faults=2)
FULL_SCALE = Scale(servers=10, events=100_000, duration=90.0, faults=4, settle_timeout=600.0)


@dataclass
class Result:
    scenario: str
    servers: int
    faults: int
    sent: int
    stored: int
    rows: int
    distinct_ids: int
    duplicated: int
    lost: int
    destroyed: int = 0  # corrupt-outbox: events that were only in the destroyed file
    destroyed_but_stored: int = 0  # ...of which the service had stored before the crash
    unacknowledged: int = 0  # local API requests that got no answer (neither sent nor lost)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    lost_ids: list[str] = field(default_factory=list)
    #: scenario-specific findings the tests check (service_restarted, servers_kept, ...)
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


# -- servers and the events they produce ---------------------------------------------------------


def _environ(pid: str) -> dict[bytes, bytes]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)


def server_processes(hub: RealHub) -> dict[str, tuple[int, dict[bytes, bytes]]]:
    """{username: (pid, environment)} of this hub's running single-user servers."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        env = _environ(proc.name)
        if (
            env.get(b"CATALYST_SERVICE_URL") == hub.service_url.encode()
            and b"JUPYTERHUB_USER" in env
        ):
            found[env[b"JUPYTERHUB_USER"].decode()] = (int(proc.name), env)
    return found


@dataclass
class Server:
    """A running single-user server, addressed directly (not through the hub's proxy, so it
    can take events while the hub and the proxy are down)."""

    user: str
    pid: int
    url: str
    token: str

    @classmethod
    def find(cls, hub: RealHub, user: str, timeout: float = 30) -> Server:
        deadline = time.monotonic() + timeout
        while True:
            proc = server_processes(hub).get(user)
            if proc:
                pid, env = proc
                return cls(
                    user,
                    pid,
                    env[b"JUPYTERHUB_SERVICE_URL"].decode(),
                    env[b"JUPYTERHUB_API_TOKEN"].decode(),
                )
            if time.monotonic() > deadline:
                raise LookupError(f"no running server for {user}")
            time.sleep(0.2)

    def outbox_path(self, hub: RealHub) -> Path:
        return outbox_path(hub, self.user)


def outbox_path(hub: RealHub, user: str) -> Path:
    """The user's outbox file (the extension keeps it in the jupyter data dir of the home)."""
    return (
        hub.workdir
        / "homes"
        / user
        / ".local"
        / "share"
        / "jupyter"
        / "catalyst_hub"
        / "outbox.sqlite"
    )


def outbox_markers(path: Path) -> list[str]:
    """Markers of the events pending in an outbox file (of a stopped server, or read-only)."""
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        import json

        return [
            json.loads(body)["payload"].get("step", "")
            for (body,) in conn.execute("SELECT body FROM events")
        ]
    finally:
        conn.close()


def damage(path: Path) -> None:
    """Garbage over a SQLite file and its write-ahead log, as a failing disk leaves them (the
    log alone can hold every page of a small database, so both must be hit)."""
    for suffix in ("", "-wal"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            size = max(part.stat().st_size, 4096)
            with open(part, "r+b") as f:
                f.write(os.urandom(size))
    Path(f"{path}-shm").unlink(missing_ok=True)  # an index of the log, rebuilt on open


class Producer:
    """Sends one server's share of the stream through its local API, paced over a duration."""

    def __init__(self, run: str, index: int, server: Server) -> None:
        self.run = run
        self.index = index
        self.server = server
        self.seq = 0
        self.sent: list[str] = []
        self.unacknowledged: list[str] = []
        self.session = requests.Session()

    def marker(self) -> str:
        self.seq += 1
        return f"fault.{self.run}.{self.index}.{self.seq}"

    def post(self, count: int) -> None:
        markers = [self.marker() for _ in range(count)]
        body = {
            "events": [
                {"schema": "step_reached", "version": 1, "payload": {"step": m}} for m in markers
            ]
        }
        for attempt in range(50):
            try:
                r = self.session.post(
                    self.server.url + "catalyst/events",
                    json=body,
                    headers={"Authorization": f"token {self.server.token}"},
                    timeout=30,
                )
            except requests.ConnectionError as e:
                if "refused" in str(e).lower() and attempt < 49:
                    time.sleep(0.2)  # nothing was received: the same events may go again
                    continue
                self.unacknowledged += markers
                return
            except requests.RequestException:
                self.unacknowledged += markers
                return
            if r.status_code == 202 and r.json().get("queued") == count:
                self.sent += markers
                return
            raise RuntimeError(f"the server refused the events: {r.status_code} {r.text[:300]}")

    def produce(self, count: int, duration: float, stop: threading.Event | None = None) -> None:
        """``count`` events in chunks spread evenly over ``duration`` seconds."""
        chunks = max(1, -(-count // CHUNK))
        start = time.monotonic()
        left = count
        for i in range(chunks):
            pause = start + duration * i / chunks - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            n = min(CHUNK, left)
            self.post(n)
            left -= n
            if stop is not None and stop.is_set():
                return


def shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# -- the hub ---------------------------------------------------------------------------------------


def hub_config(scale: Scale, keep_servers: bool) -> str:
    lines = [
        # the outbox's retry cap, and room for the whole stream (nothing dropped by the bound)
        "c.Spawner.args = list(c.Spawner.args) + ["
        f"'--Outbox.retry_max_seconds={scale.outbox_retry_max}', "
        f"'--CatalystExtension.outbox_max_events={max(10_000, 2 * scale.events)}']",
        f"c.JupyterHub.cleanup_servers = {not keep_servers}",
        "c.JupyterHub.concurrent_spawn_limit = 0",
    ]
    if scale.service_poll:
        # JupyterHub checks a managed service every Spawner.poll_interval (30 s), on a spawner
        # that takes no configuration: a subclass with a shorter interval, for short runs only
        lines += [
            "import jupyterhub.services.service as _service",
            "from traitlets import Float as _Float",
            "class _PolledServiceSpawner(_service._ServiceSpawner):",
            f"    poll_interval = _Float({scale.service_poll})",
            "_service._ServiceSpawner = _PolledServiceSpawner",
        ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def fault_hub(
    workdir: Path, scale: Scale, *, db_url: str | None = None, keep_servers: bool = False
) -> Iterator[tuple[RealHub, list[str]]]:
    """A RealHub with ``scale.servers`` users whose servers run; everything stops on exit."""
    users = [f"researcher{i}@faults.example.org" for i in range(scale.servers)]
    hub = RealHub(
        workdir,
        users={u: secrets.token_hex(8) for u in users},
        db_url=db_url,
        hub_name="faults",
        extra_hub_config=hub_config(scale, keep_servers),
    )
    try:
        hub.start(timeout=120)
        hub.api("post", "users", json={"usernames": users}).raise_for_status()
        for user in users:  # they accepted the notice: every event they send is stored
            hub.decide(user)
        with ThreadPoolExecutor(max_workers=scale.servers) as pool:
            list(pool.map(lambda u: hub.start_server(u, timeout=180), users))
        yield hub, users
    finally:
        with contextlib.suppress(Exception):
            if hub.proc is not None:
                with ThreadPoolExecutor(max_workers=max(1, scale.servers)) as pool:
                    list(pool.map(lambda u: hub.api("delete", f"users/{u}/server"), users))
        hub.stop()
        # servers the hub left running (cleanup_servers = False, or a hub that died)
        _end_processes([pid for pid, _ in server_processes(hub).values()])


def _end_processes(pids: list[int], timeout: float = 10) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if Path(f"/proc/{p}").exists() and _alive(p)]
        time.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_service(hub: RealHub, timeout: float, old_pid: int | None = None) -> int:
    """Wait until the service runs (as a new process when ``old_pid``) and answers; its pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = hub.service_pid()
        if pid and pid != old_pid:
            with contextlib.suppress(requests.RequestException):
                if requests.get(hub.service_url + "api/", timeout=2).status_code == 200:
                    return pid
        time.sleep(0.1)
    raise TimeoutError(f"the catalyst service did not come back in {timeout} s:\n{hub.log_tail()}")


# -- counting ---------------------------------------------------------------------------------------


def stored_events(db_url: str, hub_name: str, run: str) -> list[tuple[str, str, str]]:
    """(event id, member id, marker) of every stored event of the run."""
    from sqlalchemy import select

    from catalyst_hub.store import make_engine
    from catalyst_hub.store import tables as t

    engine = make_engine(db_url)
    e = t.events.c
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(e.id, e.member_id, e.payload).where(
                    e.hub == hub_name, e.schema == "step_reached"
                )
            ).all()
    finally:
        engine.dispose()
    prefix = f"fault.{run}."
    return [
        (row.id, row.member_id, row.payload["step"])
        for row in rows
        if str(row.payload.get("step", "")).startswith(prefix)
    ]


def settle(
    hub: RealHub, users: list[str], run: str, expected: set[str], timeout: float
) -> list[tuple[str, str, str]]:
    """Wait until every expected marker is stored and every outbox is empty (or the timeout,
    or two minutes without progress); returns the stored events."""
    deadline = time.monotonic() + timeout
    last, last_change = -1, time.monotonic()
    while True:
        stored = stored_events(hub.db_url, hub.hub_name, run)
        markers = {m for _, _, m in stored}
        pending = sum(len(outbox_markers(outbox_path(hub, u))) for u in users)
        if expected <= markers and pending == 0:
            return stored
        if len(markers) != last:
            last, last_change = len(markers), time.monotonic()
        if time.monotonic() > deadline or time.monotonic() - last_change > 120:
            return stored
        time.sleep(1)


def tally(
    scenario: str,
    scale: Scale,
    faults: int,
    producers: list[Producer],
    stored: list[tuple[str, str, str]],
    started: float,
    destroyed: set[str] = frozenset(),
) -> Result:
    sent = {m for p in producers for m in p.sent}
    unacked = {m for p in producers for m in p.unacknowledged}
    per_marker = Counter(m for _, _, m in stored)
    ids = {i for i, _, _ in stored}
    phantoms = set(per_marker) - sent - unacked
    duplicated = sum(n - 1 for n in per_marker.values()) + (len(stored) - len(ids)) + len(phantoms)
    missing = sent - set(per_marker)
    lost = missing - destroyed
    return Result(
        scenario=scenario,
        servers=scale.servers,
        faults=faults,
        sent=len(sent),
        stored=len(set(per_marker) & sent),
        rows=len(stored),
        distinct_ids=len(ids),
        duplicated=duplicated,
        lost=len(lost),
        destroyed=len(destroyed),
        destroyed_but_stored=len(destroyed & set(per_marker)),
        unacknowledged=len(unacked),
        seconds=time.monotonic() - started,
        lost_ids=sorted(lost)[:20],
    )


def conclude(
    scenario: str,
    hub: RealHub,
    users: list[str],
    run: str,
    scale: Scale,
    faults: int,
    producers: list[Producer],
    started: float,
) -> Result:
    """Once the faults are over: wait for every marker sent to be stored, count what was
    lost or duplicated, and check each event's member."""
    expected = {m for p in producers for m in p.sent}
    stored = settle(hub, users, run, expected, scale.settle_timeout)
    result = tally(scenario, scale, faults, producers, stored, started)
    result.notes += check_members(hub, users, stored)
    return result


def check_members(hub: RealHub, users: list[str], stored) -> list[str]:
    """Notes on events stamped with another member than the server's own (should be none)."""
    from sqlalchemy import select

    from catalyst_hub.store import make_engine
    from catalyst_hub.store import tables as t

    engine = make_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            ids = dict(
                conn.execute(
                    select(t.identities.c.username, t.identities.c.member_id).where(
                        t.identities.c.hub == hub.hub_name
                    )
                ).all()
            )
    finally:
        engine.dispose()
    wrong = sum(1 for _, member, m in stored if member != ids.get(users[int(m.split(".")[2])]))
    return [f"{wrong} event(s) stamped with the wrong member"] if wrong else []


def _log_count(hub: RealHub, needle: str) -> int:
    try:
        return hub.log_path.read_text(errors="replace").count(needle)
    except OSError:
        return 0


# -- scenarios ---------------------------------------------------------------------------------------


def _stream(
    hub: RealHub, users: list[str], run: str, scale: Scale
) -> tuple[list[Producer], ThreadPoolExecutor, list]:
    producers = [Producer(run, i, Server.find(hub, u)) for i, u in enumerate(users)]
    pool = ThreadPoolExecutor(max_workers=len(producers))
    futures = [
        pool.submit(p.produce, n, scale.duration)
        for p, n in zip(producers, shares(scale.events, len(producers)), strict=True)
    ]
    return producers, pool, futures


def _finish(pool: ThreadPoolExecutor, futures: list) -> None:
    pool.shutdown(wait=True)
    for f in futures:
        f.result()  # a producer's error is the scenario's error


def _at_intervals(scale: Scale, count: int) -> Iterator[int]:
    """Yield 0..count-1, sleeping so the faults fall evenly inside the stream."""
    start = time.monotonic()
    for k in range(count):
        pause = start + scale.duration * (k + 1) / (count + 1) - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        yield k


def service_kill(hub: RealHub, users: list[str], scale: Scale) -> Result:
    """SIGKILL the service ``scale.faults`` times while the stream flows."""
    run = secrets.token_hex(3)
    started = time.monotonic()
    producers, pool, futures = _stream(hub, users, run, scale)
    downtimes = []
    try:
        for _ in _at_intervals(scale, scale.faults):
            pid = wait_service(hub, 60)
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            # JupyterHub notices at its next poll of the service and starts it again
            wait_service(hub, 120, old_pid=pid)
            downtimes.append(time.monotonic() - killed)
    finally:
        _finish(pool, futures)
    result = conclude("service-kill", hub, users, run, scale, len(downtimes), producers, started)
    result.notes.append(
        "restarted by JupyterHub after " + ", ".join(f"{d:.1f}" for d in downtimes) + " s"
    )
    result.details["downtimes"] = downtimes
    return result


def hub_restart(hub: RealHub, users: list[str], scale: Scale) -> Result:
    """Stop and start JupyterHub ``scale.faults`` times while the stream flows; the hub must
    run with ``cleanup_servers = False`` (``fault_hub(keep_servers=True)``)."""
    run = secrets.token_hex(3)
    started = time.monotonic()
    producers, pool, futures = _stream(hub, users, run, scale)
    pids = {p.server.user: p.server.pid for p in producers}
    downtimes, kept = [], True
    try:
        for _ in _at_intervals(scale, scale.faults):
            began = time.monotonic()
            hub.restart()
            downtimes.append(time.monotonic() - began)
            running = {u: pid for u, (pid, _) in server_processes(hub).items()}
            kept = kept and running == pids
    finally:
        _finish(pool, futures)
    result = conclude("hub-restart", hub, users, run, scale, len(downtimes), producers, started)
    result.notes.append(
        f"hub and proxy down {', '.join(f'{d:.1f}' for d in downtimes)} s; servers "
        + ("kept running" if kept else "did NOT keep running")
    )
    result.details["servers_kept"] = kept
    return result


def corrupt_outbox(hub: RealHub, users: list[str], scale: Scale) -> Result:
    """Crash the first server with events in its outbox, damage the file, start it again."""
    run = secrets.token_hex(3)
    started = time.monotonic()
    producers = [Producer(run, i, Server.find(hub, u)) for i, u in enumerate(users)]
    victim, others = producers[0], producers[1:]
    share = shares(scale.events, len(producers))
    pool = ThreadPoolExecutor(max_workers=max(1, len(others)))
    futures = [
        pool.submit(p.produce, n, scale.duration) for p, n in zip(others, share[1:], strict=True)
    ]
    path = victim.server.outbox_path(hub)
    try:
        # the victim's first half, then a crash with events still in its outbox: the service
        # is paused meanwhile, so they cannot be delivered before the crash
        victim.produce(share[0] // 2, scale.duration / 2)
        service = wait_service(hub, 60)
        os.kill(service, signal.SIGSTOP)
        try:
            victim.produce(min(CHUNK, share[0] - share[0] // 2), 0)
            time.sleep(0.5)  # the outbox thread has written them
            os.kill(victim.server.pid, signal.SIGKILL)
            while _alive(victim.server.pid):
                time.sleep(0.05)
        finally:
            os.kill(service, signal.SIGCONT)
        destroyed = set(outbox_markers(path))
        damage(path)
        after = len(victim.sent)
        # start it again (the hub itself would notice the crash only at its next poll)
        hub.stop_server(victim.server.user, timeout=60)
        hub.start_server(victim.server.user, timeout=120)
        victim.server = Server.find(hub, victim.server.user)
        rest = share[0] - len(victim.sent) - len(victim.unacknowledged)
        victim.produce(max(0, rest), scale.duration / 2)
    finally:
        _finish(pool, futures)
    expected = {m for p in producers for m in p.sent} - destroyed
    stored = settle(hub, users, run, expected, scale.settle_timeout)
    result = tally("corrupt-outbox", scale, 1, producers, stored, started, destroyed)
    result.notes += check_members(hub, users, stored)
    moved = sorted(p.name for p in path.parent.glob("outbox.sqlite.corrupt-*"))
    stored_markers = {m for _, _, m in stored}
    result.details["sent_after_corruption"] = len(victim.sent) - after
    result.details["lost_after_corruption"] = len(set(victim.sent[after:]) - stored_markers)
    result.details["moved_aside"] = moved
    result.notes.append(
        f"{len(destroyed)} event(s) were pending in the damaged file "
        f"({result.destroyed_but_stored} of them had reached the service before the crash); "
        f"{result.details['sent_after_corruption']} sent after it, all to be stored; "
        f"moved aside: {', '.join(moved) or 'nothing'}"
    )
    return result


def postgres_admin_url(url: str = POSTGRES_URL) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


@contextlib.contextmanager
def postgres_database(url: str = POSTGRES_URL) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of ``url``; dropped on exit."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from catalyst_hub.store import make_engine

    name = f"catalyst_faults_{secrets.token_hex(4)}"
    admin = make_engine(postgres_admin_url(url)).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        admin.dispose()
        raise Unavailable(f"PostgreSQL is not reachable at {url}: {e}") from None
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        wait_postgres(60, url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_control() -> list[str]:
    """The command that stops and starts this machine's PostgreSQL, without the action
    ($CATALYST_FAULTS_PG_CTL, or Debian's ``pg_ctlcluster`` for the newest cluster)."""
    configured = os.environ.get("CATALYST_FAULTS_PG_CTL")
    if configured:
        return configured.split()
    try:
        versions = sorted(os.listdir("/etc/postgresql"), key=float)
    except (OSError, ValueError):
        versions = []
    if not versions or not shutil.which("pg_ctlcluster"):
        raise Unavailable(
            "cannot restart PostgreSQL here (no pg_ctlcluster or /etc/postgresql); set "
            "$CATALYST_FAULTS_PG_CTL to a command that takes stop / start"
        )
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"]


def wait_postgres(timeout: float, url: str = POSTGRES_URL) -> None:
    """Wait until PostgreSQL accepts connections (``pg_isready``)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    command = ["pg_isready", "-q", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)]
    deadline = time.monotonic() + timeout
    while subprocess.run(command, check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"PostgreSQL is not accepting connections after {timeout} s")
        time.sleep(0.2)


def postgres_restart(
    hub: RealHub, users: list[str], scale: Scale, url: str = POSTGRES_URL
) -> Result:
    """Restart PostgreSQL ``scale.faults`` times under a service that uses it; the service
    must answer 503 meanwhile (never 500) and recover without being restarted."""
    control = postgres_control()
    run = secrets.token_hex(3)
    started = time.monotonic()
    service_before = wait_service(hub, 60)
    unavailable_before = _log_count(hub, "database unavailable")
    errors_before = _log_count(hub, "500 POST")
    producers, pool, futures = _stream(hub, users, run, scale)
    downtimes = []
    try:
        for _ in _at_intervals(scale, scale.faults):
            began = time.monotonic()
            try:
                subprocess.run([*control, "stop"], check=True, capture_output=True, timeout=120)
                time.sleep(scale.postgres_down)  # long enough for every outbox to meet it
            finally:
                # never leave the machine's PostgreSQL down
                subprocess.run([*control, "start"], check=False, capture_output=True, timeout=120)
                wait_postgres(120, url)
            downtimes.append(time.monotonic() - began)
    finally:
        _finish(pool, futures)
    result = conclude(
        "postgres-restart", hub, users, run, scale, len(downtimes), producers, started
    )
    restarted = hub.service_pid() != service_before
    result.details.update(
        service_restarted=restarted,
        answers_503=_log_count(hub, "database unavailable") - unavailable_before,
        answers_500=_log_count(hub, "500 POST") - errors_before,
    )
    result.notes.append(
        f"PostgreSQL was down for {', '.join(f'{d:.1f}' for d in downtimes)} s; the service "
        f"answered 503 {result.details['answers_503']} time(s) and 500 "
        f"{result.details['answers_500']} time(s) meanwhile, and was "
        + ("RESTARTED" if restarted else "not restarted")
    )
    return result


#: scenarios that run on a hub on SQLite (one hub for all of them, servers kept on restarts)
SQLITE_SCENARIOS = {
    "service-kill": service_kill,
    "hub-restart": hub_restart,
    "corrupt-outbox": corrupt_outbox,
}


def run_scenarios(
    names: list[str],
    workdir: Path,
    scale: Scale,
    postgres_url: str = POSTGRES_URL,
    report: Callable[[str], None] = lambda line: None,
) -> list[Result]:
    """Run the named scenarios (the SQLite ones on one hub, PostgreSQL on its own)."""
    results = []
    on_sqlite = [n for n in names if n in SQLITE_SCENARIOS]
    if on_sqlite:
        with fault_hub(Path(workdir) / "sqlite", scale, keep_servers=True) as (hub, users):
            for name in on_sqlite:
                report(f"running {name} ({scale.servers} servers, {scale.events} events)...")
                results.append(SQLITE_SCENARIOS[name](hub, users, scale))
                report(f"  {'ok' if results[-1].ok else 'FAILED'} in {results[-1].seconds:.0f} s")
    if "postgres-restart" in names:
        report(f"running postgres-restart ({scale.servers} servers, {scale.events} events)...")
        postgres_control()  # Unavailable before creating anything
        with (
            postgres_database(postgres_url) as db_url,
            fault_hub(Path(workdir) / "postgres", scale, db_url=db_url) as (hub, users),
        ):
            results.append(postgres_restart(hub, users, scale, postgres_url))
        report(f"  {'ok' if results[-1].ok else 'FAILED'} in {results[-1].seconds:.0f} s")
    return results


# -- the table ---------------------------------------------------------------------------------------


COLUMNS = [
    ("scenario", "scenario", "<"),
    ("faults", "faults", ">"),
    ("servers", "servers", ">"),
    ("sent", "sent", ">"),
    ("stored", "stored", ">"),
    ("rows", "rows", ">"),
    ("distinct ids", "distinct_ids", ">"),
    ("duplicated", "duplicated", ">"),
    ("lost", "lost", ">"),
    ("destroyed*", "destroyed", ">"),
    ("seconds", "seconds", ">"),
]


def table(results: list[Result]) -> str:
    rows = [[title for title, _, _ in COLUMNS]]
    for r in results:
        rows.append(
            [
                f"{getattr(r, attr):.0f}" if attr == "seconds" else str(getattr(r, attr))
                for _, attr, _ in COLUMNS
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.ljust(w) if align == "<" else cell.rjust(w)
            for cell, w, (_, _, align) in zip(row, widths, COLUMNS, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = [f"- {r.scenario}: {note}" for r in results for note in r.notes]
    if any(r.unacknowledged for r in results):
        notes += [
            f"- {r.scenario}: {r.unacknowledged} event(s) got no answer from the local API"
            for r in results
            if r.unacknowledged
        ]
    legend = (
        "sent: accepted by the servers' local API (202); stored: distinct events of the run in "
        "the service's log; rows / distinct ids: rows stored and their distinct event ids; "
        "duplicated: rows beyond one per event, plus stored events never sent; lost: sent, not "
        "stored, and not in a destroyed file. *destroyed (corrupt-outbox only): events that were "
        "still pending in the outbox file the scenario destroyed; they are not counted as lost, "
        "and those the service had already stored before the crash appear as stored."
    )
    return "\n".join(lines + ["", legend] + ([""] + notes if notes else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.faults",
        description=__doc__.split("\n\n")[0]
        + " Runs the scenarios against real processes and prints events sent, stored, "
        "duplicated and lost per scenario.",
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        default=list(SCENARIOS),
        help=f"scenarios to run (default: all): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--scale", choices=("test", "full"), default="test")
    parser.add_argument("--servers", type=int, help="single-user servers (overrides --scale)")
    parser.add_argument("--events", type=int, help="events over all servers (overrides --scale)")
    parser.add_argument("--duration", type=float, help="seconds the stream of events lasts")
    parser.add_argument("--faults", type=int, help="kills or restarts per scenario")
    parser.add_argument(
        "--service-poll",
        type=float,
        help="seconds between JupyterHub's checks of the managed service (0: JupyterHub's 30 s)",
    )
    parser.add_argument("--workdir", help="folder for the hubs (default: a temporary one)")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    scale = FULL_SCALE if args.scale == "full" else TEST_SCALE
    overrides = {
        "servers": args.servers,
        "events": args.events,
        "duration": args.duration,
        "faults": args.faults,
        "service_poll": args.service_poll,
    }
    scale = Scale(**{**scale.__dict__, **{k: v for k, v in overrides.items() if v is not None}})
    with contextlib.ExitStack() as stack:
        workdir = Path(args.workdir or stack.enter_context(tempfile.TemporaryDirectory()))
        try:
            results = run_scenarios(
                args.scenarios,
                workdir,
                scale,
                args.postgres_url,
                report=lambda line: print(line, flush=True),
            )
        except Unavailable as e:
            print(f"cannot run: {e}", file=sys.stderr)
            return 2
    print()
    print(table(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
