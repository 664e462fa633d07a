"""Compute use of a community: server sessions, server-hours, environments and sizes.

Definitions (printed on the page):

- A **session** is one start of a member's server (default or named), as the collector saw
  it; the period holds the sessions started in it.
- **Server-hours** of a session: from its start to its stop; for a server still running, to
  its last activity, else to now.
- **Environment**: JupyterLab, RStudio, or other images, read from the image or profile the
  member chose (``unknown`` when the spawner does not say).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from ..store import Store
from ..store import tables as t
from ..timeutil import utcnow
from .common import Period, as_date, not_excluded, seconds_sum

JUPYTERLAB = "JupyterLab"
RSTUDIO = "RStudio"
OTHER = "other"
UNKNOWN = "unknown"


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
        }


def usage(store: Store, community: str, period: Period, now: datetime | None = None) -> Usage:
    """Sessions started in ``period`` in ``community``, with their server-hours."""
    s = t.server_sessions.c
    now = now or utcnow()
    where = (
        s.hub == store.hub,
        s.community == community,
        s.started >= period.start_time,
        s.started < period.end_time,
        not_excluded(store, s.member_id),
    )
    with store.connect() as conn:
        ended = func.coalesce(s.stopped, s.last_activity, now)
        seconds = seconds_sum(conn.dialect.name, s.started, ended)
        day = func.date(s.started)
        # per day and kind at once, one read of the period's sessions for both breakdowns
        # (a few hundred rows); seconds are added up as the database gives them (exact
        # decimals on PostgreSQL)
        groups = conn.execute(
            select(day, s.environment, s.profile, s.size, func.count(), seconds)
            .where(*where)
            .group_by(day, s.environment, s.profile, s.size)
        ).all()
        # distinct members per environment kind needs the member; group on it too (small)
        member_kinds = conn.execute(
            select(s.member_id, s.environment, s.profile, s.size).where(*where).distinct()
        ).all()

    by_day: dict[Any, list] = defaultdict(lambda: [0, 0])
    by_kind: dict[tuple, list] = defaultdict(lambda: [0, 0])
    for d, environment, profile, size, count, sec in groups:
        for totals in (by_day[d], by_kind[(environment, profile, size)]):
            totals[0] += count
            totals[1] += sec or 0
    per_kind = [(*kind, count, sec) for kind, (count, sec) in by_kind.items()]
    daily = {as_date(d): UsageDay(as_date(d), n, _hours(sec)) for d, (n, sec) in by_day.items()}
    envs: dict[str, list] = defaultdict(lambda: [0, set(), 0.0])
    sizes: dict[str, list] = defaultdict(lambda: [0, set(), 0.0])
    images: dict[str, list] = defaultdict(lambda: [0, set(), 0.0])
    for environment, profile, size, count, sec in per_kind:
        for table, key in (
            (envs, environment_kind(environment, profile)),
            (sizes, size or UNKNOWN),
            (images, environment or profile or UNKNOWN),
        ):
            table[key][0] += count
            table[key][2] += float(sec or 0)
    members = set()
    kinds: dict[tuple[str | None, str | None], str] = {}
    for member_id, environment, profile, size in member_kinds:
        members.add(member_id)
        kind = kinds.get((environment, profile))
        if kind is None:
            kind = kinds[(environment, profile)] = environment_kind(environment, profile)
        envs[kind][1].add(member_id)
        sizes[size or UNKNOWN][1].add(member_id)
        images[environment or profile or UNKNOWN][1].add(member_id)

    total_sessions = sum(d.sessions for d in daily.values())
    total_seconds = sum(float(sec or 0) for *_, sec in per_kind)
    return Usage(
        community=community,
        period=period,
        sessions=total_sessions,
        members=len(members),
        hours=_hours(total_seconds),
        daily=[daily.get(d) or UsageDay(d, 0, 0.0) for d in period.each_day()],
        environments=_mix(envs),
        sizes=_mix(sizes),
        images=_mix(images),
    )


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
        ended = func.coalesce(s.stopped, s.last_activity, now)
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
