"""The collector against a MockHub: sessions from the hub's REST API, paginated."""

import asyncio
import logging

import pytest
from jupyterhub.tests.utils import api_request
from sqlalchemy import select

from catalyst_hub.pytest_plugin import wait_for_server
from catalyst_hub.store import tables as t


@pytest.fixture
def catalyst_config():
    return {"Collector": {"page_size": 2, "poll_interval": 3600}}


def sessions(store):
    with store.connect() as conn:
        return conn.execute(
            select(t.server_sessions).where(t.server_sessions.c.hub == store.hub)
        ).all()


def steps(store, member_id):
    with store.connect() as conn:
        return set(
            conn.execute(
                select(t.member_steps.c.step).where(
                    t.member_steps.c.hub == store.hub, t.member_steps.c.member_id == member_id
                )
            ).scalars()
        )


async def test_collector_records_start_and_stop_across_pages(catalyst_service):
    hub, store = catalyst_service.hub, catalyst_service.store
    names = ["u1@example.org", "u2", "u3", "u4", "u5"]
    for name in names:
        groups = ["community-andes"] if name != "u5" else []
        catalyst_service.user(name, groups=groups)
        catalyst_service.decide(name, "given", groups)
    r = await api_request(
        hub,
        "users",
        "u1@example.org",
        "server",
        method="post",
        json={"profile": "rstudio", "size": "small"},
    )
    assert r.status_code in (201, 202), r.text
    await wait_for_server(hub, "u1@example.org")
    collector = catalyst_service.service.collector
    await collector.poll()
    rows = sessions(store)
    assert len(rows) == 1
    (session,) = rows
    member = store.member_id("u1@example.org")
    assert session.member_id == member
    assert session.community == "andes"
    assert session.profile == "rstudio"
    assert session.size == "small"
    assert session.stopped is None
    assert {"login", "start_server"} <= steps(store, member)

    # polling again records nothing new
    assert await collector.poll() == 0

    r = await api_request(hub, "users", "u1@example.org", "server", method="delete")
    assert r.status_code in (202, 204)
    await wait_for_server(hub, "u1@example.org", running=False)
    await collector.poll()
    (session,) = sessions(store)
    assert session.stopped is not None
    assert "stop_server" in steps(store, member)


async def test_collector_resumes_open_sessions_after_a_restart(catalyst_service):
    hub, store = catalyst_service.hub, catalyst_service.store
    catalyst_service.user("rita")
    await api_request(hub, "users", "rita", "server", method="post")
    await wait_for_server(hub, "rita")
    await catalyst_service.service.collector.poll()
    # a new collector (service restarted) learns the open session from the store
    from catalyst_hub.service.collector import Collector

    fresh = Collector(parent=catalyst_service.service, app=catalyst_service.service)
    await api_request(hub, "users", "rita", "server", method="delete")
    await wait_for_server(hub, "rita", running=False)
    await fresh.poll()
    (session,) = sessions(store)
    assert session.stopped is not None


async def test_unreachable_hub_is_logged_and_retried(catalyst_service, caplog):
    collector = catalyst_service.service.collector
    auth = catalyst_service.service.hub_auth
    real_url = auth.api_url
    auth.api_url = "http://127.0.0.1:9/hub/api"  # nothing listens there
    collector.poll_interval = 0.05
    collector.request_timeout = 1
    caplog.set_level(logging.WARNING)
    await collector.stop()
    collector.start()
    await asyncio.sleep(0.5)
    assert not collector._task.done()  # still polling
    assert "poll failed, will retry" in caplog.text
    before = collector.polls
    auth.api_url = real_url
    for _ in range(50):
        if collector.polls > before:
            break
        await asyncio.sleep(0.1)
    assert collector.polls > before
    await collector.stop()


async def test_collector_does_not_bring_back_an_erased_identity(catalyst_service):
    from catalyst_hub.store.privacy import erase_member

    store = catalyst_service.store
    catalyst_service.user("erin@example.org")
    collector = catalyst_service.service.collector
    await collector.poll()
    member = store.member_id("erin@example.org")

    def identities():
        with store.connect() as conn:
            return set(
                conn.execute(
                    select(t.identities.c.username).where(t.identities.c.hub == store.hub)
                ).scalars()
            )

    assert "erin@example.org" in identities()
    erase_member(store, member)
    store.forget_member(member)
    # the account is still on the hub, with nothing new to record: it stays erased
    await collector.poll()
    assert "erin@example.org" not in identities()
