"""Sessions, server-hours and the environment mix of the hand-worked hub."""

from catalyst_hub.reports.usage import environment_kind, usage


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
