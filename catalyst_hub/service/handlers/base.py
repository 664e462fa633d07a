"""The base of the staff pages: a page that is also a CSV and JSON export.

Every handler does the same four things: parse the request, authorize it against the
token's scopes (``require_scope``; a ``!group=`` filter limits it to communities), call report
functions (all SQL lives in ``catalyst_hub.reports``), and render. Each page's tables are
also served as CSV (``?format=csv&table=<id>`` or ``<page>.csv``) and the whole report as JSON
(``?format=json`` or ``<page>.json``). Export errors are JSON; page errors are HTML pages.

- ``custom:catalyst:reports``: adoption, funnel, usage and the monthly report of the
  communities allowed; the consortium overview needs it unfiltered (``reports.py``).
- ``custom:catalyst:training``: cohorts, the completion matrix, sign-off, per-learner CSV
  (``training.py``).
- ``custom:catalyst:admin``: all of these and the audit log (``audit.py``).
- ``custom:catalyst:metrics``: ``metrics`` for Prometheus (``metrics.py``).

A token reading a community through an unfiltered scope only (neither a catalyst admin nor
filtered to that community) reads it from outside: the overview, the metrics and that
community's reports show its figures through ``reports.suppression`` alone, without per-day
or per-person detail (``reports.outside``). A community the hub does not have is a 404,
after the scope check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from tornado import web

from ...reports.common import Period, Suppressed, community_exists
from ...reports.export import DataTable
from .. import scopes
from ..base import APIHandler
from ..pages import PageHandler

FORMATS = ("html", "csv", "json")
#: The optional ``.csv`` or ``.json`` suffix of an exportable page's route.
FORMAT_SUFFIX = r"(?:\.(?P<suffix>csv|json))?"


def send_csv(
    handler: web.RequestHandler,
    tables: Sequence[DataTable],
    filename: str,
    _: Callable[..., str],
) -> None:
    """Answer ``?format=csv`` with the table named by ``table`` (the first by default) as a
    download; 404 naming the tables for another name, in the language of ``_``."""
    wanted = handler.get_query_argument("table", None) or tables[0].id
    table = next((t for t in tables if t.id == wanted), None)
    if table is None:
        raise web.HTTPError(
            404,
            _(
                "No table {table}; tables: {tables}",
                table=wanted,
                tables=", ".join(t.id for t in tables),
            ),
        )
    handler.set_header("Content-Type", "text/csv; charset=UTF-8")
    handler.set_header("Content-Disposition", attachment(f"{filename}-{table.id}.csv"))
    handler.set_header("Cache-Control", "no-store")
    # a BOM so spreadsheets read UTF-8 community names and titles right
    handler.finish("\ufeff" + table.csv())


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
                arg("from", None),
                arg("to", None),
                arg("month", None),
                arg("days", None),
                _=self._,
                zone=self.store.zone,
            )
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from None

    async def require_community(self, community: str) -> None:
        """404 for a community this hub does not have (after the scope check, so a token
        filtered to other communities learns nothing of which exist)."""
        app = self.catalyst
        if not await self.run_db(
            community_exists, self.store, community, app.communities.configured()
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

    def allowed(self, scope: str) -> scopes.Communities:
        """Communities the token may read with ``scope`` (scopes.ALL or a set)."""
        return self.communities(scope)

    # -- output ------------------------------------------------------------------------------

    def export(self, tables: list[DataTable], data: dict[str, Any], filename: str) -> bool:
        """Answer a CSV or JSON request; False for an HTML one (the caller renders)."""
        if self.fmt == "json":
            self.write_json(data)
            return True
        if self.fmt == "csv":
            send_csv(self, tables, filename, self._)
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


def format_value(_: Callable[..., str]) -> Callable[[Any], str]:
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
