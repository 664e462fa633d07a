"""No input turns into a 500: report parameters, addresses, bodies, first requests.

Every answer to bad input is a 4xx that says what is wrong (JSON for the API and exports, an
error page for pages), and nothing is written. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalyst_hub.i18n import gettext_for
from catalyst_hub.jsonlimits import MAX_DEPTH
from catalyst_hub.service.app import CatalystService
from catalyst_hub.service.base import MAX_FORM_BYTES
from catalyst_hub.timeutil import utcnow
from harness.rows import snapshot

ADMIN = "catalyst-admin"
MAX_BODY = CatalystService.max_body_bytes.default_value
#: Every report route that reads a period; each also answers as JSON.
PERIOD_ROUTES = [
    "reports/overview",
    "reports/communities/andes/adoption",
    "reports/communities/andes/funnel",
    "reports/communities/andes/usage",
]
BAD_PERIODS = [
    {"from": "9990-01-01", "to": "9999-12-31"},
    {"from": "0001-01-01", "to": "0001-01-31"},
    {"to": "9999-12-31"},
    {"from": "2025-02-10", "to": "2025-02-01"},
    {"from": "2025-1-01"},
    {"from": "20250101"},
    {"from": "2025-W01-1"},
    {"month": "0001-01"},
    {"month": "9999-12"},
    {"month": "99999999999999999999-01"},
    {"month": "2025-13"},
    {"month": "2025-00"},
    {"month": "٢٠٢٥-٠١"},
    {"days": "²"},
    {"days": "٣"},
    {"days": "0"},
    {"days": "-3"},
    {"days": "3661"},
    {"days": "9" * 5000},
]


@pytest.fixture
def catalyst_hub_roles():
    return [{"name": "catalyst-admin", "scopes": ["custom:catalyst:admin"]}]


@pytest.fixture
async def admin(catalyst_service):
    svc = catalyst_service
    # a member of andes, so the community exists (an unknown one is a 404)
    svc.token("ana@andes.example.org", groups=["community-andes"])
    return svc, svc.token(ADMIN, roles=["catalyst-admin"])


def assert_json_error(r, status: int) -> str:
    assert r.status_code == status, (r.request.url[:200], r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    body = r.json()
    assert body["status"] == status and body["message"], body
    return body["message"]


@pytest.mark.parametrize("route", PERIOD_ROUTES)
async def test_report_periods_out_of_range_answer_400(admin, route):
    svc, token = admin
    for params in BAD_PERIODS:
        r = await svc.request("get", route + ".json", token, params=params)
        assert_json_error(r, 400)
        page = await svc.request("get", route, token, params=params)
        assert page.status_code == 400, (params, page.status_code)
        assert page.headers["Content-Type"].startswith("text/html")
    # the edges of the range are fine
    for params in ({"from": "2000-01-01", "to": "2009-12-31"}, {"days": "3660"}):
        r = await svc.request("get", route + ".json", token, params=params)
        assert r.status_code == 200, (params, r.text[:300])


async def test_the_month_report_refuses_months_out_of_range(admin):
    svc, token = admin
    route = "reports/communities/andes/month"
    for month in ("0001-01", "9999-12", "99999999999999999999-01", "2025-13", "2025-1", "x"):
        r = await svc.request("get", route + ".json", token, params={"month": month})
        assert_json_error(r, 400)
    # a month in range but not begun yet has nothing to report
    message = assert_json_error(
        await svc.request("get", route + ".json", token, params={"month": "2100-12"}), 400
    )
    assert "2100-12" in message
    r = await svc.request("get", route + ".json", token, params={"month": f"{utcnow():%Y-%m}"})
    assert r.status_code == 200, r.text[:300]


@pytest.mark.parametrize("language", ["en", "es", "pt", "fr"])
async def test_a_wrong_number_of_days_is_said_in_the_readers_language(admin, language):
    svc, token = admin
    r = await svc.request(
        "get", "reports/overview.json", token, params={"days": "²", "lang": language}
    )
    message = assert_json_error(r, 400)
    _ = gettext_for(language)
    assert message == _(
        "days must be a number from 1 to {most}, not {value}", most=3660, value="'²'"
    )


async def test_audit_pages_beyond_any_number_answer_400(admin):
    svc, token = admin
    for page in ("99999999999999999999", "1000000000", "-1", "٣", "1.5", ""):
        r = await svc.request("get", "reports/audit.json", token, params={"page": page})
        assert_json_error(r, 400)
    r = await svc.request("get", "reports/audit.json", token, params={"page": "999999999"})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["entries"] == []


async def test_cohort_ids_beyond_any_number_are_not_found(admin):
    svc, token = admin
    cohort = await svc.create_cohort(token)
    for cohort_id in ("9" * 5000, "1" + "0" * 30, str(2**31)):
        r = await svc.request("get", f"training/cohorts/{cohort_id}.json", token)
        assert_json_error(r, 404)
        r = await svc.request("post", f"training/cohorts/{cohort_id}/signoff", token, json={})
        assert_json_error(r, 404)
    # other scripts' digits are not an id: no route takes them
    for cohort_id in ("٣", f"{cohort}\u0663"):
        r = await svc.request("get", f"training/cohorts/{cohort_id}.json", token)
        assert r.status_code == 404, r.text[:300]
    r = await svc.request("get", f"training/cohorts/{cohort}.json", token)
    assert r.status_code == 200, r.text[:300]


@pytest.mark.parametrize("char", ["%00", "%01", "%0A", "%7F"])
async def test_control_characters_in_addresses_answer_400(admin, char):
    svc, token = admin
    before = snapshot(svc.store)
    for path in (
        f"reports/communities/an{char}des/adoption.json",
        f"reports/overview.json?table=x{char}",
        f"reports/overview.csv?from={char}2025-01-01",
        f"reports/communities/andes/month.json?month=2025-01{char}",
        f"api/me?lang={char}",
    ):
        r = await svc.request("get", path, token)
        assert_json_error(r, 400)
    r = await svc.request("get", f"reports/communities/an{char}des/adoption", token)
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("text/html")
    r = await svc.request("post", f"training/cohorts/1/learners?x={char}", token, json={})
    assert_json_error(r, 400)
    assert snapshot(svc.store) == before


def nested(depth: int):
    """A value ``depth`` arrays and objects deep."""
    value: object = "deep"
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


async def test_json_bodies_nested_too_deep_or_with_nul_answer_400(admin):
    svc, token = admin
    member = svc.token("ana@andes.example.org", groups=["community-andes"])
    for caller in (member, token):  # both identities recorded first
        await svc.request("get", "api/me", caller)
    before = snapshot(svc.store)
    for body in (
        {"confirm": True, "extra": nested(300)},
        {"confirm": True, "extra": nested(MAX_DEPTH)},  # one level too many with the body
        {"confirm": True, "extra": "a\x00b"},
        {"confirm": True, "a\x00": 1},
    ):
        r = await svc.request("post", "api/me/erase", member, json=body)
        assert_json_error(r, 400)
        r = await svc.request(
            "post", "training/", token, json={"name": "x", "community": "andes", "x": body}
        )
        assert_json_error(r, 400)
    assert snapshot(svc.store) == before
    # MAX_DEPTH levels, the body's own included, are fine
    r = await svc.request(
        "post", "api/me/erase", member, json={"confirm": True, "extra": nested(MAX_DEPTH - 1)}
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("size", [MAX_BODY + 1, 5 * 1000 * 1000, 10 * 1000 * 1000])
async def test_large_bodies_answer_the_json_413(catalyst_service, size):
    svc = catalyst_service
    member = svc.token("ana@andes.example.org", groups=["community-andes"])
    before = snapshot(svc.store)
    headers = {"Content-Type": "application/json"}
    for path, limit in (("api/events", MAX_BODY), ("api/me/erase", MAX_FORM_BYTES)):
        r = await svc.request("post", path, member, data=b" " * size, headers=headers)
        assert assert_json_error(r, 413) == (f"Request body is {size} bytes; the limit is {limit}.")
    # a form of a page: the error page, in the reader's language
    r = await svc.request(
        "post", "me/steps?lang=es", member, data=b"step=" + b"x" * size, allow_redirects=False
    )
    assert r.status_code == 413 and r.headers["Content-Type"].startswith("text/html")
    assert f"el límite es {MAX_FORM_BYTES}" in r.text
    assert snapshot(svc.store) == before


async def test_a_form_over_its_own_limit_still_gets_its_page(catalyst_service):
    svc = catalyst_service
    member = svc.token("ana@andes.example.org", groups=["community-andes"])
    r = await svc.request(
        "post", "me/steps", member, data={"step": "x" * MAX_FORM_BYTES}, allow_redirects=False
    )
    assert r.status_code == 413 and r.headers["Content-Type"].startswith("text/html")


async def test_event_times_out_of_range_answer_400(catalyst_service, make_event):
    svc = catalyst_service
    member = svc.token("ana@andes.example.org", groups=["community-andes"])
    await svc.request("get", "api/me", member)  # the identity is recorded first
    before = snapshot(svc.store)
    for time in (
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2025-12-31T23:59:60Z",
        "2025-02-30T00:00:00Z",
    ):
        event = make_event("action", {"action": "cell_executed"}, time=time)
        r = await svc.request("post", "api/events", member, json={"events": [event]})
        assert r.status_code == 400, (time, r.status_code, r.text[:300])
        assert r.json()["results"][0]["status"] == "error"
    assert snapshot(svc.store) == before


async def test_pages_and_json_send_security_headers(admin):
    svc, token = admin
    for path in ("me", "privacy", "api/me", "reports/overview.json", "no/such/page", "api/nothing"):
        r = await svc.request("get", path, token)
        policy = r.headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in policy and "frame-ancestors 'self'" in policy, path
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
    r = await svc.request("get", "static/reports.css")
    assert r.status_code == 200 and r.headers["X-Content-Type-Options"] == "nosniff"
    # no inline style or script is left for the policy to block
    page = await svc.request("get", "reports/overview", token)
    assert "<style" not in page.text and "<script" not in page.text and " style=" not in page.text


async def test_parallel_first_requests_of_new_people_all_succeed(catalyst_service, make_event):
    """30 requests at once of a person the service has not seen yet (a person's servers and
    browser tabs after a restart): PostgreSQL once refused some of them on the identity table.
    The store's own test (tests/store/test_identity_race.py) races harder."""
    svc = catalyst_service
    for round_ in range(10):
        token = svc.token(f"new-{round_}@example.org")

        async def post(token):
            event = make_event("action", {"action": "cell_executed"})
            return await svc.request("post", "api/events", token, json={"events": [event]})

        answers = await asyncio.gather(*(post(token) for _ in range(30)))
        assert [r.status_code for r in answers] == [200] * 30, [
            r.text[:200] for r in answers if r.status_code != 200
        ]


#: Report routes with the query parameters each reads (all take ``lang``).
QUERY_ROUTES = {
    "reports/overview": ("from", "to", "month", "days", "format", "table"),
    "reports/communities/andes/adoption": ("from", "to", "month", "days", "format", "table"),
    "reports/communities/andes/month": ("month", "format", "table"),
    "reports/audit": ("page", "format", "table", "from", "to", "month", "days"),
    "training/": ("format",),
    "training/cohorts/{cohort}": ("format", "table", "status"),
}
#: Years at and beyond the edges of what reports and datetime can compute.
YEAR = st.sampled_from([1, 1999, 2000, 2026, 2100, 2101, 9990, 9999]) | st.integers(0, 10**21)
ANY_TEXT = st.text(max_size=25) | st.integers(-(10**25), 10**25).map(str)
NUMBER = ANY_TEXT | st.sampled_from(["0", "1", "-1", "3660", "3661", "²", "٣", "１", "9" * 30])
PERIOD = st.one_of(
    st.fixed_dictionaries({}),
    st.builds(lambda y, m: {"month": f"{y:04d}-{m:02d}"}, YEAR, st.integers(0, 13)),
    st.builds(lambda text: {"month": text}, ANY_TEXT),
    st.builds(lambda text: {"days": text}, NUMBER),
    st.builds(
        lambda y, m1, m2: {"from": f"{y:04d}-{m1:02d}-01", "to": f"{y:04d}-{m2:02d}-28"},
        YEAR,
        st.integers(0, 13),
        st.integers(0, 13),
    ),
    st.builds(lambda a, b: {"from": a, "to": b}, ANY_TEXT, ANY_TEXT),
)
OTHER = st.fixed_dictionaries(
    {},
    optional={
        "page": NUMBER,
        "format": st.sampled_from(["json", "csv", "html"]) | ANY_TEXT,
        "table": ANY_TEXT,
        "status": ANY_TEXT,
        "lang": st.sampled_from(["es", "fr", "xx"]) | ANY_TEXT,
    },
)


async def test_no_report_query_answers_a_server_error(admin):
    """Hypothesis writes the query strings; the service, on this test's event loop, answers
    them while the examples run in a thread."""
    svc, token = admin
    cohort = await svc.create_cohort(token)
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(route=st.sampled_from(sorted(QUERY_ROUTES)), period=PERIOD, other=OTHER)
    def check(route, period, other):
        params = {
            k: v for k, v in {**period, **other}.items() if k in QUERY_ROUTES[route] or k == "lang"
        }
        r = session.get(svc.url(route.format(cohort=cohort)), params=params, timeout=30)
        assert r.status_code < 500, (route, params, r.status_code, r.text[:300])
        if r.status_code >= 400 and r.headers["Content-Type"].startswith("application/json"):
            assert r.json()["message"], (route, params)

    await asyncio.to_thread(check)
