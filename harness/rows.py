"""What a test compares to prove that a refused request wrote nothing."""

from __future__ import annotations

from sqlalchemy import select

from catalyst_hub.store import Store
from catalyst_hub.store import tables as t


def snapshot(store: Store) -> dict[str, list[str]]:
    """Every row of ``store``'s hub, table by table."""
    out = {}
    with store.connect() as conn:
        for table in t.metadata.sorted_tables:
            if "hub" in table.c:
                rows = conn.execute(select(table).where(table.c.hub == store.hub)).all()
                out[table.name] = sorted(repr(tuple(row)) for row in rows)
    return out
