"""A month sent again replaces the stored one, its days with it: what it leaves is what the
same document stored afresh leaves (latest version wins, never a sum); a community's days
read back as sent, hidden ones as None; a month's document is stored all or nothing, and
over HTTP a big one is validated whole and a bad one refused with nothing written."""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import event, func, select

from catalyst_hub.consortium import tables as ct
from catalyst_hub.consortium.store import ConsortiumStore, upgrade
from catalyst_hub.store import make_engine

NOW = datetime(2026, 3, 20, 12)


def document(hub: str, sequence: int, communities: list[str], days: int) -> dict[str, Any]:
    def day(i: int, c: int) -> dict[str, Any]:
        return {
            "day": f"2026-03-{i:02}",
            "provisional": i == days,
            "figures": {
                "active_day": 5 + i + c,
                "active_7d": 10 + i,
                "active_30d": {"suppressed": True, "fewer_than": 5} if i == 2 else 20 + c,
                "new_members": 0,
                "activated": {"suppressed": True} if i == 3 else 6,
            },
        }

    figures = {
        "members": 40,
        "active_members": 12,
        "mean_dau": 3.5,
        "new_members": 5,
        "activated_in_period": {"suppressed": True, "fewer_than": 5},
        "learners": 7,
        "episodes_completed": 9,
        "champions_trained": 0,
        "sessions": 30,
        "server_hours": 12.5,
    }
    return {
        "schema": "catalyst.consortium.summary",
        "version": 1,
        "hub": hub,
        "sequence": sequence,
        "generated": "2026-03-20T00:00:00+00:00",
        "month": "2026-03",
        "min_group_size": 5,
        "communities": [
            {
                "community": name,
                "month": "2026-03",
                "through": f"2026-03-{days:02}",
                "provisional": True,
                "public": False,
                "figures": dict(figures, members=40 + c),
                "steps": {},
                "apps": {},
                "days": [day(i, c) for i in range(1, days + 1)],
            }
            for c, name in enumerate(communities)
        ],
    }


def rows(store: ConsortiumStore, hub: str) -> dict[str, list[tuple]]:
    out = {}
    with store.engine.connect() as conn:
        for table in (ct.months, ct.hub_totals):
            columns = [c for c in table.c if c.name != "hub"]
            query = select(*columns).where(table.c.hub == hub)
            out[table.name] = sorted(tuple(r) for r in conn.execute(query))
    return out


def days(store: ConsortiumStore, hub: str) -> list[tuple]:
    """Every day of ``hub``'s communities in March 2026, as the store reads them back:
    (community, day, provisional, *figures)."""
    with store.engine.connect() as conn:
        names = conn.execute(select(ct.months.c.community).where(ct.months.c.hub == hub)).scalars()
        communities = sorted(names)
    return [
        (name, *d.values())
        for name in communities
        for d in store.community_days(hub, name, date(2026, 3, 1), date(2026, 3, 31))
    ]


def test_a_month_sent_again_stores_what_a_fresh_store_would(consortium_db_url):
    engine = make_engine(consortium_db_url)
    upgrade(engine)
    store = ConsortiumStore(engine)
    first = document("again", 1, ["a", "b", "c"], 9)
    assert store.store_summary("again", first, NOW) == "stored"
    # the next day's version: one day changed, one day more, one community gone
    second = document("again", 2, ["a", "b"], 10)
    second["communities"][0]["days"][3]["figures"]["active_day"] = 99
    second["communities"][1]["days"][4]["figures"]["activated"] = {"suppressed": True}
    del second["communities"][1]["days"][0]  # a day the hub no longer sends
    assert store.store_summary("again", second, NOW) == "stored"
    assert store.store_summary("again", copy.deepcopy(second), NOW) == "unchanged"
    assert store.store_summary("again", first, NOW) == "stale"
    fresh = copy.deepcopy(second)
    fresh["hub"] = "fresh"
    assert store.store_summary("fresh", fresh, NOW) == "stored"
    assert rows(store, "again") == rows(store, "fresh")
    stored = days(store, "again")
    assert stored == days(store, "fresh")
    assert len(stored) == 10 + 9
    assert ("a", date(2026, 3, 4), False, 99, 14, 20, 0, 6) in stored
    assert ("b", date(2026, 3, 1)) not in {d[:2] for d in stored}  # no longer sent: gone
    # hidden figures read back as None, whether "fewer than k" or hidden to protect another
    assert ("b", date(2026, 3, 2), False, 8, 12, None, 0, 6) in stored
    assert ("b", date(2026, 3, 5), False, 11, 15, 21, 0, None) in stored
    totals = rows(store, "again")["consortium_hub_totals"]
    assert [t[1] for t in totals] == [2]  # two communities, not three: nothing summed
    engine.dispose()


def test_a_community_s_days_are_read_across_months_and_within_the_range(consortium_db_url):
    engine = make_engine(consortium_db_url)
    upgrade(engine)
    store = ConsortiumStore(engine)
    march = document("span", 1, ["a"], 31)
    assert store.store_summary("span", march, NOW) == "stored"
    april = orjson.loads(
        orjson.dumps(document("span", 1, ["a"], 3)).replace(b"2026-03", b"2026-04")
    )
    assert store.store_summary("span", april, NOW) == "stored"
    read = store.community_days("span", "a", date(2026, 3, 30), date(2026, 4, 2))
    assert [d["day"] for d in read] == [
        date(2026, 3, 30),
        date(2026, 3, 31),
        date(2026, 4, 1),
        date(2026, 4, 2),
    ]
    assert read[0] == {
        "day": date(2026, 3, 30),
        "provisional": False,
        "active_day": 35,
        "active_7d": 40,
        "active_30d": 20,
        "new_members": 0,
        "activated": 6,
    }
    assert store.community_days("span", "b", date(2026, 3, 1), date(2026, 4, 30)) == []
    engine.dispose()


def test_a_failure_while_storing_a_month_writes_nothing(consortium_db_url):
    """All or nothing: a document whose transaction fails after its month's totals were
    written leaves the stored month, its days and its sequence as they were."""
    engine = make_engine(consortium_db_url)
    upgrade(engine)
    store = ConsortiumStore(engine)
    names = [f"c{i}" for i in range(40)]
    assert store.store_summary("whole", document("whole", 1, names, 30), NOW) == "stored"
    stored = rows(store, "whole"), days(store, "whole")
    bigger = document("whole", 2, names, 31)  # a day more, the 30th revised
    for c in bigger["communities"]:
        c["days"][29]["figures"]["new_members"] = 3

    def fail(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith(f"INSERT INTO {ct.months.name.upper()}"):
            raise RuntimeError("the database went away")

    event.listen(engine, "before_cursor_execute", fail)
    try:
        with pytest.raises(RuntimeError):
            store.store_summary("whole", bigger, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", fail)
    assert (rows(store, "whole"), days(store, "whole")) == stored
    with engine.connect() as conn:
        assert conn.execute(select(ct.hub_months.c.sequence)).scalars().all() == [1]
    # and the same document once the database is back: stored whole
    assert store.store_summary("whole", bigger, NOW) == "stored"
    assert len(days(store, "whole")) == 40 * 31
    engine.dispose()


# -- over HTTP: the ingest API of the real service ------------------------------------------


@pytest.fixture
async def summaries(consortium_db_url):
    """The consortium service in this process, answering the hubs' ingest API only (its
    pages would need a hub: none here); yields (service, base URL)."""
    from traitlets.config import Config

    from catalyst_hub.consortium.app import ConsortiumService
    from catalyst_hub.localhub import free_ports

    port = free_ports(1)[0]
    config = Config(
        {
            "ConsortiumBase": {"db_url": consortium_db_url},
            "ConsortiumService": {
                "url": f"http://127.0.0.1:{port}",
                "service_prefix": "/consortium/",
                "upgrade_db": True,
                "max_body_bytes": 4 * 1024 * 1024,
            },
            "HubOAuth": {"api_token": "unused", "api_url": "http://127.0.0.1:9/hub/api"},
        }
    )
    ConsortiumService.clear_instance()
    service = ConsortiumService(config=config)
    service.initialize([])
    await service.start_server()
    yield service, f"http://127.0.0.1:{port}/consortium/"
    await service.stop()


async def put(url: str, month: str, body: bytes, token: str) -> tuple[int, dict | None]:
    """(status, JSON answer); (0, None) when the service closed the connection instead."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

    request = HTTPRequest(
        url + f"api/v1/summaries/{month}",
        method="PUT",
        body=body,
        headers={"Authorization": f"Bearer {token}"},
        request_timeout=120,
    )
    try:
        r = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as e:
        if e.response is None:
            return 0, None
        answer = e.response.body
        try:
            return e.code, orjson.loads(answer)
        except orjson.JSONDecodeError:
            return e.code, None
    except OSError:  # reset while the body was still being sent
        return 0, None
    return r.code, orjson.loads(r.body)


async def test_a_month_end_document_is_validated_and_stored_whole(summaries):
    """500 communities x 31 days (the largest month a hub may send, 2.6 MB): stored in full;
    the same with one bad figure in its very last day: 400 with where it is, nothing
    written."""
    service, url = summaries
    store = service.store
    token = store.create_credential("big", "test", NOW)[1]
    names = [f"community-{i:03}" for i in range(500)]
    big = document("big", 1, names, 31)
    code, answer = await put(url, "2026-03", orjson.dumps(big), token)
    assert (code, answer["result"]) == (200, "stored"), answer
    stored = rows(store, "big")
    assert len(stored["consortium_months"]) == 500
    assert len(days(store, "big")) == 500 * 31
    bad = document("big", 2, names, 31)
    bad["communities"][0]["days"][0]["figures"]["active_day"] = 1  # a real change
    bad["communities"][-1]["days"][-1]["figures"]["activated"] = -1
    code, answer = await put(url, "2026-03", orjson.dumps(bad), token)
    assert code == 400, answer
    assert "communities/499/days/30/figures/activated" in answer["message"], answer
    assert rows(store, "big") == stored
    with store.engine.connect() as conn:
        assert conn.execute(select(ct.hub_months.c.sequence)).scalars().all() == [1]


async def test_bodies_that_are_not_summaries_are_refused_and_write_nothing(summaries):
    service, url = summaries
    store = service.store
    token = store.create_credential("odd", "test", NOW)[1]
    valid = orjson.dumps(document("odd", 1, ["a"], 3))
    refused = {
        "not JSON": (valid[:-1], 400, "JSON"),
        "a JSON list": (b"[1, 2]", 400, "summary"),
        "days of another month": (valid.replace(b"2026-03-03", b"2026-04-03"), 400, "summary"),
        "another hub's": (orjson.dumps(document("even", 1, ["a"], 3)), 403, "odd"),
    }
    for name, (body, status, words) in refused.items():
        code, answer = await put(url, "2026-03", body, token)
        assert code == status and answer and words in answer["message"], (name, code, answer)
    # larger than max_body_bytes (valid JSON, padded): refused before it is read, or the
    # connection closed while it was still being sent
    padded = valid[:-1] + b" " * service.max_body_bytes + b"}"
    code, answer = await put(url, "2026-03", padded, token)
    assert code == 0 or 400 <= code < 500, (code, answer)
    with store.engine.connect() as conn:
        for table in (ct.hub_months, ct.months, ct.hub_totals):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
    # and the service goes on: the valid document is stored
    code, answer = await put(url, "2026-03", valid, token)
    assert (code, answer["result"]) == (200, "stored"), answer


async def test_a_parsing_process_that_dies_costs_one_retry_and_nothing_else(summaries):
    """The service parses summaries in a process of its own: killed (as by the kernel out
    of memory), the request in flight is answered 503 (the hub's publisher
    sends it again), nothing is written, and the next one is parsed by a new process."""
    import os
    import signal

    from harness.waiting import wait_until

    service, url = summaries
    store = service.store
    token = store.create_credential("dies", "test", NOW)[1]
    code, answer = await put(url, "2026-03", orjson.dumps(document("dies", 1, ["a"], 3)), token)
    assert (code, answer["result"]) == (200, "stored"), answer
    before = rows(store, "dies"), days(store, "dies")
    pool = service.parse_executor
    for pid in list(pool._processes):  # started by the first document
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: pool._broken, timeout=30, what="the pool to see its process gone")
    again = orjson.dumps(document("dies", 2, ["a"], 4))
    code, answer = await put(url, "2026-03", again, token)
    assert code == 503 and "again" in answer["message"], (code, answer)
    assert (rows(store, "dies"), days(store, "dies")) == before
    assert service.parse_executor is not pool
    code, answer = await put(url, "2026-03", again, token)
    assert (code, answer["result"]) == (200, "stored"), answer
    assert len(days(store, "dies")) == 4
