"""The registry reads who may send each schema, field and value; every packaged schema says."""

from __future__ import annotations

import pytest

from catalyst_hub.events import COLLECTOR, LEAD, MEMBER, SchemaRegistry, SenderRefused, registry
from catalyst_hub.ingest import Sender

SCHEMA = {
    "$id": "https://events.catalyst-hub.org/example",
    "version": 1,
    "x-senders": ["member", "lead"],
    "type": "object",
    "properties": {
        "source": {
            "enum": ["self", "lead"],
            "default": "self",
            "x-value-senders": {"self": ["member"], "lead": ["lead"]},
        },
        "signed_off_by": {"type": "string", "maxLength": 64, "x-senders": ["lead"]},
    },
}


def test_every_packaged_schema_names_its_senders():
    for schema in registry.all():
        assert schema.senders, schema.name
        assert schema.senders <= {MEMBER, COLLECTOR, LEAD}
    assert registry.get("server_started", 1).senders == {COLLECTOR}
    assert registry.get("consent", 1).senders == {MEMBER}


def test_rules_are_read_from_the_schema():
    schemas = SchemaRegistry()
    schemas.register("example", SCHEMA)
    example, payload = schemas.validate("example", 1, {})
    assert payload == {"source": "self"}
    example.check_kind(MEMBER)
    example.check_sender(payload, MEMBER)
    with pytest.raises(SenderRefused, match=r"not accepted from a collector: only from the lead"):
        example.check_kind(COLLECTOR)
    with pytest.raises(SenderRefused, match=r"source 'self' .* from a lead.*x-value-senders"):
        example.check_sender(payload, LEAD)
    with pytest.raises(SenderRefused, match=r"'signed_off_by' .* from a member.*x-senders"):
        example.check_sender({"source": "self", "signed_off_by": "x"}, MEMBER)
    assert example.allowed_senders({"source": "lead", "signed_off_by": "x"}) == {LEAD}
    assert example.allowed_senders({"source": "self", "signed_off_by": "x"}) == set()


@pytest.mark.parametrize(
    "change",
    [
        {"x-senders": None},
        {"x-senders": ["member", "someone"]},
        {"x-senders": "member"},
    ],
)
def test_a_schema_must_say_who_may_send_it(change):
    schema = {**SCHEMA, **change}
    if change["x-senders"] is None:
        del schema["x-senders"]
    with pytest.raises(ValueError, match="x-senders"):
        SchemaRegistry().register("example", schema)


def test_a_sender_kind_is_one_of_the_known_kinds():
    assert Sender("m", "andes").kind == MEMBER
    with pytest.raises(ValueError, match="unknown sender kind"):
        Sender("m", "andes", "admin")


def test_nul_is_refused_and_its_escape_as_text_is_not():
    _, payload = registry.validate("action", 1, {"action": "cell_executed", "app": "\\u0000"})
    assert payload["app"] == "\\u0000"  # six characters, no NUL
    with pytest.raises(ValueError, match=r"payload\.app holds a NUL character"):
        registry.validate("action", 1, {"action": "cell_executed", "app": "a\x00"})


def test_a_lone_surrogate_is_an_invalid_event_not_a_crash():
    """Found by the property test: an in-process sender's (or a JSON escape's) lone surrogate
    cannot be stored by any database, and is refused like any invalid field."""
    import pytest

    from catalyst_hub.events import EventError, registry

    schema = registry.get("server_started", 1)
    with pytest.raises(EventError, match="valid Unicode"):
        registry.validate_payload(
            schema, {"server_name": "\ud800", "started": "2016-01-01T00:00:00Z"}
        )
