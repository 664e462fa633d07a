"""The catalyst service as JupyterHub runs it: managed service, proxy, real single-user servers."""

import uuid
from datetime import datetime, timezone

import requests
from sqlalchemy import create_engine, select

from catalyst_hub.store import tables as t
from harness.waiting import wait_until

ALICE, BOB = "alice@example.org", "bob"


def test_server_token_event_session_and_isolation(real_hub):
    real_hub.decide(ALICE)  # she accepted the recording notice (the default is opt-in)
    real_hub.start_server(ALICE)
    token = real_hub.server_token(ALICE)
    event = {
        "id": str(uuid.uuid4()),
        "schema": "action",
        "version": 1,
        "time": datetime.now(timezone.utc).isoformat(),
        "payload": {"action": "git_committed"},
    }
    # through the proxy, with the server's own token, as the server extension sends
    r = real_hub.service_post("api/events", token, json={"events": [event]})
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [{"id": event["id"], "status": "stored"}]

    engine = create_engine(real_hub.db_url)
    with engine.connect() as conn:
        row = conn.execute(select(t.events).where(t.events.c.id == event["id"])).one()
        alice_id = conn.execute(
            select(t.identities.c.member_id).where(t.identities.c.username == ALICE)
        ).scalar()
    assert row.member_id == alice_id
    assert row.community == "andes"

    alice = real_hub.token(ALICE)
    bob = real_hub.token(BOB)
    mine = real_hub.service_get("api/me", alice).json()
    assert {s["id"]: s["state"] for s in mine["steps"]}["use_git"] == "done"
    real_hub.decide(BOB)  # so the login his look proves is stored, not held
    theirs = real_hub.service_get("api/me", bob).json()
    assert theirs["community"] == "sahel"
    # bob has only logged in (asking for his checklist proved it)
    assert [s["id"] for s in theirs["steps"] if s["state"] == "done"] == ["login"]

    # the collector (polling every second here) saw the server start, then its stop
    def session():
        with engine.connect() as conn:
            return conn.execute(
                select(t.server_sessions).where(t.server_sessions.c.member_id == alice_id)
            ).first()

    assert wait_until(session).stopped is None
    real_hub.stop_server(ALICE)
    assert wait_until(lambda: (s := session()) is not None and s.stopped is not None and s)
    states = {s["id"]: s["state"] for s in real_hub.service_get("api/me", alice).json()["steps"]}
    assert states["login"] == states["start_server"] == states["stop_server"] == "done"
    engine.dispose()


def test_hub_home_page_links_to_the_researchers_page(real_hub):
    session = requests.Session()
    session.get(real_hub.url + "hub/login")
    r = session.post(
        real_hub.url + "hub/login?next=/hub/home",
        data={"username": BOB, "password": "bob-pass", "_xsrf": session.cookies.get("_xsrf")},
    )
    assert r.status_code == 200
    home = session.get(real_hub.url + "hub/home")
    # the home page's button and the Services menu both lead to the service's "me" page
    assert home.text.count('href="/services/catalyst/me"') == 2
    me = session.get(real_hub.url + "services/catalyst/me")  # through the OAuth dance
    assert me.status_code == 200
    assert 'data-step-id="login"' in me.text
