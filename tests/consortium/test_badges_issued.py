"""Badges issued, an optional figure of a hub's summary: stored per community and month,
added up in the funder report, the overview (per hub, region and community) and the trends
over the communities that show it, a hidden one counted as hidden, a hub that sends none
(older than badges) neither; in the exports and the Prometheus metrics (a hidden or unsent
figure absent). The overview links the communities with a public page to it."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime

import pytest

from catalyst_hub.consortium.app import _metrics_text
from catalyst_hub.consortium.reports import community_report, funder, overview, trends
from catalyst_hub.consortium.store import ConsortiumStore, upgrade, validate_summary
from catalyst_hub.reports.common import Suppressed
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


def summary(
    hub: str, badges: list, month: str = "2026-11", public: tuple = (), sequence: int = 1
) -> dict:
    """A month of ``hub``: a community per item of ``badges`` (its figure, or None: not sent),
    those named in ``public`` with a public page."""
    communities = []
    for i, issued in enumerate(badges):
        figures = dict(FIGURES) if issued is None else {**FIGURES, "badges_issued": issued}
        communities.append(
            {
                "community": f"c{i}",
                "month": month,
                "through": f"{month}-28",
                "provisional": False,
                "public": f"c{i}" in public,
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
        "sequence": sequence,
        "generated": "2026-12-01T00:00:00Z",
        "month": month,
        "min_group_size": 5,
        "communities": communities,
    }
    validate_summary(doc, month)
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


HUBS = {"andes": {"name": "Andes", "region": "South America"}, "sahel": {"region": "West Africa"}}


def gettext(text: str, **values) -> str:
    return text.format(**values)


def column(table, key: str) -> list:
    index = [c.key for c in table.columns].index(key)
    return [row[index] for row in table.rows]


@pytest.fixture
def published(consortium_store):
    """November: andes sends 7 and a hidden count (c1 public), sahel (older) sends none.
    October: andes sends 3 and 4, c0 public then (no longer: its latest month is November)."""
    store, now = consortium_store, datetime(2026, 12, 1)
    october = summary("andes", [3, 4], month="2026-10", public=("c0",))
    assert store.store_summary("andes", october, now) == "stored"
    november = summary("andes", [7, HIDDEN], public=("c1",), sequence=2)
    assert store.store_summary("andes", november, now) == "stored"
    assert store.store_summary("sahel", summary("sahel", [None]), now) == "stored"
    return store


def test_badges_in_the_overview(published):
    regions, hubs, communities = overview(published, date(2026, 11, 1), HUBS, gettext)
    for table in (regions, hubs):
        names = column(table, table.columns[0].key)
        assert dict(zip(names, column(table, "badges_issued"), strict=True)) == {
            "South America" if table is regions else "Andes": 7,
            "West Africa" if table is regions else "sahel": 0,
        }
        # andes's hidden count is one more figure hidden, sahel's unsent one is not
        assert column(table, "hidden") == [1, 0]
    assert [c.label for c in communities.columns if c.key == "badges_issued"] == ["Badges issued"]
    rows = list(zip(column(communities, "hub"), column(communities, "community"), strict=True))
    by_row = dict(zip(rows, column(communities, "badges_issued"), strict=True))
    assert by_row[("Andes", "c0")] == 7
    assert isinstance(by_row[("Andes", "c1")], Suppressed)
    assert by_row[("sahel", "c0")] is None  # not sent: "—", not hidden
    # JSON and CSV: the number, {"suppressed": true} for the hidden one, null / empty unsent
    records = {(r["hub"], r["community"]): r["badges_issued"] for r in communities.records()}
    assert records == {
        ("Andes", "c0"): 7,
        ("Andes", "c1"): {"suppressed": True},
        ("sahel", "c0"): None,
    }
    lines = communities.csv().splitlines()
    header = lines[0].split(",")
    csv_cells = [line.split(",")[header.index("badges_issued")] for line in lines[1:]]
    assert csv_cells == ["7", "hidden", ""]
    # c1's latest month is public: linked; c0 was public in October only: not linked
    linked = {rows[i]: path for i, path in communities.links.items()}
    assert linked == {("Andes", "c1"): "public/andes/c1"}


def test_badges_in_the_trends_and_the_community_page(published):
    table, _ = trends(published, date(2026, 11, 1), 3, HUBS, gettext)
    assert column(table, "month") == ["2026-09", "2026-10", "2026-11"]
    assert column(table, "badges_issued") == [0, 7, 7]
    assert column(table, "hidden") == [0, 0, 1]
    tables, _rows = community_report(published, "andes", "c1", gettext)
    assert column(tables[0], "month") == ["2026-10", "2026-11"]
    assert column(tables[0], "badges_issued")[0] == 4
    assert isinstance(column(tables[0], "badges_issued")[1], Suppressed)
    tables, _rows = community_report(published, "sahel", "c0", gettext)
    assert column(tables[0], "badges_issued") == [None]


def test_badges_in_the_metrics(published):
    text = _metrics_text(published, HUBS).decode()
    assert "# TYPE consortium_badges_issued gauge" in text
    series = re.findall(r"^consortium_badges_issued\{(.*)\} (\S+)$", text, re.M)
    # hidden (andes c1) and not sent (sahel): absent, never 0
    assert series == [('community="c0",hub="andes",region="South America"', "7.0")]


async def test_an_older_hubs_month_renders_everywhere(consortium):
    """A hub older than badges: every page, export and the metrics take its month, the
    figure shown as "—" (not hidden, not 0) and absent from the metrics."""
    hub = f"old-{uuid.uuid4().hex[:6]}"
    old = summary(hub, [None], public=("c0",))
    assert consortium.store.store_summary(hub, old, datetime(2026, 12, 1)) == "stored"
    staff = consortium.token("staff", roles=["consortium-staff"])
    for path in ("?month=2026-11", f"hubs/{hub}/c0", f"public/{hub}/c0", "trends"):
        r = await consortium.request("get", path, staff)
        assert r.status_code == 200, (path, r.text)
        # the community's row (the overview's totals above it add up to 0)
        table = r.text[r.text.find('id="table-communities"') :] if path[0] == "?" else r.text
        cell = re.search(r'<td data-key="badges_issued"[^>]*>([^<]*)</td>', table)
        assert cell, path
        if path != "trends":
            assert cell.group(1) == "—", path
    r = await consortium.request("get", ".json?month=2026-11", staff)
    [row] = [c for c in r.json()["tables"]["communities"] if c["community"] == "c0"]
    assert row["badges_issued"] is None
    r = await consortium.request("get", f"hubs/{hub}/c0.csv?table=months", staff)
    assert r.status_code == 200 and "badges_issued" in r.text.splitlines()[0]
    r = await consortium.request("get", "metrics", staff)
    assert r.status_code == 200 and "consortium_members{" in r.text
    assert f'hub="{hub}"' not in "\n".join(
        line for line in r.text.splitlines() if line.startswith("consortium_badges_issued{")
    )
