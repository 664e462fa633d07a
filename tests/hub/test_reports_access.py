"""Staff pages and exports on a MockHub: who may see what, and that hostile text is escaped.

Users: anonymous, a plain user of community a, the training leads of a and of b, a hub admin
(``custom:catalyst:admin``), consortium staff (unfiltered ``custom:catalyst:reports``) and a
metrics scraper. Community a has six members, b two (below k=5, so suppressed in the overview).
"""

from __future__ import annotations

import pytest

import catalyst_hub.store  # noqa: F401  (loads before ingest: projections and store import each other)
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.pytest_plugin import earlier_today
from catalyst_hub.store import tables as t

# builds data relative to now: CI runs it again at 00:05 and 23:55 UTC
pytestmark = pytest.mark.clock

HOSTILE = "<script>alert(1)</script>"

CATALOG = """
steps:
  - id: login
    title: {en: "Log in <script>alert(1)</script>"}
    detect: [{schema: action, match: {action: logged_in}}]
  - id: run_code
    title: {en: Run code}
    detect: [{schema: action, match: {action: cell_executed}}]
training:
  programs:
    - id: p
      title: {en: Program}
      lessons:
        - id: basics
          title: {en: "Basics <script>alert(1)</script>"}
          episodes:
            - id: one
              title: {en: "One <b>bold</b>"}
              self_report: true
            - id: two
              title: {en: Two}
              self_report: true
"""


@pytest.fixture
def catalyst_hub_roles():
    return [
        {"name": "lead-a", "scopes": ["custom:catalyst:training!group=community-a"]},
        {"name": "lead-b", "scopes": ["custom:catalyst:training!group=community-b"]},
        {"name": "catalyst-admin", "scopes": ["custom:catalyst:admin"]},
        {"name": "consortium", "scopes": ["custom:catalyst:reports"]},
        {"name": "scraper", "scopes": ["custom:catalyst:metrics"]},
    ]


@pytest.fixture
def catalyst_config(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    return {"CatalystApp": {"catalog_files": [str(path)]}}


async def seed(service, make_event) -> dict[str, str]:
    """Six active members in a, two in b, one in a community with a hostile name."""
    store = service.store
    ingestor = Ingestor(store)
    now = earlier_today(hours=1)
    people = {f"a{i}": "a" for i in range(1, 7)} | {"b1": "b", "b2": "b", "h1": HOSTILE}
    ids = {}
    for name, community in people.items():
        ids[name] = store.member_id(name)
        events = [
            # they accepted the notice (the service's default is opt-in)
            make_event("consent", {"decision": "given", "notice_version": "1"}, time=now),
            make_event("action", {"action": "logged_in"}, time=now),
            make_event("action", {"action": "cell_executed"}, time=now),
        ]
        stored, results = ingestor.ingest(events, Sender(ids[name], community))
        assert stored, [r.to_json() for r in results]
    return ids


@pytest.fixture
async def hub(catalyst_service, make_event):
    svc = catalyst_service
    ids = await seed(svc.service, make_event)
    tokens = {
        "anonymous": None,
        # callers, not part of the counted population: undecided, so they record nothing
        "plain": svc.token("plain-a", groups=["community-a"], consent=None),
        "lead_a": svc.token(
            "lead-of-a",
            groups=["community-a", "community-a-leads"],
            roles=["lead-a"],
            consent=None,
        ),
        "lead_b": svc.token("lead-of-b", groups=["community-b"], roles=["lead-b"]),
        "admin": svc.token("catalyst-admin", roles=["catalyst-admin"]),
        "staff": svc.token("consortium-staff", roles=["consortium"]),
        "scraper": svc.token("scraper", roles=["scraper"]),
    }
    # a cohort of community a, made by its lead
    r = await svc.request(
        "post",
        "training/",
        tokens["lead_a"],
        json={
            "name": f"Cohort {HOSTILE}",
            "community": "a",
            "language": "es",
            "lessons": ["basics"],
        },
    )
    assert r.status_code == 201, r.text
    cohort = r.json()["cohort"]
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort}/learners",
        tokens["lead_a"],
        json={"usernames": ["a1", "a2"]},
    )
    assert r.status_code == 200, r.text
    return svc, tokens, ids, cohort


async def get(svc, path, token):
    return await svc.request("get", path, token, allow_redirects=False)


USERS = ("anonymous", "plain", "lead_a", "lead_b", "admin", "staff", "scraper")


def expect(anonymous, plain, lead_a, lead_b, admin, staff, scraper=None):
    scraper = plain if scraper is None else scraper
    return dict(zip(USERS, (anonymous, plain, lead_a, lead_b, admin, staff, scraper), strict=True))


async def test_access_matrix(hub):
    svc, tokens, ids, cohort = hub
    cases = {
        "reports/": expect(302, 403, 200, 200, 200, 200),
        "reports/?format=json": expect(401, 403, 200, 200, 200, 200),
        "reports/overview": expect(302, 403, 403, 403, 200, 200),
        "reports/overview.csv": expect(401, 403, 403, 403, 200, 200),
        "reports/overview.json": expect(401, 403, 403, 403, 200, 200),
        "reports/audit": expect(302, 403, 403, 403, 200, 403),
        "reports/audit.json": expect(401, 403, 403, 403, 200, 403),
        "training/": expect(302, 403, 200, 200, 200, 403),
        "training.json": expect(401, 403, 200, 200, 200, 403),
        f"training/cohorts/{cohort}": expect(302, 403, 200, 404, 200, 403),
        f"training/cohorts/{cohort}.csv": expect(401, 403, 200, 404, 200, 403),
        f"training/cohorts/{cohort}.json": expect(401, 403, 200, 404, 200, 403),
        "training/cohorts/99999": expect(302, 403, 404, 404, 404, 403),
        "metrics": expect(401, 403, 403, 403, 403, 403, scraper=200),
    }
    for kind in ("adoption", "funnel", "usage", "month"):
        cases[f"reports/communities/a/{kind}"] = expect(302, 403, 200, 403, 200, 200)
        cases[f"reports/communities/a/{kind}.csv"] = expect(401, 403, 200, 403, 200, 200)
        cases[f"reports/communities/a/{kind}?format=json"] = expect(401, 403, 200, 403, 200, 200)
        cases[f"reports/communities/b/{kind}.json"] = expect(401, 403, 403, 200, 200, 200)
    wrong = {}
    for path, statuses in cases.items():
        for user, status in statuses.items():
            r = await get(svc, path, tokens[user])
            if r.status_code != status:
                wrong[(path, user)] = (status, r.status_code)
            elif status >= 400 and (
                ".csv" in path or ".json" in path or "format=json" in path or path == "metrics"
            ):
                assert r.headers["Content-Type"].startswith("application/json"), (path, user)
                assert r.json()["status"] == status
            elif status >= 400:
                assert r.headers["Content-Type"].startswith("text/html"), (path, user)
    assert not wrong, wrong


async def test_lead_of_a_sees_nothing_of_b(hub, make_event):
    svc, tokens, ids, cohort = hub
    # a cohort in b, with b's learners
    b_cohort = await svc.create_cohort(tokens["lead_b"], "b", "B only", ["basics"])
    r = await svc.request(
        "post",
        f"training/cohorts/{b_cohort}/learners",
        tokens["lead_b"],
        json={"usernames": ["b1"]},
    )
    assert r.status_code == 200, r.text

    index = await get(svc, "reports/?format=json", tokens["lead_a"])
    assert index.json() == {"communities": ["a"]}
    listing = await get(svc, "training.json", tokens["lead_a"])
    assert [c["community"] for c in listing.json()["cohorts"]] == ["a"]
    page = await get(svc, "training/", tokens["lead_a"])
    assert "B only" not in page.text
    # B's cohort: not found for A's lead, for reading, signing off and adding learners
    assert (await get(svc, f"training/cohorts/{b_cohort}", tokens["lead_a"])).status_code == 404
    r = await svc.request(
        "post",
        f"training/cohorts/{b_cohort}/signoff",
        tokens["lead_a"],
        json={"learner": ids["b1"], "lesson": "basics", "episode": "one"},
    )
    assert r.status_code == 404
    r = await svc.request(
        "post", f"training/cohorts/{cohort}/learners", tokens["lead_a"], json={"usernames": ["b1"]}
    )
    assert r.status_code == 400
    r = await svc.request(
        "post",
        "training/",
        tokens["lead_a"],
        json={"name": "x", "community": "b", "lessons": ["basics"]},
    )
    assert r.status_code == 403
    # the lead of b reads b's usernames; the lead of a never does
    csv_b = await get(svc, f"training/cohorts/{b_cohort}.csv", tokens["lead_b"])
    assert "b1" in csv_b.text
    csv_a = await get(svc, f"training/cohorts/{cohort}.csv", tokens["lead_a"])
    assert "a1" in csv_a.text and "b1" not in csv_a.text


async def test_sign_off_is_an_audited_event(hub):
    svc, tokens, ids, cohort = hub
    store = svc.store
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort}/signoff",
        tokens["lead_a"],
        json={"learner": ids["a1"], "lesson": "basics", "episode": "one"},
    )
    assert r.status_code == 200, r.text
    lead = store.member_id("lead-of-a")
    with store.connect() as conn:
        event = conn.execute(
            t.events.select().where(
                t.events.c.hub == store.hub, t.events.c.schema == "episode_completed"
            )
        ).one()
        progress = conn.execute(
            t.training_progress.select().where(t.training_progress.c.hub == store.hub)
        ).one()
        audits = conn.execute(
            t.audit_log.select().where(
                t.audit_log.c.hub == store.hub, t.audit_log.c.action == "sign_off"
            )
        ).all()
    assert event.member_id == ids["a1"]
    assert event.payload == {
        "lesson": "basics",
        "episode": "one",
        "source": "lead",
        "signed_off_by": lead,
    }
    assert (progress.member_id, progress.source, progress.signed_off_by) == (
        ids["a1"],
        "lead",
        lead,
    )
    assert [(a.actor, a.community, a.subject) for a in audits] == [(lead, "a", ids["a1"])]

    data = (await get(svc, f"training/cohorts/{cohort}.json", tokens["lead_a"])).json()
    assert data["total"] == {"earned": 1, "possible": 4, "percent": 25.0}
    rows = {row["username"]: row for row in data["learners"]}
    assert rows["a1"]["episodes"][0]["state"] == "done"
    assert rows["a1"]["episodes"][0]["source"] == "lead"
    # a learner outside the cohort cannot be signed off
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort}/signoff",
        tokens["lead_a"],
        json={"learner": ids["a3"], "lesson": "basics", "episode": "one"},
    )
    assert r.status_code == 400


async def test_reading_learners_writes_the_audit_log(hub):
    svc, tokens, ids, cohort = hub
    store = svc.store
    assert (await get(svc, f"training/cohorts/{cohort}", tokens["lead_a"])).status_code == 200
    assert (await get(svc, f"training/cohorts/{cohort}.csv", tokens["lead_a"])).status_code == 200
    with store.connect() as conn:
        rows = conn.execute(
            t.audit_log.select().where(
                t.audit_log.c.hub == store.hub,
                t.audit_log.c.action.in_(["view_cohort", "export_cohort_csv"]),
            )
        ).all()
    lead = store.member_id("lead-of-a")
    assert sorted((r.action, r.subject) for r in rows) == sorted(
        [
            ("view_cohort", ids["a1"]),
            ("view_cohort", ids["a2"]),
            ("export_cohort_csv", ids["a1"]),
            ("export_cohort_csv", ids["a2"]),
        ]
    )
    assert {(r.actor, r.community) for r in rows} == {(lead, "a")}
    audit = (await get(svc, "reports/audit.json", tokens["admin"])).json()
    assert audit["total"] >= 4
    # usernames appear on the lead's page only, never in the audit log
    values = {v for entry in audit["entries"] for v in entry.values()}
    assert not values & {"a1", "a2", "lead-of-a"}


async def test_overview_suppresses_small_groups(hub):
    svc, tokens, ids, cohort = hub
    data = (await get(svc, "reports/overview.json", tokens["staff"])).json()
    rows = {r["community"]: r for r in data["communities"]}
    assert data["min_group_size"] == 5
    assert rows["a"]["members"] == 6
    assert rows["a"]["active_members"] == 6
    assert rows["b"]["members"] == {"suppressed": True, "fewer_than": 5}
    assert rows["b"]["active_members"] == {"suppressed": True, "fewer_than": 5}
    assert rows["b"]["activation_percent"] == {"suppressed": True}
    page = await get(svc, "reports/overview", tokens["staff"])
    assert "fewer than 5" in page.text
    csv = (await get(svc, "reports/overview.csv", tokens["staff"])).text
    b_row = next(line for line in csv.splitlines() if line.startswith("b,"))
    assert b_row.startswith("b,<5,<5,<5")


async def test_metrics(hub):
    svc, tokens, ids, cohort = hub
    r = await get(svc, "metrics", tokens["scraper"])
    assert r.status_code == 200
    text = r.text
    assert 'catalyst_active_members{community="a",period="24h"} 6.0' in text
    assert 'catalyst_members{community="a"} 6.0' in text
    assert 'catalyst_onboarding_completed_members{community="a"} 6.0' in text
    # b has two members: below k, so no series but zeros (nobody to single out)
    b_series = [line for line in text.splitlines() if 'community="b"' in line]
    assert b_series and all(line.endswith(" 0.0") for line in b_series)
    assert "catalyst_min_group_size 5.0" in text


async def test_hostile_text_is_escaped(hub):
    svc, tokens, ids, cohort = hub
    pages = [
        ("reports/overview", "staff"),
        ("reports/", "staff"),
        ("reports/communities/a/funnel", "lead_a"),
        (f"training/cohorts/{cohort}", "lead_a"),
        ("training/", "lead_a"),
        ("reports/communities/%3Cscript%3Ealert(1)%3C%2Fscript%3E/adoption", "staff"),
    ]
    for path, user in pages:
        r = await get(svc, path, tokens[user])
        assert r.status_code == 200, (path, r.status_code)
        assert "<script>" not in r.text, path
        assert "&lt;script&gt;" in r.text, path


async def test_csv_matches_page(hub):
    svc, tokens, ids, cohort = hub
    page = (await get(svc, "reports/communities/a/adoption?days=7", tokens["lead_a"])).text
    csv = (
        await get(
            svc, "reports/communities/a/adoption.csv?days=7&table=daily-active", tokens["lead_a"]
        )
    ).text
    lines = csv.lstrip("\ufeff").strip().splitlines()
    assert lines[0] == "day,dau,wau,mau"
    assert len(lines) == 8
    assert 'id="table-daily-active"' in page
    last = lines[-1].split(",")
    assert last[1:] == ["6", "6", "6"] or last[1:] == ["0", "6", "6"]
    assert 'data-figure="active"' in page
