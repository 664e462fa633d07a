"""The JSON API: ingest, a member's own progress and data, service information."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tornado import web

from .. import __version__
from ..events import envelope, registry
from ..events.names import CONSENT
from ..identity import Actor
from ..ingest import BatchError, EventResult, Sender
from ..ingest.ingest import HELD_MESSAGES, parse_batch
from ..reports.progress import member_progress
from ..store.privacy import WITHDRAWN, Erasure, consent_of, erase_member, export_member
from .base import APIHandler, Service


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
                413,
                self._(
                    "Request body is {size} bytes; the limit is {limit}.",
                    size=len(self.request.body),
                    limit=limit,
                ),
            )
        limiter = self.catalyst.rate_limiter
        # bytes before parsing (the cost of a body is parsing it), events once they are known
        limiter.check(self, actor.member_id, 0, len(self.request.body))
        try:
            raws = parse_batch(self.request.body, self.catalyst.max_batch_events)
        except BatchError as e:
            raise web.HTTPError(400, str(e)) from None
        limiter.check(self, actor.member_id, len(raws))
        sender = Sender(member_id=actor.member_id, community=actor.community)
        # validated here, on the event loop (CPU only), so the database thread does database
        # work only; a valid batch waits to be stored, with other requests' (group commit)
        batch, results = self.catalyst.ingestor.prepare(raws, sender)
        stored = batch is not None
        if batch is not None:
            await self.catalyst.group_commit.store(batch)
            if batch.has_consent:
                await self.run_db(ensure_identity, self.catalyst, actor)
        statuses = Counter(r.status for r in results)
        for r in results:
            if r.status in HELD_MESSAGES:
                r.message = self._(r.message)
        body = {
            "stored": statuses["stored"],
            "duplicate": statuses["duplicate"],
            "dropped": statuses["dropped"],
            "deferred": statuses["deferred"],
            "errors": statuses["error"],
            "refused": statuses["refused"],
            "results": [r.to_json() for r in results],
        }
        status = 200
        if statuses["refused"]:
            # a member's token asserting what only the collector or a lead may (see x-senders)
            status = 403
            body["message"] = self._(
                "No event was stored: {count} event(s) may not be sent with a member's token.",
                count=body["refused"],
            )
        elif not stored:
            status = 400
            body["message"] = self._(
                "No event was stored: {count} event(s) are invalid.", count=body["errors"]
            )
        if status != 200:
            body["status"] = status
        self.write_json(body, status=status)


class MeHandler(APIHandler):
    """``GET api/me``: the token owner's checklist, training progress and consent notice."""

    records_login = True  # the member looks at their checklist: they are logged in

    async def get(self) -> None:
        actor = self.require_actor()
        progress = await self.run_db(
            member_progress, self.store, actor.member_id, actor.community, self.language
        )
        progress["notice"] = self.catalyst.consent_notice_for(self.language)
        issuer = self.catalyst.open_badges_issuer()
        if issuer is not None:
            progress["badges"] = await self.earned_badges(actor)
            # links for the JupyterLab panel, on the hub's public address whatever address
            # the request came through (the server extension asks from inside the hub)
            for badge in progress["badges"]:
                badge["page_url"] = issuer.url(f"me#badge-{badge['id']}")
                badge["claim_url"] = issuer.url(f"me/badges/{badge['id']}/claim")
        self.write_json(progress)


# -- a member's own data ------------------------------------------------------------------------


def record_own_event(
    app: Service, actor: Actor, schema: str, payload: dict[str, Any]
) -> EventResult:
    """Record an event about ``actor`` through the ingest path (blocking: run it off the loop).
    Its status is "dropped" when the member opted out or erased their data, "deferred" when
    they have not decided on the notice (opt-in)."""
    sender = Sender(member_id=actor.member_id, community=actor.community)
    stored, results = app.ingestor.ingest([envelope(schema, payload)], sender)
    if not stored:  # an event the service builds itself is valid: this is a bug
        raise RuntimeError(f"could not record {schema}: {results[0].message}")
    if schema == CONSENT:
        ensure_identity(app, actor)
    return results[0]


def ensure_identity(app: Service, actor: Actor) -> None:
    """After a decision on the notice: the identity row of a member who erased their data,
    came back and accepted it again (not written while the erasure stands)."""
    assert app.store is not None  # set by initialize
    if app.store.known_member_id(actor.username) is None:
        app.store.member_id(actor.username)


def erase_own_data(app: Service, actor: Actor, stop_recording: bool) -> tuple[Erasure, bool]:
    """Erase everything about ``actor``; returns the erasure and whether recording stays off.

    Erasing removes the consent events too, so an opt-out is recorded again afterwards when the
    member had opted out (erasure must not silently turn recording back on) or asks for it.
    Either way the erasure's tombstone stands until the member accepts the notice again: until
    then nothing else is recorded, not even their identity.
    """
    assert app.store is not None  # set by initialize
    keep_out = stop_recording or consent_of(app.store, actor.member_id) == WITHDRAWN
    erasure = erase_member(app.store, actor.member_id)
    if keep_out:
        record_own_event(
            app,
            actor,
            CONSENT,
            {"decision": WITHDRAWN, "notice_version": app.consent_notice_version},
        )
    return erasure, keep_out


class MeExportHandler(APIHandler):
    """``GET api/me/export``: everything stored about the token owner, as a JSON download."""

    async def get(self) -> None:
        actor = self.require_actor()
        data = await self.run_db(export_member, self.store, actor.member_id)
        self.set_header("Content-Disposition", 'attachment; filename="my-catalyst-data.json"')
        self.write_json(data)


class MeEraseHandler(APIHandler):
    """``POST api/me/erase`` with ``{"confirm": true}`` (and ``"stop_recording": true`` to stay
    opted out): removes the token owner's identity, events and per-member rows."""

    async def post(self) -> None:
        actor = self.require_actor()
        body = self.json_body() if self.request.body else {}
        if not isinstance(body, dict) or body.get("confirm") is not True:
            raise web.HTTPError(
                400, self._('To erase your data, send "confirm": true in a JSON object.')
            )
        stop_recording = bool(body.get("stop_recording", False))
        erasure, stopped = await self.run_db(erase_own_data, self.catalyst, actor, stop_recording)
        self.log.info("erased a member's data on request (receipt %s)", erasure.receipt)
        self.write_json({"erased": True, "recording_stopped": stopped, **erasure.to_json()})


default_handlers = [
    (r"api/?", InfoHandler),
    (r"api/events", EventsHandler),
    (r"api/me", MeHandler),
    (r"api/me/export", MeExportHandler),
    (r"api/me/erase", MeEraseHandler),
]
