"""The page budgets of a slow link, in bytes (deterministic, unlike times): the researcher page
(an established member's, and a newcomer's with the recording notice, as a logged-in browser
gets it) and a community's adoption report (the heaviest staff page) with every subresource
they load, counted by the function ``make bench`` uses, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import re

import pytest
import requests
from tornado.web import create_signed_value

from benchmarks.page_weight import RESEARCHER_BUDGET, STAFF_BUDGET, sent, transfer_bytes
from catalyst_hub.demo import demo_events
from catalyst_hub.events import MEMBER
from catalyst_hub.seed import sender_kind
from catalyst_hub.timeutil import utcnow


@pytest.fixture
def catalyst_hub_roles():
    return [{"name": "catalyst-admin", "scopes": ["custom:catalyst:admin"]}]


async def seeded(catalyst_service, name: str) -> str:
    """``name``'s token, after sending the demo's month of their activity."""
    token = catalyst_service.token(name)
    events = demo_events(name, reached=7, rng=random.Random(1), now=utcnow())
    events = [e for e in events if sender_kind(e["schema"], e["payload"]) == MEMBER]
    r = await catalyst_service.request("post", "api/events", token, json={"events": events})
    assert r.status_code == 200, r.text
    return token


async def weigh(catalyst_service, token: str, path: str, encoding: str = "gzip") -> dict:
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    # in a thread: the service answers in this test's event loop
    return await asyncio.to_thread(
        transfer_bytes, session.get, catalyst_service.url(path), encoding
    )


def browser_session(catalyst_service, token: str) -> requests.Session:
    """A browser after its OAuth login: the hub's login cookie, and the xsrf cookie the
    login's callback sets (got here from a first page, as a browser holds it by then)."""
    service = catalyst_service.service
    secret = service.http_server.request_callback.settings["cookie_secret"]
    name = service.hub_auth.cookie_name
    session = requests.Session()
    session.cookies.set(name, create_signed_value(secret, name, token).decode("ascii"))
    r = session.get(catalyst_service.url("privacy"))
    assert r.status_code == 200 and "_xsrf" in session.cookies, r.headers
    return session


async def test_researcher_page_is_under_its_budget_with_its_style_sheet(catalyst_service):
    token = await seeded(catalyst_service, "ana@uni.example.org")
    sizes = await weigh(catalyst_service, token, "me")
    # the document and its style sheet, which is what makes the count a page's
    assert [re.sub(r"\?.*", "", url.rsplit("/", 1)[1]) for url in sizes] == ["me", "catalyst.css"]
    assert sum(sizes.values()) < RESEARCHER_BUDGET, sizes
    plain = await weigh(catalyst_service, token, "me", encoding="identity")
    assert sum(plain.values()) > sum(sizes.values())


@pytest.mark.parametrize("language", ["en", "es", "pt", "fr"])
async def test_a_newcomers_page_with_the_notice_is_under_its_budget(catalyst_service, language):
    """The notice in full, its form and every step's: as a logged-in browser loads it, in
    each of the four languages (the notice is longer in some)."""
    token = catalyst_service.token("nina@uni.example.org", consent=None)
    session = await asyncio.to_thread(browser_session, catalyst_service, token)
    session.headers["Accept-Language"] = language
    url = catalyst_service.url("me")
    sizes = await asyncio.to_thread(transfer_bytes, session.get, url)
    page = await asyncio.to_thread(session.get, url)
    assert 'id="consent-notice"' in page.text and 'id="consent-accept"' in page.text
    assert 'name="_xsrf" value="' in page.text  # its forms work
    assert f'lang="{language}"' in page.text
    assert sum(sizes.values()) < RESEARCHER_BUDGET, sizes


async def test_what_serves_nobody_is_not_sent(catalyst_service):
    """No ETag on a page no cache keeps, no server name, no xsrf cookie for a token (which
    needs none); a versioned style sheet cached for good, with nothing to revalidate."""
    token = catalyst_service.token("ana@uni.example.org")

    def headers(url: str, **kwargs) -> dict:
        r = requests.get(url, stream=True, **kwargs)
        assert r.status_code == 200
        sent(r)
        return r.headers

    page = await asyncio.to_thread(
        headers, catalyst_service.url("me"), headers={"Authorization": f"token {token}"}
    )
    assert page["Cache-Control"] == "no-store"
    assert "Etag" not in page and "Server" not in page and "Set-Cookie" not in page, page
    assert page["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in page["Content-Security-Policy"]
    sizes = await weigh(catalyst_service, token, "me")
    css = await asyncio.to_thread(headers, next(url for url in sizes if "catalyst.css" in url))
    for name in ("Etag", "Last-Modified", "Expires", "Server"):
        assert name not in css, css
    assert css["X-Content-Type-Options"] == "nosniff" and css["Content-Type"] == "text/css"


async def test_staff_report_is_under_its_budget(catalyst_service):
    await seeded(catalyst_service, "ana@uni.example.org")
    admin = catalyst_service.token("champion@uni.example.org", roles=["catalyst-admin"])
    sizes = await weigh(catalyst_service, admin, "reports/communities/default/adoption")
    assert len(sizes) == 3, sizes  # the report, catalyst.css and reports.css
    assert sum(sizes.values()) < STAFF_BUDGET, sizes


async def test_style_sheets_are_versioned_and_cached_for_long(catalyst_service):
    token = catalyst_service.token("ana@uni.example.org")
    sizes = await weigh(catalyst_service, token, "me")
    css = next(url for url in sizes if "catalyst.css" in url)
    # a versioned URL, so a browser need not ask again on the next page (a round trip of
    # the link's latency), and a new version is fetched at once
    assert re.search(r"\?v=[0-9a-f]{8,}$", css), css
    r = await asyncio.to_thread(requests.get, css)
    assert r.status_code == 200
    assert re.search(r"max-age=(\d+)", r.headers["Cache-Control"])
    assert int(re.search(r"max-age=(\d+)", r.headers["Cache-Control"]).group(1)) >= 86400 * 365


def test_style_sheets_are_sent_minified_and_mean_the_same():
    """Comments and the white space CSS ignores go; what a rule says stays (a space before a
    ``:`` is a descendant combinator, so it stays)."""
    from catalyst_hub.service.base import minify_css

    assert (
        minify_css("/* why */\na :focus,\nb > i {\n  color: red;\n  margin: 0 auto;\n}\n")
        == "a :focus,b>i{color:red;margin:0 auto}"
    )


async def test_the_style_sheet_served_is_the_minified_file(catalyst_service):
    from pathlib import Path

    from catalyst_hub.service import base

    token = catalyst_service.token("ana@uni.example.org")
    sizes = await weigh(catalyst_service, token, "me")
    url = next(url for url in sizes if "catalyst.css" in url)
    r = await asyncio.to_thread(requests.get, url, headers={"Accept-Encoding": "identity"})
    source = Path(base.__file__).parent / "static" / "catalyst.css"
    assert r.text == base.minify_css(source.read_text())
    assert int(r.headers["Content-Length"]) == len(r.content) < source.stat().st_size
