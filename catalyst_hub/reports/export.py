"""Reports as tables: the one shape that pages, CSV and JSON exports all render.

A page draws each ``DataTable`` as an HTML table and offers it as CSV; because both come from
the same object, a download always holds exactly what the page shows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..timeutil import isoformat
from .adoption import Adoption
from .common import Suppressed
from .funnel import Funnel
from .monthly import Figure
from .outside import STEP_FIELDS, OutsideReport
from .overview import OverviewRow
from .people import AuditRow
from .training import Matrix
from .usage import AppRow, Usage

Gettext = Callable[..., str]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = True


@dataclass
class DataTable:
    id: str
    caption: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        return [
            {c.key: _json_value(v) for c, v in zip(self.columns, row, strict=True)}
            for row in self.rows
        ]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([c.key for c in self.columns])
        for row in self.rows:
            writer.writerow([_csv_value(v) for v in row])
        return out.getvalue()


def _json_value(value: Any) -> Any:
    if isinstance(value, Suppressed):
        return value.to_json()
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Suppressed):
        return str(value)
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and _is_formula(text):
        return "'" + text
    return text


#: What makes spreadsheets read a text cell as a formula (CSV injection): one of these
#: first, or after spaces and control characters, which some spreadsheets skip.
_FORMULA_START = ("=", "+", "-", "@")
_CONTROL = "".join(map(chr, [*range(0x20), 0x7F]))


def _is_formula(text: str) -> bool:
    """Whether a text cell must be neutralised: it starts with a control character (a
    newline, a tab, NUL...; no plain text needs one first) or reads as a formula."""
    return text[:1] in tuple(_CONTROL) or text.lstrip(" " + _CONTROL).startswith(_FORMULA_START)


def adoption_tables(report: Adoption, _: Gettext) -> list[DataTable]:
    daily = DataTable(
        "daily-active",
        _("Active members per day"),
        [
            Column("day", _("Day"), False),
            Column("dau", _("DAU")),
            Column("wau", _("WAU")),
            Column("mau", _("MAU")),
        ],
        [[r.day, r.dau, r.wau, r.mau] for r in report.daily],
    )
    lifecycle = DataTable(
        "lifecycle",
        _("Lifecycle per week"),
        [
            Column("week", _("Week of"), False),
            Column("new", _("New")),
            Column("returning", _("Returning")),
            Column("resurrected", _("Resurrected")),
            Column("dormant", _("Dormant")),
        ],
        [[w.week, w.new, w.returning, w.resurrected, w.dormant] for w in report.lifecycle],
    )
    weeks = len(report.retention)
    retention = DataTable(
        "retention",
        _("Weekly cohort retention (members active in week N after joining)"),
        [Column("cohort", _("Cohort week"), False), Column("size", _("Members"))]
        + [Column(f"week_{i}", _("Week {n}", n=i)) for i in range(weeks)],
        [
            [c.week, c.size]
            + [_share(n, c.size) for n in c.active]
            + [None] * (weeks - len(c.active))
            for c in report.retention
        ],
    )
    return [daily, lifecycle, retention]


def _share(count: int | None, size: int) -> str | None:
    """ "2 (50%)": the count first, as percentages of tiny cohorts mislead."""
    if count is None:
        return None
    if not size:
        return str(count)
    return f"{count} ({round(100 * count / size)}%)"


def funnel_table(report: Funnel, _: Gettext) -> DataTable:
    return DataTable(
        "funnel",
        _("Onboarding funnel of the period's newcomers"),
        [
            Column("step", _("Step"), False),
            Column("title", _("Title"), False),
            Column("reached", _("Reached")),
            Column("through", _("Through")),
            Column("step_conversion", _("Step conversion %")),
            Column("overall_conversion", _("Overall conversion %")),
            Column("median_hours", _("Median hours")),
            Column("p90_hours", _("90th percentile hours")),
            Column("stalled", _("Stalled here")),
        ],
        [
            [
                s.id,
                s.title,
                s.reached,
                s.through,
                s.step_conversion,
                s.overall_conversion,
                s.median_hours,
                s.p90_hours,
                s.stalled,
            ]
            for s in report.steps
        ],
    )


def usage_tables(report: Usage, _: Gettext) -> list[DataTable]:
    def mix(table_id: str, caption: str, label: str, rows) -> DataTable:
        return DataTable(
            table_id,
            caption,
            [
                Column("name", label, False),
                Column("sessions", _("Sessions")),
                Column("members", _("Members")),
                Column("server_hours", _("Server-hours")),
            ],
            [[r.name, r.sessions, r.members, r.hours] for r in rows],
        )

    daily = DataTable(
        "sessions-daily",
        _("Sessions and server-hours per day"),
        [
            Column("day", _("Day"), False),
            Column("sessions", _("Sessions")),
            Column("server_hours", _("Server-hours")),
        ],
        [[d.day, d.sessions, d.hours] for d in report.daily],
    )
    apps = DataTable(
        "apps",
        _("Time per app"),
        [
            Column("app", _("App"), False),
            Column("members", _("Members")),
            Column("active_days", _("Active days")),
            Column("hours", _("Hours")),
        ],
        [[app_name(r, _), r.members, r.active_days, r.hours] for r in report.apps],
    )
    return [
        daily,
        mix("environments", _("Environments"), _("Environment"), report.environments),
        mix("sizes", _("Server sizes"), _("Size"), report.sizes),
        mix("images", _("Images and profiles"), _("Image or profile"), report.images),
        apps,
    ]


def app_name(row: AppRow, _: Gettext) -> str:
    """An app as people call it: JupyterLab, RStudio, Terminal, or a proxied app's name."""
    return _("Terminal") if row.app == "terminal" else row.name


def overview_table(rows: Sequence[OverviewRow], _: Gettext) -> DataTable:
    return DataTable(
        "overview",
        _("Communities side by side"),
        [
            Column("community", _("Community"), False),
            Column("members", _("Members")),
            Column("new_members", _("New members")),
            Column("active_members", _("Active in period")),
            Column("weekly_active", _("Active in the last 7 days")),
            Column("activated", _("Activated")),
            Column("activation_percent", _("Activated %")),
            Column("learners", _("Learners")),
            Column("training_percent", _("Episodes completed %")),
            Column("sessions", _("Sessions")),
            Column("server_hours", _("Server-hours")),
        ],
        [
            [
                r.community,
                r.members,
                r.new_members,
                r.active_members,
                r.weekly_active,
                r.activated,
                r.activation_percent,
                r.learners,
                r.training_percent,
                r.sessions,
                r.server_hours,
            ]
            for r in rows
        ],
    )


def matrix_table(matrix: Matrix, names: dict[str, str], _: Gettext) -> DataTable:
    """Learner x episode, then earned/possible/percent per lesson and in total."""
    lessons = list(dict.fromkeys(c.lesson for c in matrix.columns))
    columns = [Column("learner", _("Learner"), False)]
    columns += [Column(f"{c.lesson}/{c.episode}", c.title, False) for c in matrix.columns]
    for lesson in lessons:
        columns += [
            Column(f"{lesson}:earned", _("Earned")),
            Column(f"{lesson}:possible", _("Possible")),
        ]
    columns += [
        Column("earned", _("Earned")),
        Column("possible", _("Possible")),
        Column("percent", _("Percent")),
    ]
    rows = []
    for learner in sorted(
        matrix.learners, key=lambda r: names.get(r.member_id, r.member_id).lower()
    ):
        row: list[Any] = [names.get(learner.member_id, learner.member_id)]
        row += [cell.state for cell in learner.cells]
        for lesson in lessons:
            score = learner.lessons.get(lesson)
            row += [score.earned if score else 0, score.possible if score else 0]
        row += [learner.total.earned, learner.total.possible, learner.total.percent]
        rows.append(row)
    return DataTable("completion", _("Completion by learner and episode"), columns, rows)


def audit_table(rows: Sequence[AuditRow], _: Gettext) -> DataTable:
    return DataTable(
        "audit",
        _("Reads of per-person data"),
        [
            Column("time", _("Time (UTC)"), False),
            Column("actor", _("Staff member id"), False),
            Column("action", _("Action"), False),
            Column("community", _("Community"), False),
            Column("subject", _("Member id read"), False),
            Column("detail", _("Detail"), False),
        ],
        [[r.time, r.actor, r.action, r.community, r.subject, r.detail] for r in rows],
    )


def figure_labels(_: Gettext) -> dict[str, str]:
    """Names of the monthly report's figures."""
    return {
        "active_members": _("Active members"),
        "mean_dau": _("Mean DAU"),
        "new_members": _("New members"),
        "activated_in_period": _("Activated this month"),
        "sessions": _("Sessions"),
        "server_hours": _("Server-hours"),
        "learners": _("Learners"),
        "badges_issued": _("Badges issued"),
    }


def figures_table(figures: Sequence[Figure], labels: dict[str, str], _: Gettext) -> DataTable:
    return DataTable(
        "figures",
        _("This month and the month before"),
        [
            Column("figure", _("Figure"), False),
            Column("value", _("This month")),
            Column("previous", _("Month before")),
            Column("change", _("Change")),
        ],
        [[labels.get(f.key, f.key), f.value, f.previous, f.change] for f in figures],
    )


def outside_labels(_: Gettext) -> dict[str, str]:
    """Names of the figures of a community's reports as shown outside it."""
    labels = {
        "newcomers": _("Newcomers"),
        "completed": _("Completed onboarding"),
        "stall_step": _("Most newcomers stall at"),
        "members": _("Members with a session"),
        "hours": _("Server-hours"),
        "activated_members": _("Activated"),
        "new_activated": _("Newcomers activated"),
        "stickiness": _("Stickiness"),
        **figure_labels(_),
    }
    for key, label in list(labels.items()):
        labels[f"{key}_previous"] = _("{figure}, month before", figure=label)
    return labels


def outside_tables(report: OutsideReport, _: Gettext) -> list[DataTable]:
    """The figures (and the funnel's steps) of a community's report shown outside it."""
    labels = outside_labels(_)
    if report.kind == "adoption":
        # the adoption page's own name for it; the month's is "Activated this month"
        labels["activated_in_period"] = _("Activated in the period")
    tables = [
        DataTable(
            "figures",
            _("Key figures"),
            [
                Column("figure", _("Figure"), False),
                Column("key", _("Key"), False),
                Column("value", _("Value")),
            ],
            [[labels.get(key, key), key, value] for key, value in report.figures],
        )
    ]
    if report.kind in ("funnel", "month"):
        funnel = funnel_table(Funnel(report.community, report.period, 0, 0, []), _)
        funnel.rows = [
            [s["step"], s["title"], *(s[name] for name in STEP_FIELDS)] for s in report.steps
        ]
        tables.append(funnel)
    return tables
