"""The event envelope: an event as a client sends it to the ingest API, and the one place
one is made (the server extension's outbox, the service on a member's behalf, the collector,
sign-offs, the seed, the demo and the tests)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ..timeutil import isoformat, parse_time, utcnow


def envelope(
    schema: str,
    payload: dict[str, Any],
    *,
    time: datetime | str | None = None,
    id: str | None = None,
    version: int = 1,
) -> dict[str, Any]:
    """A new event: ``id`` a random UUID unless given (the service keys the ids of the events
    it derives, so that they deduplicate), ``time`` now unless given. A datetime is written
    as ISO 8601 UTC with a ``Z`` (a naive one is taken as UTC); a string is sent as it is, so
    tests can send times the ingest must refuse."""
    if time is None or isinstance(time, datetime):
        when = isoformat(utcnow() if time is None else parse_time(time))
    else:
        when = time
    return {
        "id": id or str(uuid.uuid4()),
        "schema": schema,
        "version": version,
        "time": when,
        "payload": payload,
    }
