"""Times are stored as naive UTC datetimes (SQLite has no time zones); these helpers convert."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


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


# -- the hub's time zone ---------------------------------------------------------------------
# Times stay naive UTC everywhere; only calendar days (daily tables, "today", a period's
# bounds) are taken in the hub's configured zone (``c.CatalystApp.timezone``).

UTC = ZoneInfo("UTC")


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``America/Argentina/Buenos_Aires``); ValueError, with a
    message fit for an operator, for a name the time zone database does not know."""
    try:
        if not name or name != name.strip():
            raise ValueError
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError, OSError):
        raise ValueError(
            f"unknown time zone {name!r}: give an IANA name such as 'UTC' or "
            "'America/Argentina/Buenos_Aires'"
        ) from None


def local_day(time: datetime, zone: ZoneInfo = UTC) -> date:
    """The calendar day, in ``zone``, of the naive UTC ``time``."""
    if zone is UTC:
        return time.date()
    return time.replace(tzinfo=timezone.utc).astimezone(zone).date()


def day_start(day: date, zone: ZoneInfo = UTC) -> datetime:
    """The first instant of ``day`` in ``zone``, as naive UTC (a local midnight that does not
    exist, in a zone that skips it, is the first instant that does)."""
    midnight = datetime.combine(day, datetime.min.time())
    if zone is UTC:
        return midnight
    start = midnight.replace(tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)
    # a skipped midnight (a DST change at 00:00) maps to an instant of the day before
    while local_day(start, zone) < day:
        start += timedelta(minutes=15)
    return start


def today(zone: ZoneInfo = UTC) -> date:
    """Today's date in ``zone``."""
    return local_day(utcnow(), zone)


def utc_offsets(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The UTC offsets of ``zone`` (in seconds) between the naive UTC times ``start`` and
    ``end``: [(from, offset)...], the first from ``start``, each in force until the next.
    For SQL that takes the local day of stored times (``reports.common.local_date``)."""

    def offset(at: datetime) -> int:
        found = at.replace(tzinfo=timezone.utc).astimezone(zone).utcoffset()
        return int(found.total_seconds()) if found is not None else 0

    out = [(start, offset(start))]
    step = timedelta(hours=6)
    at = start
    while at < end:
        following = min(at + step, end)
        if offset(following) != out[-1][1]:
            low, high = at, following  # the change lies in (low, high]: find its minute
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                if offset(mid) == out[-1][1]:
                    low = mid
                else:
                    high = mid
            high = high.replace(second=0, microsecond=0)
            if offset(high) == out[-1][1]:
                high += timedelta(minutes=1)
            out.append((high, offset(high)))
        at = following
    return out
