"""The event as the store keeps it: the core type of every layer above the schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple


class StoredEvent(NamedTuple):
    """An event as stored: the envelope's fields and who it is about, stamped by the
    service. A named tuple, as ingest makes one per event: a frozen dataclass cost ten
    times as much to make."""

    id: str
    hub: str
    member_id: str
    community: str
    schema: str
    version: int
    time: datetime
    received: datetime
    payload: dict[str, Any]

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hub": self.hub,
            "member_id": self.member_id,
            "community": self.community,
            "schema": self.schema,
            "version": self.version,
            "time": self.time,
            "received": self.received,
            "payload": self.payload,
        }
