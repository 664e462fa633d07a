"""Versioned JSON schemas of the events catalyst_hub records, and their validation."""

from . import names
from .envelope import envelope
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
    "envelope",
    "names",
    "registry",
]
