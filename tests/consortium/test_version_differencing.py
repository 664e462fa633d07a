"""The open month read at several times: no two versions give a small count away.

A real hub's publisher sends its current month to a real consortium service again and
again, as newcomers arrive (two, then three more); after each send the test reads what
the consortium holds of that month, as staff would keep it. Between any two versions read,
each count of people shown is the same or differs by k or more; the figure the newcomers
change is hidden while they are fewer than k, and shown again once they are k.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import select

from catalyst_hub.consortium import tables as ct
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.timeutil import utcnow

pytestmark = pytest.mark.clock

K = 5
#: the month's figures that count people (the others are derived from them, or not people)
PEOPLE = (
    "members",
    "active_members",
    "new_members",
    "activated_in_period",
    "learners",
    "champions_trained",
)


def is_hidden(value: Any) -> bool:
    return isinstance(value, dict) and value.get("suppressed") is True


def read_month(consortium, hub: str, month) -> dict[tuple[str, str], Any]:
    """Every count of people the consortium holds of ``hub``'s ``month``, per (community,
    figure): its value, or None when hidden."""
    mo = ct.months.c
    with consortium.store.engine.connect() as conn:
        rows = conn.execute(
            select(mo.community, mo.detail, mo.days).where(mo.hub == hub, mo.month == month)
        ).all()
    out: dict[tuple[str, str], Any] = {}
    for community, detail, days in rows:
        sent = orjson.loads(detail)
        cells = {f: sent["figures"][f] for f in PEOPLE}
        cells |= {f"step/{s}": v for s, v in sent["steps"].items()}
        cells |= {f"app/{a}": v["members"] for a, v in sent["apps"].items()}
        for day, _provisional, *figures in orjson.loads(days):
            cells |= {f"{day}/{f}": v for f, v in zip(ct.DAY_COLUMNS, figures, strict=True)}
        for name, value in cells.items():
            out[(community, name)] = None if is_hidden(value) else value
    return out


def arrive(hub, community: str, names: list[str], make_event) -> None:
    # now, not a moment before it: the month the test reads (a second before midnight
    # UTC would be yesterday's, maybe last month's)
    now = utcnow()
    ingestor = Ingestor(hub.store)
    for name in names:
        member = hub.store.member_id(f"{name}@example.org")
        event = make_event("action", {"action": "logged_in"}, time=now)
        stored, results = ingestor.ingest([event], Sender(member, community))
        assert stored, [r.to_json() for r in results]


async def test_versions_of_the_open_month_differ_by_nothing_or_by_k(
    consortium, make_publishing_hub, make_event
):
    andes = await make_publishing_hub(consortium, "andes", k=K)
    assert await andes.publisher.run_once(full=True) >= 1
    month = utcnow().date().replace(day=1)
    first = read_month(consortium, andes.name, month)
    # a community whose members the first version shows
    community = sorted(c for (c, f), v in first.items() if f == "members" and v is not None)[0]
    versions = [first]
    for batch in (["new-1", "new-2"], ["new-3", "new-4", "new-5"]):
        arrive(andes, community, batch, make_event)
        assert await andes.publisher.run_once() >= 1
        versions.append(read_month(consortium, andes.name, month))
    members = [v[(community, "members")] for v in versions]
    # two more: within k of the first version's figure, hidden; five more: shown again
    assert members[1] is None, members
    assert members[2] == members[0] + 5, members
    for cell in sorted(set().union(*versions)):
        values = [v.get(cell) for v in versions]
        shown = [x for x in values if x is not None]
        for i, a in enumerate(shown):
            for b in shown[i + 1 :]:
                assert a == b or abs(a - b) >= K, (cell, values)
    # nothing sent again when nothing changed
    assert await andes.publisher.run_once() == 0
