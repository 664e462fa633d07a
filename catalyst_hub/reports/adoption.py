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

from sqlalchemy import and_, func, select

from ..store import Store
from ..store import tables as t
from .common import Period, as_date, not_excluded, percent, week_start, weeks_between

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


def _activity(store: Store, conn, community: str, first: date, last: date) -> dict[str, set[date]]:
    """Days each member was active in ``community`` between ``first`` and ``last``."""
    da = t.daily_activity.c
    rows = conn.execute(
        select(da.member_id, da.day).where(
            da.hub == store.hub,
            da.community == community,
            da.day >= first,
            da.day <= last,
            not_excluded(store, da.member_id),
        )
    ).all()
    days: dict[str, set[date]] = defaultdict(set)
    for member_id, day in rows:
        days[member_id].add(as_date(day))
    return days


def _first_seen(
    store: Store, conn, community: str, since: datetime | None = None
) -> dict[str, datetime]:
    """First-seen time of the community's members (first seen at or after ``since``)."""
    m = t.members.c
    query = select(m.member_id, m.first_seen).where(
        m.hub == store.hub, m.community == community, not_excluded(store, m.member_id)
    )
    if since is not None:
        query = query.where(m.first_seen >= since)
    return dict(conn.execute(query).all())


def activated_members(store: Store, conn, community: str) -> dict[str, datetime]:
    """Members of ``community`` who reached every checklist step, with when they finished."""
    checklist = [s.id for s in store.catalog.steps_for(community)]
    if not checklist:
        return {}
    ms, m = t.member_steps.c, t.members.c
    rows = conn.execute(
        select(ms.member_id, func.max(ms.reached))
        .select_from(
            t.member_steps.join(t.members, and_(m.hub == ms.hub, m.member_id == ms.member_id))
        )
        .where(
            m.hub == store.hub,
            m.community == community,
            ms.step.in_(checklist),
            not_excluded(store, m.member_id),
        )
        .group_by(ms.member_id)
        .having(func.count() == len(checklist))
    ).all()
    return dict(rows)


def adoption(store: Store, community: str, period: Period) -> Adoption:
    """The adoption report of ``community`` over ``period``."""
    retention_from = week_start(period.end) - timedelta(weeks=RETENTION_WEEKS - 1)
    lifecycle_weeks = weeks_between(period.start, period.end)
    first = min(
        period.start - timedelta(days=29), retention_from, lifecycle_weeks[0] - timedelta(days=7)
    )
    with store.connect() as conn:
        days = _activity(store, conn, community, first, period.end)
        first_seen = _first_seen(store, conn, community)
        done = activated_members(store, conn, community)

    # rolling windows: count, for each day, the members with an active day in the window
    by_day: dict[date, set[str]] = defaultdict(set)
    for member_id, active_days in days.items():
        for day in active_days:
            by_day[day].add(member_id)
    daily = []
    for day in period.each_day():
        week = set().union(*(by_day.get(day - timedelta(days=i), ()) for i in range(7)))
        month = week.union(*(by_day.get(day - timedelta(days=i), ()) for i in range(7, 30)))
        daily.append(DailyActive(day, len(by_day.get(day, ())), len(week), len(month)))

    in_period = {
        member_id
        for member_id, active_days in days.items()
        if any(period.start <= d <= period.end for d in active_days)
    }
    new = {mid for mid, seen in first_seen.items() if period.start_time <= seen < period.end_time}
    end_time = period.end_time
    activated = {mid for mid, when in done.items() if when < end_time}

    return Adoption(
        community=community,
        period=period,
        daily=daily,
        active_members=len(in_period),
        new_members=len(new),
        activated_members=len(activated),
        activated_in_period=sum(1 for mid in activated if done[mid] >= period.start_time),
        new_activated=len(new & activated),
        mean_dau=round(sum(r.dau for r in daily) / len(daily), 2) if daily else 0.0,
        checklist=[s.id for s in store.catalog.steps_for(community)],
        lifecycle=_lifecycle(days, first_seen, lifecycle_weeks, period.end),
        retention=_retention(days, first_seen, retention_from, period.end),
    )


def _active_in_week(days: dict[str, set[date]], monday: date, last: date) -> set[str]:
    sunday = min(monday + timedelta(days=6), last)
    return {mid for mid, active in days.items() if any(monday <= d <= sunday for d in active)}


def _lifecycle(
    days: dict[str, set[date]], first_seen: dict[str, datetime], weeks: list[date], last: date
) -> list[LifecycleWeek]:
    out = []
    before = _active_in_week(days, weeks[0] - timedelta(days=7), last)
    for monday in weeks:
        now = _active_in_week(days, monday, last)
        start = datetime.combine(monday, datetime.min.time())
        new = {
            m for m in now if m in first_seen and start <= first_seen[m] < start + timedelta(days=7)
        }
        returning = (now - new) & before
        resurrected = now - new - before
        out.append(
            LifecycleWeek(monday, len(new), len(returning), len(resurrected), len(before - now))
        )
        before = now
    return out


def _retention(
    days: dict[str, set[date]], first_seen: dict[str, datetime], first_week: date, last: date
) -> list[RetentionCohort]:
    cohorts: dict[date, set[str]] = defaultdict(set)
    for mid, seen in first_seen.items():
        week = week_start(seen.date())
        if first_week <= week <= last:
            cohorts[week].add(mid)
    out = []
    for i in range(RETENTION_WEEKS):
        monday = first_week + timedelta(weeks=i)
        members = cohorts.get(monday, set())
        active: list[int | None] = []
        for offset in range(RETENTION_WEEKS - i):
            week = monday + timedelta(weeks=offset)
            if week > last:
                active.append(None)
                continue
            sunday = min(week + timedelta(days=6), last)
            active.append(
                sum(1 for mid in members if any(week <= d <= sunday for d in days.get(mid, ())))
            )
        out.append(RetentionCohort(monday, len(members), active))
    return out
