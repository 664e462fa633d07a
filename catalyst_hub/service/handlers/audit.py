"""The audit log: who read per-person data."""

from __future__ import annotations

from tornado import web

from ...reports.common import whole_number
from ...reports.export import audit_table
from ...reports.people import audit_entries
from .. import scopes
from .base import FORMAT_SUFFIX, ReportHandler

#: Last page of the audit log one may ask for (pages of 200 entries).
MAX_AUDIT_PAGE = 10**9 - 1


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
            self.store,
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


default_handlers = [
    (rf"reports/audit{FORMAT_SUFFIX}", AuditPage),
]
