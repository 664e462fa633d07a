"""The summary a hub sends its consortium, from the hand-worked hub in conftest.py."""

from __future__ import annotations

import json
from datetime import date

from catalyst_hub.reports.monthly import month_report
from catalyst_hub.reports.summary import (
    DAY_FIGURES,
    community_month,
    fingerprint,
    month_figures,
    month_summary,
)
from catalyst_hub.reports.suppression import suppress

TODAY = date(2026, 3, 12)


def test_exact_figures_equal_the_month_report(hub):
    data = community_month(hub.store, "andes", date(2026, 3, 1), TODAY)
    report = month_report(hub.store, "andes", 2026, 3, today=TODAY)
    values = {f.key: f.value for f in report.figures}
    for key in ("active_members", "mean_dau", "new_members", "activated_in_period", "sessions"):
        assert data.month[key] == values[key], key
    assert data.month["server_hours"] == values["server_hours"]
    # the days add up to the month
    assert sum(d["new_members"] for d in data.days.values()) == data.month["new_members"]
    assert sum(d["activated"] for d in data.days.values()) == data.month["activated_in_period"]
    assert list(data.days)[-1] == TODAY
    assert data.month["members"] == 4  # ana, ben, caro, dan (staff excluded, eve in pampa)


def test_k_one_shows_everything(hub):
    data = community_month(hub.store, "andes", date(2026, 3, 1), TODAY)
    shown = suppress(month_figures(data), 1)
    assert shown["active_members"] == data.month["active_members"]
    assert all(shown[(d, key)] == v[key] for d, v in data.days.items() for key in DAY_FIGURES)


def test_small_community_is_hidden_at_the_source(hub, catalyst_hub_name):
    doc = month_summary(hub.store, date(2026, 3, 1), 5, today=TODAY)
    assert [c["community"] for c in doc["communities"]] == ["andes", "pampa"]
    andes = doc["communities"][0]
    assert andes["provisional"] is True and andes["through"] == "2026-03-12"
    # four members: every count of people is below k
    assert andes["figures"]["members"] == {"suppressed": True, "fewer_than": 5}
    assert andes["figures"]["mean_dau"] == {"suppressed": True}
    text = json.dumps(doc)
    for name, member_id in hub.ids.items():
        assert member_id not in text and name not in text
    assert catalyst_hub_name not in text  # the publisher adds the hub's name


def test_fingerprint_follows_the_figures(hub):
    a = month_summary(hub.store, date(2026, 3, 1), 1, today=TODAY)
    b = month_summary(hub.store, date(2026, 3, 1), 1, today=TODAY)
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(month_summary(hub.store, date(2026, 3, 1), 2, today=TODAY))
