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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, select

from ..store import Store
from ..store import tables as t
from ..timeutil import utcnow
from .common import (
    Figure,
    Period,
    as_date,
    communities_of,
    in_communities,
    local_date,
    not_excluded,
    seconds_between,
    seconds_sum,
)

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
    """Sessions started in ``period`` in ``community``, with their server-hours (within the
    period, on the day each started), and the time spent in each app in the period."""
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
        ended = session_end(conn.dialect.name, now, period.end_time)
        seconds = seconds_sum(conn.dialect.name, s.started, ended)
        # the day each started, in the hub's time zone
        day = local_date(
            conn.dialect.name, s.started, period.zone, period.start_time, period.end_time
        )
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
        apps = app_usage(conn, store, community, period)

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
        apps=apps,
    )


def app_usage(conn: Connection, store: Store, community: str, period: Period) -> list[AppRow]:
    """Per app: members who used it, their active days and hours in ``period``, most used
    first."""
    return app_usage_by_community(conn, store, period, [community]).get(community, [])


def app_usage_by_community(
    conn: Connection, store: Store, period: Period, communities: Iterable[str] | None = None
) -> dict[str, list[AppRow]]:
    """``app_usage`` of each of ``communities`` (None: all) at once."""
    a = t.app_activity.c
    rows = conn.execute(
        select(
            a.community,
            a.app,
            func.count(func.distinct(a.member_id)),
            func.count(),
            func.sum(a.seconds),
        )
        .where(
            a.hub == store.hub,
            in_communities(a.community, communities),
            a.day >= period.start,
            a.day <= period.end,
            not_excluded(store, a.member_id),
        )
        .group_by(a.community, a.app)
    ).all()
    apps: dict[str, list[AppRow]] = defaultdict(list)
    for community, app, who, days, sec in rows:
        apps[community].append(AppRow(app, int(who), int(days), _hours(sec)))
    return {
        c: sorted(rows, key=lambda r: (-r.hours, -r.active_days, r.app)) for c, rows in apps.items()
    }


@dataclass
class UsageTotals:
    sessions: int
    members: int
    hours: float


def usage_totals(
    store: Store, community: str, period: Period, now: datetime | None = None
) -> UsageTotals:
    """The summary figures of ``usage`` alone (a month report's month before)."""
    found = session_totals(store, period.start_time, period.end_time, now, [community])
    sessions, members, seconds = found.get(community, (0, 0, 0.0))
    return UsageTotals(sessions, members, _hours(seconds))


def session_totals(
    store: Store,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
    communities: Iterable[str] | None = None,
) -> dict[str, tuple[int, int, float]]:
    """Per community of ``communities`` (None: all): sessions started from ``start`` to
    before ``end``, members who started them, and their server-seconds up to ``end`` and
    ``now`` (as ``usage`` counts them)."""
    s = t.server_sessions.c
    now = now or utcnow()
    with store.connect() as conn:
        ended = session_end(conn.dialect.name, now, end)
        rows = conn.execute(
            select(
                s.community,
                func.count(),
                func.count(func.distinct(s.member_id)),
                seconds_sum(conn.dialect.name, s.started, ended),
            )
            .where(
                s.hub == store.hub,
                in_communities(s.community, communities),
                s.started >= start,
                s.started < end,
                not_excluded(store, s.member_id),
            )
            .group_by(s.community)
        ).all()
    return {c: (int(n), int(who), float(sec or 0)) for c, n, who, sec in rows}


def session_totals_within(
    store: Store,
    starts: Sequence[datetime],
    now: datetime,
    communities: Iterable[str] | None = None,
) -> dict[str, list[tuple[int, int, float]]]:
    """``session_totals`` from each of ``starts`` to ``now``, per community, from one read of
    the sessions since the earliest start (the scrape's rolling windows): for each start,
    sessions, members and server-seconds up to now.

    With an explicit list of communities (every one with a session when None), so each is
    a range of the (community, started) index: without one, each window read every session
    the hub ever had."""
    s = t.server_sessions.c
    with store.connect() as conn:
        dialect = conn.dialect.name
        names = (
            sorted(communities)
            if communities is not None
            else communities_of(conn, store, t.server_sessions)
        )
        ended = session_end(dialect, now, now)
        columns = []
        for start in starts:
            inside = s.started >= start
            seconds: ColumnElement[Any]
            if dialect == "postgresql":
                seconds = func.extract("epoch", func.sum(case((inside, ended - s.started))))
            else:
                seconds = func.sum(case((inside, seconds_between(dialect, s.started, ended))))
            columns += [
                func.count(case((inside, 1))),
                func.count(func.distinct(case((inside, s.member_id)))),
                seconds,
            ]
        rows = conn.execute(
            select(s.community, *columns)
            .where(
                s.hub == store.hub,
                s.community.in_(names),
                s.started >= min(starts),
                s.started < now,
                not_excluded(store, s.member_id),
            )
            .group_by(s.community)
        ).all()
    out = {}
    for community, *figures in rows:
        out[community] = [
            (int(figures[i] or 0), int(figures[i + 1] or 0), float(figures[i + 2] or 0))
            for i in range(0, len(figures), 3)
        ]
    return out


def _mix(table: dict[str, list]) -> list[MixRow]:
    rows = [MixRow(name, n, len(who), _hours(sec)) for name, (n, who, sec) in table.items()]
    return sorted(rows, key=lambda r: (-r.sessions, r.name))


def _hours(seconds: float | None) -> float:
    return round(float(seconds or 0) / 3600, 2)


def headline(report: Usage, _: Callable[..., str]) -> list[Figure]:
    """The page's headline figures: (id, label, value, definition)."""
    return [
        ("sessions", _("Sessions"), report.sessions, _("Server starts in the period.")),
        (
            "members",
            _("Members with a session"),
            report.members,
            _("Members who started a server in the period."),
        ),
        (
            "hours",
            _("Server-hours"),
            report.hours,
            _(
                "From each session's start to its stop, within the period; a session with no recorded stop ends at its last activity plus the idle-cull timeout."
            ),
        ),
    ]


def definitions(_: Callable[..., str]) -> list[tuple[str, str]]:
    """Terms of the page, defined."""
    return [
        (
            _("Session"),
            _(
                "One start of a member's server, as the collector saw it; the period holds the sessions started in it."
            ),
        ),
        (
            _("Server-hours"),
            _(
                "From a session's start to its stop, within the period. A session with no recorded stop ends at its last activity plus the hub's idle-cull timeout; a new start of the same server ends the previous session."
            ),
        ),
        (
            _("Time per app"),
            _(
                "Hours and active days in JupyterLab, RStudio or another app behind the proxy, and in terminals, from the activity the server extension sees; a minute counts once per app."
            ),
        ),
        (
            _("Environment"),
            _(
                "JupyterLab, RStudio or other, read from the image or profile chosen; unknown when the spawner does not say."
            ),
        ),
    ]
