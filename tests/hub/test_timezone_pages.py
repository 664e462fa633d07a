"""A hub in Buenos Aires (``c.CatalystApp.timezone``): its pages and exports count its days.

ana's first visit, Monday 2026-06-01 01:30 UTC, is Sunday 2026-05-31 there.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.seed import sender_kind

BUENOS_AIRES = "America/Argentina/Buenos_Aires"
AT = datetime(2026, 6, 1, 1, 30, tzinfo=timezone.utc)


@pytest.fixture
def catalyst_config():
    return {
        "CatalystApp": {"timezone": BUENOS_AIRES},
        "CatalystService": {"consent_mode": "opt-out"},
    }


@pytest.fixture
def catalyst_hub_roles():
    return [{"name": "catalyst-admin", "scopes": ["custom:catalyst:admin"]}]


async def test_pages_and_exports_count_the_hubs_days(catalyst_service, make_event):
    svc = catalyst_service
    ana = svc.token("ana@andes.example.org", groups=["community-andes"], consent=None)
    staff = svc.token("admin", roles=["catalyst-admin"])
    store = svc.store
    assert store.zone.key == BUENOS_AIRES
    start = AT.isoformat()
    events = [
        ("activity", {"kind": "kernel", "count": 2, "seconds": 60}, AT),
        ("step_reached", {"step": "upload_file"}, AT),
        ("server_started", {"server_name": "", "started": start}, AT),
        (
            "server_stopped",
            {"server_name": "", "started": start, "last_activity": start},
            AT + timedelta(hours=1),
        ),
    ]
    member = store.member_id("ana@andes.example.org")
    for schema, payload, time in events:
        stored, results = Ingestor(store).ingest(
            [make_event(schema, payload, time=time)],
            Sender(member, "andes", sender_kind(schema, payload)),
        )
        assert stored, [r.to_json() for r in results]

    period = "from=2026-05-31&to=2026-06-01"
    base = "reports/communities/andes"
    r = await svc.request("get", f"{base}/adoption.json?{period}", staff)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["period"] == {"start": "2026-05-31", "end": "2026-06-01", "timezone": BUENOS_AIRES}
    assert [(d["day"], d["dau"]) for d in data["daily"]] == [("2026-05-31", 1), ("2026-06-01", 0)]

    r = await svc.request("get", f"{base}/adoption.csv?{period}&table=daily-active", staff)
    assert r.status_code == 200, r.text
    rows = [line.split(",")[:2] for line in r.text.lstrip("\ufeff").strip().splitlines()[1:]]
    assert rows == [["2026-05-31", "1"], ["2026-06-01", "0"]]

    r = await svc.request("get", f"{base}/usage.csv?{period}&table=sessions-daily", staff)
    assert r.status_code == 200, r.text
    rows = [line.split(",")[:2] for line in r.text.lstrip("\ufeff").strip().splitlines()[1:]]
    assert ["2026-05-31", "1"] in rows and ["2026-06-01", "1"] not in rows

    # the month of her visit is May there; the page says whose days they are
    r = await svc.request("get", f"{base}/month.json?month=2026-05", staff)
    assert r.status_code == 200, r.text
    assert r.json()["daily_active"][-1] == {"day": "2026-05-31", "dau": 1}
    r = await svc.request("get", f"{base}/adoption?{period}", staff)
    assert r.status_code == 200
    assert f"days in {BUENOS_AIRES}, both included" in r.text
    r = await svc.request(
        "get", f"{base}/adoption?{period}", staff, headers={"Accept-Language": "es"}
    )
    assert f"días de {BUENOS_AIRES}, ambos incluidos" in r.text

    # her own page dates the step she reached that evening by her day
    r = await svc.request("get", "me", ana)
    assert r.status_code == 200
    assert '<time datetime="2026-06-01T01:30:00Z">2026-05-31</time>' in r.text, r.text
