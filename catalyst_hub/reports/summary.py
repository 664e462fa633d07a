"""The summary a hub publishes to its consortium: per community, per month and per day.

A consortium (``catalyst_hub.consortium``) is outside every community: what it receives has
gone through the suppression policy (``reports.suppression``) here, at the source. The unit
is one calendar month of one community: its days (closed days, and today as a provisional
figure) and its month totals, in one table of figures and relations, so that nothing hidden
on one day can be worked out from the month's total and the other days (or the other way
round). The month figures are the month report's (``reports.monthly``), so where k allows
the consortium shows exactly what the hub's own month page shows.

No member id, username, event id or free text a member typed is in a summary: only
community names (the hub's configuration), step ids (the catalog), app names from a fixed
list, dates and counts. The document's format is ``consortium/schemas/summary/v1.json``.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, case, func, select

from ..store import Store
from ..store import tables as t
from ..timeutil import utcnow
from .common import Period, as_date, communities_of, not_excluded
from .monthly import month_report
from .suppression import Figures, suppress, to_json

SCHEMA = "catalyst.consortium.summary"
SCHEMA_VERSION = 1

#: Apps whose time is published (an ``activity`` event's app is the member's own text:
#: only these well-known names leave the hub)
PUBLISHED_APPS = ("jupyterlab", "rstudio", "terminal", "vscode", "proxy")

#: the program whose completion makes a champion (the packaged catalog's)
CHAMPION_PROGRAM = "champions"

DAY_FIGURES = ("active_day", "active_7d", "active_30d", "new_members", "activated")
MONTH_FIGURES = (
    "members",
    "active_members",
    "mean_dau",
    "new_members",
    "activated_in_period",
    "learners",
    "episodes_completed",
    "champions_trained",
    "sessions",
    "server_hours",
    "badges_issued",
)


@dataclass
class _Month:
    """One community's unsuppressed figures of a month (internal: suppress before sending)."""

    community: str
    period: Period
    month: dict[str, Any]
    session_members: int
    completers: int
    steps: dict[str, int]
    apps: dict[str, tuple[int, float]]
    days: dict[date, dict[str, int]]
    #: members who received the month's badges (what ``badges_issued`` describes)
    badge_earners: int = 0


def month_of(day: date) -> date:
    return day.replace(day=1)


def month_period(first: date, today: date) -> Period:
    """The month beginning ``first``, up to ``today`` when it is the current month."""
    whole = Period.month(first.year, first.month)
    return Period(whole.start, min(whole.end, today))


def _per_day(store: Store, community: str, period: Period) -> dict[date, dict[str, int]]:
    """New and activated members per day of ``period``."""
    m = t.members.c
    out: dict[date, dict[str, int]] = defaultdict(lambda: {"new_members": 0, "activated": 0})
    with store.connect() as conn:
        for column, key in ((m.first_seen, "new_members"), (m.activated, "activated")):
            day = func.date(column)
            rows = conn.execute(
                select(day, func.count())
                .where(
                    m.hub == store.hub,
                    m.community == community,
                    column >= period.start_time,
                    column < period.end_time,
                    not_excluded(store, m.member_id),
                )
                .group_by(day)
            ).all()
            for d, n in rows:
                out[as_date(d)][key] = int(n)
    return out


def _month_extras(
    store: Store, community: str, period: Period, checklist: list[str], champion_episodes: int
) -> dict[str, Any]:
    """Members at the month's end, steps reached, episodes and champions of the month."""
    m, ms, tp = t.members.c, t.member_steps.c, t.training_progress.c
    in_month = and_(tp.completed >= period.start_time, tp.completed < period.end_time)
    with store.connect() as conn:
        members = conn.execute(
            select(func.count()).where(
                m.hub == store.hub,
                m.community == community,
                m.first_seen < period.end_time,
                not_excluded(store, m.member_id),
            )
        ).scalar_one()
        steps: dict[str, int] = dict(
            conn.execute(
                select(ms.step, func.count())
                .where(
                    ms.hub == store.hub,
                    ms.community == community,
                    ms.reached >= period.start_time,
                    ms.reached < period.end_time,
                    not_excluded(store, ms.member_id),
                )
                .group_by(ms.step)
            ).all()
        )
        completed, completers = conn.execute(
            select(func.count(), func.count(func.distinct(tp.member_id))).where(
                tp.hub == store.hub, tp.community == community, in_month
            )
        ).one()
        champions = 0
        if champion_episodes:
            per_member = (
                select(func.max(tp.completed).label("last"))
                .where(
                    tp.hub == store.hub,
                    tp.community == community,
                    tp.lesson.in_(_champion_lessons(store)),
                    tp.completed.is_not(None),
                    not_excluded(store, tp.member_id),
                )
                .group_by(tp.member_id)
                .having(func.count() >= champion_episodes)
                .subquery()
            )
            champions = conn.execute(
                select(
                    func.sum(
                        case(
                            (
                                and_(
                                    per_member.c.last >= period.start_time,
                                    per_member.c.last < period.end_time,
                                ),
                                1,
                            ),
                            else_=0,
                        )
                    )
                )
            ).scalar_one()
    return {
        "members": int(members),
        "steps": {s: int(steps.get(s, 0)) for s in checklist},
        "episodes_completed": int(completed or 0),
        "completers": int(completers or 0),
        "champions_trained": int(champions or 0),
    }


def _champion_lessons(store: Store) -> list[str]:
    for program in store.catalog.programs:
        if program.id == CHAMPION_PROGRAM:
            return [lesson.id for lesson in program.lessons]
    return []


def _champion_episodes(store: Store) -> int:
    for program in store.catalog.programs:
        if program.id == CHAMPION_PROGRAM:
            return sum(len(lesson.episodes) for lesson in program.lessons)
    return 0


def community_month(store: Store, community: str, first: date, today: date) -> _Month:
    """The unsuppressed figures of ``community`` in the month beginning ``first``."""
    period = month_period(first, today)
    report = month_report(store, community, first.year, first.month, today=today)
    values = {f.key: f.value for f in report.figures}
    checklist = [s.id for s in store.catalog.steps_for(community)]
    extras = _month_extras(store, community, period, checklist, _champion_episodes(store))
    per_day = _per_day(store, community, period)
    days: dict[date, dict[str, int]] = {}
    for row in report.adoption.daily:
        counts = per_day.get(row.day, {"new_members": 0, "activated": 0})
        days[row.day] = {
            "active_day": row.dau,
            "active_7d": row.wau,
            "active_30d": row.mau,
            "new_members": counts["new_members"],
            "activated": counts["activated"],
        }
    apps = {a.app: (a.members, a.hours) for a in report.usage.apps if a.app in PUBLISHED_APPS}
    month = {
        "members": extras["members"],
        "active_members": values["active_members"],
        "mean_dau": values["mean_dau"],
        "new_members": values["new_members"],
        "activated_in_period": values["activated_in_period"],
        "learners": values["learners"],
        "episodes_completed": extras["episodes_completed"],
        "champions_trained": extras["champions_trained"],
        "sessions": values["sessions"],
        "server_hours": values["server_hours"],
        "badges_issued": report.badges.badges,
    }
    return _Month(
        community,
        period,
        month,
        report.usage.members,
        extras["completers"],
        extras["steps"],
        apps,
        days,
        report.badges.earners,
    )


def month_figures(data: _Month) -> Figures:
    """The month's figures and every relation a reader could use between them: the days'
    windows of activity, the days adding up to the month, the parts of the members."""
    f = Figures()
    mo = data.month
    f.count("members", mo["members"])
    f.count("active_members", mo["active_members"])
    f.count("new_members", mo["new_members"])
    f.count("activated_in_period", mo["activated_in_period"])
    f.count("learners", mo["learners"])
    f.count("champions_trained", mo["champions_trained"])
    f.part_of("members", "active_members")
    f.part_of("members", "activated_in_period")
    f.part_of("active_members", "new_members")
    f.part_of("members", "champions_trained")
    f.count("session_members", data.session_members, shown=False)
    f.count("completers", data.completers, shown=False)
    f.derived("sessions", mo["sessions"], "session_members")
    f.derived("server_hours", mo["server_hours"], "session_members")
    f.derived("episodes_completed", mo["episodes_completed"], "completers")
    f.count("badge_earners", data.badge_earners, shown=False)
    f.part_of("members", "badge_earners")
    f.derived("badges_issued", mo["badges_issued"], "badge_earners")
    for step, n in data.steps.items():
        f.count(("step", step), n)
        f.part_of("members", ("step", step))
    for app, (who, hours) in data.apps.items():
        f.count(("app", app, "members"), who)
        f.part_of("active_members", ("app", app, "members"))
        f.derived(("app", app, "hours"), hours, ("app", app, "members"))
    day_active = []
    for day, figures in data.days.items():
        for key in DAY_FIGURES:
            f.count((day, key), figures[key])
        f.window_of((day, "active_30d"), (day, "active_7d"))
        f.window_of((day, "active_7d"), (day, "active_day"))
        f.part_of((day, "active_day"), (day, "new_members"))
        f.part_of("active_members", (day, "active_day"))
        day_active.append((day, "active_day"))
    if data.days:
        f.sum_of("new_members", *((d, "new_members") for d in data.days))
        f.sum_of("activated_in_period", *((d, "activated") for d in data.days))
    # the mean of the days' active members gives any one of them away from the others
    f.derived("mean_dau", mo["mean_dau"], "active_members", *day_active)
    return f


def suppressed_month(data: _Month, k: int, today: date) -> dict[str, Any]:
    """One community's month as it leaves the hub (JSON, values shown or suppressed)."""
    shown = suppress(month_figures(data), k)
    month = {key: to_json(shown[key]) for key in MONTH_FIGURES}
    return {
        "community": data.community,
        "month": data.period.start.isoformat()[:7],
        "through": data.period.end.isoformat(),
        "provisional": data.period.end >= today,
        "figures": month,
        "steps": {step: to_json(shown[("step", step)]) for step in data.steps},
        "apps": {
            app: {
                "members": to_json(shown[("app", app, "members")]),
                "hours": to_json(shown[("app", app, "hours")]),
            }
            for app in data.apps
        },
        "days": [
            {
                "day": day.isoformat(),
                "provisional": day >= today,
                "figures": {key: to_json(shown[(day, key)]) for key in DAY_FIGURES},
            }
            for day in data.days
        ],
    }


def hub_communities(store: Store) -> list[str]:
    with store.connect() as conn:
        return communities_of(conn, store, t.members)


def first_month(store: Store) -> date | None:
    """The month of the hub's first member (None before any)."""
    m = t.members.c
    with store.connect() as conn:
        first = conn.execute(select(func.min(m.first_seen)).where(m.hub == store.hub)).scalar_one()
    return None if first is None else month_of(first.date())


def month_summary(
    store: Store,
    first: date,
    k: int,
    today: date | None = None,
    communities: Iterable[str] | None = None,
    public: Iterable[str] = (),
) -> dict[str, Any]:
    """The hub's summary document of the month beginning ``first``: every community with a
    member by then (without ``hub``, ``sequence`` and ``generated``, which the publisher
    adds); the communities in ``public`` allow the consortium a public page of theirs."""
    public = set(public)
    today = today or utcnow().date()
    names = sorted(communities) if communities is not None else hub_communities(store)
    end = month_period(first, today).end_time
    m = t.members.c
    with store.connect() as conn:
        present = {
            c
            for (c,) in conn.execute(
                select(m.community)
                .where(m.hub == store.hub, m.first_seen < end, m.community.in_(names))
                .distinct()
            )
        }
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "month": first.isoformat()[:7],
        "min_group_size": k,
        "communities": [
            suppressed_month(community_month(store, c, first, today), k, today)
            | {"public": c in public}
            for c in names
            if c in present
        ],
    }


def fingerprint(document: dict[str, Any]) -> str:
    """What changes when the figures change (not the send time or the version)."""
    body = {k: v for k, v in document.items() if k not in ("hub", "sequence", "generated")}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def months_between(first: date, last: date) -> list[date]:
    out, month = [], month_of(first)
    while month <= last:
        out.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return out
