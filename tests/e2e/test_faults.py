"""Fault tolerance, end to end, on real processes (harness.faults at test scale):
whatever fails while servers' extensions send events, every event a server accepted is
stored exactly once. ``python -m harness.faults --scale full`` (and
``benchmarks/bench_faults.py``) runs the same scenarios at 10 servers and 100,000 events."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from catalyst_hub.pytest_plugin import POSTGRES_URL, missing
from harness import faults

pytestmark = pytest.mark.e2e

SCALE = dataclasses.replace(faults.TEST_SCALE, servers=3, events=2400, duration=8.0)


def check(result: faults.Result) -> None:
    print("\n" + faults.table([result]))
    assert result.sent == SCALE.events - result.unacknowledged
    assert result.unacknowledged == 0
    assert result.lost == 0, f"lost: {result.lost_ids}"
    assert result.duplicated == 0
    # one row per event; everything sent is stored but what a destroyed outbox file took along
    assert result.rows == result.distinct_ids == result.stored
    assert result.stored == result.sent - (result.destroyed - result.destroyed_but_stored)
    assert not [n for n in result.notes if "wrong member" in n]


@pytest.fixture(scope="module")
def sqlite_hub(tmp_path_factory):
    """One hub for the SQLite scenarios, with cleanup_servers = False (servers outlive a hub
    restart, as in production)."""
    if (
        shutil.which("configurable-http-proxy", path=faults.RealHub(".").environment()["PATH"])
        is None
    ):
        missing("configurable-http-proxy is not installed: run `make setup`")
    with faults.fault_hub(tmp_path_factory.mktemp("faults"), SCALE, keep_servers=True) as running:
        yield running


def test_service_killed_repeatedly(sqlite_hub):
    hub, users = sqlite_hub
    result = faults.service_kill(hub, users, SCALE)
    check(result)
    assert result.faults == SCALE.faults
    assert len(result.details["downtimes"]) == SCALE.faults  # JupyterHub started it again


def test_hub_restarted_with_servers_kept(sqlite_hub):
    hub, users = sqlite_hub
    result = faults.hub_restart(hub, users, dataclasses.replace(SCALE, faults=1))
    check(result)
    assert result.faults == 1
    assert result.details["servers_kept"]


def test_corrupt_outbox_moved_aside_and_later_events_delivered(sqlite_hub):
    hub, users = sqlite_hub
    result = faults.corrupt_outbox(hub, users, SCALE)
    check(result)
    # the damaged file had undelivered events (the scenario makes sure of it), it was moved
    # aside, and everything produced after the damage arrived
    assert result.destroyed > 0
    assert len(result.details["moved_aside"]) == 1
    assert result.details["sent_after_corruption"] > 0
    assert result.details["lost_after_corruption"] == 0


def test_postgres_restarted_mid_stream(tmp_path):
    try:
        faults.postgres_control()
        with (
            faults.postgres_database(POSTGRES_URL) as db_url,
            faults.fault_hub(tmp_path, SCALE, db_url=db_url) as (hub, users),
        ):
            result = faults.postgres_restart(
                hub, users, dataclasses.replace(SCALE, faults=1), POSTGRES_URL
            )
    except faults.Unavailable as e:
        missing(str(e))
    check(result)
    assert result.faults == 1
    # while PostgreSQL was down the service said "come back later", never 500, and it
    # carried on by itself
    assert result.details["answers_503"] > 0
    assert result.details["answers_500"] == 0
    assert not result.details["service_restarted"]
