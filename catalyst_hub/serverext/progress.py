"""The member's progress, fetched from the catalyst service for the labextension.

``GET {service_url}api/me?lang=xx`` with the server's token, cached for a few seconds so a
sidebar polling it costs the service little. When the service cannot be reached the last
known answer is returned marked ``"stale": true`` (it is also kept in the outbox database,
so it survives a server restart).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .outbox import Outbox

LAST_KNOWN_KEY = "progress"


def decision_in_force(progress: dict[str, Any]) -> str | None:
    """The member's decision on the notice in force, from ``api/me``: an acceptance of an
    older version of the notice is no decision on this one (the service defers meanwhile)."""
    consent = progress.get("consent") or {}
    decision = consent.get("decision")
    notice = progress.get("notice") or {}
    if decision == "given" and notice.get("version") not in (None, consent.get("version")):
        return None
    return decision


class ProgressClient:
    def __init__(
        self,
        service_url: str,
        token: str,
        cache_seconds: float,
        outbox: Outbox,
        on_consent: Callable[[str | None], None],
        log: Any,
        request_timeout: float = 10.0,
    ) -> None:
        self.me_url = service_url.rstrip("/") + "/api/me"
        self.token = token
        self.cache_seconds = cache_seconds
        self.outbox = outbox
        self.on_consent = on_consent
        self.log = log
        self.request_timeout = request_timeout
        #: per language: (when fetched, outbox deliveries by then, the answer)
        self._cache: dict[str, tuple[float, int, dict[str, Any]]] = {}
        self._inflight: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        self._last: dict[str, Any] | None = None
        self._loaded = False
        self._http: AsyncHTTPClient | None = None

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    async def get(self, lang: str | None) -> dict[str, Any]:
        """The progress JSON plus ``active`` and ``stale``."""
        key = lang or ""
        cached = self._cache.get(key)
        # an answer older than the latest delivery may miss a step just sent: fetch again
        if (
            cached
            and cached[1] == self.outbox.delivered
            and time.monotonic() - cached[0] < self.cache_seconds
        ):
            return {**cached[2], "active": True, "stale": False}
        # one request at a time per language, however many tabs ask
        inflight = self._inflight.get(key)
        if inflight is None:
            inflight = asyncio.ensure_future(self._fetch(lang))
            self._inflight[key] = inflight
            inflight.add_done_callback(lambda _: self._inflight.pop(key, None))
        fresh = await asyncio.shield(inflight)
        if fresh is not None:
            return {**fresh, "active": True, "stale": False}
        last = self._cache.get(key, (0, 0, None))[2] or await self._last_known()
        if last is None:
            return {"active": True, "stale": True}
        return {**last, "active": True, "stale": True}

    async def refresh(self) -> None:
        """Fetch once in the background (at start) to learn the member's consent decision."""
        await self._fetch(None)

    async def _fetch(self, lang: str | None) -> dict[str, Any] | None:
        if self._http is None:
            self._http = AsyncHTTPClient(force_instance=True)
        url = self.me_url + ("?" + urlencode({"lang": lang}) if lang else "")
        request = HTTPRequest(
            url,
            headers={"Authorization": f"token {self.token}"},
            request_timeout=self.request_timeout,
            connect_timeout=min(5.0, self.request_timeout),
        )
        delivered = self.outbox.delivered
        try:
            response = await self._http.fetch(request, raise_error=False)
        except (OSError, HTTPClientError, asyncio.TimeoutError) as e:
            self.log.debug("catalyst_hub: cannot fetch progress from %s: %s", self.me_url, e)
            return None
        if response.code != 200:
            log = self.log.warning if response.code in (401, 403) else self.log.debug
            log("catalyst_hub: %s answered %d", self.me_url, response.code)
            return None
        try:
            data = json.loads(response.body)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        self._cache[lang or ""] = (time.monotonic(), delivered, data)
        consent = data.get("consent")
        if isinstance(consent, dict):
            self.on_consent(decision_in_force(data))
        self._last = data
        self.outbox.submit_state(LAST_KNOWN_KEY, json.dumps(data))
        return data

    async def _last_known(self) -> dict[str, Any] | None:
        if self._last is None and not self._loaded:
            self._loaded = True
            try:
                saved = await self.outbox.run(self.outbox.store.get_state, LAST_KNOWN_KEY)
                self._last = json.loads(saved) if saved else None
            except Exception:
                self._last = None
        return self._last
