"""Audit subjects are members, cohorts follow communities, unknown communities are not found.

Community a has three members (a1..a3) in a cohort led by lead-of-a; community b one (b1).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import catalyst_hub.store  # noqa: F401  (loads before ingest: projections and store import each other)
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.store import tables as t
from catalyst_hub.store.audit import Access, AuditError, audit

CATALOG = """
training:
  programs:
    - id: p
      title: {en: Program}
      lessons:
        - id: basics
          title: {en: Basics}
          episodes:
            - id: one
              title: {en: One}
              self_report: true
"""


@pytest.fixture
def catalyst_hub_roles():
    return [
        {"name": "lead-a", "scopes": ["custom:catalyst:training!group=community-a"]},
        {"name": "reports-b", "scopes": ["custom:catalyst:reports!group=community-b"]},
        {"name": "catalyst-admin", "scopes": ["custom:catalyst:admin"]},
        {"name": "consortium", "scopes": ["custom:catalyst:reports"]},
    ]


@pytest.fixture
def catalyst_config(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    return {
        "CatalystApp": {"catalog_files": [str(path)]},
        # seeded members record without a decision: their decisions are not what this is about
        "CatalystService": {"consent_mode": "opt-out"},
        # "planned" is configured but nobody is in it yet
        "CommunityMapper": {"group_map": {"planned-group": "planned"}},
    }


def act(store, make_event, name: str, community: str, time: datetime) -> str:
    mid = store.member_id(name)
    stored, results = Ingestor(store).ingest(
        [make_event("action", {"action": "logged_in"}, time=time)], Sender(mid, community)
    )
    assert stored, [r.to_json() for r in results]
    return mid


@pytest.fixture
async def hub(catalyst_service, make_event):
    svc = catalyst_service
    # a minute ago, so that a later event (moving community) is not in the future
    now = datetime.now(timezone.utc) - timedelta(minutes=1)
    ids = {
        name: act(svc.store, make_event, name, community, now)
        for name, community in (("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"))
    }
    tokens = {
        "lead_a": svc.token("lead-of-a", groups=["community-a"], roles=["lead-a"]),
        "reports_b": svc.token("champion-b", groups=["community-b"], roles=["reports-b"]),
        "admin": svc.token("catalyst-admin", roles=["catalyst-admin"]),
        "staff": svc.token("consortium-staff", roles=["consortium"]),
    }
    cohort = await svc.create_cohort(tokens["lead_a"], "a", "Workshop", ["basics"])
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort}/learners",
        tokens["lead_a"],
        json={"usernames": ["a1", "a2", "a3"]},
    )
    assert r.status_code == 200, r.text
    return svc, tokens, ids, cohort, now


def audit_rows(store) -> list:
    a = t.audit_log.c
    with store.connect() as conn:
        return conn.execute(t.audit_log.select().where(a.hub == store.hub)).all()


def cohort_member_rows(store) -> list:
    cm = t.cohort_members.c
    with store.connect() as conn:
        return sorted(conn.execute(select(cm.member_id).where(cm.hub == store.hub)).scalars())


# -- the audit log names members ----------------------------------------------------------------


@pytest.mark.parametrize(
    "remove", [["a1"], ["someone@example.org"], ["free text, anything"], ["x" * 64]]
)
async def test_removing_by_username_or_free_text_is_refused(hub, remove):
    svc, tokens, ids, cohort, _ = hub
    before_audit, before_members = audit_rows(svc.store), cohort_member_rows(svc.store)
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort}/learners",
        tokens["lead_a"],
        json={"remove": [ids["a2"], *remove]},
    )
    assert r.status_code == 400, r.text
    assert "member id" in r.json()["message"]
    # nothing removed, nothing audited: not even the valid id of the same request
    assert audit_rows(svc.store) == before_audit
    assert cohort_member_rows(svc.store) == before_members
    # the refusal is translated
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort}/learners",
        tokens["lead_a"],
        json={"remove": remove},
        headers={"Accept-Language": "es"},
    )
    assert r.status_code == 400
    assert "member id" not in r.json()["message"]


async def test_free_text_is_refused_from_forms_and_sign_off_too(hub):
    svc, tokens, ids, cohort, _ = hub
    before = audit_rows(svc.store)
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort}/learners",
        tokens["lead_a"],
        data={"remove": "someone@example.org"},
        allow_redirects=False,
    )
    assert r.status_code == 400
    assert r.headers["Content-Type"].startswith("text/html")
    assert "member id" in r.text
    for learner in ("a1", "someone@example.org", ""):
        r = await svc.request(
            "post",
            f"training/cohorts/{cohort}/signoff",
            tokens["lead_a"],
            json={"learner": learner, "lesson": "basics", "episode": "one"},
        )
        assert r.status_code == 400, learner
        assert r.json()["message"] == "not a learner of this cohort"
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort}/signoff",
        tokens["lead_a"],
        json={"learner": "a1", "lesson": "basics", "episode": "one"},
        headers={"Accept-Language": "pt"},
    )
    assert r.status_code == 400 and r.json()["message"] == "não é participante desta turma"
    assert audit_rows(svc.store) == before
    assert cohort_member_rows(svc.store) == sorted(ids[n] for n in ("a1", "a2", "a3"))


async def test_removing_by_member_id_is_audited_with_the_id(hub):
    svc, tokens, ids, cohort, _ = hub
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort}/learners",
        tokens["lead_a"],
        json={"remove": [ids["a2"]]},
    )
    assert r.status_code == 200, r.text
    removed = [row for row in audit_rows(svc.store) if row.action == "remove_learners"]
    assert [row.subject for row in removed] == [ids["a2"]]


async def test_audit_refuses_subjects_that_are_not_members(hub):
    svc, tokens, ids, cohort, _ = hub
    before = audit_rows(svc.store)
    access = Access(ids["a1"], "view_cohort", "a", f"cohort {cohort}")
    for subjects in (["a1"], [ids["a1"], "not-a-member"], ["a" * 64]):
        with pytest.raises(AuditError):
            audit(svc.store, access, subjects)
    assert audit_rows(svc.store) == before
    # a member id, and no subject at all, are written
    audit(svc.store, access, [ids["a1"]])
    audit(svc.store, Access(ids["a1"], "erase", None), [])
    assert [row.subject for row in audit_rows(svc.store)[len(before) :]] == [ids["a1"], None]


# -- cohorts follow communities -------------------------------------------------------------------


async def test_a_learner_who_moved_leaves_the_cohort(hub, make_event):
    svc, tokens, ids, cohort, now = hub
    # a3 joins community b: their latest activity is there
    act(svc.store, make_event, "a3", "b", now + timedelta(seconds=30))
    lead = tokens["lead_a"]
    data = (await svc.request("get", f"training/cohorts/{cohort}.json", lead)).json()
    assert sorted(row["username"] for row in data["learners"]) == ["a1", "a2"]
    csv = (await svc.request("get", f"training/cohorts/{cohort}.csv", lead)).text
    learners = [line.split(",")[0] for line in csv.lstrip("\ufeff").splitlines()[1:]]
    assert sorted(learners) == ["a1", "a2"]
    page = (await svc.request("get", f"training/cohorts/{cohort}", lead)).text
    assert '<th scope="row">a2</th>' in page and '<th scope="row">a3</th>' not in page
    listing = (await svc.request("get", "training.json", lead)).json()
    assert [c["learners"] for c in listing["cohorts"]] == [2]
    # reading the cohort did not audit a read of a3
    reads = {
        row.subject for row in audit_rows(svc.store) if row.action.startswith(("view", "export"))
    }
    assert ids["a1"] in reads and ids["a3"] not in reads

    # a sign-off for them is refused, and does not move them back to a
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort}/signoff",
        lead,
        json={"learner": ids["a3"], "lesson": "basics", "episode": "one"},
    )
    assert r.status_code == 400, r.text
    m, e = t.members.c, t.events.c
    with svc.store.connect() as conn:
        community = (
            conn.execute(t.members.select().where(m.hub == svc.store.hub, m.member_id == ids["a3"]))
            .one()
            .community
        )
        signed = conn.execute(
            t.events.select().where(e.hub == svc.store.hub, e.schema == "episode_completed")
        ).all()
    assert community == "b"
    assert signed == []
    # a learner still in a is signed off as before
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort}/signoff",
        lead,
        json={"learner": ids["a1"], "lesson": "basics", "episode": "one"},
    )
    assert r.status_code == 200, r.text


# -- unknown communities are not found ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["adoption", "funnel", "usage", "month"])
async def test_unknown_community_is_404(hub, kind):
    svc, tokens, ids, cohort, _ = hub
    for token in (tokens["staff"], tokens["admin"]):
        r = await svc.request("get", f"reports/communities/nowhere/{kind}", token)
        assert r.status_code == 404
        assert r.headers["Content-Type"].startswith("text/html")
        assert "nowhere" in r.text
        for path in (
            f"reports/communities/nowhere/{kind}.json",
            f"reports/communities/nowhere/{kind}?format=json",
            f"reports/communities/nowhere/{kind}.csv",
        ):
            r = await svc.request("get", path, token)
            assert r.status_code == 404, path
            assert r.json()["status"] == 404
            assert "nowhere" in r.json()["message"]
        r = await svc.request(
            "get",
            f"reports/communities/nowhere/{kind}.json",
            token,
            headers={"Accept-Language": "fr"},
        )
        assert r.status_code == 404
        assert "No community" not in r.json()["message"]
    # known communities: with members, or configured though empty
    for name in ("a", "b", "planned", "default"):
        r = await svc.request("get", f"reports/communities/{name}/{kind}.json", tokens["admin"])
        assert r.status_code == 200, (name, r.text)
    # a token filtered to b learns nothing of other communities: 403 whether they exist or not
    for name in ("a", "nowhere"):
        r = await svc.request("get", f"reports/communities/{name}/{kind}.json", tokens["reports_b"])
        assert r.status_code == 403, name
