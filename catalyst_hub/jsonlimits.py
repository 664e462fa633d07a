"""Limits on decoded JSON that the databases and the encoder need, checked before storing.

orjson refuses to encode data nested deeper than 254 levels, and PostgreSQL's text and
JSONB refuse the NUL character: without these checks a valid JSON request would fail only
while it is being stored (an error 500, which senders retry for ever).
"""

from __future__ import annotations

from typing import Any

#: Deepest nesting of arrays and objects accepted in a request (a document at the top is 1).
MAX_DEPTH = 32


class JSONLimitError(ValueError):
    """Decoded JSON beyond a limit; ``str(error)`` says which, for the client, and
    ``reason`` names it ("depth" or "nul") for a translated message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_json(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise JSONLimitError when ``value`` nests deeper than ``max_depth`` or holds a NUL
    character in a string or a key. Iterative, so no input can exhaust the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise JSONLimitError("nul", "text may not contain the NUL character (\\u0000)")
            continue
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise JSONLimitError("depth", f"JSON may be nested at most {max_depth} levels deep")
        stack.extend((child, depth + 1) for child in children)
