"""``python -m benchmarks``: catalyst_hub at a consortium's scale, every figure beside a
baseline measured in the same run. ``--full`` runs the 1, 3 and 10 million event figures."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psutil

from catalyst_hub.catalog import Catalog
from catalyst_hub.projections import Projector
from catalyst_hub.seed import Consortium, catalog_episodes, seed_store
from catalyst_hub.store import Store, make_engine

from . import consortium, export, page_weight, reports, service, xapi_lrs
from .common import (
    BENCH_DATABASE,
    Results,
    drop_postgres,
    fresh_database,
    ms,
    p50,
    p95,
    postgres_available,
    rate,
    scale_label,
    seeded_database,
    timed,
    timed_pair,
)

HUB = "bench"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--full", action="store_true", help="1, 3 and 10 million events (long)")
    parser.add_argument("--sizes", help="comma-separated log sizes, e.g. 300000,1000000")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--ingest-events", type=int, help="events per HTTP ingest run")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per report")
    parser.add_argument("--collector-users", type=int, default=5000)
    parser.add_argument(
        "--checklist-members", type=int, default=5, help="members timed in the checklist section"
    )
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated sections to skip: http,collector,rebuild,reports,export,checklist,weight,xapi,consortium",
    )
    consortium.add_arguments(parser)
    parser.add_argument(
        "--workdir", help="folder for SQLite files and hub processes (default: a temporary one)"
    )
    parser.add_argument("--output", default="", help="also write the markdown table to this file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the seeded databases (with --workdir)"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="use the databases a --keep run seeded in --workdir instead of seeding again",
    )
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([1_000_000, 3_000_000, 10_000_000] if args.full else [300_000, 1_000_000])
    )
    ingest_events = args.ingest_events or (200_000 if args.full else 50_000)
    skip = set(filter(None, args.skip.split(",")))
    engines = [e for e in args.engines.split(",") if e]
    if "postgresql" in engines and not postgres_available():
        print("PostgreSQL is not reachable at 127.0.0.1:5432: its figures are left out")
        engines.remove("postgresql")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="catalyst-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()}, {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GB, Python {platform.python_version()}"
    print(
        f"catalyst_hub benchmarks on {machine}; sizes {sizes}; engines {engines}; workdir {workdir}",
        flush=True,
    )
    results = Results()
    end = date.today() - timedelta(days=1)
    began = time.perf_counter()
    try:
        for engine_name in engines:
            for size in sizes:
                run_scale(
                    results,
                    engine_name,
                    size,
                    end,
                    workdir,
                    args,
                    ingest_events,
                    skip,
                    size == sizes[-1],
                )
        if "collector" not in skip:
            run_collector(results, workdir, args.collector_users)
        if "checklist" not in skip:
            run_checklist(results, workdir, args.checklist_members)
        if "weight" not in skip:
            run_page_weight(results, workdir)
        if "consortium" not in skip:
            consortium.run(results, workdir, args)
        if "xapi" not in skip:
            run_xapi(results, workdir)
    finally:
        for engine_name in engines:
            if engine_name == "postgresql" and not args.keep:
                for size in sizes:
                    drop_postgres(f"{BENCH_DATABASE}_{size}")
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    table = results.markdown()
    header = f"Machine: {machine}. Command: `python -m benchmarks {' '.join(argv or [])}`. Took {time.perf_counter() - began:.0f} s."
    print("\n" + header + "\n\n" + table)
    if args.output:
        Path(args.output).write_text(header + "\n\n" + table + "\n")


def run_scale(
    results: Results,
    engine_name: str,
    size: int,
    end: date,
    workdir: Path,
    args,
    ingest_events: int,
    skip: set,
    largest: bool,
) -> None:
    scale = scale_label(size)
    print(f"\n== {engine_name}, {scale} events", flush=True)
    url = seeded_database(engine_name, workdir, str(size), HUB, size) if args.reuse else None
    reused = url is not None
    url = url or fresh_database(engine_name, workdir, str(size))
    engine = make_engine(url)
    store = Store(engine, HUB, b"bench-secret-" + b"0" * 32, Projector(Catalog.load()))
    plan = Consortium(
        events=size, seed=1, end=end, episodes=catalog_episodes(store.catalog), hub=HUB
    )
    if reused:
        print(f"using the {scale} events seeded by an earlier run", flush=True)
    else:
        began = time.perf_counter()
        seed_store(store, plan, "bulk")
        results.add(
            "seed (bulk Store.append)",
            engine_name,
            scale,
            "events/s",
            rate(size / (time.perf_counter() - began)),
        )

    if "rebuild" not in skip:
        began = time.perf_counter()
        replayed = store.rebuild()
        seconds = time.perf_counter() - began
        results.add(
            "rebuild",
            engine_name,
            scale,
            f"{replayed:,} events",
            f"{seconds:.1f} s ({rate(replayed / seconds)})",
            target="10 M < 120 s",
        )

    ctx = reports.context(store, end)
    calls, missing = reports.discover(ctx) if "reports" not in skip else ({}, [])
    naive = reports.naive_scans(ctx)
    for name, call in calls.items():
        baseline = ""
        if name in reports.PAIRED_BASELINES:
            what, make = reports.PAIRED_BASELINES[name]
            samples, before = timed_pair(call, make(ctx), args.repeat)
            baseline = f"{what}: p50 {ms(p50(before))} / p95 {ms(p95(before))}"
        else:
            samples = timed(call, args.repeat)
        if name in naive:
            try:
                scan = timed(naive[name], 3)
            except Exception as e:  # a baseline the engine cannot run is no reason to stop
                baseline = f"naive scan failed: {type(e).__name__}"
            else:
                baseline = f"naive scan p50 {ms(p50(scan))}"
        results.add(
            "report query",
            engine_name,
            scale,
            f"{name} p50 / p95",
            f"{ms(p50(samples))} / {ms(p95(samples))}",
            baseline,
            "p95 < 50 ms",
        )
    if missing:
        results.add("report query", engine_name, scale, "not found (yet)", ", ".join(missing))
    engine.dispose()

    if "export" not in skip:
        export.run(results, engine_name, url, size, workdir)

    if "http" in skip:
        return
    # as many members as send to a hub at once, each with about as many events over all the
    # runs as a member of the seeded consortium has (about 1,000)
    users = service.bench_users(256)
    hub = service.start_hub(workdir / f"hub-{engine_name}-{size}", url, HUB, users)
    try:
        tokens = [hub.token(name) for name in users]
        url_direct = service.direct_url(hub)
        cases = [(100, 1, False), (100, 8, False), (1000, 1, False), (1000, 8, False)]
        # and after an outage of the service: every member's backlog covers the same hours
        cases.append((1000, 8, True))
        for batch, clients, backlog in cases:
            events_per_s, batches = service.http_ingest(
                url_direct, tokens, batch, clients, ingest_events, batch + clients, backlog
            )
            tag = f"{batch}_{clients}{'_backlog' if backlog else ''}"
            ceiling = service.raw_ceiling(url, batches, len(tokens), tag)
            results.add(
                "HTTP ingest (service port)",
                engine_name,
                scale,
                f"batch {batch}, {clients} client(s)" + (", backlogs" if backlog else ""),
                rate(events_per_s),
                f"bare executemany {rate(ceiling)} ({100 * events_per_s / ceiling:.0f}%)",
                "SQLite >= 50,000/s and >= 15%",
            )
        proxied, _ = service.http_ingest(hub.service_url, tokens, 1000, 8, ingest_events, seed=99)
        results.add(
            "HTTP ingest (through the proxy)",
            engine_name,
            scale,
            "batch 1000, 8 clients",
            rate(proxied),
        )
        if largest:
            fresh = service.freshness(url_direct, tokens)
            results.add(
                "freshness",
                engine_name,
                scale,
                "POST to visible in api/me, p50 / max",
                f"{ms(p50(fresh))} / {ms(max(fresh))}",
                target="< 5 s",
            )
            admin = hub.token(service.ADMIN)
            pages = service.report_pages(url_direct, admin, ctx["community"], args.repeat)
            for path, samples in pages.items():
                results.add(
                    "dashboard page (HTTP)",
                    engine_name,
                    scale,
                    f"{path} p50 / p95",
                    f"{ms(p50(samples))} / {ms(p95(samples))}",
                    target="p95 < 50 ms",
                )
            rss = service.service_rss(hub)
            results.add(
                "service memory",
                engine_name,
                scale,
                "RSS after ingest and reports",
                f"{rss / 2**20:.0f} MB" if rss else "-",
                target="< 300 MB",
            )
    finally:
        hub.stop()


def run_collector(results: Results, workdir: Path, users: int) -> None:
    print(f"\n== collector against a hub of {users:,} users", flush=True)
    hub = service.start_hub(
        workdir / "hub-collector",
        f"sqlite:///{workdir / 'collector-service.sqlite'}",
        "collector",
        service.bench_users(2),
    )
    try:
        cold, warm, count = service.collector_poll(hub, workdir, users)
        results.add(
            "collector",
            "sqlite",
            "-",
            f"one poll of {count:,} users (first / next)",
            f"{cold:.2f} s / {warm:.2f} s",
            target="< 5 s",
        )
    finally:
        hub.stop()


def run_checklist(results: Results, workdir: Path, members: int) -> None:
    print(f"\n== checklist freshness: the first steps of {members} members", flush=True)
    samples = service.checklist_freshness(workdir / "hub-checklist", members)
    what = {
        "login": "first request to Log in shown done",
        "start_server": "server ready to Start shown done",
        "run_code": "first cell run to Run some code shown done",
        "stop_server": "server stop asked to Stop shown done",
    }
    for step, label in what.items():
        seconds = samples[step]
        results.add(
            "checklist freshness",
            "sqlite",
            "-",
            f"{label}, p50 / max",
            f"{ms(p50(seconds))} / {ms(max(seconds))}",
            "collector alone: up to its 60 s poll",
            target="< 5 s",
        )


def run_page_weight(results: Results, workdir: Path) -> None:
    print("\n== page weight on a slow link (Chromium, 400 ms, 50 kB/s)", flush=True)
    for measure, value, baseline, target in page_weight.measure(workdir / "hub-weight"):
        results.add("page weight (slow link)", "sqlite", "-", measure, value, baseline, target)


def run_xapi(results: Results, workdir: Path) -> None:
    print("\n== the same learning records to our ingest API and to the Ralph LRS", flush=True)
    for measure, value, baseline in xapi_lrs.measure(workdir / "xapi"):
        results.add("learning records in", "sqlite", "-", measure, value, baseline)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
