"""Who reads a community's reports exactly, and who reads them from outside (suppressed).

Community a has six members, two of them activated; b has two members.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import catalyst_hub.store  # noqa: F401  (loads before ingest: projections and store import each other)
from catalyst_hub.ingest import Ingestor, Sender

CATALOG = """
steps:
  - id: login
    title: {en: Log in}
    detect: [{schema: action, match: {action: logged_in}}]
  - id: run_code
    title: {en: Run code}
    detect: [{schema: action, match: {action: cell_executed}}]
"""
SUPPRESSED = {"suppressed": True, "fewer_than": 5}


@pytest.fixture
def catalyst_hub_roles():
    return [
        {"name": "consortium", "scopes": ["custom:catalyst:reports"]},
        {"name": "champion-a", "scopes": ["custom:catalyst:reports!group=community-a"]},
        {"name": "catalyst-admin", "scopes": ["custom:catalyst:admin"]},
        {"name": "admin-of-a", "scopes": ["custom:catalyst:admin!group=community-a"]},
    ]


@pytest.fixture
def catalyst_config(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    # seeded members record without a decision: their decisions are not what this is about
    return {
        "CatalystApp": {"catalog_files": [str(path)]},
        "CatalystService": {"consent_mode": "opt-out"},
    }


@pytest.fixture
async def hub(catalyst_service, make_event):
    svc = catalyst_service
    now = datetime.now(timezone.utc)
    ingestor = Ingestor(svc.store)
    people = [(f"a{i}", "a", i < 2) for i in range(6)] + [("b0", "b", True), ("b1", "b", False)]
    for name, community, activated in people:
        actions = ["logged_in", "cell_executed"] if activated else ["logged_in"]
        events = [make_event("action", {"action": a}, time=now) for a in actions]
        stored, _ = ingestor.ingest(events, Sender(svc.store.member_id(name), community))
        assert stored
    tokens = {
        role: svc.token(f"user-{role}", roles=[role])
        for role in ("consortium", "champion-a", "catalyst-admin", "admin-of-a")
    }
    return svc, tokens


async def get(svc, path, token):
    return await svc.request("get", path, token, allow_redirects=False)


@pytest.mark.parametrize("kind", ["adoption", "funnel", "usage", "month"])
async def test_outsiders_read_suppressed_figures_only(hub, kind):
    svc, tokens = hub
    staff = tokens["consortium"]
    r = await get(svc, f"reports/communities/a/{kind}.json", staff)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["detail_withheld"] is True and data["min_group_size"] == 5
    assert not {"daily", "lifecycle", "retention", "environments"} & set(data)
    # per-day and per-person tables are not exports of the outside view
    detail = {"adoption": "daily-active", "usage": "sessions-daily"}.get(kind)
    if detail:
        r = await get(svc, f"reports/communities/a/{kind}.csv?table={detail}", staff)
        assert r.status_code == 404
        assert r.json()["status"] == 404
    page = await get(svc, f"reports/communities/a/{kind}", staff)
    assert page.status_code == 200
    assert 'data-outside="true"' in page.text and "<svg" not in page.text
    csv = await get(svc, f"reports/communities/a/{kind}.csv?table=figures", staff)
    assert csv.status_code == 200 and csv.text.lstrip("\ufeff").startswith("figure,key,value")


async def test_adoption_figures_inside_and_outside(hub):
    svc, tokens = hub
    figures = {}
    for role, token in tokens.items():
        data = (await get(svc, "reports/communities/a/adoption.json", token)).json()
        figures[role] = data.get("figures") or data["summary"]
    # the community's champion and the catalyst admins read exact figures, with the detail
    for role in ("champion-a", "catalyst-admin", "admin-of-a"):
        assert figures[role]["activated_members"] == 2, role
        assert figures[role]["active_members"] == 6, role
    # staff of the consortium: two activated members are fewer than 5
    assert figures["consortium"]["activated_members"] == SUPPRESSED
    assert figures["consortium"]["active_members"] == 6
    # b from outside
    data = (await get(svc, "reports/communities/b/adoption.json", tokens["consortium"])).json()
    assert data["figures"]["active_members"] == SUPPRESSED
    assert data["figures"]["mean_dau"] == {"suppressed": True}
    data = (await get(svc, "reports/communities/b/adoption.json", tokens["catalyst-admin"])).json()
    assert data["summary"]["active_members"] == 2
    # the admin of a only is not let into b at all
    r = await get(svc, "reports/communities/b/adoption.json", tokens["admin-of-a"])
    assert r.status_code == 403


async def test_funnel_steps_from_outside(hub):
    svc, tokens = hub
    data = (await get(svc, "reports/communities/a/funnel.json", tokens["consortium"])).json()
    steps = {s["step"]: s for s in data["steps"]}
    assert data["figures"]["newcomers"] == 6
    assert steps["login"]["reached"] == 6 and steps["login"]["through"] == 6
    # two through run_code, four stalled there: 2 is hidden, and so is 4 (6 - 2 = 4)
    assert steps["run_code"]["through"] == SUPPRESSED
    assert steps["run_code"]["stalled"] == SUPPRESSED
    assert steps["run_code"]["step_conversion"] == {"suppressed": True}
    assert data["figures"]["completed"] == SUPPRESSED
    exact = (await get(svc, "reports/communities/a/funnel.json", tokens["champion-a"])).json()
    assert [s["through"] for s in exact["steps"]] == [6, 2]
