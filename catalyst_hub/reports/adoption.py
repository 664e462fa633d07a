"""Adoption of a community: active members, newcomers, activation, retention, lifecycle.

Definitions (the pages print the same words):

- A member is **active** on a day when the ``daily_activity`` projection has a row for them
  that day in this community (they ran code, opened a notebook or terminal, started a
  server, completed an exercise...). Staff and service accounts are never counted.
- **DAU** of a day: members active that day. **WAU** / **MAU** of a day: members active at
  least once in the 7 / 30 days ending that day (rolling windows).
- **New** members: members of the community first seen in the period.
- **Activated**: members who reached every step of their community's checklist; they are
  activated on the day they reached the last of them.
- **Stickiness**: mean DAU over the period divided by the members active in the period.
- **Retention** of a weekly cohort (members first seen in one ISO week): how many of them were
  active in each following week. The cohorts are the weeks that begin inside the period.
- **Lifecycle** of a week: active members who are *new* (first seen that week), *returning*
  (also active the week before), *resurrected* (not active the week before but seen earlier),
  and *dormant* ones (active the week before, not this week).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    and_,
    case,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import array_agg

from ..store import Store
from ..store import tables as t
from ..timeutil import day_start
from .common import Figure, Period, day_number, not_excluded, percent, week_start, weeks_between

#: How many weekly cohorts the retention matrix shows (and weeks after each).
RETENTION_WEEKS = 8


@dataclass
class DailyActive:
    day: date
    dau: int
    wau: int
    mau: int


@dataclass
class LifecycleWeek:
    week: date
    new: int
    returning: int
    resurrected: int
    dormant: int

    @property
    def active(self) -> int:
        return self.new + self.returning + self.resurrected


@dataclass
class RetentionCohort:
    week: date
    size: int
    #: members active in week 0, 1, 2... after the cohort's week; None for weeks not begun
    active: list[int | None]

    def percents(self) -> list[float | None]:
        return [None if n is None else percent(n, self.size) for n in self.active]


@dataclass
class Adoption:
    community: str
    period: Period
    daily: list[DailyActive]
    active_members: int
    new_members: int
    activated_members: int
    activated_in_period: int
    new_activated: int
    mean_dau: float
    checklist: list[str]
    lifecycle: list[LifecycleWeek] = field(default_factory=list)
    retention: list[RetentionCohort] = field(default_factory=list)
    #: the summary of the period compared with (when asked for)
    previous: AdoptionSummary | None = None

    @property
    def stickiness(self) -> float | None:
        return percent(self.mean_dau, self.active_members)

    def to_json(self) -> dict[str, Any]:
        return {
            "community": self.community,
            "period": self.period.to_json(),
            "summary": {
                "active_members": self.active_members,
                "new_members": self.new_members,
                "activated_members": self.activated_members,
                "activated_in_period": self.activated_in_period,
                "new_activated": self.new_activated,
                "mean_dau": self.mean_dau,
                "stickiness_percent": self.stickiness,
            },
            "checklist": self.checklist,
            "daily": [
                {"day": r.day.isoformat(), "dau": r.dau, "wau": r.wau, "mau": r.mau}
                for r in self.daily
            ],
            "lifecycle": [
                {
                    "week": w.week.isoformat(),
                    "new": w.new,
                    "returning": w.returning,
                    "resurrected": w.resurrected,
                    "dormant": w.dormant,
                }
                for w in self.lifecycle
            ],
            "retention": [
                {"week": c.week.isoformat(), "size": c.size, "active": c.active}
                for c in self.retention
            ],
        }


@dataclass
class _Counts:
    """What a community's active days add up to (day and week numbers from a Monday
    ``anchor``), from which the report's rows are sums."""

    #: day -> members with an active day then
    starts: dict[int, int]
    #: window (7, 30) -> day -> members whose span in that window ends then (see ``_counts``)
    ends: dict[int, dict[int, int]]
    #: (week, active the week after, week first seen or None) -> members active that week
    weeks: dict[tuple[int, bool, int | None], int]


def _active_days(
    store: Store, conn: Connection, community: str, first: date, last: date, anchor: date
) -> list[list[str]]:
    """The members active each day (by day number from ``anchor``, up to ``last``) of
    ``community``, from ``first`` on.

    One range of the (community, day, member) covering index, one row per day with the
    day's members as an array (PostgreSQL) or a JSON array (SQLite): a few thousand member
    ids a month for a busy community, cheaper to fetch and add up than to have the database
    sort them per member for a window function and group them three times, and cheaper than
    a row each (which would also be thousands of objects living long enough to set off full
    collections of the Python process)."""
    da = t.daily_activity.c
    if conn.dialect.name == "postgresql":
        members = array_agg(da.member_id)
    else:
        members = type_coerce(func.json_group_array(da.member_id), String)
    days: list[list[str]] = [[] for _ in range((last - anchor).days + 1)]
    rows = conn.execute(
        select(day_number(conn.dialect.name, da.day, anchor), members)
        .where(
            da.hub == store.hub,
            da.community == community,
            da.day >= first,
            da.day <= last,
            not_excluded(store, da.member_id),
        )
        .group_by(da.day)
    )
    for d, who in rows:
        days[d] = json.loads(who) if isinstance(who, str) else who
    return days


def _counts(days: list[list[str]], seen: dict[str, int] | None = None) -> _Counts:
    """Count the members active each day of ``days`` (from a Monday).

    Each active day ``d`` of a member, with their next active day, gives:

    - rolling windows: the day stands for the member in the window of every day from ``d``
      up to (not including) ``d + 7`` (or ``+ 30``) or their next active day, whichever comes
      first. These spans never overlap, so a day's WAU is the spans begun on or before it
      minus those ended on or before it.
    - weeks (``d // 7``), when ``seen`` (member -> week first seen, for members first seen
      since the Monday) is given: each week a member was active counts them once, with
      whether they were active the week after and the week they were first seen.
    """
    counts = _Counts(defaultdict(int), {7: defaultdict(int), 30: defaultdict(int)}, {})
    starts, ends7, ends30 = counts.starts, counts.ends[7], counts.ends[30]
    # member -> their latest active day so far; a day's members are counted per previous
    # active day (a few dozen of them), not one by one
    latest: dict[str, int] = {}
    for d, members in enumerate(days):
        if not members:
            continue
        starts[d] = len(members)
        for before, n in Counter(map(latest.get, members)).items():
            if before is not None:
                ends7[min(before + 7, d)] += n
                ends30[min(before + 30, d)] += n
        latest.update(dict.fromkeys(members, d))
    for before, n in Counter(latest.values()).items():
        ends7[before + 7] += n
        ends30[before + 30] += n
    if seen is not None:
        weeks: list[set[str]] = [set() for _ in range(len(days) // 7 + 2)]
        for d, members in enumerate(days):
            weeks[d // 7].update(members)
        for w, week in enumerate(weeks[:-1]):
            after = weeks[w + 1]
            for again, who in ((True, week & after), (False, week - after)):
                for fw, n in Counter(map(seen.get, who)).items():
                    counts.weeks[(w, again, fw)] = n
    return counts


def _rolling(counts: _Counts, days: list[int]) -> list[tuple[int, int, int]]:
    """(DAU, WAU, MAU) of each of the ascending day numbers ``days``."""
    begun = _running(counts.starts, days)
    ended = {n: _running(counts.ends[n], days) for n in (7, 30)}
    return [
        (counts.starts.get(day, 0), begun[i] - ended[7][i], begun[i] - ended[30][i])
        for i, day in enumerate(days)
    ]


def _running(counts: dict[int, int], days: list[int]) -> list[int]:
    """For each of the ascending ``days``: the sum of ``counts`` at or before it."""
    keys = sorted(counts)
    out, i, total = [], 0, 0
    for day in days:
        while i < len(keys) and keys[i] <= day:
            total += counts[keys[i]]
            i += 1
        out.append(total)
    return out


def _first_weeks(store: Store, conn: Connection, community: str, anchor: date) -> dict[str, int]:
    """Members of ``community`` first seen since ``anchor`` (a Monday), with the week they were
    first seen (from ``anchor``): newcomers only, from the (community, first_seen) index."""
    m = t.members.c
    rows = conn.execute(
        select(
            m.member_id,
            day_number(conn.dialect.name, m.first_seen, anchor, store.zone)
            // literal_column("7", Integer),
        ).where(
            m.hub == store.hub,
            m.community == community,
            m.first_seen >= day_start(anchor, store.zone),
            not_excluded(store, m.member_id),
        )
    ).all()
    return {member: int(fw) for member, fw in rows}


def activated_members(store: Store, conn, community: str) -> dict[str, datetime]:
    """Members of ``community`` who reached every checklist step, with when they finished
    (the projector's ``members.activated``)."""
    m = t.members.c
    return dict(
        conn.execute(
            select(m.member_id, m.activated).where(
                m.hub == store.hub,
                m.community == community,
                m.activated.is_not(None),
                not_excluded(store, m.member_id),
            )
        ).all()
    )


@dataclass
class AdoptionSummary:
    """The adoption figures of a period without its daily and weekly rows."""

    active_members: int
    #: member x day pairs of activity: the sum of the period's DAU
    member_days: int
    days: int
    new_members: int
    activated_members: int
    activated_in_period: int
    new_activated: int

    @property
    def mean_dau(self) -> float:
        return round(self.member_days / self.days, 2)


def adoption_summary(store: Store, community: str, period: Period) -> AdoptionSummary:
    """The summary figures of ``adoption`` alone."""
    checklist = [s.id for s in store.catalog.steps_for(community)]
    with store.connect() as conn:
        return _summaries(store, conn, community, [period], checklist)[0]


def _summaries(
    store: Store,
    conn: Connection,
    community: str,
    periods: list[Period],
    checklist: list[str],
    activity: dict[Period, tuple[int, int]] | None = None,
) -> list[AdoptionSummary]:
    """Summary figures of several periods; who is activated is worked out once for all.

    ``activity``: (active members, member-days) of those periods already counted."""
    da, m = t.daily_activity.c, t.members.c
    activity = dict(activity or {})
    for period in periods:
        if period not in activity:
            active_members, member_days = conn.execute(
                select(func.count(func.distinct(da.member_id)), func.count()).where(
                    da.hub == store.hub,
                    da.community == community,
                    da.day >= period.start,
                    da.day <= period.end,
                    not_excluded(store, da.member_id),
                )
            ).one()
            activity[period] = (int(active_members), int(member_days))
    # newcomers of every period from one range of the (community, first_seen) index
    new = conn.execute(
        select(
            *(
                func.sum(
                    case(
                        (and_(m.first_seen >= p.start_time, m.first_seen < p.end_time), 1), else_=0
                    )
                )
                for p in periods
            )
        ).where(
            m.hub == store.hub,
            m.community == community,
            m.first_seen >= min(p.start_time for p in periods),
            m.first_seen < max(p.end_time for p in periods),
            not_excluded(store, m.member_id),
        )
    ).one()
    out = [
        [*activity[period], period.days, int(new_members or 0)]
        for period, new_members in zip(periods, new, strict=True)
    ]
    activated: list[tuple[int, ...]] = [(0, 0, 0)] * len(periods)
    if checklist:
        # the community's activated members, from one covering index (hub, community,
        # activated, first_seen, member_id): one row each, read once for every period
        sums = []
        for period in periods:
            start, end = period.start_time, period.end_time
            by_end = m.activated < end
            is_new = and_(m.first_seen >= start, m.first_seen < end)
            sums += [
                func.sum(case((by_end, 1), else_=0)),
                func.sum(case((and_(by_end, m.activated >= start), 1), else_=0)),
                func.sum(case((and_(by_end, is_new), 1), else_=0)),
            ]
        row = conn.execute(
            select(*sums).where(
                m.hub == store.hub,
                m.community == community,
                m.activated < max(period.end_time for period in periods),
                not_excluded(store, m.member_id),
            )
        ).one()
        counts = [int(n or 0) for n in row]
        activated = [tuple(counts[i : i + 3]) for i in range(0, len(counts), 3)]
    return [AdoptionSummary(*figures, *done) for figures, done in zip(out, activated, strict=True)]


def adoption(
    store: Store,
    community: str,
    period: Period,
    weekly: bool = True,
    previous: Period | None = None,
) -> Adoption:
    """The adoption report of ``community`` over ``period`` (without lifecycle and retention
    when not ``weekly``; with the summary of a ``previous`` period to compare with).

    The community's active days are read once, from the first day a figure needs to the end
    of the period (the 29 days before it for MAU, the weeks before for lifecycle and
    retention, a nearby ``previous`` period), one row per day with its members, which Python
    adds up per day and per week. The cost follows the period, not the history."""
    checklist = [s.id for s in store.catalog.steps_for(community)]
    retention_from = retention_start(period)
    lifecycle_weeks = weeks_between(period.start, period.end)
    first = period.start - timedelta(days=29)
    if weekly:
        first = min(first, retention_from, lifecycle_weeks[0] - timedelta(days=7))
    # the period compared with is counted from the same rows when that reads at most a
    # month more (a month report's month before, the 30 days before 30 days)
    near = (
        previous is not None
        and previous.end <= period.end
        and previous.start >= first - timedelta(days=31)
    )
    if near and previous is not None:
        first = min(first, previous.start)
    anchor = week_start(first)
    with store.connect() as conn:
        active = _active_days(store, conn, community, first, period.end, anchor)
        seen = _first_weeks(store, conn, community, anchor) if weekly else None
        counts = _counts(active, seen)
        days = [(d - anchor).days for d in period.each_day()]
        daily = [
            DailyActive(day, *figures)
            for day, figures in zip(period.each_day(), _rolling(counts, days), strict=True)
        ]
        periods = [period] + ([previous] if previous else [])
        activity = {p: _activity(active, p, anchor) for p in periods[: 2 if near else 1]}
        summary, *before = _summaries(store, conn, community, periods, checklist, activity)
    lifecycle: list[LifecycleWeek] = []
    retention: list[RetentionCohort] = []
    if seen is not None:
        # cohort sizes: members first seen in each week since the anchor (at or before the
        # first retention week)
        sizes = Counter(seen.values())
        lifecycle = _lifecycle(counts, lifecycle_weeks, anchor)
        retention = _retention(counts, sizes, retention_from, period.end, anchor)

    return Adoption(
        community=community,
        period=period,
        daily=daily,
        active_members=summary.active_members,
        new_members=summary.new_members,
        activated_members=summary.activated_members,
        activated_in_period=summary.activated_in_period,
        new_activated=summary.new_activated,
        mean_dau=round(sum(r.dau for r in daily) / len(daily), 2) if daily else 0.0,
        checklist=checklist,
        lifecycle=lifecycle,
        retention=retention,
        previous=before[0] if before else None,
    )


def _activity(days: list[list[str]], period: Period, anchor: date) -> tuple[int, int]:
    """(members active, member-days) in ``period``, of the active days read from ``anchor``."""
    inside = days[(period.start - anchor).days : (period.end - anchor).days + 1]
    return len(set().union(*inside)), sum(len(members) for members in inside)


def _week_number(monday: date, anchor: date) -> int:
    return (monday - anchor).days // 7


def _lifecycle(counts: _Counts, mondays: list[date], anchor: date) -> list[LifecycleWeek]:
    out = []
    for monday in mondays:
        w = _week_number(monday, anchor)
        active = new = returning = dormant = 0
        for (week, after, seen), n in counts.weeks.items():
            if week == w:
                active += n
                new += n if seen == w else 0
            elif week == w - 1:
                # active the week before: returning if active again, else dormant (a member
                # active before this week was first seen before it, so is never new in it)
                if after:
                    returning += n
                else:
                    dormant += n
        out.append(LifecycleWeek(monday, new, returning, active - new - returning, dormant))
    return out


def retention_start(period: Period) -> date:
    """The Monday of the first cohort the retention table shows: the first week that
    begins inside ``period`` (a cohort of a week begun before it would count members first
    seen outside the period), at most ``RETENTION_WEEKS`` weeks before its last week."""
    first_monday = period.start + timedelta(days=(7 - period.start.weekday()) % 7)
    return max(first_monday, week_start(period.end) - timedelta(weeks=RETENTION_WEEKS - 1))


def _retention(
    counts: _Counts, sizes: dict[int, int], first_week: date, last: date, anchor: date
) -> list[RetentionCohort]:
    active_in: dict[tuple[int, int], int] = defaultdict(int)
    for (week, _after, seen), n in counts.weeks.items():
        if seen is not None:
            active_in[(seen, week)] += n
    out = []
    # the weeks from the first cohort's to the last one's (none when no week begins in the
    # period); each cohort is followed up to the period's last week
    weeks = max(0, _week_number(week_start(last), anchor) - _week_number(first_week, anchor) + 1)
    for i in range(weeks):
        monday = first_week + timedelta(weeks=i)
        cohort = _week_number(monday, anchor)
        size = sizes.get(cohort, 0)
        active: list[int | None] = []
        for offset in range(weeks - i):
            if monday + timedelta(weeks=offset) > last:
                active.append(None)
            else:
                active.append(active_in.get((cohort, cohort + offset), 0))
        out.append(RetentionCohort(monday, size, active))
    return out


def headline(report: Adoption, _: Callable[..., str]) -> list[Figure]:
    """The page's headline figures: (id, label, value, definition)."""
    return [
        (
            "active",
            _("Active members"),
            report.active_members,
            _("Members active at least once in the period."),
        ),
        (
            "mean-dau",
            _("Mean DAU"),
            report.mean_dau,
            _("Average of the daily active members over the days of the period."),
        ),
        (
            "new",
            _("New members"),
            report.new_members,
            _("Members first seen in the period."),
        ),
        (
            "activated",
            _("Activated"),
            report.activated_members,
            _(
                "Members who reached every step of the community's checklist, by the end of the period."
            ),
        ),
        (
            "new-activated",
            _("Newcomers activated"),
            f"{report.new_activated} / {report.new_members}",
            _("New members of the period who are activated."),
        ),
        (
            "stickiness",
            _("Stickiness"),
            None if report.stickiness is None else f"{report.stickiness:g}%",
            _(
                "Mean DAU divided by the members active in the period (DAU/MAU for a 30-day period)."
            ),
        ),
    ]


def definitions(_: Callable[..., str]) -> list[tuple[str, str]]:
    """Terms of the page, defined."""
    return [
        (
            _("Active"),
            _(
                "A member is active on a day when they did something on the hub that day in this community: ran code, opened a notebook or a terminal, started a server, completed an exercise."
            ),
        ),
        (
            _("DAU, WAU, MAU"),
            _(
                "Members active that day; in the 7 days ending that day; in the 30 days ending that day."
            ),
        ),
        (_("New"), _("Members first seen in the period.")),
        (
            _("Activated"),
            _(
                "Members who reached every step of their community's checklist; activated on the day they reached the last one."
            ),
        ),
        (
            _("Stickiness"),
            _("Mean DAU over the period divided by the members active in the period."),
        ),
        (
            _("Lifecycle"),
            _(
                "Each week: new (first seen that week), returning (also active the week before), resurrected (not active the week before, seen earlier), dormant (active the week before, not this week)."
            ),
        ),
        (
            _("Retention"),
            _(
                "Members first seen in a week (a cohort) who were active in each following week, as a count and a percent of the cohort."
            ),
        ),
        (
            _("Excluded"),
            _("Staff and service accounts configured as excluded are left out of every figure."),
        ),
    ]
