"""xAPI: the hub's learning records as statements (``api/xapi/statements``), and the
forwarder's progress (``api/xapi/forwarder``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tornado import web

from ...interop.xapi import audited_page, decode_cursor, encode_cursor
from ...reports.common import community_exists, whole_number
from .. import scopes
from ..base import APIHandler

#: Statements per page: the default and the most one may ask for.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_PARAMETERS = {"limit", "cursor", "community", "lang"}


class XapiStatementsHandler(APIHandler):
    """``GET api/xapi/statements``: a StatementResult (``statements`` and ``more``) of the
    communities the token may read with the training or admin scope, oldest first."""

    async def get(self) -> None:
        allowed = self.readable()
        unknown = sorted(set(self.request.query_arguments) - _PARAMETERS)
        if unknown:
            raise web.HTTPError(
                400,
                self._(
                    "Unknown parameter {name}; the parameters are {names}.",
                    name=unknown[0],
                    names=", ".join(sorted(_PARAMETERS)),
                ),
            )
        limit = whole_number(self.get_query_argument("limit", str(DEFAULT_LIMIT)), 4)
        if limit is None or not 1 <= limit <= MAX_LIMIT:
            raise web.HTTPError(
                400, self._("limit must be a number from 1 to {most}", most=MAX_LIMIT)
            )
        cursor = None
        if self.get_query_argument("cursor", None) is not None:
            try:
                cursor = decode_cursor(self.get_query_argument("cursor"))
            except ValueError:
                raise web.HTTPError(
                    400, self._("cursor must be a value the previous page's more gave.")
                ) from None
        community = self.get_query_argument("community", None)
        communities = None if allowed is scopes.ALL else sorted(allowed)
        if community is not None:
            if allowed is not scopes.ALL and community not in allowed:
                raise web.HTTPError(
                    403,
                    self._("This needs the scope {scope}", scope=scopes.TRAINING)
                    + f" (!group=…{community})",
                )
            communities = [community]
            app = self.catalyst
            if not await self.run_db(
                community_exists, self.store, community, app.communities.configured()
            ):
                raise web.HTTPError(404, self._("No community called {name}.", name=community))
        actor = self.actor.member_id if self.actor else None
        page, more = await self.run_db(
            audited_page, self.store, self.catalyst.hub_url, communities, cursor, limit, actor
        )
        result: dict[str, Any] = {"statements": page, "more": ""}
        if more:
            args = {"limit": str(limit), "cursor": encode_cursor(page[-1])}
            if community is not None:
                args["community"] = community
            result["more"] = self.request.path + "?" + urlencode(args)
        self.set_header("X-Experience-API-Version", "1.0.3")
        self.write_json(result)

    def readable(self) -> scopes.Communities:
        """Communities the token reads statements of: with the admin or the training scope
        (scopes.ALL or a non-empty set); 403 otherwise."""
        found: set[str] = set()
        for scope in (scopes.ADMIN, scopes.TRAINING):
            allowed = self.communities(scope)
            if allowed is scopes.ALL:
                return scopes.ALL
            found |= allowed
        if not found:
            raise web.HTTPError(
                403,
                self._(
                    "This needs the scope {scope} or {other}",
                    scope=scopes.TRAINING,
                    other=scopes.ADMIN,
                ),
            )
        return found


class XapiForwarderHandler(APIHandler):
    """``GET api/xapi/forwarder``: what the forwarder sent to the LRS, what is left, and its
    last error (the unfiltered admin scope: it sends every community's records)."""

    async def get(self) -> None:
        if self.communities(scopes.ADMIN) is not scopes.ALL:
            raise web.HTTPError(403, self._("This needs the scope {scope}", scope=scopes.ADMIN))
        forwarder = self.catalyst.forwarder
        if forwarder is None:
            self.write_json({"enabled": False})
            return
        self.write_json(await self.run_db(forwarder.progress))


default_handlers = [
    (r"api/xapi/statements", XapiStatementsHandler),
    (r"api/xapi/forwarder", XapiForwarderHandler),
]
