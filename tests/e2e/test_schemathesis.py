"""schemathesis against a live service: a real hub, proxy and the managed catalyst service.

Every operation of openapi.yaml gets generated requests (deterministic: hypothesis is
derandomized), with an admin's token (every catalyst scope), without any login, and with
data that breaks the description (negative cases). No answer may be a 5xx; for the positive
cases every answer must be documented: its status code, content type, headers and JSON body.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from catalyst_hub.service.openapi import load_spec
from harness.realhub import RealHub

pytestmark = pytest.mark.e2e

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Minimum number of requests each run must have sent over all operations.
MIN_CASES = {"admin": 250, "anonymous": 100, "negative": 100}


@pytest.fixture(scope="module")
def live(tmp_path_factory, e2e_database):
    """A real hub with an admin (every catalyst scope), two members of andes, and data:
    events, and a cohort of andes with a learner."""
    hub = RealHub(
        tmp_path_factory.mktemp("schemathesis") / "hub",
        db_url=e2e_database,
        users={"admin": "admin-pass", "ana": "ana-pass", "lead": "lead-pass"},
        groups={
            "community-andes": ["ana", "lead"],
            "catalyst-admins": ["admin"],
        },
        admins={"admin"},
        extra_service_config="c.CatalystService.collector_enabled = False\n",
    )
    hub.start()
    try:
        admin, ana = hub.token("admin"), hub.token("ana")
        hub.decide("ana")  # she accepted the recording notice (the default is opt-in)
        now = datetime.now(timezone.utc).isoformat()
        events = [
            {
                "id": str(uuid.uuid4()),
                "schema": "action",
                "version": 1,
                "time": now,
                "payload": {"action": action},
            }
            for action in ("logged_in", "cell_executed")
        ]
        r = hub.service_post("api/events", ana, json={"events": events})
        assert r.status_code == 200, r.text
        r = hub.service_post(
            "training/",
            admin,
            json={"name": "Workshop", "community": "andes", "lessons": ["hub-basics"]},
        )
        assert r.status_code == 201, r.text
        cohort = r.json()["cohort"]
        r = hub.service_post(
            f"training/cohorts/{cohort}/learners", admin, json={"usernames": ["ana"]}
        )
        assert r.status_code == 200, r.text
        yield hub, admin, cohort
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def schema():
    return schemathesis.openapi.from_dict(load_spec())


def operations(schema) -> list:
    ops = [result.ok() for result in schema.get_all_operations()]
    assert len(ops) >= 30
    return ops


def strategy(operation, mode: GenerationMode, cohort: int):
    """Generated cases, half of them about the existing cohort and community where the
    path names one (random ids would only ever meet 404s)."""
    generated = operation.as_strategy(generation_mode=mode)
    names = {p.name for p in operation.path_parameters}
    known = {k: v for k, v in {"cohort_id": cohort, "community": "andes"}.items() if k in names}
    if not known or mode is GenerationMode.NEGATIVE:
        return generated
    return st.one_of(generated, operation.as_strategy(generation_mode=mode, path_parameters=known))


def run(live, schema, who: str, mode: GenerationMode, max_examples: int, checks) -> None:
    hub, admin, cohort = live
    base_url = hub.service_url.rstrip("/")
    headers = {"Authorization": f"token {admin}"} if who == "admin" else {}
    session = requests.Session()
    sent = 0
    failures = []
    for operation in operations(schema):

        @settings(
            max_examples=max_examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=hypothesis.Verbosity.quiet,
        )
        @hypothesis.given(case=strategy(operation, mode, cohort))
        def test(case):
            nonlocal sent
            if who != "admin":
                # no login: no Authorization header, no cookie, whatever was generated
                case.headers = {
                    k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"
                }
                case.cookies = {}
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
            sent += 1
            case.validate_response(response, checks=checks, headers=headers)

        try:
            test()
        except hypothesis.errors.Unsatisfiable:
            # no invalid request exists for an operation without parameters or body
            assert mode is GenerationMode.NEGATIVE, operation.label
        except (Exception, FailureGroup) as e:  # every operation's failures, not the first's
            failures.append(f"--- {operation.label} ---\n{e}")
    assert not failures, f"{len(failures)} operation(s) failed:\n" + "\n".join(failures)
    assert sent >= MIN_CASES[who if mode is GenerationMode.POSITIVE else "negative"], sent


def test_admin_token_on_every_operation(live, schema):
    run(live, schema, "admin", GenerationMode.POSITIVE, 15, CONFORMANCE)


def test_without_login_on_every_operation(live, schema):
    run(live, schema, "anonymous", GenerationMode.POSITIVE, 5, CONFORMANCE)


def test_invalid_requests_never_fail_the_service(live, schema):
    # invalid data: only "no 5xx" holds (a 404 of a path that cannot be routed is fine)
    run(live, schema, "admin", GenerationMode.NEGATIVE, 6, [not_a_server_error])
