"""Nothing a hub hid is worked out from the consortium's pages and exports, across months.

A hub of small communities, several months of members (seeded event by event), publishes
to a real consortium service. The attacker reads only what consortium staff (and anyone,
for a public page) can read: the overview of every month (regions, hubs, communities), the
trends, the funder report of every quarter, each community's page and the public page, in
JSON and CSV. It writes down every exact relation it knows between what it read (written
here, apart from the code under test: ``harness.differencing``):

- members grow by the new members: ``members(M) = members(M-1) + new_members(M)``, and in a
  community's first month ``members = new_members``;
- the days of a month add up to its new members (where the page lists all its days);
- totals (hubs, regions, months, quarters) are the sums of the figures shown: the attacker
  takes any difference from that as the sum of the hidden ones;

and checks that no hidden figure is determined. The true (unsuppressed) values come from
the hub's store, to know what was hidden and that every relation holds.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from typing import Any

import pytest

from catalyst_hub.consortium import tables as ct
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.reports import summary
from catalyst_hub.reports.summary import community_month
from catalyst_hub.service.publisher import Publisher
from catalyst_hub.timeutil import utcnow
from harness.differencing import Attack

pytestmark = pytest.mark.clock

K = 5
READ_ROLE = "consortium-staff"
#: new members per month, oldest first (four months before the current one, which has none):
#: "small" on today's main gives away its 2 (8 - 6), "late" its 1 (11 - 10)
NEW_MEMBERS = {
    "small": [6, 2, 7, 0],
    "late": [5, 5, 1, 6],
    "chain": [3, 4, 6, 5],
    "big": [12, 9, 8, 10],
}
#: the whole counts the consortium adds up (hours and means are not exact sums)
SUMMED = tuple(k for k in ct.SUMMED if k not in ct.FLOAT_COLUMNS)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def join(store, community: str, when: datetime, who: str, make_event) -> None:
    member = store.member_id(f"{who}@{community}.example.org")
    event = make_event("action", {"action": "logged_in"}, time=when)
    stored, results = Ingestor(store).ingest([event], Sender(member, community))
    assert stored, [r.to_json() for r in results]


def seed(store, make_event, news: dict[str, list[int]], first: date, tag: str = "") -> None:
    for community, counts in news.items():
        for i, n in enumerate(counts):
            month = add_months(first, i)
            for j in range(n):
                when = datetime(month.year, month.month, 10, 12, j, tzinfo=timezone.utc)
                join(store, community, when, f"m{i}-{j}{tag}", make_event)


def is_hidden(value: Any) -> bool:
    return isinstance(value, dict) and value.get("suppressed") is True


class Reader:
    """The consortium as a reader sees it: JSON tables, checked against their CSV."""

    def __init__(self, consortium, token: str | None) -> None:
        self.consortium, self.token = consortium, token

    async def tables(self, path: str, query: str = "") -> dict[str, list[dict[str, Any]]]:
        sep = "&" if query else ""
        r = await self.consortium.request("get", f"{path}.json?{query}", self.token)
        assert r.status_code == 200, (path, r.text)
        tables = r.json()["tables"]
        for table, rows in tables.items():
            c = await self.consortium.request(
                "get", f"{path}?{query}{sep}format=csv&table={table}", self.token
            )
            assert c.status_code == 200, (path, table, c.text)
            got = list(csv.DictReader(io.StringIO(c.text.lstrip("\ufeff"))))
            assert len(got) == len(rows), (path, table)
            for row, text in zip(rows, got, strict=True):
                for key, value in row.items():
                    if is_hidden(value):
                        assert text[key] == "hidden", (path, table, key, text[key])
                    elif isinstance(value, int | float) and not isinstance(value, bool):
                        assert float(text[key]) == pytest.approx(value), (path, table, key)
        return tables


def cell(value: Any) -> float | None:
    return None if is_hidden(value) else value


async def read_everything(consortium, hub, months: list[date], public: list[str]):
    """Every figure of ``hub``'s communities a reader knows: {name: value or None}, the
    relations (each {name: coefficient} = 0), and the hidden names."""
    staff = Reader(consortium, consortium.token(f"staff-{utcnow().timestamp()}", [READ_ROLE]))
    anyone = Reader(consortium, None)
    display = consortium.service.hubs[hub.name]["name"]
    known: dict[Any, float | None] = {}
    relations: list[dict[Any, float]] = []
    present: dict[str, list[date]] = {}

    def note(name: Any, value: Any) -> Any:
        v = cell(value)
        if name in known and known[name] is not None and v is not None:
            assert known[name] == pytest.approx(v), (name, known[name], v)
        if name not in known or known[name] is None:
            known[name] = v
        return name

    def total(name: Any, value: float, parts: list[Any], hidden: int | None = None) -> None:
        """A total "of the figures shown": the reader checks it is, and says how many are
        hidden; were it more than the shown parts, the rest would be the hidden ones' sum."""
        known[name] = value
        shown = [p for p in parts if known[p] is not None]
        if hidden is not None:
            assert hidden == len(parts) - len(shown), (name, hidden, parts)
        beyond = value - sum(known[p] for p in shown)
        terms: dict[Any, float] = {name: 1}
        for p in parts if abs(beyond) > 1e-9 else shown:
            terms[p] = terms.get(p, 0) - 1
        relations.append(terms)

    hub_cells: dict[tuple[date, str], list[Any]] = {}
    for month in months:
        label = month.isoformat()[:7]
        tables = await staff.tables("overview", f"month={label}")
        for row in tables["communities"]:
            if row["hub"] != display:
                continue
            c = row["community"]
            present.setdefault(c, []).append(month)
            for key in ct.MONTH_COLUMNS:
                name = note(("month", c, month, key), row[key])
                if key in SUMMED:
                    hub_cells.setdefault((month, key), []).append(name)
        # this consortium has one hub: its region's total and the month's are the hub's
        (hub_row,) = [row for row in tables["hubs"] if row["hub"] == display]
        (region_row,) = tables["regions"]
        hidden_here = 0
        for key in SUMMED:
            parts = hub_cells.get((month, key), [])
            hidden_here += sum(known[p] is None for p in parts)
            total(("hub", month, key), hub_row[key], parts)
            total(("region", month, key), region_row[key], parts)
        assert hub_row["hidden"] == region_row["hidden"] >= hidden_here
    trends = await staff.tables("trends")
    for row in trends["months"]:
        month = date.fromisoformat(row["month"] + "-01")
        if month in months:
            for key in SUMMED:
                total(("trend", month, key), row[key], hub_cells.get((month, key), []))
    quarters = sorted({(m.year, (m.month - 1) // 3 + 1) for m in months})
    for year, q in quarters:
        tables = await staff.tables("funder", f"quarter={year}-Q{q}")
        in_quarter = [m for m in months if (m.year, (m.month - 1) // 3 + 1) == (year, q)]
        for row in tables["funder"]:
            for key in ("activated_in_period", "champions_trained", "episodes_completed"):
                parts = [p for m in in_quarter for p in hub_cells.get((m, key), [])]
                total(("funder", row["region"], year, q, key), row[key], parts)
            for m in in_quarter:
                column = f"active_{m.isoformat()[:7]}"
                parts = hub_cells.get((m, "active_members"), [])
                total(("funder", row["region"], m, "active"), row[column], parts)
    for community, seen in present.items():
        pages = [staff.tables(f"hubs/{hub.name}/{community}")]
        if community in public:
            pages.append(anyone.tables(f"public/{hub.name}/{community}"))
        for page in pages:
            tables = await page
            for row in tables["months"]:
                month = date.fromisoformat(row["month"] + "-01")
                for key in ct.MONTH_COLUMNS:
                    note(("month", community, month, key), row[key])
            days: dict[date, list[Any]] = {}
            for row in tables["days"]:
                day = date.fromisoformat(row["day"])
                name = note(("day", community, day, "new_members"), row["new_members"])
                days.setdefault(day.replace(day=1), []).append((day, name))
            for month, listed in days.items():
                through = max(d for d, _ in listed)
                if {d.day for d, _ in listed} == set(range(1, through.day + 1)) and (month in seen):
                    # every day of the month (so far) is listed: they add up to the month
                    terms: dict[Any, float] = {("month", community, month, "new_members"): 1}
                    for _, n in listed:
                        terms[n] = -1
                    relations.append(terms)
        for i, month in enumerate(seen):
            terms = {
                ("month", community, month, "members"): 1,
                ("month", community, month, "new_members"): -1,
            }
            if i:  # the months follow each other: seen lists every month since the first
                assert seen[i - 1] == add_months(month, -1)
                terms[("month", community, seen[i - 1], "members")] = -1
            relations.append(terms)
    return known, relations


def truth(store, known: dict[Any, Any], today: date) -> dict[Any, float]:
    """The unsuppressed values of the community figures the reader names."""
    out: dict[Any, float] = {}
    cache: dict[tuple[str, date], Any] = {}
    for name in known:
        if name[0] not in ("month", "day"):
            continue
        _, community, when, key = name
        month = when.replace(day=1)
        if (community, month) not in cache:
            cache[(community, month)] = community_month(store, community, month, today)
        data = cache[(community, month)]
        out[name] = data.month[key] if name[0] == "month" else data.days[when][key]
    return out


def attack(known, relations, true: dict[Any, float]) -> dict[Any, Any]:
    """The hidden figures the relations give away, with the value found and the truth."""
    # every relation holds with the true values (else the attacker would be guessing)
    for terms in relations:
        values = {n: true.get(n, known.get(n)) for n in terms}
        assert sum(c * values[n] for n, c in terms.items()) == pytest.approx(0), terms
    a = Attack()
    for terms in relations:
        a.relation(terms, known)
    assert not a.inconsistent, a.inconsistent
    return {n: (v, true.get(n)) for n, v in a.determined().items()}


async def publish_and_attack(consortium, hub, first: date, public: list[str]):
    today = utcnow().date()
    months = summary.months_between(first, summary.month_of(today))
    known, relations = await read_everything(consortium, hub, months, public)
    true = truth(hub.store, known, today)
    hidden = [n for n, v in known.items() if v is None]
    assert hidden, "nothing hidden: the seed is too large to attack"
    for n, v in known.items():
        if v is not None and n in true:
            assert v == pytest.approx(true[n]), n  # shown as it is on the hub
    return attack(known, relations, true), hidden


async def test_no_hidden_figure_is_recovered_across_months(
    consortium, make_publishing_hub, make_event
):
    hub = await make_publishing_hub(
        consortium, "xmonth", "Xmonth", "Somewhere", events=0, k=K, public=("small",)
    )
    first = add_months(summary.month_of(utcnow().date()), -len(NEW_MEMBERS["small"]))
    seed(hub.store, make_event, NEW_MEMBERS, first)
    assert await hub.publisher.run_once(full=True) >= 4
    leaks, hidden = await publish_and_attack(consortium, hub, first, ["small"])
    assert not leaks, leaks
    hidden_new = {n[1:3] for n in hidden if n[0] == "month" and n[3] == "new_members"}
    assert ("small", add_months(first, 1)) in hidden_new  # the 2 is hidden, and stays so

    # three late newcomers of an old month (beyond the previous one): an incremental pass
    # sends it again, and the months after it whose decision changed
    late = add_months(first, 0)
    assert late < add_months(summary.month_of(utcnow().date()), -1)
    seed(hub.store, make_event, {"big": [3]}, late, tag="-late")
    seed(hub.store, make_event, {"late": [4]}, add_months(first, 2), tag="-late")
    assert await hub.publisher.run_once() >= 2
    leaks, hidden = await publish_and_attack(consortium, hub, first, ["small"])
    assert not leaks, leaks
    assert await hub.publisher.run_once() == 0  # nothing changed since: nothing sent
    # what the incremental passes sent is what a full pass of a new publisher computes
    fresh = Publisher(parent=hub.service, app=hub.service)
    try:
        assert await fresh.run_in_thread(fresh.queue_changes, True) == []
    finally:
        await fresh.stop()


async def test_a_month_that_cannot_keep_its_history_hides_it_and_the_history_follows(
    consortium, make_publishing_hub, make_event
):
    """Fail closed: a history that says shown for a figure the month's table must hide
    (here: a new_members of 2, told shown) is decided again with it hidden."""
    hub = await make_publishing_hub(consortium, "xmonth", events=0, k=K)
    first = add_months(summary.month_of(utcnow().date()), -2)
    seed(hub.store, make_event, {"small": [6, 2]}, first)
    today = utcnow().date()
    histories = summary.member_histories(hub.store, K, today)
    second = add_months(first, 1)
    told = histories["small"]
    told.hidden[second] = {"members": False, "new_members": False}
    document = summary.month_summary(hub.store, second, K, today=today, histories=histories)
    (small,) = document["communities"]
    assert is_hidden(small["figures"]["new_members"])
    again = histories["small"]
    assert again is not told and ("new_members", second) in again.forced
    assert again.hidden[second]["new_members"] and again.hidden[second]["members"]
    # a decision that hides more changes the document, so its fingerprint
    right = summary.month_summary(hub.store, second, K, today=today)
    histories = summary.member_histories(hub.store, K, today)
    histories["small"].hidden[first] = {"members": True, "new_members": True}
    more = summary.month_summary(hub.store, first, K, today=today, histories=histories)
    assert summary.fingerprint(more) != summary.fingerprint(
        summary.month_summary(hub.store, first, K, today=today)
    )
    assert summary.fingerprint(right) == summary.fingerprint(document)
