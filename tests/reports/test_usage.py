"""Sessions, server-hours and the environment mix of the hand-worked hub."""

from datetime import datetime

from catalyst_hub.ingest import COLLECTOR, Ingestor, Sender
from catalyst_hub.reports.export import usage_tables
from catalyst_hub.reports.usage import environment_kind, usage


def at(day: int) -> datetime:
    return datetime(2026, 3, day, 12)


def test_sessions_and_hours(hub):
    report = usage(hub.store, "andes", hub.period, now=hub.now)
    assert report.sessions == 4
    assert report.members == 4
    assert report.hours == 9.0  # 2 + 0.5 + 5.5 + 1 (caro's server still running at NOW)
    per_day = {d.day.day: (d.sessions, d.hours) for d in report.daily if d.sessions}
    assert per_day == {2: (1, 2.0), 3: (1, 0.5), 10: (1, 5.5), 12: (1, 1.0)}


def test_environment_and_size_mix(hub):
    report = usage(hub.store, "andes", hub.period, now=hub.now)
    assert [(r.name, r.sessions, r.members, r.hours) for r in report.environments] == [
        ("RStudio", 2, 2, 6.0),
        ("JupyterLab", 1, 1, 2.0),
        ("unknown", 1, 1, 1.0),
    ]
    assert [(r.name, r.sessions, r.members, r.hours) for r in report.sizes] == [
        ("small", 2, 2, 7.5),
        ("medium", 1, 1, 0.5),
        ("unknown", 1, 1, 1.0),
    ]


def test_environment_kind():
    assert environment_kind("rocker/rstudio:4.3") == "RStudio"
    assert environment_kind("quay.io/jupyter/scipy-notebook:2024") == "JupyterLab"
    assert environment_kind("ghcr.io/someone/custom:1") == "other"
    assert environment_kind(None, None) == "unknown"


def test_time_per_app(hub, make_event):
    """JupyterLab from ana's kernel windows (Mar 3, Mar 10); RStudio, another proxied app and
    a terminal from fer's. The staff account's activity stays out, eve's is another
    community's, and what happened before the period is not counted."""
    fer = hub.store.member_id("fer")

    def window(kind, day, seconds=60, **extra):
        return make_event(
            "activity", {"kind": kind, "count": 2, "seconds": seconds, **extra}, time=at(day)
        )

    stored, _ = Ingestor(hub.store).ingest(
        [
            *(window("proxy", 5, app="rstudio") for _ in range(30)),  # half an hour on Mar 5
            *(window("proxy", 6, app="rstudio") for _ in range(90)),  # an hour and a half
            window("proxy", 6, app="proxy:8787"),
            window("terminal", 6, seconds=1800),
            window("kernel", 6, seconds=0),  # a window whose time went to another app
            window("proxy", 27, app="rstudio", seconds=3600) | {"time": "2026-02-27T12:00:00"},
        ],
        Sender(fer, "andes"),
    )
    assert stored
    # the collector's server activity names no app
    stored, _ = Ingestor(hub.store).ingest_trusted(
        [
            (
                make_event("activity", {"kind": "server", "count": 1}, time=at(6)),
                Sender(fer, "andes"),
            )
        ],
        COLLECTOR,
    )
    assert stored
    report = usage(hub.store, "andes", hub.period, now=hub.now)
    assert [(r.name, r.members, r.active_days, r.hours) for r in report.apps] == [
        ("RStudio", 1, 2, 2.0),
        ("terminal", 1, 1, 0.5),
        ("JupyterLab", 2, 3, 0.03),  # ana's 2 minutes, fer's kernel window of no time
        ("proxy:8787", 1, 1, 0.02),
    ]
    (apps,) = [table for table in usage_tables(report, lambda s, **kw: s) if table.id == "apps"]
    assert apps.csv().splitlines() == [
        "app,members,active_days,hours",
        "RStudio,1,2,2.0",
        "Terminal,1,1,0.5",
        "JupyterLab,2,3,0.03",
        "proxy:8787,1,1,0.02",
    ]
    assert report.to_json()["apps"][0] == {
        "name": "RStudio",
        "app": "rstudio",
        "members": 1,
        "active_days": 2,
        "hours": 2.0,
    }
