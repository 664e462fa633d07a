"""Badges issued, an optional figure of a hub's summary: stored per community and month,
added up in the funder report over the communities that show it, a hidden one counted as
hidden, a hub that sends none (older than badges) neither."""

from __future__ import annotations

from datetime import datetime

import pytest

from catalyst_hub.consortium.reports import funder
from catalyst_hub.consortium.store import ConsortiumStore, upgrade, validate_summary
from catalyst_hub.store.engine import make_engine

pytestmark = pytest.mark.postgres

HIDDEN = {"suppressed": True, "fewer_than": 5}
FIGURES = {
    "members": 12,
    "active_members": 9,
    "mean_dau": 3.5,
    "new_members": 2,
    "activated_in_period": 5,
    "learners": 6,
    "episodes_completed": 20,
    "champions_trained": 0,
    "sessions": 40,
    "server_hours": 51.5,
}


def summary(hub: str, badges: list) -> dict:
    """A month of ``hub``: a community per item of ``badges`` (its figure, or None: not sent)."""
    communities = []
    for i, issued in enumerate(badges):
        figures = dict(FIGURES) if issued is None else {**FIGURES, "badges_issued": issued}
        communities.append(
            {
                "community": f"c{i}",
                "month": "2026-11",
                "through": "2026-11-30",
                "provisional": False,
                "figures": figures,
                "steps": {},
                "apps": {},
                "days": [],
            }
        )
    doc = {
        "schema": "catalyst.consortium.summary",
        "version": 1,
        "hub": hub,
        "sequence": 1,
        "generated": "2026-12-01T00:00:00Z",
        "month": "2026-11",
        "min_group_size": 5,
        "communities": communities,
    }
    validate_summary(doc, "2026-11")
    return doc


@pytest.fixture
def consortium_store(consortium_db_url):
    engine = make_engine(consortium_db_url)
    upgrade(engine)
    yield ConsortiumStore(engine)
    engine.dispose()


def test_badges_issued_are_stored_and_in_the_funder_report(consortium_store):
    store, now = consortium_store, datetime(2026, 12, 1)
    assert store.store_summary("andes", summary("andes", [7, HIDDEN]), now) == "stored"
    # a hub older than badges: its communities send no such figure
    assert store.store_summary("sahel", summary("sahel", [None]), now) == "stored"
    rows = {(r["hub"], r["community"]): r for r in store.month_rows(datetime(2026, 11, 1).date())}
    assert rows["andes", "c0"]["badges_issued"] == 7
    assert rows["andes", "c1"]["badges_issued"] is None
    assert rows["sahel", "c0"]["badges_issued"] is None
    hubs = {"andes": {"region": "South America"}, "sahel": {"region": "West Africa"}}
    [table] = funder(store, 2026, 4, hubs, lambda s, **kw: s.format(**kw))
    column = [c.key for c in table.columns].index("badges_issued")
    assert table.columns[column].label == "Badges issued"
    hidden = [c.key for c in table.columns].index("hidden")
    by_region = {row[0]: row for row in table.rows}
    assert by_region["South America"][column] == 7
    assert by_region["West Africa"][column] == 0
    assert by_region["All regions"][column] == 7
    # the hidden one is counted as hidden; a figure not sent is not
    assert by_region["South America"][hidden] == 1
    assert by_region["West Africa"][hidden] == 0


def test_the_funder_report_of_an_empty_quarter(consortium_store):
    [table] = funder(consortium_store, 2026, 4, {}, lambda s, **kw: s.format(**kw))
    assert len(table.rows) == 1 and len(table.rows[0]) == len(table.columns)
