"""Times are stored as naive UTC datetimes (SQLite has no time zones); these helpers convert."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import overload


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def parse_time(value: str | datetime) -> datetime:
    """Parse an ISO 8601 time (``Z`` or an offset; naive means UTC) into naive UTC.

    Raises ValueError, with a message fit for a client, for anything that is not such a time
    or whose UTC time falls outside the years 1 to 9999 (``0001-01-01T00:00+01:00``). A leap
    second (``23:59:60``) is refused too: Python's datetime cannot hold one.
    """
    if type(value) is str and value.endswith("Z") and len(value) > 11 and value[10] in "T ":
        # the usual form clients send, on the ingest hot path: no aware time built
        try:
            parsed = datetime.fromisoformat(value[:-1])
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                return parsed
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(
                value.replace("Z", "+00:00") if value.endswith("Z") else value
            )
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {value[:40]!r}") from None
    else:
        raise ValueError(f"not an ISO 8601 time: {type(value).__name__}")
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:
            raise ValueError(f"time out of range once in UTC: {str(value)[:40]!r}") from None
    return parsed


def is_time(value: object) -> bool:
    """Whether ``value`` is a string ``parse_time`` accepts (a JSON schema ``format`` check)."""
    if not isinstance(value, str):
        return False
    try:
        parse_time(value)
    except ValueError:
        return False
    return True


@overload
def isoformat(value: datetime) -> str: ...
@overload
def isoformat(value: datetime | None) -> str | None: ...


def isoformat(value: datetime | None) -> str | None:
    """ISO 8601 with a ``Z``, for JSON answers."""
    return None if value is None else value.isoformat() + "Z"
