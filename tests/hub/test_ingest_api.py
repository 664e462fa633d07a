"""The ingest API on a MockHub, against SQLite and PostgreSQL.

Bad input must get a 4xx with a JSON message saying what is wrong, and store nothing.
"""

import uuid

import pytest
from sqlalchemy import func, select

from catalyst_hub.store import tables as t

ALICE = "alice@example.org"


def count_events(store) -> int:
    """Events sent in the test (not the consent ``token()`` records for each member)."""
    with store.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(t.events)
            .where(t.events.c.hub == store.hub, t.events.c.schema != "consent")
        ).scalar()


async def test_events_are_attributed_to_the_token_owner(catalyst_service, make_event):
    token = catalyst_service.token(ALICE, groups=["community-andes"])
    r = await catalyst_service.request(
        "post",
        "api/events",
        token,
        json={"events": [make_event("action", {"action": "cell_executed"})]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1
    store = catalyst_service.store
    with store.connect() as conn:
        row = conn.execute(
            select(t.events).where(t.events.c.hub == store.hub, t.events.c.schema != "consent")
        ).one()
    assert row.member_id == store.member_id(ALICE)
    assert row.community == "andes"
    # the username is nowhere but in the identity table
    assert ALICE not in repr(tuple(row))


async def test_user_without_groups_is_in_the_default_community(catalyst_service, make_event):
    token = catalyst_service.token("carol")
    r = await catalyst_service.request(
        "post",
        "api/events",
        token,
        json=[make_event("action", {"action": "kernel_started", "language": "R"})],
    )
    assert r.status_code == 200, r.text
    me = (await catalyst_service.request("get", "api/me", token)).json()
    assert me["community"] == "default"


async def test_repeated_uuid_is_acknowledged_as_duplicate(catalyst_service, make_event):
    token = catalyst_service.token(ALICE)
    event = make_event("activity", {"kind": "kernel", "count": 4, "seconds": 60})
    first = await catalyst_service.request("post", "api/events", token, json={"events": [event]})
    again = await catalyst_service.request(
        "post", "api/events", token, json={"events": [event, event]}
    )
    assert [r["status"] for r in first.json()["results"]] == ["stored"]
    assert again.status_code == 200
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert count_events(catalyst_service.store) == 1


async def test_another_members_event_id_is_not_a_duplicate(catalyst_service, make_event):
    """An id is unique per member: knowing the id of Alice's event does not let Bob make
    her event a "duplicate" (unrecorded) by sending it first, nor Alice his."""
    alice, bob = catalyst_service.token(ALICE), catalyst_service.token("bob@example.org")
    event = make_event("action", {"action": "git_cloned"})
    for token in (bob, alice, alice):
        r = await catalyst_service.request("post", "api/events", token, json=[event])
        assert r.status_code == 200, r.text
    assert [r["status"] for r in r.json()["results"]] == ["duplicate"]
    assert count_events(catalyst_service.store) == 2
    me = (await catalyst_service.request("get", "api/me", alice)).json()
    assert "use_git" in {step["id"] for step in me["steps"] if step["state"] == "done"}


async def test_info_lists_schemas_without_auth(catalyst_service):
    r = await catalyst_service.request("get", "api/")
    assert r.status_code == 200
    assert r.json()["schemas"]["action"] == [1]


BAD_EVENTS = {
    "unknown schema": ({"schema": "nonsense"}, "unknown schema 'nonsense'"),
    "wrong version": ({"version": 7}, "has no version 7"),
    "payload failing its schema": (
        {"payload": {"action": "teleported"}},
        "payload does not match action v1",
    ),
    "forged user": ({"user": "bob"}, "field(s) not accepted: user"),
    "forged member": ({"member_id": "0" * 32}, "field(s) not accepted: member_id"),
    "forged community": ({"community": "other"}, "field(s) not accepted: community"),
    "id not a uuid": ({"id": "42"}, "'id' must be a UUID"),
    "time not ISO": ({"time": "yesterday"}, "'time' is not an ISO 8601 time"),
    "time in the future": ({"time": "2999-01-01T00:00:00Z"}, "'time' is in the future"),
    "version not int": ({"version": "1"}, "'version' must be an integer"),
}


@pytest.mark.parametrize("case", list(BAD_EVENTS))
async def test_invalid_event_stores_nothing_of_the_batch(catalyst_service, make_event, case):
    change, message = BAD_EVENTS[case]
    token = catalyst_service.token(ALICE)
    good = make_event("action", {"action": "notebook_created"})
    bad = {**make_event("action", {"action": "cell_executed"}), **change}
    r = await catalyst_service.request("post", "api/events", token, json={"events": [good, bad]})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["status"] == 400 and "invalid" in body["message"]
    assert body["results"][0]["status"] == "rejected"
    assert body["results"][1]["status"] == "error"
    assert message in body["results"][1]["message"]
    assert count_events(catalyst_service.store) == 0


BAD_BODIES = {
    "malformed JSON": (b'{"events": [', 400, "not valid JSON"),
    "not a list": (b'{"events": {"a": 1}}', 400, "must be"),
    "empty batch": (b'{"events": []}', 400, "no events"),
    "unexpected top-level field": (b'{"events": [], "user": "bob"}', 400, "unexpected field"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
async def test_unusable_body_is_a_clear_400(catalyst_service, case):
    body, status, message = BAD_BODIES[case]
    token = catalyst_service.token(ALICE)
    r = await catalyst_service.request(
        "post", "api/events", token, data=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == status
    assert r.headers["Content-Type"].startswith("application/json")
    assert message in r.json()["message"]
    assert count_events(catalyst_service.store) == 0


@pytest.fixture
def catalyst_config():
    return {"CatalystService": {"max_batch_events": 5, "max_body_bytes": 4000}}


async def test_limits_on_batch_and_body(catalyst_service, make_event):
    token = catalyst_service.token(ALICE)
    six = [make_event("action", {"action": "notebook_saved"}) for _ in range(6)]
    r = await catalyst_service.request("post", "api/events", token, json={"events": six})
    assert r.status_code == 400
    assert "at most 5" in r.json()["message"]
    large = [make_event("activity", {"kind": "ui", "count": 1, "app": "x" * 60}) for _ in range(5)]
    padded = {"events": large}
    r = await catalyst_service.request(
        "post", "api/events", token, data=(str(padded).replace("'", '"') + " " * 4000).encode()
    )
    assert r.status_code == 413
    assert "limit is 4000" in r.json()["message"]
    assert count_events(catalyst_service.store) == 0


async def test_no_token_and_bad_token(catalyst_service, make_event):
    body = {"events": [make_event("action", {"action": "cell_executed"})]}
    r = await catalyst_service.request("post", "api/events", json=body)
    assert r.status_code in (401, 403)
    assert r.json()["message"]
    r = await catalyst_service.request("post", "api/events", "not-a-token", json=body)
    assert r.status_code in (401, 403)
    assert r.json()["message"]
    assert count_events(catalyst_service.store) == 0


async def test_token_without_access_to_the_service_is_refused(catalyst_service, make_event):
    # a token limited to reading its own user model cannot use the service
    token = catalyst_service.token(ALICE, scopes=["read:users!user=" + ALICE])
    r = await catalyst_service.request(
        "post",
        "api/events",
        token,
        json={"events": [make_event("action", {"action": "cell_executed"})]},
    )
    assert r.status_code == 403
    assert r.json()["message"]
    assert count_events(catalyst_service.store) == 0


async def test_rate_limit_per_member(catalyst_service, make_event):
    catalyst_service.service.rate_limiter.rate = 1
    catalyst_service.service.rate_limiter.burst = 3
    token = catalyst_service.token(ALICE)
    ok = await catalyst_service.request(
        "post",
        "api/events",
        token,
        json=[make_event("action", {"action": "cell_executed"}) for _ in range(3)],
    )
    assert ok.status_code == 200
    r = await catalyst_service.request(
        "post",
        "api/events",
        token,
        json=[make_event("action", {"action": "cell_executed"}) for _ in range(3)],
    )
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert "Too many events" in r.json()["message"]
    assert count_events(catalyst_service.store) == 3


async def test_service_token_cannot_send_events(catalyst_service, make_event):
    # the collector's own token is a service's, not a member's: nothing to attribute events to
    token = catalyst_service.service.hub_auth.api_token
    r = await catalyst_service.request(
        "post", "api/events", token, json=[make_event("action", {"action": "cell_executed"})]
    )
    assert r.status_code == 403
    assert count_events(catalyst_service.store) == 0


async def test_each_user_reads_only_their_own_progress(catalyst_service, make_event):
    alice = catalyst_service.token(ALICE, groups=["community-andes"])
    bob = catalyst_service.token("bob", groups=["community-sahel"])
    await catalyst_service.request(
        "post", "api/events", alice, json=[make_event("action", {"action": "cell_executed"})]
    )
    mine = (await catalyst_service.request("get", "api/me", alice)).json()
    theirs = (await catalyst_service.request("get", "api/me", bob)).json()
    assert {s["id"]: s["state"] for s in mine["steps"]}["run_code"] == "done"
    # bob has only logged in (asking proved it)
    assert [s["id"] for s in theirs["steps"] if s["state"] == "done"] == ["login"]
    assert theirs["community"] == "sahel"
    # a member cannot ask for someone else's progress: there is no parameter for it
    other = await catalyst_service.request("get", "api/me?user=" + ALICE, bob)
    assert [s["id"] for s in other.json()["steps"] if s["state"] == "done"] == ["login"]


@pytest.mark.parametrize(
    ("query", "headers", "title"),
    [
        ("?lang=es", {}, "Ejecuta código"),
        ("", {"Accept-Language": "pt-BR,pt;q=0.9,en;q=0.5"}, "Execute algum código"),
        ("", {"Accept-Language": "fr-FR"}, "Exécutez du code"),
        ("", {"Accept-Language": "de-DE"}, "Run some code"),
        ("?lang=en", {"Accept-Language": "es"}, "Run some code"),
    ],
)
async def test_me_speaks_the_users_language(catalyst_service, query, headers, title):
    token = catalyst_service.token(ALICE)
    r = await catalyst_service.request("get", "api/me" + query, token, headers=headers)
    steps = {s["id"]: s for s in r.json()["steps"]}
    assert steps["run_code"]["title"] == title


async def test_training_progress_from_exercises(catalyst_service, make_event):
    token = catalyst_service.token(ALICE)
    events = [
        make_event(
            "exercise_completed",
            {"lesson": "hub-basics", "episode": "first-notebook", "exercise": "hello"},
        ),
        make_event(
            "exercise_completed",
            {"lesson": "hub-basics", "episode": "first-notebook", "exercise": "variables"},
        ),
        make_event(
            "exercise_completed",
            {"lesson": "hub-basics", "episode": "data-files", "exercise": "plot"},
        ),
        make_event(
            "episode_completed", {"lesson": "sharing", "episode": "publish", "source": "self"}
        ),
    ]
    assert (
        await catalyst_service.request("post", "api/events", token, json=events)
    ).status_code == 200
    training = (await catalyst_service.request("get", "api/me", token)).json()["training"]
    lessons = {lesson["id"]: lesson for lesson in training["programs"][0]["lessons"]}
    episodes = {e["id"]: e for e in lessons["hub-basics"]["episodes"]}
    assert episodes["first-notebook"]["state"] == "done"
    assert episodes["first-notebook"]["source"] == "exercises"
    assert episodes["data-files"]["state"] == "started"
    assert episodes["data-files"]["exercises_done"] == 1
    assert episodes["persistence"]["state"] == "todo"
    assert (lessons["hub-basics"]["earned"], lessons["hub-basics"]["possible"]) == (1, 3)
    assert (lessons["sharing"]["earned"], lessons["sharing"]["possible"]) == (1, 2)
    assert (training["earned"], training["possible"], training["percent"]) == (2, 5, 40)


async def test_unknown_event_ids_are_random_not_guessable(catalyst_service, make_event):
    token = catalyst_service.token(ALICE)
    event_id = str(uuid.uuid4())
    r = await catalyst_service.request(
        "post",
        "api/events",
        token,
        json=[make_event("action", {"action": "git_cloned"}, id=event_id.upper())],
    )
    assert r.json()["results"][0]["id"] == event_id


async def test_unknown_paths_are_404_in_the_right_format(catalyst_service):
    token = catalyst_service.token(ALICE)
    r = await catalyst_service.request("get", "api/nothing-here", token)
    assert r.status_code == 404
    assert r.json()["status"] == 404
    r = await catalyst_service.request("get", "no-such-page", token)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/html")
    assert "<main" in r.text


@pytest.fixture
def catalyst_hub_roles(request):
    return [{"name": "catalyst-staff", "scopes": ["custom:catalyst:reports"]}]


async def test_staff_links_only_for_staff(catalyst_service):
    plain = catalyst_service.token("carol")
    page = await catalyst_service.request("get", "me", plain)
    assert 'data-nav="reports"' not in page.text
    staff = catalyst_service.token("dana", roles=["catalyst-staff"])
    page = await catalyst_service.request("get", "me", staff)
    assert 'data-nav="reports"' in page.text and 'data-nav="overview"' in page.text
