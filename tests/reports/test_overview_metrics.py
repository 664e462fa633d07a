"""The consortium overview (with suppression), Prometheus metrics and the Grafana dashboard."""

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from catalyst_hub.reports.common import Suppressed
from catalyst_hub.reports.metrics import metrics_registry
from catalyst_hub.reports.overview import community_totals, overview

DASHBOARD = Path(__file__).parents[2] / "jupyter_config" / "grafana-dashboard.json"


def test_community_totals(hub):
    rows = {r.community: r for r in community_totals(hub.store, hub.period, now=hub.now)}
    andes = rows["andes"]
    assert (andes.members, andes.new_members, andes.active_members, andes.weekly_active) == (
        4,
        2,
        4,
        3,
    )
    assert (andes.activated, andes.activation_percent) == (2, 50.0)
    assert (andes.learners, andes.episodes_started, andes.episodes_completed) == (3, 3, 2)
    assert (andes.sessions, andes.session_members, andes.server_hours) == (4, 4, 9.0)
    pampa = rows["pampa"]
    assert (pampa.members, pampa.active_members, pampa.weekly_active, pampa.activated) == (
        1,
        1,
        0,
        0,
    )


def test_overview_suppresses_below_k(hub):
    rows = {r.community: r for r in overview(hub.store, hub.period, k=3)}
    andes, pampa = rows["andes"], rows["pampa"]
    assert andes.members == 4 and andes.active_members == 4 and andes.weekly_active == 3
    assert andes.new_members == Suppressed(3)  # 2 people
    assert andes.activated == Suppressed(3)
    assert andes.activation_percent == 50.0  # drawn from 4 members
    assert pampa.members == Suppressed(3)
    assert pampa.activation_percent == Suppressed(3)  # 0 of 1 member: still one person
    assert pampa.weekly_active == 0  # zero singles nobody out


def test_metrics_text(hub):
    text = generate_latest(metrics_registry(hub.store, 2)).decode()
    assert 'catalyst_members{community="andes"} 4.0' in text
    assert 'catalyst_onboarding_completed_members{community="andes"} 2.0' in text
    assert 'catalyst_training_learners{community="andes"} 3.0' in text
    assert 'catalyst_training_episodes_completed{community="andes"} 2.0' in text
    assert 'catalyst_onboarding_step_members{community="andes",step="run_code"} 3.0' in text
    # one member: below k=2, so no count of pampa's people but zeros (nobody to single out)
    assert 'catalyst_members{community="pampa"}' not in text
    # the data is from March 2026, so nobody is active "today": zeros are exported
    assert 'catalyst_active_members{community="andes",period="30d"} 0.0' in text
    assert "catalyst_min_group_size 2.0" in text
    filtered = generate_latest(metrics_registry(hub.store, 1, ["pampa"])).decode()
    assert 'catalyst_members{community="pampa"} 1.0' in filtered
    assert "andes" not in filtered


def test_dashboard_uses_exported_metrics(hub):
    text = generate_latest(metrics_registry(hub.store, 1)).decode()
    exported = set(re.findall(r"^# TYPE (\w+) ", text, re.M))
    dashboard = json.loads(DASHBOARD.read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"catalyst_\w+", target["expr"])
    }
    assert used and used <= exported, used - exported
