"""Who may call what: every endpoint of the service by every kind of caller, in one table.

Callers: nobody (no token), a plain member of andes, the training lead of andes, the lead of
sahel, a catalyst admin (``custom:catalyst:admin``), consortium staff (unfiltered
``custom:catalyst:reports``), a metrics scraper (``custom:catalyst:metrics``) and the
service's own token (least privilege: it reads the hub, it does not use the service).
All send a JupyterHub token (browser logins and their xsrf token are in test_xsrf.py).

Besides the status, each answer must be in the endpoint's format (JSON for the API and
exports, HTML for pages), and nothing of one community may reach the other's lead.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

import catalyst_hub.store  # noqa: F401  (loads before ingest)
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.pytest_plugin import earlier_today

# builds data relative to now: CI runs it again at 00:05 and 23:55 UTC
pytestmark = pytest.mark.clock

CALLERS = ("anonymous", "plain", "lead_a", "lead_b", "admin", "staff", "scraper", "service")

# fmt: off
# {A} and {B} are a cohort of andes and one of sahel; POST bodies are named in BODIES.
# Statuses: 302 = to the hub's login, 303 = saved (post/redirect/get), 404 = not found (also
# a cohort of a community the caller does not lead: its existence is not revealed).
MATRIX = [
    # method  path                                      body        anon plain leadA leadB admin staff scrap svc
    ("GET",  "api/",                                    None,       200, 200,  200,  200,  200,  200,  200,  200),
    ("GET",  "api/openapi.json",                        None,       200, 200,  200,  200,  200,  200,  200,  200),
    ("GET",  "privacy",                                 None,       200, 200,  200,  200,  200,  200,  200,  200),
    ("GET",  "",                                        None,       302, 302,  302,  302,  302,  302,  302,  302),
    ("GET",  "oauth_callback?code=x",                   None,       400, 400,  400,  400,  400,  400,  400,  400),
    ("GET",  "api/me",                                  None,       401, 200,  200,  200,  200,  200,  200,  403),
    ("GET",  "api/me/export",                           None,       401, 200,  200,  200,  200,  200,  200,  403),
    ("GET",  "me",                                      None,       302, 200,  200,  200,  200,  200,  200,  403),
    ("GET",  "me/erase",                                None,       302, 200,  200,  200,  200,  200,  200,  403),
    ("GET",  "reports/",                                None,       302, 403,  200,  200,  200,  200,  403,  403),
    ("GET",  "reports/?format=json",                    None,       401, 403,  200,  200,  200,  200,  403,  403),
    ("GET",  "reports/overview",                        None,       302, 403,  403,  403,  200,  200,  403,  403),
    ("GET",  "reports/overview.csv",                    None,       401, 403,  403,  403,  200,  200,  403,  403),
    ("GET",  "reports/overview.json",                   None,       401, 403,  403,  403,  200,  200,  403,  403),
    ("GET",  "reports/audit",                           None,       302, 403,  403,  403,  200,  403,  403,  403),
    ("GET",  "reports/audit.csv",                       None,       401, 403,  403,  403,  200,  403,  403,  403),
    ("GET",  "reports/audit.json",                      None,       401, 403,  403,  403,  200,  403,  403,  403),
    ("GET",  "reports/communities/andes/adoption",      None,       302, 403,  200,  403,  200,  200,  403,  403),
    ("GET",  "reports/communities/andes/funnel.csv",    None,       401, 403,  200,  403,  200,  200,  403,  403),
    ("GET",  "reports/communities/andes/usage.json",    None,       401, 403,  200,  403,  200,  200,  403,  403),
    ("GET",  "reports/communities/andes/month",         None,       302, 403,  200,  403,  200,  200,  403,  403),
    ("GET",  "reports/communities/sahel/adoption.json", None,       401, 403,  403,  200,  200,  200,  403,  403),
    ("GET",  "reports/communities/sahel/funnel",        None,       302, 403,  403,  200,  200,  200,  403,  403),
    ("GET",  "reports/communities/sahel/month.csv",     None,       401, 403,  403,  200,  200,  200,  403,  403),
    ("GET",  "training/",                               None,       302, 403,  200,  200,  200,  403,  403,  403),
    ("GET",  "training.json",                           None,       401, 403,  200,  200,  200,  403,  403,  403),
    ("GET",  "training/cohorts/{A}",                    None,       302, 403,  200,  404,  200,  403,  403,  403),
    ("GET",  "training/cohorts/{A}.csv",                None,       401, 403,  200,  404,  200,  403,  403,  403),
    ("GET",  "training/cohorts/{B}.json",               None,       401, 403,  404,  200,  200,  403,  403,  403),
    ("GET",  "training/cohorts/99999",                  None,       302, 403,  404,  404,  404,  403,  403,  403),
    ("GET",  "metrics",                                 None,       401, 403,  403,  403,  403,  403,  200,  403),
    ("GET",  "api/xapi/statements",                     None,       401, 403,  200,  200,  200,  403,  403,  403),
    ("GET",  "api/xapi/statements?community=andes",     None,       401, 403,  200,  403,  200,  403,  403,  403),
    ("GET",  "api/xapi/forwarder",                      None,       401, 403,  403,  403,  200,  403,  403,  403),
    ("GET",  "api/consortium/communities/andes/public-page", None,  401, 403,  200,  403,  200,  200,  403,  403),
    ("POST", "api/events",                              "events",   401, 200,  200,  200,  200,  200,  200,  403),
    ("POST", "me/steps",                                "step",     403, 303,  303,  303,  303,  303,  303,  403),
    ("POST", "me/episodes",                             "episode",  403, 303,  303,  303,  303,  303,  303,  403),
    ("POST", "me/consent",                              "consent",  403, 303,  303,  303,  303,  303,  303,  403),
    ("POST", "training/",                               "cohort_a", 403, 403,  201,  403,  201,  403,  403,  403),
    ("POST", "training.json",                           "cohort_b", 403, 403,  403,  201,  201,  403,  403,  403),
    ("POST", "training/cohorts/{A}",                    "edit",     403, 403,  200,  404,  200,  403,  403,  403),
    ("POST", "training/cohorts/{B}.json",               "edit",     403, 403,  404,  200,  200,  403,  403,  403),
    ("POST", "training/cohorts/{A}/learners",           "learner_a",403, 403,  200,  404,  200,  403,  403,  403),
    ("POST", "training/cohorts/{B}/learners",           "learner_b",403, 403,  404,  200,  200,  403,  403,  403),
    ("POST", "training/cohorts/{A}/signoff",            "signoff_a",403, 403,  200,  404,  200,  403,  403,  403),
    ("POST", "training/cohorts/{B}/signoff",            "signoff_b",403, 403,  404,  200,  200,  403,  403,  403),
    ("GET",  "consortium/communities/andes/public-page", None,      302, 403,  200,  403,  200,  200,  403,  403),
    ("POST", "consortium/communities/andes/public-page", "public_form", 403, 403, 303, 403, 303, 403, 403, 403),
    ("PUT",  "api/consortium/communities/andes/public-page", "public_page", 401, 403, 200, 403, 200, 403, 403, 403),
    # last: they erase the caller's own data
    ("POST", "me/erase",                                "erase",    403, 200,  200,  200,  200,  200,  200,  403),
    ("POST", "api/me/erase",                            "erase_api",401, 200,  200,  200,  200,  200,  200,  403),
]
# fmt: on


def is_json(path: str) -> bool:
    """Whether the endpoint answers JSON (else HTML): the API, exports, JSON POSTs."""
    return (
        path.startswith("api/")
        or path == "metrics"
        or ".csv" in path
        or ".json" in path
        or "format=json" in path
    )


def bodies(ids: dict[str, str]) -> dict[str, dict]:
    """Request arguments of each POST."""
    event = {
        "id": str(uuid.uuid4()),
        "schema": "action",
        "version": 1,
        "time": datetime.now(timezone.utc).isoformat(),
        "payload": {"action": "cell_executed"},
    }
    cohort = {"name": "Workshop", "language": "es", "lessons": ["hub-basics"]}
    return {
        "events": {"json": {"events": [event]}},
        "step": {"data": {"step": "run_code"}},
        "episode": {"data": {"lesson": "hub-basics", "episode": "persistence"}},
        "consent": {"data": {"decision": "given"}},
        "cohort_a": {"json": {**cohort, "community": "andes"}},
        "cohort_b": {"json": {**cohort, "community": "sahel"}},
        "edit": {"json": {**cohort, "name": "Workshop, renamed"}},
        "learner_a": {"json": {"usernames": ["ana@andes.example.org"]}},
        "learner_b": {"json": {"usernames": ["sahel-3@example.org"]}},
        "signoff_a": {
            "json": {"learner": ids["andes-1"], "lesson": "hub-basics", "episode": "persistence"}
        },
        "signoff_b": {
            "json": {"learner": ids["sahel-1"], "lesson": "hub-basics", "episode": "persistence"}
        },
        "public_page": {"json": {"public": True}},
        "public_form": {"data": {"public": "yes"}},
        "erase": {"data": {"confirm": "yes"}},
        "erase_api": {"json": {"confirm": True}},
    }


@pytest.fixture
def catalyst_hub_roles():
    return [
        {"name": "lead-andes", "scopes": ["custom:catalyst:training!group=community-andes"]},
        {"name": "lead-sahel", "scopes": ["custom:catalyst:training!group=community-sahel"]},
        {"name": "catalyst-admin", "scopes": ["custom:catalyst:admin"]},
        {"name": "consortium", "scopes": ["custom:catalyst:reports"]},
        {"name": "scraper", "scopes": ["custom:catalyst:metrics"]},
    ]


@pytest.fixture
async def world(catalyst_service, make_event):
    """Six active members in each community, a cohort in each with a learner, and the
    callers' tokens."""
    svc = catalyst_service
    store = svc.store
    ingestor = Ingestor(store)
    when = earlier_today(hours=1)
    ids = {}
    for community in ("andes", "sahel"):
        for i in range(1, 7):
            name = f"{community}-{i}"
            svc.user(f"{name}@example.org", groups=[f"community-{community}"])
            ids[name] = store.member_id(f"{name}@example.org")
            events = [
                # they accepted the notice (the service's default is opt-in)
                make_event("consent", {"decision": "given", "notice_version": "1"}, time=when),
                make_event("action", {"action": "logged_in"}, time=when),
                make_event("action", {"action": "cell_executed"}, time=when),
            ]
            stored, results = ingestor.ingest(events, Sender(ids[name], community))
            assert stored, [r.to_json() for r in results]
    tokens = {
        "anonymous": None,
        "plain": svc.token("ana@andes.example.org", groups=["community-andes"]),
        "lead_a": svc.token(
            "lead@andes.example.org", groups=["community-andes"], roles=["lead-andes"]
        ),
        "lead_b": svc.token(
            "lead@sahel.example.org", groups=["community-sahel"], roles=["lead-sahel"]
        ),
        "admin": svc.token("catalyst-admin", roles=["catalyst-admin"]),
        "staff": svc.token("consortium-staff", roles=["consortium"]),
        "scraper": svc.token("scraper", roles=["scraper"]),
        "service": svc.service.hub_auth.api_token,
    }
    cohorts = {}
    for key, lead, community in (("A", "lead_a", "andes"), ("B", "lead_b", "sahel")):
        cohorts[key] = await svc.create_cohort(tokens[lead], community, f"{community} cohort")
        r = await svc.request(
            "post",
            f"training/cohorts/{cohorts[key]}/learners",
            tokens[lead],
            json={"usernames": [f"{community}-1@example.org", f"{community}-2@example.org"]},
        )
        assert r.status_code == 200, r.text
    return svc, tokens, ids, cohorts


def foreign_markers(caller: str, ids: dict[str, str]) -> list[str]:
    """Text that must never reach a community's lead: the other community's name, its
    members' usernames and member ids."""
    other = {"lead_a": "sahel", "lead_b": "andes"}.get(caller)
    if other is None:
        return []
    return [other] + [ids[f"{other}-{i}"] for i in range(1, 7)]


async def test_every_endpoint_by_every_caller(world):
    svc, tokens, ids, cohorts = world
    args = bodies(ids)
    wrong, leaks = [], []
    for method, path, body, *statuses in MATRIX:
        assert len(statuses) == len(CALLERS), path
        url = path.format(**cohorts)
        for caller, expected in zip(CALLERS, statuses, strict=True):
            kwargs = dict(args[body]) if body else {}
            r = await svc.request(method, url, tokens[caller], allow_redirects=False, **kwargs)
            if r.status_code != expected:
                wrong.append(f"{method} {url} as {caller}: {r.status_code}, expected {expected}")
                continue
            content_type = r.headers.get("Content-Type", "")
            if expected in (302, 303):
                assert r.headers["Location"], (method, url, caller)
            elif url == "metrics" and expected == 200:
                assert content_type.startswith("text/plain"), (url, caller)
            elif ".csv" in url and expected == 200:
                assert content_type.startswith("text/csv"), (url, caller)
            elif is_json(url) or "json" in kwargs:
                assert content_type.startswith("application/json"), (method, url, caller)
                if expected >= 400:
                    assert r.json()["status"] == expected, (method, url, caller)
                    assert r.json()["message"], (method, url, caller)
            else:
                assert content_type.startswith("text/html"), (method, url, caller, content_type)
            for marker in foreign_markers(caller, ids):
                # a 403 may repeat the community the caller asked for: that is no leak
                if marker in url:
                    continue
                if marker.lower() in r.text.lower():
                    leaks.append(f"{method} {url} as {caller} shows {marker!r}")
    assert not wrong, "\n".join(wrong)
    assert not leaks, "\n".join(leaks)
