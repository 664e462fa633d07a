"""Versioned JSON schemas of the events catalyst_hub records, and their validation."""

from .registry import (
    COLLECTOR,
    LEAD,
    MEMBER,
    SENDER_KINDS,
    EventError,
    SchemaRegistry,
    SenderRefused,
    registry,
)
from .stored import StoredEvent

__all__ = [
    "COLLECTOR",
    "LEAD",
    "MEMBER",
    "SENDER_KINDS",
    "EventError",
    "SchemaRegistry",
    "SenderRefused",
    "StoredEvent",
    "registry",
]
