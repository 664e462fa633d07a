"""The local API the labextension calls, under the server's base URL.

Authenticated and xsrf-protected like jupyter_server's own REST API (``APIHandler``,
``@web.authenticated``, ``@authorized`` on the ``catalyst`` resource):

- ``POST {base_url}catalyst/events``: ``{"events": [{"schema", "version", "payload"}]}``
  from the frontend (exercise cells run, self-reports, consent, UI activity); 202
  ``{"queued": n}``, or 400 with a message per invalid event (then nothing is queued).
- ``GET {base_url}catalyst/progress?lang=xx``: the member's progress from the service,
  ``{"active": false}`` outside JupyterHub.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..events import MEMBER, EventError, registry
from ..events.names import (
    ACTION,
    ACTIVITY,
    CONSENT,
    EPISODE_COMPLETED,
    EXERCISE_COMPLETED,
    STEP_REACHED,
)
from .progress import ProgressClient
from .recorder import Recorder

AUTH_RESOURCE = "catalyst"
#: Schemas the frontend may send; the service accepts more (sessions come from its collector).
FRONTEND_SCHEMAS = frozenset(
    {ACTION, ACTIVITY, EXERCISE_COMPLETED, EPISODE_COMPLETED, CONSENT, STEP_REACHED}
)
MAX_EVENTS_PER_REQUEST = 100
ENVELOPE_FIELDS = frozenset({"schema", "version", "payload"})


class Extension(Protocol):
    """What the handlers use of the extension app (``app.CatalystExtension``, which imports
    this module to route its handlers)."""

    recorder: Recorder | None
    progress: ProgressClient | None


class CatalystHandler(ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def catalyst(self) -> Extension:
        return self.extensionapp  # type: ignore[return-value]

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(data))


class EventsHandler(CatalystHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError as e:
            raise web.HTTPError(400, f"Request body is not valid JSON: {e}") from None
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list) or not events:
            raise web.HTTPError(
                400, 'Request body must be {"events": [...]} with at least one event'
            )
        if len(events) > MAX_EVENTS_PER_REQUEST:
            raise web.HTTPError(400, f"At most {MAX_EVENTS_PER_REQUEST} events per request")
        checked, errors = [], []
        for index, raw in enumerate(events):
            try:
                checked.append(validate_frontend_event(raw))
            except EventError as e:
                errors.append({"index": index, "message": str(e)})
        if errors:
            self.write_json(
                {
                    "status": 400,
                    "message": f"{len(errors)} invalid event(s); none queued",
                    "errors": errors,
                },
                status=400,
            )
            return
        recorder = self.catalyst.recorder
        assert recorder is not None  # routed only when the extension is active
        queued = 0
        for schema, payload in checked:
            if schema == ACTION:
                recorder.action(
                    payload["action"], **{k: v for k, v in payload.items() if k != "action"}
                )
                queued += 1 if recorder.recording else 0
            elif schema == ACTIVITY:
                if recorder.recording:
                    recorder.count(
                        payload["kind"],
                        payload["count"],
                        payload.get("language"),
                        payload.get("app"),
                    )
                    queued += 1
            elif recorder.record(schema, payload):
                queued += 1
        # 202 means "on disk in the outbox": a server that dies right after loses nothing
        # (activity counts are aggregated per window and written when the window closes)
        await recorder.drain()
        self.write_json({"queued": queued, "recording": recorder.recording}, status=202)


def validate_frontend_event(raw: Any) -> tuple[str, dict[str, Any]]:
    """(schema name, payload with defaults) for one frontend event, or EventError."""
    if not isinstance(raw, dict):
        raise EventError("an event must be a JSON object")
    extra = set(raw) - ENVELOPE_FIELDS
    if extra:
        raise EventError(
            f"field(s) not accepted: {', '.join(sorted(extra))}; an event has schema, version, payload"
        )
    missing = ENVELOPE_FIELDS - set(raw)
    if missing:
        raise EventError(f"missing field(s): {', '.join(sorted(missing))}")
    schema, payload = registry.validate(raw["schema"], raw["version"], raw["payload"])
    if schema.name not in FRONTEND_SCHEMAS:
        raise EventError(f"schema {schema.name!r} cannot be sent from the frontend")
    if "source" in payload and payload["source"] != "self":
        raise EventError("only self-reports (source 'self') can be sent from the frontend")
    # what the service would refuse from the member's token never enters the outbox
    schema.check_sender(payload, MEMBER)
    return schema.name, payload


class ProgressHandler(CatalystHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        progress = self.catalyst.progress
        if progress is None:
            self.write_json({"active": False})
            return
        lang = self.get_argument("lang", None)
        self.write_json(await progress.get(lang[:16] if lang else None))
