"""Every state-changing request of a logged-in browser needs the page's xsrf token.

For each POST route: with the login cookie but without ``_xsrf`` (or with a forged one) the
service answers 403 and the database is exactly as before; with the token of a page the
same request succeeds. Token-authenticated requests need no xsrf token (test_access_matrix).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from html import unescape

import pytest
from tornado.web import create_signed_value

from harness.rows import snapshot

# builds data relative to now: CI runs it again at 00:05 and 23:55 UTC
pytestmark = pytest.mark.clock

LEAD = "lead@andes.example.org"
ANA = "ana@andes.example.org"


def login_cookies(svc, token: str) -> dict[str, str]:
    """The cookie HubOAuth sets after a browser's OAuth login, holding ``token``."""
    service = svc.service
    secret = service.http_server.request_callback.settings["cookie_secret"]
    name = service.hub_auth.cookie_name
    return {name: create_signed_value(secret, name, token).decode("ascii")}


def event() -> dict:
    return {
        "id": str(uuid.uuid4()),
        "schema": "action",
        "version": 1,
        "time": datetime.now(timezone.utc).isoformat(),
        "payload": {"action": "cell_executed"},
    }


# route, the page whose forms post there, the body, form or JSON, and the status on success
ROUTES = {
    "me/steps": ("me", {"step": "run_code"}, "form", 303),
    "me/episodes": ("me", {"lesson": "hub-basics", "episode": "persistence"}, "form", 303),
    "me/consent": ("me", {"decision": "withdrawn"}, "form", 303),
    "me/erase": ("me/erase", {"confirm": "yes"}, "form", 200),
    "api/me/erase": ("me", {"confirm": True}, "json", 200),
    # made when the test runs (an event made at import could be "in the future" then)
    "api/events": ("me", lambda: {"events": [event()]}, "json", 200),
    "consortium/communities/andes/public-page": (
        "consortium/communities/andes/public-page",
        {"public": "yes"},
        "form",
        303,
    ),
    "training/": (
        "training/",
        {"name": "New cohort", "community": "andes", "lessons": "hub-basics"},
        "form",
        303,
    ),
    "training/cohorts/{cohort}": (
        "training/cohorts/{cohort}",
        {"name": "Renamed", "lessons": "hub-basics"},
        "form",
        303,
    ),
    "training/cohorts/{cohort}/learners": (
        "training/cohorts/{cohort}",
        {"usernames": "andes-2@example.org"},
        "form",
        303,
    ),
    "training/cohorts/{cohort}/signoff": (
        "training/cohorts/{cohort}",
        {"learner": "{learner}", "lesson": "hub-basics", "episode": "persistence"},
        "form",
        303,
    ),
}


@pytest.fixture
def catalyst_hub_roles():
    return [{"name": "lead-andes", "scopes": ["custom:catalyst:training!group=community-andes"]}]


@pytest.fixture
async def browser(catalyst_service):
    """The lead of andes (also a member with data), logged in with the cookie; a cohort."""
    svc = catalyst_service
    lead = svc.token(LEAD, groups=["community-andes"], roles=["lead-andes"])
    for name in ("andes-1@example.org", "andes-2@example.org"):
        svc.user(name, groups=["community-andes"])
        r = await svc.request("post", "api/events", svc.token(name), json={"events": [event()]})
        assert r.status_code == 200, r.text
    r = await svc.request("post", "api/events", lead, json={"events": [event()]})
    assert r.status_code == 200, r.text
    cohort = await svc.create_cohort(lead)
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort}/learners",
        lead,
        json={"usernames": ["andes-1@example.org"]},
    )
    assert r.status_code == 200, r.text
    values = {"cohort": cohort, "learner": svc.store.member_id("andes-1@example.org")}
    return svc, login_cookies(svc, lead), values


async def post(svc, path, cookies, body, kind, xsrf=None):
    kwargs = {"json": body} if kind == "json" else {"data": body}
    headers = {}
    if xsrf is not None:
        if kind == "json":
            headers["X-XSRFToken"] = xsrf
        else:
            kwargs["data"] = {**body, "_xsrf": xsrf}
    return await svc.request(
        "post", path, cookies=cookies, headers=headers, allow_redirects=False, **kwargs
    )


@pytest.mark.parametrize("route", ROUTES)
async def test_cookie_post_needs_the_xsrf_token(browser, route):
    svc, cookies, values = browser
    page, body, kind, success = ROUTES[route]
    path, page = route.format(**values), page.format(**values)
    body = body() if callable(body) else body
    body = {k: v.format(**values) if isinstance(v, str) else v for k, v in body.items()}

    # the page that holds the form: its xsrf field, and the matching cookie
    r = await svc.request("get", page, cookies=cookies)
    assert r.status_code == 200, r.text
    match = re.search(r'name="_xsrf" value="([^"]+)"', r.text)
    assert match, f"no xsrf field in {page}"
    xsrf = unescape(match.group(1))
    cookies = {**cookies, "_xsrf": r.cookies["_xsrf"]}

    before = snapshot(svc.store)
    for forged in (None, "forged", xsrf[:-4] + "abcd"):
        r = await post(svc, path, cookies, body, kind, xsrf=forged)
        assert r.status_code == 403, (route, forged, r.status_code, r.text)
        if kind == "json" or route.startswith("api/"):
            assert r.json()["status"] == 403
        else:
            assert r.headers["Content-Type"].startswith("text/html")
        assert snapshot(svc.store) == before, f"{route} changed the database without xsrf"

    r = await post(svc, path, cookies, body, kind, xsrf=xsrf)
    assert r.status_code == success, (route, r.status_code, r.text)
    assert snapshot(svc.store) != before, f"{route} changed nothing"


async def test_a_token_needs_no_xsrf_token(browser):
    """The same POST with a token instead of the cookie (scripts, the server extension)."""
    svc, cookies, values = browser
    token = svc.token(ANA, groups=["community-andes"])
    r = await svc.request(
        "post", "me/steps", token, data={"step": "run_code"}, allow_redirects=False
    )
    assert r.status_code == 303, r.text


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("authorization", ["x", "token not-a-token", "Bearer ", "token"])
async def test_an_authorization_header_does_not_excuse_a_cookie_post(browser, route, authorization):
    """Only a request authenticated by its token skips the xsrf check: a cookie's request
    with any other Authorization header (a wrong token, a bare word) is still refused."""
    svc, cookies, values = browser
    _, body, kind, _ = ROUTES[route]
    path = route.format(**values)
    body = body() if callable(body) else body
    body = {k: v.format(**values) if isinstance(v, str) else v for k, v in body.items()}
    kwargs = {"json": body} if kind == "json" else {"data": body}
    before = snapshot(svc.store)
    r = await svc.request(
        "post",
        path,
        cookies=cookies,
        headers={"Authorization": authorization},
        allow_redirects=False,
        **kwargs,
    )
    assert r.status_code == 403, (route, authorization, r.status_code, r.text[:300])
    assert snapshot(svc.store) == before, f"{route} changed the database without xsrf"
