"""Forgery with a real server's token (``$JUPYTERHUB_API_TOKEN``, which any notebook of the
server can read), through the proxy, against the managed service on SQLite and PostgreSQL:
what only the collector or a lead may assert is refused (403), what no real use produces is
refused (400), nothing of it is stored; the token still sends the member's own events."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select

from catalyst_hub.events import envelope
from catalyst_hub.store import tables as t
from harness.realhub import RealHub

pytestmark = pytest.mark.e2e

ALICE = "alice@example.org"

FORGED = [
    ("server_started", {"server_name": "x", "started": "2025-01-01T00:00:00Z"}, None, 403),
    ("server_stopped", {"server_name": "", "started": "2025-01-01T00:00:00Z"}, None, 403),
    (
        "episode_completed",
        {"lesson": "hub-basics", "episode": "persistence", "source": "lead", "signed_off_by": "x"},
        "2025-01-01T00:00:00Z",
        403,
    ),
    ("step_reached", {"step": "use_git", "source": "lead"}, None, 403),
    ("activity", {"kind": "kernel", "count": 1_000_000, "seconds": 60}, None, 400),
    ("action", {"action": "git_cloned"}, "0001-01-01T00:00:00Z", 400),
    ("action", {"action": "git_cloned"}, "9999-12-31T23:59:59Z", 400),
]


@pytest.fixture
def hub(tmp_path, catalyst_db_url, catalyst_hub_name):
    hub = RealHub(
        tmp_path / "hub",
        users={ALICE: "alice-pass"},
        groups={"community-andes": [ALICE]},
        db_url=catalyst_db_url,
        hub_name=catalyst_hub_name,
    )
    hub.start()
    yield hub
    hub.stop()


def test_a_servers_own_token_cannot_forge_records(hub):
    hub.decide(ALICE)  # she accepted the recording notice: her honest event is stored
    hub.start_server(ALICE)
    token = hub.server_token(ALICE)
    forged = []
    for schema, payload, when, status in FORGED:
        event = envelope(schema, payload, time=when)
        forged.append(event["id"])
        r = hub.service_post("api/events", token, json={"events": [event]})
        assert r.status_code == status, (schema, r.text)
        [result] = r.json()["results"]
        assert result["status"] == ("refused" if status == 403 else "error")
        assert result["message"]
    honest = envelope("action", {"action": "git_committed"})
    r = hub.service_post("api/events", token, json={"events": [honest]})
    assert r.status_code == 200, r.text

    engine = create_engine(hub.db_url)
    try:
        with engine.connect() as conn:
            e = t.events.c
            ids = set(conn.execute(select(e.id).where(e.hub == hub.hub_name)).scalars())
            first_seen = conn.execute(
                select(t.members.c.first_seen).where(t.members.c.hub == hub.hub_name)
            ).scalar_one()
            sessions = conn.execute(
                select(t.server_sessions.c.server_name).where(
                    t.server_sessions.c.hub == hub.hub_name
                )
            ).scalars()
            assert "x" not in set(sessions)
    finally:
        engine.dispose()
    assert honest["id"] in ids and not ids & set(forged)
    assert first_seen.year >= 2015
