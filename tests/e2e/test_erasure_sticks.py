"""Erasure and opt-out stick on a real hub: the collector polling every second, a real
single-user server that keeps running, and a restart of the hub and its managed service
(which forgets everything it held in memory), on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select

from catalyst_hub.identity import load_or_create_secret, member_id
from catalyst_hub.store import tables as t
from harness.realhub import RealHub
from harness.waiting import wait_until

pytestmark = pytest.mark.e2e

ERASED, OPTED_OUT, WITNESS = "ana@example.org", "cleo@example.org", "ben@example.org"


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request, tmp_path):
    import contextlib

    from catalyst_hub.pytest_plugin import missing
    from harness import faults

    with contextlib.ExitStack() as stack:
        db_url = None
        if request.param == "postgresql":
            try:
                db_url = stack.enter_context(faults.postgres_database())
            except faults.Unavailable as e:
                missing(str(e))
        hub = RealHub(
            tmp_path / "hub",
            users={name: "pw" for name in (ERASED, OPTED_OUT, WITNESS)},
            db_url=db_url,
            # servers outlive a hub restart, so the restarted collector sees them running
            extra_hub_config="c.JupyterHub.cleanup_servers = False\n",
        )
        hub.start(timeout=120)
        stack.callback(hub.stop)
        yield hub
        for name in (ERASED, OPTED_OUT, WITNESS):
            hub.api("delete", f"users/{name}/server")


def counts(engine, hub_name: str, member: str) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.hub == hub_name, table.c.member_id == member)
            ).scalar_one()
            for table in (t.events, t.identities, t.members, t.server_sessions)
        }


def sessions(engine, hub_name: str, member: str, open_only: bool = False) -> int:
    s = t.server_sessions.c
    query = select(func.count()).where(s.hub == hub_name, s.member_id == member)
    if open_only:
        query = query.where(s.stopped.is_(None))
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def witness_polls(hub: RealHub, engine, witness: str) -> None:
    """Proof that the collector polled: a new session of the witness, started now, recorded
    (and recorded as stopped)."""
    before = sessions(engine, hub.hub_name, witness)
    hub.start_server(WITNESS)
    wait_until(lambda: sessions(engine, hub.hub_name, witness) > before, 60, "a poll")
    hub.stop_server(WITNESS)
    wait_until(
        lambda: sessions(engine, hub.hub_name, witness, open_only=True) == 0,
        60,
        "another poll",
    )


def test_erased_and_opted_out_members_stay_so_over_polls_and_a_restart(hub):
    engine = create_engine(hub.db_url)
    secret = load_or_create_secret(hub.workdir / "catalyst" / "catalyst_hub_secret")
    ids = {name: member_id(secret, hub.hub_name, name) for name in (ERASED, OPTED_OUT, WITNESS)}
    tokens = {name: hub.token(name) for name in ids}
    for name in ids:
        hub.decide(name)
    for name in (ERASED, OPTED_OUT):
        hub.start_server(name)
        wait_until(lambda n=name: sessions(engine, hub.hub_name, ids[n]), 60, "the collector")

    r = hub.service_post("api/me/erase", tokens[ERASED], json={"confirm": True})
    assert r.status_code == 200, r.text
    r = hub.service_post("me/consent", tokens[OPTED_OUT], data={"decision": "withdrawn"})
    assert r.status_code == 200, r.text
    witness_polls(hub, engine, ids[WITNESS])
    # what is left of cleo once a poll has seen her decision: her record until then
    opted_out = counts(engine, hub.hub_name, ids[OPTED_OUT])
    assert opted_out["events"] > 0 and opted_out["identities"] == 1
    witness_polls(hub, engine, ids[WITNESS])
    assert counts(engine, hub.hub_name, ids[ERASED]) == dict.fromkeys(opted_out, 0)
    hub.restart()  # the service restarts with it, with none of its memory
    for _ in range(2):
        witness_polls(hub, engine, ids[WITNESS])

    erased = counts(engine, hub.hub_name, ids[ERASED])
    assert erased == {"events": 0, "identities": 0, "members": 0, "server_sessions": 0}
    assert counts(engine, hub.hub_name, ids[OPTED_OUT]) == opted_out
    with engine.connect() as conn:
        names = set(conn.execute(select(t.identities.c.username)).scalars())
    assert ERASED not in names and WITNESS in names
    engine.dispose()
