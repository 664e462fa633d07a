"""The xAPI forwarder and a real Ralph LRS (its FastAPI app under uvicorn, file-system
backend, started here: ``harness.ralph``): every statement arrives once, through an outage
(before a round and in the middle of one) and a crash between a POST and its record;
reading them back from the LRS gives exactly ours; an erased member's are not sent after
the erasure. And the service runs the forwarder itself, its progress on ``api/xapi/forwarder``.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import requests

import catalyst_hub.store  # noqa: F401  (loads before ingest: projections and store import each other)
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.interop.forwarder import Forwarder, LRSError
from catalyst_hub.interop.xapi import hub_statements
from catalyst_hub.store.privacy import erase_member
from harness.ralph import RalphLRS, validate
from harness.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

#: What Ralph adds to a statement it stores (xAPI: the LRS sets both).
LRS_FIELDS = ("stored", "authority")


@pytest.fixture(scope="module")
def lrs(tmp_path_factory):
    server = RalphLRS(tmp_path_factory.mktemp("ralph"))
    server.start()
    yield server
    server.stop()


def record(store, name: str, exercises: list[str], episodes: list[str] = ()) -> str:
    member = store.member_id(name)
    raws = [
        {
            "id": str(uuid.uuid4()),
            "schema": "exercise_completed",
            "version": 1,
            "time": f"2026-03-{2 + i:02d}T10:00:00Z",
            "payload": {"lesson": "hub-basics", "episode": episode, "exercise": exercise},
        }
        for i, (episode, exercise) in enumerate(
            ("first-notebook" if e in ("hello", "variables") else "data-files", e)
            for e in exercises
        )
    ] + [
        {
            "id": str(uuid.uuid4()),
            "schema": "episode_completed",
            "version": 1,
            "time": "2026-03-09T10:00:00Z",
            "payload": {"lesson": "hub-basics", "episode": episode},
        }
        for episode in episodes
    ]
    raws.append(
        {
            "id": str(uuid.uuid4()),
            "schema": "step_reached",
            "version": 1,
            "time": "2026-03-01T09:00:00Z",
            "payload": {"step": "login"},
        }
    )
    stored, results = Ingestor(store).ingest(raws, Sender(member, "andes", "member"))
    assert stored, [r.to_json() for r in results]
    return member


def ours_in(lrs: RalphLRS, hub_url: str) -> list[dict]:
    """The statements the LRS holds of this hub (others' tests share the LRS), as we sent
    them: without the fields the LRS adds."""
    held = [s for s in lrs.statements() if s["actor"]["account"]["homePage"] == hub_url]
    return [{k: v for k, v in s.items() if k not in LRS_FIELDS} for s in held]


def by_id(statements):
    ids = [s["id"] for s in statements]
    assert len(ids) == len(set(ids)), "a statement arrived twice"
    return {s["id"]: s for s in statements}


class StopsTheLRSMidRound(Forwarder):
    """The LRS goes away right after the first batch of a round was acknowledged."""

    lrs: RalphLRS | None = None

    async def _post_batch(self, batch):
        if self.lrs is not None and self.lrs.process is None:
            return await super()._post_batch(batch)  # already down: the POST fails
        conflicts = await super()._post_batch(batch)
        if self.lrs is not None:
            self.lrs.stop()
        return conflicts


async def test_every_statement_arrives_once_through_outages(catalyst_store, lrs):
    store = catalyst_store
    hub_url = f"https://{store.hub}.example.org/"
    ana = record(store, "ana", ["hello", "variables", "read-csv", "plot"], ["persistence"])
    ben = record(store, "ben", ["hello"])
    caro = record(store, "caro", ["hello", "variables"])
    ours = hub_statements(store, hub_url)
    assert validate(ours) == []
    assert len(ours) > 12

    forwarder = StopsTheLRSMidRound(
        store, hub_url, lrs.url, lrs.username, lrs.password, batch_size=4, interval=0.01
    )
    # a crash between a POST and its record: the LRS holds some statements we never
    # recorded as sent; the forwarder sends them again, and the LRS keeps one of each
    r = requests.post(
        lrs.url + "statements",
        json=ours[:3],
        auth=lrs.auth,
        headers={"X-Experience-API-Version": "1.0.3"},
        timeout=30,
    )
    assert r.status_code == 200, r.text

    # the LRS goes down after the first batch: the round stops, nothing after it is lost
    forwarder.lrs = lrs
    with pytest.raises(LRSError):
        await forwarder.run_once()
    progress = forwarder.progress()
    assert progress["acknowledged"] == 4
    assert progress["failures_in_a_row"] == 1 and "unreachable" in progress["last_error"]
    assert progress["pending"] == len(ours) - 4
    # still down: another failed round, nothing recorded as sent
    with pytest.raises(LRSError):
        await forwarder.run_once()
    assert forwarder.progress()["acknowledged"] == 4
    assert forwarder.progress()["failures_in_a_row"] == 2
    assert forwarder.delay_after(2) > forwarder.delay_after(0)

    # up again: the rest arrives
    forwarder.lrs = None
    lrs.start()
    assert await forwarder.run_once() == len(ours) - 4
    assert await forwarder.run_once() == 0
    progress = forwarder.progress()
    assert progress["acknowledged"] == len(ours) and progress["pending"] == 0
    assert progress["failures_in_a_row"] == 0 and progress["conflicts"] == 0
    assert by_id(ours_in(lrs, hub_url)) == by_id(ours)

    # new records are sent; an erased member's are not, even those built before the erasure
    record(store, "ben", ["variables"])
    record(store, "dan", ["hello"])
    before = {s["id"] for s in ours}
    pending = [s for s in hub_statements(store, hub_url) if s["id"] not in before]
    assert {s["actor"]["account"]["name"] for s in pending} == {ben, store.member_id("dan")}
    erase_member(store, ben)
    assert await forwarder.run_once() == 2  # dan's exercise and step
    held = by_id(ours_in(lrs, hub_url))
    assert len(held) == len(ours) + 2
    assert not [
        s for s in held.values() if s["actor"]["account"]["name"] == ben and s["id"] not in before
    ]
    assert {ana, caro} <= {s["actor"]["account"]["name"] for s in held.values()}
    # the erased member's acknowledgements went with the rest of their data
    assert forwarder.progress()["acknowledged"] == len(held) - sum(
        1 for s in held.values() if s["actor"]["account"]["name"] == ben
    )


@pytest.mark.parametrize("catalyst_db_url", ["sqlite"], indirect=True)
async def test_a_statement_the_lrs_holds_otherwise_is_a_conflict_not_a_stall(catalyst_store, lrs):
    """The LRS holds one of our ids with other content (409 for the batch): the rest of the
    batch is sent one by one, the conflict is counted, and the LRS keeps its version."""
    store = catalyst_store
    hub_url = f"https://{store.hub}.example.org/"
    record(store, "ana", ["hello", "variables"])
    ours = hub_statements(store, hub_url)
    theirs = {**ours[1], "timestamp": "2026-01-01T00:00:00.000Z"}
    r = requests.post(
        lrs.url + "statements",
        json=[theirs],
        auth=lrs.auth,
        headers={"X-Experience-API-Version": "1.0.3"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    forwarder = Forwarder(store, hub_url, lrs.url, lrs.username, lrs.password, batch_size=10)
    assert await forwarder.run_once() == len(ours)
    progress = forwarder.progress()
    assert progress["conflicts"] == 1 and progress["pending"] == 0
    assert by_id(ours_in(lrs, hub_url)) == by_id(
        [theirs if s["id"] == theirs["id"] else s for s in ours]
    )
    assert await forwarder.run_once() == 0


@pytest.fixture
def catalyst_config(lrs, tmp_path, catalyst_hub_name):
    credentials = tmp_path / "lrs-credentials"
    credentials.write_text(f"{lrs.username}:{lrs.password}\n")
    return {
        "CatalystApp": {
            "hub_url": f"https://{catalyst_hub_name}.example.org/",
            "lrs_url": lrs.url,
            "lrs_credentials_file": str(credentials),
            "lrs_batch_size": 3,
            "lrs_interval": 0.2,
        }
    }


@pytest.fixture
def catalyst_hub_roles():
    return [{"name": "catalyst-admin", "scopes": ["custom:catalyst:admin"]}]


@pytest.mark.parametrize("catalyst_db_url", ["sqlite"], indirect=True)
async def test_the_service_forwards_and_shows_its_progress(catalyst_service, lrs):
    hub = catalyst_service
    learner = hub.token("ana", groups=["community-andes"])
    admin = hub.token("root", roles=["catalyst-admin"])
    events = [
        {
            "id": str(uuid.uuid4()),
            "schema": "exercise_completed",
            "version": 1,
            "time": "2026-03-02T10:00:00Z",
            "payload": {"lesson": "hub-basics", "episode": "first-notebook", "exercise": name},
        }
        for name in ("hello", "variables")
    ]
    r = await hub.request("post", "api/events", learner, json={"events": events})
    assert r.status_code == 200, r.text
    hub_url = hub.service.hub_url
    ours = hub_statements(hub.store, hub_url)
    assert len(ours) >= 3  # the exercises, the episode they complete, the steps reached

    async def progress():
        r = await hub.request("get", "api/xapi/forwarder", admin)
        assert r.status_code == 200, r.text
        return r.json()

    for _ in range(600):  # rounds every 0.2 s; a hang, not a timing assertion
        seen = await progress()
        if seen.get("acknowledged") == len(ours) and seen.get("pending") == 0:
            break
        hub.service.forwarder.wake()
        await asyncio.sleep(0.1)
    assert seen["acknowledged"] == len(ours), seen
    assert seen["lrs_url"] == lrs.url and seen["last_success"]
    assert by_id(wait_until(lambda: ours_in(lrs, hub_url), what="statements")) == by_id(ours)
