"""``/metrics`` for Prometheus."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ...reports.metrics import metrics_registry
from .. import scopes
from ..base import APIHandler


class MetricsHandler(APIHandler):
    """``metrics``: Prometheus text format, for a token with ``custom:catalyst:metrics``."""

    async def get(self) -> None:
        allowed = self.require_scope(scopes.METRICS)
        registry = metrics_registry(
            self.store,
            self.catalyst.min_group_size,
            None if allowed is scopes.ALL else allowed,
        )
        body = await self.run_db(generate_latest, registry)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.set_header("Cache-Control", "no-store")
        self.finish(body)


default_handlers = [
    (r"metrics", MetricsHandler),
]
