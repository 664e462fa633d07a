"""Report latency: every report function found in ``catalyst_hub.reports``, p50/p95, beside
the same figure computed by a naive scan of the raw ``events`` table.

``python -m benchmarks.reports --db-url URL`` times them against a database seeded before
(``catalyst-hub seed``), so large logs are seeded once and measured again after each change.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import String, cast, func, select

from catalyst_hub.projections import Projector
from catalyst_hub.store import Store
from catalyst_hub.store import tables as t

#: (module, function) -> how to call it; a report that is not there yet is listed as missing
KNOWN_REPORTS: dict[tuple[str, str], Callable[..., Callable[[], Any]]] = {
    ("progress", "member_progress"): lambda m, ctx: (
        lambda: m(ctx["store"], ctx["member"], ctx["community"], "en")
    ),
    ("adoption", "adoption"): lambda m, ctx: (
        lambda: m(ctx["store"], ctx["community"], ctx["period"])
    ),
    ("funnel", "funnel"): lambda m, ctx: (
        lambda: m(ctx["store"], ctx["community"], ctx["period"], "en")
    ),
    ("usage", "usage"): lambda m, ctx: lambda: m(ctx["store"], ctx["community"], ctx["period"]),
    ("overview", "overview"): lambda m, ctx: lambda: m(ctx["store"], ctx["period"], 5),
    ("training", "training_by_community"): lambda m, ctx: lambda: m(ctx["store"]),
    ("monthly", "month_report"): lambda m, ctx: (
        lambda: m(ctx["store"], ctx["community"], ctx["month"].year, ctx["month"].month, "en")
    ),
    # a scrape as the service answers it (served from the collector's cache within 10 s) and
    # the computation behind it, without the cache
    ("metrics", "metrics_registry"): lambda m, ctx: lambda: _collect(m(ctx["store"], 5)),
    ("metrics", "metrics_registry uncached"): lambda m, ctx: (
        lambda: _collect(m(ctx["store"], 5, max_age=0))
    ),
}


def _collect(registry) -> None:
    for _ in registry.collect():
        pass


def _scrape_with_windows_one_by_one(ctx: dict[str, Any]) -> Callable[[], Any]:
    """The uncached scrape as it read server sessions before 2026-12-03: one query per
    rolling window over every community, where the index gives a range only per community,
    so each read every session the hub ever had (71 ms p50 at 300 k events then)."""
    from catalyst_hub.reports import metrics, usage

    def per_window(store, starts, now, communities=None):
        out: dict[str, list] = {}
        for i, start in enumerate(starts):
            for community, figures in usage.session_totals(store, start, now, now).items():
                out.setdefault(community, [(0, 0, 0.0)] * len(starts))[i] = figures
        return out

    def call() -> None:
        saved, metrics.session_totals_within = metrics.session_totals_within, per_window
        try:
            _collect(metrics.metrics_registry(ctx["store"], 5, max_age=0))
        finally:
            metrics.session_totals_within = saved

    return call


#: report -> (what, how): a baseline timed in turns with the report itself (``timed_pair``)
PAIRED_BASELINES: dict[str, tuple[str, Callable[[dict[str, Any]], Callable[[], Any]]]] = {
    "metrics.metrics_registry uncached": (
        "sessions read per window (before 2026-12-03)",
        _scrape_with_windows_one_by_one,
    ),
}


def discover(ctx: dict[str, Any]) -> tuple[dict[str, Callable[[], Any]], list[str]]:
    """The report calls that exist now, and the names of those that do not (yet)."""
    found, missing = {}, []
    for (module, name), make in KNOWN_REPORTS.items():
        try:
            fn = getattr(importlib.import_module(f"catalyst_hub.reports.{module}"), name.split()[0])
        except (ImportError, AttributeError):
            missing.append(f"{module}.{name}")
            continue
        found[f"{module}.{name}"] = make(fn, ctx)
    return found, missing


def context(store: Store, end_day) -> dict[str, Any]:
    """The busiest community, one of its members and the last 30 days of the seeded history."""
    from catalyst_hub.reports.common import Period

    if store.engine.dialect.name == "postgresql":
        # the tables as autovacuum leaves them after a bulk load (the test server runs
        # without it): statistics, without which the planner takes every table for a few
        # rows, and a visibility map, without which index-only scans read the table too
        # (since PostgreSQL 13 autovacuum also vacuums tables that only had inserts)
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    with store.connect() as conn:
        community = conn.execute(
            select(t.members.c.community, func.count())
            .where(t.members.c.hub == store.hub)
            .group_by(t.members.c.community)
            .order_by(func.count().desc())
            .limit(1)
        ).first()[0]
        member = conn.execute(
            select(t.members.c.member_id)
            .where(t.members.c.hub == store.hub, t.members.c.community == community)
            .order_by(t.members.c.last_active.desc())
            .limit(1)
        ).scalar_one()
    period = Period(end_day - timedelta(days=29), end_day)
    return {
        "store": store,
        "community": community,
        "member": member,
        "period": period,
        "month": end_day.replace(day=1) - timedelta(days=1),
    }


def naive_scans(ctx: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """The same questions answered from the raw log, as a design without projections would."""
    store, community, period = ctx["store"], ctx["community"], ctx["period"]
    e = t.events.c
    in_period = (e.time >= period.start_time, e.time < period.end_time)
    day = func.date(e.time)
    # PostgreSQL has no equality for JSON: group by its text
    payload = cast(e.payload, String).label("payload")

    def run(query):
        def call():
            with store.connect() as conn:
                return conn.execute(query).all()

        return call

    return {
        # daily active members of a community
        "adoption.adoption": run(
            select(day, func.count(e.member_id.distinct()))
            .where(e.hub == store.hub, e.community == community, *in_period)
            .group_by(day)
        ),
        # members per onboarding action, over all time (every event's payload is read)
        "funnel.funnel": run(
            select(e.schema, payload, func.count(e.member_id.distinct()))
            .where(
                e.hub == store.hub,
                e.community == community,
                e.schema.in_(["action", "server_started", "server_stopped"]),
            )
            .group_by(e.schema, payload)
        ),
        # sessions started in the period
        "usage.usage": run(
            select(e.payload).where(
                e.hub == store.hub,
                e.community == community,
                e.schema == "server_started",
                *in_period,
            )
        ),
        # active members per community
        "overview.overview": run(
            select(e.community, func.count(e.member_id.distinct()))
            .where(e.hub == store.hub, *in_period)
            .group_by(e.community)
        ),
        # the member's own events (indexed by member: the cheapest raw question)
        "progress.member_progress": run(
            select(e.schema, e.payload).where(e.hub == store.hub, e.member_id == ctx["member"])
        ),
        # training rows of every member
        "training.training_by_community": run(
            select(e.community, e.member_id, e.payload).where(
                e.hub == store.hub, e.schema.in_(["exercise_completed", "episode_completed"])
            )
        ),
    }


def main(argv=None) -> None:
    import argparse
    from datetime import date

    from catalyst_hub.catalog import Catalog
    from catalyst_hub.store import check_current, make_engine

    from .common import Results, ms, p50, p95, timed, timed_pair

    parser = argparse.ArgumentParser(prog="python -m benchmarks.reports", description=__doc__)
    parser.add_argument("--db-url", required=True, help="a seeded, migrated database")
    parser.add_argument("--hub", default="bench")
    parser.add_argument("--end", help="the seed's last day (default: the latest active day)")
    parser.add_argument("--label", default="", help="the log's size, for the table")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per report")
    parser.add_argument("--naive", action="store_true", help="also time the raw-log scans")
    args = parser.parse_args(argv)
    engine = make_engine(args.db_url)
    check_current(engine)
    store = Store(engine, args.hub, b"bench-secret-" + b"0" * 32, Projector(Catalog.load()))
    if args.end:
        end = date.fromisoformat(args.end)
    else:
        with store.connect() as conn:
            end = conn.execute(
                select(func.max(t.daily_activity.c.day)).where(t.daily_activity.c.hub == args.hub)
            ).scalar_one()
        end = date.fromisoformat(str(end)[:10])
    ctx = context(store, end)
    calls, missing = discover(ctx)
    naive = naive_scans(ctx) if args.naive else {}
    results = Results()
    for name, call in calls.items():
        baseline = ""
        if name in PAIRED_BASELINES:
            what, make = PAIRED_BASELINES[name]
            samples, before = timed_pair(call, make(ctx), args.repeat)
            baseline = f"{what}: p50 {ms(p50(before))} / p95 {ms(p95(before))}"
        else:
            samples = timed(call, args.repeat)
        if name in naive:
            baseline = f"naive scan p50 {ms(p50(timed(naive[name], 3)))}"
        results.add(
            "report query",
            engine.dialect.name,
            args.label,
            f"{name} p50 / p95",
            f"{ms(p50(samples))} / {ms(p95(samples))}",
            baseline,
            "p95 < 50 ms",
        )
    if missing:
        results.add(
            "report query", engine.dialect.name, args.label, "not found", ", ".join(missing)
        )
    engine.dispose()
    print("\n" + results.markdown())


if __name__ == "__main__":
    main()
