"""The service's log names nobody and shows no token: a workload with logins, errors, tokens
in URLs and usernames in requests, then every line the service wrote is scanned.

Usernames are often email addresses; logs travel to places the identity table never goes.
The service's output is written to a file of its own (the hub's log, which JupyterHub
writes, is JupyterHub's business), at the service's default level (INFO).
"""

from __future__ import annotations

import uuid
from urllib.parse import quote, quote_plus

import pytest
import requests

from harness.realhub import RealHub

pytestmark = pytest.mark.e2e

ANA, KOFI, LEAD = "ana.souza@uni.example.br", "kofi", "lead.andes@uni.example.br"
OUTSIDER, GUEST = "outsider@elsewhere.example.org", "guest-zeynep"
USERS = (ANA, KOFI, LEAD, OUTSIDER, GUEST)


def forms(text: str) -> set[str]:
    """``text`` as it could appear in a log line: as written, lowercased, URL-encoded."""
    return {text, text.lower(), quote(text, safe=""), quote_plus(text), quote(text)}


@pytest.fixture
def hub(tmp_path):
    service_log = tmp_path / "service.log"
    hub = RealHub(
        tmp_path / "hub",
        users={name: uuid.uuid4().hex for name in USERS},
        groups={
            "community-andes": [ANA, LEAD],
            "community-sahel": [KOFI],
            "leads-andes": [LEAD],
        },
        # the service's output to a file of its own
        extra_hub_config=(
            "c.JupyterHub.services[0]['command'] = "
            f"['/bin/sh', '-c', 'exec \"$@\" >> {service_log} 2>&1', 'sh', "
            "*c.JupyterHub.services[0]['command']]\n"
        ),
    )
    hub.service_log = service_log
    hub.start()
    yield hub
    hub.stop()


def browser_login(hub: RealHub, username: str) -> requests.Session:
    """Log in at the hub and open the service's page: HubOAuth's login, as a browser does."""
    session = requests.Session()
    session.get(hub.url + "hub/login")
    session.post(
        hub.url + "hub/login",
        data={
            "username": username,
            "password": hub.users[username],
            "_xsrf": session.cookies.get("_xsrf"),
        },
    )
    r = session.get(hub.service_url + "me")
    assert r.status_code == 200, r.text[:300]
    return session


def test_no_username_or_token_in_the_service_log(hub):
    tokens = {name: hub.token(name) for name in (ANA, KOFI, LEAD)}
    # a token of a user that may not use the service: HubOAuth refuses it, naming the user
    for name in (OUTSIDER, GUEST):
        hub.api("post", f"users/{name}")
        r = hub.api("post", f"users/{name}/tokens", json={"scopes": ["read:users:name!user"]})
        assert r.status_code == 201, r.text
        tokens[name] = r.json()["token"]

    browser_login(hub, ANA)
    # a token in the URL, as links and scripts sometimes carry it (refused or not, the
    # request is logged)
    r = requests.get(f"{hub.service_url}api/me?token={tokens[KOFI]}", timeout=30)
    assert r.status_code in (200, 401), r.text
    r = requests.get(f"{hub.service_url}me?token={tokens[ANA]}&lang=es", timeout=30)
    assert r.status_code in (200, 302, 401)
    # errors of every kind: no such page (with a username in it), bad JSON, no token,
    # a wrong token, a token without access, a lead naming people who are not learners
    assert hub.service_get(quote(ANA), tokens[ANA]).status_code == 404
    assert hub.service_get(f"reports/communities/{quote(KOFI)}/x", tokens[KOFI]).status_code == 404
    r = hub.service_post(f"api/events?token={tokens[ANA]}", tokens[ANA], data=b"{not json")
    assert r.status_code == 400
    assert requests.get(hub.service_url + "api/me", timeout=30).status_code == 401
    assert hub.service_get("api/me", "wrong-" + tokens[KOFI]).status_code in (401, 403)
    assert hub.service_get("api/me", tokens[OUTSIDER]).status_code == 403
    assert hub.service_get("me", tokens[GUEST]).status_code == 403
    assert hub.service_get("reports/overview.json", tokens[KOFI]).status_code == 403
    r = hub.service_post(
        "training/",
        tokens[LEAD],
        json={"community": "andes", "name": "Taller", "lessons": ["hub-basics"]},
    )
    assert r.status_code == 201, r.text
    cohort = r.json()["cohort"]
    r = hub.service_post(
        f"training/cohorts/{cohort}/learners", tokens[LEAD], json={"usernames": [KOFI, OUTSIDER]}
    )
    assert r.status_code == 400
    r = hub.service_post(
        f"training/cohorts/{cohort}/learners", tokens[LEAD], json={"usernames": [ANA]}
    )
    assert r.status_code == 200, r.text
    hub.stop()  # the service flushes and exits

    log = hub.service_log.read_text(errors="replace")
    # the log has the workload's lines, so a name in them would be found
    assert "catalyst service listening" in log
    assert " 404 " in log or "404 GET" in log
    assert "Logged-in user member " in log
    found = [
        (what, line)
        for line in log.splitlines()
        for what in (*USERS, *tokens.values())
        if any(form.lower() in line.lower() for form in forms(what))
    ]
    assert not found, "\n".join(f"{what!r} in: {line}" for what, line in found)
