"""Bounds on every field of ingest, on SQLite and PostgreSQL: event times in a plausible
window, no NUL, no duplicate keys, one content per event id, counts a minute of real use
allows, daily counters that saturate, and a rate limit on bytes as well as events.

Each refusal is a 4xx with a JSON message naming what is wrong, and stores nothing.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import func, select, update

from catalyst_hub.events import COLLECTOR, EventError, StoredEvent
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.projections.projector import COUNTER_MAX
from catalyst_hub.store import tables as t
from catalyst_hub.timeutil import isoformat, utcnow

ALICE = "alice@example.org"


@pytest.fixture
def catalyst_config():
    # what a sender may assert and the bounds hold whatever the member decided: recording
    # on without a decision, so each test's rows are only what it sends
    return {"CatalystService": {"consent_mode": "opt-out"}}


def rows(store, table) -> int:
    with store.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(table).where(table.c.hub == store.hub)
        ).scalar_one()


async def post(svc, token, body):
    if isinstance(body, bytes):
        return await svc.request(
            "post",
            "api/events",
            token,
            data=body,
            headers={"Content-Type": "application/json"},
        )
    return await svc.request("post", "api/events", token, json=body)


@pytest.mark.parametrize(
    "when, says",
    [
        ("0001-01-01T00:00:00Z", "'time' is before 2015-01-01"),
        ("2014-12-31T23:59:59Z", "'time' is before 2015-01-01"),
        ("9999-12-31T23:59:59Z", "'time' is in the future"),
        ("2016-12-31T23:59:60Z", "'time' is not an ISO 8601 time"),  # a leap second
        ("9999-12-31T23:59:59-23:59", "'time' is not an ISO 8601 time"),  # past year 9999 UTC
        ("2020-02-30T00:00:00Z", "'time' is not an ISO 8601 time"),
    ],
)
async def test_event_times_outside_the_window_are_refused(catalyst_service, make_event, when, says):
    svc = catalyst_service
    token = svc.token(ALICE, consent=None)
    before = rows(svc.store, t.events), rows(svc.store, t.members)  # her decision, herself
    r = await post(svc, token, [make_event("action", {"action": "cell_executed"}, time=when)])
    assert r.status_code == 400, r.text
    assert says in r.json()["results"][0]["message"]
    assert (rows(svc.store, t.events), rows(svc.store, t.members)) == before


async def test_the_window_ends_are_accepted(catalyst_service, make_event):
    svc = catalyst_service
    token = svc.token(ALICE, consent=None)
    soon = isoformat(utcnow() + timedelta(minutes=9))
    events = [
        make_event("action", {"action": "cell_executed"}, time="2015-01-01T00:00:00Z"),
        make_event("action", {"action": "git_cloned"}, time=soon),
    ]
    r = await post(svc, token, events)
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 2
    with svc.store.connect() as conn:
        first_seen = conn.execute(
            select(t.members.c.first_seen).where(t.members.c.hub == svc.store.hub)
        ).scalar_one()
    assert first_seen.isoformat() == "2015-01-01T00:00:00"


@pytest.mark.parametrize(
    "payload, says",
    [
        ({"started": "0001-01-01T00:00:00Z"}, "payload.started is before 2015-01-01"),
        ({"started": "2016-12-31T23:59:60Z"}, "payload.started is not an ISO 8601 time"),
        ({"last_activity": "9999-12-31T00:00:00Z"}, "payload.last_activity is in the future"),
    ],
)
def test_times_inside_payloads_are_in_the_window(catalyst_store, payload, says):
    """The collector's own events too: a hub's API answering nonsense stores nothing."""
    ingestor = Ingestor(catalyst_store)
    now = isoformat(utcnow())
    raw = {
        "id": str(uuid.uuid4()),
        "schema": "server_stopped",
        "version": 1,
        "time": now,
        "payload": {"server_name": "", "started": now, "last_activity": None, **payload},
    }
    sender = Sender(catalyst_store.member_id(ALICE), "andes", COLLECTOR)
    with pytest.raises(EventError, match=says.replace(".", r"\.")):
        ingestor.ingest_trusted([(raw, sender)])
    assert rows(catalyst_store, t.events) == rows(catalyst_store, t.server_sessions) == 0


@pytest.mark.parametrize(
    "schema, payload, field",
    [
        ("action", {"action": "cell_executed", "language": "py\x00thon"}, "payload.language"),
        ("consent", {"decision": "given", "notice_version": "\x00"}, "payload.notice_version"),
    ],
)
async def test_nul_characters_are_refused(catalyst_service, make_event, schema, payload, field):
    svc = catalyst_service
    token = svc.token(ALICE, consent=None)
    r = await post(svc, token, [make_event(schema, payload)])
    assert r.status_code == 400, r.text
    assert r.json()["results"][0]["message"] == (
        f"{field} holds a NUL character, which is not accepted"
    )
    assert rows(svc.store, t.events) == 0


async def test_duplicate_keys_are_refused(catalyst_service):
    svc = catalyst_service
    token = svc.token(ALICE, consent=None)
    event = {
        "id": str(uuid.uuid4()),
        "schema": "activity",
        "version": 1,
        "time": isoformat(utcnow()),
        "payload": {"kind": "kernel", "count": 1},
    }
    body = b'{"events": [' + orjson.dumps(event).replace(b"}}", b', "count": 9999}}') + b"]}"
    r = await post(svc, token, body)
    assert r.status_code == 400, r.text
    assert r.json()["message"] == ("a JSON object of the body has the same key twice: 'count'")
    twice = b'{"events": [], "events": ' + orjson.dumps([event]) + b"}"
    r = await post(svc, token, twice)
    assert r.status_code == 400 and "same key twice: 'events'" in r.json()["message"]
    assert rows(svc.store, t.events) == 0


async def test_one_id_with_two_contents_is_refused(catalyst_service, make_event):
    svc = catalyst_service
    token = svc.token(ALICE, consent=None)
    first = make_event("activity", {"kind": "kernel", "count": 1, "seconds": 60})
    second = {**first, "payload": {"kind": "kernel", "count": 9000, "seconds": 60}}
    r = await post(svc, token, [first, second])
    assert r.status_code == 400, r.text
    assert [x["status"] for x in r.json()["results"]] == ["rejected", "error"]
    assert r.json()["results"][1]["message"] == (
        "another event of the batch has this id and a different content"
    )
    assert rows(svc.store, t.events) == rows(svc.store, t.daily_activity) == 0
    # the very same event twice is one event, acknowledged twice
    r = await post(svc, token, [first, dict(first)])
    assert [x["status"] for x in r.json()["results"]] == ["stored", "duplicate"]


@pytest.mark.parametrize(
    "payload, says",
    [
        ({"kind": "ui", "count": 1_000_000}, "count must be smaller than or equal to 10000"),
        ({"kind": "ui", "count": 10**30}, "data.count must be"),
        ({"kind": "ui", "count": 1, "seconds": 86400}, "seconds must be smaller than or equal"),
    ],
)
async def test_counts_a_minute_of_use_allows(catalyst_service, make_event, payload, says):
    svc = catalyst_service
    token = svc.token(ALICE, consent=None)
    r = await post(svc, token, [make_event("activity", payload) for _ in range(3)])
    assert r.status_code == 400, r.text
    assert says in r.json()["results"][0]["message"]
    assert rows(svc.store, t.daily_activity) == 0


async def test_daily_counters_saturate(catalyst_service, make_event):
    svc = catalyst_service
    store = svc.store
    token = svc.token(ALICE, consent=None)
    # noon today: the same UTC day whenever the test runs (the window ends ten minutes ahead)
    noon = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    if noon > utcnow():
        noon -= timedelta(days=1)
    r = await post(svc, token, [make_event("activity", {"kind": "ui", "count": 1}, time=noon)])
    assert r.status_code == 200, r.text
    da = t.daily_activity
    with store.begin() as conn:
        conn.execute(
            update(da)
            .where(da.c.hub == store.hub)
            .values(events=COUNTER_MAX - 5, seconds=COUNTER_MAX - 30)
        )
    full = {"kind": "ui", "count": 10_000, "seconds": 3600}
    for _ in range(3):
        r = await post(svc, token, [make_event("activity", full, time=noon) for _ in range(2)])
        assert r.status_code == 200, r.text
    with store.connect() as conn:
        day = conn.execute(select(da.c.events, da.c.seconds).where(da.c.hub == store.hub)).one()
    assert tuple(day) == (COUNTER_MAX, COUNTER_MAX)


def test_replayed_counts_saturate_too(catalyst_store):
    """A log written before the bounds (counts of any size) replays without overflow."""
    store = catalyst_store
    member = store.member_id(ALICE)
    when = utcnow().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    events = [
        StoredEvent(
            str(uuid.uuid4()),
            store.hub,
            member,
            "andes",
            "activity",
            1,
            when,
            when,
            {"kind": "ui", "count": COUNTER_MAX, "seconds": COUNTER_MAX},
        )
        for _ in range(3)
    ]
    store.append(events[:2])
    store.append(events[2:])
    da = t.daily_activity.c
    day = select(da.events, da.seconds).where(da.hub == store.hub)
    with store.connect() as conn:
        assert tuple(conn.execute(day).one()) == (COUNTER_MAX, COUNTER_MAX)
    store.rebuild()
    with store.connect() as conn:
        assert tuple(conn.execute(day).one()) == (COUNTER_MAX, COUNTER_MAX)


@pytest.mark.parametrize(
    "catalyst_config",
    # bytes are the limit here: events are plenty
    [
        {
            "CatalystService": {
                "consent_mode": "opt-out",
                "rate_limit_bytes": 1.0,
                "rate_burst_bytes": 4000.0,
            }
        }
    ],
)
async def test_rate_limit_counts_bytes(catalyst_service, make_event):
    svc = catalyst_service
    assert (svc.service.rate_limiter.byte_rate, svc.service.rate_limiter.byte_burst) == (
        1.0,
        4000.0,
    )
    token = svc.token(ALICE, consent=None)

    def batch() -> list[dict]:
        return [make_event("action", {"action": "cell_executed"}) for _ in range(15)]

    r = await post(svc, token, batch())
    assert r.status_code == 200, r.text
    size = len(r.request.body)
    assert 2000 < size < 4000
    r = await post(svc, token, batch())
    assert r.status_code == 429, r.text
    assert r.json()["message"].startswith("Too many bytes from this sender; retry in ")
    # the wait lets the refused request's bytes in, at a byte a second (give or take the
    # seconds between the two requests on a busy machine)
    missing = size + len(r.request.body) - 4000
    assert abs(int(r.headers["Retry-After"]) - missing) <= 60
    assert rows(svc.store, t.events) == 15
    # bytes are counted before the body is parsed: the cost of a body is parsing it
    r = await post(svc, token, b"[" * 3000)
    assert r.status_code == 429, r.text
    # another member has an allowance of their own
    r = await post(svc, svc.token("bob@example.org", consent=None), batch())
    assert r.status_code == 200, r.text
