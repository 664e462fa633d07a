"""Limits through the real hub's proxy: a body over the limit gets the service's JSON 413
(not the proxy's 503 page), and many first requests of new people at once all succeed."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
import requests

from catalyst_hub.service.app import CatalystService
from catalyst_hub.service.base import MAX_FORM_BYTES
from harness.realhub import RealHub

pytestmark = pytest.mark.e2e

MAX_BODY = CatalystService.max_body_bytes.default_value


@pytest.fixture(scope="module")
def hub(tmp_path_factory, e2e_database):
    hub = RealHub(
        tmp_path_factory.mktemp("limits") / "hub",
        db_url=e2e_database,
        users={"ana": "ana-pass"},
        groups={"community-andes": ["ana"]},
        extra_service_config="c.CatalystService.collector_enabled = False\n",
    )
    hub.start()
    yield hub
    hub.stop()


def event() -> dict:
    return {
        "id": str(uuid.uuid4()),
        "schema": "action",
        "version": 1,
        "time": datetime.now(timezone.utc).isoformat(),
        "payload": {"action": "cell_executed"},
    }


@pytest.mark.parametrize("size", [5 * 1000 * 1000, 10 * 1000 * 1000, 50 * 1000 * 1000])
def test_a_body_over_the_limit_gets_the_json_413_through_the_proxy(hub, size):
    token = hub.token("ana")
    for path, limit in (("api/events", MAX_BODY), ("api/me/erase", MAX_FORM_BYTES)):
        r = requests.post(
            hub.service_url + path,
            data=b" " * size,
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
            timeout=60,
        )
        assert r.status_code == 413, (path, r.status_code, r.headers, r.text[:300])
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.json() == {
            "status": 413,
            "message": f"Request body is {size} bytes; the limit is {limit}.",
        }
    # the service still answers afterwards, on the same proxy
    r = hub.service_post("api/events", token, json={"events": [event()]})
    assert r.status_code == 200, r.text


def test_parallel_first_requests_of_new_people_all_succeed(hub):
    for round_ in range(5):
        tokens = [hub.token(f"new-{round_}-{i}") for i in range(3)]
        with ThreadPoolExecutor(30) as pool:
            answers = list(
                pool.map(
                    lambda token: hub.service_post("api/events", token, json={"events": [event()]}),
                    [tokens[i % 3] for i in range(30)],
                )
            )
        assert [r.status_code for r in answers] == [200] * 30, [
            r.text[:200] for r in answers if r.status_code != 200
        ]
