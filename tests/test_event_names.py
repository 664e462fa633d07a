"""The schema-name constants are exactly the schemas on disk, and the envelope is the ingest's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import catalyst_hub.events
from catalyst_hub.events import envelope, names, registry
from catalyst_hub.timeutil import parse_time

SCHEMAS = Path(catalyst_hub.events.__file__).parent / "schemas"


def test_every_schema_has_its_constant():
    assert {p.name for p in SCHEMAS.iterdir() if p.is_dir()} == names.SCHEMA_NAMES
    for name in names.SCHEMA_NAMES:
        assert getattr(names, name.upper()) == name
        registry.lookup(name, 1)


def test_the_envelope_writes_one_time_format():
    aware = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-3)))
    naive_utc = datetime(2026, 3, 1, 12, 30)
    for when in (aware, naive_utc):
        event = envelope(names.ACTION, {"action": "logged_in"}, time=when)
        assert event["time"] == "2026-03-01T12:30:00Z"
        assert parse_time(event["time"]) == naive_utc
    now = envelope(names.ACTION, {"action": "logged_in"})
    assert now["time"].endswith("Z") and now["version"] == 1
    assert now["id"] != envelope(names.ACTION, {"action": "logged_in"})["id"]
    # a string is sent as given: tests send times the ingest must refuse
    assert envelope(names.ACTION, {}, time="yesterday")["time"] == "yesterday"
    assert envelope(names.ACTION, {}, id="fixed")["id"] == "fixed"
