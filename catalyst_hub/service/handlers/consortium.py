"""``api/consortium``: the state of this hub's publishing to its consortium (hub admins)."""

from __future__ import annotations

from tornado import web
from tornado.escape import url_escape

from ...workflows.consortium import PublicPage, public_page, publishing_state, set_public_page
from .. import scopes
from ..base import APIHandler, BaseHandler
from ..pages import PageHandler


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
        state = await self._state()
        self.write_json({"enabled": bool(app.consortium_url), "url": app.consortium_url, **state})

    async def _state(self) -> dict:
        app = self.catalyst
        return await self.run_db(
            publishing_state, self.store, app.consortium_public_communities, app.consortium_url
        )

    async def post(self) -> None:
        self._check()
        publisher = self.catalyst.publisher
        if publisher is None:
            raise web.HTTPError(409, self._("No consortium is configured for this hub."))
        sent = await publisher.run_once()
        state = await self._state()
        self.write_json({"sent": sent, **state})


def check_champion(handler: BaseHandler, community: str, write: bool) -> None:
    """403 unless the caller is a champion of ``community`` (its reports or training scope)
    or a catalyst admin; unfiltered reports (consortium staff) may only read."""
    if handler.current_user is None:
        handler.raise_unauthenticated()
    if handler.communities(scopes.ADMIN) is scopes.ALL:
        return
    for scope in (scopes.REPORTS, scopes.TRAINING):
        allowed = handler.communities(scope)
        if allowed is scopes.ALL and not write:
            return
        if allowed is not scopes.ALL and community in allowed:
            return
    raise web.HTTPError(
        403, handler._("Only a champion of this community can choose its public page.")
    )


async def read_public_page(handler: BaseHandler, community: str) -> PublicPage:
    """The community's choice, with its page's address on the consortium once published."""
    app = handler.catalyst
    default = app.consortium_public_communities
    return await handler.run_db(public_page, handler.store, community, default, app.consortium_url)


class PublicPageHandler(APIHandler):
    """``api/consortium/communities/<community>/public-page``: whether the community's page
    on the consortium is public (GET), and its champion's choice (PUT ``{"public": bool}``).

    A champion of the community: ``custom:catalyst:reports`` or ``custom:catalyst:training``
    filtered to its group, or a catalyst admin. Unfiltered reports (consortium staff) read
    only: the choice is the community's."""

    def _check(self, community: str, write: bool) -> None:
        check_champion(self, community, write)

    def _answer(self, page: PublicPage) -> None:
        self.write_json(
            {
                "community": page.community,
                "public": page.public,
                "chosen": page.changed is not None,
                "changed": page.changed.isoformat() if page.changed else None,
                "url": page.url,
            }
        )

    async def get(self, community: str) -> None:
        self._check(community, write=False)
        self._answer(await read_public_page(self, community))

    async def put(self, community: str) -> None:
        actor = self.require_actor()
        self._check(community, write=True)
        body = self.json_body()
        if not isinstance(body, dict) or not isinstance(body.get("public"), bool):
            raise web.HTTPError(400, self._('Send a JSON object whose "public" is true or false.'))
        await self.run_db(set_public_page, self.store, community, body["public"], actor.member_id)
        self._answer(await read_public_page(self, community))


class PublicPageForm(PageHandler):
    """``consortium/communities/<community>/public-page``: the same choice as a page, its form
    posting ``public=yes`` or ``public=no`` (xsrf), then back to the page (post/redirect/get)."""

    @web.authenticated
    async def get(self, community: str) -> None:
        check_champion(self, community, write=False)
        page = await read_public_page(self, community)
        self.page(
            "public_page.html",
            choice=page,
            can_choose=self._can_choose(community),
            saved=self.get_query_argument("saved", "") == "1",
            consortium_url=self.catalyst.consortium_url,
        )

    def _can_choose(self, community: str) -> bool:
        try:
            check_champion(self, community, write=True)
        except web.HTTPError:
            return False
        return True

    @web.authenticated
    async def post(self, community: str) -> None:
        actor = self.require_actor()
        check_champion(self, community, write=True)
        choice = self.get_body_argument("public", "")
        if choice not in ("yes", "no"):
            raise web.HTTPError(400, self._("Choose public or not public."))
        await self.run_db(set_public_page, self.store, community, choice == "yes", actor.member_id)
        name = url_escape(community, plus=False)
        target = self.catalyst.service_prefix + f"consortium/communities/{name}/public-page"
        self.redirect(target + "?saved=1", status=303)


default_handlers = [
    (r"api/consortium", ConsortiumStatus),
    (r"api/consortium/communities/(?P<community>[^/]+)/public-page", PublicPageHandler),
    (r"consortium/communities/(?P<community>[^/]+)/public-page", PublicPageForm),
]
