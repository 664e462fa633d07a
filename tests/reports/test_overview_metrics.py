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
    assert andes.members == 4 and andes.active_members == 4
    assert andes.new_members == Suppressed(3)  # 2 people
    assert andes.activated == Suppressed(3)
    # 2 of 4 activated: the percent would tell the hidden count
    assert andes.activation_percent == Suppressed(3, bounded=False)
    # 4 active in the period, 3 in its last 7 days: the difference is one person, so the
    # smaller of the two is hidden too; likewise 3 learners of 4 members
    assert andes.weekly_active == Suppressed(3, bounded=False)
    assert andes.learners == Suppressed(3, bounded=False)
    assert andes.training_percent == Suppressed(3, bounded=False)
    assert andes.sessions == 4  # four members with a session
    assert pampa.members == Suppressed(3)
    assert pampa.activation_percent == Suppressed(3, bounded=False)  # of one member
    assert pampa.weekly_active == 0  # zero singles nobody out


def test_metrics_text(hub):
    text = generate_latest(metrics_registry(hub.store, 2)).decode()
    assert 'catalyst_members{community="andes"} 4.0' in text
    assert 'catalyst_onboarding_completed_members{community="andes"} 2.0' in text
    assert 'catalyst_onboarding_step_members{community="andes",step="start_server"} 4.0' in text
    # 3 of andes's 4 members ran code, 3 are learners: the one who did not would be told
    assert 'step="run_code"' not in text
    assert 'catalyst_training_learners{community="andes"}' not in text
    assert 'catalyst_training_episodes_completed{community="andes"}' not in text
    # one member: below k=2, so no count of pampa's people but zeros (nobody to single out)
    assert 'catalyst_members{community="pampa"}' not in text
    # the data is from March 2026, so nobody is active "today": zeros are exported
    assert 'catalyst_active_members{community="andes",period="30d"} 0.0' in text
    assert "catalyst_min_group_size 2.0" in text
    filtered = generate_latest(metrics_registry(hub.store, 1, ["andes"])).decode()
    assert 'catalyst_training_learners{community="andes"} 3.0' in filtered
    assert 'catalyst_training_episodes_completed{community="andes"} 2.0' in filtered
    assert 'catalyst_onboarding_step_members{community="andes",step="run_code"} 3.0' in filtered
    assert "pampa" not in filtered


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
