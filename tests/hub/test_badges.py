"""Badges on a MockHub (SQLite and PostgreSQL): earning, claiming, downloads, the public
verifier and status list, revocation by an admin, and who may do what."""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
from sqlalchemy import select
from traitlets import TraitError

from catalyst_hub.badges import credentials as cr
from catalyst_hub.service.app import badge_public_url
from catalyst_hub.store import tables as t
from catalyst_hub.timeutil import isoformat, utcnow

pytestmark = pytest.mark.postgres

EPISODES = ["first-notebook", "data-files", "persistence"]


@pytest.fixture
def catalyst_hub_roles() -> list[dict]:
    return [
        {"name": "catalyst-admin-test", "scopes": ["custom:catalyst:admin"]},
        {"name": "lead-andes-test", "scopes": ["custom:catalyst:training!group=community-andes"]},
    ]


async def earn(hub, token, episodes=EPISODES):
    events = [
        {
            "id": str(uuid.uuid4()),
            "schema": "episode_completed",
            "version": 1,
            "time": isoformat(utcnow()),
            "payload": {"lesson": "hub-basics", "episode": episode, "source": "self"},
        }
        for episode in episodes
    ]
    r = await hub.request("post", "api/events", token, json={"events": events})
    assert r.status_code == 200, r.text


def badge_ids(html: str) -> dict[str, str]:
    """{badge id: claimed yes/no} of the me page."""
    return dict(
        re.findall(r'data-badge-id="([^"]+)" data-lesson-id="[^"]+" data-claimed="(\w+)"', html)
    )


async def claimed_badge(hub, name="ana@example.org", identity=None):
    token = hub.token(name, groups=["community-andes"])
    await earn(hub, token)
    r = await hub.request("get", "me", token)
    [(badge_id, claimed)] = badge_ids(r.text).items()
    assert claimed == "no"
    r = await claim(hub, token, badge_id, identity or {"identity": "email", "email": name})
    assert r.status_code == 303, r.text
    return token, badge_id


async def claim(hub, token, badge_id: str, data: dict):
    """The learner's claim form, posted."""
    return await hub.request(
        "post", f"me/badges/{badge_id}/claim", token, data=data, allow_redirects=False
    )


async def test_earn_claim_download_and_verify(catalyst_service):
    hub = catalyst_service
    token = hub.token("ana@example.org", groups=["community-andes"])
    await earn(hub, token, EPISODES[:2])
    r = await hub.request("get", "me", token)
    assert badge_ids(r.text) == {}
    await earn(hub, token, EPISODES[2:])
    r = await hub.request("get", "me", token)
    [(badge_id, claimed)] = badge_ids(r.text).items()
    assert claimed == "no" and 'id="badges"' in r.text
    # unclaimed: nothing to download yet, and no public page
    r = await hub.request("get", f"me/badges/{badge_id}/credential.json", token)
    assert r.status_code == 409
    assert (await hub.request("get", f"badges/{badge_id}")).status_code == 404
    r = await hub.request("get", f"me/badges/{badge_id}/claim", token)
    assert r.status_code == 200 and 'id="claim-form"' in r.text
    [listed] = (await hub.request("get", "api/me", token)).json()["badges"]
    assert (listed["id"], listed["lesson"], listed["claimed"]) == (badge_id, "hub-basics", None)
    assert listed["claim_url"].endswith(f"/me/badges/{badge_id}/claim")
    assert listed["page_url"].endswith(f"/me#badge-{badge_id}")

    r = await hub.request(
        "post",
        f"me/badges/{badge_id}/claim",
        token,
        data={"identity": "email", "email": "ana@example.org"},
        allow_redirects=False,
    )
    assert r.status_code == 303 and "status=badge-claimed" in r.headers["Location"]
    r = await hub.request("get", "me", token)
    assert badge_ids(r.text) == {badge_id: "yes"}

    r = await hub.request("get", f"me/badges/{badge_id}/credential.json", token)
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    credential = r.json()
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert cr.email_matches(credential["credentialSubject"]["identifier"][0], "ana@example.org")
    assert "ana@example.org" not in r.text
    assert credential["proof"]["cryptosuite"] == "eddsa-rdfc-2022"

    # the public verifier, no login: the JSON and the baked image both verify
    r = await hub.request("post", "api/badges/verify", json=credential)
    assert r.status_code == 200, r.text
    assert r.json()["verified"] is True and r.json()["checks"]["status"] is True
    r = await hub.request("get", f"me/badges/{badge_id}/badge.svg", token)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/svg+xml")
    assert json.loads(cr.unbake_svg(r.text)) == credential
    r = await hub.request(
        "post", "api/badges/verify", data=r.text.encode(), headers={"Content-Type": "image/svg+xml"}
    )
    assert r.json()["verified"] is True
    # the public verification link is the credential's id
    r = await hub.request("get", f"badges/{badge_id}")
    assert r.status_code == 200 and 'data-verified="yes"' in r.text
    assert 'id="credential-path"' not in r.text  # a lesson's badge, not a path's
    assert credential["id"].endswith(f"/badges/{badge_id}")
    r = await hub.request("get", f"badges/{badge_id}?format=json")
    assert r.json() == credential
    # the issuer profile names the key that signed it
    issuer = (await hub.request("get", "badges/issuer")).json()
    assert credential["proof"]["verificationMethod"] in issuer["assertionMethod"]
    assert issuer["id"] == credential["issuer"]["id"]


async def test_verifier_says_why(catalyst_service):
    hub = catalyst_service
    token, badge_id = await claimed_badge(hub)
    credential = (await hub.request("get", f"me/badges/{badge_id}/credential.json", token)).json()
    tampered = json.loads(json.dumps(credential))
    tampered["credentialSubject"]["achievement"]["name"] = "Grand master"
    r = await hub.request("post", "api/badges/verify", json=tampered)
    assert r.status_code == 200
    assert (r.json()["verified"], r.json()["reason"]) == (False, "signature")
    assert r.json()["message"]
    r = await hub.request(
        "post", "api/badges/verify", json=tampered, headers={"Accept-Language": "es"}
    )
    assert "firma" in r.json()["message"]
    # malformed input: 4xx with a JSON message
    for body, kind in (
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b"<svg/>", "image/svg+xml"),
    ):
        r = await hub.request(
            "post", "api/badges/verify", data=body, headers={"Content-Type": kind}
        )
        assert r.status_code == 400, body
        assert r.json()["message"]
    r = await hub.request("post", "api/badges/verify", data=b"x" * (300 * 1024))
    assert r.status_code == 413
    r = await hub.request("post", "api/badges/verify", json=[1, 2])
    assert (r.status_code, r.json()["reason"]) == (200, "malformed")
    # the page form
    r = await hub.request("post", "badges/verify", data={"credential": json.dumps(tampered)})
    assert r.status_code == 200 and 'data-reason="signature"' in r.text
    r = await hub.request("get", "badges/verify")
    assert r.status_code == 200


async def test_admin_revokes_and_the_badge_fails(catalyst_service):
    hub = catalyst_service
    token, badge_id = await claimed_badge(hub)
    credential = (await hub.request("get", f"me/badges/{badge_id}/credential.json", token)).json()
    lead = hub.token("lead@example.org", groups=["community-andes"])
    admin = hub.token("admin@example.org", roles=["catalyst-admin-test"])
    for who in (token, lead):
        r = await hub.request(
            "post", f"api/badges/{badge_id}/revoke", who, json={"reason": "mistake"}
        )
        assert r.status_code == 403, r.text
    r = await hub.request("post", f"api/badges/{badge_id}/revoke", admin, json={})
    assert r.status_code == 400 and r.json()["message"]
    r = await hub.request(
        "post", f"api/badges/{badge_id}/revoke", admin, json={"reason": "signed off by mistake"}
    )
    assert r.status_code == 200, r.text
    r = await hub.request("post", "api/badges/verify", json=credential)
    assert (r.json()["verified"], r.json()["reason"]) == (False, "revoked")
    status = (await hub.request("get", "badges/status/1")).json()
    assert status["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    index = int(credential["credentialStatus"]["statusListIndex"])
    assert cr.status_bit(cr.decode_status_list(status["credentialSubject"]["encodedList"]), index)
    r = await hub.request("get", "me", token)
    assert "Revoked by the hub" in r.text
    r = await hub.request(
        "post",
        "api/badges/00000000-0000-4000-8000-000000000000/revoke",
        admin,
        json={"reason": "x"},
    )
    assert r.status_code == 404


async def test_only_the_owner_claims_and_downloads(catalyst_service):
    hub = catalyst_service
    token, badge_id = await claimed_badge(hub)
    other = hub.token("ben@example.org", groups=["community-andes"])
    for method, path, kwargs in (
        (
            "post",
            f"me/badges/{badge_id}/claim",
            {"data": {"identity": "url", "url": "https://x.example"}},
        ),
        ("get", f"me/badges/{badge_id}/claim", {}),
        ("get", f"me/badges/{badge_id}/credential.json", {}),
        ("get", f"me/badges/{badge_id}/badge.svg", {}),
    ):
        r = await hub.request(method, path, other, **kwargs)
        assert r.status_code == 404, (path, r.status_code)
        r = await hub.request(method, path, allow_redirects=False, **kwargs)  # no login
        assert r.status_code in (302, 401, 403), (path, r.status_code)
    for data in (
        {"identity": "email", "email": "not an email"},
        {"identity": "url", "url": "javascript:x"},
        {},
    ):
        r = await hub.request("post", f"me/badges/{badge_id}/claim", token, data=data)
        assert r.status_code == 400, data


async def test_claim_with_a_profile_url(catalyst_service):
    hub = catalyst_service
    token, badge_id = await claimed_badge(
        hub, "caro@example.org", {"identity": "url", "url": "https://orcid.org/0000-0002-1825-0097"}
    )
    credential = (await hub.request("get", f"me/badges/{badge_id}/credential.json", token)).json()
    assert credential["credentialSubject"]["id"] == "https://orcid.org/0000-0002-1825-0097"
    assert "identifier" not in credential["credentialSubject"]


async def test_no_badge_when_opted_out_and_erasure_removes_them(catalyst_service):
    hub = catalyst_service
    out = hub.token("dan@example.org", groups=["community-andes"])
    await earn(hub, out)
    hub.decide("dan@example.org", "withdrawn", ["community-andes"])
    r = await hub.request("get", "me", out)
    assert badge_ids(r.text) == {}

    token = hub.token("eve@example.org", groups=["community-andes"])
    await earn(hub, token)
    r = await hub.request("get", "me", token)
    [badge_id] = badge_ids(r.text)
    r = await hub.request("post", "api/me/erase", token, json={"confirm": True})
    assert r.status_code == 200, r.text
    r = await hub.request("get", f"me/badges/{badge_id}/credential.json", token)
    assert r.status_code in (403, 404)
    r = await hub.request("get", "me", token)
    assert badge_ids(r.text) == {}


async def test_public_documents(catalyst_service):
    hub = catalyst_service
    r = await hub.request("get", "badges/achievements/hub-basics")
    assert r.status_code == 200 and r.json()["type"] == ["Achievement"]
    r = await hub.request("get", "badges/achievements/hub-basics.svg")
    assert r.status_code == 200 and r.text.startswith("<svg")
    assert (await hub.request("get", "badges/achievements/nope")).status_code == 404
    r = await hub.request("get", "badges/issuer")
    assert r.json()["verificationMethod"][0]["type"] == "Multikey"


async def cohort_with(hub, learner: str, lessons: list[str]) -> tuple[str, int, str]:
    """A lead of andes, their new cohort of ``lessons`` with the learner, the learner's id."""
    lead = hub.token("lead@example.org", groups=["community-andes"], roles=["lead-andes-test"])
    cohort = await hub.create_cohort(lead, lessons=lessons)
    r = await hub.request(
        "post", f"training/cohorts/{cohort}/learners", lead, json={"usernames": [learner]}
    )
    assert r.status_code == 200, r.text
    return lead, cohort, hub.store.member_id(learner)


async def sign_off(hub, lead, cohort, learner: str, episode: str) -> None:
    """The lead signs off an episode of "Sharing your work" for the learner."""
    r = await hub.request(
        "post",
        f"training/cohorts/{cohort}/signoff",
        lead,
        json={"learner": learner, "lesson": "sharing", "episode": episode},
    )
    assert r.status_code == 200, r.text


async def badge_cell(hub, lead, cohort, column: str) -> tuple[str, str]:
    """The state of the cohort page's badge cell in ``column`` (its attribute), and the page."""
    r = await hub.request("get", f"training/cohorts/{cohort}", lead)
    assert r.status_code == 200, r.text
    return re.search(rf'{column} data-badge-state="(\w+)"', r.text).group(1), r.text


async def test_lead_sign_off_earns_the_badge_and_the_cohort_shows_it(catalyst_service):
    hub = catalyst_service
    learner = hub.token("fay@example.org", groups=["community-andes"])
    await hub.request("get", "me", learner)  # the learner is a member of andes
    lead, cohort, fay = await cohort_with(hub, "fay@example.org", ["sharing", "hub-basics"])

    async def cell():
        state, _ = await badge_cell(hub, lead, cohort, 'data-badge-lesson="sharing"')
        return state

    assert await cell() == "none"
    for episode in ("git-basics", "publish"):
        await sign_off(hub, lead, cohort, fay, episode)
    assert await cell() == "earned"
    r = await hub.request("get", "me", learner)
    [badge_id] = badge_ids(r.text)
    r = await hub.request(
        "post",
        f"me/badges/{badge_id}/claim",
        learner,
        data={"identity": "email", "email": "fay@example.org"},
        allow_redirects=False,
    )
    assert r.status_code == 303
    assert await cell() == "claimed"
    # the count per community on the training page
    r = await hub.request("get", "training/?format=json", lead)
    assert r.status_code == 200, r.text
    assert r.json()["badges"] == [
        {
            "community": "andes",
            "lesson": "sharing",
            "path": None,
            "issued": 1,
            "claimed": 1,
            "revoked": 0,
        }
    ]
    r = await hub.request("get", "training/", lead)
    assert 'id="table-badge-counts"' in r.text


def path_badges(html: str) -> dict[str, str]:
    """{badge id: claimed yes/no} of the training paths' badges on the me page."""
    return dict(
        re.findall(r'data-badge-id="([^"]+)" data-path-id="champions" data-claimed="(\w+)"', html)
    )


async def test_a_whole_path_earns_its_badge(catalyst_service):
    """The learner's own episodes (the ingest API) and a lead's last sign-off complete the
    champions path: its badge is issued then, listed, claimed, verified and revoked with the
    lesson's badge it rests on."""
    hub = catalyst_service
    learner = hub.token("gus@example.org", groups=["community-andes"])
    await earn(hub, learner)  # hub-basics, every episode
    r = await hub.request("get", "me", learner)
    assert len(badge_ids(r.text)) == 1 and path_badges(r.text) == {}
    lead, cohort, gus = await cohort_with(hub, "gus@example.org", ["sharing"])

    async def cell():
        state, html = await badge_cell(hub, lead, cohort, 'data-badge-path="champions"')
        # a cohort of one lesson of the path shows the path's badge, labelled as a path
        assert re.search(r'<th scope="col" data-badge-path="champions">Hub Champion <span', html)
        return state

    await sign_off(hub, lead, cohort, gus, "git-basics")
    assert await cell() == "none"
    await sign_off(
        hub, lead, cohort, gus, "publish"
    )  # the last requirement: issued at the sign-off
    assert await cell() == "earned"

    badges = (await hub.request("get", "api/me", learner)).json()["badges"]
    listed = {b["lesson"] or b["path"]: b for b in badges}
    assert [b["kind"] for b in badges].count("path") == 1 and len(listed) == 3
    path = listed["champions"]
    assert path["kind"] == "path" and listed["sharing"]["kind"] == "lesson"
    assert (path["lesson"], path["path"], path["name"]) == (None, "champions", "Hub Champion")
    assert path["path_title"] == "Hub Champion training"
    assert path["claim_url"].endswith(f"/me/badges/{path['id']}/claim")
    r = await hub.request("get", "me", learner)
    assert path_badges(r.text) == {path["id"]: "no"} and "training path" in r.text
    r = await claim(hub, learner, path["id"], {"identity": "email", "email": "gus@example.org"})
    assert r.status_code == 303, r.text
    assert await cell() == "claimed"
    r = await hub.request("get", f"me/badges/{path['id']}/credential.json", learner)
    assert 'filename="badge-path-champions.json"' in r.headers["Content-Disposition"]
    credential = r.json()
    achievement = credential["credentialSubject"]["achievement"]
    assert achievement["achievementType"] == "LearningProgram"
    assert achievement["id"].endswith("/badges/achievements/paths/champions")
    r = await hub.request("post", "api/badges/verify", json=credential)
    assert (r.status_code, r.json()["verified"]) == (200, True), r.text
    assert r.json()["credential"]["achievement"] == "Hub Champion"
    assert r.json()["credential"]["achievementType"] == "LearningProgram"
    # its public verification page says it is a path
    r = await hub.request("get", f"badges/{path['id']}")
    assert 'data-verified="yes"' in r.text and 'id="credential-path"' in r.text
    # its Achievement and image are public, at addresses no lesson's badge has
    r = await hub.request("get", "badges/achievements/paths/champions")
    assert r.status_code == 200 and r.json()["achievementType"] == "LearningProgram"
    assert r.json()["id"] == achievement["id"]
    r = await hub.request("get", "badges/achievements/paths/champions.svg")
    assert r.status_code == 200 and r.text.startswith("<svg")
    for missing in ("paths/nope", "paths/hub-basics", "champions"):
        assert (await hub.request("get", f"badges/achievements/{missing}")).status_code == 404
    # counted per community like a lesson's badge
    r = await hub.request("get", "training/?format=json", lead)
    assert {"community": "andes", "lesson": None, "path": "champions", "issued": 1, "claimed": 1, "revoked": 0} in r.json()["badges"]  # fmt: skip
    r = await hub.request("get", "training/", lead)
    assert 'data-badge-path="champions"' in r.text

    # the sign-off was a mistake: revoking the lesson's badge revokes the path's
    admin = hub.token("admin@example.org", roles=["catalyst-admin-test"])
    r = await hub.request(
        "post", f"api/badges/{listed['sharing']['id']}/revoke", admin, json={"reason": "mistake"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["also_revoked"] == [path["id"]]
    r = await hub.request("post", "api/badges/verify", json=credential)
    assert (r.json()["verified"], r.json()["reason"]) == (False, "revoked")
    assert await cell() == "revoked"


@pytest.mark.parametrize("catalyst_config", [{"CatalystService": {"badge_base_url": ""}}])
async def test_without_a_public_url_no_badge_is_issued_and_the_log_says_what_to_set(
    catalyst_service, catalyst_config
):
    """No badge_base_url and no public URL from JupyterHub: the service issues nothing
    rather than ids taken from whatever address a request came through."""
    hub = catalyst_service
    assert hub.service.badge_public_url == ""
    token = hub.token("ana@example.org", groups=["community-andes"])
    await earn(hub, token)
    r = await hub.request("get", "me", token)
    assert r.status_code == 200 and badge_ids(r.text) == {}
    r = await hub.request("get", "api/me", token)
    assert r.status_code == 200 and "badges" not in r.json()
    assert hub.store is not None
    with hub.store.connect() as conn:
        badges = select(t.badges.c.id).where(t.badges.c.hub == hub.store.hub)
        assert conn.execute(badges).all() == []
    r = await hub.request("get", "badges/issuer")
    assert r.status_code == 503 and "public address" in r.json()["message"]


def test_the_public_url_comes_from_the_config_or_from_jupyterhub(caplog):
    log = logging.getLogger("test-badges")
    prefix = "/services/catalyst/"
    ours = "https://hub.example.org/services/catalyst/"
    # JupyterHub gives a managed service its public URL when c.JupyterHub.public_url is set
    assert badge_public_url("", prefix, {"JUPYTERHUB_PUBLIC_URL": ours}, log) == ours
    configured = "https://other.example.org/services/catalyst/"
    assert badge_public_url(configured, prefix, {"JUPYTERHUB_PUBLIC_URL": ours}, log) == configured
    # JupyterHub sets it empty when nothing configures it
    assert badge_public_url("", prefix, {"JUPYTERHUB_PUBLIC_URL": ""}, log) == ""
    assert badge_public_url("", prefix, {}, log) == ""
    # a single-user server's own public URL (a shell in a server) is not the service's
    with caplog.at_level(logging.WARNING, logger="test-badges"):
        mine = {"JUPYTERHUB_PUBLIC_URL": "https://hub.example.org/user/ana/"}
        assert badge_public_url("", prefix, mine, log) == ""
    assert "not under this service's prefix" in caplog.text


def test_a_badge_base_url_must_be_absolute(tmp_path):
    from traitlets.config import Config

    from catalyst_hub.service.app import CatalystService

    def service(url: str) -> CatalystService:
        config = {"CatalystApp": {"secret_file": str(tmp_path / "secret")}}
        config["CatalystService"] = {"badge_base_url": url}
        return CatalystService(config=Config(config))

    assert service("https://hub.example.org/services/catalyst").badge_base_url == (
        "https://hub.example.org/services/catalyst/"
    )
    for wrong in ("hub.example.org/services/catalyst/", "/services/catalyst/"):
        with pytest.raises(TraitError, match="must be an absolute http"):
            service(wrong)


async def test_the_service_logs_what_to_set_without_a_public_url(monkeypatch, caplog, tmp_path):
    from traitlets.config import Config

    from catalyst_hub.service.app import CatalystService

    monkeypatch.delenv("JUPYTERHUB_PUBLIC_URL", raising=False)
    CatalystService.clear_instance()
    service = CatalystService(
        config=Config(
            {
                "CatalystApp": {
                    "secret_file": str(tmp_path / "secret"),
                    "db_url": f"sqlite:///{tmp_path / 'c.sqlite'}",
                },
                "CatalystService": {"collector_enabled": False},
            }
        )
    )
    service.log.propagate = True
    with caplog.at_level(logging.ERROR):
        service.init_badges()
    assert service.open_badges_issuer() is None
    assert "Open Badges are not issued" in caplog.text
    assert "c.JupyterHub.public_url" in caplog.text and "badge_base_url" in caplog.text
