"""The registry of event schemas shipped in the package.

Schemas follow jupyter_events' conventions (an ``$id`` URI and an integer ``version``);
each lives in ``schemas/<name>/v<version>.json``. Clients name a schema by its short name
or by its ``$id``. Validators are compiled once with fastjsonschema, since validation sits
on the ingest hot path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import fastjsonschema

SCHEMA_ID_PREFIX = "https://events.catalyst-hub.org/"


class EventError(ValueError):
    """An event that cannot be accepted; ``str(error)`` says why, for the client."""


@dataclass(frozen=True)
class EventSchema:
    name: str
    version: int
    schema: dict[str, Any]
    validate: Callable[[Any], Any]

    @property
    def id(self) -> str:
        return self.schema["$id"]


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
        self._schemas[(name, version)] = EventSchema(
            name=name, version=version, schema=schema, validate=fastjsonschema.compile(schema)
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
                raise EventError(f"unknown schema {name!r}; known: {', '.join(self.names)}")
            raise EventError(
                f"schema {short!r} has no version {version}; known versions: "
                + ", ".join(map(str, known))
            )
        return found

    def validate(self, name: str, version: int, payload: Any) -> tuple[EventSchema, dict]:
        """Validate ``payload`` and return it with defaults filled in."""
        # the usual case on the ingest path, a short name and an int: one lookup
        usual = type(name) is str and type(version) is int
        schema = self._schemas.get((name, version)) if usual else None
        if schema is None:
            schema = self.get(name, version)
        if type(payload) is not dict:
            raise EventError("'payload' must be an object")
        try:
            return schema, schema.validate(payload)
        except fastjsonschema.JsonSchemaValueException as e:
            raise EventError(
                f"payload does not match {schema.name} v{schema.version}: {e.message}"
            ) from None


registry = SchemaRegistry().load_package_schemas()
