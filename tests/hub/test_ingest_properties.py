"""Property-based ingest, on SQLite and PostgreSQL: for every event schema, batches of
payloads that fit the schemas' types (with their extremes: dates at both ends and leap
seconds, deep and large objects, NUL and other control characters, huge integers), sent with
every kind of token and by the service's own senders. Never a 5xx (nor an exception from the
service's own paths), and what is stored is exactly what was acknowledged.

Hypothesis runs in a thread with blocking requests, so the service and the hub keep the
test's event loop; examples are derandomized, so a run is reproducible.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from catalyst_hub.events import COLLECTOR, LEAD, registry
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.store import tables as t
from catalyst_hub.timeutil import parse_time, utcnow

ALICE = "alice@example.org"
EXAMPLES = 300
#: statuses of a batch that was accepted (200)
ACKNOWLEDGED = ("stored", "duplicate", "dropped")

# -- values ------------------------------------------------------------------------------------

#: every character JSON can carry, NUL, controls and lone surrogates included
ANY_CHARACTER = st.one_of(st.characters(), st.sampled_from(["\x00", "\ud800", "\udfff"]))
EXTREME_TIMES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "2014-12-31T23:59:59.999999Z",
    "2015-01-01T00:00:00Z",
    "2016-12-31T23:59:60Z",
    "2016-12-31T23:59:60.5+00:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999-23:59",
    "2026-02-29T00:00:00Z",
    "2024-02-29T12:00:00+14:00",
]


def times(wild: bool) -> st.SearchStrategy[str]:
    """ISO 8601 times: recent ones in several spellings; ``wild``: the extremes too."""
    recent = st.builds(
        lambda seconds, offset, form: _spell(utcnow() - timedelta(seconds=seconds), offset, form),
        st.integers(-300, 40 * 86400),
        st.sampled_from([0, 60, -300, 14 * 60, -(23 * 60 + 59)]),
        st.sampled_from(["Z", "offset", "micro"]),
    )
    if not wild:
        return st.one_of(recent, st.just("2015-01-01T00:00:00Z"))
    anywhere = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda d: d.isoformat() + "Z"
    )
    return st.one_of(st.sampled_from(EXTREME_TIMES), anywhere, recent)


def _spell(when: datetime, offset_minutes: int, form: str) -> str:
    if form == "Z":
        return when.replace(microsecond=0).isoformat() + "Z"
    if form == "micro":
        return when.isoformat(timespec="microseconds") + "Z"
    zone = timezone(timedelta(minutes=offset_minutes))
    return when.replace(tzinfo=timezone.utc).astimezone(zone).isoformat()


def json_values(max_leaves: int = 30) -> st.SearchStrategy:
    """Any JSON value, nested: large and deep objects, huge integers, odd strings."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=2**63 - 2, max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(ANY_CHARACTER, max_size=40),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.text(ANY_CHARACTER, max_size=10), inner, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def deep(depth: int) -> dict:
    value: dict = {"leaf": "x"}
    for _ in range(depth):
        value = {"d": value}
    return value


#: characters of valid strings: control characters too, but no NUL (nor lone surrogates)
VALID_CHARACTER = st.one_of(
    st.characters(exclude_characters="\x00"), st.sampled_from("\x01\x1f\x7f\u2028")
)


def values(schema: dict, wild: bool) -> st.SearchStrategy:
    """Values of one property: valid under the schema; ``wild``: its type's extremes too."""
    if "enum" in schema:
        valid = st.sampled_from(schema["enum"])
        return st.one_of(valid, st.text(ANY_CHARACTER, max_size=8)) if wild else valid
    kinds = schema.get("type")
    options = []
    for kind in kinds if isinstance(kinds, list) else [kinds]:
        if kind == "null":
            options.append(st.none())
        elif kind == "string" and schema.get("format") == "date-time":
            options.append(times(wild))
        elif kind == "string" and "pattern" in schema:
            options.append(st.from_regex(schema["pattern"], fullmatch=True))
            if wild:
                options.append(st.text(ANY_CHARACTER, max_size=70))
        elif kind == "string":
            most, least = schema["maxLength"], schema.get("minLength", 0)
            options.append(st.text(VALID_CHARACTER, min_size=least, max_size=most))
            options.append(st.text(VALID_CHARACTER, min_size=most, max_size=most))
            if wild:
                options.append(st.text(ANY_CHARACTER, min_size=most, max_size=most + 2))
                options.append(st.text(st.sampled_from("a\x00\x01\x1f\ud800"), max_size=8))
        elif kind == "integer":
            low, high = schema["minimum"], schema["maximum"]
            options.append(st.integers(low, high))
            options.append(st.sampled_from([low, high]))
            if wild:
                extremes = [high + 1, low - 1, 2**31, 2**63, 10**30, -(2**63)]
                options.append(st.sampled_from(extremes))
        elif kind == "object":
            fixed = schema["properties"]
            options.append(
                st.fixed_dictionaries({}, optional={k: values(v, wild) for k, v in fixed.items()})
            )
            if wild:
                options.append(st.dictionaries(st.text(max_size=20), json_values(), max_size=12))
                options.append(st.sampled_from([deep(30), deep(200)]))
    return st.one_of(options)


def payloads(schema: dict, wild: bool) -> st.SearchStrategy[dict]:
    properties = schema["properties"]
    required = set(schema.get("required", []))
    return st.fixed_dictionaries(
        {k: values(v, wild) for k, v in properties.items() if k in required},
        optional={k: values(v, wild) for k, v in properties.items() if k not in required},
    )


@st.composite
def envelopes(draw) -> dict:
    event_schema = draw(st.sampled_from(registry.all()))
    wild = draw(st.integers(0, 3)) == 0  # a quarter of the events: anything the types allow
    payload = draw(payloads(event_schema.schema, wild))
    if event_schema.name == "consent" and payload.get("decision") == "withdrawn":
        # an opt-out would drop every later example's events (the privacy tests cover it)
        payload["decision"] = "given"
    return {
        "id": str(draw(st.uuids(version=4))),
        "schema": event_schema.name,
        "version": event_schema.version,
        "time": draw(times(wild)),
        "payload": payload,
    }


batches = st.lists(envelopes(), min_size=1, max_size=2)

# -- what is stored ----------------------------------------------------------------------------


def with_defaults(raw: dict) -> dict:
    """The payload as stored: with the schema's defaults filled in."""
    schema = registry.get(raw["schema"], raw["version"]).schema
    payload = dict(raw["payload"])
    for key, prop in schema["properties"].items():
        if "default" in prop and key not in payload:
            payload[key] = prop["default"]
    return payload


def stored_events(store, member_id: str) -> dict[str, tuple]:
    e = t.events.c
    with store.connect() as conn:
        rows = conn.execute(
            select(e.id, e.schema, e.version, e.time, e.payload).where(
                e.hub == store.hub, e.member_id == member_id
            )
        ).all()
    return {
        row.id: (
            row.schema,
            row.version,
            row.time,
            json.loads(row.payload) if isinstance(row.payload, str) else row.payload,
        )
        for row in rows
    }


def check_stored(store, member_id: str, before: dict, batch: list, statuses: list) -> None:
    """Stored exactly what was acknowledged: the ids answered "stored", with their contents;
    nothing when the batch was refused."""
    after = stored_events(store, member_id)
    new = {k: v for k, v in after.items() if k not in before}
    acknowledged = {r: raw for r, raw in zip(statuses, batch, strict=True) if r[1] == "stored"}
    assert set(new) == {event_id for event_id, _ in acknowledged}, (statuses, batch)
    for (event_id, _), raw in acknowledged.items():
        schema, version, time, payload = new[event_id]
        assert (schema, version) == (raw["schema"], raw["version"])
        assert time == parse_time(raw["time"])
        assert payload == with_defaults(raw)


# -- the property ------------------------------------------------------------------------------


@pytest.fixture
def catalyst_config():
    # this test sends fast: no rate limit in the way of what it checks
    # and recording on without a decision: stored is what is acknowledged as stored
    return {
        "CatalystService": {"rate_limit": 0.0, "rate_limit_bytes": 0.0, "consent_mode": "opt-out"}
    }


async def test_no_input_turns_into_a_server_error(catalyst_service):
    svc = catalyst_service
    store = svc.store
    user = svc.user(ALICE, groups=["community-andes"])
    member_id = store.member_id(ALICE)
    tokens = {
        "api token": user.new_api_token(),
        "server token": user.new_api_token(
            scopes=[
                f"users:activity!user={ALICE}",
                f"access:servers!server={ALICE}/",
                "access:services!service=catalyst",
            ]
        ),
        "service token": svc.service.hub_auth.api_token,
    }
    url = svc.url("api/events")
    ingestor = Ingestor(store)
    own = {
        kind: Sender(member_id, "andes", kind)
        for kind in (COLLECTOR, LEAD)  # the service's own paths
    }
    seen: dict[str, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch=batches, sender=st.sampled_from([*tokens, *own]))
    def send(batch: list[dict], sender: str) -> None:
        before = stored_events(store, member_id)
        if sender in own:
            ok, results = ingestor.ingest(batch, own[sender])
            statuses = [(r.id, r.status) for r in results]
            assert ok == all(s in ACKNOWLEDGED for _, s in statuses)
        else:
            r = requests.post(
                url,
                data=json.dumps({"events": batch}),
                headers={
                    "Authorization": f"token {tokens[sender]}",
                    "Content-Type": "application/json",
                },
                timeout=60,
            )
            assert r.status_code < 500, r.text
            body = r.json()
            assert isinstance(body.get("message", ""), str)
            if sender == "service token":
                assert r.status_code == 403
                statuses = [(raw["id"], "not sent") for raw in batch]
            elif "results" not in body:
                # the body as a whole is unusable (lone surrogates are not JSON text)
                assert r.status_code == 400 and body["message"], r.text
                statuses = [(raw["id"], "body refused") for raw in batch]
            else:
                assert r.status_code in (200, 400, 403), r.text
                statuses = [(x["id"], x["status"]) for x in body["results"]]
                assert (r.status_code == 200) == all(s in ACKNOWLEDGED for _, s in statuses)
                assert (r.status_code == 403) == any(s == "refused" for _, s in statuses)
        for _, status in statuses:
            seen[status] = seen.get(status, 0) + 1
        check_stored(store, member_id, before, batch, statuses)

    await asyncio.get_running_loop().run_in_executor(None, send)
    # the examples reached both sides of the rules
    assert seen.get("stored", 0) >= 10 and seen.get("error", 0) >= 10, seen
    assert seen.get("refused", 0) >= 5, seen
