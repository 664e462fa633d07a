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

Across months. ``members`` is cumulative (members at the month's end), so the members of two
months differ by exactly the new members of the later one (both counted from the members
table with the same exclusions): a new_members hidden in one month's table would come back
from two shown members figures, and chains (members hidden in M, given back by members of
M+1 minus new_members of M+1) defeat any rule that looks at one or two months. So a history
pass (``member_history``) decides, per community, which of members and new_members of each
month are hidden, over every month so far with the relations ``members(M) = members(M-1) +
new_members(M)`` (and ``members = new_members`` in the community's first month), through the
same ``suppress``; the month tables take that decision as fixed (``Figures.pin``) and hide
other cells where they must (a day's new members rather than the month's).

The decision is made month after month, each month's with the months before it already
decided: it depends on the counts of that month and the months before only, never on which
months a pass recomputes nor on later months, so an old month's published table stays
consistent with the tables after it. A change in a month (late events, an erasure) can
change the decision of the months after it: the publisher recomputes every month whose
counts or decision changed (``history_key``).

No other figure sent is linked across months: steps reached, activated, champions, badges
issued, episodes and sessions count what happened in the month (no cumulative figure of
theirs is sent), apps and active members are distinct counts of the month; learners are
the community's learners to date, the same count in every month computed on a day, under
primary suppression only (no relation), so every month shows or hides it alike; the
rolling windows of the days (7 and 30 days, reaching into the month before) are distinct
counts too, not sums of days, so they are no linear relation (only bounds, which the
policy does not protect: a window contains its days' members, it is not their sum).

Across versions. The open month is sent again as days close and today's figures change (a
closed month again after late events or an erasure), and someone who reads the consortium
at two times can take the difference of two versions. ``MonthVersions`` carries what the
month's versions before did with each count of people (``store.publish_queue``'s
``consortium_versions``): a count that differs by 1 to k-1 from a value shown before is
hidden (``Figures.hide``: protected like any hidden cell, complementary cells chosen around
it), and a value hidden before stays hidden (shown now, next to the version that hid it
to protect another, it would give that one away). Not covered: the difference of a
combination across versions (members minus active members) where each figure moved by k
or more.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, case, func, select

from ..store import Store
from ..store import tables as t
from ..timeutil import utcnow
from .common import Period, Suppressed, as_date, communities_of, not_excluded
from .monthly import month_report
from .suppression import Figures, decide, to_json

log = logging.getLogger(__name__)

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


def month_figures(data: _Month, pins: Mapping[str, bool] | None = None) -> Figures:
    """The month's figures and every relation a reader could use between them: the days'
    windows of activity, the days adding up to the month, the parts of the members; with
    ``pins`` (figure: hidden), members and new_members as the history decided."""
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
    for name, hidden in (pins or {}).items():
        f.pin(name, hidden)
    return f


def cell_key(name: Any) -> str:
    """A cell of the month's table as ``consortium_versions`` names it: ``members``,
    ``step/login``, ``app/rstudio/members``, ``2026-12-05/active_day``."""
    return name if isinstance(name, str) else "/".join(str(part) for part in name)


@dataclass
class MonthVersions:
    """What earlier versions of a month's summary did with its counts of people (``before``:
    per community and cell, each value it had and whether one showed it), and what this
    version does (``now``, per community and cell: value, shown; filled in by
    ``month_summary``).

    Someone who reads the consortium at two times has two versions of the open month (and
    of a month late events changed): the difference of a count between them is a count of
    its own. So a new version hides a count whose value differs by 1 to k-1 from one shown
    before, and keeps hidden a value that was hidden before (its hiding protected another
    cell: shown now, next to an earlier version's figures, it would give that one away)."""

    before: Mapping[str, Mapping[str, Mapping[int, bool]]] = field(default_factory=dict)
    now: dict[str, dict[str, tuple[int, bool]]] = field(default_factory=dict)

    def withhold(self, community: str, figures: Figures, k: int) -> None:
        """Hide in ``figures`` (a table of ``community``) what the versions before rule out."""
        earlier = self.before.get(community)
        if not earlier:
            return
        for name in figures.people - figures.unshown:
            seen = earlier.get(cell_key(name))
            if not seen:
                continue
            value = figures.counts[name]
            if seen.get(value) is False or any(
                shown and 0 < abs(value - p) < k for p, shown in seen.items()
            ):
                figures.hide(name)

    def record(self, community: str, figures: Figures, shown: Mapping[Any, Any]) -> None:
        self.now[community] = {
            cell_key(name): (figures.counts[name], not isinstance(shown[name], Suppressed))
            for name in figures.people - figures.unshown
        }


def suppressed_month(
    data: _Month, k: int, today: date, pins: Mapping[str, bool] | None = None
) -> dict[str, Any]:
    """One community's month as it leaves the hub (JSON, values shown or suppressed)."""
    return month_document(data, k, today, pins)[0]


def month_document(
    data: _Month,
    k: int,
    today: date,
    pins: Mapping[str, bool] | None = None,
    versions: MonthVersions | None = None,
) -> tuple[dict[str, Any], set[str]]:
    """``suppressed_month``, and the pinned shown figures it had to hide all the same; with
    ``versions``, checked against the versions before and recorded in it."""
    figures = month_figures(data, pins)
    if versions is not None:
        versions.withhold(data.community, figures, k)
    decision = decide(figures, k)
    shown = decision.shown
    if versions is not None:
        versions.record(data.community, figures, shown)
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
    }, {str(name) for name in decision.unpinned}


def hub_communities(store: Store) -> list[str]:
    with store.connect() as conn:
        return communities_of(conn, store, t.members)


def first_month(store: Store) -> date | None:
    """The month of the hub's first member (None before any)."""
    m = t.members.c
    with store.connect() as conn:
        first = conn.execute(select(func.min(m.first_seen)).where(m.hub == store.hub)).scalar_one()
    return None if first is None else month_of(first.date())


# -- the members' history: which of members and new_members leave the hub hidden ------------

#: the two figures the history decides, of every month
HISTORY_FIGURES = ("members", "new_members")


@dataclass(frozen=True)
class MonthCounts:
    """A community's members at the month's end (or today) and new members in the month, as
    the month's table counts them."""

    month: date
    members: int
    new_members: int


@dataclass
class History:
    """One community's members month after month, and which of them the hub hides."""

    community: str
    months: list[MonthCounts]
    #: per month, per figure of HISTORY_FIGURES: hidden
    hidden: dict[date, dict[str, bool]]
    #: (figure, month) hidden because a month's table could not keep it shown (fail closed)
    forced: frozenset[tuple[str, date]] = field(default_factory=frozenset)

    def pins(self, month: date) -> dict[str, bool] | None:
        return self.hidden.get(month)

    def key(self, month: date) -> tuple[Any, ...] | None:
        """What the month's table takes from the history (None: not in it)."""
        counts = next((c for c in self.months if c.month == month), None)
        if counts is None:
            return None
        pins = self.hidden[month]
        return (counts.members, counts.new_members, *(pins[f] for f in HISTORY_FIGURES))


def member_counts(store: Store, community: str, today: date) -> list[MonthCounts]:
    """Members and new members of ``community`` in every month from the first with a member
    (as ``month_summary`` lists communities) to today's: one grouped query, the members
    before each bound of a month (the bounds the month's table uses)."""
    m = t.members.c
    with store.connect() as conn:
        first = conn.execute(
            select(func.min(m.first_seen)).where(m.hub == store.hub, m.community == community)
        ).scalar_one()
    if first is None:
        return []
    months = months_between(month_of(first.date()), month_of(today))
    bounds: dict[Any, int] = {}
    plan = []
    for month in months:
        # members: before the month's end (``_month_extras``); new members: in the month's
        # days of the hub's time zone up to today (``month_report``)
        zoned = Period.month(month.year, month.month, store.zone)
        zoned = Period(zoned.start, min(zoned.end, today), store.zone)
        ends = (month_period(month, today).end_time, zoned.start_time, zoned.end_time)
        plan.append(tuple(bounds.setdefault(b, len(bounds)) for b in ends))
    order = sorted(bounds, key=bounds.__getitem__)
    with store.connect() as conn:
        row = conn.execute(
            select(*(func.sum(case((m.first_seen < b, 1), else_=0)) for b in order)).where(
                m.hub == store.hub,
                m.community == community,
                not_excluded(store, m.member_id),
            )
        ).one()
    before = [int(v or 0) for v in row]
    return [
        MonthCounts(month, before[end], before[zend] - before[zstart])
        for month, (end, zstart, zend) in zip(months, plan, strict=True)
    ]


def history_figures(
    counts: list[MonthCounts],
    decided: Mapping[date, Mapping[str, bool]],
    upto: int,
    forced: frozenset[tuple[str, date]] = frozenset(),
) -> Figures:
    """The history's table for deciding month ``upto``: the months since the last one whose
    members are shown (a reader knows them: what came before tells nothing more), the
    months before ``upto`` pinned as decided, ``forced`` cells of ``upto`` pinned hidden."""
    start = 0
    for j in range(upto - 1, -1, -1):
        if not decided[counts[j].month]["members"]:
            start = j
            break
    f = Figures()
    for j in range(start, upto + 1):
        c = counts[j]
        members, new = ("members", c.month), ("new_members", c.month)
        f.count(members, c.members)
        if j == start and start > 0:  # the members shown before: known, nothing else needed
            f.pin(members, False)
            continue
        f.count(new, c.new_members)
        if j == 0:
            # the community's first month: nobody was a member before it
            f.sum_of(members, new)
        else:
            f.sum_of(members, ("members", counts[j - 1].month), new)
        for name in HISTORY_FIGURES:
            if j < upto:
                f.pin((name, c.month), decided[c.month][name])
            elif (name, c.month) in forced:
                f.pin((name, c.month), True)
    return f


def history_decision(
    counts: list[MonthCounts], k: int, forced: frozenset[tuple[str, date]] = frozenset()
) -> dict[date, dict[str, bool]]:
    """Per month, which of members and new_members are hidden: month after month, each
    with the months before it as decided (so a month's decision never depends on later
    months), through ``suppress``. Hiding both of a month always suffices, so a month's
    decision never needs to change one made before."""
    decided: dict[date, dict[str, bool]] = {}
    for i, c in enumerate(counts):
        shown = decide(history_figures(counts, decided, i, forced), k).shown
        decided[c.month] = {
            name: isinstance(shown[(name, c.month)], Suppressed) for name in HISTORY_FIGURES
        }
    return decided


def member_history(
    store: Store,
    community: str,
    k: int,
    today: date,
    forced: frozenset[tuple[str, date]] = frozenset(),
) -> History:
    counts = member_counts(store, community, today)
    return History(community, counts, history_decision(counts, k, forced), forced)


def member_histories(
    store: Store,
    k: int,
    today: date,
    communities: Iterable[str] | None = None,
    forced: Mapping[str, frozenset[tuple[str, date]]] | None = None,
) -> dict[str, History]:
    """Every community's history (``forced``: per community, what earlier passes had to
    hide to fail closed)."""
    names = sorted(communities) if communities is not None else hub_communities(store)
    forced = forced or {}
    return {c: member_history(store, c, k, today, forced.get(c, frozenset())) for c in names}


def history_key(histories: Mapping[str, History], month: date) -> tuple[Any, ...]:
    """What the tables of ``month`` take from the histories: a month whose key changed is
    to be computed again (its figures, or what it must hide, changed)."""
    return tuple(
        sorted((c, key) for c, h in histories.items() if (key := h.key(month)) is not None)
    )


def month_summary(
    store: Store,
    first: date,
    k: int,
    today: date | None = None,
    communities: Iterable[str] | None = None,
    public: Iterable[str] = (),
    histories: MutableMapping[str, History] | None = None,
    versions: MonthVersions | None = None,
) -> dict[str, Any]:
    """The hub's summary document of the month beginning ``first``: every community with a
    member by then (without ``hub``, ``sequence`` and ``generated``, which the publisher
    adds); the communities in ``public`` allow the consortium a public page of theirs;
    ``versions``: the month's versions before this one (``MonthVersions``).

    ``histories`` (``member_histories`` of the same ``today``, computed here without it) say
    which members and new_members figures are hidden; where a month's table had to hide one
    the history shows, its history is decided again with that one hidden (in place)."""
    public = set(public)
    today = today or utcnow().date()
    names = sorted(communities) if communities is not None else hub_communities(store)
    if histories is None:
        histories = member_histories(store, k, today, names)
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
            _community_document(
                store, community_month(store, c, first, today), k, today, histories, versions
            )
            | {"public": c in public}
            for c in names
            if c in present
        ],
    }


def _community_document(
    store: Store,
    data: _Month,
    k: int,
    today: date,
    histories: MutableMapping[str, History],
    versions: MonthVersions | None = None,
) -> dict[str, Any]:
    """The month's table with the history's decision pinned; should it have to hide a
    figure the history shows (fail closed), the history hides it too, from that month on."""
    community, month = data.community, data.period.start
    history = histories.get(community)
    if history is None:
        history = histories[community] = member_history(store, community, k, today)
    while True:
        document, unpinned = month_document(data, k, today, history.pins(month), versions)
        if not unpinned:
            return document
        # debug: versions of a month make this routine (a figure within k of one shown)
        log.debug(
            "summary: %s %s had to hide %s against its history; deciding it again",
            community,
            month.isoformat()[:7],
            ", ".join(sorted(unpinned)),
        )
        forced = history.forced | {(name, month) for name in unpinned}
        history = histories[community] = member_history(store, community, k, today, forced)


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
