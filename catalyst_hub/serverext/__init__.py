"""The catalyst_hub extension for jupyter_server: detectors, outbox and local API.

Enabled by ``jupyter_server_config.d/catalyst_hub.json`` (shipped in the wheel).
"""

from __future__ import annotations

from typing import Any

from .app import CatalystExtension

__all__ = ["CatalystExtension"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "catalyst_hub.serverext", "app": CatalystExtension}]
