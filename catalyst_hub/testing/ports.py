"""Free TCP ports on the loopback interface, for the processes a test or benchmark starts."""

from __future__ import annotations

from ..localhub import free_ports

__all__ = ["free_port", "free_ports"]


def free_port() -> int:
    return free_ports(1)[0]
