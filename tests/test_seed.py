"""``catalyst-hub seed``: a tiny consortium through the bulk and the ingest paths gives the
same log and the same projections, and a rebuild gives them again (SQLite and PostgreSQL)."""

from collections import Counter
from datetime import date

from sqlalchemy import func, select

from catalyst_hub.catalog import Catalog
from catalyst_hub.projections import Projector
from catalyst_hub.seed import Consortium, catalog_episodes, seed_store
from catalyst_hub.store import Store, make_engine
from catalyst_hub.store import tables as t


def plan(hub: str) -> Consortium:
    return Consortium(
        communities=2,
        members=20,
        days=60,
        events=2000,
        seed=7,
        end=date(2026, 6, 30),
        episodes=catalog_episodes(Catalog.load()),
        hub=hub,
    )


def snapshot(store: Store) -> dict[str, list[tuple]]:
    with store.connect() as conn:
        tables = {
            table.name: sorted(
                tuple(row) for row in conn.execute(select(table).where(table.c.hub == store.hub))
            )
            for table in t.PROJECTION_TABLES
        }
        tables["events"] = sorted(
            conn.execute(
                select(
                    t.events.c.id, t.events.c.member_id, t.events.c.schema, t.events.c.time
                ).where(t.events.c.hub == store.hub)
            ).all()
        )
    return tables


def test_the_plan_is_deterministic_and_shaped():
    events = list(plan("h").generate())
    assert len(events) == 2000
    assert events == list(plan("h").generate())
    assert len({e[1] for e in events}) == 2000  # unique ids
    schemas = Counter(e[2] for e in events)
    assert {"activity", "action", "server_started", "server_stopped", "consent"} <= set(schemas)
    assert schemas["exercise_completed"] > 0
    # onboarding drop-off: fewer members reach each later onboarding action
    actions = Counter(
        payload["action"] for _, _, schema, _, payload in events if schema == "action"
    )
    assert actions["logged_in"] >= actions["file_uploaded"] >= actions["git_cloned"] > 0


def test_bulk_and_ingest_paths_agree_and_rebuild(catalyst_db_url, catalyst_hub_name):
    engine = make_engine(catalyst_db_url)
    secret = b"seed-test-secret-" + b"0" * 32
    try:
        bulk = Store(engine, catalyst_hub_name + "-b", secret, Projector(Catalog.load()))
        ingest = Store(engine, catalyst_hub_name + "-i", secret, Projector(Catalog.load()))
        assert seed_store(bulk, plan(bulk.hub), "bulk", batch_size=300, quiet=True) == 2000
        assert seed_store(ingest, plan(ingest.hub), "ingest", batch_size=50, quiet=True) == 2000
        with bulk.connect() as conn:
            for store in (bulk, ingest):
                count = conn.execute(
                    select(func.count()).select_from(t.events).where(t.events.c.hub == store.hub)
                ).scalar_one()
                assert count == 2000
                identities = conn.execute(
                    select(func.count())
                    .select_from(t.identities)
                    .where(t.identities.c.hub == store.hub)
                ).scalar_one()
                assert identities == 20

        live_bulk, live_ingest = snapshot(bulk), snapshot(ingest)
        assert {name: len(rows) for name, rows in live_bulk.items()} == {
            name: len(rows) for name, rows in live_ingest.items()
        }
        assert all(
            live_bulk[name]
            for name in ("members", "member_steps", "daily_activity", "server_sessions")
        )
        assert live_bulk["training_progress"]
        for store, live in ((bulk, live_bulk), (ingest, live_ingest)):
            assert store.rebuild() == 2000
            assert snapshot(store) == live
    finally:
        engine.dispose()


def test_ingest_path_members_equal_rebuild(catalyst_db_url, catalyst_hub_name):
    engine = make_engine(catalyst_db_url)
    try:
        store = Store(
            engine, catalyst_hub_name, b"seed-test-secret-" + b"0" * 32, Projector(Catalog.load())
        )
        seed_store(store, plan(store.hub), "ingest", batch_size=50, quiet=True)
        live = snapshot(store)["members"]
        store.rebuild()
        assert snapshot(store)["members"] == live
    finally:
        engine.dispose()
