"""Shared helpers: databases for a benchmark run, timing, and the results table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, text

from catalyst_hub.store import make_engine, upgrade

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
BENCH_DATABASE = "catalyst_bench"


def postgres_available(server: str = POSTGRES_SERVER) -> bool:
    try:
        engine = create_engine(
            server.replace("postgresql://", "postgresql+psycopg://") + "/postgres"
        )
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def recreate_postgres(name: str, server: str = POSTGRES_SERVER) -> str:
    """Drop and create database ``name``; returns its URL."""
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server}/{name}"


def drop_postgres(name: str, server: str = POSTGRES_SERVER) -> None:
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_database(engine_name: str, workdir, tag: str) -> str:
    """A new, migrated database of ``engine_name`` (sqlite or postgresql); returns its URL."""
    if engine_name == "sqlite":
        path = workdir / f"{tag}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            p = path.with_name(path.name + suffix)
            if p.exists():
                p.unlink()
        url = f"sqlite:///{path}"
    else:
        url = recreate_postgres(f"{BENCH_DATABASE}_{tag}")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def seeded_database(engine_name: str, workdir, tag: str, hub: str, events: int) -> str | None:
    """The URL of a database kept by an earlier run (``--keep``) that holds at least
    ``events`` events of ``hub``, migrated to this version; None when there is none."""
    if engine_name == "sqlite":
        if not (workdir / f"{tag}.sqlite").exists():
            return None
        url = f"sqlite:///{workdir / f'{tag}.sqlite'}"
    else:
        url = f"{POSTGRES_SERVER}/{BENCH_DATABASE}_{tag}"
    try:
        engine = make_engine(url)
        upgrade(engine)
        with engine.connect() as conn:
            count = conn.execute(
                text("SELECT count(*) FROM events WHERE hub = :hub"), {"hub": hub}
            ).scalar()
        engine.dispose()
    except Exception:  # no such database
        return None
    return url if count >= events else None


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


def timed_pair(
    fn: Callable[[], Any], baseline: Callable[[], Any], repeat: int, warmup: int = 1
) -> tuple[list[float], list[float]]:
    """``timed`` of ``fn`` and of ``baseline``, their calls taking turns: on a machine whose
    load changes during the run, both see the same load."""
    for _ in range(warmup):
        fn()
        baseline()
    out: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for samples, call in zip(out, (fn, baseline), strict=True):
            began = time.perf_counter()
            call()
            samples.append(time.perf_counter() - began)
    return out


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{1000 * seconds:.1f} ms"


def rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}/s"


@dataclass
class Results:
    """Rows of (section, engine, scale, measure, value, baseline, target), printed as markdown."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        section: str,
        engine: str,
        scale: str,
        measure: str,
        value: str,
        baseline: str = "",
        target: str = "",
    ) -> None:
        row = dict(
            section=section,
            engine=engine,
            scale=scale,
            measure=measure,
            value=value,
            baseline=baseline,
            target=target,
        )
        self.rows.append(row)
        print(
            f"  {section} | {engine} | {scale} | {measure}: {value}"
            + (f"  (baseline {baseline})" if baseline else "")
            + (f"  [{target}]" if target else ""),
            flush=True,
        )

    def markdown(self) -> str:
        lines = [
            "| section | engine | events in log | measure | catalyst_hub | baseline (same run) | target |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r['section']} | {r['engine']} | {r['scale']} | {r['measure']} | {r['value']} | {r['baseline']} | {r['target']} |"
            )
        return "\n".join(lines)


def scale_label(events: int) -> str:
    if events >= 1_000_000:
        return f"{events / 1_000_000:g} M"
    return f"{events / 1000:g} k"
