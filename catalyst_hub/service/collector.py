"""The collector: polls the hub's REST API and records server sessions as events.

Works whatever a member runs (JupyterLab, RStudio, any image behind the proxy), since it
only reads the hub's view of servers. Event ids are derived from what they describe, keyed
with the deployment's secret and the member id (never the username: nobody without the
secret can test a guessed name against them), so polling again, or after a restart, never
records a session twice.

What is recorded follows each member's stored decision (see ``Ingestor.admit``): nothing for
an opted-out or erased member, not even their identity; essential events only until the
member decides (opt-in). Its memory of what it sent is only a shortcut: after a restart the
stored decisions, not that memory, keep it from recording anyone again.

Least-privilege role for the service's token (see jupyter_config/jupyterhub_config.py)::

    list:users, read:users:name, read:users:groups, read:users:activity, read:servers
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Any as AnyTrait
from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

from ..events import envelope
from ..events.names import ACTION, ACTIVITY, SERVER_STARTED, SERVER_STOPPED
from ..identity import keyed_uuid
from ..ingest import COLLECTOR, Sender
from ..timeutil import isoformat, local_day, parse_time, utcnow

#: what a server's user_options may call the environment and the size (KubeSpawner profiles)
ENVIRONMENT_KEYS = ("image", "environment", "profile_option_image", "image_option")
SIZE_KEYS = ("size", "resource_allocation", "profile_option_size", "mem_limit")

T = TypeVar("T")


def event_id(secret: bytes, hub: str, member_id: str, *parts: str) -> str:
    """The id of a collector event about ``member_id`` (migration 0010 makes the same)."""
    return keyed_uuid(secret, hub, member_id, *parts)


class Collector(LoggingConfigurable):
    poll_interval = Float(60.0, config=True, help="Seconds between polls of the hub's REST API.")
    page_size = Integer(200, config=True, help="Users per page when listing the hub's users.")
    request_timeout = Float(30.0, config=True, help="Timeout of one hub API request, in seconds.")

    app = AnyTrait()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._task: asyncio.Task | None = None
        self._sent: set[str] = set()
        self._running: dict[tuple[str, str, str], dict[str, Any]] | None = None
        self.polls = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _loop(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a hub restart or timeout must never stop collecting
                self.log.warning(
                    "collector: poll failed, will retry in %ss: %s", self.poll_interval, e
                )
            await asyncio.sleep(self.poll_interval)

    # -- hub API -----------------------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        auth = self.app.hub_auth
        url = auth.api_url.rstrip("/") + path + "?" + urlencode(params)
        request = HTTPRequest(
            url,
            headers={
                "Authorization": f"token {auth.api_token}",
                "Accept": "application/jupyterhub-pagination+json",
            },
            request_timeout=self.request_timeout,
        )
        response = await AsyncHTTPClient().fetch(request)
        return json.loads(response.body)

    async def users(self) -> AsyncIterator[dict[str, Any]]:
        """Every user model, page by page (JupyterHub 2.0+ pagination, as idle-culler does)."""
        offset = 0
        while True:
            page = await self._get("/users", {"offset": offset, "limit": self.page_size})
            if isinstance(page, list):  # a hub without pagination answers a plain list
                for user in page:
                    yield user
                return
            for user in page["items"]:
                yield user
            following = page.get("_pagination", {}).get("next")
            if not following:
                return
            offset = following["offset"]

    # -- one poll ----------------------------------------------------------------------------

    async def poll(self) -> int:
        """Read every user's servers once; record what changed. Returns events stored."""
        app = self.app
        if self._running is None:
            self._running = await self._run_db(app.store.open_sessions)
        items: list[tuple[dict, Sender]] = []
        usernames: dict[str, str] = {}
        seen: set[tuple[str, str, str]] = set()
        now = utcnow()
        try:
            async for user in self.users():
                # the keyed id, computed without writing: a user's identity is recorded only
                # once something about them is stored (an erased or opted-out member who
                # merely still has an account on the hub stays unrecorded)
                sender = Sender(
                    app.store.pseudonym(user["name"]),
                    app.communities.community_for(list(user.get("groups") or [])),
                )
                usernames[sender.member_id] = user["name"]
                items.extend(self._user_events(user, sender, seen))
        except HTTPClientError as e:
            raise RuntimeError(f"hub API answered {e.code}") from e
        # only a complete listing tells which servers are gone
        assert self._running is not None  # read above
        for key, session in list(self._running.items()):
            if key in seen:
                continue
            member_id, server_name, started = key
            raw = envelope(
                SERVER_STOPPED,
                {
                    "server_name": server_name,
                    "started": started,
                    "last_activity": session.get("last_activity"),
                },
                time=now,
                id=event_id(
                    app.store.secret, app.hub_name, member_id, server_name, started, "stop"
                ),
            )
            items.append((raw, Sender(member_id, session["community"])))
            del self._running[key]
        items = [(raw, sender) for raw, sender in items if raw["id"] not in self._sent]
        stored = 0
        if items:
            # held events (a member who has not decided) are not marked sent: tried again
            # at the next poll, and stored once the member accepts
            new, held = await self._run_db(app.ingestor.ingest_trusted, items, COLLECTOR)
            self._sent.update(raw["id"] for raw, _ in items if raw["id"] not in held)
            stored = len(new)
            members = {sender.member_id for raw, sender in items if raw["id"] in new}
            for member in sorted(members & usernames.keys()):
                if app.store.known_member_id(usernames[member]) is None:
                    await self._run_db(app.store.member_id, usernames[member])
        self.polls += 1
        self.log.debug("collector: poll %d stored %d event(s)", self.polls, stored)
        return stored

    def _user_events(self, user: dict, sender: Sender, seen: set) -> list[tuple[dict, Sender]]:
        hub, secret, member = self.app.hub_name, self.app.store.secret, sender.member_id
        out = []
        if user.get("last_activity"):
            out.append(
                (
                    envelope(
                        ACTION,
                        {"action": "logged_in"},
                        time=parse_time(user["last_activity"]),
                        id=event_id(secret, hub, member, "logged_in"),
                    ),
                    sender,
                )
            )
        for server_name, server in (user.get("servers") or {}).items():
            started = server.get("started")
            if not started:
                continue
            started_iso = isoformat(parse_time(started))
            options = server.get("user_options") or {}
            payload: dict[str, Any] = {"server_name": server_name, "started": started_iso}
            profile = options.get("profile")
            environment = next((str(options[k]) for k in ENVIRONMENT_KEYS if options.get(k)), None)
            size = next((str(options[k]) for k in SIZE_KEYS if options.get(k)), None)
            for name, value in (("profile", profile), ("environment", environment), ("size", size)):
                if value:
                    payload[name] = str(value)[:255]
            out.append(
                (
                    envelope(
                        SERVER_STARTED,
                        payload,
                        time=started_iso,
                        id=event_id(secret, hub, member, server_name, started_iso, "start"),
                    ),
                    sender,
                )
            )
            last = server.get("last_activity")
            key = (sender.member_id, server_name, started_iso)
            seen.add(key)
            assert self._running is not None  # read by poll first
            self._running[key] = {
                "community": sender.community,
                "last_activity": isoformat(parse_time(last)) if last else None,
            }
            if last:
                last_time = parse_time(last)
                out.append(
                    (
                        envelope(
                            ACTIVITY,
                            {"kind": "server", "count": 1},
                            time=last_time,
                            id=event_id(
                                secret,
                                hub,
                                member,
                                server_name,
                                local_day(last_time, self.app.store.zone).isoformat(),
                                "activity",
                            ),
                        ),
                        sender,
                    )
                )
        return out

    async def _run_db(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.app.db_executor, fn, *args)
