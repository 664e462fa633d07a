"""The consortium at scale: 300 hubs x 20 communities x 2 years of daily summaries.

The consortium's store is filled with every hub's monthly documents (as hubs send them:
each month of each community with its days), then:

- ingest of one day's summaries from every hub, over HTTP to the real consortium service (a
  process of its own), ``--clients`` hubs at a time (each hub sends its current month: every
  community and each day so far, as its publisher does, the day before's version already
  stored), beside the same documents stored without HTTP over the same state; early in a
  month (through day 2) and at its end (through day 31: the largest documents), as
  ``--through-days``;
- the overview of a month and the funder report of a quarter (the report functions), p50 /
  p95, beside a naive computation of the same month's totals from its days.

Run: ``python -m benchmarks.consortium [--hubs 300] [--communities 20] [--months 24]``;
``python -m benchmarks`` runs it as its ``consortium`` section.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import orjson
import psutil
import requests
from sqlalchemy import func, select

from catalyst_hub.consortium import reports
from catalyst_hub.consortium import tables as ct
from catalyst_hub.consortium.store import ConsortiumStore, upgrade
from catalyst_hub.localhub import free_ports
from catalyst_hub.reports.common import english
from catalyst_hub.store import make_engine
from harness.waiting import wait_until

from .common import (
    Results,
    drop_postgres,
    ms,
    p50,
    p95,
    postgres_available,
    rate,
    recreate_postgres,
    timed,
)

SUPPRESSED = {"suppressed": True, "fewer_than": 5}
HIDDEN = {"suppressed": True}


def count(rng: random.Random, high: int):
    n = rng.randint(0, high)
    if 0 < n < 5:
        return SUPPRESSED
    return HIDDEN if rng.random() < 0.05 else n


def month_document(hub: str, month: date, through: date, communities: int, sequence: int, rng):
    days = []
    day = month
    while day <= through:
        days.append(
            {
                "day": day.isoformat(),
                "provisional": False,
                "figures": {
                    "active_day": count(rng, 30),
                    "active_7d": count(rng, 60),
                    "active_30d": count(rng, 120),
                    "new_members": count(rng, 8),
                    "activated": count(rng, 6),
                },
            }
        )
        day += timedelta(days=1)
    return {
        "schema": "catalyst.consortium.summary",
        "version": 1,
        "hub": hub,
        "sequence": sequence,
        "generated": "2026-12-03T00:00:00+00:00",
        "month": month.isoformat()[:7],
        "min_group_size": 5,
        "communities": [
            {
                "community": f"community{c}",
                "month": month.isoformat()[:7],
                "through": through.isoformat(),
                "provisional": False,
                "public": c == 0,
                "figures": {
                    "members": count(rng, 400),
                    "active_members": count(rng, 150),
                    "mean_dau": round(rng.random() * 30, 2),
                    "new_members": count(rng, 40),
                    "activated_in_period": count(rng, 30),
                    "learners": count(rng, 60),
                    "episodes_completed": count(rng, 90),
                    "champions_trained": count(rng, 6),
                    "sessions": count(rng, 900),
                    "server_hours": round(rng.random() * 2000, 1),
                },
                "steps": {"login": count(rng, 40), "run_code": count(rng, 30)},
                "apps": {"jupyterlab": {"members": count(rng, 100), "hours": 12.5}},
                "days": days,
            }
            for c in range(communities)
        ],
    }


def month_end(month: date) -> date:
    return reports.add_months(month, 1) - timedelta(days=1)


def fill(store: ConsortiumStore, hubs: int, communities: int, months: list[date], rng) -> float:
    """Every hub's closed months, stored as hubs would send them; returns seconds."""
    began = time.perf_counter()
    now = datetime(2026, 12, 3)
    for h in range(hubs):
        for month in months:
            doc = month_document(f"hub{h:03}", month, month_end(month), communities, 1, rng)
            store.store_summary(doc["hub"], doc, now)
    return time.perf_counter() - began


#: where a stored day ([day, provisional, *DAY_COLUMNS]) holds its rolling 30 days
ACTIVE_30D = 2 + ct.DAY_COLUMNS.index("active_30d")


def naive_month_totals(store: ConsortiumStore, month: date):
    """The baseline: a month's active members worked out from its days (max of each
    community's rolling 30 days), the way one would without month figures."""
    mo = ct.months.c
    total = communities = 0
    with store.engine.connect() as conn:
        for (days,) in conn.execute(select(mo.days).where(mo.month == month)):
            shown = [d[ACTIVE_30D] for d in orjson.loads(days)]
            total += max((v for v in shown if type(v) is int), default=0)
            communities += 1
    return total, communities


async def ingest_day(url: str, documents: list[bytes], tokens: list[str], clients: int) -> float:
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest

    AsyncHTTPClient.configure(None, max_clients=clients)
    client = AsyncHTTPClient()
    queue = list(zip(documents, tokens, strict=True))
    month = orjson.loads(documents[0])["month"]

    async def worker():
        while queue:
            body, token = queue.pop()
            r = await client.fetch(
                HTTPRequest(
                    url + f"api/v1/summaries/{month}",
                    method="PUT",
                    body=body,
                    headers={"Authorization": f"Bearer {token}"},
                    request_timeout=120,
                )
            )
            assert orjson.loads(r.body)["result"] == "stored", r.body

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - began


def day_documents(
    hubs: int, communities: int, month: date, through: date, sequence: int, rng
) -> list[tuple[dict, dict]]:
    """Per hub: (the day before's version of its month, today's), as its publisher sends
    them: yesterday's has a day less, its last day provisional with other figures; today's
    brings one new day and that one revised."""
    out = []
    for h in range(hubs):
        doc = month_document(f"hub{h:03}", month, through, communities, sequence + 1, rng)
        before = month_document(f"hub{h:03}", month, through, communities, sequence, rng)
        for c, b in zip(doc["communities"], before["communities"], strict=True):
            revised = b["days"][len(c["days"]) - 2] if len(c["days"]) > 1 else None
            b["days"] = [dict(d) for d in c["days"][:-1]]
            if revised is not None:
                b["days"][-1] = dict(revised, provisional=True)
                b["through"] = b["days"][-1]["day"]
        out.append((before, doc))
    return out


@contextmanager
def service_process(db_url: str) -> Iterator[tuple[str, psutil.Process]]:
    """The consortium service in a process of its own, as it runs beside a hub: its URL
    and its process (for the CPU it used)."""
    port = free_ports(1)[0]
    url = f"http://127.0.0.1:{port}/c/"
    env = dict(
        os.environ,
        JUPYTERHUB_SERVICE_URL=f"http://127.0.0.1:{port}",
        JUPYTERHUB_SERVICE_PREFIX="/c/",
        JUPYTERHUB_API_TOKEN="unused",
        JUPYTERHUB_API_URL="http://127.0.0.1:9/hub/api",
    )
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "catalyst_hub", "consortium", f"--db-url={db_url}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def answers() -> bool:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the consortium service stopped: {log.read()[-2000:]!r}")
            try:
                requests.get(url + "api/v1/ready", timeout=5)
                return True
            except requests.ConnectionError:
                return False

        try:
            wait_until(answers, timeout=60, what="the consortium service")
            yield url, psutil.Process(process.pid)
        finally:
            process.terminate()
            process.wait(30)


def cpu_seconds(process: psutil.Process) -> float:
    """CPU time a process used so far, its threads' and its live child processes' (the
    parsing process) included: on a shared machine, the work done whatever the load (wall
    times grow with other people's work)."""
    total = 0.0
    for p in (process, *process.children(recursive=True)):
        times = p.cpu_times()
        total += times.user + times.system
    return total


def store_all(store: ConsortiumStore, documents: list[dict], sequence: int, now) -> float:
    """Seconds to store ``documents`` one at a time (as ``sequence``), without HTTP."""
    began = time.perf_counter()
    for doc in documents:
        store.store_summary(doc["hub"], dict(doc, sequence=sequence), now)
    return time.perf_counter() - began


async def ingest_case(
    results: Results,
    engine_name: str,
    scale: str,
    url: str,
    store: ConsortiumStore,
    args,
    tokens: list[str],
    through: date,
    case: int,
    rng,
) -> None:
    """One day's summaries from every hub, the month sent through ``through``: over HTTP
    to the real service, beside the same documents stored without HTTP over the same
    day-before state (the same rows to diff and write)."""
    stamp = datetime.combine(date.today(), datetime.min.time())
    base = 10 * case + 1  # each case's versions are newer than the case before's
    pairs = day_documents(args.hubs, args.communities, through.replace(day=1), through, base, rng)
    for before, _ in pairs:
        store.store_summary(before["hub"], before, stamp)
    bodies = [orjson.dumps(doc) for _, doc in pairs]
    with service_process(url) as (service_url, process):
        began = cpu_seconds(process)
        http = await ingest_day(service_url, bodies, tokens, args.clients)
        cpu = cpu_seconds(process) - began
    # the baseline: the day before's versions again, then the same documents stored
    # directly (no HTTP, no parsing or validation), as newer versions
    store_all(store, [b for b, _ in pairs], base + 2, stamp)
    direct = store_all(store, [d for _, d in pairs], base + 3, stamp)
    rows = args.hubs * args.communities * through.day
    results.add(
        "consortium ingest of a day, HTTP",
        engine_name,
        scale,
        f"{args.hubs} hubs' current months through day {through.day} ({rows:,} days, "
        f"the day before stored), {args.clients} clients",
        f"{http:.2f} s (the service's CPU: {cpu:.2f} s)",
        f"the same documents stored without HTTP, one at a time: {direct:.2f} s",
        "< 5 s",
    )


async def run_engine(results: Results, engine_name: str, url: str, args) -> None:
    scale = f"{args.hubs} hubs x {args.communities} x {args.months} months"
    rng = random.Random(1)
    engine = make_engine(url)
    upgrade(engine)
    store = ConsortiumStore(engine)
    today = date.today()
    current = today.replace(day=1)
    months = [reports.add_months(current, -i) for i in range(args.months, 0, -1)]
    print(f"== consortium, {engine_name}: filling {scale}", flush=True)
    seconds = fill(store, args.hubs, args.communities, months, rng)
    with engine.connect() as conn:
        month_rows = conn.execute(select(func.count()).select_from(ct.months)).scalar_one()
    day_count = sum((month_end(m) - m).days + 1 for m in months) * args.hubs * args.communities
    results.add(
        "consortium fill (store_summary)",
        engine_name,
        scale,
        f"{month_rows:,} community months, {day_count:,} days",
        f"{seconds:.0f} s ({rate(day_count / seconds)} days)",
    )
    # one day's summaries from every hub: each sends its current month so far
    stamp = datetime(today.year, today.month, today.day)
    tokens = [store.create_credential(f"hub{h:03}", "bench", stamp)[1] for h in range(args.hubs)]
    for case, day in enumerate(int(d) for d in args.through_days.split(",") if d):
        through = current + timedelta(days=min(day, month_end(current).day) - 1)
        await ingest_case(results, engine_name, scale, url, store, args, tokens, through, case, rng)
    last = months[-1]
    year, quarter = reports.quarter_of(last)
    calls = {
        "overview (a month: regions, every hub side by side)": lambda: reports.overview(
            store, last, {}, english
        ),
        "overview of one hub's communities": lambda: reports.overview(
            store, last, {}, english, hub="hub007"
        ),
        "funder report (a quarter)": lambda: reports.funder(store, year, quarter, {}, english),
        "trends (12 months)": lambda: reports.trends(store, last, 12, {}, english),
        "a community's page": lambda: reports.community_report(
            store, "hub007", "community3", english
        ),
    }
    naive = timed(lambda: naive_month_totals(store, last), 3)
    for name, call in calls.items():
        samples = timed(call, args.repeat)
        results.add(
            "consortium report",
            engine_name,
            scale,
            f"{name} p50 / p95",
            f"{ms(p50(samples))} / {ms(p95(samples))}",
            f"month totals from the days: p50 {ms(p50(naive))}",
            "p95 < 100 ms",
        )
    engine.dispose()


def run(results: Results, workdir, args) -> None:
    engines = [e for e in args.consortium_engines.split(",") if e]
    for engine_name in engines:
        if engine_name == "postgresql":
            if not postgres_available():
                print("PostgreSQL is not reachable: consortium figures left out")
                continue
            url = recreate_postgres("catalyst_bench_consortium")
        else:
            path = workdir / "consortium.sqlite"
            for suffix in ("", "-wal", "-shm"):
                p = path.with_name(path.name + suffix)
                if p.exists():
                    p.unlink()
            url = f"sqlite:///{path}"
        try:
            asyncio.run(run_engine(results, engine_name, url, args))
        finally:
            if engine_name == "postgresql":
                drop_postgres("catalyst_bench_consortium")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hubs", type=int, default=300)
    parser.add_argument("--communities", type=int, default=20)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--clients", type=int, default=16, help="hubs sending at once")
    parser.add_argument(
        "--through-days",
        default="2,31",
        help="the days of the month the hubs send through, one ingest each (31: the "
        "month's last day)",
    )
    parser.add_argument("--consortium-engines", default="sqlite,postgresql")


def main(argv=None) -> None:
    import tempfile
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m benchmarks.consortium", description=__doc__)
    add_arguments(parser)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    results = Results()
    with tempfile.TemporaryDirectory(prefix="consortium-bench-") as workdir:
        run(results, Path(workdir), args)
    print("\n" + results.markdown())


if __name__ == "__main__":
    main()
