"""Per-sender rate limiting of ingest (token buckets per member, in memory): events and bytes."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from tornado import web

if TYPE_CHECKING:
    from .base import BaseHandler


class RateLimiter:
    """Allow ``rate`` events a second per member with bursts up to ``burst``, and ``byte_rate``
    bytes of request body a second with bursts up to ``byte_burst``; 429 beyond either.

    A server extension's outbox sends at most a batch every few seconds, so honest clients
    never meet the limits; they protect the database from a runaway or hostile token. Bytes
    count as well as events: a few events padded to the largest body each cost the service
    parsing and validation far beyond their number.
    """

    def __init__(
        self, rate: float, burst: float, byte_rate: float = 0.0, byte_burst: float = 0.0
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.byte_rate = byte_rate
        self.byte_burst = byte_burst
        # key: (event tokens, byte tokens, time of the last refill)
        self._buckets: dict[str, tuple[float, float, float]] = {}

    def check(self, handler: BaseHandler, key: str, cost: int, size: int = 0) -> None:
        """Spend ``cost`` events and ``size`` bytes of ``key``'s allowance, or raise 429 (and
        spend nothing: a refused request costs nothing but the wait)."""
        events_limited, bytes_limited = self.rate > 0, self.byte_rate > 0
        if not events_limited and not bytes_limited:
            return
        now = time.monotonic()
        tokens, byte_tokens, last = self._buckets.get(key, (self.burst, self.byte_burst, now))
        elapsed = now - last
        tokens = min(self.burst, tokens + elapsed * self.rate)
        byte_tokens = min(self.byte_burst, byte_tokens + elapsed * self.byte_rate)
        self._buckets[key] = (tokens, byte_tokens, now)
        _ = handler._
        if events_limited and cost > tokens:
            wait = _wait(cost, tokens, self.rate, self.burst)
            raise _too_many(
                _("Too many events from this sender; retry in {wait} s.", wait=wait), wait
            )
        if bytes_limited and size > byte_tokens:
            wait = _wait(size, byte_tokens, self.byte_rate, self.byte_burst)
            raise _too_many(
                _("Too many bytes from this sender; retry in {wait} s.", wait=wait), wait
            )
        self._buckets[key] = (
            tokens - cost if events_limited else tokens,
            byte_tokens - size if bytes_limited else byte_tokens,
            now,
        )


def _wait(cost: float, tokens: float, rate: float, burst: float) -> int:
    """Whole seconds until ``cost`` fits (a cost larger than the burst never fits: then the
    time to refill the whole burst, after which a smaller request passes)."""
    return max(1, math.ceil((min(cost, burst) - tokens) / rate))


class _TooMany(web.HTTPError):
    def __init__(self, message: str, wait: int) -> None:
        super().__init__(429, message)
        self.headers = {"Retry-After": str(wait)}  # written by APIHandler.write_error


def _too_many(message: str, wait: int) -> web.HTTPError:
    return _TooMany(message, wait)
