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
  active in each following week.
- **Lifecycle** of a week: active members who are *new* (first seen that week), *returning*
  (also active the week before), *resurrected* (not active the week before but seen earlier),
  and *dormant* ones (active the week before, not this week).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
    union_all,
)

from ..store import Store
from ..store import tables as t
from .common import Period, day_number, not_excluded, percent, week_start, weeks_between

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
    """What the database counts of a community's active days (day and week numbers from a
    Monday ``anchor``), from which the report's rows are sums."""

    #: day -> members with an active day then
    starts: dict[int, int]
    #: window (7, 30) -> day -> members whose span in that window ends then (see ``_counts``)
    ends: dict[int, dict[int, int]]
    #: (week, active the week after, week first seen or None) -> members active that week
    weeks: dict[tuple[int, bool, int | None], int]


def _counts(
    store: Store,
    conn: Connection,
    community: str,
    first: date,
    last: date,
    anchor: date,
    weekly: bool,
) -> _Counts:
    """Count the community's active days between ``first`` and ``last`` in one query.

    Each active day ``d`` of a member, with their next active day (one window over the
    member's days), gives:

    - rolling windows: the day stands for the member in the window of every day from ``d``
      up to (not including) ``d + 7`` (or ``+ 30``) or their next active day, whichever comes
      first. These spans never overlap, so a day's WAU is the spans begun on or before it
      minus those ended on or before it: the database returns begun and ended per day.
    - weeks (``d // 7``): the member's last active day of a week tells whether they were
      active the week after, and stands for them in that week.
    """
    da, m = t.daily_activity.c, t.members.c
    # typed as integers, so that // is the engines' integer division (not FLOOR of a quotient)
    one, seven = literal_column("1", Integer), literal_column("7", Integer)
    base = (
        select(da.member_id, day_number(conn.dialect.name, da.day, anchor).label("d"))
        .where(
            da.hub == store.hub,
            da.community == community,
            da.day >= first,
            da.day <= last,
            not_excluded(store, da.member_id),
        )
        .subquery("active_days")
    )
    order = {"partition_by": base.c.member_id, "order_by": base.c.d}
    marked = select(
        base.c.member_id,
        base.c.d,
        func.lead(base.c.d).over(**order).label("nxt"),
    ).subquery("marked")
    x = marked.c

    def end(n: int):
        span = x.d + literal_column(str(n))
        return case((x.nxt < span, x.nxt), else_=span).label(f"end{n}")

    days = select(
        x.member_id,
        x.d,
        end(7),
        end(30),
        (type_coerce(x.d, Integer) // seven).label("w"),
        (type_coerce(x.nxt, Integer) // seven).label("nw"),
    ).cte("days")
    c = days.c
    null, zero = cast(literal_column("NULL"), Integer), literal_column("0", Integer)
    parts = [
        select(literal_column("0"), c.d, null, null, func.count()).group_by(c.d),
        select(literal_column("7"), c.end7, null, null, func.count()).group_by(c.end7),
        select(literal_column("30"), c.end30, null, null, func.count()).group_by(c.end30),
    ]
    if weekly:
        seen = case(
            (
                m.first_seen >= datetime.combine(anchor, datetime.min.time()),
                day_number(conn.dialect.name, m.first_seen, anchor) // seven,
            ),
            else_=None,
        )
        lasts = (
            select(
                c.w,
                case((c.nw == c.w + one, one), else_=zero).label("after"),
                seen.label("fw"),
            )
            .select_from(
                days.outerjoin(
                    t.members,
                    and_(
                        m.hub == store.hub,
                        m.member_id == c.member_id,
                        m.community == community,
                        not_excluded(store, m.member_id),
                    ),
                )
            )
            .where(or_(c.nw.is_(None), c.nw > c.w))
            .subquery("lasts")
        )
        la = lasts.c
        parts.append(
            select(literal_column("1"), la.w, la.after, la.fw, func.count()).group_by(
                la.w, la.after, la.fw
            )
        )
    counts = _Counts(defaultdict(int), {7: defaultdict(int), 30: defaultdict(int)}, {})
    for kind, key, flag, fw, n in conn.execute(union_all(*parts)).all():
        kind, key, n = int(kind), int(key), int(n)
        if kind == 0:
            counts.starts[key] += n
        elif kind in (7, 30):
            counts.ends[kind][key] += n
        else:
            counts.weeks[(key, bool(flag), None if fw is None else int(fw))] = n
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


def _cohort_sizes(
    store: Store, conn: Connection, community: str, since: date, anchor: date
) -> dict[int, int]:
    """Members of ``community`` first seen since ``since`` (a Monday), per week from ``anchor``."""
    m = t.members.c
    weeks = (
        select(
            (
                day_number(conn.dialect.name, m.first_seen, anchor) // literal_column("7", Integer)
            ).label("fw")
        )
        .where(
            m.hub == store.hub,
            m.community == community,
            m.first_seen >= datetime.combine(since, datetime.min.time()),
            not_excluded(store, m.member_id),
        )
        .subquery("cohort_weeks")
    )
    rows = conn.execute(select(weeks.c.fw, func.count()).group_by(weeks.c.fw)).all()
    return {int(fw): int(n) for fw, n in rows}


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
    store: Store, conn: Connection, community: str, periods: list[Period], checklist: list[str]
) -> list[AdoptionSummary]:
    """Summary figures of several periods; who is activated is worked out once for all."""
    da, m = t.daily_activity.c, t.members.c
    out = []
    for period in periods:
        active_members, member_days = conn.execute(
            select(func.count(func.distinct(da.member_id)), func.count()).where(
                da.hub == store.hub,
                da.community == community,
                da.day >= period.start,
                da.day <= period.end,
                not_excluded(store, da.member_id),
            )
        ).one()
        new_members = conn.execute(
            select(func.count()).where(
                m.hub == store.hub,
                m.community == community,
                m.first_seen >= period.start_time,
                m.first_seen < period.end_time,
                not_excluded(store, m.member_id),
            )
        ).scalar_one()
        out.append([int(active_members), int(member_days), period.days, int(new_members)])
    activated = [(0, 0, 0)] * len(periods)
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
    when not ``weekly``; with the summary of a ``previous`` period to compare with). Every
    figure is counted in SQL; Python only adds up per-day and per-week counts, so the cost
    follows the period, not the history."""
    checklist = [s.id for s in store.catalog.steps_for(community)]
    retention_from = week_start(period.end) - timedelta(weeks=RETENTION_WEEKS - 1)
    lifecycle_weeks = weeks_between(period.start, period.end)
    first = period.start - timedelta(days=29)
    if weekly:
        first = min(first, retention_from, lifecycle_weeks[0] - timedelta(days=7))
    anchor = week_start(first)
    with store.connect() as conn:
        counts = _counts(store, conn, community, first, period.end, anchor, weekly)
        days = [(d - anchor).days for d in period.each_day()]
        daily = [
            DailyActive(day, *figures)
            for day, figures in zip(period.each_day(), _rolling(counts, days), strict=True)
        ]
        summary, *before = _summaries(
            store, conn, community, [period] + ([previous] if previous else []), checklist
        )
        lifecycle: list[LifecycleWeek] = []
        retention: list[RetentionCohort] = []
        if weekly:
            sizes = _cohort_sizes(store, conn, community, retention_from, anchor)
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


def _retention(
    counts: _Counts, sizes: dict[int, int], first_week: date, last: date, anchor: date
) -> list[RetentionCohort]:
    active_in: dict[tuple[int, int], int] = defaultdict(int)
    for (week, _after, seen), n in counts.weeks.items():
        if seen is not None:
            active_in[(seen, week)] += n
    out = []
    for i in range(RETENTION_WEEKS):
        monday = first_week + timedelta(weeks=i)
        cohort = _week_number(monday, anchor)
        size = sizes.get(cohort, 0)
        active: list[int | None] = []
        for offset in range(RETENTION_WEEKS - i):
            if monday + timedelta(weeks=offset) > last:
                active.append(None)
            else:
                active.append(active_in.get((cohort, cohort + offset), 0))
        out.append(RetentionCohort(monday, size, active))
    return out
