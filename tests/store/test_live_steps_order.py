"""The checklist's login, start and stop steps come from the server (at once) and from the
collector (at its next poll): whichever arrives first, each step is one row, reached at the
earliest time, counted once by the funnel, and the collector alone makes the session."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

import catalyst_hub.store  # noqa: F401  (loads before ingest: projections and store import each other)
from catalyst_hub.ingest import COLLECTOR, Ingestor, Sender
from catalyst_hub.reports.common import Period
from catalyst_hub.reports.funnel import funnel
from catalyst_hub.store import tables as t

START = datetime(2026, 3, 2, 10, 0)
STOP = START + timedelta(hours=2)
POLL = timedelta(seconds=59)  # the collector sees each change up to a poll later


def iso(when: datetime) -> str:
    return when.isoformat() + "Z"


def from_server(make_event):
    """What the server extension sends: its start (a login and a start) and clean stop."""
    return [
        make_event("action", {"action": "logged_in"}, time=START + timedelta(seconds=2)),
        make_event("action", {"action": "server_started"}, time=START + timedelta(seconds=2)),
        make_event("action", {"action": "server_stopped"}, time=STOP),
    ]


def from_collector(make_event):
    """What the collector records, a poll later (the login at the hub's last activity)."""
    session = {"server_name": "", "started": iso(START)}
    return [
        make_event("action", {"action": "logged_in"}, time=START - timedelta(seconds=30)),
        make_event("server_started", session, time=START + POLL),
        make_event("server_stopped", {**session, "last_activity": iso(STOP)}, time=STOP + POLL),
    ]


def projection(store, member_id):
    with store.connect() as conn:
        steps = conn.execute(
            select(t.member_steps.c.step, t.member_steps.c.reached)
            .where(t.member_steps.c.hub == store.hub, t.member_steps.c.member_id == member_id)
            .order_by(t.member_steps.c.step)
        ).all()
        sessions = conn.execute(
            select(
                t.server_sessions.c.server_name,
                t.server_sessions.c.started,
                t.server_sessions.c.stopped,
            ).where(t.server_sessions.c.hub == store.hub)
        ).all()
    return [(s, r.replace(tzinfo=None)) for s, r in steps], [
        (n, a.replace(tzinfo=None), b and b.replace(tzinfo=None)) for n, a, b in sessions
    ]


@pytest.mark.parametrize("server_first", [True, False], ids=["server-first", "collector-first"])
def test_each_step_and_session_once_whatever_arrives_first(
    catalyst_store, make_event, server_first
):
    store = catalyst_store
    ingestor = Ingestor(store)
    member = store.member_id("ana@example.org")
    sender = Sender(member, "andes")

    def server():
        stored, results = ingestor.ingest(from_server(make_event), sender)
        assert stored, [r.to_json() for r in results]

    def collector():
        ingestor.ingest_trusted([(raw, sender) for raw in from_collector(make_event)], COLLECTOR)

    for deliver in (server, collector) if server_first else (collector, server):
        deliver()

    steps, sessions = projection(store, member)
    assert steps == [
        ("login", START - timedelta(seconds=30)),  # the collector saw the earlier login
        ("start_server", START + timedelta(seconds=2)),  # the server's own, before the poll
        ("stop_server", STOP),  # the clean shutdown, not the poll's time
    ]
    # one session, from the collector, stopped at the collector's stop
    assert sessions == [("", START, STOP + POLL)]

    report = funnel(store, "andes", Period(date(2026, 3, 1), date(2026, 3, 31)))
    reached = {s.id: s.reached for s in report.steps}
    assert report.newcomers == 1
    assert reached["login"] == reached["start_server"] == reached["stop_server"] == 1

    # sent again (a server started afresh, a collector that restarted): nothing changes
    server()
    collector()
    assert projection(store, member) == (steps, sessions)
    # and the log rebuilt gives the same rows
    store.rebuild()
    assert projection(store, member) == (steps, sessions)
