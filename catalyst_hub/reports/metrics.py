"""Prometheus metrics read from the projections at scrape time (a custom collector).

Names follow Prometheus conventions (``catalyst_`` prefix, one unit per name, labels for
community and period). A scraper is outside every community: each community's figures pass
the suppression policy (``reports.suppression``) and a series it hides is left out, and
``catalyst_min_group_size`` says what k is, so a dashboard can tell a missing series from
zero. A token filtered to communities reads the same suppressed figures.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import ColumnElement, and_, case, exists, func, select

from ..projections.projector import ACTIVE_SCHEMAS
from ..store import Store
from ..store import tables as t
from ..timeutil import day_start, local_day, utcnow
from .badges import CommunityBadges, badges_by_community
from .common import Period, Suppressed, in_communities, not_excluded
from .overview import activated_counts, active_days_where
from .suppression import Figures, suppress
from .training import CommunityTraining, training_by_community
from .usage import AppRow, app_usage_by_community, session_totals_within

#: (label, days) of the windows, rolling ones ending at the scrape like JupyterHub's
#: ``jupyterhub_active_users``: "24h" is the last 24 hours, not the current UTC day
PERIODS = (("24h", 1), ("7d", 7), ("30d", 30))

#: Days of app activity the per-app family covers: ``app_activity`` is kept per day (of the
#: hub's time zone), so this window is whole days (today included), within the rolling 30
#: days
APP_DAYS = 30

#: Seconds a scrape's result is served again. Prometheus scrapes every 15 to 60 s, and several
#: Prometheus servers (or a dashboard's refresh) may scrape at once: they share one computation.
CACHE_SECONDS = 10.0

# per store: (k, communities) -> (monotonic time computed, metric families)
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


class CatalystCollector(Collector):
    """Yields the catalyst gauges of ``communities`` (None: all) for one store."""

    def __init__(
        self,
        store: Store,
        min_group_size: int,
        communities: Iterable[str] | None = None,
        max_age: float = CACHE_SECONDS,
    ) -> None:
        self.store = store
        self.k = min_group_size
        self.communities = sorted(communities) if communities is not None else None
        self.max_age = max_age

    def collect(self) -> Iterator[Metric]:
        """The gauges, computed at most once per ``max_age`` seconds for the same store,
        minimum group size and communities."""
        key = (self.k, None if self.communities is None else tuple(self.communities))
        now = time.monotonic()
        with _cache_lock:
            cached = _cache.get(self.store, {}).get(key)
        if cached is not None and now - cached[0] < self.max_age:
            yield from cached[1]
            return
        metrics = list(self._collect())
        with _cache_lock:
            _cache.setdefault(self.store, {})[key] = (now, metrics)
        yield from metrics

    def _collect(self) -> Iterator[Metric]:
        store, chosen = self.store, self.communities
        now = utcnow()
        starts = [now - timedelta(days=days) for _, days in PERIODS]

        k = GaugeMetricFamily(
            "catalyst_min_group_size", "Counts of fewer people than this are not exported."
        )
        k.add_metric([], self.k)
        yield k

        m = t.members.c
        with store.connect() as conn:
            members: dict[str, int] = dict(
                conn.execute(
                    select(m.community, func.count())
                    .where(
                        m.hub == store.hub,
                        in_communities(m.community, chosen),
                        not_excluded(store, m.member_id),
                    )
                    .group_by(m.community)
                ).all()
            )
        # only communities with members have figures: naming them spares each query below
        # finding the communities of its own table
        chosen = sorted(members)
        active = active_counts_within(store, starts, now, chosen)
        sessions = session_totals_within(store, starts, now, chosen)
        with store.connect() as conn:
            apps = app_usage_by_community(
                conn,
                store,
                Period.last_days(APP_DAYS, local_day(now, store.zone), store.zone),
                chosen,
            )
        done = activated_counts(store, chosen)
        steps = self._steps(chosen)
        training = training_by_community(store, chosen)
        badges = badges_by_community(store, chosen)
        # each community's figures pass the suppression policy as one record: a series
        # hidden by it is left out
        shown = {
            community: suppress(
                community_figures(
                    members[community],
                    active.get(community, [0] * len(PERIODS)),
                    done.get(community, 0),
                    {step: n for (c, step), n in steps.items() if c == community},
                    training.get(community),
                    sessions.get(community, [(0, 0, 0.0)] * len(PERIODS)),
                    apps.get(community, []),
                    badges.get(community),
                ),
                self.k,
            )
            for community in sorted(members)
        }

        def gauge(name: str, documentation: str, key: str) -> Metric:
            """A per-community gauge of the figure ``key``, hidden series left out."""
            family = GaugeMetricFamily(name, documentation, labels=["community"])
            for community, figures in shown.items():
                value = figures.get(key)
                if value is not None and not isinstance(value, Suppressed):
                    family.add_metric([community], value)
            return family

        def windows(name: str, documentation: str, key: str) -> Metric:
            """A per-community and period gauge of the figures ``(key, period)``."""
            family = GaugeMetricFamily(name, documentation, labels=["community", "period"])
            for label, _days in PERIODS:
                for community, figures in shown.items():
                    value = figures[(key, label)]
                    if not isinstance(value, Suppressed):
                        family.add_metric([community, label], value)
            return family

        yield gauge("catalyst_members", "Members seen on the hub, per community.", "members")
        yield windows(
            "catalyst_active_members",
            "Members active in the rolling 24 hours, 7 or 30 days ending now, per community.",
            "active",
        )
        yield gauge(
            "catalyst_onboarding_completed_members",
            "Members who reached every step of their community's onboarding checklist.",
            "activated",
        )
        family = GaugeMetricFamily(
            "catalyst_onboarding_step_members",
            "Members who reached an onboarding step, per community and step.",
            labels=["community", "step"],
        )
        for (community, step), _n in sorted(steps.items()):
            value = shown.get(community, {}).get(("step", step))
            if value is not None and not isinstance(value, Suppressed):
                family.add_metric([community, step], value)
        yield family
        yield gauge(
            "catalyst_training_learners",
            "Members with progress in any training episode.",
            "learners",
        )
        yield gauge(
            "catalyst_training_episodes_started",
            "Training episodes started or completed (a learner x episode counts once).",
            "episodes_started",
        )
        yield gauge(
            "catalyst_training_episodes_completed",
            "Training episodes completed (a learner x episode counts once).",
            "episodes_completed",
        )
        yield windows(
            "catalyst_server_sessions",
            "Server sessions started in the rolling 24 hours, 7 or 30 days ending now.",
            "sessions",
        )
        yield windows(
            "catalyst_server_session_members",
            "Members who started a server in the rolling 24 hours, 7 or 30 days ending now.",
            "session_members",
        )
        yield windows(
            "catalyst_server_usage_seconds",
            "Server time of the sessions started in the rolling 24 hours, 7 or 30 days ending "
            "now, up to now.",
            "server_seconds",
        )
        # gauges, not counters: an erasure takes a member's badges away
        yield gauge(
            "catalyst_badges_issued",
            "Open Badges issued to current members (revoked ones included), per community.",
            "badges_issued",
        )
        yield gauge(
            "catalyst_badges_claimed",
            "Open Badges their learners claimed (named a recipient for), per community.",
            "badges_claimed",
        )
        family = GaugeMetricFamily(
            "catalyst_app_active_members",
            f"Members who used an app (JupyterLab, RStudio, terminal, ...) on the last "
            f"{APP_DAYS} days (the hub's time zone), today included, per community and app.",
            labels=["community", "app"],
        )
        for community, rows in sorted(apps.items()):
            for row in rows:
                value = shown.get(community, {}).get(("app", row.app))
                if value is not None and not isinstance(value, Suppressed):
                    family.add_metric([community, row.app], value)
        yield family

    def _steps(self, chosen: list[str] | None) -> Counter:
        """Members per (community, step) reached."""
        ms = t.member_steps.c
        excluded = self.store.excluded_members
        with self.store.connect() as conn:
            # step rows carry their member's community (the projector keeps it): every row
            # is counted from the (community, step) index alone, then staff's rows (a few,
            # by key) are taken away, where leaving them out read every row's member id
            counts = self._step_counts(conn, chosen)
            if excluded:
                counts -= self._step_counts(conn, chosen, ms.member_id.in_(sorted(excluded)))
        return counts

    def _step_counts(self, conn, chosen: list[str] | None, *where) -> Counter:
        """Step rows per (community, step) of ``chosen`` communities that match ``where``."""
        ms = t.member_steps.c
        rows = conn.execute(
            select(ms.community, ms.step, func.count())
            .where(ms.hub == self.store.hub, in_communities(ms.community, chosen), *where)
            .group_by(ms.community, ms.step)
        ).all()
        return Counter({(community, step): n for community, step, n in rows})


def community_figures(
    members: int,
    active: list[int],
    activated: int,
    steps: dict[str, int],
    training: CommunityTraining | None,
    sessions: Sequence[tuple[int, int, float]] = (),
    apps: Sequence[AppRow] = (),
    badges: CommunityBadges | None = None,
) -> Figures:
    """One community's scrape, and how its figures relate, for the suppression policy."""
    f = Figures()
    f.count("members", members)
    windows = [("active", label) for label, _days in PERIODS]
    for window, n in zip(windows, active, strict=True):
        f.count(window, n)
    # today within the last 7 days within the last 30, all of them members
    f.part_of("members", windows[-1])
    for shorter, longer in pairwise(windows):
        f.window_of(longer, shorter)
    f.count("activated", activated)
    f.part_of("members", "activated")
    for step, n in sorted(steps.items()):
        f.count(("step", step), n)
        f.part_of("members", ("step", step))
    f.count("learners", training.learners if training else 0)
    f.part_of("members", "learners")
    # episode counts describe the learners
    f.derived("episodes_started", training.episodes_started if training else 0, "learners")
    f.derived("episodes_completed", training.episodes_completed if training else 0, "learners")
    # who started a server in a window was active in it (a start is activity); sessions and
    # their time describe those members
    starters = [("session_members", label) for label, _days in PERIODS]
    for (label, _days), window, (count, who, seconds) in zip(
        PERIODS, windows, sessions or [(0, 0, 0.0)] * len(PERIODS), strict=True
    ):
        f.count(("session_members", label), who)
        f.part_of(window, ("session_members", label))
        f.derived(("sessions", label), count, ("session_members", label))
        # a tenth of a second: SQLite's day arithmetic is a float
        f.derived(("server_seconds", label), round(seconds, 1), ("session_members", label))
    for shorter, longer in pairwise(starters):
        f.window_of(longer, shorter)
    # an app's users are active members of the 30 days (its whole days lie within them);
    # apps are not disjoint (one member uses several), so each is a part on its own
    for row in apps:
        f.count(("app", row.app), row.members)
        f.part_of(windows[-1], ("app", row.app))
    # badges are counted, not people: they describe the members holding (or having claimed)
    # them, who are never shown, so a count is hidden while fewer than k members hold it
    badges = badges or CommunityBadges()
    f.count("badge_holders", badges.holders, shown=False)
    f.part_of("members", "badge_holders")
    f.derived("badges_issued", badges.issued, "badge_holders")
    f.count("badge_claimers", badges.claimers, shown=False)
    f.part_of("badge_holders", "badge_claimers")
    f.derived("badges_claimed", badges.claimed, "badge_claimers")
    return f


def active_counts_within(
    store: Store,
    starts: Sequence[datetime],
    now: datetime,
    communities: Iterable[str] | None = None,
) -> dict[str, list[int]]:
    """Distinct active members per community since each of ``starts`` (rolling windows
    ending now).

    ``daily_activity`` tells a member's active days, from its (community, day) index: one
    active on a day after a window's first day was active within it. Only members whose
    latest day is the window's first (partial) day need their time: an indexed look-up of
    their own events of that day from the window's start. ``members.last_active`` would be
    cheaper but counts any event (a consent, a culled server's stop) as activity. A retention
    purge keeps whole days, so a first day is in the log while ``retention_days`` is at least
    the window's length."""
    da = t.daily_activity.c
    e = t.events.c
    # the days of daily_activity are the hub's time zone's: a window's first (partial) day
    # is the day of its start there, and ends at the next midnight there
    zone = store.zone
    firsts = [local_day(start, zone) for start in starts]

    def seen_since(
        start: datetime, member_id: ColumnElement, community: ColumnElement
    ) -> ColumnElement[bool]:
        """SQL: the member has an activity event from ``start`` to the end of its day."""
        day_end = day_start(local_day(start, zone) + timedelta(days=1), zone)
        return exists().where(
            e.hub == store.hub,
            e.member_id == member_id,
            e.time >= start,
            e.time < day_end,
            e.community == community,
            e.schema.in_(sorted(ACTIVE_SCHEMAS)),
        )

    with store.connect() as conn:
        where = active_days_where(conn, store, min(firsts), local_day(now, zone), communities)
        if conn.dialect.name == "postgresql":
            # each member's last active day (a hashed grouping), then counted per window
            latest = (
                select(da.community, da.member_id, func.max(da.day).label("latest"))
                .where(*where)
                .group_by(da.community, da.member_id)
                .subquery("latest")
            )
            la = latest.c
            counts: list[ColumnElement[Any]] = [
                func.sum(
                    case(
                        (la.latest > first, 1),
                        (
                            and_(
                                la.latest == first,
                                seen_since(start, la.member_id, la.community),
                            ),
                            1,
                        ),
                        else_=0,
                    )
                )
                for start, first in zip(starts, firsts, strict=True)
            ]
            query = select(la.community, *counts).group_by(la.community)
        else:
            # SQLite counts distinct values with a small index per aggregate, where grouping
            # on the member would sort every row
            counts = [
                func.count(
                    func.distinct(
                        case(
                            (da.day > first, da.member_id),
                            (
                                and_(
                                    da.day == first,
                                    seen_since(start, da.member_id, da.community),
                                ),
                                da.member_id,
                            ),
                            else_=None,
                        )
                    )
                )
                for start, first in zip(starts, firsts, strict=True)
            ]
            query = select(da.community, *counts).where(*where).group_by(da.community)
        rows = conn.execute(query).all()
    return {c: [int(n or 0) for n in ns] for c, *ns in rows}


def metrics_registry(
    store: Store,
    min_group_size: int,
    communities: Iterable[str] | None = None,
    max_age: float = CACHE_SECONDS,
) -> CollectorRegistry:
    """A registry holding only the catalyst collector (no process metrics of the service)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CatalystCollector(store, min_group_size, communities, max_age))
    return registry
