"""The recorder: what detectors and the local API call to record something.

It applies the rules that hold for every event source:

- ``action`` events are sent once per person and action, ever: the outbox database remembers
  which were sent, so a restart does not send them again;
- ``activity`` is counted in memory and written as one event per kind (and language or app)
  per window of about a minute, never one per request; the window's seconds go to each app
  (JupyterLab, a proxied app such as RStudio, the terminal) once;
- when the member's last known consent decision is "withdrawn", nothing is recorded except
  consent events. Before any decision events are recorded as usual: the service defers them,
  and the outbox keeps them until the decision (see ``outbox``).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from tornado.ioloop import PeriodicCallback
from traitlets import Float
from traitlets.config import LoggingConfigurable

from ..events import MEMBER, envelope, registry
from ..events.apps import APP_OF_KIND
from ..events.names import ACTION, ACTIVITY, CONSENT
from .outbox import Outbox

ActivityKey = tuple[str, str | None, str | None]  # kind, language, app
#: the most an activity event may say (its schema's bounds): a busier window says the most
_ACTIVITY = registry.lookup(ACTIVITY, 1).schema["properties"]
MAX_COUNT = _ACTIVITY["count"]["maximum"]
MAX_SECONDS = _ACTIVITY["seconds"]["maximum"]


class Recorder(LoggingConfigurable):
    """Turns detections into events in the outbox."""

    activity_window_seconds = Float(
        60.0,
        config=True,
        help="Length of an activity window: one activity event per kind per window.",
    )

    def __init__(self, outbox: Outbox, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outbox = outbox
        self._actions: set[str] = set()
        self._activity: Counter[ActivityKey] = Counter()
        self._samplers: list[Callable[[float], None]] = []
        self._flusher: PeriodicCallback | None = None
        self._pending: set[asyncio.Future[Any]] = set()
        self.consent: str | None = None

    async def start(self) -> None:
        """Load what earlier runs left (actions sent, consent) and start the activity window."""
        self._actions |= await self.outbox.run(self.outbox.store.actions_sent)
        saved = await self.outbox.run(self.outbox.store.get_state, "consent")
        if saved and self.consent is None:
            self.consent = saved
        self._flusher = PeriodicCallback(self.flush_activity, self.activity_window_seconds * 1000)
        self._flusher.start()

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.stop()
            self._flusher = None
        self.flush_activity()
        await self.drain()

    async def drain(self) -> None:
        """Wait until everything recorded so far is on disk."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    @property
    def recording(self) -> bool:
        return self.consent != "withdrawn"

    def _track(self, future: asyncio.Future[Any]) -> asyncio.Future[Any]:
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    # -- the three kinds of recording -------------------------------------------------------

    def has_action(self, action: str) -> bool:
        return action in self._actions

    def action(self, action: str, **details: str | None) -> bool:
        """Record the first time the member did ``action``; False when already sent or not
        recording. Extra details (language, app) describe that first time only."""
        if action in self._actions or not self.recording:
            return False
        payload = {"action": action, **{k: v[:64] for k, v in details.items() if v}}
        registry.validate(ACTION, 1, payload)
        self._actions.add(action)
        future = self._track(self.outbox.submit([envelope(ACTION, payload)], action=action))
        # a first time is a step the member's checklist shows: deliver it now, not next round
        future.add_done_callback(lambda _: self.outbox.kick())
        self.log.debug("catalyst_hub: action %s", payload)
        return True

    def count(
        self, kind: str, n: int = 1, language: str | None = None, app: str | None = None
    ) -> None:
        """Count activity of ``kind`` in the current window (written by flush_activity)."""
        if self.recording and n > 0:
            self._activity[(kind, language and language[:32], app and app[:64])] += n

    def record(self, schema: str, payload: dict[str, Any], version: int = 1) -> bool:
        """Record any other event (consent, step, exercise, episode); validated first."""
        event_schema, payload = registry.validate(schema, version, payload)
        # sent with the member's own (server) token: what the service would refuse, never queued
        event_schema.check_kind(MEMBER)
        event_schema.check_sender(payload, MEMBER)
        if schema == CONSENT:
            self.set_consent(payload["decision"])
        elif not self.recording:
            return False
        self._track(self.outbox.submit([envelope(schema, payload, version=version)]))
        return True

    def set_consent(self, decision: str | None) -> None:
        """The member's latest consent decision, from the service or from the frontend."""
        if decision is not None:
            # events the service deferred until this decision: sent, or deleted
            released = self.outbox.decision_known(decision)
            if released is not None:
                self._track(released)
        if decision == self.consent or decision is None:
            return
        self.consent = decision
        if decision == "withdrawn":
            self._activity.clear()
            self.log.info(
                "catalyst_hub: the member withdrew consent; recording only consent events"
            )
        self._track(self.outbox.submit_state("consent", decision))

    # -- activity windows -------------------------------------------------------------------

    def add_sampler(self, sampler: Callable[[float], None]) -> None:
        """Register a function called at the end of each window with its length in seconds,
        for detectors that sample state (open terminals) rather than count events."""
        self._samplers.append(sampler)

    def flush_activity(self) -> None:
        window = self.activity_window_seconds
        for sampler in self._samplers:
            try:
                sampler(window)
            except Exception:
                self.log.exception("catalyst_hub: activity sampler %s failed", sampler)
        if not self._activity:
            return
        counts, self._activity = self._activity, Counter()
        if not self.recording:
            return
        events = []
        timed: set[str] = set()
        for (kind, language, app), n in sorted(
            counts.items(), key=lambda item: json.dumps(item[0])
        ):
            # the window's time goes to each app once: kernels, notebooks and the UI are all
            # JupyterLab, and a minute of JupyterLab is a minute however many kinds it saw
            used = app or APP_OF_KIND.get(kind, kind)
            payload: dict[str, Any] = {
                "kind": kind,
                "count": min(n, MAX_COUNT),
                "seconds": 0 if used in timed else min(int(window), MAX_SECONDS),
            }
            timed.add(used)
            if language:
                payload["language"] = language
            if app:
                payload["app"] = app
            events.append(envelope(ACTIVITY, payload))
        self._track(self.outbox.submit(events))
