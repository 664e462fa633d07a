"""A database that is away (restarting, unreachable) answers 503 with Retry-After, not 500:
the server extension's outbox then waits as told and sends the same events again, and the
service carries on by itself once the database is back (tests/e2e/test_faults.py restarts a
real PostgreSQL under a real hub)."""

from sqlalchemy import create_engine, func, select

from catalyst_hub.store import tables as t

ALICE = "alice@example.org"


def count_events(store) -> int:
    with store.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(t.events)
            # the events sent, not the consent token() records
            .where(t.events.c.hub == store.hub, t.events.c.schema != "consent")
        ).scalar()


async def test_database_away_means_503_with_retry_after_then_recovery(
    catalyst_service, make_event, tmp_path
):
    token = catalyst_service.token(ALICE)
    store = catalyst_service.store
    first = await catalyst_service.request(
        "post", "api/events", token, json=[make_event("action", {"action": "logged_in"})]
    )
    assert first.status_code == 200, first.text  # the identity is known from now on

    engine = store.engine
    # a database that cannot be reached: every connection attempt fails
    store.engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'folder' / 'db.sqlite'}")
    events = [make_event("activity", {"kind": "kernel", "count": 3, "seconds": 60})]
    try:
        r = await catalyst_service.request("post", "api/events", token, json=events)
        assert r.status_code == 503, r.text
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.json()["status"] == 503 and "retry" in r.json()["message"]

        me = await catalyst_service.request("get", "api/me", token)
        assert me.status_code == 503 and "Retry-After" in me.headers

        page = await catalyst_service.request("get", "me", token)
        assert page.status_code == 503 and "Retry-After" in page.headers
        assert page.headers["Content-Type"].startswith("text/html")
    finally:
        store.engine.dispose()
        store.engine = engine

    # back: the same events are stored once, and a resend is a duplicate
    again = await catalyst_service.request("post", "api/events", token, json=events)
    assert again.status_code == 200, again.text
    assert again.json()["results"] == [{"id": events[0]["id"], "status": "stored"}]
    assert count_events(store) == 2
    resent = await catalyst_service.request("post", "api/events", token, json=events)
    assert resent.json()["results"][0]["status"] == "duplicate"
    assert count_events(store) == 2
