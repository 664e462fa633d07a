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
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from itertools import pairwise

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select

from ..store import Store
from ..store import tables as t
from ..timeutil import utcnow
from .common import Suppressed, in_communities, not_excluded
from .overview import activated_counts, active_counts_since
from .suppression import Figures, suppress
from .training import CommunityTraining, training_by_community

#: (label, days) of the active-member windows, like JupyterHub's ``jupyterhub_active_users``
PERIODS = (("24h", 1), ("7d", 7), ("30d", 30))

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
        today: date = utcnow().date()

        k = GaugeMetricFamily(
            "catalyst_min_group_size", "Counts of fewer people than this are not exported."
        )
        k.add_metric([], self.k)
        yield k

        m = t.members.c
        with store.connect() as conn:
            members = dict(
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
        # every window from one read of the longest
        active = active_counts_since(
            store, [today - timedelta(days=days - 1) for _, days in PERIODS], today, chosen
        )
        done = activated_counts(store, chosen)
        steps = self._steps(chosen)
        training = training_by_community(store, chosen)
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

        yield gauge("catalyst_members", "Members seen on the hub, per community.", "members")
        family = GaugeMetricFamily(
            "catalyst_active_members",
            "Members active today (period 24h: the current UTC day), in the last 7 or 30 days, per community.",
            labels=["community", "period"],
        )
        for label, _days in PERIODS:
            for community, figures in shown.items():
                value = figures[("active", label)]
                if not isinstance(value, Suppressed):
                    family.add_metric([community, label], value)
        yield family
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
    return f


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
