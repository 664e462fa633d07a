"""The checklist is live on a real hub: with the collector's poll an hour away, a member's
login, server start, first cell and server stop are each shown done on their page, from the
server extension and the service alone; the session is still the collector's to record."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select

from catalyst_hub.store import tables as t
from harness.live import SLOW_COLLECTOR, extension_config, first_steps, step_states
from harness.realhub import REPO, RealHub

pytestmark = pytest.mark.e2e

ALICE = "alice@example.org"


def test_first_steps_shown_without_the_collector(tmp_path):
    hub = RealHub(
        tmp_path / "hub",
        users={ALICE: "alice-pass", "bob": "bob-pass"},
        groups={"community-andes": [ALICE]},
        extra_hub_config=extension_config(str(REPO / "jupyter_config")),
        extra_service_config=SLOW_COLLECTOR,
    )
    with hub:
        # they accepted the recording notice (the default is opt-in: an undecided member's
        # steps wait in the outbox, see test_serverext_e2e)
        hub.decide(ALICE)
        hub.decide("bob")
        # what is timed is what the person waits for; the figures are in make bench
        seconds = first_steps(hub, ALICE)
        assert set(seconds) == {"login", "start_server", "run_code", "stop_server"}
        states = step_states(hub, hub.token(ALICE))
        assert all(states[s] == "done" for s in seconds)
        # and nothing of it for another member (bob's own request is his login, only)
        theirs = step_states(hub, hub.token("bob"))
        assert [s for s, state in theirs.items() if state == "done"] == ["login"]
        # the server's own start and stop are steps, not sessions: a session is made by the
        # collector's server_started event only (if its first poll, at the service's start,
        # came late enough to see the server at all)
        engine = create_engine(hub.db_url)
        with engine.connect() as conn:
            sessions = conn.execute(select(func.count()).select_from(t.server_sessions)).scalar()
            starts = conn.execute(
                select(func.count()).where(t.events.c.schema == "server_started")
            ).scalar()
        engine.dispose()
        assert sessions == starts <= 1
