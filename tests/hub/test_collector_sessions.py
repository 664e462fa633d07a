"""A session whose stop the collector missed (the service was down when the server went) is
recorded as stopped when a restarted collector finds it gone: its hours end an idle-cull
timeout after its start, not at the restart."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from catalyst_hub.ingest import Sender
from catalyst_hub.reports.common import Period
from catalyst_hub.reports.usage import usage
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
        ]
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
