"""Staff reports: pages, CSV/JSON exports and metrics, scoped by custom JupyterHub scopes.

Every handler does the same four things: parse the request, authorize it against the
token's scopes (``require_scope``; a ``!group=`` filter limits it to communities), call report
functions (all SQL lives in ``catalyst_hub.reports``), and render. Each page's tables are
also served as CSV (``?format=csv&table=<id>`` or ``<page>.csv``) and the whole report as JSON
(``?format=json`` or ``<page>.json``). Export errors are JSON; page errors are HTML pages.

- ``custom:catalyst:reports``: adoption, funnel, usage and the monthly report of the
  communities allowed; the consortium overview needs it unfiltered.
- ``custom:catalyst:training``: cohorts, the completion matrix, sign-off, per-learner CSV.
- ``custom:catalyst:admin``: all of these and the audit log.
- ``custom:catalyst:metrics``: ``metrics`` for Prometheus.

A token reading a community through an unfiltered scope only (neither a catalyst admin nor
filtered to that community) reads it from outside: the overview, the metrics and that
community's reports show its figures through ``reports.suppression`` alone, without per-day
or per-person detail (``reports.outside``). A community the hub does not have is a 404,
after the scope check.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tornado import web

from ..i18n import LANGUAGE_NAMES
from ..reports import charts
from ..reports.adoption import adoption
from ..reports.cohorts import (
    CohortError,
    add_members,
    create_cohort,
    get_cohort,
    list_cohorts,
    parse_fields,
    remove_members,
    update_cohort,
)
from ..reports.common import (
    Period,
    Suppressed,
    community_exists,
    known_communities,
    whole_number,
)
from ..reports.export import (
    DataTable,
    adoption_tables,
    audit_table,
    figure_labels,
    figures_table,
    funnel_table,
    matrix_table,
    outside_tables,
    overview_table,
    usage_tables,
)
from ..reports.funnel import funnel
from ..reports.metrics import metrics_registry
from ..reports.monthly import month_report
from ..reports.outside import OUTSIDE
from ..reports.overview import overview
from ..reports.people import (
    Access,
    audit,
    audit_entries,
    known_member,
    unknown_members,
    usernames,
)
from ..reports.training import SignOffError, completion_matrix, sign_off
from ..reports.usage import usage
from ..timeutil import utcnow
from . import scopes
from .base import APIHandler, check_json_limits
from .pages import PageHandler

FORMATS = ("html", "csv", "json")
KINDS = ("adoption", "funnel", "usage", "month")
MAX_LEARNERS_PER_REQUEST = 500
#: Last page of the audit log one may ask for (pages of 200 entries).
MAX_AUDIT_PAGE = 10**9 - 1
#: Fields of a training form or JSON body that hold several values.
LIST_FIELDS = ("lessons", "usernames", "remove")


class ReportHandler(PageHandler):
    """A staff page that is also a CSV and JSON export."""

    @property
    def fmt(self) -> str:
        suffix = (self.path_kwargs or {}).get("suffix")
        fmt = suffix or self.get_query_argument("format", "html")
        return fmt if fmt in FORMATS else "html"

    def get_login_url(self) -> str:
        if self.fmt != "html":
            # exports are fetched by scripts: answer 401 (403 for a token without access to
            # the service), do not redirect to a login page
            self.raise_unauthenticated()
        return super().get_login_url()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if self.fmt == "html":
            return super().write_error(status_code, **kwargs)
        return APIHandler.write_error(self, status_code, **kwargs)

    # -- parsing -----------------------------------------------------------------------------

    def period(self) -> Period:
        arg = self.get_query_argument
        try:
            return Period.parse(
                arg("from", None), arg("to", None), arg("month", None), arg("days", None), _=self._
            )
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from None

    async def require_community(self, community: str) -> None:
        """404 for a community this hub does not have (after the scope check, so a token
        filtered to other communities learns nothing of which exist)."""
        app = self.catalyst
        if not await self.run_db(
            community_exists, app.store, community, app.communities.configured()
        ):
            raise web.HTTPError(404, self._("No community called {name}.", name=community))

    def outside(self, community: str) -> bool:
        """Whether the token reads ``community`` from outside it: through the unfiltered
        reports scope only, as neither a catalyst admin nor one of the community's own
        champions or leads (a ``!group=`` filter naming it). Outsiders see its figures
        through the suppression policy only. (JupyterHub drops a filtered scope from a
        token that also holds it unfiltered: such a token reads every community from
        outside.)"""
        admin = self.allowed(scopes.ADMIN)
        if admin is scopes.ALL or (admin and community in admin):
            return False
        model = self.current_user or {}
        held = model.get("scopes", [])
        return community not in scopes.filtered_to(held, scopes.REPORTS, self.catalyst.communities)

    def allowed(self, scope: str):
        """Communities the token may read with ``scope`` (scopes.ALL or a set)."""
        return self.communities(scope)

    # -- output ------------------------------------------------------------------------------

    def export(self, tables: list[DataTable], data: dict[str, Any], filename: str) -> bool:
        """Answer a CSV or JSON request; False for an HTML one (the caller renders)."""
        if self.fmt == "json":
            self.write_json(data)
            return True
        if self.fmt == "csv":
            wanted = self.get_query_argument("table", None) or tables[0].id
            table = next((t for t in tables if t.id == wanted), None)
            if table is None:
                raise web.HTTPError(
                    404,
                    self._(
                        "No table {table}; tables: {tables}",
                        table=wanted,
                        tables=", ".join(t.id for t in tables),
                    ),
                )
            self.set_header("Content-Type", "text/csv; charset=UTF-8")
            self.set_header("Content-Disposition", attachment(f"{filename}-{table.id}.csv"))
            self.set_header("Cache-Control", "no-store")
            # a BOM so spreadsheets read UTF-8 community names and titles right
            self.finish("\ufeff" + table.csv())
            return True
        return False

    def export_url(self, table: DataTable, fmt: str = "csv") -> str:
        args = {
            k: self.get_query_argument(k)
            for k in ("from", "to", "month", "days")
            if self.get_query_argument(k, None)
        }
        args.update(format=fmt, table=table.id)
        return self.request.path + "?" + urlencode(args)

    def page(self, template: str, http_status: int = 200, **context: Any) -> None:
        context.setdefault("export_url", self.export_url)
        context.setdefault(
            "json_url",
            self.request.path + "?" + urlencode({**self._period_args(), "format": "json"}),
        )
        context.setdefault("fmt_value", format_value(self._))
        super().page(template, http_status, **context)

    def _period_args(self) -> dict[str, str]:
        return {
            k: self.get_query_argument(k)
            for k in ("from", "to", "month", "days")
            if self.get_query_argument(k, None)
        }


def attachment(filename: str) -> str:
    """A Content-Disposition for a download named after user-chosen text (a community):
    an ASCII fallback, and the exact name percent-encoded (RFC 6266), so no quote or control
    character ever reaches the header."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def format_value(_):
    """A template helper: how a cell reads (dash for none, "fewer than k", thin numbers)."""

    def fmt(value: Any) -> str:
        if value is None:
            return "—"
        if isinstance(value, Suppressed):
            return _("fewer than {k}", k=value.k) if value.bounded else _("hidden")
        if isinstance(value, float):
            return f"{value:.1f}" if value != int(value) else str(int(value))
        if isinstance(value, date):
            return value.isoformat()
        return str(value)

    return fmt


class IndexPage(ReportHandler):
    """``reports/``: the communities this token may read, and the staff pages it may open."""

    @web.authenticated
    async def get(self) -> None:
        allowed = self.allowed(scopes.REPORTS)
        training = self.allowed(scopes.TRAINING)
        if not allowed and not training:
            raise web.HTTPError(403, self._("This needs the scope {scope}", scope=scopes.REPORTS))
        every = await self.run_db(known_communities, self.catalyst.store)
        names = every if allowed is scopes.ALL else sorted(allowed or [])
        if self.fmt == "json":
            return self.write_json({"communities": names})
        self.page("reports/index.html", communities=names, quote=quote)


class CommunityReport(ReportHandler):
    """``reports/communities/<community>/<kind>``: adoption, funnel, usage, or the month."""

    @web.authenticated
    async def get(self, community: str, kind: str, suffix: str | None = None) -> None:
        self.require_scope(scopes.REPORTS, community)
        # the request's own arguments first (400), then whether the community exists (404)
        if kind == "month":
            self.month_arg()
        else:
            self.period()
        await self.require_community(community)
        if self.outside(community):
            return await self.outside_report(community, kind)
        store, _ = self.catalyst.store, self._
        if kind == "month":
            return await self.month(community)
        period = self.period()
        if kind == "adoption":
            report = await self.run_db(adoption, store, community, period)
            tables = adoption_tables(report, _)
            sections = self.adoption_sections(report, tables)
            figures = [
                (
                    "active",
                    _("Active members"),
                    report.active_members,
                    _("Members active at least once in the period."),
                ),
                (
                    "mean-dau",
                    _("Mean DAU"),
                    report.mean_dau,
                    _("Average of the daily active members over the days of the period."),
                ),
                (
                    "new",
                    _("New members"),
                    report.new_members,
                    _("Members first seen in the period."),
                ),
                (
                    "activated",
                    _("Activated"),
                    report.activated_members,
                    _(
                        "Members who reached every step of the community's checklist, by the end of the period."
                    ),
                ),
                (
                    "new-activated",
                    _("Newcomers activated"),
                    f"{report.new_activated} / {report.new_members}",
                    _("New members of the period who are activated."),
                ),
                (
                    "stickiness",
                    _("Stickiness"),
                    None if report.stickiness is None else f"{report.stickiness:g}%",
                    _(
                        "Mean DAU divided by the members active in the period (DAU/MAU for a 30-day period)."
                    ),
                ),
            ]
            title = _("Adoption")
        elif kind == "funnel":
            report = await self.run_db(funnel, store, community, period, self.language)
            table = funnel_table(report, _)
            tables = [table]
            stall = report.stall_step
            figures = [
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
            sections = self.funnel_sections(report, table)
            title = _("Onboarding funnel")
        else:
            report = await self.run_db(usage, store, community, period)
            tables = usage_tables(report, _)
            figures = [
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
            sections = self.usage_sections(report, tables)
            title = _("Usage")
        if self.export(tables, report.to_json(), f"{community}-{kind}"):
            return
        self.page(
            "reports/report.html",
            title=title,
            kind=kind,
            community=community,
            period=period,
            figures=figures,
            sections=sections,
            definitions=DEFINITIONS[kind](_),
        )

    def month_arg(self) -> tuple[int, int]:
        """``month=YYYY-MM`` (default: the current month), as (year, month)."""
        arg = self.get_query_argument("month", None)
        today = utcnow().date()
        try:
            start = Period.parse_month(arg, self._).start if arg else today
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from None
        if start.replace(day=1) > today:
            raise web.HTTPError(
                400, self._("The month {month} has not begun", month=f"{start:%Y-%m}")
            )
        return start.year, start.month

    async def outside_report(self, community: str, kind: str) -> None:
        """The report's figures through the suppression policy, without per-day detail."""
        store, k, _ = self.catalyst.store, self.catalyst.min_group_size, self._
        if kind == "month":
            year, month = self.month_arg()
            report = await self.run_db(month_report, store, community, year, month, self.language)
        elif kind == "funnel":
            report = await self.run_db(funnel, store, community, self.period(), self.language)
        elif kind == "adoption":
            # the weekly lifecycle and retention are not shown outside
            report = await self.run_db(adoption, store, community, self.period(), weekly=False)
        else:
            report = await self.run_db(usage, store, community, self.period())
        shown = OUTSIDE[kind](report, k)
        tables = outside_tables(shown, _)
        if self.export(tables, shown.to_json(), f"{community}-{kind}"):
            return
        titles = {
            "adoption": _("Adoption"),
            "funnel": _("Onboarding funnel"),
            "usage": _("Usage"),
            "month": _("Monthly report"),
        }
        self.page(
            "reports/outside.html",
            title=titles[kind],
            kind=kind,
            community=community,
            period=shown.period,
            tables=tables,
            k=k,
        )

    async def month(self, community: str) -> None:
        year, month = self.month_arg()
        today = utcnow().date()
        report = await self.run_db(
            month_report, self.catalyst.store, community, year, month, self.language, today
        )
        _ = self._
        labels = [d.day.strftime("%d") for d in report.adoption.daily]
        dau_chart = charts.line_chart(
            "chart-month-dau",
            _("Daily active members"),
            _("Members active each day of the month."),
            labels,
            [(_("DAU"), [d.dau for d in report.adoption.daily])],
            _("Day of the month"),
            _("Members"),
        )
        funnel_chart = charts.bar_chart(
            "chart-month-funnel",
            _("Onboarding of the month's newcomers"),
            _("Newcomers of the month who reached each step and every step before it."),
            [s.id for s in report.funnel.steps],
            [(_("Through"), [s.through for s in report.funnel.steps])],
            _("Step"),
            _("Newcomers"),
        )
        figures = {f.key: f for f in report.figures}
        tables = [
            figures_table(report.figures, figure_labels(_), _),
            adoption_tables(report.adoption, _)[0],
            funnel_table(report.funnel, _),
        ]
        if self.export(tables, report.to_json(), f"{community}-month"):
            return
        self.page(
            "reports/month.html",
            community=community,
            report=report,
            figures=figures,
            labels=figure_labels(_),
            dau_chart=dau_chart,
            funnel_chart=funnel_chart,
            tables=tables,
        )

    # -- page sections: (id, title, definition, chart, table) ---------------------------------

    def adoption_sections(self, report, tables):
        _ = self._
        daily, lifecycle, retention = tables
        days = [r.day.isoformat()[5:] for r in report.daily]
        return [
            {
                "id": "daily-active",
                "title": _("Active members"),
                "chart": charts.line_chart(
                    "chart-daily-active",
                    _("Daily, weekly and monthly active members"),
                    _(
                        "DAU, and members active in the 7 and 30 days ending each day of the period."
                    ),
                    days,
                    [
                        (_("DAU"), [r.dau for r in report.daily]),
                        (_("WAU"), [r.wau for r in report.daily]),
                        (_("MAU"), [r.mau for r in report.daily]),
                    ],
                    _("Day"),
                    _("Members"),
                ),
                "table": daily,
            },
            {
                "id": "lifecycle",
                "title": _("Lifecycle"),
                "chart": charts.bar_chart(
                    "chart-lifecycle",
                    _("Lifecycle per week"),
                    _("New, returning and resurrected members each week; dormant ones below zero."),
                    [w.week.isoformat()[5:] for w in report.lifecycle],
                    [
                        (_("New"), [w.new for w in report.lifecycle]),
                        (_("Returning"), [w.returning for w in report.lifecycle]),
                        (_("Resurrected"), [w.resurrected for w in report.lifecycle]),
                        (_("Dormant"), [-w.dormant for w in report.lifecycle]),
                    ],
                    _("Week of"),
                    _("Members"),
                ),
                "table": lifecycle,
            },
            {"id": "retention", "title": _("Retention"), "chart": None, "table": retention},
        ]

    def funnel_sections(self, report, table):
        _ = self._
        return [
            {
                "id": "funnel",
                "title": _("Onboarding funnel"),
                "chart": charts.bar_chart(
                    "chart-funnel",
                    _("Newcomers through each step"),
                    _("Newcomers who reached each step and every step before it."),
                    [s.id for s in report.steps],
                    [
                        (_("Through"), [s.through for s in report.steps]),
                        (_("Reached"), [s.reached for s in report.steps]),
                    ],
                    _("Step"),
                    _("Newcomers"),
                ),
                "table": table,
            }
        ]

    def usage_sections(self, report, tables):
        _ = self._
        daily, environments, sizes, images, apps = tables
        return [
            {
                "id": "sessions-daily",
                "title": _("Sessions"),
                "chart": charts.bar_chart(
                    "chart-sessions",
                    _("Server-hours per day"),
                    _("Hours of the sessions started each day."),
                    [d.day.isoformat()[5:] for d in report.daily],
                    [(_("Server-hours"), [d.hours for d in report.daily])],
                    _("Day"),
                    _("Hours"),
                ),
                "table": daily,
            },
            {
                "id": "environments",
                "title": _("Environments"),
                "chart": charts.bar_chart(
                    "chart-environments",
                    _("Sessions per environment"),
                    _("JupyterLab, RStudio and other images."),
                    [r.name for r in report.environments],
                    [(_("Sessions"), [r.sessions for r in report.environments])],
                    _("Environment"),
                    _("Sessions"),
                ),
                "table": environments,
            },
            {"id": "sizes", "title": _("Server sizes"), "chart": None, "table": sizes},
            {"id": "images", "title": _("Images and profiles"), "chart": None, "table": images},
            {
                "id": "apps",
                "title": _("Apps"),
                "chart": charts.bar_chart(
                    "chart-apps",
                    _("Hours per app"),
                    _("JupyterLab, RStudio and other apps behind the proxy, terminals."),
                    [row[0] for row in apps.rows],
                    [(_("Hours"), [r.hours for r in report.apps])],
                    _("App"),
                    _("Hours"),
                ),
                "table": apps,
            },
        ]


def _adoption_definitions(_) -> list[tuple[str, str]]:
    return [
        (
            _("Active"),
            _(
                "A member is active on a day when they did something on the hub that day in this community: ran code, opened a notebook or a terminal, started a server, completed an exercise."
            ),
        ),
        (
            _("DAU, WAU, MAU"),
            _(
                "Members active that day; in the 7 days ending that day; in the 30 days ending that day."
            ),
        ),
        (_("New"), _("Members first seen in the period.")),
        (
            _("Activated"),
            _(
                "Members who reached every step of their community's checklist; activated on the day they reached the last one."
            ),
        ),
        (
            _("Stickiness"),
            _("Mean DAU over the period divided by the members active in the period."),
        ),
        (
            _("Lifecycle"),
            _(
                "Each week: new (first seen that week), returning (also active the week before), resurrected (not active the week before, seen earlier), dormant (active the week before, not this week)."
            ),
        ),
        (
            _("Retention"),
            _(
                "Members first seen in a week (a cohort) who were active in each following week, as a count and a percent of the cohort."
            ),
        ),
        (
            _("Excluded"),
            _("Staff and service accounts configured as excluded are left out of every figure."),
        ),
    ]


def _funnel_definitions(_) -> list[tuple[str, str]]:
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


def _usage_definitions(_) -> list[tuple[str, str]]:
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


DEFINITIONS = {
    "adoption": _adoption_definitions,
    "funnel": _funnel_definitions,
    "usage": _usage_definitions,
}


class OverviewPage(ReportHandler):
    """``reports/overview``: all communities side by side; needs unfiltered reports scope."""

    @web.authenticated
    async def get(self, suffix: str | None = None) -> None:
        if self.allowed(scopes.REPORTS) is not scopes.ALL:
            raise web.HTTPError(
                403,
                self._(
                    "The overview needs the scope {scope} for every community.",
                    scope=scopes.REPORTS,
                ),
            )
        period = self.period()
        k = self.catalyst.min_group_size
        rows = await self.run_db(overview, self.catalyst.store, period, k)
        table = overview_table(rows, self._)
        data = {
            "period": period.to_json(),
            "min_group_size": k,
            "communities": [r.to_json() for r in rows],
        }
        if self.export([table], data, "overview"):
            return
        self.page("reports/overview.html", period=period, table=table, k=k)


# -- training ----------------------------------------------------------------------------------


class TrainingHandler(ReportHandler):
    def training_scope(self):
        allowed = self.allowed(scopes.TRAINING)
        if not allowed:
            raise web.HTTPError(403, self._("This needs the scope {scope}", scope=scopes.TRAINING))
        return allowed

    async def visible_cohort(self, cohort_id: str):
        """The cohort, if it is in a community this token leads; else 404 (nothing of
        another community is revealed, not even that the cohort exists)."""
        allowed = self.training_scope()
        number = whole_number(cohort_id)
        # beyond the id column's range (a 32-bit integer in PostgreSQL) there is no cohort
        cohort = (
            await self.run_db(get_cohort, self.catalyst.store, number)
            if number is not None and number < 2**31
            else None
        )
        if cohort is None or not (allowed is scopes.ALL or cohort.community in allowed):
            raise web.HTTPError(404, self._("No such cohort."))
        return cohort

    def body(self) -> dict[str, Any]:
        """Form fields or a JSON object, as {name: str or list of str}."""
        if self.request.headers.get("Content-Type", "").startswith("application/json"):
            try:
                data = orjson.loads(self.request.body or b"{}")
            except orjson.JSONDecodeError:
                raise web.HTTPError(400, self._("Request body is not valid JSON.")) from None
            check_json_limits(self, data)
            if not isinstance(data, dict):
                raise web.HTTPError(400, self._("Request body must be a JSON object."))
        else:
            data = {
                key: [v.decode("utf-8", "replace") for v in values]
                if key in LIST_FIELDS
                else values[-1].decode("utf-8", "replace")
                for key, values in self.request.body_arguments.items()
            }
        for key, value in data.items():
            values = value if key in LIST_FIELDS and isinstance(value, list) else [value]
            # text only (or a list of texts), and no NUL, which no database text column holds
            if not all(v is None or (isinstance(v, str) and "\x00" not in v) for v in values):
                raise web.HTTPError(400, self._("{field} must be text.", field=key[:40]))
        return data

    @property
    def wants_json(self) -> bool:
        return self.fmt == "json" or self.request.headers.get("Content-Type", "").startswith(
            "application/json"
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if self.wants_json:
            return APIHandler.write_error(self, status_code, **kwargs)
        return super().write_error(status_code, **kwargs)

    def done(
        self,
        cohort_id: int,
        status: str,
        data: dict[str, Any] | None = None,
        http_status: int = 200,
    ) -> None:
        if self.wants_json:
            return self.write_json(
                {"status": status, "cohort": cohort_id, **(data or {})}, status=http_status
            )
        target = f"{self.catalyst.service_prefix}training/cohorts/{cohort_id}?" + urlencode(
            {"status": status}
        )
        self.redirect(target, status=303)


class TrainingPage(TrainingHandler):
    """``training/``: the cohorts of the communities led; POST creates one."""

    @web.authenticated
    async def get(self, suffix: str | None = None) -> None:
        allowed = self.training_scope()
        store = self.catalyst.store
        cohorts = await self.run_db(list_cohorts, store, None if allowed is scopes.ALL else allowed)
        communities = (
            await self.run_db(known_communities, store)
            if allowed is scopes.ALL
            else sorted(allowed)
        )
        if self.fmt == "json":
            return self.write_json({"cohorts": [c.to_json() for c in cohorts]})
        self.page(
            "reports/training.html",
            cohorts=cohorts,
            communities=communities,
            lessons=self.lesson_choices(),
            error=None,
        )

    def lesson_choices(self) -> list[tuple[str, str]]:
        from ..catalog import localized

        return [
            (
                lesson.id,
                f"{localized(program.title, self.language)}: {localized(lesson.title, self.language)}",
            )
            for program in self.catalyst.store.catalog.programs
            for lesson in program.lessons
        ]

    @web.authenticated
    async def post(self, suffix: str | None = None) -> None:
        actor = self.require_actor()
        allowed = self.training_scope()
        body = self.body()
        community = str(body.get("community") or "")
        if not (allowed is scopes.ALL or community in allowed):
            raise web.HTTPError(403, self._("You do not lead training in this community."))
        try:
            fields = parse_fields(
                self.catalyst.store,
                body.get("name"),
                body.get("language"),
                body.get("starts") or None,
                body.get("ends") or None,
                _as_list(body.get("lessons")),
            )
        except CohortError as e:
            raise web.HTTPError(400, str(e)) from None
        cohort_id = await self.run_db(
            create_cohort, self.catalyst.store, community, fields, actor.member_id
        )
        self.done(cohort_id, "created", http_status=201)


class CohortPage(TrainingHandler):
    """``training/cohorts/<id>``: the completion matrix (GET, with usernames); POST edits."""

    @web.authenticated
    async def get(self, cohort_id: str, suffix: str | None = None) -> None:
        actor = self.require_actor()
        cohort = await self.visible_cohort(cohort_id)
        store = self.catalyst.store
        matrix = await self.run_db(completion_matrix, store, cohort, self.language)
        action = "view_cohort" if self.fmt == "html" else f"export_cohort_{self.fmt}"
        names = await self.run_db(
            usernames,
            store,
            cohort.members,
            Access(actor.member_id, action, cohort.community, f"cohort {cohort.id}"),
        )
        table = matrix_table(matrix, names, self._)
        if self.export([table], matrix.to_json(names), f"cohort-{cohort.id}"):
            return
        status = self.get_query_argument("status", "")
        self.page(
            "reports/cohort.html",
            cohort=cohort,
            matrix=matrix,
            names=names,
            learners=sorted(
                matrix.learners, key=lambda r: names.get(r.member_id, r.member_id).lower()
            ),
            table=table,
            lessons=TrainingPage.lesson_choices(self),
            status=status
            if status in ("created", "saved", "added", "removed", "signed-off")
            else "",
            languages_named=[(code, name) for code, name in LANGUAGE_NAMES.items()],
        )

    @web.authenticated
    async def post(self, cohort_id: str, suffix: str | None = None) -> None:
        self.require_actor()
        cohort = await self.visible_cohort(cohort_id)
        body = self.body()
        try:
            fields = parse_fields(
                self.catalyst.store,
                body.get("name"),
                body.get("language"),
                body.get("starts") or None,
                body.get("ends") or None,
                _as_list(body.get("lessons")),
            )
        except CohortError as e:
            raise web.HTTPError(400, str(e)) from None
        await self.run_db(update_cohort, self.catalyst.store, cohort.id, fields)
        self.done(cohort.id, "saved")


class CohortLearners(TrainingHandler):
    """``POST training/cohorts/<id>/learners``: add (``usernames``) or remove (``remove``:
    member ids) learners. Only members of the cohort's community can be added."""

    @web.authenticated
    async def post(self, cohort_id: str) -> None:
        actor = self.require_actor()
        cohort = await self.visible_cohort(cohort_id)
        store = self.catalyst.store
        body = self.body()
        names = [
            n.strip()
            for raw in _as_list(body.get("usernames"))
            for n in raw.replace(",", "\n").splitlines()
            if n.strip()
        ]
        remove = [m for m in _as_list(body.get("remove")) if m]
        if len(names) + len(remove) > MAX_LEARNERS_PER_REQUEST:
            raise web.HTTPError(
                400, self._("At most {n} learners per request.", n=MAX_LEARNERS_PER_REQUEST)
            )
        found, unknown = [], []
        for name in names:
            known = await self.run_db(known_member, store, name)
            # one answer for "no such user" and "user of another community": no leak across
            if known is None or known[1] != cohort.community:
                unknown.append(name)
            else:
                found.append(known[0])
        if unknown:
            raise web.HTTPError(
                400,
                self._(
                    "Not added: no member of {community} is called {names}.",
                    community=cohort.community,
                    names=", ".join(unknown),
                ),
            )
        # learners are removed by member id: anything else (a username, free text) is refused
        # before anything is written, so it never reaches the audit log
        if remove and await self.run_db(unknown_members, store, remove):
            raise web.HTTPError(
                400, self._("Not removed: learners are removed by their member id.")
            )
        access = Access(actor.member_id, "add_learners", cohort.community, f"cohort {cohort.id}")
        if found:
            await self.run_db(add_members, store, cohort.id, found, actor.member_id)
            await self.run_db(audit, store, access, found)
        if remove:
            await self.run_db(remove_members, store, cohort.id, remove)
            removed = Access(
                actor.member_id, "remove_learners", cohort.community, f"cohort {cohort.id}"
            )
            await self.run_db(audit, store, removed, remove)
        self.done(
            cohort.id,
            "added" if found else "removed",
            {"added": len(found), "removed": len(remove)},
        )


class CohortSignOff(TrainingHandler):
    """``POST training/cohorts/<id>/signoff``: the lead signs off an episode for a learner
    (``learner`` member id, ``lesson``, ``episode``), as an ``episode_completed`` event."""

    @web.authenticated
    async def post(self, cohort_id: str) -> None:
        actor = self.require_actor()
        cohort = await self.visible_cohort(cohort_id)
        body = self.body()
        learner, lesson, episode = (
            str(body.get(k) or "") for k in ("learner", "lesson", "episode")
        )
        store = self.catalyst.store
        try:
            await self.run_db(sign_off, store, cohort, learner, lesson, episode, actor.member_id)
        except SignOffError as e:
            raise web.HTTPError(400, self._(str(e))) from None
        access = Access(
            actor.member_id, "sign_off", cohort.community, f"cohort {cohort.id}: {lesson}/{episode}"
        )
        await self.run_db(audit, store, access, [learner])
        self.done(cohort.id, "signed-off")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


# -- audit and metrics -------------------------------------------------------------------------


class AuditPage(ReportHandler):
    """``reports/audit``: who read per-person data (admin scope; a filter limits communities)."""

    @web.authenticated
    async def get(self, suffix: str | None = None) -> None:
        allowed = self.allowed(scopes.ADMIN)
        if not allowed:
            raise web.HTTPError(403, self._("This needs the scope {scope}", scope=scopes.ADMIN))
        page = whole_number(self.get_query_argument("page", "0"), most_digits=9)
        if page is None:
            raise web.HTTPError(
                400, self._("page must be a number from 0 to {most}", most=MAX_AUDIT_PAGE)
            )
        total, rows = await self.run_db(
            audit_entries,
            self.catalyst.store,
            None if allowed is scopes.ALL else allowed,
            200,
            page * 200,
        )
        table = audit_table(rows, self._)
        if self.export([table], {"total": total, "entries": table.records()}, "audit"):
            return
        self.page(
            "reports/audit.html", table=table, total=total, page=page, more=(page + 1) * 200 < total
        )


class MetricsHandler(APIHandler):
    """``metrics``: Prometheus text format, for a token with ``custom:catalyst:metrics``."""

    async def get(self) -> None:
        allowed = self.require_scope(scopes.METRICS)
        registry = metrics_registry(
            self.catalyst.store,
            self.catalyst.min_group_size,
            None if allowed is scopes.ALL else allowed,
        )
        body = await self.run_db(generate_latest, registry)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.set_header("Cache-Control", "no-store")
        self.finish(body)


def handlers() -> list[tuple]:
    """Routes relative to the service prefix."""
    fmt = r"(?:\.(?P<suffix>csv|json))?"
    return [
        (r"reports/?", IndexPage),
        (rf"reports/overview{fmt}", OverviewPage),
        (rf"reports/audit{fmt}", AuditPage),
        (
            rf"reports/communities/(?P<community>[^/]+)/(?P<kind>{'|'.join(KINDS)}){fmt}",
            CommunityReport,
        ),
        (rf"training/?{fmt}", TrainingPage),
        (rf"training/cohorts/(?P<cohort_id>\d+){fmt}", CohortPage),
        (r"training/cohorts/(?P<cohort_id>\d+)/learners", CohortLearners),
        (r"training/cohorts/(?P<cohort_id>\d+)/signoff", CohortSignOff),
        (r"metrics", MetricsHandler),
    ]
