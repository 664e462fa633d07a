"""Compute use of a community: server sessions, server-hours, environments, sizes and apps.

Definitions (printed on the page):

- A **session** is one start of a member's server (default or named), as the collector saw
  it; the period holds the sessions started in it.
- **Server-hours** of a session: from its start to its end (``server_sessions.ended``: its
  stop, else its last activity plus the hub's idle-cull timeout, never after the server's
  next start), counted within the period and up to now. A server runs one session at a time,
  so a member's hours in a period never exceed its length per server.
- **Environment**: JupyterLab, RStudio, or other images, read from the image or profile the
  member chose (``unknown`` when the spawner does not say).
- **Apps**: time and active days per app (JupyterLab, RStudio or another app behind
  jupyter-server-proxy, terminal), from the server extension's activity windows: a minute of
  an app's use counts once, whatever else ran in that minute.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select

from ..store import Store
from ..store import tables as t
from ..timeutil import utcnow
from .common import Period, not_excluded, seconds_sum

JUPYTERLAB = "JupyterLab"
RSTUDIO = "RStudio"
OTHER = "other"
UNKNOWN = "unknown"

#: how the server extension's app ids read (other proxied apps keep their own name)
APP_NAMES = {"jupyterlab": JUPYTERLAB, "rstudio": RSTUDIO}


def session_end(dialect: str, now: datetime, until: datetime) -> ColumnElement:
    """A session's end as reports count it, as SQL: its projected end, but not after ``now``
    (a server still running) nor after ``until`` (the period's end)."""
    s = t.server_sessions.c
    least = func.least if dialect == "postgresql" else func.min
    return least(func.coalesce(s.ended, s.started), now, until)


def environment_kind(environment: str | None, profile: str | None = None) -> str:
    """JupyterLab, RStudio, other or unknown, from an image name or a profile."""
    text = " ".join(x for x in (environment, profile) if x).lower()
    if not text:
        return UNKNOWN
    if "rstudio" in text or "rocker" in text or text.split(":")[0].endswith("/r"):
        return RSTUDIO
    if any(word in text for word in ("jupyter", "lab", "python", "notebook", "scipy", "pangeo")):
        return JUPYTERLAB
    return OTHER


@dataclass
class UsageDay:
    day: date
    sessions: int
    hours: float


@dataclass
class MixRow:
    name: str
    sessions: int
    members: int
    hours: float


@dataclass
class AppRow:
    app: str
    members: int
    active_days: int
    hours: float

    @property
    def name(self) -> str:
        return APP_NAMES.get(self.app, self.app)


@dataclass
class Usage:
    community: str
    period: Period
    sessions: int
    members: int
    hours: float
    daily: list[UsageDay]
    environments: list[MixRow]
    sizes: list[MixRow]
    images: list[MixRow]
    apps: list[AppRow]

    def to_json(self) -> dict[str, Any]:
        return {
            "community": self.community,
            "period": self.period.to_json(),
            "summary": {
                "sessions": self.sessions,
                "members": self.members,
                "server_hours": self.hours,
            },
            "daily": [
                {"day": d.day.isoformat(), "sessions": d.sessions, "server_hours": d.hours}
                for d in self.daily
            ],
            "environments": [r.__dict__ for r in self.environments],
            "sizes": [r.__dict__ for r in self.sizes],
            "images": [r.__dict__ for r in self.images],
            "apps": [{"name": r.name, **r.__dict__} for r in self.apps],
        }


def usage(store: Store, community: str, period: Period, now: datetime | None = None) -> Usage:
    """Sessions started in ``period`` in ``community``, with their server-hours, and the
    time spent in each app in the period."""
    s = t.server_sessions.c
    now = now or utcnow()
    until = min(now, period.end_time)
    with store.connect() as conn:
        # the period's sessions (a few hundred rows, from the index): their hours are split
        # over the days they ran, which SQL would do far less plainly
        sessions = conn.execute(
            select(s.member_id, s.started, s.ended, s.environment, s.profile, s.size).where(
                s.hub == store.hub,
                s.community == community,
                s.started >= period.start_time,
                s.started < period.end_time,
                not_excluded(store, s.member_id),
            )
        ).all()
        apps = app_usage(conn, store, community, period)

    by_day: dict[date, list] = defaultdict(lambda: [0, 0.0])
    # per (environment, profile, size): [sessions, members, seconds]
    by_kind: dict[tuple, list] = defaultdict(lambda: [0, set(), 0.0])
    members = set()
    for member_id, started, ended, environment, profile, size in sessions:
        end = min(ended or started, until)
        by_day[started.date()][0] += 1
        for day, seconds in _split_by_day(started, end):
            by_day[day][1] += seconds
        kind = by_kind[(environment, profile, size)]
        kind[0] += 1
        kind[1].add(member_id)
        kind[2] += max((end - started).total_seconds(), 0.0)
        members.add(member_id)
    envs: dict[str, list] = defaultdict(lambda: [0, set(), 0.0])
    sizes: dict[str, list] = defaultdict(lambda: [0, set(), 0.0])
    images: dict[str, list] = defaultdict(lambda: [0, set(), 0.0])
    for (environment, profile, size), (count, who, sec) in by_kind.items():
        for table, key in (
            (envs, environment_kind(environment, profile)),
            (sizes, size or UNKNOWN),
            (images, environment or profile or UNKNOWN),
        ):
            table[key][0] += count
            table[key][1] |= who
            table[key][2] += sec
    days = {d: UsageDay(d, n, _hours(sec)) for d, (n, sec) in by_day.items()}
    return Usage(
        community=community,
        period=period,
        sessions=len(sessions),
        members=len(members),
        hours=_hours(sum(sec for _, sec in by_day.values())),
        daily=[days.get(d) or UsageDay(d, 0, 0.0) for d in period.each_day()],
        environments=_mix(envs),
        sizes=_mix(sizes),
        images=_mix(images),
        apps=apps,
    )


def app_usage(conn, store: Store, community: str, period: Period) -> list[AppRow]:
    """Per app: members who used it, their active days and hours in ``period``, most used
    first."""
    a = t.app_activity.c
    rows = conn.execute(
        select(a.app, func.count(func.distinct(a.member_id)), func.count(), func.sum(a.seconds))
        .where(
            a.hub == store.hub,
            a.community == community,
            a.day >= period.start,
            a.day <= period.end,
            not_excluded(store, a.member_id),
        )
        .group_by(a.app)
    ).all()
    apps = [AppRow(app, int(who), int(days), _hours(sec)) for app, who, days, sec in rows]
    return sorted(apps, key=lambda r: (-r.hours, -r.active_days, r.app))


def _split_by_day(start: datetime, end: datetime):
    """(day, seconds) of the time from ``start`` to ``end``, day by day."""
    while start < end:
        midnight = datetime.combine(start.date() + timedelta(days=1), datetime.min.time())
        stop = min(midnight, end)
        yield start.date(), (stop - start).total_seconds()
        start = stop


@dataclass
class UsageTotals:
    sessions: int
    members: int
    hours: float


def usage_totals(
    store: Store, community: str, period: Period, now: datetime | None = None
) -> UsageTotals:
    """The summary figures of ``usage`` alone (a month report's month before)."""
    s = t.server_sessions.c
    now = now or utcnow()
    with store.connect() as conn:
        ended = session_end(conn.dialect.name, now, period.end_time)
        count, members, seconds = conn.execute(
            select(
                func.count(),
                func.count(func.distinct(s.member_id)),
                seconds_sum(conn.dialect.name, s.started, ended),
            ).where(
                s.hub == store.hub,
                s.community == community,
                s.started >= period.start_time,
                s.started < period.end_time,
                not_excluded(store, s.member_id),
            )
        ).one()
    return UsageTotals(int(count), int(members), _hours(seconds))


def _mix(table: dict[str, list]) -> list[MixRow]:
    rows = [MixRow(name, n, len(who), _hours(sec)) for name, (n, who, sec) in table.items()]
    return sorted(rows, key=lambda r: (-r.sessions, r.name))


def _hours(seconds: float | None) -> float:
    return round(float(seconds or 0) / 3600, 2)
