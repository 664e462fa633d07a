"""Nobody outside a community recovers a hidden figure from the ones shown.

Every view and export an unfiltered reports token (consortium staff) or a metrics token can
reach is read through the service, on a hub of small communities (1 to 4 members, exactly
k = 5, 12 with 3 activated, 20 with 17). Each view's cells are matched with their true
values (the report functions, unsuppressed) and attacked with what a reader knows of how
the figures relate, written here independently of the code under test:

- a count of 1 to k-1 people is never shown;
- no hidden count, and no difference of counts that counts 1 to k-1 people (members who are
  not activated, active in the 30 days but not the last 7, ...), is determined by the shown
  values: solved exactly as a linear system of the relations (sums, differences, chains);
- no shown percentage or rate has a hidden numerator or denominator, and no figure drawn
  from a hidden count (a mean, hours of too few people) is shown.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from html.parser import HTMLParser
from typing import Any

import pytest
from prometheus_client import generate_latest

import catalyst_hub.store  # noqa: F401  (loads before ingest: projections and store import each other)
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.reports.adoption import adoption
from catalyst_hub.reports.common import Period
from catalyst_hub.reports.funnel import funnel
from catalyst_hub.reports.metrics import metrics_registry
from catalyst_hub.reports.monthly import month_report
from catalyst_hub.reports.overview import community_totals
from catalyst_hub.reports.usage import usage, usage_totals
from harness.differencing import combination

K = 5
HIDDEN = "hidden"  # a cell shown suppressed, in any format

CATALOG = """
steps:
  - id: login
    title: {en: Log in}
    detect: [{schema: action, match: {action: logged_in}}]
  - id: run_code
    title: {en: Run code}
    detect: [{schema: action, match: {action: cell_executed}}]
training:
  programs:
    - id: p
      title: {en: Program}
      lessons:
        - id: basics
          title: {en: Basics}
          episodes:
            - id: one
              title: {en: One}
              self_report: true
"""

#: community: (members, activated, active in the last 7 days, first seen long ago, learners,
#: members with a server session)
COMMUNITIES = {
    "solo": (1, 1, 1, 0, 0, 1),
    "pair": (2, 1, 2, 0, 1, 1),
    "trio": (3, 2, 2, 1, 0, 3),
    "four": (4, 2, 3, 1, 1, 2),
    "five": (5, 4, 5, 0, 5, 5),
    "twelve": (12, 3, 10, 9, 6, 11),
    "big": (20, 17, 18, 0, 20, 15),
}


@pytest.fixture
def catalyst_hub_roles():
    return [
        {"name": "consortium", "scopes": ["custom:catalyst:reports"]},
        {"name": "scraper", "scopes": ["custom:catalyst:metrics"]},
    ]


@pytest.fixture
def catalyst_config(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    return {"CatalystApp": {"catalog_files": [str(path)]}, "CatalystService": {"min_group_size": K}}


def seed(store, make_event) -> None:
    """Every member is active in the last 30 days: the last 7 days (now) or 10 days ago;
    some were first seen 40 days ago (not new); the first ones are activated and learners,
    and most started a server before their last activity.
    Whole days from now, so every figure is the same at any hour of the day."""
    now = datetime.now(timezone.utc)
    ingestor = Ingestor(store)
    for community, (members, activated, recent, old, learners, sessions) in COMMUNITIES.items():
        for i in range(members):
            when = now if i < recent else now - timedelta(days=10)
            member = Sender(store.member_id(f"{community}-{i}"), community)
            # the member agreed to the notice (opt-in: nothing but sessions is recorded
            # before) at their first event
            first = when - timedelta(days=30 if i >= members - old else 0)
            if i < sessions:
                first = min(first, when - timedelta(hours=3))
            decision = {"decision": "given", "notice_version": store.notice_version}
            stored, results = ingestor.ingest([make_event("consent", decision, time=first)], member)
            assert stored, [r.to_json() for r in results]
            events = []
            if i >= members - old:
                events.append(
                    make_event("action", {"action": "logged_in"}, time=when - timedelta(days=30))
                )
            events.append(make_event("action", {"action": "logged_in"}, time=when))
            if i < activated:
                events.append(make_event("action", {"action": "cell_executed"}, time=when))
            if i < learners:
                events.append(
                    make_event(
                        "episode_completed", {"lesson": "basics", "episode": "one"}, time=when
                    )
                )
            # one in two used RStudio through the proxy, the others JupyterLab
            app = {"kind": "proxy", "app": "rstudio"} if i % 2 else {"kind": "kernel"}
            events.append(make_event("activity", {**app, "count": 1, "seconds": 60}, time=when))
            stored, results = ingestor.ingest(events, member)
            assert stored, [r.to_json() for r in results]
            if i < sessions:
                # a server session of an hour, ended two hours before the member's last
                # activity: in the last 24 hours for the recent ones, else 10 days ago
                start = when - timedelta(hours=3)
                started = start.isoformat().replace("+00:00", "Z")
                session = {"server_name": "", "started": started}
                stop = start + timedelta(hours=1)
                stopped = {**session, "last_activity": stop.isoformat().replace("+00:00", "Z")}
                events = [
                    make_event("server_started", session, time=start),
                    make_event("server_stopped", stopped, time=stop),
                ]
                stored, results = ingestor.ingest(events, replace(member, kind="collector"))
                assert stored, [r.to_json() for r in results]


# -- what a reader knows ------------------------------------------------------------------------


@dataclass
class View:
    """One view's cells (true value, value shown or HIDDEN or absent) and relations."""

    name: str
    true: dict[Any, Any]
    shown: dict[Any, Any]
    #: (whole, parts): whole = parts + a rest that counts people
    parts: list[tuple[Any, tuple[Any, ...]]] = field(default_factory=list)
    #: (total, parts): total = parts exactly
    sums: list[tuple[Any, tuple[Any, ...]]] = field(default_factory=list)
    #: (percent, numerator, denominator)
    ratios: list[tuple[Any, Any, Any]] = field(default_factory=list)
    #: (figure, inputs): a figure drawn from counts of people
    derived: list[tuple[Any, tuple[Any, ...]]] = field(default_factory=list)
    #: counts of people besides those in relations
    counts: set[Any] = field(default_factory=set)
    #: counts a figure is drawn from that the view does not show
    unshown: set[Any] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.true = {k: (0 if v is None else v) for k, v in self.true.items()}

    def value(self, name) -> Any:
        return self.true.get(name, 0)  # a series or row that does not exist counts nobody

    def hidden(self, name) -> bool:
        return self.shown.get(name, HIDDEN) == HIDDEN

    def small(self, name) -> bool:
        return 0 < self.value(name) < K

    def protected(self, name) -> bool:
        """Shown as hidden, or not shown at all and counting 1 to k-1 people."""
        return self.shown.get(name) == HIDDEN or (name not in self.shown and self.small(name))

    def leaks(self) -> list[str]:
        out = []
        people = set(self.counts)
        people |= {n for whole, parts in self.parts for n in (whole, *parts)}
        people |= {n for total, parts in self.sums for n in (total, *parts)}
        people -= self.unshown
        for name in sorted(people, key=str):
            if self.small(name) and not self.hidden(name):
                out.append(f"{self.name}: {name} = {self.value(name)} shown")
        out += self._solved(people)
        for pct, num, den in self.ratios:
            if self.shown.get(pct) not in (None, HIDDEN) and (
                self.protected(num) or self.protected(den)
            ):
                out.append(f"{self.name}: {pct} = {self.shown[pct]} tells {num}/{den}")
        for name, inputs in self.derived:
            hidden = [i for i in inputs if self.protected(i)]
            if self.shown.get(name) not in (None, HIDDEN) and hidden:
                out.append(f"{self.name}: {name} shown, drawn from hidden {hidden}")
        return out

    def _solved(self, people: set) -> list[str]:
        """Hidden counts and small rests the shown values pin down, by exact elimination."""
        unknowns = [n for n in sorted(people, key=str) if self.hidden(n)]
        rests = [(whole, parts) for whole, parts in self.parts]
        columns = unknowns + [("rest", i) for i in range(len(rests))]
        col = {c: i for i, c in enumerate(columns)}
        equations = []
        for i, (whole, parts) in enumerate(rests):
            equations.append(self._equation(col, whole, parts, ("rest", i)))
        for total, parts in self.sums:
            equations.append(self._equation(col, total, parts, None))
        truth = {n: self.value(n) for n in unknowns}
        for i, (whole, parts) in enumerate(rests):
            truth[("rest", i)] = self.value(whole) - sum(self.value(p) for p in parts)
        out = []
        for target in columns:
            if target[0] == "rest" and not 0 < truth[target] < K:
                continue
            if target[0] != "rest" and not self.protected(target):
                continue
            if combination(equations, col[target], len(columns)):
                what = (
                    target
                    if target[0] != "rest"
                    else f"{rests[target[1]][0]} - {rests[target[1]][1]}"
                )
                out.append(f"{self.name}: {what} = {truth[target]} recovered from shown values")
        return out

    def _equation(self, col, whole, parts, rest) -> list[Fraction]:
        row = [Fraction(0)] * len(col)
        for name, sign in ((whole, 1), *((p, -1) for p in parts)):
            if name in col:
                row[col[name]] += sign
        if rest is not None:
            row[col[rest]] -= 1
        return row


# -- reading the views --------------------------------------------------------------------------


def value(cell: Any) -> Any:
    """A cell of any format as a number, None or HIDDEN."""
    if isinstance(cell, dict):
        assert cell.get("suppressed") is True, cell
        return HIDDEN
    if cell is None or isinstance(cell, int | float):
        return cell
    text = str(cell).strip()
    if text in ("", "—"):
        return None
    if text == "hidden" or text.startswith(("<", "fewer than")):
        return HIDDEN
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text


class Tables(HTMLParser):
    """The HTML tables of a page: {table id: [{data-key: text}]}, "hidden" where suppressed."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, str]]] = {}
        self.table = self.key = None
        self.row: dict[str, str] | None = None
        self.body = self.suppressed = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table = a.get("data-table")
            self.tables[self.table] = []
        elif tag == "tbody":
            self.body = True
        elif tag == "tr" and self.table and getattr(self, "body", False):
            self.row = {}
            self.tables[self.table].append(self.row)
        elif tag in ("td", "th") and self.row is not None and "data-key" in a:
            self.key = a["data-key"]
            self.row[self.key] = "hidden" if a.get("data-suppressed") else ""
            self.suppressed = bool(a.get("data-suppressed"))

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.key = None
        elif tag == "table":
            self.table, self.row, self.body = None, None, False

    def handle_data(self, data):
        if self.key is not None and self.row is not None and not self.suppressed:
            self.row[self.key] += data


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


OVERVIEW_COUNTS = (
    "members",
    "new_members",
    "active_members",
    "weekly_active",
    "activated",
    "learners",
)


def overview_view(name: str, rows: dict[str, dict[str, Any]], truth) -> View:
    view = View(name, {}, {})
    for row in truth:
        c = row.community
        for key in (*OVERVIEW_COUNTS, "session_members"):
            view.true[(c, key)] = getattr(row, key)
        shown = rows[c]
        for key in (*OVERVIEW_COUNTS, "activation_percent", "sessions", "server_hours"):
            view.shown[(c, key)] = value(shown[key])
        for part in ("new_members", "activated", "active_members", "learners"):
            view.parts.append(((c, "members"), ((c, part),)))
        view.parts.append(((c, "active_members"), ((c, "weekly_active"),)))
        view.parts.append(((c, "active_members"), ((c, "new_members"),)))
        view.ratios.append(((c, "activation_percent"), (c, "activated"), (c, "members")))
        view.unshown.add((c, "session_members"))  # not a column of the overview
        view.derived += [((c, "sessions"), ((c, "session_members"),))]
        view.derived += [((c, "server_hours"), ((c, "session_members"),))]
    return view


def metrics_view(text: str, exact: str) -> View:
    def series(body: str) -> dict[Any, float]:
        out = {}
        for name, labels, number in re.findall(r"^catalyst_(\w+)\{(.*)\} (\S+)$", body, re.M):
            parsed = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            label = parsed.get("period") or parsed.get("step") or parsed.get("app")
            key = (parsed["community"], name, label)
            out[key] = float(number)
        return out

    true, shown = series(exact), series(text)
    view = View("metrics", true, {key: shown.get(key, HIDDEN) for key in true})
    for c in COMMUNITIES:
        members = (c, "members", None)
        windows = [(c, "active_members", p) for p in ("24h", "7d", "30d")]
        view.parts += [(members, (windows[2],)), (windows[2], (windows[1],))]
        view.parts += [(windows[1], (windows[0],))]
        view.parts += [(members, ((c, "onboarding_completed_members", None),))]
        view.parts += [(members, ((c, "training_learners", None),))]
        for step in ("login", "run_code"):
            view.parts += [(members, ((c, "onboarding_step_members", step),))]
        view.counts.add((c, "members", None))
        for episodes in ("training_episodes_started", "training_episodes_completed"):
            view.derived += [((c, episodes, None), ((c, "training_learners", None),))]
        # who started a server in a window was active in it; the windows nest
        starters = [(c, "server_session_members", p) for p in ("24h", "7d", "30d")]
        view.parts += [
            (active, (starter,)) for active, starter in zip(windows, starters, strict=True)
        ]
        view.parts += [(starters[2], (starters[1],)), (starters[1], (starters[0],))]
        for starter in starters:
            for family in ("server_sessions", "server_usage_seconds"):
                view.derived += [((c, family, starter[2]), (starter,))]
        # members per app: each of them among the members active in the 30 days
        for app in ("jupyterlab", "rstudio"):
            view.parts += [(windows[2], ((c, "app_active_members", app),))]
    return view


def report_truth(store, community: str, kind: str) -> dict[Any, Any]:
    period = Period.last_days(30)
    if kind == "adoption":
        r = adoption(store, community, period)
        keys = ("active_members", "new_members", "activated_members", "activated_in_period")
        return {key: getattr(r, key) for key in keys} | {"new_activated": r.new_activated}
    if kind == "usage":
        return {"members": usage(store, community, period).members}
    if kind == "funnel":
        return funnel_truth(funnel(store, community, period))
    today = datetime.now(timezone.utc).date()
    r = month_report(store, community, today.year, today.month)
    truth = {}
    for f in r.figures:
        truth[f.key] = f.value
        truth[f"{f.key}_previous"] = f.previous
    truth["session_members"] = r.usage.members
    truth["session_members_previous"] = usage_totals(store, community, r.previous_period).members
    return truth | {("funnel", k): v for k, v in funnel_truth(r.funnel).items()}


def funnel_truth(r) -> dict[Any, Any]:
    truth = {"newcomers": r.newcomers, "completed": r.completed}
    for s in r.steps:
        for key in ("reached", "through", "stalled"):
            truth[(s.id, key)] = getattr(s, key)
    return truth


def report_view(name: str, kind: str, shown: dict[Any, Any], true: dict[Any, Any]) -> View:
    view = View(name, true, shown)
    if kind == "adoption":
        view.parts += [("activated_members", ("activated_in_period",))]
        view.parts += [("active_members", ("new_members",))]
        view.parts += [
            ("new_members", ("new_activated",)),
            ("activated_in_period", ("new_activated",)),
        ]
        view.ratios += [("stickiness", "mean_dau", "active_members")]
        view.derived += [("mean_dau", ("active_members",))]
        view.counts.add("active_members")
    elif kind == "usage":
        view.derived += [("sessions", ("members",)), ("hours", ("members",))]
        view.counts.add("members")
    elif kind == "funnel":
        funnel_relations(view, "")
    else:
        for key in ("", "_previous"):
            view.derived += [(f"mean_dau{key}", (f"active_members{key}",))]
            view.derived += [(f"sessions{key}", (f"session_members{key}",))]
            view.derived += [(f"server_hours{key}", (f"session_members{key}",))]
            view.unshown.add(f"session_members{key}")
            view.counts |= {f"{c}{key}" for c in ("active_members", "activated_in_period")}
        view.counts.add("learners")
        view.parts += [("active_members", ("new_members",))]
        view.parts += [("active_members_previous", ("new_members_previous",))]
        funnel_relations(view, "funnel")
        view.sums += [("new_members", (("funnel", "newcomers"),))]
    return view


def funnel_relations(view: View, prefix: str) -> None:
    def key(k):
        return (prefix, k) if prefix else k

    before = key("newcomers")
    for step in ("login", "run_code"):  # the catalog's checklist
        reached, through, stalled = (key((step, f)) for f in ("reached", "through", "stalled"))
        view.parts += [(key("newcomers"), (reached,)), (reached, (through,))]
        view.sums += [(before, (through, stalled))]
        view.ratios += [(key((step, "step_conversion")), through, before)]
        view.ratios += [(key((step, "overall_conversion")), through, key("newcomers"))]
        view.derived += [(key((step, "median_hours")), (reached,))]
        view.derived += [(key((step, "p90_hours")), (reached,))]
        before = through
    view.sums += [(key("completed"), (before,))]


def shown_from_json(kind: str, data: dict[str, Any]) -> dict[Any, Any]:
    """The cells of a report's JSON, in the shape outsiders get or the full one."""
    shown: dict[Any, Any] = {}
    if isinstance(data.get("figures"), dict):  # the outside shape
        shown.update({key: value(v) for key, v in data["figures"].items()})
        steps = data.get("steps", [])
    elif kind == "month":
        for f in data["figures"]:
            shown[f["key"]] = value(f["value"])
            shown[f"{f['key']}_previous"] = value(f["previous"])
        steps = [{"step": s["step"], "reached": s["reached"]} for s in data["funnel"]]
    else:
        flat = data.get("summary", data)
        shown.update(
            {
                k: value(v)
                for k, v in flat.items()
                if isinstance(v, int | float) or (isinstance(v, dict) and "suppressed" in v)
            }
        )
        if "stickiness_percent" in shown:
            shown["stickiness"] = shown.pop("stickiness_percent")
        if "server_hours" in shown and kind == "usage":
            shown["hours"] = shown.pop("server_hours")
        steps = data.get("steps", [])
    prefix = "funnel" if kind == "month" else None
    for s in steps:
        step = s.get("step") or s.get("id")
        for k, v in s.items():
            if k not in ("step", "id", "title"):
                cell = (step, k)
                shown[(prefix, cell) if prefix else cell] = value(v)
    return shown


def shown_from_tables(kind: str, tables: dict[str, list[dict[str, str]]]) -> dict[Any, Any]:
    """The cells of an outside report's tables (CSV or HTML): figures by key, funnel steps."""
    shown: dict[Any, Any] = {}
    for row in tables.get("figures", []):
        shown[row["key"].strip()] = value(row["value"])
    prefix = "funnel" if kind == "month" else None
    for row in tables.get("funnel", []):
        step = row["step"].strip()
        for k, v in row.items():
            if k not in ("step", "title"):
                shown[(prefix, (step, k)) if prefix else (step, k)] = value(v)
    return shown


# -- the test -----------------------------------------------------------------------------------


async def test_no_hidden_figure_is_recovered(catalyst_service, make_event):
    svc = catalyst_service
    store = svc.store
    seed(store, make_event)
    staff = svc.token("consortium-staff", roles=["consortium"])
    scraper = svc.token("scraper", roles=["scraper"])

    async def get(path: str, token: str = staff):
        r = await svc.request("get", path, token, allow_redirects=False)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        return r

    views: list[View] = []
    truth = community_totals(store, Period.last_days(30))
    data = (await get("reports/overview.json")).json()
    views.append(
        overview_view("overview.json", {r["community"]: r for r in data["communities"]}, truth)
    )
    rows = csv_rows((await get("reports/overview.csv")).text)
    views.append(overview_view("overview.csv", {r["community"]: r for r in rows}, truth))
    page = Tables((await get("reports/overview")).text).tables["overview"]
    views.append(overview_view("overview.html", {r["community"].strip(): r for r in page}, truth))

    for community in COMMUNITIES:
        for kind in ("adoption", "funnel", "usage", "month"):
            true = report_truth(store, community, kind)
            base = f"reports/communities/{community}/{kind}"
            data = (await get(f"{base}.json")).json()
            views.append(report_view(f"{base}.json", kind, shown_from_json(kind, data), true))
            if isinstance(data.get("figures"), dict):
                tables = {}
                for table in ("figures", "funnel") if kind in ("funnel", "month") else ("figures",):
                    tables[table] = csv_rows((await get(f"{base}.csv?table={table}")).text)
                views.append(
                    report_view(f"{base}.csv", kind, shown_from_tables(kind, tables), true)
                )
                html = Tables((await get(base)).text).tables
                views.append(report_view(base, kind, shown_from_tables(kind, html), true))
            else:  # a full report: every table of it, with per-day counts, is readable too
                r = await get(f"{base}.csv")
                assert r.text

    exact = generate_latest(metrics_registry(store, 1, max_age=0)).decode()
    views.append(metrics_view((await get("metrics", scraper)).text, exact))

    leaks = [leak for view in views for leak in view.leaks()]
    assert not leaks, "\n".join(leaks)
    # and the views are not empty: large enough figures are shown
    big = next(v for v in views if v.name == "overview.json")
    assert big.shown[("big", "members")] == 20 and big.shown[("twelve", "members")] == 12
    assert big.shown[("twelve", "activated")] == HIDDEN
    assert big.shown[("twelve", "activation_percent")] == HIDDEN
    # the usage families are there, large figures shown, and a difference of one hidden
    # (11 of twelve's 12 members active in the 30 days started a server)
    metrics = next(v for v in views if v.name == "metrics")
    assert metrics.shown[("big", "server_session_members", "30d")] == 15
    assert metrics.shown[("big", "server_sessions", "30d")] == 15
    assert metrics.shown[("big", "app_active_members", "rstudio")] == 10
    assert metrics.shown[("twelve", "server_session_members", "30d")] == HIDDEN
