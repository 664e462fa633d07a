"""A community's reports as someone outside it reads them (consortium staff).

A community's own champions, leads and the catalyst admins read its full reports. Someone
outside it reads its headline figures, and its onboarding funnel step by step, through the
suppression policy (``reports.suppression``), each report as one table of figures and their
relations. The per-day, per-week and per-environment detail (daily active members,
lifecycle, retention, the mix of sessions) is never shown outside: most of its cells count
one or two people.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .adoption import Adoption
from .common import Period
from .funnel import Funnel
from .monthly import MonthReport
from .suppression import Figures, Shown, suppress, to_json
from .usage import Usage

#: The funnel's columns shown outside, in the order of the community's own funnel table.
STEP_FIELDS = (
    "reached",
    "through",
    "step_conversion",
    "overall_conversion",
    "median_hours",
    "p90_hours",
    "stalled",
)


@dataclass
class OutsideReport:
    community: str
    kind: str
    period: Period
    k: int
    #: (key, value as shown), in the order of the community's own report
    figures: list[tuple[str, Shown]]
    #: the funnel's steps: id, title and STEP_FIELDS as shown (funnel and month only)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def value(self, key: str) -> Shown:
        return dict(self.figures)[key]

    def to_json(self) -> dict[str, Any]:
        data = {
            "community": self.community,
            "kind": self.kind,
            "period": self.period.to_json(),
            "min_group_size": self.k,
            # what a community's own staff read day by day is not shown outside it
            "detail_withheld": True,
            "figures": {key: to_json(value) for key, value in self.figures},
        }
        if self.kind in ("funnel", "month"):
            data["steps"] = [{k: to_json(v) for k, v in step.items()} for step in self.steps]
        return data


def _funnel_figures(f: Figures, report: Funnel, prefix: str = "") -> None:
    """The funnel's counts: each step's newcomers through it are among those through the
    step before and among those who reached it; the ones stalled are the difference."""
    newcomers = f.count(prefix + "newcomers", report.newcomers)
    completed = f.count(prefix + "completed", report.completed)
    before = newcomers
    for s in report.steps:
        reached = f.count((prefix + s.id, "reached"), s.reached)
        through = f.count((prefix + s.id, "through"), s.through)
        stalled = f.count((prefix + s.id, "stalled"), s.stalled)
        f.part_of(newcomers, reached)
        f.part_of(reached, through)
        f.sum_of(before, through, stalled)
        f.derived((prefix + s.id, "step_conversion"), s.step_conversion, through, before)
        f.derived((prefix + s.id, "overall_conversion"), s.overall_conversion, through, newcomers)
        # times are of the members who reached the step
        f.derived((prefix + s.id, "median_hours"), s.median_hours, reached)
        f.derived((prefix + s.id, "p90_hours"), s.p90_hours, reached)
        before = through
    if report.steps:
        f.sum_of(completed, before)
    else:
        f.part_of(newcomers, completed)


def _steps(report: Funnel, shown: dict[Any, Shown], prefix: str = "") -> list[dict[str, Any]]:
    return [
        {"step": s.id, "title": s.title}
        | {name: shown[(prefix + s.id, name)] for name in STEP_FIELDS}
        for s in report.steps
    ]


def adoption_outside(report: Adoption, k: int) -> OutsideReport:
    f = Figures()
    f.count("active_members", report.active_members)
    f.count("new_members", report.new_members)
    f.count("activated_members", report.activated_members)
    f.count("activated_in_period", report.activated_in_period)
    f.count("new_activated", report.new_activated)
    f.part_of("activated_members", "activated_in_period")
    f.part_of("new_members", "new_activated")
    f.part_of("activated_in_period", "new_activated")
    # newcomers are active in the period that first saw them
    f.part_of("active_members", "new_members")
    f.derived("mean_dau", report.mean_dau, "active_members")
    f.derived("stickiness", report.stickiness, "mean_dau", "active_members")
    shown = suppress(f, k)
    keys = [
        "active_members",
        "mean_dau",
        "new_members",
        "activated_members",
        "activated_in_period",
        "new_activated",
        "stickiness",
    ]
    return OutsideReport(
        report.community, "adoption", report.period, k, [(key, shown[key]) for key in keys]
    )


def funnel_outside(report: Funnel, k: int) -> OutsideReport:
    f = Figures()
    _funnel_figures(f, report)
    stall = report.stall_step
    f.derived(
        "stall_step",
        stall.id if stall else None,
        *((s.id, "stalled") for s in report.steps),
    )
    shown = suppress(f, k)
    figures = [(key, shown[key]) for key in ("newcomers", "completed", "stall_step")]
    return OutsideReport(
        report.community, "funnel", report.period, k, figures, _steps(report, shown)
    )


def usage_outside(report: Usage, k: int) -> OutsideReport:
    f = Figures()
    f.count("members", report.members)
    # sessions and hours describe the members who had them
    f.derived("sessions", report.sessions, "members")
    f.derived("hours", report.hours, "members")
    shown = suppress(f, k)
    figures = [(key, shown[key]) for key in ("sessions", "members", "hours")]
    return OutsideReport(report.community, "usage", report.period, k, figures)


def month_outside(report: MonthReport, k: int) -> OutsideReport:
    """The month's figures and the month before's (each a figure of its own), and the funnel
    of the month's newcomers."""
    f = Figures()
    values = {fig.key: fig for fig in report.figures}
    counts = ("active_members", "new_members", "activated_in_period", "learners")
    for key in counts:
        value, previous = values[key].value, values[key].previous
        assert value is not None  # a count of the month always has a value
        f.count(key, value)
        if previous is not None:
            f.count(("previous", key), previous)
    f.part_of("active_members", "new_members")
    if ("previous", "new_members") in f.counts and ("previous", "active_members") in f.counts:
        f.part_of(("previous", "active_members"), ("previous", "new_members"))
    f.count("session_members", report.usage.members, shown=False)
    f.count(("previous", "session_members"), report.previous_usage.members, shown=False)
    f.derived("mean_dau", values["mean_dau"].value, "active_members")
    f.derived(("previous", "mean_dau"), values["mean_dau"].previous, ("previous", "active_members"))
    for key in ("sessions", "server_hours"):
        f.derived(key, values[key].value, "session_members")
        f.derived(("previous", key), values[key].previous, ("previous", "session_members"))
    # badges are counted per member who received them: hidden when those are fewer than k
    f.count("badge_earners", report.badges.earners, shown=False)
    f.count(("previous", "badge_earners"), report.previous_badges.earners, shown=False)
    f.derived("badges_issued", report.badges.badges, "badge_earners")
    f.derived(
        ("previous", "badges_issued"),
        report.previous_badges.badges,
        ("previous", "badge_earners"),
    )
    # the newcomers of the month are its new members
    _funnel_figures(f, report.funnel, "funnel:")
    f.sum_of("new_members", "funnel:newcomers")
    shown = suppress(f, k)
    figures = []
    for fig in report.figures:
        figures.append((fig.key, shown[fig.key]))
        if fig.previous is not None:
            figures.append((f"{fig.key}_previous", shown[("previous", fig.key)]))
    return OutsideReport(
        report.community,
        "month",
        report.period,
        k,
        figures,
        _steps(report.funnel, shown, "funnel:"),
    )


#: Each report's figures outside, by kind (the report's type goes with its kind).
OUTSIDE: dict[str, Callable[[Any, int], OutsideReport]] = {
    "adoption": adoption_outside,
    "funnel": funnel_outside,
    "usage": usage_outside,
    "month": month_outside,
}
