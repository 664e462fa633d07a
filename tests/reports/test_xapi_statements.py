"""The xAPI statements of the hand-worked hub (``conftest.py``): which records become
statements, their ids, actors and activities, consent and erasure, and every one valid for
Ralph's strict model (``BaseXapiStatement``, run in Ralph's own virtual environment)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime

import pytest

from catalyst_hub.ingest import LEAD, Ingestor, Sender
from catalyst_hub.interop.xapi import (
    ADL_VERB,
    PROFILE_ID,
    XAPI_VERSION,
    Profile,
    decode_cursor,
    encode_cursor,
    hub_entries,
    hub_statements,
    page_after,
)
from catalyst_hub.reports.cohorts import CohortFields
from catalyst_hub.reports.learning_records import learning_records
from catalyst_hub.store.privacy import erase_member
from catalyst_hub.workflows.training import create_cohort, edit_learners
from harness.ralph import validate

pytestmark = pytest.mark.postgres

HUB_URL = "https://andes.hub.example.org"


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A time of March 2026, as in the hub of ``conftest.py``."""
    return datetime(2026, 3, day, hour, minute)


def kinds(statements):
    """(member, verb, object id relative to the hub) of each statement."""
    return Counter(
        (
            s["actor"]["account"]["name"],
            s["verb"]["id"].removeprefix(ADL_VERB),
            s["object"]["id"].removeprefix(HUB_URL + "/xapi/"),
        )
        for s in statements
    )


def test_which_records_become_statements(hub):
    ids = hub.ids
    statements = hub_statements(hub.store, HUB_URL)
    got = kinds(statements)
    ana, ben, dan = ids["ana"], ids["ben"], ids["dan"]
    steps = [
        "login",
        "start_server",
        "open_environment",
        "upload_file",
        "run_code",
        "use_git",
        "save_work",
        "stop_server",
    ]
    expected = Counter(
        [(ana, "completed", f"onboarding/{s}") for s in steps]
        + [
            (ana, "completed", "lessons/hub-basics/episodes/first-notebook/exercises/hello"),
            (ana, "completed", "lessons/hub-basics/episodes/first-notebook/exercises/variables"),
            (ana, "completed", "lessons/hub-basics/episodes/first-notebook"),
            (ben, "completed", "onboarding/login"),
            (ben, "completed", "onboarding/start_server"),
            (ben, "completed", "onboarding/open_environment"),
            (ben, "completed", "onboarding/run_code"),
            (ben, "completed", "onboarding/stop_server"),
            (ben, "completed", "lessons/hub-basics/episodes/data-files/exercises/read-csv"),
            (dan, "completed", "lessons/hub-basics/episodes/persistence"),
        ]
        + [(dan, "completed", f"onboarding/{s}") for s in steps]
    )
    # caro only started a server (start_server is a step), eve did nothing of the kind, and
    # the staff account is left out as everywhere
    expected[(ids["caro"], "completed", "onboarding/start_server")] = 1
    assert got == expected
    assert ids["staff"] not in {s["actor"]["account"]["name"] for s in statements}


def test_every_statement_is_valid_for_ralph_and_follows_the_profile(hub):
    store = hub.store
    # a lead's sign-off, a whole lesson and a cohort, so every kind of statement is there
    lead = store.member_id("luis-lead")
    ana = hub.ids["ana"]
    cohort_id = create_cohort(
        store, "andes", CohortFields("March", "es", None, None, ["hub-basics"]), lead
    )
    edit_learners(store, cohort_for(store, cohort_id), ["ana"], [], lead)
    raws = [
        {
            "id": str(uuid.uuid4()),
            "schema": "episode_completed",
            "version": 1,
            "time": at(11, 9).isoformat() + "Z",
            "payload": {
                "lesson": "hub-basics",
                "episode": episode,
                "source": "lead",
                "signed_off_by": lead,
            },
        }
        for episode in ("data-files", "persistence")
    ]
    stored, results = Ingestor(store).ingest(raws, Sender(ana, "andes", LEAD))
    assert stored, [r.to_json() for r in results]

    statements = hub_statements(store, HUB_URL)
    assert validate(statements) == []
    text = json.dumps(statements)
    for username in ("ana", "ben", "caro", "dan", "luis-lead"):
        assert f'"{username}"' not in text
    for s in statements:
        assert s["version"] == XAPI_VERSION
        assert s["actor"] == {
            "objectType": "Agent",
            "account": {"homePage": HUB_URL + "/", "name": s["actor"]["account"]["name"]},
        }
        assert s["actor"]["account"]["name"] in hub.ids.values()
        assert s["object"]["id"].startswith(HUB_URL + "/xapi/")
        assert s["context"]["contextActivities"]["category"][0]["id"] == PROFILE_ID
        assert s["timestamp"].endswith("Z")
    assert len({s["id"] for s in statements}) == len(statements)

    by_object = {
        s["object"]["id"].removeprefix(HUB_URL + "/xapi/"): s
        for s in statements
        if s["actor"]["account"]["name"] == ana
    }
    lesson = by_object["lessons/hub-basics"]
    assert lesson["timestamp"] == "2026-03-11T09:00:00.000Z"  # its last episode
    cohort = [{"objectType": "Activity", "id": f"{HUB_URL}/xapi/cohorts/{cohort_id}"}]
    assert [
        {k: v for k, v in g.items() if k != "definition"}
        for g in lesson["context"]["contextActivities"]["grouping"]
    ] == cohort
    signed = by_object["lessons/hub-basics/episodes/persistence"]
    assert signed["context"]["instructor"]["account"]["name"] == lead
    assert signed["context"]["extensions"][PROFILE_ID + "/extensions/source"] == "lead"
    parents = by_object["lessons/hub-basics/episodes/first-notebook/exercises/hello"]["context"][
        "contextActivities"
    ]["parent"]
    assert [p["id"] for p in parents] == [
        f"{HUB_URL}/xapi/lessons/hub-basics/episodes/first-notebook",
        f"{HUB_URL}/xapi/lessons/hub-basics",
    ]


def cohort_for(store, cohort_id):
    from catalyst_hub.reports.cohorts import get_cohort

    return get_cohort(store, cohort_id)


def test_statement_ids_are_deterministic_and_keyed_with_the_secret(hub):
    store = hub.store
    first = hub_statements(store, HUB_URL)
    again = hub_statements(store, HUB_URL)
    assert first == again
    other = Profile(store.hub, HUB_URL, b"another-secret-" + b"1" * 32, store.catalog)
    elsewhere = other.statements(learning_records(store))
    assert {s["id"] for s in first}.isdisjoint({s["id"] for s in elsewhere})
    assert all(uuid.UUID(s["id"]).version == 8 for s in first)
    # the ids from the member's cached HMAC prefix are identity.keyed_uuid's
    profile = Profile(store.hub, HUB_URL, store.secret, store.catalog)
    for member in hub.ids.values():
        for keys in (("step", "login"), ("exercise", "a", "b", "c"), ("lesson", "é")):
            assert profile.statement_id(member, *keys) == profile.slow_statement_id(member, *keys)


def test_consent_and_erasure(hub):
    store = hub.store
    ana, ben = hub.ids["ana"], hub.ids["ben"]
    assert {ana, ben} <= members_of(hub_statements(store, HUB_URL))
    # opt-in: only members who accepted the notice
    store.consent_mode = "opt-in"
    assert members_of(hub_statements(store, HUB_URL)) == set()
    decide(store, ben, "given")
    assert members_of(hub_statements(store, HUB_URL)) == {ben}
    store.consent_mode = "opt-out"
    decide(store, ana, "withdrawn")
    assert ana not in members_of(hub_statements(store, HUB_URL))
    erase_member(store, ben)
    assert ben not in members_of(hub_statements(store, HUB_URL))


def test_community_filter_and_pages(hub):
    store = hub.store
    every = hub_statements(store, HUB_URL)
    assert hub_statements(store, HUB_URL, communities=["pampa"]) == []
    assert hub_statements(store, HUB_URL, communities=["andes"]) == every
    entries = hub_entries(store, HUB_URL)
    pages, cursor = [], None
    while True:
        page, more = page_after(entries, cursor, 7)
        pages.extend(page)
        if not more:
            break
        cursor = decode_cursor(encode_cursor(page[-1]))
    assert pages == every
    for bad in ("", "x", "bm90IGEgY3Vyc29y", "%%%"):
        with pytest.raises(ValueError):
            decode_cursor(bad)


def members_of(statements):
    return {s["actor"]["account"]["name"] for s in statements}


def decide(store, member_id, decision):
    raw = {
        "id": str(uuid.uuid4()),
        "schema": "consent",
        "version": 1,
        "time": at(12, 10, 30).isoformat() + "Z",
        "payload": {"decision": decision, "notice_version": store.notice_version},
    }
    stored, results = Ingestor(store).ingest([raw], Sender(member_id, "andes", "member"))
    assert stored, [r.to_json() for r in results]
