"""The catalyst_hub jupyter_server extension: detectors, an outbox and a local API.

Configure with ``c.CatalystExtension.<trait>`` in any jupyter_server config file. In a
JupyterHub deployment the hub passes the service URL to single-user servers, e.g.::

    c.Spawner.environment = {"CATALYST_SERVICE_URL": "http://hub:8081/services/catalyst/"}
    c.Spawner.server_token_scopes = [..., "access:services!service=catalyst"]

Note: inside a single-user server ``$JUPYTERHUB_SERVICE_URL`` is the URL of the server
itself, not of the catalyst service, which is why the extension reads its own variable.

Outside JupyterHub (no ``$JUPYTERHUB_API_TOKEN`` or no service URL) the extension logs one
line, answers ``GET catalyst/progress`` with ``{"active": false}`` and does nothing else.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Integer, Set, Type, Unicode, default, validate

from .detectors import DETECTORS, Detector, RequestObserver
from .handlers import EventsHandler, ProgressHandler
from .outbox import Outbox
from .progress import ProgressClient
from .recorder import Recorder


class CatalystExtension(ExtensionApp):
    """Records onboarding steps from inside a member's Jupyter server."""

    name = "catalyst_hub"
    description = "catalyst_hub: onboarding and usage events from the single-user server"
    load_other_extensions = True

    service_url = Unicode(
        config=True,
        help="""URL of the catalyst service, ending with its prefix
        (e.g. http://hub:8081/services/catalyst/). Default: $CATALYST_SERVICE_URL.
        Not $JUPYTERHUB_SERVICE_URL: in a single-user server that is the server's own URL.""",
    )

    @default("service_url")
    def _default_service_url(self) -> str:
        return os.environ.get("CATALYST_SERVICE_URL", "")

    @validate("service_url")
    def _valid_service_url(self, proposal: dict[str, Any]) -> str:
        url = proposal["value"].strip()
        return url if not url or url.endswith("/") else url + "/"

    api_token = Unicode(
        config=True,
        help="Token sent to the service: the server's own token (default: $JUPYTERHUB_API_TOKEN).",
    )

    @default("api_token")
    def _default_api_token(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    flush_interval = Float(2.0, config=True, help="Seconds between outbox delivery rounds.")
    batch_size = Integer(200, config=True, help="Most events per request to the service.")

    outbox_path = Unicode(
        config=True,
        help="""The outbox SQLite file (default: <jupyter data dir>/catalyst_hub/outbox.sqlite,
        in the home folder, so pending events survive server restarts).""",
    )

    @default("outbox_path")
    def _default_outbox_path(self) -> str:
        return os.path.join(jupyter_data_dir(), "catalyst_hub", "outbox.sqlite")

    outbox_max_events = Integer(
        10000,
        config=True,
        help="""Most events kept while the service is unreachable. Beyond it the oldest
        activity events are dropped first, then actions; consent, step, exercise and episode
        events only when nothing else is left. Each drop episode logs one WARNING.""",
    )

    enabled_detectors = Set(
        Unicode(),
        default_value=set(DETECTORS),
        config=True,
        help=f"Detectors to run; all by default: {', '.join(sorted(DETECTORS))}.",
    )

    @validate("enabled_detectors")
    def _valid_detectors(self, proposal: dict[str, Any]) -> set[str]:
        unknown = set(proposal["value"]) - set(DETECTORS)
        if unknown:
            raise ValueError(f"unknown detector(s) {sorted(unknown)}; known: {sorted(DETECTORS)}")
        return proposal["value"]

    progress_cache_seconds = Float(
        15.0, config=True, help="How long a progress answer from the service is reused."
    )

    outbox_class = Type(Outbox, klass=Outbox, config=True, help="The outbox implementation.")
    recorder_class = Type(
        Recorder, klass=Recorder, config=True, help="The recorder implementation."
    )

    outbox: Outbox | None = None
    recorder: Recorder | None = None
    progress: ProgressClient | None = None
    detectors: list[Detector]
    observer: RequestObserver | None = None
    _stopped = False

    @property
    def active(self) -> bool:
        return bool(self.service_url and self.api_token)

    def initialize_settings(self) -> None:
        self.detectors = []
        if not self.active:
            missing = " and ".join(
                what
                for what, value in (
                    ("$JUPYTERHUB_API_TOKEN", self.api_token),
                    ("a service URL ($CATALYST_SERVICE_URL)", self.service_url),
                )
                if not value
            )
            self.log.info("catalyst_hub: inactive (no %s): not recording anything", missing)
            return
        self.outbox = self.outbox_class(
            parent=self,
            path=self.outbox_path,
            service_url=self.service_url,
            token=self.api_token,
            flush_interval=self.flush_interval,
            batch_size=self.batch_size,
            max_events=self.outbox_max_events,
        )
        self.recorder = self.recorder_class(parent=self, outbox=self.outbox)
        self.progress = ProgressClient(
            self.service_url,
            self.api_token,
            self.progress_cache_seconds,
            self.outbox,
            on_consent=self.recorder.set_consent,
            log=self.log,
        )
        # while events wait for the member's decision, the outbox asks the service for it
        self.outbox.decision_probe = self.progress.refresh
        assert self.serverapp is not None  # an extension's settings follow its server's
        for name in sorted(self.enabled_detectors):
            detector = DETECTORS[name](self.recorder, self.serverapp, parent=self)
            detector.attach()
            self.detectors.append(detector)
        self.observer = RequestObserver(self.serverapp.base_url, self.detectors, self.log)
        if self.observer.routes:
            self.serverapp.web_app.add_transform(self.observer.transform)
        self.log.info(
            "catalyst_hub: recording to %s (detectors: %s; outbox %s)",
            self.service_url,
            ", ".join(d.name for d in self.detectors) or "none",
            self.outbox_path,
        )

    def initialize_handlers(self) -> None:
        self.handlers.append((r"catalyst/progress", ProgressHandler))
        if self.active:
            self.handlers.append((r"catalyst/events", EventsHandler))

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        if self.outbox is None or self.recorder is None:
            return
        await self.recorder.start()
        self._stop_cleanly_on_sigint(serverapp)
        self.outbox.start()
        for detector in self.detectors:
            detector.start()
        if self.progress is not None:
            # learn the member's consent decision early; the service may still be starting
            self._refresh = asyncio.ensure_future(self.progress.refresh())

    def _stop_cleanly_on_sigint(self, serverapp: Any) -> None:
        """Make SIGINT stop the server with its cleanup (extensions stopped, so the outbox
        sends what is pending and the server's stop is recorded).

        JupyterHub's single-user server wants SIGINT to stop it at once, as SIGTERM does
        (it overrides ``_handle_sigint`` with ``_signal_stop``), but jupyter_server installs
        that handler only when stdin is a terminal; a spawned server (LocalProcessSpawner
        interrupts first) then dies of KeyboardInterrupt with no cleanup at all.
        """
        handler = getattr(serverapp, "_signal_stop", None)
        if (
            handler is not None
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
            and threading.current_thread() is threading.main_thread()
            and "JUPYTERHUB_SERVICE_PREFIX" in os.environ
        ):
            signal.signal(signal.SIGINT, handler)

    async def stop_extension(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.observer is not None:
            assert self.serverapp is not None  # the observer was added to its web app
            transforms = self.serverapp.web_app.transforms
            if self.observer.transform in transforms:
                transforms.remove(self.observer.transform)
        for detector in self.detectors:
            await detector.stop()
        if self.recorder is not None:
            await self.recorder.stop()
        if self.progress is not None:
            self.progress.close()
        if self.outbox is not None:
            await self.outbox.stop()
