"""Server-rendered pages of the service (researcher's page, privacy)."""

from __future__ import annotations


def handlers() -> list[tuple]:
    """Routes relative to the service prefix."""
    return []
