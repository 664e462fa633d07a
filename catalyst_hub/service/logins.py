"""An authenticated request proves a login: the checklist's "Log in" step is shown done on
the member's first look at their checklist (the ``me`` page, ``api/me``, which the
labextension polls), without waiting for the collector's next poll of the hub. Handlers
that show the checklist say so with ``records_login = True``; staff reading reports are not
made active members by it.

Cheap by construction: a member is recorded at most once per process and UTC day (an
in-memory set), and the event's id is derived from the member id, so the log holds one such
event per member whichever process or day sent it (later ones are duplicates). It goes
through the ingest path, so a member who opted out or was erased is not recorded.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from ..events import envelope
from ..events.names import ACTION
from ..identity import Actor, keyed_uuid
from ..ingest import Sender
from ..timeutil import utcnow

if TYPE_CHECKING:
    from .base import BaseHandler


def login_event(secret: bytes, hub: str, actor: Actor) -> dict[str, Any]:
    """The member's login event; its id keyed with the deployment's secret, like every id
    derived from who a member is."""
    return envelope(
        ACTION, {"action": "logged_in"}, id=keyed_uuid(secret, hub, actor.member_id, "logged_in")
    )


class LoginRecorder:
    """Who was recorded today, and the recording itself."""

    def __init__(self) -> None:
        self._day: date | None = None
        self._seen: set[str] = set()

    def _first_today(self, member_id: str) -> bool:
        today = utcnow().date()
        if today != self._day:
            self._day, self._seen = today, set()
        if member_id in self._seen:
            return False
        self._seen.add(member_id)
        return True

    async def seen(self, handler: BaseHandler, actor: Actor) -> None:
        """Record that ``actor`` is logged in, the first time today this process sees them."""
        if not getattr(handler, "records_login", False) or not self._first_today(actor.member_id):
            return
        app = handler.catalyst
        sender = Sender(member_id=actor.member_id, community=actor.community)
        event = login_event(handler.store.secret, handler.store.hub, actor)
        try:
            _, (result,) = await handler.run_db(app.ingestor.ingest, [event], sender)
        except Exception:
            # the request itself goes on; the next one tries again
            self._seen.discard(actor.member_id)
            raise
        if result.status == "deferred":
            # not decided on the notice yet: tried again once they have
            self._seen.discard(actor.member_id)
