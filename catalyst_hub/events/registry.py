"""The registry of event schemas shipped in the package.

Schemas follow jupyter_events' conventions (an ``$id`` URI and an integer ``version``);
each lives in ``schemas/<name>/v<version>.json``. Clients name a schema by its short name
or by its ``$id``. Validators are compiled once with fastjsonschema, since validation sits
on the ingest hot path.

Each schema also says who may assert it, with keywords of its own (JSON Schema validators
ignore them):

- ``"x-senders"`` on the schema: the sender kinds that may send the event at all;
- ``"x-senders"`` on a property: the kinds that may send that field (``signed_off_by``);
- ``"x-value-senders"`` on a property: per value, the kinds that may send it
  (``{"self": ["member"], "lead": ["lead"]}`` for ``source``); a default counts as sent.

Sender kinds are ``member`` (the member's own tokens: browser, API or server token),
``collector`` (the service itself, from the hub's REST API) and ``lead`` (a training lead
through the sign-off endpoint, which stamps ``signed_off_by`` itself).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import fastjsonschema
import orjson

SCHEMA_ID_PREFIX = "https://events.catalyst-hub.org/"

#: Sender kinds (see the module's docstring).
MEMBER = "member"
COLLECTOR = "collector"
LEAD = "lead"
SENDER_KINDS = (MEMBER, COLLECTOR, LEAD)


class EventError(ValueError):
    """An event that cannot be accepted; ``str(error)`` says why, for the client."""


class SenderRefused(EventError):
    """A valid event that this kind of sender may not assert (answered 403)."""


@dataclass(frozen=True)
class EventSchema:
    name: str
    version: int
    schema: dict[str, Any]
    validate: Callable[[Any], Any]
    #: who may send the event, a field of it, a value of a field (see the module docstring)
    senders: frozenset[str] = frozenset()
    field_senders: dict[str, frozenset[str]] = field(default_factory=dict)
    value_senders: dict[str, dict[Any, frozenset[str]]] = field(default_factory=dict)
    #: top-level properties holding a time (``"format": "date-time"``)
    time_fields: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.schema["$id"]

    def check_kind(self, kind: str) -> None:
        """SenderRefused unless ``kind`` may send this schema at all."""
        if kind not in self.senders:
            raise SenderRefused(
                f"{self.name} v{self.version} events are not accepted from a {kind}: only "
                f"from {_kinds(self.senders)} (x-senders)"
            )

    def check_sender(self, payload: dict[str, Any], kind: str) -> None:
        """SenderRefused unless ``kind`` may send each field and value of a valid payload."""
        if not self.field_senders and not self.value_senders:
            return
        for name, kinds in self.field_senders.items():
            if name in payload and kind not in kinds:
                raise SenderRefused(
                    f"'{name}' of {self.name} events is not accepted from a {kind}: only from "
                    f"{_kinds(kinds)} (x-senders of {name})"
                )
        for name, per_value in self.value_senders.items():
            value_kinds = per_value.get(payload.get(name))
            if value_kinds is not None and kind not in value_kinds:
                raise SenderRefused(
                    f"{self.name} events with {name} {payload[name]!r} are not accepted from a "
                    f"{kind}: only from {_kinds(value_kinds)} (x-value-senders of {name})"
                )

    def allowed_senders(self, payload: dict[str, Any]) -> frozenset[str]:
        """The sender kinds that may send this valid payload (with its defaults filled in)."""
        kinds = self.senders
        for name, field_kinds in self.field_senders.items():
            if name in payload:
                kinds &= field_kinds
        for name, per_value in self.value_senders.items():
            kinds &= per_value.get(payload.get(name), kinds)
        return kinds


def _kinds(kinds: frozenset[str]) -> str:
    return " or ".join(f"the {k}" for k in sorted(kinds)) or "nobody"


def _senders(where: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not set(value) <= set(SENDER_KINDS):
        raise ValueError(f"{where}: x-senders must be a list of {', '.join(SENDER_KINDS)}")
    return frozenset(value)


def _nul_in(value: Any, path: str) -> str | None:
    """The path of a string holding NUL in ``value`` (PostgreSQL text cannot store it)."""
    if type(value) is str:
        return path if "\x00" in value else None
    if type(value) is dict:
        for key, item in value.items():
            if "\x00" in key:
                return f"{path}.{key!r}"
            found = _nul_in(item, f"{path}.{key}")
            if found:
                return found
    elif type(value) is list:
        for i, item in enumerate(value):
            found = _nul_in(item, f"{path}[{i}]")
            if found:
                return found
    return None


class SchemaRegistry:
    """All schema versions by name, loaded from a package folder."""

    def __init__(self) -> None:
        self._schemas: dict[tuple[str, int], EventSchema] = {}

    def load_package_schemas(self) -> SchemaRegistry:
        root = resources.files(__package__) / "schemas"
        for folder in root.iterdir():
            if not folder.is_dir():
                continue
            for file in folder.iterdir():
                if file.name.endswith(".json"):
                    self.register(folder.name, json.loads(file.read_text("utf-8")))
        return self

    def register(self, name: str, schema: dict[str, Any]) -> None:
        version = int(schema["version"])
        where = f"schema {name} v{version}"
        if "x-senders" not in schema:
            raise ValueError(f"{where} does not say who may send it (x-senders)")
        properties = schema.get("properties", {})
        self._schemas[(name, version)] = EventSchema(
            name=name,
            version=version,
            schema=schema,
            validate=fastjsonschema.compile(schema),
            senders=_senders(where, schema["x-senders"]),
            field_senders={
                key: _senders(f"{where}, {key}", p["x-senders"])
                for key, p in properties.items()
                if "x-senders" in p
            },
            value_senders={
                key: {
                    value: _senders(f"{where}, {key}={value}", kinds)
                    for value, kinds in p["x-value-senders"].items()
                }
                for key, p in properties.items()
                if "x-value-senders" in p
            },
            time_fields=tuple(
                key for key, p in properties.items() if p.get("format") == "date-time"
            ),
        )

    @property
    def names(self) -> list[str]:
        return sorted({name for name, _ in self._schemas})

    def versions(self, name: str) -> list[int]:
        return sorted(v for n, v in self._schemas if n == name)

    def all(self) -> list[EventSchema]:
        return [self._schemas[key] for key in sorted(self._schemas)]

    def get(self, name: str, version: int) -> EventSchema:
        """The schema for a client's ``schema`` and ``version`` fields, or EventError."""
        if not isinstance(name, str):
            raise EventError("'schema' must be a string")
        short = name.removeprefix(SCHEMA_ID_PREFIX)
        if isinstance(version, bool) or not isinstance(version, int):
            raise EventError("'version' must be an integer")
        found = self._schemas.get((short, version))
        if found is None:
            known = self.versions(short)
            if not known:
                raise EventError(f"unknown schema {name[:64]!r}; known: {', '.join(self.names)}")
            raise EventError(
                f"schema {short!r} has no version {version}; known versions: "
                + ", ".join(map(str, known))
            )
        return found

    def lookup(self, name: str, version: int) -> EventSchema:
        """``get``, with a fast path for the usual case on the ingest path."""
        # a short name and an int: one lookup
        usual = type(name) is str and type(version) is int
        schema = self._schemas.get((name, version)) if usual else None
        return schema if schema is not None else self.get(name, version)

    def validate(self, name: str, version: int, payload: Any) -> tuple[EventSchema, dict]:
        """Validate ``payload`` and return it with defaults filled in."""
        return self.validate_payload(self.lookup(name, version), payload)

    @staticmethod
    def validate_payload(schema: EventSchema, payload: Any) -> tuple[EventSchema, dict]:
        """``validate`` against a schema already found."""
        if type(payload) is not dict:
            raise EventError("'payload' must be an object")
        try:
            valid = schema.validate(payload)
        except fastjsonschema.JsonSchemaValueException as e:
            raise EventError(
                f"payload does not match {schema.name} v{schema.version}: {e.message}"
            ) from None
        # orjson writes NUL as \u0000: one C call finds out whether there is one to look for
        try:
            stored = orjson.dumps(valid)
        except TypeError:
            # a lone surrogate (a JSON "\ud800" escape, or an in-process sender's string):
            # not text any database can store
            raise EventError("payload strings must be valid Unicode text") from None
        if b"\\u0000" in stored:
            nul = _nul_in(valid, "payload")  # None for a string holding the text "\u0000"
            if nul:
                raise EventError(f"{nul} holds a NUL character, which is not accepted")
        return schema, valid


registry = SchemaRegistry().load_package_schemas()
