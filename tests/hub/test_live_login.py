"""An authenticated request to the service proves a login: the "Log in" step is done in the
very first answer, recorded once per member (not per request), and never for a member who
stopped recording."""

from __future__ import annotations

from sqlalchemy import func, select

from catalyst_hub.service.logins import LoginRecorder
from catalyst_hub.store import tables as t


def login_events(store, member_id: str) -> int:
    e = t.events.c
    with store.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(t.events)
            .where(e.hub == store.hub, e.member_id == member_id, e.schema == "action")
        ).scalar_one()


async def steps(catalyst_service, token: str) -> dict[str, str]:
    r = await catalyst_service.request("get", "api/me", token)
    assert r.status_code == 200, r.text
    return {s["id"]: s["state"] for s in r.json()["steps"]}


async def test_first_request_is_a_login(catalyst_service):
    store = catalyst_service.store
    ana = catalyst_service.token("ana@example.org", groups=["community-andes"])
    member = store.member_id("ana@example.org")
    assert login_events(store, member) == 0

    assert (await steps(catalyst_service, ana))["login"] == "done"
    # a page as well as the API; many requests, one event
    r = await catalyst_service.request("get", "me", ana)
    assert r.status_code == 200
    for _ in range(3):
        await steps(catalyst_service, ana)
    assert login_events(store, member) == 1
    # another process (or day) seeing her again stores nothing new: the same event id
    catalyst_service.service.logins = LoginRecorder()
    await steps(catalyst_service, ana)
    assert login_events(store, member) == 1

    # only the member who asked
    ben = store.member_id("ben")
    catalyst_service.token("ben")
    assert login_events(store, ben) == 0
    with store.connect() as conn:
        reached = conn.execute(
            select(t.member_steps.c.member_id).where(
                t.member_steps.c.hub == store.hub, t.member_steps.c.step == "login"
            )
        ).scalars()
        assert set(reached) == {member}


async def test_no_login_recorded_for_a_member_who_stopped_recording(catalyst_service):
    store = catalyst_service.store
    ana = catalyst_service.token("ana@example.org")
    member = store.member_id("ana@example.org")
    r = await catalyst_service.request(
        "post", "api/me/erase", ana, json={"confirm": True, "stop_recording": True}
    )
    assert r.status_code == 200, r.text
    catalyst_service.service.logins = LoginRecorder()  # the next day, say
    assert (await steps(catalyst_service, ana))["login"] != "done"
    assert login_events(store, member) == 0
