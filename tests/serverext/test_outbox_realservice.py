"""The outbox against the real catalyst service, run by a real JupyterHub (processes started
by catalyst_hub.testing.realhub): the service down while events are produced, a server
restart in between, a damaged outbox file. Every event must be stored exactly once."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import wait_for

from catalyst_hub.serverext.outbox import Outbox, make_envelope

pytestmark = pytest.mark.e2e

USER = "ana@example.org"


@pytest.fixture(scope="module")
def realhub(tmp_path_factory):
    from catalyst_hub.pytest_plugin import missing
    from catalyst_hub.testing.realhub import RealHub

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
        make_envelope("activity", {"kind": kinds[i % 4], "count": i + 1, "seconds": 60})
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
