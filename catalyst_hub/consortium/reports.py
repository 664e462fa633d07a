"""The consortium's reports: tables from the stored summaries (read only).

Figures are as each hub sent them, already through its suppression policy: a hidden figure
stays hidden (NULL in the store, "hidden" on the pages). Totals over hubs, communities or
months add up the figures shown only, and say how many were hidden: such a total holds
nothing that is not shown beside it, so nothing hidden can be worked out from it. People are
not linked across hubs (each hub's member ids are keyed with its own secret): a person on two
hubs counts on each, and the pages say so.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ..reports.common import Suppressed
from ..reports.export import Column, DataTable
from ..workflows.consortium import public_page_path
from . import tables as t
from .store import ConsortiumStore

Gettext = Callable[..., str]
HIDDEN = Suppressed(0, bounded=False)

#: The figures the funder report adds up over a quarter's months (activity is per month).
FUNDER_SUMS = ("activated_in_period", "champions_trained", "episodes_completed", "badges_issued")

_QUARTER = re.compile(r"(?P<year>[0-9]{4})-?Q(?P<q>[1-4])", re.ASCII | re.IGNORECASE)


@dataclass(frozen=True)
class HubInfo:
    id: str
    name: str
    region: str


def hub_info(hubs: Mapping[str, Mapping[str, str]], hub: str) -> HubInfo:
    conf = hubs.get(hub) or {}
    return HubInfo(hub, conf.get("name") or hub, conf.get("region") or "—")


def shown(value: Any) -> Any:
    return HIDDEN if value is None else value


def month_label(month: date) -> str:
    return month.isoformat()[:7]


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def parse_month(text: str) -> date:
    m = re.fullmatch(r"([0-9]{4})-([0-9]{2})", text or "", re.ASCII)
    if not m or not 2000 <= int(m.group(1)) <= 2100 or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(text)
    return date(int(m.group(1)), int(m.group(2)), 1)


def parse_quarter(text: str) -> tuple[int, int]:
    m = _QUARTER.fullmatch(text or "")
    if not m or not 2000 <= int(m.group("year")) <= 2100:
        raise ValueError(text)
    return int(m.group("year")), int(m.group("q"))


def quarter_months(year: int, quarter: int) -> list[date]:
    first = date(year, 3 * (quarter - 1) + 1, 1)
    return [add_months(first, i) for i in range(3)]


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def figure_labels(_: Gettext) -> dict[str, str]:
    return {
        "members": _("Members"),
        "active_members": _("Active members"),
        "mean_dau": _("Mean daily active"),
        "new_members": _("New members"),
        "activated_in_period": _("Members activated"),
        "learners": _("Learners"),
        "episodes_completed": _("Episodes completed"),
        "champions_trained": _("Champions trained"),
        "sessions": _("Sessions"),
        "server_hours": _("Server-hours"),
        "badges_issued": _("Badges issued"),
    }


#: the figures added up per hub and month (``hub_totals``)
SUMMED = t.SUMMED
#: what the pages add up: the figures every hub sends, and those newer hubs send (a hub
#: that sends none adds nothing and hides nothing)
TOTALS = (*t.SUMMED, *t.OPTIONAL_COLUMNS)
#: a community's figures of a month
FIGURES = (*t.MONTH_COLUMNS, *t.OPTIONAL_COLUMNS)


@dataclass
class LinkedTable(DataTable):
    """A table whose ``link_column`` cell links to a page of the service (a path relative
    to its prefix) in the rows (by index) that have one: HTML only, exports keep the text."""

    link_column: str = "community"
    links: dict[int, str] = field(default_factory=dict)


def optional_figures(detail: str) -> dict[str, Any]:
    """The optional figures of a stored community month, from the figures as its hub sent
    them (``detail``): a number, hidden, or None where the hub sent none."""
    sent = json.loads(detail)["figures"]
    return {
        k: None if k not in sent else HIDDEN if isinstance(sent[k], dict) else sent[k]
        for k in t.OPTIONAL_COLUMNS
    }


def _add(total: dict[str, Any], row: Mapping[str, Any], keys=SUMMED) -> None:
    for k in keys:
        v = row.get(k)
        if v is None:
            total[f"{k}_hidden"] = total.get(f"{k}_hidden", 0) + row.get(f"{k}_hidden", 1)
        else:
            total[k] = round(total.get(k, 0) + v, 1)
            total.setdefault(f"{k}_hidden", 0)
            total[f"{k}_hidden"] += row.get(f"{k}_hidden", 0)


#: Most community rows an overview lists at once (beyond it: choose a hub or a region).
MAX_COMMUNITY_ROWS = 500


def _round(value: Any) -> Any:
    return 0 if value is None else round(value, 1) if isinstance(value, float) else value


def overview(
    store: ConsortiumStore,
    month: date,
    hubs: Mapping[str, Mapping[str, str]],
    _: Gettext,
    hub: str | None = None,
    region: str | None = None,
    max_rows: int = MAX_COMMUNITY_ROWS,
) -> list[DataTable]:
    """Every hub of ``month`` side by side with its region, totals per region, and each
    community's figures (of one hub or region when the consortium has too many to list)."""
    labels = figure_labels(_)
    totals = store.totals_by_month(month, month, TOTALS)
    per_region: dict[str, dict[str, Any]] = defaultdict(dict)
    by_hub = DataTable(
        "hubs",
        _("Hubs in {month} (totals of the figures shown)", month=month_label(month)),
        [
            Column("hub", _("Hub"), numeric=False),
            Column("region", _("Region"), numeric=False),
            Column("communities", _("Communities")),
            *(Column(k, labels[k]) for k in TOTALS),
            Column("hidden", _("Figures hidden")),
        ],
    )
    for r in sorted(totals, key=lambda r: (hub_info(hubs, r["hub"]).name, r["hub"])):
        info = hub_info(hubs, r["hub"])
        by_hub.rows.append(
            [
                info.name,
                info.region,
                r["communities"],
                *(r[k] for k in TOTALS),
                sum(r[f"{k}_hidden"] for k in TOTALS),
            ]
        )
        group = per_region[info.region]
        group["communities"] = group.get("communities", 0) + r["communities"]
        group.setdefault("hubs", set()).add(r["hub"])
        _add(group, r, TOTALS)
    by_region = DataTable(
        "regions",
        _("Regions in {month} (totals of the figures shown)", month=month_label(month)),
        [
            Column("region", _("Region"), numeric=False),
            Column("hubs", _("Hubs")),
            Column("communities", _("Communities")),
            *(Column(k, labels[k]) for k in TOTALS),
            Column("hidden", _("Figures hidden")),
        ],
    )
    for name, group in sorted(per_region.items()):
        by_region.rows.append(
            [
                name,
                len(group["hubs"]),
                group["communities"],
                *(group.get(k, 0) for k in TOTALS),
                sum(group.get(f"{k}_hidden", 0) for k in TOTALS),
            ]
        )
    chosen = None
    if hub is not None:
        chosen = [hub]
    elif region is not None:
        chosen = [r["hub"] for r in totals if hub_info(hubs, r["hub"]).region == region]
    elif sum(r["communities"] for r in totals) > max_rows:
        chosen = []  # too many to list: the page asks for a hub or a region
    communities = LinkedTable(
        "communities",
        _("Communities in {month}", month=month_label(month)),
        [
            Column("hub", _("Hub"), numeric=False),
            Column("region", _("Region"), numeric=False),
            Column("community", _("Community"), numeric=False),
            *(Column(k, labels[k]) for k in FIGURES),
            Column("through", _("Figures up to"), numeric=False),
        ],
    )
    listed = chosen is None or bool(chosen)
    rows = store.month_rows(month, chosen) if listed else []
    # a hidden optional figure is NULL, and so is one its hub does not send ("—")
    not_sent = store.figures_not_sent(month, chosen) if listed else set()
    public = store.public_communities(chosen) if listed else set()
    for i, r in enumerate(rows):
        info = hub_info(hubs, r["hub"])
        values = [
            None if (r["hub"], r["community"], k) in not_sent else shown(r[k]) for k in FIGURES
        ]
        communities.rows.append([info.name, info.region, r["community"], *values, r["through"]])
        if (r["hub"], r["community"]) in public:
            communities.links[i] = public_page_path(r["hub"], r["community"])
    return [by_region, by_hub, communities]


def trends(
    store: ConsortiumStore,
    last: date,
    count: int,
    hubs: Mapping[str, Mapping[str, str]],
    _: Gettext,
) -> list[DataTable]:
    """Month by month, the consortium's totals, and active members per region."""
    labels = figure_labels(_)
    first = add_months(last, -(count - 1))
    per_month = {r["month"]: r for r in store.month_sums(first, last)}
    regions: dict[date, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    region_of: dict[str, str] = {}
    for month, hub, active in store.active_by_hub(first, last):
        if hub not in region_of:
            region_of[hub] = hub_info(hubs, hub).region
        region = regions[month][region_of[hub]]
        region["active_members"] = region.get("active_members", 0) + active
    months = [add_months(first, i) for i in range(count)]
    table = DataTable(
        "months",
        _("The consortium month by month (totals of the figures shown)"),
        [
            Column("month", _("Month"), numeric=False),
            Column("hubs", _("Hubs reporting")),
            Column("communities", _("Communities")),
            *(Column(k, labels[k]) for k in TOTALS),
            Column("hidden", _("Figures hidden")),
        ],
    )
    for m in months:
        total = per_month.get(m, {})
        table.rows.append(
            [
                month_label(m),
                total.get("hubs", 0),
                total.get("communities", 0) or 0,
                *(_round(total.get(k)) for k in TOTALS),
                sum(total.get(f"{k}_hidden") or 0 for k in TOTALS),
            ]
        )
    names = sorted({name for per in regions.values() for name in per})
    by_region = DataTable(
        "regions",
        _("Active members per region, month by month (totals of the figures shown)"),
        [Column("month", _("Month"), numeric=False), *(Column(n, n) for n in names)],
    )
    for m in months:
        by_region.rows.append(
            [month_label(m), *(regions[m][n].get("active_members", 0) for n in names)]
        )
    return [table, by_region]


def funder(
    store: ConsortiumStore,
    year: int,
    quarter: int,
    hubs: Mapping[str, Mapping[str, str]],
    _: Gettext,
) -> list[DataTable]:
    """The figures partners are asked for, per region and in all, for one quarter."""
    months = quarter_months(year, quarter)
    rows = store.totals_by_month(months[0], months[-1], ("active_members", *FUNDER_SUMS))
    # by region (None: all regions): hubs, communities per hub, sums, and per month
    # ("active", month) the active members
    groups: dict[str | None, dict[Any, Any]] = defaultdict(
        lambda: {"hubs": set(), "communities": {}}
    )
    for r in rows:
        info = hub_info(hubs, r["hub"])
        for name in (info.region, None):
            g = groups[name]
            g["hubs"].add(r["hub"])
            g["communities"][r["hub"]] = max(g["communities"].get(r["hub"], 0), r["communities"])
            active = g.setdefault(("active", r["month"]), {})
            _add(active, r, ("active_members",))
            _add(g.setdefault("sums", {}), r, FUNDER_SUMS)
    label = f"{year}-Q{quarter}"
    table = DataTable(
        "funder",
        _("Funder report, {quarter} (totals of the figures shown)", quarter=label),
        [
            Column("region", _("Region"), numeric=False),
            Column("hubs_live", _("Hubs live")),
            Column("communities", _("Communities")),
            *(
                Column(
                    f"active_{month_label(m)}",
                    _("Monthly active members, {month}", month=month_label(m)),
                )
                for m in months
            ),
            Column("activated_in_period", _("Members activated")),
            Column("champions_trained", _("Champions trained")),
            Column("episodes_completed", _("Episodes completed")),
            Column("badges_issued", _("Badges issued")),
            Column("hidden", _("Figures hidden")),
        ],
    )
    order = sorted((k for k in groups if k is not None), key=str) + [None]
    for name in order:
        if name not in groups:
            continue
        g = groups[name]
        hidden = sum(g.get(("active", m), {}).get("active_members_hidden", 0) for m in months)
        hidden += sum(g["sums"].get(f"{k}_hidden", 0) for k in FUNDER_SUMS)
        table.rows.append(
            [
                _("All regions") if name is None else name,
                len(g["hubs"]),
                sum(g["communities"].values()),
                *(g.get(("active", m), {}).get("active_members", 0) for m in months),
                *(g["sums"].get(k, 0) for k in FUNDER_SUMS),
                hidden,
            ]
        )
    if not rows:
        table.rows.append(
            [_("All regions"), 0, 0, *(0 for _m in months), *(0 for _s in FUNDER_SUMS), 0]
        )
    return [table]


def community_report(
    store: ConsortiumStore, hub: str, community: str, _: Gettext, months: int = 12
) -> tuple[list[DataTable], list[dict[str, Any]]]:
    """A community's last ``months`` months as its hub sent them."""
    labels = figure_labels(_)
    rows = store.community_months(hub, community)[-months:]
    table = DataTable(
        "months",
        _("{community}, month by month", community=community),
        [
            Column("month", _("Month"), numeric=False),
            *(Column(k, labels[k]) for k in FIGURES),
            Column("through", _("Figures up to"), numeric=False),
        ],
    )
    for r in rows:
        optional = optional_figures(r["detail"])
        values = [shown(r[k]) for k in t.MONTH_COLUMNS] + [optional[k] for k in t.OPTIONAL_COLUMNS]
        table.rows.append([month_label(r["month"]), *values, r["through"]])
    days_table = DataTable(
        "days",
        _("Active members day by day, last 30 days"),
        [
            Column("day", _("Day"), numeric=False),
            Column("active_day", _("Active that day")),
            Column("active_7d", _("Active in 7 days")),
            Column("active_30d", _("Active in 30 days")),
            Column("new_members", _("New members")),
        ],
    )
    if rows:
        last = rows[-1]["through"]
        for d in store.community_days(hub, community, last - timedelta(days=29), last):
            days_table.rows.append(
                [
                    d["day"],
                    shown(d["active_day"]),
                    shown(d["active_7d"]),
                    shown(d["active_30d"]),
                    shown(d["new_members"]),
                ]
            )
    return [table, days_table], rows
