"""The consortium publisher: this hub's monthly summaries, sent to its consortium.

With ``c.CatalystService.consortium_url`` and a credential (``consortium_token_file``, or
``$CATALYST_CONSORTIUM_TOKEN``), the service computes, every ``consortium_interval`` seconds,
the summary of the current and the previous month (``reports.summary``: suppressed at the
source), and once a day (and at start) of every month since the hub's first member. A month
whose figures changed (a closed day, today's provisional figures, late events, an erasure)
is queued in the hub's own database (``store.publish_queue``) and sent with a growing
sequence number; the consortium keeps the latest version of each month, never a sum. A
failed send is retried with exponential backoff (to ``consortium_backoff_max``), across
restarts; the hub's admin sees the state at ``api/consortium``.

Months are linked by the members' history (``reports.summary.member_history``): a change in
one month (late events, an erasure) can change what the months after it hide. Every pass
decides the histories of every community (a grouped query each) and recomputes, besides the
current and previous months, every month whose counts or decision changed since it was last
computed (``summary.history_key``), so that no month's published table contradicts the
decision of the months around it. The first pass after a start is a full one.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Any as AnyTrait
from traitlets.config import LoggingConfigurable

from ..reports import summary
from ..store import publish_queue
from ..timeutil import utcnow
from ..workflows.consortium import public_communities

if TYPE_CHECKING:
    from ..store import Store

T = TypeVar("T")


def backoff(attempts: int, base: float, most: float) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from ``base``, at most ``most``,
    spread by a quarter so that many hubs do not come back in the same second."""
    delay = min(most, base * (2 ** min(attempts, 30)))
    return delay * random.uniform(0.75, 1.0)


class Publisher(LoggingConfigurable):
    """Runs in the catalyst service (``app``) when a consortium is configured."""

    app = AnyTrait()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_sweep: float | None = None
        #: per month, what its tables took from the members' histories when last computed
        self._history_keys: dict[date, tuple[Any, ...]] = {}
        #: per community, the figures a month's table had to hide against its history
        self._forced: dict[str, frozenset[tuple[str, date]]] = {}
        # its own thread: summaries read a few months of projections, off the request path
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalyst-publish")
        self.client = AsyncHTTPClient()

    @property
    def store(self) -> Store:
        return self.app.store

    @property
    def url(self) -> str:
        base = self.app.consortium_url
        return base if base.endswith("/") else base + "/"

    # -- what to send ------------------------------------------------------------------------

    def queue_changes(self, full: bool) -> list[date]:
        """Compute the months to look at and queue those whose figures changed (blocking)."""
        now = utcnow()
        today = now.date()
        first = summary.first_month(self.store)
        if first is None:
            return []
        current = summary.month_of(today)
        every = summary.months_between(first, current)
        k = self.app.min_group_size
        if full:
            months = set(every)
        else:
            previous = summary.month_of(current - timedelta(days=1))
            months = {m for m in (previous, current) if m >= first}
        # the months computed now find again what their tables must hide against their
        # history (it can change: another version's figures, late events); the others keep it
        kept = {c: frozenset(x for x in f if x[1] not in months) for c, f in self._forced.items()}
        histories = summary.member_histories(self.store, k, today, forced=kept)
        queued = []
        public = public_communities(self.store, self.app.consortium_public_communities)
        # in month order: a month's table that hides a figure against its history (fail
        # closed) changes the decision of the months after it, computed after it
        for _round in range(len(every) + 1):
            months |= {
                m for m in every if self._history_keys.get(m) != summary.history_key(histories, m)
            }
            if not months:
                break
            for month in sorted(months):
                # checked against what the month's earlier versions showed and hid
                versions = summary.MonthVersions(publish_queue.month_versions(self.store, month))
                document = summary.month_summary(
                    self.store,
                    month,
                    k,
                    today=today,
                    public=public,
                    histories=histories,
                    versions=versions,
                )
                self._history_keys[month] = summary.history_key(histories, month)
                fp = summary.fingerprint(document)
                sequence = publish_queue.queue_month(
                    self.store, month, fp, document, now, versions.now
                )
                if sequence is not None:
                    queued.append(month)
            months = set()
        self._forced = {c: h.forced for c, h in histories.items() if h.forced}
        if queued:
            self.log.info(
                "consortium: queued %d month(s): %s",
                len(queued),
                ", ".join(m.isoformat()[:7] for m in queued),
            )
        return sorted(set(queued))

    async def send_due(self) -> int:
        """Send every queued month that is due; returns how many the consortium took."""
        loop = asyncio.get_running_loop()
        sent = 0
        rows = await loop.run_in_executor(self.executor, publish_queue.due, self.store, utcnow())
        for row in rows:
            if self._stopping:
                break
            month, sequence = row["month"], row["sequence"]
            try:
                await self.client.fetch(
                    HTTPRequest(
                        self.url + f"api/v1/summaries/{month.isoformat()[:7]}",
                        method="PUT",
                        body=row["document"],
                        headers={
                            "Authorization": f"Bearer {self.app.consortium_credential()}",
                            "Content-Type": "application/json",
                        },
                        request_timeout=self.app.consortium_timeout,
                    )
                )
            except Exception as e:
                now = utcnow()
                message = _error_text(e)
                delay = backoff(
                    row["attempts"], self.app.consortium_backoff, self.app.consortium_backoff_max
                )
                self.log.warning(
                    "consortium: %s not sent (%s); next attempt in %.0f s",
                    month.isoformat()[:7],
                    message,
                    delay,
                )
                await loop.run_in_executor(
                    self.executor,
                    publish_queue.failed,
                    self.store,
                    month,
                    sequence,
                    message,
                    now + timedelta(seconds=delay),
                    now,
                )
                continue
            document = orjson.loads(row["document"])
            through = max(
                (date.fromisoformat(c["through"]) for c in document["communities"]),
                default=month,
            )
            provisional = any(c["provisional"] for c in document["communities"])
            await loop.run_in_executor(
                self.executor,
                publish_queue.acknowledge,
                self.store,
                month,
                sequence,
                row["fingerprint"],
                through,
                provisional,
                utcnow(),
            )
            sent += 1
        return sent

    async def run_in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking store work on the publisher's thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def run_once(self, full: bool = False) -> int:
        """Queue what changed, then send what is due (tests call it directly)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executor, self.queue_changes, full)
        return await self.send_due()

    # -- schedule ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._loop())

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_queue = None
        while not self._stopping:
            now = loop.time()
            try:
                full = (
                    self._last_sweep is None or now - self._last_sweep >= self.app.consortium_sweep
                )
                if full or last_queue is None or now - last_queue >= self.app.consortium_interval:
                    await loop.run_in_executor(self.executor, self.queue_changes, full)
                    last_queue = now
                    if full:
                        self._last_sweep = now
                await self.send_due()
            except Exception:
                self.log.exception("consortium publisher")
            self._wake.clear()
            try:
                # due retries are looked at every few seconds (a cheap indexed read)
                await asyncio.wait_for(self._wake.wait(), timeout=self.app.consortium_poll)
            except asyncio.TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=30)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        self.executor.shutdown(wait=True)

    def status(self) -> dict[str, Any]:
        return {"consortium_url": self.app.consortium_url, **publish_queue.status(self.store)}


def _error_text(error: Exception) -> str:
    """The consortium's own message for an HTTP error, else the error's kind."""
    if isinstance(error, HTTPClientError):
        body = error.response.body if error.response is not None else b""
        try:
            message = orjson.loads(body).get("message", "")
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            message = ""
        return f"HTTP {error.code}" + (f": {message}" if message else "")
    return f"{type(error).__name__}: {error}"[:500]
