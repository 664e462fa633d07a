"""``GET api/xapi/statements`` and ``GET api/xapi/forwarder`` on a MockHub: who reads which
community's statements, pages with ``more``, bad parameters, audit rows."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from catalyst_hub.interop.xapi import EXT_COMMUNITY, XAPI_VERSION
from catalyst_hub.store import tables as t

pytestmark = pytest.mark.postgres


@pytest.fixture
def catalyst_hub_roles():
    return [
        {"name": "lead-andes", "scopes": ["custom:catalyst:training!group=community-andes"]},
        {"name": "catalyst-admin", "scopes": ["custom:catalyst:admin"]},
        {"name": "consortium", "scopes": ["custom:catalyst:reports"]},
    ]


@pytest.fixture
def catalyst_config():
    return {"CatalystApp": {"hub_url": "https://hub.example.org/"}}


def exercise(lesson: str, episode: str, name: str, time: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "schema": "exercise_completed",
        "version": 1,
        "time": time,
        "payload": {"lesson": lesson, "episode": episode, "exercise": name},
    }


async def learners(hub):
    ana = hub.token("ana", groups=["community-andes"])
    bo = hub.token("bo", groups=["community-pampa"])
    for token, names in ((ana, ["hello", "variables"]), (bo, ["hello"])):
        events = [
            exercise("hub-basics", "first-notebook", n, f"2026-03-0{i + 2}T10:00:00Z")
            for i, n in enumerate(names)
        ]
        r = await hub.request("post", "api/events", token, json={"events": events})
        assert r.status_code == 200, r.text


def communities(statements):
    return sorted(s["context"]["extensions"][EXT_COMMUNITY] for s in statements)


async def test_who_reads_which_statements(catalyst_service):
    hub = catalyst_service
    await learners(hub)
    lead = hub.token("luis", roles=["lead-andes"])
    admin = hub.token("root", roles=["catalyst-admin"])
    staff = hub.token("staff", roles=["consortium"])
    member = hub.token("ana")

    r = await hub.request("get", "api/xapi/statements", admin)
    assert r.status_code == 200, r.text
    assert r.headers["X-Experience-API-Version"] == XAPI_VERSION
    body = r.json()
    assert body["more"] == ""
    # two exercises and one of ana's, one of bo's, and each first steps they reached
    every = body["statements"]
    assert communities([s for s in every if "/exercises/" in s["object"]["id"]]) == [
        "andes",
        "andes",
        "pampa",
    ]
    assert all(s["object"]["id"].startswith("https://hub.example.org/xapi/") for s in every)

    r = await hub.request("get", "api/xapi/statements", lead)
    assert r.status_code == 200, r.text
    assert set(communities(r.json()["statements"])) == {"andes"}
    assert r.json()["statements"] == [
        s for s in every if s["context"]["extensions"][EXT_COMMUNITY] == "andes"
    ]
    r = await hub.request("get", "api/xapi/statements?community=andes", lead)
    assert r.status_code == 200
    for token, path in (
        (lead, "api/xapi/statements?community=pampa"),
        (staff, "api/xapi/statements"),
        (member, "api/xapi/statements"),
        (lead, "api/xapi/forwarder"),
    ):
        r = await hub.request("get", path, token)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["message"]
    r = await hub.request("get", "api/xapi/statements")
    assert r.status_code == 401
    r = await hub.request("get", "api/xapi/statements?community=nowhere", admin)
    assert r.status_code == 404

    # every read is audited, one row per learner, by community
    a = t.audit_log.c
    with hub.store.connect() as conn:
        rows = conn.execute(
            select(a.actor, a.community, a.subject).where(
                a.hub == hub.store.hub, a.action == "xapi_statements"
            )
        ).all()
    ids = {name: hub.store.pseudonym(name) for name in ("ana", "bo", "luis", "root")}
    assert {(r.actor, r.community, r.subject) for r in rows} == {
        (ids["root"], "andes", ids["ana"]),
        (ids["root"], "pampa", ids["bo"]),
        (ids["luis"], "andes", ids["ana"]),
    }

    r = await hub.request("get", "api/xapi/forwarder", admin)
    assert r.status_code == 200
    assert r.json() == {"enabled": False}


async def test_pages_follow_more(catalyst_service):
    hub = catalyst_service
    await learners(hub)
    admin = hub.token("root", roles=["catalyst-admin"])
    every = (await hub.request("get", "api/xapi/statements", admin)).json()["statements"]
    pages, path = [], "api/xapi/statements?limit=2"
    while path:
        r = await hub.request("get", path, admin)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["statements"]) <= 2
        pages.extend(body["statements"])
        more = body["more"]
        # ``more`` is relative to the hub's host, as xAPI's StatementResult says
        path = urlsplit(more).path.split("/services/catalyst/", 1)[-1] if more else ""
        if more:
            path += "?" + urlsplit(more).query
    assert pages == every


BAD_QUERIES = [
    "limit=0",
    "limit=1001",
    "limit=-1",
    "limit=ten",
    "limit=%C2%B2",
    "cursor=nonsense",
    "cursor=",
    "since=2026-01-01",
    "limit=1&limit=x",
]


async def test_bad_parameters_are_400_with_a_message(catalyst_service):
    hub = catalyst_service
    admin = hub.token("root", roles=["catalyst-admin"])
    for query in BAD_QUERIES:
        r = await hub.request("get", f"api/xapi/statements?{query}", admin)
        assert r.status_code == 400, (query, r.text)
        assert r.json()["message"], query
