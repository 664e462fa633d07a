"""Adoption figures of the hand-worked hub in conftest.py, on SQLite and PostgreSQL."""

from datetime import date

from catalyst_hub.reports.adoption import adoption
from catalyst_hub.reports.common import Period


def test_daily_weekly_monthly_active(hub):
    report = adoption(hub.store, "andes", hub.period)
    by_day = {r.day.day: (r.dau, r.wau, r.mau) for r in report.daily}
    assert len(report.daily) == 14
    # Mar 2: ana. WAU window Feb 24..Mar 2 misses her Feb 23 day; MAU window holds it.
    assert by_day[2] == (1, 1, 1)
    assert by_day[3] == (2, 2, 2)  # ana, ben
    assert by_day[9] == (0, 2, 2)  # window Mar 3..9: ana (Mar 3), ben
    assert by_day[10] == (2, 3, 3)  # ana, dan; WAU adds ben (Mar 4)
    assert by_day[12] == (1, 3, 4)  # caro; WAU ana, dan, caro; MAU all four
    assert by_day[15] == (0, 3, 4)
    # the excluded staff account is active every day and never counted
    assert sum(r.dau for r in report.daily) == 7


def test_summary_figures(hub):
    report = adoption(hub.store, "andes", hub.period)
    assert report.active_members == 4
    assert report.new_members == 2  # ben, dan
    assert report.activated_members == 2  # ana, dan
    assert report.activated_in_period == 2
    assert report.new_activated == 1  # dan
    assert report.mean_dau == 0.5  # 7 member-days / 14 days
    assert report.stickiness == 12.5  # 0.5 / 4


def test_lifecycle(hub):
    weeks = adoption(hub.store, "andes", hub.period).lifecycle
    assert [(w.week, w.new, w.returning, w.resurrected, w.dormant) for w in weeks] == [
        (date(2026, 3, 2), 1, 1, 0, 0),  # ben new, ana back from Feb 23's week
        (date(2026, 3, 9), 1, 1, 1, 1),  # dan new, ana returning, caro resurrected, ben dormant
    ]


def test_retention(hub):
    cohorts = {c.week: c for c in adoption(hub.store, "andes", hub.period).retention}
    # the cohorts are the weeks that begin inside the period: not caro's (Jan 19) or ana's
    assert list(cohorts) == [date(2026, 3, 2), date(2026, 3, 9)]
    assert cohorts[date(2026, 3, 2)].size == 1  # ben
    assert cohorts[date(2026, 3, 2)].active == [1, 0]
    assert cohorts[date(2026, 3, 2)].percents() == [100.0, 0.0]
    assert cohorts[date(2026, 3, 9)].active == [1]  # dan


def test_retention_starts_inside_the_period(hub):
    # from a Wednesday: the week of Mar 2 began before the period
    report = adoption(hub.store, "andes", Period(date(2026, 3, 4), date(2026, 3, 15)))
    assert [(c.week, c.size, c.active) for c in report.retention] == [(date(2026, 3, 9), 1, [1])]
    # a long period shows its last eight weeks, all inside it
    long = adoption(hub.store, "andes", Period(date(2026, 1, 1), date(2026, 3, 15))).retention
    assert long[0].week == date(2026, 1, 19)
    assert long[0].active == [1, 0, 0, 0, 0, 0, 0, 1]  # caro
    assert len(long) == 8
    assert [len(c.active) for c in long] == list(range(8, 0, -1))
    # no week begins inside Tuesday to Sunday: no cohort
    assert adoption(hub.store, "andes", Period(date(2026, 3, 3), date(2026, 3, 8))).retention == []
    # from the Monday of ana's first week: her cohort is in
    first = adoption(hub.store, "andes", Period(date(2026, 2, 23), date(2026, 3, 15))).retention
    assert (first[0].week, first[0].size, first[0].active) == (date(2026, 2, 23), 1, [1, 1, 1])


def test_other_community_is_separate(hub):
    report = adoption(hub.store, "pampa", hub.period)
    assert report.active_members == 1
    assert report.new_members == 1
    assert report.activated_members == 0
    assert adoption(hub.store, "nowhere", hub.period).active_members == 0


def test_json_shape(hub):
    data = adoption(hub.store, "andes", hub.period).to_json()
    assert data["summary"]["stickiness_percent"] == 12.5
    assert data["daily"][0] == {"day": "2026-03-02", "dau": 1, "wau": 1, "mau": 1}
