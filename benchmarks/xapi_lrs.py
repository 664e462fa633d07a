"""The same learning records (a cohort's exercise completions) sent to our ingest API and to
the Ralph LRS, in the same run: statements (events) per second of each and the ratio.

Ours: the catalyst service of a real hub (SQLite, ``opt-out`` so every event is stored, not
deferred), POSTed to the service's own port as the learners' ``exercise_completed`` events.
Ralph: its FastAPI app under uvicorn with the file-system backend (``harness.ralph``), the
same records as the xAPI statements our profile makes of them. Same batch size, one client
each, bodies built before the clock starts, a fresh store each.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import requests
from sqlalchemy import func, select

from catalyst_hub.catalog import Catalog
from catalyst_hub.interop.xapi import Profile
from catalyst_hub.reports.learning_records import Learner, LearningRecords
from catalyst_hub.store import make_engine
from catalyst_hub.store import tables as t
from harness.ralph import RalphLRS, ralph_python
from harness.realhub import RealHub

from . import service

LESSON = "workshop"
#: exercises per episode, as in a lesson notebook
EXERCISES = 10


def cohort_records(learners: list[str], per_learner: int) -> list[tuple[int, str, str, datetime]]:
    """(learner index, episode, exercise, time) of each completion, in the order they are
    sent: every learner works through the episodes, ten exercises each."""
    start = datetime(2026, 3, 2, 9, 0)
    return [
        (
            i,
            f"episode-{n // EXERCISES:03d}",
            f"exercise-{n % EXERCISES}",
            start + timedelta(seconds=n * 30 + i),
        )
        for n in range(per_learner)
        for i in range(len(learners))
    ]


async def _post(url: str, bodies: list[bytes], headers: list[dict[str, str]]) -> list[float]:
    """POST each body in turn; the seconds each took."""
    import aiohttp

    took = []
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=600)
    ) as http:
        for body, header in zip(bodies, headers, strict=True):
            began = time.perf_counter()
            async with http.post(url, data=body, headers=header) as response:
                answer = await response.read()
                if response.status not in (200, 204):
                    raise RuntimeError(f"{url} answered {response.status}: {answer[:300]!r}")
            took.append(time.perf_counter() - began)
    return took


def timed_post(url: str, bodies: list[bytes], headers: list[dict[str, str]]):
    """(seconds in all, seconds of each request)."""
    began = time.perf_counter()
    took = asyncio.run(_post(url, bodies, headers))
    return time.perf_counter() - began, took


def tenths(took: list[float], batch: int) -> str:
    """Statements/s over the first and the last tenth of the requests."""
    n = max(1, len(took) // 10)
    return f"{n * batch / sum(took[:n]):,.0f} / {n * batch / sum(took[-n:]):,.0f}"


def measure(workdir: Path, learners: int = 40, per_learner: int = 500, batch: int = 100):
    """Yield (measure, value, baseline) rows: ours and Ralph's statements/s, and the ratio."""
    if ralph_python() is None:
        yield ("Ralph LRS", "not installed (make setup makes .ralph-venv)", "")
        return
    workdir.mkdir(parents=True, exist_ok=True)
    names = [f"learner{i}@cohort.example.org" for i in range(learners)]
    # whole batches of one learner each (the service stamps the sender on every event)
    per_learner -= per_learner % batch
    records = cohort_records(names, per_learner)
    total = len(records)

    hub = RealHub(
        workdir / "hub",
        users={name: f"pw-{i}" for i, name in enumerate(names)},
        groups={"community-andes": names},
        db_url=f"sqlite:///{workdir / 'xapi-bench.sqlite'}",
        hub_name="xapi-bench",
        extra_service_config=(
            "c.Collector.poll_interval = 3600\n"
            "c.CatalystService.retention_days = 0\n"
            "c.CatalystService.consent_mode = 'opt-out'\n"
            "c.CatalystApp.hub_url = 'https://andes.hub.example.org/'\n"
        ),
    )
    hub.start(timeout=120)
    try:
        tokens = [hub.token(name) for name in names]
        # one batch is one learner's (the service stamps the sender on every event)
        by_learner: dict[int, list[dict]] = {}
        bodies, headers = [], []
        for index, episode, exercise, when in records:
            by_learner.setdefault(index, []).append(
                {
                    "id": str(uuid.uuid4()),
                    "schema": "exercise_completed",
                    "version": 1,
                    "time": when.isoformat() + "Z",
                    "payload": {"lesson": LESSON, "episode": episode, "exercise": exercise},
                }
            )
            if len(by_learner[index]) == batch:
                bodies.append(orjson.dumps({"events": by_learner.pop(index)}))
                headers.append(
                    {"Authorization": f"token {tokens[index]}", "Content-Type": "application/json"}
                )
        sent_ours = len(bodies) * batch
        url = service.direct_url(hub)
        for token in tokens:  # the service's token cache, warm
            requests.get(url + "api/me", headers={"Authorization": f"token {token}"}, timeout=60)
        seconds, ours_took = timed_post(url + "api/events", bodies, headers)
        ours = sent_ours / seconds
    finally:
        hub.stop()
    # every event was stored (not deferred, not dropped)
    engine = make_engine(f"sqlite:///{workdir / 'xapi-bench.sqlite'}")
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count())
            .select_from(t.events)
            .where(t.events.c.schema == "exercise_completed")
        ).scalar()
    engine.dispose()
    if stored != sent_ours:
        raise RuntimeError(f"our ingest stored {stored} of {sent_ours} events")

    # the same records as our profile's statements (member ids keyed with a bench secret)
    profile = Profile("xapi-bench", "https://andes.hub.example.org/", b"b" * 40, Catalog.load())
    learner_ids = [f"{i:032x}" for i in range(learners)]
    learning = LearningRecords(
        learners={m: Learner(m, "andes") for m in learner_ids},
        exercises=[
            (learner_ids[i], LESSON, episode, exercise, when)
            for i, episode, exercise, when in records
        ],
    )
    statements = profile.statements(learning)
    lrs = RalphLRS(workdir / "ralph")
    lrs.start()
    try:
        auth = "Basic " + base64.b64encode(f"{lrs.username}:{lrs.password}".encode()).decode()
        header = {
            "Authorization": auth,
            "Content-Type": "application/json",
            "X-Experience-API-Version": "1.0.3",
        }
        lrs_bodies = [
            orjson.dumps(statements[i : i + batch]) for i in range(0, len(statements), batch)
        ]
        seconds, theirs_took = timed_post(
            lrs.url + "statements", lrs_bodies, [header] * len(lrs_bodies)
        )
        theirs = len(statements) / seconds
    finally:
        lrs.stop()
    label = f"{total:,} records, batches of {batch}, 1 client"
    yield (
        f"our ingest API (service port), {label}",
        f"{ours:,.0f} statements/s",
        f"first / last tenth {tenths(ours_took, batch)}/s",
    )
    yield (
        f"Ralph LRS (file-system backend), {label}",
        f"{theirs:,.0f} statements/s",
        f"first / last tenth {tenths(theirs_took, batch)}/s",
    )
    yield ("ratio, ours / Ralph", f"{ours / theirs:.1f}×", "same run, same records")
