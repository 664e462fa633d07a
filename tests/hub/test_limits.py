"""Bounded requests beyond ingest: forms and JSON bodies of the pages, cohorts, sign-off and
erasure answer 413 when too large, and a learners request has a most; all with a message.
(Ingest's own limits, body, batch and rate per member, are in test_ingest_api.py.)"""

from __future__ import annotations

import pytest

from catalyst_hub.service.base import MAX_FORM_BYTES

TOO_BIG = "x" * (MAX_FORM_BYTES + 1)


@pytest.fixture
def catalyst_hub_roles():
    return [{"name": "lead-andes", "scopes": ["custom:catalyst:training!group=community-andes"]}]


@pytest.mark.parametrize(
    "path, kwargs, json_answer",
    [
        ("me/steps", {"data": {"step": TOO_BIG}}, False),
        ("me/consent", {"data": {"decision": TOO_BIG}}, False),
        ("me/erase", {"data": {"confirm": TOO_BIG}}, False),
        ("api/me/erase", {"json": {"confirm": True, "padding": TOO_BIG}}, True),
        ("training/", {"json": {"name": TOO_BIG, "community": "andes"}}, True),
        ("training/", {"data": {"name": TOO_BIG, "community": "andes"}}, False),
        ("training/cohorts/{cohort}/learners", {"json": {"usernames": [TOO_BIG]}}, True),
        ("training/cohorts/{cohort}/signoff", {"json": {"learner": TOO_BIG}}, True),
    ],
)
async def test_large_bodies_are_refused(catalyst_service, path, kwargs, json_answer):
    svc = catalyst_service
    lead = svc.token("lead@andes.example.org", groups=["community-andes"], roles=["lead-andes"])
    path = path.format(cohort=await svc.create_cohort(lead))
    r = await svc.request("post", path, lead, allow_redirects=False, **kwargs)
    assert r.status_code == 413, (path, r.status_code, r.text[:200])
    if json_answer:
        assert r.json() == {
            "status": 413,
            "message": f"Request body is {len(r.request.body)} bytes; the limit is {MAX_FORM_BYTES}.",
        }
    else:
        assert r.headers["Content-Type"].startswith("text/html")
        assert f"the limit is {MAX_FORM_BYTES}" in r.text


async def test_at_most_500_learners_per_request(catalyst_service):
    svc = catalyst_service
    lead = svc.token("lead@andes.example.org", groups=["community-andes"], roles=["lead-andes"])
    cohort = await svc.create_cohort(lead)
    names = [f"u{i}@example.org" for i in range(501)]
    r = await svc.request(
        "post", f"training/cohorts/{cohort}/learners", lead, json={"usernames": names}
    )
    assert r.status_code == 400
    assert r.json()["message"] == "At most 500 learners per request."
