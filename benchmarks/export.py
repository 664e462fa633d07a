"""The Parquet export (``catalyst-hub export --parquet``) of a seeded consortium: time, peak
memory and size, beside a bare read of the same event rows and the database's own size.

Run by ``python -m benchmarks`` at each scale (``--skip export`` leaves it out), or alone:

    python -m benchmarks.export --events 1000000 --engines sqlite,postgresql

Each export runs as a process of its own (its peak RSS is its own): a first export into an
empty folder, a second with nothing changed, and a third after 1,000 new events of one day
(only the partitions those touch are rewritten).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from catalyst_hub.catalog import Catalog
from catalyst_hub.projections import Projector
from catalyst_hub.store import Store, make_engine
from catalyst_hub.store import tables as t
from catalyst_hub.store import warehouse as w

from .common import Results, drop_postgres, fresh_database, postgres_available, scale_label

HUB = "bench"
SECRET = b"bench-secret-" + b"0" * 32
CHANGED_EVENTS = 1000


def _store(url: str, hub: str) -> Store:
    return Store(make_engine(url), hub, SECRET, Projector(Catalog.load()))


def _child(url: str, hub: str, folder: str) -> None:
    """In the measured process: one export, its summary as JSON on stdout."""
    from catalyst_hub.warehouse.parquet import export_parquet

    store = _store(url, hub)
    began = time.perf_counter()
    summary = export_parquet(store, folder)
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - began,
                "written": summary.written,
                "partitions": sum(s.partitions for s in summary.tables.values()),
                "rows": summary.rows,
                "events": summary.tables["events"].rows,
            }
        )
    )


def export_once(url: str, hub: str, folder: Path) -> dict:
    """One export in a child process: its summary, wall time and peak RSS (bytes)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.export", "--child", url, hub, str(folder)],
        stdout=subprocess.PIPE,
        env=env,
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"export failed ({proc.returncode})")
    result = json.loads(out)
    result["rss"] = usage.ru_maxrss * 1024  # kilobytes on Linux
    return result


def bare_read(store: Store) -> float:
    """Seconds to stream every event row of the hub through the driver (the floor of any
    export that reads the database)."""
    began = time.perf_counter()
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(
            select(*t.events.c).where(t.events.c.hub == store.hub)
        )
        for _ in result.partitions(w.CHUNK_ROWS):
            pass
    return time.perf_counter() - began


def add_events(store: Store, count: int) -> None:
    """``count`` activity events of one member on the log's last day."""
    from catalyst_hub.ingest import Ingestor, Sender

    m = t.members.c
    with store.connect() as conn:
        member, community, last = conn.execute(
            select(m.member_id, m.community, m.last_active)
            .where(m.hub == store.hub)
            .order_by(m.last_active.desc())
            .limit(1)
        ).one()
    ingestor = Ingestor(store)
    moment = datetime.combine(last.date(), datetime.min.time())
    raws = [
        {
            "id": str(uuid.uuid4()),
            "schema": "activity",
            "version": 1,
            "time": (moment + timedelta(seconds=i)).isoformat() + "Z",
            "payload": {"kind": "kernel", "count": 1, "seconds": 1},
        }
        for i in range(count)
    ]
    for start in range(0, count, 1000):
        ingestor.ingest(raws[start : start + 1000], Sender(member, community, "member"))


def mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.0f} MB"


def run(results: Results, engine_name: str, url: str, size: int, workdir: Path) -> None:
    scale = scale_label(size)
    store = _store(url, HUB)
    folder = workdir / f"parquet-{engine_name}-{size}"
    shutil.rmtree(folder, ignore_errors=True)
    print(f"-- export --parquet, {engine_name}, {scale} events", flush=True)
    if engine_name == "sqlite":  # the size of the database, not of a WAL not yet copied in
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    read = bare_read(store)
    first = export_once(url, HUB, folder)
    parquet = sum(p.stat().st_size for p in folder.rglob("*.parquet"))
    events = sum(p.stat().st_size for p in (folder / "events").rglob("*.parquet"))
    database = w.database_bytes(store)
    results.add(
        "export --parquet",
        engine_name,
        scale,
        f"first export, {first['events']:,} events, {first['rows']:,} rows",
        f"{first['seconds']:.1f} s ({first['events'] / first['seconds']:,.0f} events/s)",
        f"bare read of the events: {read:.1f} s",
    )
    results.add(
        "export --parquet",
        engine_name,
        scale,
        "size: all tables (events alone) / database",
        f"{mb(parquet)} ({mb(events)})",
        f"database {mb(database)}" + (f" ({100 * parquet / database:.0f}%)" if database else ""),
    )
    results.add(
        "export --parquet",
        engine_name,
        scale,
        "peak RSS of the export process",
        mb(first["rss"]),
        target="flat with the number of events",
    )
    second = export_once(url, HUB, folder)
    results.add(
        "export --parquet",
        engine_name,
        scale,
        "again, nothing changed",
        f"{second['seconds']:.1f} s, {second['written']} of {second['partitions']} partitions written",
    )
    add_events(store, CHANGED_EVENTS)
    third = export_once(url, HUB, folder)
    results.add(
        "export --parquet",
        engine_name,
        scale,
        f"again, after {CHANGED_EVENTS:,} new events of one day",
        f"{third['seconds']:.1f} s, {third['written']} of {third['partitions']} partitions written",
    )
    store.engine.dispose()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.export", description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="events to seed")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--workdir", help="folder for the SQLite file and the exports")
    parser.add_argument("--child", nargs=3, metavar=("URL", "HUB", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return
    from catalyst_hub.seed import Consortium, catalog_episodes, seed_store

    engines = [e for e in args.engines.split(",") if e]
    if "postgresql" in engines and not postgres_available():
        print("PostgreSQL is not reachable at 127.0.0.1:5432: its figures are left out")
        engines.remove("postgresql")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="catalyst-bench-export-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = Results()
    end = date.today() - timedelta(days=1)
    try:
        for engine_name in engines:
            url = fresh_database(engine_name, workdir, f"export_{args.events}")
            store = _store(url, HUB)
            plan = Consortium(
                events=args.events,
                seed=1,
                end=end,
                episodes=catalog_episodes(store.catalog),
                hub=HUB,
            )
            seed_store(store, plan, "bulk")
            store.engine.dispose()
            run(results, engine_name, url, args.events, workdir)
    finally:
        if "postgresql" in engines:
            drop_postgres(f"catalyst_bench_export_{args.events}")
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\n" + results.markdown())


if __name__ == "__main__":
    main()
