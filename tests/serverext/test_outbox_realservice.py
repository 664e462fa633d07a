"""The outbox against the real catalyst service, run by a real JupyterHub (processes started
by harness.realhub): the service down while events are produced, a server
restart in between, a damaged outbox file. Every event must be stored exactly once."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import wait_for

from catalyst_hub.events import envelope
from catalyst_hub.serverext.outbox import Outbox

pytestmark = pytest.mark.e2e

USER = "ana@example.org"


@pytest.fixture(scope="module")
def realhub(tmp_path_factory):
    from catalyst_hub.pytest_plugin import missing
    from harness.realhub import RealHub

    if not shutil.which("git"):
        missing("git is needed")
    hub = RealHub(tmp_path_factory.mktemp("realhub"), users={USER: "pw", "ben": "pw"})
    try:
        hub.start()
    except RuntimeError as e:
        if "configurable-http-proxy" in str(e):
            from catalyst_hub.pytest_plugin import missing

            missing(str(e))
        raise
    hub.api("post", "users", json={"usernames": [USER]})
    hub.user_token = hub.token(USER)
    # USER accepted the notice (the service's default is opt-in), as the me page records it
    r = hub.service_post("me/consent", hub.user_token, data={"decision": "given"})
    assert r.status_code in (200, 303), r.text
    yield hub
    hub.stop()


def _db_path(hub) -> str:
    return hub.db_url.removeprefix("sqlite:///")


def _stored(hub, ids: list[str]) -> int:
    with sqlite3.connect(_db_path(hub)) as conn:
        marks = ",".join("?" * len(ids))
        return conn.execute(f"SELECT count(*) FROM events WHERE id IN ({marks})", ids).fetchone()[0]


def _events(n: int) -> list[dict]:
    kinds = ["kernel", "terminal", "notebook", "ui"]
    return [
        envelope("activity", {"kind": kinds[i % 4], "count": i + 1, "seconds": 60})
        for i in range(n)
    ]


def _outbox(hub, path: Path) -> Outbox:
    return Outbox(
        path=str(path),
        service_url=hub.service_url,
        token=hub.user_token,
        flush_interval=0.1,
        batch_size=7,  # several requests, so a stop can fall between them
        retry_base_seconds=0.1,
        retry_max_seconds=0.5,
        request_timeout=5,
    )


async def _stop_hub(hub) -> None:
    await asyncio.to_thread(hub.stop)


async def _start_hub(hub) -> None:
    await asyncio.to_thread(hub.start)


async def test_service_down_then_up(realhub, tmp_path):
    await _stop_hub(realhub)
    outbox = _outbox(realhub, tmp_path / "outbox.sqlite")
    outbox.start()
    try:
        events = _events(30)
        await outbox.submit(events[:15])
        await asyncio.sleep(0.5)  # some delivery attempts fail meanwhile
        await outbox.submit(events[15:])
        assert await outbox.count() == 30
        await _start_hub(realhub)
        await wait_for(lambda: outbox.delivered >= 30, timeout=60, message="delivery")
        assert await outbox.count() == 0
        assert _stored(realhub, [e["id"] for e in events]) == 30
    finally:
        await outbox.stop()


async def test_server_restarted_while_service_down(realhub, tmp_path):
    path = tmp_path / "outbox.sqlite"
    await _stop_hub(realhub)
    first = _outbox(realhub, path)
    first.start()
    events = _events(20)
    await first.submit(events)
    await first.stop()  # the single-user server stops (culled) with events pending

    await _start_hub(realhub)
    second = _outbox(realhub, path)  # and starts again later
    second.start()
    try:
        await wait_for(lambda: second.delivered >= 20, timeout=60, message="delivery")
        assert await second.count() == 0
        assert _stored(realhub, [e["id"] for e in events]) == 20
    finally:
        await second.stop()


async def test_resent_events_are_stored_once(realhub, tmp_path):
    # a server stopped after the service stored a batch but before the outbox deleted it
    # sends that batch again: the service answers "duplicate" and stores nothing twice
    path = tmp_path / "outbox.sqlite"
    events = _events(10)
    first = _outbox(realhub, path)
    await first.submit(events)
    copy = tmp_path / "copy.sqlite"
    await first.run(first.store.conn.execute, f"VACUUM INTO '{copy}'")
    first.start()
    await wait_for(lambda: first.delivered >= 10, timeout=30, message="delivery")
    await first.stop()
    again = _outbox(realhub, copy)
    again.start()
    try:
        await wait_for(lambda: again.delivered >= 10, timeout=30, message="second delivery")
        assert await again.count() == 0
        assert _stored(realhub, [e["id"] for e in events]) == 10
    finally:
        await again.stop()


async def test_corrupt_outbox_moved_aside(realhub, tmp_path):
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(b"\x00garbage, not SQLite\x00" * 512)
    outbox = _outbox(realhub, path)
    outbox.start()
    try:
        events = _events(5)
        await outbox.submit(events)
        assert len(list(tmp_path.glob("outbox.sqlite.corrupt-*"))) == 1
        await wait_for(lambda: outbox.delivered >= 5, timeout=30, message="delivery")
        assert _stored(realhub, [e["id"] for e in events]) == 5
    finally:
        await outbox.stop()


# -- consent first: events the service defers wait on disk for the member's decision ---------


def _undecided_outbox(hub, path: Path, token: str) -> tuple[Outbox, list[int]]:
    """An outbox whose decision probe asks the service (as the extension wires it); returns
    it and a list counting the probes."""
    import logging

    from catalyst_hub.serverext.progress import ProgressClient

    outbox = _outbox(hub, path)
    outbox.token = token
    outbox.decision_check_seconds = 0.2
    progress = ProgressClient(
        hub.service_url, token, 0, outbox, outbox.decision_known, logging.getLogger("test")
    )
    probes: list[int] = []

    async def probe() -> None:
        probes.append(1)
        await progress.refresh()

    outbox.decision_probe = probe
    return outbox, probes


async def test_deferred_events_wait_on_disk_for_accept_then_go(realhub, tmp_path):
    token = await asyncio.to_thread(realhub.token, "ben")
    path = tmp_path / "outbox.sqlite"
    events = _events(12)
    outbox, probes = _undecided_outbox(realhub, path, token)
    outbox.start()
    try:
        await outbox.submit(events)
        await wait_for(lambda: outbox.deferred >= 12, timeout=30, message="deferral")
        assert await outbox.held() == 12
        # held, not resent: the outbox only asks now and then whether ben decided
        await wait_for(lambda: len(probes) >= 3, timeout=30, message="decision probes")
        assert outbox.deferred == 12 and outbox.delivered == 0
    finally:
        await outbox.stop()
    assert _stored(realhub, [e["id"] for e in events]) == 0

    # the server restarts; ben accepts on the service's page meanwhile
    r = await asyncio.to_thread(
        realhub.service_post, "me/consent", token, data={"decision": "given"}
    )
    assert r.status_code == 200, r.text
    again, _ = _undecided_outbox(realhub, path, token)
    again.start()
    try:
        assert await again.held() == 12  # still on disk
        await wait_for(lambda: again.delivered >= 12, timeout=30, message="delivery")
        assert await again.count() == 0
        assert _stored(realhub, [e["id"] for e in events]) == 12
    finally:
        await again.stop()


async def test_accepting_through_the_outbox_sends_what_was_deferred(realhub, tmp_path):
    token = await asyncio.to_thread(realhub.token, "dana")
    outbox, _ = _undecided_outbox(realhub, tmp_path / "outbox.sqlite", token)
    outbox.decision_probe = None  # the member's own consent event is the signal
    outbox.start()
    try:
        events = _events(9)
        await outbox.submit(events)
        await wait_for(lambda: outbox.deferred >= 9, timeout=30, message="deferral")
        consent = envelope("consent", {"decision": "given", "notice_version": "1"})
        await outbox.submit([consent])
        await wait_for(lambda: outbox.delivered >= 10, timeout=30, message="delivery")
        assert _stored(realhub, [e["id"] for e in [*events, consent]]) == 10
    finally:
        await outbox.stop()


async def test_opting_out_deletes_the_deferred_events(realhub, tmp_path):
    token = await asyncio.to_thread(realhub.token, "cleo")
    outbox, _ = _undecided_outbox(realhub, tmp_path / "outbox.sqlite", token)
    outbox.start()
    try:
        events = _events(5)
        await outbox.submit(events)
        await wait_for(lambda: outbox.deferred >= 5, timeout=30, message="deferral")
        r = await asyncio.to_thread(
            realhub.service_post, "me/consent", token, data={"decision": "withdrawn"}
        )
        assert r.status_code == 200, r.text
        # the probe learns the opt-out: the held events are deleted, never sent
        await wait_for(lambda: outbox.discarded >= 5, timeout=30, message="deletion")
        assert await outbox.count() == 0
        assert _stored(realhub, [e["id"] for e in events]) == 0
    finally:
        await outbox.stop()
