"""Consent first, and erasure and opt-out that stick, through the service on a MockHub.

- until a member decides on the current notice (opt-in, the default) only the essential
  events are stored; the others are answered "deferred" and stored when sent again after
  "accept";
- "opt-out" mode records an undecided member, and the notice and privacy page say so;
- the collector records nothing of an erased or opted-out member, not even their identity,
  over many polls and a service restart (a new service, with none of the old one's memory);
- an erased member starts a new, empty record only by accepting the notice again.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from jupyterhub.tests.utils import api_request
from markupsafe import escape
from sqlalchemy import func, select

from catalyst_hub.i18n import LANGUAGES, gettext_for
from catalyst_hub.ingest import COLLECTOR, Sender
from catalyst_hub.pytest_plugin import wait_for_server
from catalyst_hub.store import tables as t
from catalyst_hub.store.privacy import consent_of

# the names this part adds are imported where used, so each test fails on its own on code
# without them

ANA = "ana@example.org"


async def send(hub, token, *events, status=200):
    r = await hub.request("post", "api/events", token, json={"events": list(events)})
    assert r.status_code == status, r.text
    return r.json()


def schemas_of(store, member_id: str) -> list[str]:
    with store.connect() as conn:
        return sorted(
            conn.execute(
                select(t.events.c.schema).where(
                    t.events.c.hub == store.hub, t.events.c.member_id == member_id
                )
            ).scalars()
        )


def identities(store) -> set[str]:
    with store.connect() as conn:
        return set(
            conn.execute(
                select(t.identities.c.username).where(t.identities.c.hub == store.hub)
            ).scalars()
        )


def rows_of(store, member_id: str) -> int:
    """Rows naming ``member_id`` in the log and every per-member table (tombstone aside)."""
    from catalyst_hub.store.privacy import member_tables

    total = 0
    with store.connect() as conn:
        for table in [t.events, t.identities, *member_tables()]:
            total += conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.hub == store.hub, table.c.member_id == member_id)
            ).scalar_one()
    return total


def started(make_event, server_name: str = ""):
    now = datetime.now(timezone.utc)
    payload = {"server_name": server_name, "started": now.isoformat()}
    return make_event("server_started", payload, time=now)


async def test_undecided_member_gets_only_essential_events_stored(catalyst_service, make_event):
    from catalyst_hub.ingest.ingest import HELD_MESSAGES

    hub = catalyst_service
    token = hub.token(ANA, consent=None)
    member = hub.store.member_id(ANA)
    cell = make_event("action", {"action": "cell_executed"})
    git = make_event("action", {"action": "git_cloned"})
    body = await send(hub, token, cell, git)
    statuses = {r["id"]: r["status"] for r in body["results"]}
    assert statuses == {cell["id"]: "deferred", git["id"]: "deferred"}
    assert body["deferred"] == 2 and body["stored"] == 0
    assert all(r["message"] == HELD_MESSAGES["deferred"] for r in body["results"])
    # the collector's record of her server is essential: stored before she decides
    stored, held = hub.service.ingestor.ingest_trusted(
        [(started(make_event), Sender(member, "default"))], COLLECTOR
    )
    assert len(stored) == 1 and not held
    assert schemas_of(hub.store, member) == ["server_started"]
    # the page shows no step reached but the essential one, beside the unanswered notice
    me = (await hub.request("get", "api/me", token)).json()
    assert {s["id"] for s in me["steps"] if s["state"] == "done"} <= {"start_server"}
    assert me["consent"]["decision"] is None

    # accepting, then sending them again (what the outbox does): stored
    r = await hub.request("post", "me/consent", token, data={"decision": "given"})
    assert r.status_code == 200, r.text
    body = await send(hub, token, cell, git)
    assert [r["status"] for r in body["results"]] == ["stored", "stored"]
    # and the login her look at the checklist proved, held until then, once she decided
    assert schemas_of(hub.store, member) == [
        "action",
        "action",
        "action",
        "consent",
        "server_started",
    ]


async def test_deferred_message_is_translated(catalyst_service, make_event):
    from catalyst_hub.ingest.ingest import HELD_MESSAGES

    hub = catalyst_service
    token = hub.token(ANA, consent=None)
    r = await hub.request(
        "post",
        "api/events",
        token,
        json=[make_event("action", {"action": "cell_executed"})],
        headers={"Accept-Language": "es"},
    )
    (result,) = r.json()["results"]
    assert result["status"] == "deferred"
    assert result["message"] == gettext_for("es")(HELD_MESSAGES["deferred"])
    assert result["message"] != HELD_MESSAGES["deferred"]


def test_essential_and_held_messages_are_translated():
    """Messages used from a data structure, which the i18n scan cannot see."""
    from catalyst_hub.ingest.ingest import HELD_MESSAGES
    from catalyst_hub.store.privacy import ESSENTIAL_EVENTS

    for language in LANGUAGES[1:]:
        _ = gettext_for(language)
        for message in [*ESSENTIAL_EVENTS.values(), *HELD_MESSAGES.values()]:
            assert _(message) != message, (language, message)


@pytest.mark.parametrize("catalyst_config", [{"CatalystService": {"consent_notice_version": "2"}}])
async def test_accepting_an_older_notice_is_no_decision_on_the_current_one(
    catalyst_service, make_event
):
    hub = catalyst_service
    token = hub.token(ANA, consent=None)
    old = make_event("consent", {"decision": "given", "notice_version": "1"})
    cell = make_event("action", {"action": "cell_executed"})
    body = await send(hub, token, old, cell)
    assert [r["status"] for r in body["results"]] == ["stored", "deferred"]
    hub.decide(ANA, "given")
    body = await send(hub, token, cell)
    assert [r["status"] for r in body["results"]] == ["stored"]


@pytest.mark.parametrize("catalyst_config", [{"CatalystService": {"consent_mode": "opt-out"}}])
async def test_opt_out_mode_records_until_the_member_objects(catalyst_service, make_event):
    hub = catalyst_service
    token = hub.token(ANA, consent=None)
    member = hub.store.member_id(ANA)
    body = await send(hub, token, make_event("action", {"action": "cell_executed"}))
    assert [r["status"] for r in body["results"]] == ["stored"]
    await hub.request("post", "me/consent", token, data={"decision": "withdrawn"})
    body = await send(hub, token, make_event("action", {"action": "git_cloned"}))
    assert [r["status"] for r in body["results"]] == ["dropped"]
    assert schemas_of(hub.store, member) == ["action", "consent"]
    for language in LANGUAGES:
        _ = gettext_for(language)
        legitimate = _(
            "This hub records on the basis of its legitimate interest: recording starts when you first use the hub, and stops when you opt out."
        )
        notice = hub.service.consent_notice_for(language)
        assert notice["mode"] == "opt-out" and legitimate in notice["body"]
        html = (await hub.request("get", f"privacy?lang={language}")).text
        assert 'data-consent-mode="opt-out"' in html and escape(legitimate) in html
        assert 'id="essential-events"' not in html


async def test_privacy_page_lists_the_essential_events_in_every_language(catalyst_service):
    from catalyst_hub.store.privacy import ESSENTIAL_EVENTS

    hub = catalyst_service
    for language in LANGUAGES:
        _ = gettext_for(language)
        html = (await hub.request("get", f"privacy?lang={language}")).text
        assert 'data-consent-mode="opt-in"' in html
        for name, reason in ESSENTIAL_EVENTS.items():
            assert f'data-schema="{name}"' in html
            assert escape(_(reason)) in html
        assert escape(_("The essential records, stored before you decide:")) in html
        notice = hub.service.consent_notice_for(language)
        assert notice["mode"] == "opt-in"
        assert "{consent_mode}" not in notice["body"]
        assert (
            _(
                "Nothing beyond the essential records (your decision, and when your server starts and stops) is kept until you accept this notice; what happens meanwhile waits in your server and is sent only if you accept."
            )
            in notice["body"]
        )


# -- the collector -------------------------------------------------------------------------


async def start_server(catalyst_service, name):
    r = await api_request(catalyst_service.hub, "users", name, "server", method="post")
    assert r.status_code in (201, 202), r.text
    await wait_for_server(catalyst_service.hub, name)


async def restarted(catalyst_service):
    """A new service on the same database and hub: nothing of the old one's memory."""
    from catalyst_hub.service.app import CatalystService

    old = catalyst_service.service
    CatalystService.clear_instance()
    fresh = CatalystService(config=old.config)
    fresh.initialize([])
    assert fresh.collector is not None and fresh.collector is not old.collector
    return fresh


async def test_collector_waits_for_the_decision_of_an_undecided_member(catalyst_service):
    hub = catalyst_service
    hub.user(ANA)
    await start_server(hub, ANA)
    member = hub.store.pseudonym(ANA)
    collector = hub.service.collector
    await collector.poll()
    # the server session (essential), not the login (an onboarding step)
    assert schemas_of(hub.store, member) == ["server_started"]
    await collector.poll()
    assert schemas_of(hub.store, member) == ["server_started"]
    hub.decide(ANA, "given")
    await collector.poll()
    # the login, and the server's activity where the hub reports it
    assert {"action", "consent", "server_started"} <= set(schemas_of(hub.store, member))


async def test_erased_member_stays_erased_over_polls_and_a_restart(catalyst_service, make_event):
    hub = catalyst_service
    token = hub.token(ANA)
    await start_server(hub, ANA)
    collector = hub.service.collector
    await collector.poll()
    member = hub.store.member_id(ANA)
    assert ANA in identities(hub.store) and schemas_of(hub.store, member)

    r = await hub.request("post", "api/me/erase", token, json={"confirm": True})
    assert r.status_code == 200, r.text
    assert r.json()["recording_stopped"] is False
    for _ in range(5):  # the server still runs, and its activity changes
        await collector.poll()
        await send(hub, token, make_event("action", {"action": "cell_executed"}))
    # the page the member looks at writes nothing either
    assert (await hub.request("get", "me", token)).status_code == 200
    assert ANA not in identities(hub.store)
    assert rows_of(hub.store, member) == 0

    fresh = await restarted(hub)
    try:
        for _ in range(3):
            await fresh.collector.poll()
        await api_request(hub.hub, "users", ANA, "server", method="delete")
        await wait_for_server(hub.hub, ANA, running=False)
        await fresh.collector.poll()  # the session ends: not recorded either
        assert ANA not in identities(fresh.store)
        assert rows_of(fresh.store, member) == 0

        # coming back and deciding again starts a new, empty record
        hub.decide(ANA, "given")
        assert ANA in identities(hub.store)
        assert schemas_of(hub.store, member) == ["consent"]
        await start_server(hub, ANA)
        await fresh.collector.poll()
        assert {"action", "consent", "server_started"} <= set(schemas_of(fresh.store, member))
    finally:
        await fresh.stop()


async def test_opted_out_members_are_not_recorded_after_a_restart(catalyst_service, make_event):
    """Cleo opts out; Dan erases his data and stays opted out: with their servers running, a
    restarted service records nothing more of either, nor Dan's identity."""
    hub = catalyst_service
    cleo, dan = "cleo@example.org", "dan@example.org"
    tokens = {name: hub.token(name) for name in (cleo, dan)}
    ids = {name: hub.store.member_id(name) for name in (cleo, dan)}
    for name in (cleo, dan):
        await start_server(hub, name)
    await hub.service.collector.poll()
    r = await hub.request("post", "me/consent", tokens[cleo], data={"decision": "withdrawn"})
    assert r.status_code == 200
    r = await hub.request(
        "post", "api/me/erase", tokens[dan], json={"confirm": True, "stop_recording": True}
    )
    assert r.status_code == 200 and r.json()["recording_stopped"] is True
    before = {name: schemas_of(hub.store, ids[name]) for name in (cleo, dan)}
    assert before[dan] == ["consent"] and "server_started" in before[cleo]

    fresh = await restarted(hub)
    try:
        for _ in range(3):
            await fresh.collector.poll()
        for name in (cleo, dan):
            await api_request(hub.hub, "users", name, "server", method="delete")
            await wait_for_server(hub.hub, name, running=False)
        await fresh.collector.poll()
        for name in (cleo, dan):
            assert schemas_of(fresh.store, ids[name]) == before[name], name
            assert consent_of(fresh.store, ids[name]) == "withdrawn"
        assert cleo in identities(fresh.store) and dan not in identities(fresh.store)
    finally:
        await fresh.stop()
