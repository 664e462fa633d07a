"""The onboarding funnel of a community: who reached each checklist step, and how fast.

Definitions (printed on the page):

- The funnel follows the **newcomers of the period**: members of the community first seen in
  it. **Reached**: newcomers who reached the step (at any time, in any order); **through**:
  newcomers who reached the step and every step before it in the checklist.
- **Step conversion**: newcomers through a step out of those through the step before it;
  **overall conversion**: out of all newcomers. Both use "through", so they never pass 100%.
- **Time to a step**: from the member's first login (the ``login`` step, else first seen) to
  reaching the step, among those who reached it. Median, and 90th percentile by nearest
  rank (a value that really occurred).
- A newcomer **stalls** at the first step of the checklist they have not reached.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select

from ..catalog import localized
from ..store import Store
from ..store import tables as t
from .common import Figure, Period, median, not_excluded, percent, percentile

LOGIN_STEP = "login"


@dataclass
class FunnelStep:
    id: str
    title: str
    reached: int
    through: int
    stalled: int
    step_conversion: float | None
    overall_conversion: float | None
    #: hours from first login, among the members who reached the step
    median_hours: float | None
    p90_hours: float | None


@dataclass
class Funnel:
    community: str
    period: Period
    newcomers: int
    completed: int
    steps: list[FunnelStep]

    @property
    def stall_step(self) -> FunnelStep | None:
        """The step most newcomers are stuck before (None when nobody is stuck)."""
        stuck = [s for s in self.steps if s.stalled]
        return max(stuck, key=lambda s: s.stalled) if stuck else None

    def to_json(self) -> dict[str, Any]:
        return {
            "community": self.community,
            "period": self.period.to_json(),
            "newcomers": self.newcomers,
            "completed": self.completed,
            "stall_step": self.stall_step.id if self.stall_step else None,
            "steps": [s.__dict__ for s in self.steps],
        }


def funnel(store: Store, community: str, period: Period, language: str = "en") -> Funnel:
    """The onboarding funnel of the newcomers of ``period`` in ``community``."""
    checklist = store.catalog.steps_for(community)
    wanted = {s.id for s in checklist} | {LOGIN_STEP}
    m, ms = t.members.c, t.member_steps.c
    newcomers_of = and_(
        m.hub == store.hub,
        m.community == community,
        m.first_seen >= period.start_time,
        m.first_seen < period.end_time,
        not_excluded(store, m.member_id),
    )
    with store.connect() as conn:
        first_seen: dict[str, datetime] = dict(
            conn.execute(select(m.member_id, m.first_seen).where(newcomers_of)).all()
        )
        rows = conn.execute(
            select(ms.member_id, ms.step, ms.reached)
            .select_from(
                t.member_steps.join(t.members, and_(m.hub == ms.hub, m.member_id == ms.member_id))
            )
            .where(newcomers_of, ms.step.in_(sorted(wanted)))
        ).all()

    reached: dict[str, dict[str, datetime]] = defaultdict(dict)
    for member_id, step, when in rows:
        reached[member_id][step] = when

    stalled: dict[str, int] = defaultdict(int)
    through: dict[str, int] = defaultdict(int)
    completed = 0
    for member_id in first_seen:
        mine = reached.get(member_id, {})
        missing = next((s.id for s in checklist if s.id not in mine), None)
        for s in checklist:
            if s.id == missing:
                break
            through[s.id] += 1
        if missing is None:
            completed += 1
        else:
            stalled[missing] += 1

    steps = []
    previous = len(first_seen)
    for step in checklist:
        hours = []
        for member_id, mine in reached.items():
            when = mine.get(step.id)
            if when is None:
                continue
            origin = mine.get(LOGIN_STEP, first_seen[member_id])
            hours.append(max(0.0, (when - origin).total_seconds() / 3600))
        count = through.get(step.id, 0)
        steps.append(
            FunnelStep(
                id=step.id,
                title=localized(step.title, language),
                reached=len(hours),
                through=count,
                stalled=stalled.get(step.id, 0),
                step_conversion=percent(count, previous),
                overall_conversion=percent(count, len(first_seen)),
                median_hours=_round(median(hours)),
                p90_hours=_round(percentile(hours, 0.9)),
            )
        )
        previous = count
    return Funnel(community, period, len(first_seen), completed, steps)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def headline(report: Funnel, _: Callable[..., str]) -> list[Figure]:
    """The page's headline figures: (id, label, value, definition)."""
    stall = report.stall_step
    return [
        (
            "newcomers",
            _("Newcomers"),
            report.newcomers,
            _("Members first seen in the period."),
        ),
        (
            "completed",
            _("Completed onboarding"),
            report.completed,
            _("Newcomers who reached every step."),
        ),
        (
            "stall",
            _("Most newcomers stall at"),
            f"{stall.title} ({stall.stalled})" if stall else None,
            _("The first step of the checklist a newcomer has not reached."),
        ),
    ]


def definitions(_: Callable[..., str]) -> list[tuple[str, str]]:
    """Terms of the page, defined."""
    return [
        (_("Newcomers"), _("Members of the community first seen in the period.")),
        (_("Reached"), _("Newcomers who reached the step, at any time and in any order.")),
        (
            _("Through"),
            _("Newcomers who reached the step and every step before it in the checklist."),
        ),
        (_("Step conversion"), _("Newcomers through a step out of those through the step before.")),
        (_("Overall conversion"), _("Newcomers through a step out of all newcomers.")),
        (
            _("Time to a step"),
            _(
                "Hours from the member's first login (else first seen) to reaching the step: the median, and the 90th percentile by nearest rank, among those who reached it."
            ),
        ),
        (
            _("Stalled here"),
            _("Newcomers for whom this is the first step of the checklist not reached."),
        ),
    ]
