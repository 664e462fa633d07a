"""Server sessions a person can believe: one session per server at a time, a session with no
stop ends at its last activity plus the idle-cull timeout, and no member's hours in a period
exceed its length per server, whatever order the collector's events arrive in (both engines).
"""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from catalyst_hub.ingest import COLLECTOR, Ingestor, Sender
from catalyst_hub.projections import Projector
from catalyst_hub.reports.common import Period
from catalyst_hub.reports.overview import community_totals
from catalyst_hub.reports.usage import usage, usage_totals
from catalyst_hub.store import Store
from catalyst_hub.store import tables as t

DAY = date(2026, 3, 10)
PERIOD = Period(DAY, DAY)


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, minute)


def iso(time: datetime) -> str:
    return time.isoformat() + "Z"


def start(server: str, started: datetime) -> dict:
    return _event("server_started", started, {"server_name": server, "started": iso(started)})


def stop(server: str, started: datetime, time: datetime, last_activity=None) -> dict:
    payload = {"server_name": server, "started": iso(started)}
    if last_activity is not None:
        payload["last_activity"] = iso(last_activity)
    return _event("server_stopped", time, payload)


def _event(schema: str, time: datetime, payload: dict) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "schema": schema,
        "version": 1,
        "time": iso(time),
        "payload": payload,
    }


#: One member's day on the default server and a named one, as the collector may record it:
#: (event, the session's end as the rules give it, with an hour's idle-cull timeout)
TIMELINE = [
    # an ordinary session
    (start("", at(9)), at(10)),
    (stop("", at(9), at(10), last_activity=at(9, 55)), None),
    # no stop recorded (the service was down): ends an hour after its start, as nothing
    # else is known of it
    (start("", at(11)), at(12)),
    # stopped at 16:00 by the collector's clock, but a new start at 15:00 ended it then
    (start("", at(12, 30)), at(15)),
    (stop("", at(12, 30), at(16), last_activity=at(14, 45)), None),
    # its stop arrives first; seen gone at 19:00 though idle since 16:30: culled at 17:30
    (stop("", at(15), at(19), last_activity=at(16, 30)), None),
    (start("", at(15)), at(17, 30)),
    # the same start recorded twice (a repeated poll after a restart: another event id)
    (start("", at(20)), at(21)),
    (start("", at(20)), None),
    # a named server runs beside the default one
    (start("gpu", at(10)), at(13)),
    (stop("gpu", at(10), at(13), last_activity=at(12, 50)), None),
]
EXPECTED = {
    ("", at(9)): at(10),
    ("", at(11)): at(12),
    ("", at(12, 30)): at(15),
    ("", at(15)): at(17, 30),
    ("", at(20)): at(21),
    ("gpu", at(10)): at(13),
}


def ingest(store: Store, member: str, events: list[dict], batch: int = 1) -> None:
    ingestor = Ingestor(store)
    sender = Sender(member, "andes")
    for i in range(0, len(events), batch):
        ingestor.ingest_trusted([(e, sender) for e in events[i : i + batch]], COLLECTOR)


def ends(store: Store, member: str) -> dict:
    s = t.server_sessions.c
    with store.connect() as conn:
        rows = conn.execute(
            select(s.server_name, s.started, s.ended).where(
                s.hub == store.hub, s.member_id == member
            )
        ).all()
    return {(server, started): ended for server, started, ended in rows}


def fresh_copy(event: dict) -> dict:
    """The same fact under another event id: a member's timeline replayed for another."""
    return {**event, "id": str(uuid.uuid4())}


def test_session_ends_whatever_the_order(catalyst_store):
    events = [event for event, _ in TIMELINE]
    orders = {
        "in order": events,
        "reversed": events[::-1],
        "shuffled": random.Random(5).sample(events, len(events)),
    }
    for member, order in orders.items():
        ingest(catalyst_store, member, [fresh_copy(e) for e in order])
    # in batches too, and with every event delivered twice
    ingest(catalyst_store, "batched", [fresh_copy(e) for e in events * 2], batch=4)
    members = [*orders, "batched"]
    for member in members:
        assert ends(catalyst_store, member) == EXPECTED, member

    catalyst_store.rebuild()
    for member in members:
        assert ends(catalyst_store, member) == EXPECTED, member


def test_server_hours_of_the_timeline(catalyst_store):
    ingest(catalyst_store, "ana", [event for event, _ in TIMELINE])
    expected = sum((end - started).total_seconds() for (_, started), end in EXPECTED.items())
    assert expected / 3600 == 11.0  # 1 + 1 + 2.5 + 2.5 + 1 + 3 (gpu)
    report = usage(catalyst_store, "andes", PERIOD, now=at(23))
    assert (report.sessions, report.members, report.hours) == (6, 1, 11.0)
    assert [(d.day, d.sessions, d.hours) for d in report.daily] == [(DAY, 6, 11.0)]
    totals = usage_totals(catalyst_store, "andes", PERIOD, now=at(23))
    assert (totals.sessions, totals.members, totals.hours) == (6, 1, 11.0)
    (row,) = community_totals(catalyst_store, PERIOD, ["andes"], now=at(23))
    assert (row.sessions, row.server_hours) == (6, 11.0)

    # a server still running counts up to now, not to where its idle cull would end it
    report = usage(catalyst_store, "andes", PERIOD, now=at(20, 30))
    assert report.hours == 10.5
    assert usage_totals(catalyst_store, "andes", PERIOD, now=at(20, 30)).hours == 10.5


def test_hours_stay_inside_the_period(catalyst_store):
    """A session started on the period's last evening counts up to the period's end only
    (its hours go to the day it started)."""
    late = at(23, 0, day=9)
    ingest(
        catalyst_store,
        "ben",
        [start("", late), stop("", late, at(2, day=10), last_activity=at(1, 30, day=10))],
    )
    march_9 = Period(date(2026, 3, 9), date(2026, 3, 9))
    now = at(12, day=11)
    assert usage(catalyst_store, "andes", march_9, now=now).hours == 1.0
    assert usage_totals(catalyst_store, "andes", march_9, now=now).hours == 1.0
    (row,) = community_totals(catalyst_store, march_9, ["andes"], now=now)
    assert row.server_hours == 1.0
    two_days = Period(date(2026, 3, 9), date(2026, 3, 10))
    report = usage(catalyst_store, "andes", two_days, now=now)
    assert report.hours == 3.0
    assert [(d.day.day, d.sessions, d.hours) for d in report.daily] == [(9, 1, 3.0), (10, 0, 0.0)]


def test_idle_cull_timeout_is_configurable(catalyst_store):
    store = Store(
        catalyst_store.engine,
        catalyst_store.hub,
        catalyst_store.secret,
        Projector(catalyst_store.catalog, idle_cull_timeout=600),
    )
    ingest(store, "cai", [start("", at(9)), start("", at(12))])
    assert ends(store, "cai") == {("", at(9)): at(9, 10), ("", at(12)): at(12, 10)}


# -- the bound, for any stream of events -------------------------------------------------------

MEMBERS = ["m0", "m1", "m2"]
SERVERS = ["", "gpu"]
#: the period is the middle day of three; events fall anywhere in them
ORIGIN = datetime(2026, 3, 9)
MIDDLE = Period(date(2026, 3, 10), date(2026, 3, 10))

minutes = st.integers(min_value=0, max_value=3 * 24 * 60 - 1)
session = st.tuples(
    st.sampled_from(MEMBERS),
    st.sampled_from(SERVERS),
    minutes,  # started
    st.one_of(st.none(), st.integers(min_value=0, max_value=3 * 24 * 60)),  # stop after
    st.one_of(st.none(), st.integers(min_value=0, max_value=24 * 60)),  # last activity after
    st.booleans(),  # its start recorded twice
    st.booleans(),  # its start event lost
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sessions=st.lists(session, max_size=12), seed=st.integers(0, 2**16))
def test_no_community_runs_more_hours_than_it_has_servers(catalyst_store, sessions, seed):
    store = Store(
        catalyst_store.engine,
        f"prop-{uuid.uuid4().hex[:10]}",
        catalyst_store.secret,
        Projector(catalyst_store.catalog),
    )
    events = []
    for member, server, begin, stop_after, active_after, repeated, lost in sessions:
        started = ORIGIN + timedelta(minutes=begin)
        stopped = None if stop_after is None else started + timedelta(minutes=stop_after)
        last = None if active_after is None else started + timedelta(minutes=active_after)
        if not lost:
            events += [(member, start(server, started))] * (2 if repeated else 1)
        if stopped is not None:
            events.append((member, stop(server, started, stopped, last_activity=last)))
    random.Random(seed).shuffle(events)
    ingestor = Ingestor(store)
    for member, group in itertools.groupby(events, key=lambda item: item[0]):
        ingestor.ingest_trusted(
            [(fresh_copy(e), Sender(member, "andes")) for _, e in group], COLLECTOR
        )
    now = ORIGIN + timedelta(days=30)  # long after: nothing runs "until now"
    bound = len(MEMBERS) * len(SERVERS) * 24
    report = usage(store, "andes", MIDDLE, now=now)
    assert report.hours <= bound
    assert usage_totals(store, "andes", MIDDLE, now=now).hours <= bound
    for row in community_totals(store, MIDDLE, ["andes"], now=now):
        assert row.server_hours <= bound
    # and per member and server: one session at a time, none past the idle cull
    s = t.server_sessions.c
    with store.connect() as conn:
        rows = conn.execute(
            select(s.member_id, s.server_name, s.started, s.ended)
            .where(s.hub == store.hub)
            .order_by(s.member_id, s.server_name, s.started)
        ).all()
        for before, after in itertools.pairwise(rows):
            if before[:2] == after[:2]:
                assert before.ended <= after.started
        conn.execute(delete(t.server_sessions).where(s.hub == store.hub))
        conn.commit()


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_sessions_rebuild_equals_live(catalyst_store, order):
    """The ``ended`` column, after a rebuild, is what live ingest made (both directions)."""
    events = [event for event, _ in TIMELINE]
    ingest(catalyst_store, "dee", events if order == "forward" else events[::-1], batch=3)
    live = ends(catalyst_store, "dee")
    catalyst_store.rebuild()
    assert ends(catalyst_store, "dee") == live == EXPECTED
