"""What every staff report shares: periods, weeks, exclusions, small-number helpers.

Report functions take a ``Store``, a community and a ``Period`` and return plain dataclasses
(rows a renderer turns into HTML, CSV, JSON or metrics). They read projections only, with
grouped SQL that runs the same on SQLite and PostgreSQL; date arithmetic is done in Python.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Integer,
    Table,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    true,
)

from ..store import Store
from ..store import tables as t
from ..timeutil import UTC, day_start, utc_offsets, utcnow
from ..timeutil import today as local_today

#: A headline figure of a page: (id, label, value, definition).
Figure = tuple[str, str, Any, str]

#: Default length of a report period, in days (ending today).
DEFAULT_DAYS = 30
#: Longest report period, in days (about ten years).
MAX_DAYS = 3660
#: Years a report period may fall in: the service's records start after the first and end
#: before the last, and reports can add or take away a year or two without leaving
#: datetime's range.
FIRST_YEAR, LAST_YEAR = 2000, 2100

Gettext = Callable[..., str]


def english(message: str, **values: Any) -> str:
    """The untranslated message (the default ``_`` of report functions)."""
    return message.format(**values) if values else message


def whole_number(text: str, most_digits: int = 18) -> int | None:
    """The number that ``text`` spells in ASCII digits (no sign, no spaces, no other
    script's digits such as ``²`` or ``٣``, at most ``most_digits`` of them), else None."""
    if not (text.isascii() and text.isdigit()) or len(text) > most_digits:
        return None
    return int(text)


_MONTH = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})", re.ASCII)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _check_year(year: int, _: Gettext) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(
            _("dates must be in the years {first} to {last}", first=FIRST_YEAR, last=LAST_YEAR)
        )


def _day(text: str, _: Gettext) -> date:
    """A ``YYYY-MM-DD`` date of a report period (ValueError, translated by ``_``)."""
    try:
        if _DAY.fullmatch(text) is None:
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            _("dates must be YYYY-MM-DD, not {value}", value=repr(text[:20]))
        ) from None
    _check_year(day.year, _)
    return day


@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end``, both included: calendar days in the hub's time zone
    ``zone`` (``c.CatalystApp.timezone``), like ``daily_activity.day``. Its bounds as times
    (``start_time``, ``end_time``) are those days' midnights there, in naive UTC."""

    start: date
    end: date
    zone: ZoneInfo = UTC

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("the period ends before it starts")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def each_day(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    @property
    def start_time(self) -> datetime:
        return day_start(self.start, self.zone)

    @property
    def end_time(self) -> datetime:
        """The first instant after the period (exclusive upper bound for times)."""
        return day_start(self.end + timedelta(days=1), self.zone)

    @classmethod
    def last_days(
        cls, days: int = DEFAULT_DAYS, today: date | None = None, zone: ZoneInfo = UTC
    ) -> Period:
        today = today or local_today(zone)
        return cls(today - timedelta(days=days - 1), today, zone)

    @classmethod
    def month(cls, year: int, month: int, zone: ZoneInfo = UTC) -> Period:
        start = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        return cls(start, following - timedelta(days=1), zone)

    @classmethod
    def parse(
        cls,
        start: str | None = None,
        end: str | None = None,
        month: str | None = None,
        days: str | None = None,
        today: date | None = None,
        _: Gettext = english,
        zone: ZoneInfo = UTC,
    ) -> Period:
        """From query arguments: ``month=YYYY-MM``, ``days=N`` or ``from``/``to`` dates, as
        days in ``zone`` (``today`` is today there unless given).

        Raises ValueError with a message fit for the user, translated by ``_``."""
        today = today or local_today(zone)
        if month:
            return cls.parse_month(month, _, zone)
        if days:
            count = whole_number(days)
            if count is None or not 1 <= count <= MAX_DAYS:
                raise ValueError(
                    _(
                        "days must be a number from 1 to {most}, not {value}",
                        most=MAX_DAYS,
                        value=repr(days[:20]),
                    )
                )
            return cls.last_days(count, today, zone)
        if start or end:
            first = _day(start, _) if start else today - timedelta(days=DEFAULT_DAYS - 1)
            last = _day(end, _) if end else today
            if last < first:
                raise ValueError(_("the period ends before it starts"))
            if (last - first).days >= MAX_DAYS:
                raise ValueError(_("a period may span at most {most} days", most=MAX_DAYS))
            return cls(first, last, zone)
        return cls.last_days(DEFAULT_DAYS, today, zone)

    @classmethod
    def parse_month(cls, text: str, _: Gettext = english, zone: ZoneInfo = UTC) -> Period:
        """The calendar month ``YYYY-MM`` (ValueError, translated by ``_``, for anything else)."""
        match = _MONTH.fullmatch(text)
        if match is None or not 1 <= int(match["month"]) <= 12:
            raise ValueError(_("month must be YYYY-MM, not {value}", value=repr(text[:20])))
        year = int(match["year"])
        _check_year(year, _)
        return cls.month(year, int(match["month"]), zone)

    def to_json(self) -> dict[str, str]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": self.zone.key,
        }


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def weeks_between(first: date, last: date) -> list[date]:
    """Mondays of every week overlapping ``first``..``last``."""
    monday = week_start(first)
    out = []
    while monday <= last:
        out.append(monday)
        monday += timedelta(days=7)
    return out


def as_date(value: Any) -> date:
    """A DATE from the database (SQLite may hand back a string)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def not_excluded(store: Store, column: ColumnElement) -> ColumnElement:
    """SQL condition leaving out staff and service accounts (``store.excluded_members``)."""
    if not store.excluded_members:
        return true()
    return column.not_in(sorted(store.excluded_members))


def in_communities(column: ColumnElement, communities: Iterable[str] | None) -> ColumnElement:
    """``column IN communities``; None means every community."""
    if communities is None:
        return true()
    return column.in_(sorted(communities))


def seconds_between(dialect: str, start: ColumnElement, stop: ColumnElement) -> ColumnElement:
    """Seconds from ``start`` to ``stop`` as SQL, for SQLite and PostgreSQL."""
    if dialect == "postgresql":
        return func.extract("epoch", stop - start)
    return (func.julianday(stop) - func.julianday(start)) * 86400.0


def seconds_sum(dialect: str, start: ColumnElement, stop: ColumnElement) -> ColumnElement:
    """The seconds from ``start`` to ``stop`` added up over a group, as SQL (an aggregate).

    PostgreSQL adds up the intervals and converts the total once: the same exact figure as
    adding up each row's seconds, which are NUMERIC there and slower to add up."""
    if dialect == "postgresql":
        return func.extract("epoch", func.sum(stop - start))
    return func.sum(seconds_between(dialect, start, stop))


def local_time(
    dialect: str, column: ColumnElement, zone: ZoneInfo, start: datetime, end: datetime
) -> ColumnElement:
    """The naive UTC times of ``column`` as wall-clock times in ``zone``, as SQL, for values
    from ``start`` to ``end`` (beyond them the nearest offset holds): its date is the day in
    the hub's time zone, the same day the projector gives an event (``timeutil.local_day``).

    The offsets come from Python's time zone database, not the database server's (SQLite
    has none), so reports and projections agree on every engine."""
    offsets = utc_offsets(zone, start, end)
    if len(offsets) == 1 and offsets[0][1] == 0:
        return column

    def shifted(seconds: int) -> ColumnElement:
        if dialect == "postgresql":
            return column + literal(timedelta(seconds=seconds))
        return func.datetime(column, literal_column(f"'{seconds:+d} seconds'"))

    if len(offsets) == 1:
        return shifted(offsets[0][1])
    whens = [
        (column < until, shifted(offset))
        for (_, offset), (until, _) in zip(offsets[:-1], offsets[1:], strict=True)
    ]
    return case(*whens, else_=shifted(offsets[-1][1]))


def local_date(
    dialect: str, column: ColumnElement, zone: ZoneInfo, start: datetime, end: datetime
) -> ColumnElement:
    """The day in ``zone`` of ``column``'s naive UTC times (see ``local_time``), as SQL: a
    DATE on PostgreSQL, ``YYYY-MM-DD`` text on SQLite (``as_date`` reads either)."""
    shifted = local_time(dialect, column, zone, start, end)
    if dialect == "postgresql":
        return cast(shifted, Date)
    return func.date(shifted)


def day_number(
    dialect: str,
    column: ColumnElement,
    anchor: date,
    zone: ZoneInfo = UTC,
    until: datetime | None = None,
) -> ColumnElement[int]:
    """Whole days from ``anchor`` to the day of ``column`` (a DATE or a DATETIME), as SQL.
    A DATETIME's day is taken in ``zone``, for times from ``anchor`` to ``until`` (default:
    a day after now; see ``local_time``).

    Reports count days and ISO weeks as small integers in SQL so that grouping, windows and
    week numbers (``day_number // 7`` from a Monday) stay in the database."""
    if zone is not UTC and isinstance(column.type, DateTime):
        column = local_time(
            dialect,
            column,
            zone,
            day_start(anchor, zone),
            until or utcnow() + timedelta(days=1),
        )
    if dialect == "postgresql":
        return cast(cast(column, Date) - literal(anchor, Date), Integer)
    # julianday() of two midnights differs by a whole number, so the cast is exact
    return cast(func.julianday(func.date(column)) - func.julianday(anchor.isoformat()), Integer)


def communities_of(conn: Connection, store: Store, table: Table) -> list[str]:
    """The distinct communities of ``table``'s rows of this hub (sorted).

    One index seek per community (a "loose index scan" on an index that starts with hub and
    community), not a scan of every row: queries over all communities then give the database
    an ``IN`` list, which it answers with a range seek per community on the same index."""
    c = table.c
    names = (
        select(func.min(c.community).label("name"))
        .where(c.hub == store.hub)
        .cte("names", recursive=True)
    )
    following = (
        select(func.min(c.community))
        .where(c.hub == store.hub, c.community > names.c.name)
        .scalar_subquery()
    )
    names = names.union_all(select(following).where(names.c.name.is_not(None)))
    rows = conn.execute(select(names.c.name).where(names.c.name.is_not(None))).scalars()
    return sorted(rows)


def known_communities(store: Store) -> list[str]:
    """Every community with at least one member (sorted)."""
    with store.connect() as conn:
        return communities_of(conn, store, t.members)


def community_exists(store: Store, community: str, configured: Iterable[str] = ()) -> bool:
    """Whether ``community`` is one of this hub's: configured (``configured``: the default
    community and the group map's names), or with at least one member."""
    if community in set(configured):
        return True
    m = t.members.c
    with store.connect() as conn:
        found = conn.execute(
            select(m.member_id).where(m.hub == store.hub, m.community == community).limit(1)
        ).first()
    return found is not None


def percent(part: int | float, whole: int | float) -> float | None:
    """``part`` of ``whole`` in percent (one decimal), or None when ``whole`` is zero."""
    if not whole:
        return None
    return round(100.0 * part / whole, 1)


def median(values: Sequence[float]) -> float | None:
    """The middle value (mean of the two middle ones for an even count)."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``q`` of values at or below.

    Nearest rank always returns a value that really occurred, which reads honestly when a
    community has five newcomers, not five thousand."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Suppressed:
    """A figure hidden by the suppression policy (``reports.suppression``): a count below
    the minimum group size ``k`` (``bounded``), or a figure hidden so that no such count can
    be worked out from the others (not bounded: its value may be anything)."""

    k: int
    bounded: bool = True

    def __str__(self) -> str:
        return f"<{self.k}" if self.bounded else "hidden"

    def to_json(self) -> dict[str, Any]:
        if self.bounded:
            return {"suppressed": True, "fewer_than": self.k}
        return {"suppressed": True}
