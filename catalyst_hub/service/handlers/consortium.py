"""``api/consortium``: the state of this hub's publishing to its consortium (hub admins)."""

from __future__ import annotations

from tornado import web

from ...store import publish_queue
from .. import scopes
from ..base import APIHandler


class ConsortiumStatus(APIHandler):
    """The last day published, the months waiting, the last error (``custom:catalyst:admin``
    unfiltered: the publisher sends every community of the hub). ``POST`` publishes now."""

    def _check(self) -> None:
        if self.current_user is None:
            self.raise_unauthenticated()
        if self.communities(scopes.ADMIN) is not scopes.ALL:
            raise web.HTTPError(403, self._("This needs the scope {scope}", scope=scopes.ADMIN))

    async def get(self) -> None:
        self._check()
        app = self.catalyst
        state = await self.run_db(publish_queue.status, self.store)
        self.write_json({"enabled": bool(app.consortium_url), "url": app.consortium_url, **state})

    async def post(self) -> None:
        self._check()
        publisher = self.catalyst.publisher
        if publisher is None:
            raise web.HTTPError(409, self._("No consortium is configured for this hub."))
        sent = await publisher.run_once()
        state = await self.run_db(publish_queue.status, self.store)
        self.write_json({"sent": sent, **state})


default_handlers = [(r"api/consortium", ConsortiumStatus)]
