"""The ingest API on a MockHub, against SQLite and PostgreSQL."""

from sqlalchemy import func, select

from catalyst_hub.store import tables as t


async def test_events_are_attributed_to_the_token_owner(catalyst_service, make_event):
    token = catalyst_service.token("alice@example.org", groups=["community-andes"])
    r = await catalyst_service.request(
        "post", "api/events", token, json={"events": [make_event("action", {"action": "cell_executed"})]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1
    store = catalyst_service.store
    with store.connect() as conn:
        row = conn.execute(select(t.events).where(t.events.c.hub == store.hub)).one()
    assert row.member_id == store.member_id("alice@example.org")
    assert row.community == "andes"
