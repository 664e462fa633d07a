"""The consortium overview (with suppression), Prometheus metrics and the Grafana dashboard."""

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from prometheus_client import generate_latest

import catalyst_hub.store  # noqa: F401  (loads before ingest: projections and store import each other)
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.reports.common import Suppressed
from catalyst_hub.reports.metrics import metrics_registry
from catalyst_hub.reports.overview import community_totals, overview
from catalyst_hub.seed import sender_kind

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


def _ingest(store, make_event, name: str, community: str, *events: tuple) -> None:
    """``(schema, payload, time)`` events of one member, each from the sender that may send it."""
    ingestor = Ingestor(store)
    by_kind: dict[str, list[dict]] = {}
    for schema, payload, time in events:
        by_kind.setdefault(sender_kind(schema, payload), []).append(
            make_event(schema, payload, time=time)
        )
    for kind, raws in by_kind.items():
        stored, results = ingestor.ingest(raws, Sender(store.member_id(name), community, kind))
        assert stored, [r.to_json() for r in results]


def _series(text: str, name: str) -> dict[tuple[str, ...], float]:
    """``{(community, other label values): value}`` of one family in an exposition text."""
    out = {}
    for labels, number in re.findall(rf"^{name}\{{(.*)\}} (\S+)$", text, re.M):
        parsed = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        out[(parsed.pop("community"), *parsed.values())] = float(number)
    return out


def _session(start: datetime, stop: datetime, app: str | None = None) -> list[tuple]:
    """A server session as the collector records it, with a minute of ``app``'s use."""
    started = start.isoformat().replace("+00:00", "Z")
    out = [
        ("server_started", {"server_name": "", "started": started}, start),
        (
            "server_stopped",
            {"server_name": "", "started": started, "last_activity": stop.isoformat()},
            stop,
        ),
    ]
    if app == "rstudio":
        payload = {"kind": "proxy", "app": "rstudio", "count": 1, "seconds": 60}
        out.append(("activity", payload, start + timedelta(minutes=1)))
    elif app:
        out.append(("activity", {"kind": "kernel", "count": 1, "seconds": 60}, start))
    return out


@pytest.mark.clock
def test_active_windows_are_rolling(catalyst_store, make_event):
    """24h, 7d and 30d end now: 2 or 23 hours ago is within the last 24 hours whatever the
    hour (at 00:30 UTC both were yesterday), 25 hours ago is not (though it may be today)."""
    now = datetime.now(timezone.utc)
    ago = {
        "two-hours": timedelta(hours=2),
        "23-hours": timedelta(hours=23),
        "25-hours": timedelta(hours=25),
        "6-days-23-hours": timedelta(days=6, hours=23),
        "7-days-1-hour": timedelta(days=7, hours=1),
        "30-days-1-hour": timedelta(days=30, hours=1),
    }
    for name, delta in ago.items():
        activity = ("activity", {"kind": "kernel", "count": 1, "seconds": 60}, now - delta)
        _ingest(catalyst_store, make_event, name, "andes", activity)
    # an event that is not the member's activity (a consent decision) makes nobody active
    consent = ("consent", {"decision": "given", "notice_version": "1"}, now)
    _ingest(catalyst_store, make_event, "30-days-1-hour", "andes", consent)

    text = generate_latest(metrics_registry(catalyst_store, 1, max_age=0)).decode()
    active = _series(text, "catalyst_active_members")
    assert active == {("andes", "24h"): 2, ("andes", "7d"): 4, ("andes", "30d"): 5}
    assert "rolling 24 hours" in text  # HELP says what the windows are


@pytest.mark.clock
def test_usage_families_suppressed_below_k(catalyst_store, make_event):
    """Sessions, members with a session, their server time and members per app, per rolling
    window; a community's figures of fewer than k people are left out, with what they tell."""
    now = datetime.now(timezone.utc)
    hour = timedelta(hours=1)
    for i in range(6):
        # six members started a server 3 days ago (JupyterLab), three of them again in the
        # last hours (RStudio), the first of those twice
        events = _session(now - timedelta(days=3), now - timedelta(days=3) + hour, "lab")
        if i < 3:
            events += _session(now - 2 * hour, now - hour, "rstudio")
        if i == 0:
            events += _session(now - 5 * hour, now - 4 * hour)
        _ingest(catalyst_store, make_event, f"big-{i}", "big", *events)
    for i in range(2):
        events = _session(now - 2 * hour, now - hour, "rstudio")
        _ingest(catalyst_store, make_event, f"small-{i}", "small", *events)

    text = generate_latest(metrics_registry(catalyst_store, 3, max_age=0)).decode()
    assert _series(text, "catalyst_server_session_members") == {
        ("big", "24h"): 3,
        ("big", "7d"): 6,
        ("big", "30d"): 6,
    }
    assert _series(text, "catalyst_server_sessions") == {
        ("big", "24h"): 4,
        ("big", "7d"): 10,
        ("big", "30d"): 10,
    }
    assert _series(text, "catalyst_server_usage_seconds") == pytest.approx(
        {("big", "24h"): 4 * 3600, ("big", "7d"): 10 * 3600, ("big", "30d"): 10 * 3600}, abs=0.1
    )
    assert _series(text, "catalyst_app_active_members") == {
        ("big", "jupyterlab"): 6,
        ("big", "rstudio"): 3,
    }
    # k=4: the three of the last 24 hours and RStudio's three are hidden, and so are the
    # sessions and server time drawn from them
    text = generate_latest(metrics_registry(catalyst_store, 4, max_age=0)).decode()
    for family in ("server_session_members", "server_sessions", "server_usage_seconds"):
        assert set(_series(text, f"catalyst_{family}")) == {("big", "7d"), ("big", "30d")}
    assert _series(text, "catalyst_app_active_members") == {("big", "jupyterlab"): 6}
    # with k=1 nothing is hidden: small's two members are there
    exact = generate_latest(metrics_registry(catalyst_store, 1, max_age=0)).decode()
    assert _series(exact, "catalyst_server_session_members")[("small", "24h")] == 2
    assert _series(exact, "catalyst_server_sessions")[("small", "30d")] == 2
    assert _series(exact, "catalyst_app_active_members")[("small", "rstudio")] == 2
