"""Daily tables are calendar days of the hub's time zone (``c.CatalystApp.timezone``).

One member's Monday 2026-06-01 01:30 UTC is Sunday 2026-05-31 22:30 in Buenos Aires
(UTC-3): its day, ISO week and month are the day before's there, and the same day in UTC;
in projections, reports and after a rebuild alike.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import catalyst_hub.store  # noqa: F401  (loads before ingest)
from catalyst_hub.catalog import Catalog
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.projections import Projector
from catalyst_hub.reports.adoption import adoption
from catalyst_hub.reports.common import Period
from catalyst_hub.reports.funnel import funnel
from catalyst_hub.reports.monthly import month_report
from catalyst_hub.reports.usage import usage
from catalyst_hub.seed import sender_kind
from catalyst_hub.store import Store, make_engine
from catalyst_hub.store import tables as t
from catalyst_hub.timeutil import UTC, day_start, local_day, utc_offsets, zone_named

BUENOS_AIRES = "America/Argentina/Buenos_Aires"
AT = datetime(2026, 6, 1, 1, 30)  # naive UTC: a Monday
#: the day, ISO week (Monday) and month of AT in each zone
DAYS = {
    "UTC": (date(2026, 6, 1), date(2026, 6, 1), (2026, 6)),
    BUENOS_AIRES: (date(2026, 5, 31), date(2026, 5, 25), (2026, 5)),
}


@pytest.fixture(params=["UTC", BUENOS_AIRES])
def zone_name(request) -> str:
    return request.param


def make_store(db_url: str, hub: str, zone_name: str) -> Store:
    store = Store(
        make_engine(db_url),
        hub,
        b"test-secret-" + b"0" * 32,
        Projector(Catalog.load(), zone=zone_named(zone_name)),
    )
    store.consent_mode = "opt-out"
    return store


def send(store: Store, make_event, name: str, events: list[tuple], community: str = "andes"):
    by_kind: dict[str, list[dict]] = {}
    for schema, payload, time in events:
        by_kind.setdefault(sender_kind(schema, payload), []).append(
            make_event(schema, payload, time=time.replace(tzinfo=timezone.utc))
        )
    for kind, raws in by_kind.items():
        stored, results = Ingestor(store).ingest(
            raws, Sender(store.member_id(name), community, kind)
        )
        assert stored, [r.to_json() for r in results]


def late_evening(store: Store, make_event) -> None:
    """ana's first visit: a login, a server from 01:30 to 02:30 UTC, an hour in RStudio."""
    start = AT.isoformat() + "Z"
    send(
        store,
        make_event,
        "ana",
        [
            ("step_reached", {"step": "login"}, AT),
            ("server_started", {"server_name": "", "started": start}, AT),
            ("activity", {"kind": "proxy", "app": "rstudio", "count": 5, "seconds": 3600}, AT),
            (
                "server_stopped",
                {"server_name": "", "started": start, "last_activity": start},
                AT + timedelta(hours=1),
            ),
        ],
    )


def day_rows(store: Store) -> dict[str, list[tuple]]:
    da, aa = t.daily_activity.c, t.app_activity.c
    with store.connect() as conn:
        return {
            "daily_activity": [
                tuple(r)
                for r in conn.execute(
                    select(da.day, da.community, da.events, da.seconds).where(da.hub == store.hub)
                )
            ],
            "app_activity": [
                tuple(r)
                for r in conn.execute(
                    select(aa.day, aa.app, aa.events, aa.seconds).where(aa.hub == store.hub)
                )
            ],
        }


def test_an_evening_is_the_days_of_the_hubs_zone(
    catalyst_db_url, catalyst_hub_name, make_event, zone_name
):
    store = make_store(catalyst_db_url, catalyst_hub_name, zone_name)
    day, monday, (year, month) = DAYS[zone_name]
    zone = store.zone
    late_evening(store, make_event)

    # projections: the day the event falls on there
    live = day_rows(store)
    assert [r[0] for r in live["daily_activity"]] == [day]
    assert live["app_activity"] == [(day, "rstudio", 5, 3600)]

    # reports over the two days around it: the event is on its own day of the zone
    period = Period(date(2026, 5, 31), date(2026, 6, 1), zone)
    report = adoption(store, "andes", period, weekly=False)
    assert {d.day: d.dau for d in report.daily} == {
        date(2026, 5, 31): int(day == date(2026, 5, 31)),
        date(2026, 6, 1): int(day == date(2026, 6, 1)),
    }
    used = usage(store, "andes", period, now=AT + timedelta(days=1))
    assert [(d.day, d.sessions, d.hours) for d in used.daily if d.sessions] == [(day, 1, 1.0)]
    # a period of that day alone has the newcomer, her session and her RStudio time
    that_day = Period(day, day, zone)
    assert funnel(store, "andes", that_day).newcomers == 1
    used = usage(store, "andes", that_day, now=AT + timedelta(days=1))
    assert (used.sessions, used.hours) == (1, 1.0)
    assert [(a.app, a.active_days, a.hours) for a in used.apps] == [("rstudio", 1, 1.0)]
    other_day = date(2026, 6, 1) if day == date(2026, 5, 31) else date(2026, 5, 31)
    other = Period(other_day, other_day, zone)
    assert funnel(store, "andes", other).newcomers == 0
    assert usage(store, "andes", other, now=AT + timedelta(days=1)).sessions == 0

    # her week: a newcomer of the ISO week of her day, in the lifecycle and retention
    weeks = Period(date(2026, 5, 25), date(2026, 6, 7), zone)
    report = adoption(store, "andes", weeks)
    assert [(w.week, w.new) for w in report.lifecycle] == [
        (date(2026, 5, 25), int(monday == date(2026, 5, 25))),
        (date(2026, 6, 1), int(monday == date(2026, 6, 1))),
    ]
    assert [(c.week, c.size) for c in report.retention if c.size] == [(monday, 1)]

    # her month: the month report of the zone's month has her, stopping at the day given
    report = month_report(store, "andes", year, month, today=date(2026, 6, 1))
    assert report.adoption.new_members == 1
    assert report.to_json()["period"]["timezone"] == zone_name
    assert report.adoption.daily[-1].day == min(report.period.end, date(2026, 6, 1))
    other_month = 5 if month == 6 else 6
    report = month_report(store, "andes", 2026, other_month, today=date(2026, 6, 1))
    assert report.adoption.new_members == 0

    # a rebuild gives the very same days as the live ingest
    store.rebuild()
    assert day_rows(store) == live
    store.engine.dispose()


def test_zone_arithmetic():
    ba = zone_named(BUENOS_AIRES)
    assert local_day(AT, ba) == date(2026, 5, 31) and local_day(AT, UTC) == date(2026, 6, 1)
    assert day_start(date(2026, 5, 31), ba) == datetime(2026, 5, 31, 3, 0)
    # Paris: the change to summer time is found to the minute, and a day there starts at
    # its midnight
    paris = zone_named("Europe/Paris")
    assert utc_offsets(paris, datetime(2026, 1, 1), datetime(2027, 1, 1)) == [
        (datetime(2026, 1, 1), 3600),
        (datetime(2026, 3, 29, 1, 0), 7200),
        (datetime(2026, 10, 25, 1, 0), 3600),
    ]
    assert day_start(date(2026, 7, 1), paris) == datetime(2026, 6, 30, 22, 0)
    # a zone whose midnight was skipped (Santiago's change to summer time at 00:00)
    santiago = zone_named("America/Santiago")
    start = day_start(date(2026, 9, 6), santiago)
    assert local_day(start, santiago) == date(2026, 9, 6)
    assert local_day(start - timedelta(minutes=1), santiago) == date(2026, 9, 5)
    for bad in ("Mars/Olympus_Mons", "", " UTC", "../etc/passwd"):
        with pytest.raises(ValueError, match="unknown time zone"):
            zone_named(bad)


def test_a_summer_time_change_inside_a_period(catalyst_db_url, catalyst_hub_name, make_event):
    """Paris: sessions on either side of the change to summer time fall on their own days."""
    store = make_store(catalyst_db_url, catalyst_hub_name, "Europe/Paris")
    # 23:30 UTC is 00:30 the next day in winter (UTC+1) and 01:30 in summer (UTC+2)
    times = [datetime(2026, 3, 28, 23, 30), datetime(2026, 3, 29, 23, 30)]
    for i, at in enumerate(times):
        start = at.isoformat() + "Z"
        send(
            store,
            make_event,
            f"m{i}",
            [
                ("server_started", {"server_name": "", "started": start}, at),
                (
                    "server_stopped",
                    {"server_name": "", "started": start, "last_activity": start},
                    at + timedelta(minutes=30),
                ),
            ],
        )
    period = Period(date(2026, 3, 28), date(2026, 3, 31), store.zone)
    used = usage(store, "andes", period, now=datetime(2026, 4, 1))
    assert [(d.day, d.sessions) for d in used.daily if d.sessions] == [
        (date(2026, 3, 29), 1),
        (date(2026, 3, 30), 1),
    ]
    da = t.daily_activity.c
    with store.connect() as conn:
        days = sorted(conn.execute(select(da.day).where(da.hub == store.hub)).scalars())
    assert days == [date(2026, 3, 29), date(2026, 3, 30)]
    store.engine.dispose()


@pytest.mark.clock
def test_today_is_the_zones_today(catalyst_db_url, catalyst_hub_name, make_event):
    """Activity now is on today's row of the last days, in Buenos Aires as in UTC: whatever
    the hour (``--clock=00:05`` is the evening before there, 23:55 its evening)."""
    for name in ("UTC", BUENOS_AIRES):
        store = make_store(catalyst_db_url, f"{catalyst_hub_name}-{len(name)}", name)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        send(store, make_event, "ana", [("activity", {"kind": "kernel", "count": 1}, now)])
        report = adoption(store, "andes", Period.last_days(2, zone=store.zone), weekly=False)
        assert report.period.end in {local_day(now, store.zone), store.today()}
        assert sum(d.dau for d in report.daily) == 1
        assert report.active_members == 1
        store.engine.dispose()


@pytest.mark.clock
def test_rolling_windows_do_not_depend_on_the_zone(catalyst_db_url, catalyst_hub_name, make_event):
    """The metrics' 24 h and 7 d windows end now, whatever the zone of the daily tables:
    activity 23 h ago is in the last 24 h, 25 h ago only in the last 7 days."""
    from catalyst_hub.reports.metrics import active_counts_within

    for name in ("UTC", BUENOS_AIRES, "Asia/Kathmandu"):
        store = make_store(catalyst_db_url, f"{catalyst_hub_name}-{len(name)}", name)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        for who, hours in (("ana", 23), ("ben", 25)):
            at = now - timedelta(hours=hours)
            send(store, make_event, who, [("activity", {"kind": "kernel", "count": 1}, at)])
        starts = [now - timedelta(hours=24), now - timedelta(days=7)]
        assert active_counts_within(store, starts, now, ["andes"]) == {"andes": [1, 2]}, name
        store.engine.dispose()
