"""A small hub, built event by event, whose every report figure is worked out by hand.

Community ``andes`` (period Monday 2026-03-02 to Sunday 2026-03-15, two ISO weeks):

=====  ==========================  ===================================  ======================
who    first seen                  active days (andes)                  steps reached
=====  ==========================  ===================================  ======================
ana    Feb 23 09:00 (server)       Feb 23, Mar 2, Mar 3, Mar 10         all 8 (last on Mar 2)
ben    Mar 3 09:00                 Mar 3, Mar 4                         login, start, open,
                                                                        run_code, stop_server
caro   Jan 20 10:00                Jan 20, Mar 12                       start_server (Mar 12)
dan    Mar 10 08:00                Mar 10                               all 8 on Mar 10
staff  excluded everywhere         every day                            all 8
eve    community pampa, Mar 3      Mar 3 (pampa)                        -
=====  ==========================  ===================================  ======================

Sessions (in the period): ana Mar 2 10:00-12:00 scipy-notebook small (2 h); ben Mar 3
10:00-10:30 rstudio medium (0.5 h); dan Mar 10 08:30-14:00 rstudio small (5.5 h); caro Mar 12
10:00 still running, no image (1 h at NOW). Before the period: ana Feb 23 09:00-10:00.
Training: ana completes first-notebook by its exercises (Mar 2), ben starts data-files
(Mar 4), dan self-reports persistence (Mar 10).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

import catalyst_hub.store  # noqa: F401  (loads before ingest: projections and store import each other)
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.reports.common import Period
from catalyst_hub.seed import sender_kind

PERIOD = Period(date(2026, 3, 2), date(2026, 3, 15))
NOW = datetime(2026, 3, 12, 11, 0)
ALL_STEPS = [
    "login",
    "start_server",
    "open_environment",
    "upload_file",
    "run_code",
    "use_git",
    "save_work",
    "stop_server",
]


@dataclass
class Hub:
    store: object
    ids: dict[str, str]
    period: Period = PERIOD
    now: datetime = NOW


def at(day: int, hour: int = 12, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute)


@pytest.fixture
def hub(catalyst_store, make_event) -> Hub:
    store = catalyst_store
    ingestor = Ingestor(store)
    ids = {name: store.member_id(name) for name in ("ana", "ben", "caro", "dan", "staff", "eve")}
    store.excluded_members = {ids["staff"]}

    def send(name: str, *events: tuple, community: str = "andes") -> None:
        # each event from the sender that may assert it (sessions: the collector)
        by_kind: dict[str, list[dict]] = {}
        for schema, payload, time in events:
            raw = make_event(schema, payload, time=time)
            by_kind.setdefault(sender_kind(schema, payload), []).append(raw)
        for kind, raws in by_kind.items():
            stored, results = ingestor.ingest(raws, Sender(ids[name], community, kind))
            assert stored, [r.to_json() for r in results]

    def active(time):
        return ("activity", {"kind": "kernel", "count": 3, "seconds": 60}, time)

    def step(name, time):
        return ("step_reached", {"step": name}, time)

    def session(start, stop=None, environment=None, size=None):
        payload = {"server_name": "", "started": start.isoformat() + "Z"}
        if environment:
            payload["environment"] = environment
        if size:
            payload["size"] = size
        out = [("server_started", payload, start)]
        if stop:
            # as the collector records a stop: with the server's last activity the hub gave
            stopped = {
                "server_name": "",
                "started": start.isoformat() + "Z",
                "last_activity": (stop - timedelta(minutes=5)).isoformat() + "Z",
            }
            out.append(("server_stopped", stopped, stop))
        return out

    send(
        "ana",
        *session(at(23, 9, month=2), at(23, 10, month=2)),
        step("login", at(23, 10, month=2)),
        active(at(23, 11, month=2)),
        *session(at(2, 10), at(2, 12), "quay.io/jupyter/scipy-notebook:2024-01", "small"),
        *(step(s, at(2, 11)) for s in ALL_STEPS),
        (
            "exercise_completed",
            {"lesson": "hub-basics", "episode": "first-notebook", "exercise": "hello"},
            at(2, 11),
        ),
        (
            "exercise_completed",
            {"lesson": "hub-basics", "episode": "first-notebook", "exercise": "variables"},
            at(2, 12),
        ),
        active(at(3)),
        active(at(10)),
    )
    send(
        "ben",
        step("login", at(3, 9)),
        step("start_server", at(3, 10)),
        *session(at(3, 10), at(3, 10, 30), "rocker/rstudio:4.3", "medium"),
        step("open_environment", at(3, 12)),
        step("run_code", at(4, 9)),
        (
            "exercise_completed",
            {"lesson": "hub-basics", "episode": "data-files", "exercise": "read-csv"},
            at(4, 10),
        ),
    )
    send(
        "caro",
        active(at(20, 10, month=1)),
        *session(at(12, 10)),
    )
    send(
        "dan",
        step("login", at(10, 8)),
        *session(at(10, 8, 30), at(10, 14), "rocker/rstudio:4.3", "small"),
        *(
            step(s, at(10, 8 + i))
            for i, s in enumerate(ALL_STEPS)
            if s not in ("login", "start_server", "stop_server")
        ),
        ("episode_completed", {"lesson": "hub-basics", "episode": "persistence"}, at(10, 15)),
    )
    send(
        "staff",
        *(active(at(d)) for d in range(2, 16)),
        *(step(s, at(2, 9)) for s in ALL_STEPS),
        *session(at(5, 9), at(5, 17), "rocker/rstudio:4.3", "large"),
        (
            "exercise_completed",
            {"lesson": "hub-basics", "episode": "data-files", "exercise": "plot"},
            at(5, 10),
        ),
    )
    send("eve", active(at(3)), community="pampa")
    return Hub(store, ids)
