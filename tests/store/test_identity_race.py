"""The first sight of a person by many threads at once records one identity, and every
thread gets the same member id (PostgreSQL once raised UniqueViolation on member_id)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from catalyst_hub.store import tables as t

THREADS = 16


def test_concurrent_first_sights_record_one_identity(catalyst_store):
    store = catalyst_store
    for round_ in range(100):
        name = f"new-{round_}@example.org"
        start = threading.Barrier(THREADS)

        def first_sight(name, start):
            start.wait()  # every thread asks at the same instant
            return store.member_id(name)

        with ThreadPoolExecutor(THREADS) as pool:
            ids = list(pool.map(first_sight, [name] * THREADS, [start] * THREADS))
        assert ids == [store.pseudonym(name)] * THREADS
        with store.connect() as conn:
            rows = conn.execute(
                select(func.count()).where(
                    t.identities.c.hub == store.hub, t.identities.c.username == name
                )
            ).scalar_one()
        assert rows == 1
