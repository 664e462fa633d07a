"""Self-service privacy through the service: opt-out, export, erasure, retention schedule."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from tornado.web import create_signed_value

from catalyst_hub.store import privacy
from catalyst_hub.store import tables as t
from catalyst_hub.timeutil import utcnow

# builds data relative to now: CI runs it again at 00:05 and 23:55 UTC
pytestmark = pytest.mark.clock


def login_cookies(catalyst_service, token: str) -> dict[str, str]:
    """The cookie HubOAuth sets after a browser's OAuth login, holding ``token``."""
    service = catalyst_service.service
    secret = service.http_server.request_callback.settings["cookie_secret"]
    name = service.hub_auth.cookie_name
    return {name: create_signed_value(secret, name, token).decode("ascii")}


def rows_about(store, member_id: str) -> dict[str, int]:
    tables = [t.events, t.identities, *privacy.member_tables()]
    with store.connect() as conn:
        return {
            table.name: conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.hub == store.hub, table.c.member_id == member_id)
            ).scalar_one()
            for table in tables
        }


def activity(make_event, time=None):
    time = time or utcnow()
    return [
        make_event("action", {"action": "logged_in"}, time=time),
        make_event("action", {"action": "cell_executed"}, time=time),
        make_event(
            "exercise_completed",
            {"lesson": "hub-basics", "episode": "first-notebook", "exercise": "hello"},
            time=time,
        ),
    ]


async def send(catalyst_service, token, events):
    r = await catalyst_service.request("post", "api/events", token, json={"events": events})
    assert r.status_code == 200, r.text
    return r.json()


async def test_after_opting_out_events_are_dropped_and_nothing_is_stored(
    catalyst_service, make_event
):
    token = catalyst_service.token("ana@example.org")
    store = catalyst_service.store
    member = store.member_id("ana@example.org")
    await send(catalyst_service, token, activity(make_event))
    r = await catalyst_service.request(
        "post", "me/consent", token, data={"decision": "withdrawn"}, allow_redirects=False
    )
    assert r.status_code == 303
    before = rows_about(store, member)

    body = await send(catalyst_service, token, activity(make_event))
    assert (body["stored"], body["dropped"], body["errors"]) == (0, 3, 0)
    assert {r["status"] for r in body["results"]} == {"dropped"}
    assert rows_about(store, member) == before

    # a self-report is not recorded either, and the page says so
    r = await catalyst_service.request(
        "post", "me/steps", token, data={"step": "use_git"}, allow_redirects=False
    )
    assert r.headers["Location"].endswith("me?status=dropped#step-use_git")
    assert rows_about(store, member) == before
    html = (await catalyst_service.request("get", "me?status=dropped", token)).text
    assert 'data-consent="withdrawn"' in html and 'data-status="dropped"' in html


async def test_export_has_my_data_and_nothing_of_another_user(catalyst_service, make_event):
    ana = catalyst_service.token("ana@example.org")
    bea = catalyst_service.token("bea@example.org")
    mine = activity(make_event)
    await send(catalyst_service, ana, mine)
    await send(catalyst_service, bea, activity(make_event))

    r = await catalyst_service.request("get", "api/me/export", ana)
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["Content-Disposition"]
    data = r.json()
    assert data["identity"][0]["username"] == "ana@example.org"
    # the events ana sent, and her decision on the notice
    assert sorted(e["id"] for e in data["events"] if e["schema"] != "consent") == sorted(
        e["id"] for e in mine
    )
    assert data["tables"]["members"][0]["member_id"] == data["member_id"]
    assert "bea@example.org" not in r.text
    assert catalyst_service.store.member_id("bea@example.org") not in r.text


async def test_export_needs_a_login(catalyst_service):
    r = await catalyst_service.request("get", "api/me/export")
    assert r.status_code == 401


async def test_erase_through_the_api(catalyst_service, make_event):
    ana = catalyst_service.token("ana@example.org")
    bea = catalyst_service.token("bea@example.org")
    store = catalyst_service.store
    await send(catalyst_service, ana, activity(make_event))
    await send(catalyst_service, bea, activity(make_event))
    member = store.member_id("ana@example.org")
    before = rows_about(store, member)
    # the three sent and ana's consent
    assert before["events"] == 4 and before["identities"] == 1 and before["member_steps"] == 2
    others = rows_about(store, store.member_id("bea@example.org"))

    r = await catalyst_service.request("post", "api/me/erase", ana, json={})
    assert r.status_code == 400
    assert "confirm" in r.json()["message"]
    assert rows_about(store, member) == before

    r = await catalyst_service.request("post", "api/me/erase", ana, json={"confirm": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["erased"] is True and body["events"] == 4 and body["recording_stopped"] is False
    assert set(rows_about(store, member).values()) == {0}
    assert rows_about(store, store.member_id("bea@example.org")) == others

    with store.connect() as conn:
        audit = conn.execute(
            select(t.audit_log).where(
                t.audit_log.c.hub == store.hub, t.audit_log.c.action == "erasure"
            )
        ).one()
    assert audit.subject is None
    assert json.loads(audit.detail)["receipt"] == body["receipt"]
    assert "ana@example.org" not in str(tuple(audit)) and member not in str(tuple(audit))


async def test_erasing_after_opting_out_keeps_the_opt_out(catalyst_service, make_event):
    ana = catalyst_service.token("ana@example.org")
    store = catalyst_service.store
    member = store.member_id("ana@example.org")
    await send(catalyst_service, ana, activity(make_event))
    await catalyst_service.request("post", "me/consent", ana, data={"decision": "withdrawn"})

    r = await catalyst_service.request("post", "api/me/erase", ana, json={"confirm": True})
    assert r.json()["recording_stopped"] is True
    # only the renewed opt-out is left, and it still holds
    assert rows_about(store, member)["events"] == 1
    body = await send(catalyst_service, ana, activity(make_event))
    assert body["dropped"] == 3
    assert rows_about(store, member)["events"] == 1


async def test_erase_page_asks_for_confirmation_over_cookie_auth(catalyst_service, make_event):
    token = catalyst_service.token("ana@example.org")
    store = catalyst_service.store
    member = store.member_id("ana@example.org")
    await send(catalyst_service, token, activity(make_event))
    cookies = login_cookies(catalyst_service, token)

    r = await catalyst_service.request("get", "me/erase", cookies=cookies)
    assert r.status_code == 200
    assert 'id="erase-confirm"' in r.text and 'for="erase-confirm"' in r.text
    cookies["_xsrf"] = r.cookies["_xsrf"]
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)

    # no tick: nothing is erased, the form says why
    r = await catalyst_service.request(
        "post", "me/erase", data={"_xsrf": xsrf, "stop_recording": "yes"}, cookies=cookies
    )
    assert r.status_code == 400
    assert 'id="erase-error"' in r.text
    assert rows_about(store, member)["events"] == 4  # with the consent

    # without the xsrf token: refused
    r = await catalyst_service.request(
        "post", "me/erase", data={"confirm": "yes"}, cookies=cookies, allow_redirects=False
    )
    assert r.status_code == 403
    assert rows_about(store, member)["events"] == 4  # with the consent

    r = await catalyst_service.request(
        "post", "me/erase", data={"_xsrf": xsrf, "confirm": "yes"}, cookies=cookies
    )
    assert r.status_code == 200, r.text
    assert 'id="erased"' in r.text
    receipt = re.search(r'data-receipt="([0-9a-f]+)"', r.text).group(1)
    assert receipt in r.text
    assert set(rows_about(store, member).values()) == {0}


@pytest.mark.parametrize("catalyst_config", [{"CatalystService": {"retention_days": 30}}])
async def test_retention_schedule_purges_old_events_and_keeps_aggregates(
    catalyst_service, make_event
):
    token = catalyst_service.token("ana@example.org")
    store = catalyst_service.store
    member = store.member_id("ana@example.org")
    old = utcnow() - timedelta(days=45)
    await send(catalyst_service, token, activity(make_event, old) + activity(make_event))
    before = rows_about(store, member)
    # six sent and the consent
    assert before["events"] == 7 and before["daily_activity"] == 2

    service = catalyst_service.service
    # the service started its schedule (and a first, empty purge) when it started: restart it
    service.stop_retention()
    service.start_retention()
    try:
        for _ in range(100):  # the first purge runs right after the schedule starts
            if rows_about(store, member)["events"] == 4:
                break
            await asyncio.sleep(0.05)
    finally:
        service.stop_retention()
    after = rows_about(store, member)
    assert after["events"] == 4  # the recent three and the consent
    assert after["daily_activity"] == 2 and after["member_steps"] == before["member_steps"]
    assert await service.purge_expired() == 0


async def test_the_privacy_page_needs_no_login_and_links_export_and_erase(catalyst_service):
    r = await catalyst_service.request("get", "privacy")
    assert r.status_code == 200
    assert "api/me/export" in r.text and "me/erase" in r.text
    assert 'data-retention-days="365"' in r.text
    k = getattr(catalyst_service.service, "min_group_size", None)
    if k:  # the reports' small-group threshold, when the service has one
        assert f'data-k="{k}"' in r.text
