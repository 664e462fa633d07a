"""A month sent again is stored by writing only the days that changed: the rows it leaves
are those of the same document stored afresh (latest version wins, never a sum)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import select

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
        for table in (ct.days, ct.months, ct.hub_totals):
            columns = [c for c in table.c if c.name != "hub"]
            query = select(*columns).where(table.c.hub == hub)
            out[table.name] = sorted(tuple(r) for r in conn.execute(query))
    return out


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
    days = rows(store, "again")["consortium_days"]
    assert len(days) == 10 + 9
    assert ("a", datetime(2026, 3, 4).date(), False, 99, 14, 20, 0, 6) in days
    totals = rows(store, "again")["consortium_hub_totals"]
    assert [t[1] for t in totals] == [2]  # two communities, not three: nothing summed
    engine.dispose()
