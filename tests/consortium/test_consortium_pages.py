"""The consortium's pages, exports and metrics, and who may read or change what."""

from __future__ import annotations

import csv
import io

import pytest

from catalyst_hub.reports.summary import month_of
from catalyst_hub.timeutil import utcnow

pytestmark = pytest.mark.clock


@pytest.fixture
async def world(consortium, make_publishing_hub):
    """Two hubs in two regions (one with a public community), published; a token each for
    a hub champion (a user of the staff hub without consortium scopes), a user whose token
    may not use the service at all, consortium staff and a consortium admin."""
    andes = await make_publishing_hub(
        consortium, "andes", "Andes", "Latin America", public=("community1",), k=3
    )
    sahel = await make_publishing_hub(consortium, "sahel", "Sahel", "Africa", communities=1)
    for hub in (andes, sahel):
        assert await hub.publisher.run_once(full=True) >= 1
    tokens = {
        "anonymous": None,
        "champion": consortium.token("champion"),
        "staff": consortium.token("staff", roles=["consortium-staff"]),
        "admin": consortium.token("admin", roles=["consortium-admin"]),
    }
    return consortium, andes, sahel, tokens


async def test_access_matrix(world):
    consortium, andes, sahel, tokens = world
    public = f"public/{andes.name}/community1"
    private = f"public/{andes.name}/community0"
    reads = [
        "",
        "overview.json",
        "overview.csv",
        "trends",
        "trends.json",
        "funder",
        "funder.csv",
        f"hubs/{andes.name}/community0",
        f"hubs/{sahel.name}/community0.json",
        "metrics",
    ]
    expected = {
        # html pages send anonymous browsers to log in; exports answer 401
        "anonymous": lambda path: (
            302 if not (path.endswith((".json", ".csv")) or path == "metrics") else 401
        ),
        "champion": lambda path: 403,
        "staff": lambda path: 200,
        "admin": lambda path: 200,
    }
    for who, token in tokens.items():
        for path in reads:
            r = await consortium.request("get", path, token)
            assert r.status_code == expected[who](path), (who, path, r.status_code)
            if r.status_code in (401, 403) and (path.endswith(".json") or path == "metrics"):
                assert r.json()["message"]
        # the public page of a community its hub made public: anyone; the others: nobody
        r = await consortium.request("get", public, token)
        assert r.status_code == 200, (who, r.text)
        assert "community1" in r.text
        r = await consortium.request("get", private + ".json", token)
        assert r.status_code == 404 and r.json()["message"]
        # credentials: admins only
        r = await consortium.request("get", "api/v1/credentials", token)
        assert r.status_code == {"anonymous": 401, "champion": 403, "staff": 403, "admin": 200}[who]
        assert "message" in r.json() or who == "admin"
        r = await consortium.request("post", "api/v1/credentials", token, json={"hub": "new-hub"})
        assert r.status_code == {"anonymous": 401, "champion": 403, "staff": 403, "admin": 201}[who]
        if who == "admin":
            created = r.json()
            assert created["token"].startswith("cch_") and created["hub"] == "new-hub"
            r = await consortium.request("delete", f"api/v1/credentials/{created['id']}", token)
            assert r.status_code == 204
            r = await consortium.request("delete", "api/v1/credentials/nope", token)
            assert r.status_code == 404 and r.json()["message"]
            r = await consortium.request("post", "api/v1/credentials", token, json={"hub": ""})
            assert r.status_code == 400 and r.json()["message"]
    # a token that may not use the service at all (its scopes leave the service out)
    narrow = consortium.token("outsider", scopes=["read:users:name!user=outsider"])
    r = await consortium.request("get", "overview.json", narrow)
    assert r.status_code == 403 and "access:services" in r.json()["message"]


async def test_pages_side_by_side_in_every_language(world):
    consortium, andes, sahel, tokens = world
    staff = tokens["staff"]
    month = month_of(utcnow().date())
    r = await consortium.request("get", f"?month={month:%Y-%m}", staff)
    assert r.status_code == 200
    for text in (
        "Andes",
        "Sahel",
        "Latin America",
        "Africa",
        "community0",
        "not linked across hubs",
    ):
        assert text in r.text, text
    data = (await consortium.request("get", f"overview.json?month={month:%Y-%m}", staff)).json()
    regions = {row["region"]: row for row in data["tables"]["regions"]}
    assert set(regions) == {"Latin America", "Africa"}
    assert regions["Latin America"]["hubs"] == 1 and regions["Latin America"]["communities"] == 3
    hubs = {row["hub"]: row for row in data["tables"]["hubs"]}
    # a hub's total is the sum of its communities' figures shown
    andes_rows = [row for row in data["tables"]["communities"] if row["hub"] == "Andes"]
    shown = [
        row["active_members"] for row in andes_rows if not isinstance(row["active_members"], dict)
    ]
    assert hubs["Andes"]["active_members"] == sum(shown)
    # CSV of every table
    for table in ("regions", "hubs", "communities"):
        r = await consortium.request(
            "get", f"overview.csv?month={month:%Y-%m}&table={table}", staff
        )
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert len(rows) == 1 + len(data["tables"][table])
    r = await consortium.request("get", "overview.csv?table=nope", staff)
    assert r.status_code == 404 and r.json()["message"]
    r = await consortium.request("get", "overview?month=2026-13", staff)
    assert r.status_code == 400
    for lang, word in (("es", "Región"), ("pt", "Região"), ("fr", "Région")):
        r = await consortium.request("get", f"?lang={lang}", staff)
        assert word in r.text, lang
        r = await consortium.request("get", "funder", staff, headers={"Accept-Language": lang})
        assert r.status_code == 200 and f'lang="{lang}"' in r.text
    # trends and the funder report
    trends = (await consortium.request("get", "trends.json", staff)).json()["tables"]["months"]
    assert trends[-1]["month"] == f"{month:%Y-%m}" and trends[-1]["hubs"] == 2
    year, quarter = month.year, (month.month - 1) // 3 + 1
    funder = (
        await consortium.request("get", f"funder.json?quarter={year}-Q{quarter}", staff)
    ).json()
    rows = {row["region"]: row for row in funder["tables"]["funder"]}
    assert rows["All regions"]["hubs_live"] == 2
    assert rows["All regions"]["communities"] == 4
    r = await consortium.request("get", "funder?quarter=2026-Q5", staff)
    assert r.status_code == 400
    # a community's page
    r = await consortium.request("get", f"hubs/{sahel.name}/community0", staff)
    assert r.status_code == 200 and "Sahel" in r.text
    r = await consortium.request("get", f"hubs/{sahel.name}/nobody.json", staff)
    assert r.status_code == 404


async def test_metrics_have_hub_and_community_labels(world):
    consortium, andes, sahel, tokens = world
    r = await consortium.request("get", "metrics", tokens["staff"])
    assert r.status_code == 200
    lines = [line for line in r.text.splitlines() if line.startswith("consortium_members{")]
    assert lines
    assert any(f'hub="{andes.name}"' in line and 'region="Latin America"' in line for line in lines)
    assert all('community="' in line for line in lines)
