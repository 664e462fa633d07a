"""Two hubs' catalyst services on one PostgreSQL database, as a consortium runs them."""

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, func, select, text

from catalyst_hub.pytest_plugin import POSTGRES_URL, missing
from catalyst_hub.store import tables as t
from harness.realhub import RealHub


@pytest.fixture
def shared_postgres():
    """A database of its own on the test PostgreSQL server, dropped afterwards."""
    name = f"catalyst_shared_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        missing(f"PostgreSQL is not reachable at {POSTGRES_URL}: {e}")
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def event(action: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "schema": "action",
        "version": 1,
        "time": datetime.now(timezone.utc).isoformat(),
        "payload": {"action": action},
    }


def test_two_services_share_one_database(tmp_path, shared_postgres):
    andes = RealHub(
        tmp_path / "andes", users={"ana": "a"}, db_url=shared_postgres, hub_name="andes"
    )
    sahel = RealHub(
        tmp_path / "sahel", users={"ana": "b"}, db_url=shared_postgres, hub_name="sahel"
    )
    with andes, sahel:
        # the same username on two hubs is two members, each seen only by their own hub
        andes.decide("ana")
        sahel.decide("ana")
        r = andes.service_post("api/events", andes.token("ana"), json=[event("cell_executed")])
        assert r.status_code == 200, r.text
        r = sahel.service_post("api/events", sahel.token("ana"), json=[event("git_cloned")])
        assert r.status_code == 200, r.text
        on_andes = {
            s["id"]: s["state"]
            for s in andes.service_get("api/me", andes.token("ana")).json()["steps"]
        }
        on_sahel = {
            s["id"]: s["state"]
            for s in sahel.service_get("api/me", sahel.token("ana")).json()["steps"]
        }
        assert on_andes["run_code"] == "done" and on_andes["use_git"] != "done"
        assert on_sahel["use_git"] == "done" and on_sahel["run_code"] != "done"

    # a consortium reads both hubs together from the one database
    engine = create_engine(shared_postgres.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        per_hub = dict(
            conn.execute(
                select(t.member_steps.c.hub, func.count())
                .where(t.member_steps.c.step.in_(["run_code", "use_git"]))
                .group_by(t.member_steps.c.hub)
            ).all()
        )
        members = conn.execute(select(t.identities.c.hub, t.identities.c.member_id)).all()
    engine.dispose()
    assert per_hub == {"andes": 1, "sahel": 1}
    assert len({member_id for _, member_id in members}) == len(members) >= 2
