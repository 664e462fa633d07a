"""Versioned JSON schemas of the events catalyst_hub records, and their validation."""

from .registry import EventError, SchemaRegistry, registry

__all__ = ["EventError", "SchemaRegistry", "registry"]
