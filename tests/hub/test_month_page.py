"""The month page stops at today, and a month not begun is a clear 400."""

from __future__ import annotations

from datetime import timedelta

import pytest

from catalyst_hub.timeutil import utcnow


@pytest.fixture
def catalyst_hub_roles():
    return [{"name": "catalyst-admin", "scopes": ["custom:catalyst:admin"]}]


async def test_month_stops_at_today_and_refuses_the_future(catalyst_service):
    # a member makes andes a community; an admin reads its full month
    catalyst_service.token("ana@andes.example.org", groups=["community-andes"])
    staff = catalyst_service.token("admin", roles=["catalyst-admin"])
    before = utcnow().date()
    r = await catalyst_service.request("get", "reports/communities/andes/month?format=json", staff)
    after = utcnow().date()
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["period"]["end"] in {before.isoformat(), after.isoformat()}
    assert data["daily_active"][-1]["day"] == data["period"]["end"]

    following = (before.replace(day=28) + timedelta(days=7)).strftime("%Y-%m")
    for path in (f"month?month={following}&format=json", f"month.csv?month={following}"):
        r = await catalyst_service.request("get", f"reports/communities/andes/{path}", staff)
        assert r.status_code == 400, r.text
        assert r.json() == {"status": 400, "message": f"The month {following} has not begun"}
    r = await catalyst_service.request(
        "get", f"reports/communities/andes/month?month={following}", staff
    )
    assert r.status_code == 400 and "has not begun" in r.text
