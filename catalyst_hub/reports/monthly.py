"""The one-page community report for monthly check-ins: a few numbers, two charts.

It is the adoption, funnel, usage and training reports of one calendar month, with the
month before for comparison; nothing is computed that the other pages do not also show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..store import Store
from .adoption import Adoption, adoption
from .badges import IssuedInPeriod, badges_issued
from .common import Period
from .funnel import Funnel, funnel
from .training import training_by_community
from .usage import Usage, UsageTotals, usage, usage_totals


@dataclass
class Figure:
    key: str
    value: float | int | None
    previous: float | int | None

    @property
    def change(self) -> float | int | None:
        if self.value is None or self.previous is None:
            return None
        return round(self.value - self.previous, 2)


@dataclass
class MonthReport:
    community: str
    period: Period
    previous_period: Period
    figures: list[Figure]
    adoption: Adoption
    funnel: Funnel
    usage: Usage
    #: the month before's usage totals (what its figures are drawn from)
    previous_usage: UsageTotals
    #: badges issued in the month and the month before (and to how many members)
    badges: IssuedInPeriod = IssuedInPeriod()
    previous_badges: IssuedInPeriod = IssuedInPeriod()

    def to_json(self) -> dict[str, Any]:
        return {
            "community": self.community,
            "period": self.period.to_json(),
            "previous_period": self.previous_period.to_json(),
            "figures": [
                {"key": f.key, "value": f.value, "previous": f.previous, "change": f.change}
                for f in self.figures
            ],
            "daily_active": [{"day": d.day.isoformat(), "dau": d.dau} for d in self.adoption.daily],
            "funnel": [{"step": s.id, "reached": s.reached} for s in self.funnel.steps],
        }


def month_report(
    store: Store,
    community: str,
    year: int,
    month: int,
    language: str = "en",
    today: date | None = None,
) -> MonthReport:
    """The report of a month (days of the hub's time zone); of the current month, its days
    up to ``today`` (today there, by default; days not yet begun have no figures). Raises
    ValueError for a month after today's."""
    today = today or store.today()
    period = Period.month(year, month, store.zone)
    if period.start > today:
        raise ValueError("the month has not begun")
    period = Period(period.start, min(period.end, today), store.zone)
    before = period.start - timedelta(days=1)
    previous = Period.month(before.year, before.month, store.zone)
    # the month page shows daily figures, not the weekly lifecycle and retention, and of
    # the month before only the totals it compares with
    now = adoption(store, community, period, weekly=False, previous=previous)
    then = now.previous
    assert then is not None  # asked for with previous=
    use, use_before = usage(store, community, period), usage_totals(store, community, previous)
    training = training_by_community(store, [community]).get(community)
    issued, issued_before = (
        badges_issued(store, community, period),
        badges_issued(store, community, previous),
    )
    figures = [
        Figure("active_members", now.active_members, then.active_members),
        Figure("mean_dau", now.mean_dau, then.mean_dau),
        Figure("new_members", now.new_members, then.new_members),
        Figure("activated_in_period", now.activated_in_period, then.activated_in_period),
        Figure("sessions", use.sessions, use_before.sessions),
        Figure("server_hours", use.hours, use_before.hours),
        Figure("learners", training.learners if training else 0, None),
        Figure("badges_issued", issued.badges, issued_before.badges),
    ]
    return MonthReport(
        community=community,
        period=period,
        previous_period=previous,
        figures=figures,
        adoption=now,
        funnel=funnel(store, community, period, language),
        usage=use,
        previous_usage=use_before,
        badges=issued,
        previous_badges=issued_before,
    )
