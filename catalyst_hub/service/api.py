"""The JSON API: ingest, a member's own progress, service information."""

from __future__ import annotations

from tornado import web

from .. import __version__
from ..events import registry
from ..ingest import BatchError, Sender
from ..ingest.ingest import parse_batch
from ..reports.progress import member_progress
from .base import APIHandler


class InfoHandler(APIHandler):
    """``GET api/``: version and accepted event schemas. No authentication needed."""

    async def prepare(self) -> None:
        return None

    def get(self) -> None:
        self.write_json(
            {
                "version": __version__,
                "hub": self.catalyst.hub_name,
                "schemas": {s.name: registry.versions(s.name) for s in registry.all()},
                "max_batch_events": self.catalyst.max_batch_events,
                "max_body_bytes": self.catalyst.max_body_bytes,
            }
        )


class EventsHandler(APIHandler):
    """``POST api/events``: a batch of events about the token's owner."""

    async def post(self) -> None:
        actor = self.require_actor()
        limit = self.catalyst.max_body_bytes
        if len(self.request.body) > limit:
            raise web.HTTPError(
                413, self._("Request body is {size} bytes; the limit is {limit}.", size=len(self.request.body), limit=limit)
            )
        try:
            raws = parse_batch(self.request.body, self.catalyst.max_batch_events)
        except BatchError as e:
            raise web.HTTPError(400, str(e)) from None
        self.catalyst.rate_limiter.check(self, actor.member_id, len(raws))
        sender = Sender(member_id=actor.member_id, community=actor.community)
        stored, results = await self.run_db(self.catalyst.ingestor.ingest, raws, sender)
        body = {
            "stored": sum(1 for r in results if r.status == "stored"),
            "duplicate": sum(1 for r in results if r.status == "duplicate"),
            "errors": sum(1 for r in results if r.status == "error"),
            "results": [r.to_json() for r in results],
        }
        if not stored:
            body["status"] = 400
            body["message"] = self._("No event was stored: {count} event(s) are invalid.", count=body["errors"])
        self.write_json(body, status=200 if stored else 400)


class MeHandler(APIHandler):
    """``GET api/me``: the token owner's checklist and training progress."""

    async def get(self) -> None:
        actor = self.require_actor()
        progress = await self.run_db(member_progress, self.catalyst.store, actor.member_id, actor.community, self.language)
        self.write_json(progress)
