"""The outbox: events kept on disk until the catalyst service acknowledges them.

Every event is written to a small SQLite file (in the user's home, so it survives server
restarts and culling) before anything tries to send it. A delivery loop posts batches to
``{service_url}api/events`` and deletes an event only when the service answers ``stored`` or
``duplicate`` for its id. Delivery is therefore at-least-once; the service deduplicates by
event id, which makes the whole path exactly-once.

Threading: one dedicated thread owns the SQLite connection and does all disk work; the
delivery loop runs on the server's event loop and uses tornado's non-blocking HTTP client.

Consent first: until the member decides on the recording notice the service stores only the
essential events and answers ``deferred`` for the others. The outbox keeps those on disk,
marked held, and stops sending them: they go again once the member accepts (a consent event
of theirs stored, or the service saying so when asked, see ``decision_probe``), and are
deleted when they opt out (the service answers ``dropped`` for anything sent after that).

Bound and drop policy: the file holds at most ``max_events`` events. When an append goes
over the bound, the oldest events of the lowest tier are deleted first: ``activity`` (tier
0), then ``action`` (tier 1), and only when nothing else is left the events that record a
decision or an achievement (consent, step_reached, exercise_completed, episode_completed:
tier 2). Each drop episode (from the first drop until delivery catches up) logs one WARNING
when it starts and an INFO summary with the totals when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, TypeVar

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

from ..events.names import ACTION, ACTIVITY, CONSENT
from ..private_files import prepare_sqlite_file

T = TypeVar("T")

#: Drop tiers: lower tiers are dropped first when the outbox is full.
TIER_ACTIVITY, TIER_ACTION, TIER_ESSENTIAL = 0, 1, 2
TIER_NAMES = {TIER_ACTIVITY: "activity", TIER_ACTION: "action", TIER_ESSENTIAL: "essential"}
#: Answers after which an event leaves the outbox ("dropped": the member opted out).
ACKED = frozenset({"stored", "duplicate", "dropped"})
DEFERRED = "deferred"

SCHEMA_VERSION = 2
_DDL = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tier INTEGER NOT NULL,
    body TEXT NOT NULL,
    held INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_tier ON events (tier, seq);
CREATE TABLE IF NOT EXISTS actions_sent (action TEXT PRIMARY KEY, time TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def tier_of(schema: str) -> int:
    if schema == ACTIVITY:
        return TIER_ACTIVITY
    if schema == ACTION:
        return TIER_ACTION
    return TIER_ESSENTIAL


class OutboxStore:
    """The SQLite file. Not thread-safe: only the outbox thread calls it."""

    def __init__(self, path: str, max_events: int, log: logging.Logger) -> None:
        self.path = path
        self.max_events = max_events
        self.log = log
        self.conn: sqlite3.Connection | None = None
        self.dropped: Counter[str] = Counter()

    # -- opening and recovering -------------------------------------------------------------

    def open(self) -> None:
        if self.conn is not None:
            return
        try:
            self._open(self.path)
        except (OSError, sqlite3.OperationalError) as e:
            # Not corruption (a read-only home, a missing mount...): keep the server working
            # with an in-memory outbox rather than failing every request.
            self.log.error(
                "catalyst_hub: cannot open the outbox %s (%s); events are kept in memory only",
                self.path,
                e,
            )
            self._open(":memory:")
        except sqlite3.DatabaseError as e:
            self._move_aside(e)
            self._open(self.path)

    def _open(self, path: str) -> None:
        if path != ":memory:":
            # events waiting here are personal data, in a home others may be able to read
            prepare_sqlite_file(path)
        conn = sqlite3.connect(path, timeout=10, isolation_level=None)
        try:
            # quick_check reads every page: cheap for a bounded outbox, and it turns a
            # damaged file into an error here rather than later in the middle of a send.
            row = conn.execute("PRAGMA quick_check").fetchone()
            if row is None or row[0] != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {row[0] if row else 'no answer'}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_DDL)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
            if "held" not in columns:  # an outbox written by version 1
                conn.execute("ALTER TABLE events ADD COLUMN held INTEGER NOT NULL DEFAULT 0")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            conn.close()
            raise
        self.conn = conn

    def _move_aside(self, error: Exception) -> None:
        """Rename a damaged outbox out of the way so a fresh one can be created."""
        if self.conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
            self.conn = None
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        target = f"{self.path}.corrupt-{stamp}"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                with contextlib.suppress(OSError):
                    os.replace(self.path + suffix, target + suffix)
        self.log.warning(
            "catalyst_hub: the outbox %s is damaged (%s); moved it to %s and started a new one",
            self.path,
            error,
            target,
        )

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run one store operation, recovering once from a damaged file."""
        self.open()
        try:
            return fn(*args)
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as e:
            self._move_aside(e)
            self.open()
            return fn(*args)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # -- operations (through call) ----------------------------------------------------------

    def append(self, events: list[dict[str, Any]], action: str | None = None) -> int:
        """Store events; with ``action``, only if that action was never recorded before
        (atomic with the marker, so two servers sharing a home cannot both send it)."""
        assert self.conn is not None
        with self.conn:  # one transaction
            self.conn.execute("BEGIN IMMEDIATE")
            if action is not None:
                cur = self.conn.execute(
                    "INSERT OR IGNORE INTO actions_sent (action, time) VALUES (?, ?)",
                    (action, events[0]["time"]),
                )
                if cur.rowcount == 0:
                    return 0
            self.conn.executemany(
                "INSERT OR IGNORE INTO events (id, tier, body) VALUES (?, ?, ?)",
                [
                    (e["id"], tier_of(e["schema"]), json.dumps(e, separators=(",", ":")))
                    for e in events
                ],
            )
            self._enforce_bound()
        return len(events)

    def _enforce_bound(self) -> None:
        assert self.conn is not None
        (count,) = self.conn.execute("SELECT count(*) FROM events").fetchone()
        excess = count - self.max_events
        if excess <= 0:
            return
        victims = self.conn.execute(
            "SELECT seq, tier FROM events ORDER BY tier, seq LIMIT ?", (excess,)
        ).fetchall()
        self.conn.executemany("DELETE FROM events WHERE seq = ?", [(seq,) for seq, _ in victims])
        now = Counter(TIER_NAMES[tier] for _, tier in victims)
        if not self.dropped:
            self.log.warning(
                "catalyst_hub: the outbox is full (%d events, limit %d; is the catalyst service "
                "reachable?): dropping the oldest events, activity first (now dropped: %s). "
                "Further drops are counted until delivery catches up.",
                count,
                self.max_events,
                _fmt_counts(now),
            )
        self.dropped.update(now)

    def batch(self, limit: int) -> list[tuple[str, str]]:
        """The next events to send: the oldest not held for the member's decision."""
        assert self.conn is not None
        return self.conn.execute(
            "SELECT id, body FROM events WHERE held = 0 ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()

    def hold(self, ids: Iterable[str]) -> None:
        """Keep these events until the member decides (the service deferred them)."""
        assert self.conn is not None
        with self.conn:
            self.conn.executemany("UPDATE events SET held = 1 WHERE id = ?", [(i,) for i in ids])

    def release_held(self) -> int:
        """The member accepted: send the held events again. Returns how many."""
        assert self.conn is not None
        with self.conn:
            return self.conn.execute("UPDATE events SET held = 0 WHERE held = 1").rowcount

    def drop_held(self) -> int:
        """The member opted out: delete the held events. Returns how many."""
        assert self.conn is not None
        with self.conn:
            return self.conn.execute("DELETE FROM events WHERE held = 1").rowcount

    def held_count(self) -> int:
        assert self.conn is not None
        return self.conn.execute("SELECT count(*) FROM events WHERE held = 1").fetchone()[0]

    def delete(self, ids: Iterable[str]) -> int:
        assert self.conn is not None
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            cur = self.conn.executemany("DELETE FROM events WHERE id = ?", [(i,) for i in ids])
            (count,) = self.conn.execute("SELECT count(*) FROM events").fetchone()
        if self.dropped and count < self.max_events:
            self.log.info(
                "catalyst_hub: delivery caught up; %d event(s) were dropped while the outbox was full (%s)",
                sum(self.dropped.values()),
                _fmt_counts(self.dropped),
            )
            self.dropped.clear()
        return cur.rowcount

    def count(self) -> int:
        assert self.conn is not None
        return self.conn.execute("SELECT count(*) FROM events").fetchone()[0]

    def pending(self) -> list[dict[str, Any]]:
        assert self.conn is not None
        return [json.loads(b) for (b,) in self.conn.execute("SELECT body FROM events ORDER BY seq")]

    def actions_sent(self) -> set[str]:
        assert self.conn is not None
        return {a for (a,) in self.conn.execute("SELECT action FROM actions_sent")}

    def get_state(self, key: str) -> str | None:
        assert self.conn is not None
        row = self.conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str) -> None:
        assert self.conn is not None
        self.conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))


def _fmt_counts(counts: Counter[str]) -> str:
    return ", ".join(f"{name}={n}" for name, n in sorted(counts.items())) or "none"


class Outbox(LoggingConfigurable):
    """Durable, batched, retried delivery of events to the catalyst service."""

    retry_base_seconds = Float(1.0, config=True, help="First retry delay after a failed send.")
    retry_max_seconds = Float(
        300.0, config=True, help="Longest delay between retries while the service is unreachable."
    )
    auth_retry_seconds = Float(
        600.0,
        config=True,
        help="""Longest delay between retries while the service refuses the token (401/403).
        Retries back off up to it: a refusal can be passing (during a hub restart the hub
        itself answers for the service's path) or lasting (a server token without access).""",
    )
    request_timeout = Float(30.0, config=True, help="Timeout of one delivery request, in seconds.")
    stop_timeout = Float(
        3.0, config=True, help="How long a stopping server tries to deliver what is pending."
    )
    flush_interval = Float(2.0, config=True, help="Seconds between delivery rounds.")
    batch_size = Integer(200, config=True, help="Most events in one delivery request.")
    max_events = Integer(10000, config=True, help="Most events kept on disk (see the drop policy).")
    decision_check_seconds = Float(
        60.0,
        config=True,
        help="""While events wait for the member's decision on the recording notice, how often
        to ask the service whether they decided (on another device, on the service's page).""",
    )

    def __init__(self, path: str, service_url: str, token: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.events_url = service_url.rstrip("/") + "/api/events"
        self.token = token
        self.store = OutboxStore(path, self.max_events, self.log)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalyst-outbox")
        self._http: AsyncHTTPClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._kick = asyncio.Event()
        self._effective_batch = self.batch_size
        self._failing_since: float | None = None
        self._last_probe = 0.0
        self.delivered = 0
        self.deferred = 0
        self.discarded = 0
        #: asks the service for the member's decision and reports it to ``decision_known``
        #: (the extension sets it); called while events are held, every decision_check_seconds
        self.decision_probe: Callable[[], Awaitable[Any]] | None = None

    # -- disk (always in the outbox thread) -------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store method in the outbox thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(self.store.call, fn, *args))

    def submit(
        self, events: list[dict[str, Any]], action: str | None = None
    ) -> asyncio.Future[int]:
        """Queue events for writing; returns a future of how many were stored. Safe to call
        from the event loop: the write itself happens in the outbox thread, in call order."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._executor, partial(self.store.call, self.store.append, events, action)
        )
        future.add_done_callback(self._log_failed_append)
        return future

    def submit_state(self, key: str, value: str) -> asyncio.Future[None]:
        """Queue a write of a small piece of state (consent, last known progress)."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(
            self._executor, partial(self.store.call, self.store.set_state, key, value)
        )

    def _log_failed_append(self, future: asyncio.Future[int]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.log.error(
                "catalyst_hub: could not write events to the outbox: %s", future.exception()
            )

    async def count(self) -> int:
        return await self.run(self.store.count)

    async def held(self) -> int:
        return await self.run(self.store.held_count)

    def decision_known(self, decision: str | None) -> asyncio.Future[int] | None:
        """The member's decision on the current notice, when learned: "given" sends the held
        events again, "withdrawn" deletes them."""
        if decision == "given":
            future = self._executor_call(self.store.release_held)
            future.add_done_callback(self._kick_if_released)
            return future
        if decision == "withdrawn":
            future = self._executor_call(self.store.drop_held)
            future.add_done_callback(self._count_discarded)
            return future
        return None

    def _count_discarded(self, future: asyncio.Future[int]) -> None:
        if not future.cancelled() and future.exception() is None and future.result():
            self.discarded += future.result()
            self.log.info(
                "catalyst_hub: the member opted out: deleted %d event(s) kept for their decision",
                future.result(),
            )

    def _kick_if_released(self, future: asyncio.Future[int]) -> None:
        if not future.cancelled() and future.exception() is None and future.result():
            self.kick()

    def _executor_call(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, partial(self.store.call, fn, *args))

    # -- delivery loop ----------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._http = AsyncHTTPClient(force_instance=True)
            self._task = asyncio.create_task(self._deliver_forever(), name="catalyst-outbox")

    def kick(self) -> None:
        """Deliver now rather than at the next interval (tests, shutdown)."""
        self._kick.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping.set()
            self._kick.set()
            try:
                await asyncio.wait_for(self._task, self.stop_timeout + self.request_timeout)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        if self._http is not None:
            self._http.close()
            self._http = None
        await asyncio.get_running_loop().run_in_executor(self._executor, self.store.close)
        self._executor.shutdown(wait=True)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, woken early by kick() or stop()."""
        self._kick.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._kick.wait(), timeout=max(0.0, seconds))

    async def _deliver_forever(self) -> None:
        attempt = 0
        while True:
            delay = self.flush_interval
            try:
                outcome, retry_after = await self.deliver_pending()
            except Exception:  # a bug must not stop delivery for good
                self.log.exception("catalyst_hub: outbox delivery failed unexpectedly")
                outcome, retry_after = "retry", None
            if self._stopping.is_set():
                return
            if outcome == "retry":
                attempt += 1
                # exponential backoff with full jitter; Retry-After when the service says so
                cap = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** min(attempt, 30))
                delay = retry_after if retry_after is not None else random.uniform(0, cap)
            elif outcome == "auth":
                attempt += 1
                cap = min(self.auth_retry_seconds, self.retry_base_seconds * 2 ** min(attempt, 30))
                delay = retry_after if retry_after is not None else random.uniform(0, cap)
            else:
                attempt = 0
                await self._probe_decision()
            await self._sleep(delay)

    async def _probe_decision(self) -> None:
        """While events are held, ask now and then whether the member decided meanwhile."""
        if self.decision_probe is None:
            return
        if time.monotonic() - self._last_probe < self.decision_check_seconds:
            return
        if not await self.run(self.store.held_count):
            return
        self._last_probe = time.monotonic()
        try:
            await self.decision_probe()
        except Exception as e:  # the service may be away: asked again later
            self.log.debug("catalyst_hub: could not ask for the member's decision: %s", e)

    async def deliver_pending(self) -> tuple[str, float | None]:
        """Send everything pending, batch after batch. Returns ("ok"|"retry"|"auth", retry_after)."""
        deadline = time.monotonic() + self.stop_timeout if self._stopping.is_set() else None
        while True:
            batch = await self.run(self.store.batch, self._effective_batch)
            if not batch:
                return "ok", None
            outcome, retry_after = await self._send(batch)
            if outcome != "ok":
                return outcome, retry_after
            if deadline is not None and time.monotonic() > deadline:
                return "ok", None

    async def _send(self, batch: list[tuple[str, str]]) -> tuple[str, float | None]:
        assert self._http is not None
        body = '{"events":[' + ",".join(b for _, b in batch) + "]}"
        request = HTTPRequest(
            self.events_url,
            method="POST",
            body=body,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            request_timeout=self.request_timeout,
            connect_timeout=min(10.0, self.request_timeout),
        )
        try:
            response = await self._http.fetch(request, raise_error=False)
        except (OSError, HTTPClientError, asyncio.TimeoutError) as e:
            self._failing(f"cannot reach {self.events_url}: {e}", len(batch))
            return "retry", None
        code = response.code
        results = _results(response)
        # 400 / 403 with results: some events are invalid, or not the sender's to assert
        # (the service's sender rules); per event, like a 200
        if code == 200 or (code in (400, 403) and results):
            await self._apply_results(batch, results)
            self._recovered()
            self._effective_batch = min(self.batch_size, self._effective_batch * 2)
            return "ok", None
        if code in (400, 413):
            # The batch as a whole was refused (too many events or bytes for this service):
            # halve it; a single event the service cannot take at all is dropped.
            if len(batch) > 1:
                self._effective_batch = max(1, len(batch) // 2)
                self.log.info(
                    "catalyst_hub: the service refused a batch of %d (%d); sending smaller batches",
                    len(batch),
                    code,
                )
                return "ok", None
            self.log.error(
                "catalyst_hub: dropping event %s: the service refuses it (%d %s)",
                batch[0][0],
                code,
                _message(response),
            )
            await self.run(self.store.delete, [batch[0][0]])
            return "ok", None
        retry_after = _retry_after(response)
        if code in (401, 403):
            self.log.error(
                "catalyst_hub: the catalyst service refused this server's token (%d: %s). "
                "The server's token needs access to the service (Spawner.server_token_scopes "
                "with access:services!service=<name>); keeping %d+ event(s), retrying with "
                "backoff up to %.0f s",
                code,
                _message(response),
                len(batch),
                self.auth_retry_seconds,
            )
            return "auth", retry_after
        self._failing(f"{self.events_url} answered {code} {_message(response)}", len(batch))
        return "retry", retry_after

    async def _apply_results(
        self, batch: list[tuple[str, str]], results: list[dict[str, Any]]
    ) -> None:
        bodies = dict(batch)
        acked: list[str] = []
        held: list[str] = []
        decision: str | None = None
        for result in results:
            event_id, status = result.get("id"), result.get("status")
            if event_id not in bodies:
                continue
            if status in ACKED:
                acked.append(event_id)
                if status == "stored":
                    event = json.loads(bodies[event_id])
                    if event.get("schema") == CONSENT:
                        decision = event["payload"].get("decision")
            elif status == DEFERRED:
                held.append(event_id)
            elif status in ("error", "refused"):
                # permanent: this event can never be stored; resending it would block the rest
                self.log.error(
                    "catalyst_hub: dropping event %s, the service rejected it: %s",
                    event_id,
                    result.get("message", "invalid"),
                )
                acked.append(event_id)
            # "rejected": valid but not stored because of another event; sent again next round
        if held:
            await self.run(self.store.hold, held)
            self.deferred += len(held)
            self.log.info(
                "catalyst_hub: keeping %d event(s) until the member decides on the recording "
                "notice",
                len(held),
            )
        if acked:
            await self.run(self.store.delete, acked)
            self.delivered += sum(1 for r in results if r.get("status") in ACKED)
        if decision is not None:
            # the member's own decision, now stored by the service
            released = self.decision_known(decision)
            if released is not None:
                await released

    def _failing(self, reason: str, pending: int) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            self.log.warning(
                "catalyst_hub: %s; keeping %d+ event(s) in the outbox and retrying with backoff",
                reason,
                pending,
            )
        else:
            self.log.debug("catalyst_hub: still failing: %s", reason)

    def _recovered(self) -> None:
        if self._failing_since is not None:
            self.log.info(
                "catalyst_hub: delivering events again after %.0f s of failures",
                time.monotonic() - self._failing_since,
            )
            self._failing_since = None


def _results(response: HTTPResponse) -> list[dict[str, Any]]:
    try:
        data = json.loads(response.body or b"null")
    except ValueError:
        return []
    results = data.get("results") if isinstance(data, dict) else None
    return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []


def _message(response: HTTPResponse) -> str:
    try:
        data = json.loads(response.body or b"null")
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])[:300]
    except ValueError:
        pass
    return response.reason or ""


def _retry_after(response: HTTPResponse) -> float | None:
    value = response.headers.get("Retry-After") if response.headers else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
