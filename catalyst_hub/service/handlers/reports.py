"""Community reports (adoption, funnel, usage, the month) and the consortium overview."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tornado import web

from ...reports import adoption, charts, funnel, usage
from ...reports.common import Period, known_communities
from ...reports.export import (
    DataTable,
    adoption_tables,
    figure_labels,
    figures_table,
    funnel_table,
    outside_tables,
    overview_table,
    usage_tables,
)
from ...reports.monthly import MonthReport, month_report
from ...reports.outside import OUTSIDE
from ...reports.overview import overview
from .. import scopes
from .base import FORMAT_SUFFIX, ReportHandler

KINDS = ("adoption", "funnel", "usage", "month")
#: Each report page's terms, defined by the report that owns them.
DEFINITIONS = {
    "adoption": adoption.definitions,
    "funnel": funnel.definitions,
    "usage": usage.definitions,
}


class IndexPage(ReportHandler):
    """``reports/``: the communities this token may read, and the staff pages it may open."""

    @web.authenticated
    async def get(self) -> None:
        allowed = self.allowed(scopes.REPORTS)
        training = self.allowed(scopes.TRAINING)
        if not allowed and not training:
            raise web.HTTPError(403, self._("This needs the scope {scope}", scope=scopes.REPORTS))
        every = await self.run_db(known_communities, self.store)
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
        store, _ = self.store, self._
        if kind == "month":
            return await self.month(community)
        period = self.period()
        report: adoption.Adoption | funnel.Funnel | usage.Usage
        if kind == "adoption":
            report = await self.run_db(adoption.adoption, store, community, period)
            tables = adoption_tables(report, _)
            sections = self.adoption_sections(report, tables)
            figures = adoption.headline(report, _)
            title = _("Adoption")
        elif kind == "funnel":
            report = await self.run_db(funnel.funnel, store, community, period, self.language)
            table = funnel_table(report, _)
            tables = [table]
            figures = funnel.headline(report, _)
            sections = self.funnel_sections(report, table)
            title = _("Onboarding funnel")
        else:
            report = await self.run_db(usage.usage, store, community, period)
            tables = usage_tables(report, _)
            figures = usage.headline(report, _)
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
        today = self.store.today()
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
        store, k, _ = self.store, self.catalyst.min_group_size, self._
        report: MonthReport | funnel.Funnel | adoption.Adoption | usage.Usage
        if kind == "month":
            year, month = self.month_arg()
            report = await self.run_db(month_report, store, community, year, month, self.language)
        elif kind == "funnel":
            report = await self.run_db(
                funnel.funnel, store, community, self.period(), self.language
            )
        elif kind == "adoption":
            # the weekly lifecycle and retention are not shown outside
            report = await self.run_db(
                adoption.adoption, store, community, self.period(), weekly=False
            )
        else:
            report = await self.run_db(usage.usage, store, community, self.period())
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
        today = self.store.today()
        report = await self.run_db(
            month_report, self.store, community, year, month, self.language, today
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

    def adoption_sections(
        self, report: adoption.Adoption, tables: list[DataTable]
    ) -> list[dict[str, Any]]:
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

    def funnel_sections(self, report: funnel.Funnel, table: DataTable) -> list[dict[str, Any]]:
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

    def usage_sections(self, report: usage.Usage, tables: list[DataTable]) -> list[dict[str, Any]]:
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
        rows = await self.run_db(overview, self.store, period, k)
        table = overview_table(rows, self._)
        data = {
            "period": period.to_json(),
            "min_group_size": k,
            "communities": [r.to_json() for r in rows],
        }
        if self.export([table], data, "overview"):
            return
        self.page("reports/overview.html", period=period, table=table, k=k)


default_handlers = [
    (r"reports/?", IndexPage),
    (rf"reports/overview{FORMAT_SUFFIX}", OverviewPage),
    (
        rf"reports/communities/(?P<community>[^/]+)/(?P<kind>{'|'.join(KINDS)}){FORMAT_SUFFIX}",
        CommunityReport,
    ),
]
