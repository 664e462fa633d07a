"""The checklist is live: the server's own start (a login and a start) and clean stop, sent
as they happen rather than at the collector's next poll; a first time is delivered at once
and the progress answer the labextension polls is not older than the latest delivery."""

from __future__ import annotations

import json

import pytest
from conftest import settle, wait_for

from catalyst_hub.serverext.detectors import DETECTORS


@pytest.fixture
def catalyst_config():
    return {"CatalystExtension": {"enabled_detectors": sorted(DETECTORS)}}


async def test_a_server_that_loads_is_a_login_and_a_start(catalyst, fake_service):
    await wait_for(
        lambda: fake_service.actions() == ["logged_in", "server_started"],
        message="logged_in and server_started",
    )


async def test_a_clean_shutdown_is_a_stop(catalyst, fake_service, jp_serverapp):
    await wait_for(lambda: len(fake_service.actions()) == 2, message="start actions")
    await jp_serverapp.cleanup_extensions()
    # delivered before the server process ends
    assert fake_service.actions() == ["logged_in", "server_started", "server_stopped"]
    await jp_serverapp.cleanup_extensions()  # a second stop does nothing (and does not fail)
    assert len(fake_service.of("action")) == 3


async def test_once_per_member_across_restarts(catalyst, fake_service, jp_serverapp):
    # the outbox remembers what was sent: a server started again sends nothing again
    await wait_for(lambda: len(fake_service.actions()) == 2, message="start actions")
    detector = next(d for d in catalyst.detectors if d.name == "server")
    detector.start()
    await settle(catalyst)
    assert fake_service.actions() == ["logged_in", "server_started"]


@pytest.mark.parametrize(
    "catalyst_config",
    [{"CatalystExtension": {"flush_interval": 3600.0, "progress_cache_seconds": 3600.0}}],
)
async def test_a_first_time_is_delivered_at_once_and_shown(catalyst, fake_service, jp_fetch):
    # no delivery round for an hour: only the action itself makes the outbox deliver
    r = await jp_fetch("catalyst", "progress")
    assert json.loads(r.body)["steps_done"] == 0
    fake_service.progress["steps_done"] = 1  # what the service shows once it has the event
    catalyst.recorder.action("notebook_opened")
    await wait_for(lambda: "notebook_opened" in fake_service.actions(), message="delivered")
    await wait_for(
        lambda: catalyst.outbox.delivered >= len(fake_service.events), message="acknowledged"
    )
    # the answer cached for an hour predates that delivery: fetched again
    r = await jp_fetch("catalyst", "progress")
    assert json.loads(r.body)["steps_done"] == 1
