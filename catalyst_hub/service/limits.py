"""Per-sender rate limiting of ingest (a token bucket per member, in memory)."""

from __future__ import annotations

import time

from tornado import web


class RateLimiter:
    """Allow ``rate`` events a second per member with bursts up to ``burst``; 429 beyond.

    A server extension's outbox sends at most a batch every few seconds, so honest clients
    never meet the limit; it protects the database from a runaway or hostile token.
    """

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, handler: web.RequestHandler, key: str, cost: int) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if cost > tokens:
            wait = max(1, int((cost - tokens) / self.rate + 0.999))
            self._buckets[key] = (tokens, now)
            error = web.HTTPError(429, f"Too many events from this sender; retry in {wait} s.")
            error.headers = {"Retry-After": str(wait)}  # written by APIHandler.write_error
            raise error
        self._buckets[key] = (tokens - cost, now)
