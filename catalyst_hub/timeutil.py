"""Times are stored as naive UTC datetimes (SQLite has no time zones); these helpers convert."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def parse_time(value: str | datetime) -> datetime:
    """Parse an ISO 8601 time (``Z`` or an offset; naive means UTC) into naive UTC."""
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
    else:
        parsed = datetime.fromisoformat(
            value.replace("Z", "+00:00") if value.endswith("Z") else value
        )
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def isoformat(value: datetime | None) -> str | None:
    """ISO 8601 with a ``Z``, for JSON answers."""
    return None if value is None else value.isoformat() + "Z"
