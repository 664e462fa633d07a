"""Free TCP ports on the loopback interface, for the processes a test or benchmark starts."""

from __future__ import annotations

import socket
from contextlib import ExitStack


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free right now. All are held open until every one is chosen:
    ports asked for one at a time (the hub's, then the proxy API's) could be the same port,
    since nothing listens on the first until its process starts."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def free_port() -> int:
    return free_ports(1)[0]
