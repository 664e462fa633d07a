"""A session whose stop the collector missed (the service was down when the server went) is
recorded as stopped when a restarted collector finds it gone: its hours end an idle-cull
timeout after its start, not at the restart."""

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from catalyst_hub.demo import COMMUNITIES, PROGRESS, demo_events
from catalyst_hub.ingest import COLLECTOR, Sender
from catalyst_hub.reports.common import Period
from catalyst_hub.reports.overview import community_totals
from catalyst_hub.reports.usage import usage
from catalyst_hub.seed import sender_kind
from catalyst_hub.service.collector import Collector
from catalyst_hub.store import tables as t
from catalyst_hub.timeutil import isoformat, utcnow


@pytest.fixture
def catalyst_config():
    return {"Collector": {"poll_interval": 3600}, "CatalystApp": {"idle_cull_timeout": 1800}}


async def test_a_stop_found_after_an_outage(catalyst_service):
    service, store = catalyst_service.service, catalyst_service.store
    assert store.projector.idle_cull_timeout == timedelta(minutes=30)
    catalyst_service.user("sol", groups=["community-andes"])
    member = store.member_id("sol")
    started = (utcnow() - timedelta(days=3)).replace(microsecond=0)
    service.ingestor.ingest_trusted(
        [
            (
                {
                    "id": "8a6f0e1c-4f57-4bb5-9d7e-2f1d3c1b0a01",
                    "schema": "server_started",
                    "version": 1,
                    "time": isoformat(started),
                    "payload": {"server_name": "", "started": isoformat(started)},
                },
                Sender(member, "andes"),
            )
        ],
        COLLECTOR,
    )
    # the service restarts: its collector learns the open session from the store, and the
    # hub no longer runs that server
    await Collector(parent=service, app=service).poll()
    s = t.server_sessions.c
    with store.connect() as conn:
        stopped, last_activity, ended = conn.execute(
            select(s.stopped, s.last_activity, s.ended).where(
                s.hub == store.hub, s.member_id == member
            )
        ).one()
    assert stopped > started + timedelta(days=2) and last_activity is None
    assert ended == started + timedelta(minutes=30)
    period = Period(started.date(), utcnow().date())
    assert usage(store, "andes", period).hours == 0.5


async def test_the_demo_overview_hours_are_believable(catalyst_service):
    """The demo's month of sessions, then its collector's first poll, which finds none of the
    seeded servers running: each community's server-hours stay within what its sessions can
    have run (the demo's are 30 to 150 minutes; those with no stop get the timeout)."""
    service, store = catalyst_service.service, catalyst_service.store
    rng = random.Random(2026)
    now = utcnow()
    # each event from the sender that may assert it (the collector for server sessions)
    items = [
        (
            event,
            Sender(
                store.member_id(name), community, sender_kind(event["schema"], event["payload"])
            ),
        )
        for community, names in COMMUNITIES.items()
        for i, name in enumerate(names)
        for event in demo_events(name, PROGRESS[i % len(PROGRESS)], rng, now)
    ]
    service.ingestor.ingest_trusted(items)
    await Collector(parent=service, app=service).poll()
    period = Period(now.date() - timedelta(days=29), now.date())
    rows = community_totals(store, period, list(COMMUNITIES), now=now)
    assert {row.community for row in rows} == set(COMMUNITIES)
    for row in rows:
        assert row.sessions > 0
        assert row.server_hours <= row.sessions * 2.5, row
