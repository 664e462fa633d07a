"""The month report of the hand-worked hub in conftest.py: it stops at today."""

from datetime import date

import pytest

from catalyst_hub.reports.monthly import month_report


def test_current_month_stops_at_today(hub):
    report = month_report(hub.store, "andes", 2026, 3, today=date(2026, 3, 12))
    assert report.period.start == date(2026, 3, 1)
    assert report.period.end == date(2026, 3, 12)
    days = [d.day for d in report.adoption.daily]
    assert days[0] == date(2026, 3, 1) and days[-1] == date(2026, 3, 12)
    # no WAU / MAU carried into the days after today
    assert len(days) == 12
    assert report.to_json()["period"] == {
        "start": "2026-03-01",
        "end": "2026-03-12",
        "timezone": "UTC",
    }
    assert report.to_json()["daily_active"][-1] == {"day": "2026-03-12", "dau": 1}  # caro


def test_past_month_is_whole(hub):
    report = month_report(hub.store, "andes", 2026, 2, today=date(2026, 3, 12))
    assert (report.period.start, report.period.end) == (date(2026, 2, 1), date(2026, 2, 28))
    assert len(report.adoption.daily) == 28


def test_month_after_today_is_refused(hub):
    with pytest.raises(ValueError):
        month_report(hub.store, "andes", 2026, 4, today=date(2026, 3, 31))
