"""The service as JupyterHub runs it (real hub, proxy and service processes): HTTP ingest
throughput beside a bare executemany, freshness, report pages, memory, and the collector."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import psutil
import requests
from sqlalchemy import Index, MetaData, Table

from catalyst_hub.events import envelope
from catalyst_hub.events.names import ACTION, ACTIVITY
from catalyst_hub.store import make_engine
from catalyst_hub.store import tables as t
from catalyst_hub.timeutil import utcnow
from harness import live
from harness.realhub import REPO, RealHub

from .common import p50, p95

ACTIONS = ("cell_executed", "notebook_saved", "kernel_started", "file_uploaded", "git_committed")
ADMIN = "bench-admin@example.org"


def bench_users(count: int) -> dict[str, str]:
    return {f"bench{i}@community{i % 4}.example.org": f"pw-{i}" for i in range(count)}


def start_hub(workdir: Path, db_url: str, hub_name: str, users: dict[str, str]) -> RealHub:
    groups: dict[str, list[str]] = {"catalyst-admins": [ADMIN]}
    for name in users:
        groups.setdefault("community-" + name.split("@")[1].split(".")[0], []).append(name)
    hub = RealHub(
        workdir,
        users={**users, ADMIN: "admin-pw"},
        groups=groups,
        db_url=db_url,
        hub_name=hub_name,
        # the hub's own poll of servers is not what these figures are about, nor is the
        # retention purge: the seeded two years would lose their first year (millions of rows)
        # while ingest is measured, and the log would no longer be the size it is said to be
        extra_service_config=(
            "c.Collector.poll_interval = 3600\nc.CatalystService.retention_days = 0\n"
            # members who never answer the notice: opt-out mode stores their events, as the
            # figures are about storing them
            "c.CatalystService.consent_mode = 'opt-out'\n"
        ),
    )
    hub.start(timeout=120)
    return hub


def direct_url(hub: RealHub) -> str:
    """The service's own port, past the proxy (which runs on the same 2 cores)."""
    return f"http://127.0.0.1:{hub.service_port}/services/catalyst/"


def envelopes(count: int, rng: random.Random, backlog: bool = False) -> list[dict[str, Any]]:
    """One member's batch as a server's outbox sends it, oldest first and ending moments
    ago: activity counts with an action now and then. Live, a batch holds the last minute;
    a ``backlog`` (the service was away) holds an event per 20 s going back hours, and the
    backlogs of all members cover the same hours."""
    end = utcnow() - timedelta(seconds=rng.randrange(1, 5))
    step = 20 if backlog else 60 / count
    out = []
    for i in range(count):
        when = end - timedelta(seconds=step * (count - i))
        if rng.random() < 0.9:
            payload: dict[str, Any] = {
                "kind": rng.choice(("kernel", "notebook", "proxy")),
                "count": rng.randint(1, 40),
                "seconds": 60,
            }
            schema = ACTIVITY
        else:
            payload, schema = {"action": rng.choice(ACTIONS)}, ACTION
        out.append(envelope(schema, payload, time=when))
    return out


async def _post_all(url: str, bodies: list[tuple[str, bytes]], clients: int) -> None:
    """POST every body, ``clients`` requests at a time, each client on one kept-alive
    connection (aiohttp: its HTTP parser is C, so the client takes little of the 2 cores
    the service needs)."""
    import aiohttp

    queue = list(reversed(bodies))
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def worker() -> None:
            while queue:
                token, body = queue.pop()
                async with http.post(
                    url + "api/events",
                    data=body,
                    headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
                ) as response:
                    answer = await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"ingest answered {response.status}: {answer[:300]!r}")
                    # what is measured is storing: an event answered otherwise (deferred for
                    # an undecided member, say) would make the figure meaningless
                    statuses = {r["status"] for r in orjson.loads(answer)["results"]}
                    if statuses - {"stored", "duplicate"}:
                        raise RuntimeError(f"ingest did not store the batch: {sorted(statuses)}")

        await asyncio.gather(*(worker() for _ in range(clients)))


def http_ingest(
    url: str,
    tokens: list[str],
    batch: int,
    clients: int,
    total: int,
    seed: int,
    backlog: bool = False,
) -> tuple[float, list[list[dict]]]:
    """Events/s of ``total`` events POSTed in batches of ``batch`` by ``clients`` concurrent
    clients, spread over the members' tokens (batch i is the member of token i). Bodies are
    built before the clock starts."""
    rng = random.Random(seed)
    batches = [envelopes(batch, rng, backlog) for _ in range(max(1, total // batch))]
    bodies = [(tokens[i % len(tokens)], orjson.dumps({"events": b})) for i, b in enumerate(batches)]
    # warm the service's token cache (HubOAuth caches a token's model for 60 s)
    for token in tokens:
        requests.get(url + "api/me", headers={"Authorization": f"token {token}"}, timeout=60)
    began = time.perf_counter()
    asyncio.run(_post_all(url, bodies, clients))
    return len(batches) * batch / (time.perf_counter() - began), batches


def raw_ceiling(db_url: str, batches: list[list[dict]], members: int, tag: str) -> float:
    """The same rows by a bare executemany INSERT into a copy of the events table, one
    transaction per batch like one request, batch i about member i of ``members`` as in
    ``http_ingest``: the database's ceiling on this machine."""
    engine = make_engine(db_url)
    # the events table's columns, key and indexes, under other names
    name = f"bench_raw_events_{tag}"
    raw = Table(
        name,
        MetaData(),
        *[column._copy() for column in t.events.c],
        *[
            Index(f"{index.name}_{tag}", *[c.name for c in index.columns])
            for index in t.events.indexes
        ],
    )
    raw.drop(engine, checkfirst=True)
    raw.create(engine)
    now = utcnow()
    sqlite = engine.dialect.name == "sqlite"

    def when(value: str):
        parsed = (value[:-1] if value.endswith("Z") else value).replace("T", " ")
        return parsed if sqlite else __import__("datetime").datetime.fromisoformat(parsed)

    rows = [
        [
            (
                e["id"],
                "bench",
                f"{i % members:064x}",
                "c",
                e["schema"],
                1,
                when(e["time"]),
                now if not sqlite else str(now),
                orjson.dumps(e["payload"]).decode(),
            )
            for e in b
        ]
        for i, b in enumerate(batches)
    ]
    mark = "?" if sqlite else "%s"
    sql = f"INSERT INTO {raw.name} (id, hub, member_id, community, schema, version, time, received, payload) VALUES ({', '.join([mark] * 9)})"
    began = time.perf_counter()
    for chunk in rows:
        with engine.begin() as conn:
            conn.exec_driver_sql(sql, chunk)
    elapsed = time.perf_counter() - began
    raw.drop(engine)
    engine.dispose()
    return sum(map(len, rows)) / elapsed


def freshness(url: str, tokens: list[str], samples: int = 8) -> list[float]:
    """Seconds from POSTing an event to seeing its step reached in ``api/me``."""
    steps = [
        ("file_uploaded", "upload_file"),
        ("git_cloned", "use_git"),
        ("home_saved", "save_work"),
    ]
    out = []
    for i in range(samples):
        token = tokens[i % len(tokens)]
        action, step = steps[(i // len(tokens)) % len(steps)]
        headers = {"Authorization": f"token {token}"}
        event = envelope(ACTION, {"action": action})
        began = time.perf_counter()
        r = requests.post(url + "api/events", json={"events": [event]}, headers=headers, timeout=60)
        r.raise_for_status()
        while time.perf_counter() - began < 30:
            me = requests.get(url + "api/me", headers=headers, timeout=60).json()
            if any(s["id"] == step and s["state"] == "done" for s in me["steps"]):
                break
            time.sleep(0.01)
        out.append(time.perf_counter() - began)
    return out


def checklist_freshness(workdir: Path, members: int) -> dict[str, list[float]]:
    """Per step, the seconds from each member's action to the step shown done on their page,
    on a real hub whose single-user servers load the extension and whose collector polls
    only once an hour (deployments poll every 60 s: that is the baseline)."""
    users = {f"fresh{i}@example.org": f"pw-{i}" for i in range(members)}
    hub = RealHub(
        workdir,
        users=users,
        groups={"community-fresh": list(users)},
        extra_hub_config=live.extension_config(str(REPO / "jupyter_config")),
        extra_service_config=live.SLOW_COLLECTOR,
    )
    out: dict[str, list[float]] = {}
    with hub:
        for name in users:
            # they accepted the recording notice (the service's default is opt-in: an
            # undecided member's login waits in the ingest path until they decide)
            hub.decide(name)
            for step, seconds in live.first_steps(hub, name).items():
                out.setdefault(step, []).append(seconds)
    return out


def report_pages(url: str, token: str, community: str, repeat: int) -> dict[str, list[float]]:
    """Dashboard pages (HTML) and their JSON, as browsers and scripts fetch them."""
    paths = ["reports/overview", "reports/overview.json", "training"]
    for kind in ("adoption", "funnel", "usage", "month"):
        paths += [
            f"reports/communities/{community}/{kind}",
            f"reports/communities/{community}/{kind}.json",
        ]
    out = {}
    with requests.Session() as session:
        session.headers["Authorization"] = f"token {token}"
        for path in paths:
            samples = []
            for i in range(repeat + 1):
                began = time.perf_counter()
                r = session.get(url + path, timeout=120)
                if r.status_code != 200:
                    samples = []
                    break
                if i:
                    samples.append(time.perf_counter() - began)
            if samples:
                out[path] = samples
    return out


def service_rss(hub: RealHub) -> int | None:
    pid = hub.service_pid()
    return psutil.Process(pid).memory_info().rss if pid else None


def collector_poll(hub: RealHub, workdir: Path, users: int) -> tuple[float, float, int]:
    """Create ``users`` hub users, then time the real Collector's first (cold: every
    identity is new) and second poll against the hub's paginated REST API."""
    from traitlets.config import Config

    from catalyst_hub.service.app import CatalystService

    names = [f"poll{i}@community{i % 20}.example.org" for i in range(users)]
    for i in range(0, users, 1000):
        r = hub.api("post", "users", json={"usernames": names[i : i + 1000]})
        if r.status_code not in (201, 409):
            raise RuntimeError(f"creating users: {r.status_code} {r.text[:300]}")
    config = Config(
        {
            "CatalystApp": {
                "hub_name": "poll",
                "db_url": f"sqlite:///{workdir / 'collector.sqlite'}",
                "secret_file": str(workdir / "collector_secret"),
            },
            "HubOAuth": {"api_token": hub.harness_token, "api_url": hub.url + "hub/api"},
            "Collector": {"poll_interval": 3600},
        }
    )
    CatalystService.clear_instance()
    service = CatalystService(config=config)
    service.initialize([])

    async def polls() -> tuple[float, float]:
        began = time.perf_counter()
        await service.collector.poll()
        cold = time.perf_counter() - began
        began = time.perf_counter()
        await service.collector.poll()
        return cold, time.perf_counter() - began

    cold, warm = asyncio.run(polls())
    service.db_executor.shutdown()
    service.engine.dispose()
    return cold, warm, users


__all__ = [
    "collector_poll",
    "freshness",
    "http_ingest",
    "p50",
    "p95",
    "raw_ceiling",
    "report_pages",
    "service_rss",
    "start_hub",
]
