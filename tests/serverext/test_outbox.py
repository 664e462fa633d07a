"""The outbox: on disk first, bounded with a drop policy, recovered when damaged, and its
delivery protocol (retries, Retry-After, per-event results, refused tokens, batch size)
against a stand-in service that can be made to fail on demand."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest
from conftest import TOKEN, wait_for

from catalyst_hub.events import envelope
from catalyst_hub.serverext.outbox import Outbox, OutboxStore

log = logging.getLogger("test-outbox")


def _store(path: Path, max_events: int = 100) -> OutboxStore:
    store = OutboxStore(str(path), max_events, log)
    store.open()
    return store


def _activity(n: int = 1) -> dict:
    return envelope("activity", {"kind": "ui", "count": n})


def _action(name: str) -> dict:
    return envelope("action", {"action": name})


def _consent() -> dict:
    return envelope("consent", {"decision": "given", "notice_version": "1"})


def test_drop_policy(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="test-outbox")
    store = _store(tmp_path / "o.sqlite", max_events=4)
    consent = _consent()
    store.call(store.append, [consent])
    actions = [_action("notebook_created"), _action("notebook_saved")]
    store.call(store.append, actions)
    store.call(store.append, [_activity(1), _activity(2)])
    store.call(store.append, [_activity(3)])  # full: the oldest activity goes
    kept = store.call(store.pending)
    assert [e["schema"] for e in kept] == ["consent", "action", "action", "activity"]
    assert kept[-1]["payload"]["count"] == 3
    store.call(store.append, [_consent(), _consent()])  # activity first, then the oldest action
    assert [e["schema"] for e in store.call(store.pending)] == [
        "consent",
        "action",
        "consent",
        "consent",
    ]
    store.call(store.append, [_consent()])  # then the other action
    assert [e["schema"] for e in store.call(store.pending)] == ["consent"] * 4
    store.call(store.append, [_consent()])  # nothing else left: the oldest consent goes
    pending = store.call(store.pending)
    assert len(pending) == 4 and consent["id"] not in {e["id"] for e in pending}

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "one warning per drop episode"
    assert "outbox is full" in warnings[0].getMessage()

    # delivery catches up: the episode ends with one summary of what was lost
    store.call(store.delete, [e["id"] for e in pending[:2]])
    summary = [r.getMessage() for r in caplog.records if "caught up" in r.getMessage()]
    assert summary == [
        "catalyst_hub: delivery caught up; 6 event(s) were dropped while the outbox was full "
        "(action=2, activity=3, essential=1)"
    ]


def test_action_once_across_restarts(tmp_path):
    path = tmp_path / "o.sqlite"
    store = _store(path)
    assert store.call(store.append, [_action("cell_executed")], "cell_executed") == 1
    assert store.call(store.append, [_action("cell_executed")], "cell_executed") == 0
    store.close()
    store = _store(path)
    assert store.call(store.actions_sent) == {"cell_executed"}
    assert store.call(store.append, [_action("cell_executed")], "cell_executed") == 0
    assert store.call(store.count) == 1


@pytest.mark.parametrize("damage", ["not-sqlite", "truncated"])
def test_corrupt_file_moved_aside(tmp_path, caplog, damage):
    path = tmp_path / "o.sqlite"
    if damage == "not-sqlite":
        path.write_bytes(b"this is not a database" * 100)
    else:
        store = _store(path)
        store.call(store.append, [_activity(i + 1) for i in range(200)])
        store.close()
        data = path.read_bytes()
        path.write_bytes(data[:100] + b"\xff" * 4000 + data[4100:])
    store = _store(path)
    aside = list(tmp_path.glob("o.sqlite.corrupt-*"))
    assert len(aside) == 1
    assert any(
        "damaged" in r.getMessage() and str(aside[0]) in r.getMessage() for r in caplog.records
    )
    # the new outbox works
    store.call(store.append, [_consent()])
    assert store.call(store.count) == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)


def test_unwritable_location_falls_back_to_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = _store(blocker / "sub" / "o.sqlite")  # a folder under a file cannot exist
    store.call(store.append, [_consent()])
    assert store.call(store.count) == 1


class RecordingOutbox(Outbox):
    """Records the delays the delivery loop asks for, instead of asserting on wall time."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.delays: list[float] = []

    async def _sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        await super()._sleep(min(seconds, 0.05))


@pytest.fixture
def make_outbox(tmp_path, fake_service):
    outboxes = []

    def _make(path: Path | None = None, **kwargs) -> RecordingOutbox:
        options = dict(flush_interval=0.05, retry_base_seconds=0.05, retry_max_seconds=0.2)
        options.update(kwargs)
        outbox = RecordingOutbox(
            path=str(path or tmp_path / "outbox.sqlite"),
            service_url=fake_service.url,
            token=TOKEN,
            **options,
        )
        outboxes.append(outbox)
        return outbox

    yield _make
    loop = asyncio.get_event_loop()
    for outbox in outboxes:
        if outbox._task is not None:
            loop.run_until_complete(outbox.stop())


async def _put(outbox: Outbox, events: list[dict]) -> None:
    await outbox.submit(events)


async def test_unreachable_then_up(make_outbox, fake_service):
    fake_service.up = False
    outbox = make_outbox()
    events = [_activity(i + 1) for i in range(25)]
    await _put(outbox, events)
    outbox.start()
    await wait_for(lambda: len(outbox.delays) >= 3, message="retries")
    assert fake_service.events == {}
    assert await outbox.count() == 25
    fake_service.up = True
    await wait_for(lambda: len(fake_service.events) == 25, message="delivery")
    await wait_for(lambda: outbox.delivered == 25, message="acknowledged")
    assert await outbox.count() == 0
    # backoff with full jitter, capped
    retries = outbox.delays[:3]
    assert all(0 <= d <= 0.2 for d in retries)


async def test_retry_after_is_honoured(make_outbox, fake_service):
    fake_service.responses = [(429, {"Retry-After": "7"}), (503, {"Retry-After": "3"})]
    outbox = make_outbox()
    await _put(outbox, [_consent()])
    outbox.start()
    await wait_for(lambda: len(fake_service.events) == 1, message="delivery")
    assert outbox.delays[:2] == [7.0, 3.0]


async def test_per_event_results(make_outbox, fake_service, caplog):
    events = [_action("notebook_created"), _consent(), _action("notebook_saved")]
    fake_service.invalid_ids = {events[1]["id"]}
    outbox = make_outbox()
    await _put(outbox, events)
    outbox.start()
    # the invalid one is dropped with a log line, the rejected ones are resent and stored
    await wait_for(lambda: len(fake_service.events) == 2, message="resent")
    assert set(fake_service.events) == {events[0]["id"], events[2]["id"]}
    await wait_for(lambda: outbox.delivered == 2, message="acknowledged")
    assert await outbox.count() == 0
    assert any(
        events[1]["id"] in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records
    )


async def test_events_the_sender_may_not_assert_are_dropped(make_outbox, fake_service, caplog):
    """A 403 with per-event results is the sender rules refusing some events (not the token):
    those leave the outbox, the others are sent again and stored. Resending them for ever
    would block everything behind them."""
    events = [_action("notebook_created"), _activity(), _action("notebook_saved")]
    fake_service.refused_ids = {events[1]["id"]}
    outbox = make_outbox()
    await _put(outbox, events)
    outbox.start()
    await wait_for(lambda: len(fake_service.events) == 2, message="resent")
    assert set(fake_service.events) == {events[0]["id"], events[2]["id"]}
    await wait_for(lambda: outbox.delivered == 2, message="acknowledged")
    assert await outbox.count() == 0
    assert any(
        events[1]["id"] in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records
    )


async def test_refused_token_keeps_events(make_outbox, fake_service, caplog):
    fake_service.responses = [(403, {}), (401, {}), (403, {})]
    outbox = make_outbox(auth_retry_seconds=0.15)
    await _put(outbox, [_consent(), _activity()])
    outbox.start()
    await wait_for(lambda: len(fake_service.events) == 2, message="delivered after the token works")
    # a refusal may pass (a hub restarting answers for the service's path): back off like any
    # failure, growing up to auth_retry_seconds, never giving up on the events
    base = outbox.retry_base_seconds
    first, second, third = outbox.delays[:3]
    assert 0 <= first <= 2 * base and 0 <= second <= 4 * base and 0 <= third <= 0.15
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3 and "refused this server's token (403" in errors[0]


async def test_batches_shrink_when_too_large(make_outbox, fake_service):
    fake_service.max_batch = 3
    outbox = make_outbox(batch_size=50)
    await _put(outbox, [_activity(i + 1) for i in range(20)])
    outbox.start()
    await wait_for(lambda: len(fake_service.events) == 20, message="all delivered")
    assert max(r["count"] for r in fake_service.requests if r["count"] <= 3) <= 3


async def test_batches_respect_batch_size(make_outbox, fake_service):
    outbox = make_outbox(batch_size=7)
    await _put(outbox, [_activity(i + 1) for i in range(20)])
    outbox.start()
    await wait_for(lambda: len(fake_service.events) == 20, message="all delivered")
    assert [r["count"] for r in fake_service.requests] == [7, 7, 6]


async def test_restart_with_pending_events(make_outbox, fake_service, tmp_path):
    fake_service.up = False
    first = make_outbox()
    first.start()
    events = [_activity(i + 1) for i in range(10)]
    await _put(first, events)
    await first.stop()
    fake_service.up = True
    second = make_outbox()
    second.start()
    await wait_for(lambda: len(fake_service.events) == 10, message="delivered after restart")
    assert set(fake_service.events) == {e["id"] for e in events}
