"""Staff reports: pages, CSV/JSON exports and metrics, scoped by custom JupyterHub scopes."""

from __future__ import annotations


def handlers() -> list[tuple]:
    """Routes relative to the service prefix."""
    return []
