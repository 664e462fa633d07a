"""The xAPI forwarder: the hub's statements sent to a Learning Record Store, in batches.

Durable without a queue of its own: the statements are built from the projections (the
truth), and ``xapi_sent`` keeps the ids the LRS acknowledged. Each round sends what is not
acknowledged yet, oldest first, in batches of ``lrs_batch_size``; a batch is recorded as
sent only once the LRS answered 200 or 204. So an outage (the LRS or the network down, the
service restarted mid-batch) loses nothing: the next round sends the rest. And it
duplicates nothing: statement ids are keyed and deterministic, and a conforming LRS stores a
statement it already holds once (xAPI 1.0.3, "Statement ID": a second POST of the same
statement is a no-op; Ralph answers 204).

A statement whose id the LRS holds with other content (a record whose time moved earlier
after it was sent, or a learner added to a cohort since) is answered 409; the forwarder then
sends the batch one statement at a time, records the conflicting ones as acknowledged (the
LRS keeps its first version) and counts them in the progress.

Erasure: a member erased (and not recording again) has no records left to build, their
``xapi_sent`` rows are erased with the rest, and every batch is checked against the
tombstones just before it is posted. Statements the LRS received before the erasure are
the LRS operator's to delete (see the README).

Failures back off exponentially (``lrs_interval`` doubled per failure in a row, up to
``lrs_backoff_max``, with jitter).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import orjson
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from ..store import xapi_forwarding as state
from ..store.store import Store
from .xapi import XAPI_VERSION, Entry, hub_entries

log = logging.getLogger("catalyst_hub.xapi")


def read_credentials(path: str) -> tuple[str, str]:
    """``username:password`` from the first line of a file (as an LRS gives them)."""
    with open(path, encoding="utf-8") as f:
        line = f.readline().strip()
    username, sep, password = line.partition(":")
    if not sep or not username:
        raise ValueError(f"{path} must hold username:password on its first line")
    return username, password


class LRSError(Exception):
    """The LRS did not take a batch: ``retry`` for an outage, not for a refusal."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Forwarder:
    """Sends one hub's statements to one LRS. ``run_once`` is a round; ``start`` runs rounds
    every ``interval`` seconds (backing off after failures) on the running event loop."""

    def __init__(
        self,
        store: Store,
        hub_url: str,
        lrs_url: str,
        username: str = "",
        password: str = "",
        batch_size: int = 200,
        interval: float = 60.0,
        backoff_max: float = 900.0,
        executor: Executor | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.store = store
        self.hub_url = hub_url
        self.lrs_url = lrs_url.rstrip("/") + "/"
        self.batch_size = batch_size
        self.interval = interval
        self.backoff_max = backoff_max
        self.executor = executor
        self.timeout = timeout
        self._headers = {
            "Content-Type": "application/json",
            "X-Experience-API-Version": XAPI_VERSION,
        }
        if username:
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._ready = False

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def pending(self) -> list[Entry]:
        """The statements the LRS has not acknowledged, oldest first (built when sent)."""
        sent = state.sent_ids(self.store)
        return [e for e in hub_entries(self.store, self.hub_url) if e.id not in sent]

    def progress(self) -> dict[str, Any]:
        return state.progress(self.store)

    async def run_once(self) -> int:
        """Send every pending statement; returns how many the LRS acknowledged. Raises
        LRSError (after recording it) when the LRS does not take a batch."""
        if not self._ready:
            await self._db(state.ensure_progress, self.store, self.lrs_url)
            self._ready = True
        pending = await self._db(self.pending)
        await self._db(state.record_pending, self.store, len(pending))
        done = 0
        for start in range(0, len(pending), self.batch_size):
            entries = pending[start : start + self.batch_size]
            members = {e.member_id for e in entries}
            erased = await self._db(state.erased_among, self.store, members)
            batch = [e.build() for e in entries if e.member_id not in erased]
            if not batch:
                continue
            try:
                conflicts = await self._post_batch(batch)
            except LRSError as error:
                await self._db(state.record_failure, self.store, str(error))
                await self._db(state.record_pending, self.store, len(pending) - done)
                raise
            acknowledged = [(s["actor"]["account"]["name"], s["id"]) for s in batch]
            await self._db(state.mark_sent, self.store, acknowledged, conflicts)
            done += len(batch)
        await self._db(state.record_pending, self.store, len(pending) - done, True)
        return done

    async def _post(self, statements: list[dict[str, Any]]) -> int:
        request = HTTPRequest(
            self.lrs_url + "statements",
            method="POST",
            headers=self._headers,
            body=orjson.dumps(statements),
            request_timeout=self.timeout,
            connect_timeout=min(self.timeout, 20.0),
        )
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # refused, reset, timed out, TLS, DNS: an outage
            raise LRSError(f"LRS unreachable: {type(error).__name__}: {error}") from None
        if response.code == 599:
            raise LRSError(f"LRS unreachable: {response.error}")
        return response.code

    async def _post_batch(self, batch: list[dict[str, Any]]) -> int:
        """POST a batch; returns the statements the LRS holds with other content (409)."""
        code = await self._post(batch)
        if code in (200, 204):
            return 0
        if code != 409:
            raise LRSError(f"LRS answered {code} to a batch of {len(batch)}", code)
        conflicts = 0
        for statement in batch:
            code = await self._post([statement])
            if code == 409:
                conflicts += 1
                log.warning("the LRS holds statement %s with other content", statement["id"])
            elif code not in (200, 204):
                raise LRSError(f"LRS answered {code} to statement {statement['id']}", code)
        return conflicts

    # -- the schedule ----------------------------------------------------------------------

    def delay_after(self, failures: int) -> float:
        """Seconds to the next round: ``interval``, or backing off after failures."""
        if failures <= 0:
            return self.interval
        return min(self.backoff_max, self.interval * 2 ** min(failures, 20)) * random.uniform(
            0.8, 1.2
        )

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def wake(self) -> None:
        """Start a round now (rather than at the next interval)."""
        self._wake.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _loop(self) -> None:
        failures = 0
        while True:
            try:
                sent = await self.run_once()
                failures = 0
                if sent:
                    log.info("sent %d xAPI statements to the LRS", sent)
            except LRSError as error:
                failures += 1
                log.warning("xAPI forwarding: %s (attempt %d in a row)", error, failures)
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("xAPI forwarding failed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.delay_after(failures))
            except asyncio.TimeoutError:
                pass


__all__ = ["Forwarder", "LRSError", "read_credentials"]
