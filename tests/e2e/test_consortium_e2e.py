"""Three real hubs (each its own processes, database and secret; one with community groups,
two without) publish to a real consortium service, itself a managed JupyterHub service on
the first hub (the staff's): the consortium shows each hub's figures as its own month
report does (where k allows), and nothing personal."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from catalyst_hub.localhub import free_ports
from catalyst_hub.pytest_plugin import POSTGRES_URL, missing
from catalyst_hub.timeutil import utcnow
from harness.realhub import RealHub

pytestmark = [pytest.mark.e2e, pytest.mark.clock]

STAFF = "staff@consortium.example.org"


def consortium_hub_config(port: int, config_path) -> str:
    """The staff hub runs the consortium service beside the catalyst service."""
    return f"""
import sys
from catalyst_hub.consortium.scopes import CUSTOM_SCOPES as CONSORTIUM_SCOPES
c.JupyterHub.custom_scopes.update(CONSORTIUM_SCOPES)
c.JupyterHub.services.append({{
    "name": "consortium",
    "url": "http://127.0.0.1:{port}",
    "command": [sys.executable, "-m", "catalyst_hub", "consortium", "--config={config_path}"],
    "oauth_no_confirm": True,
    "oauth_client_allowed_scopes": list(CONSORTIUM_SCOPES),
}})
c.JupyterHub.load_roles.append({{
    "name": "consortium-staff",
    "scopes": ["custom:consortium:read", "access:services!service=consortium"],
    "users": [{STAFF!r}],
}})
"""


def service_config(consortium_url: str, token_file, k: int = 2) -> str:
    # the test publishes (POST api/consortium) once every member is in: one version of the
    # month, as the hub's own month report counts it (versions sent while members arrived
    # one by one would hide what moved by less than k since)
    return (
        f"c.CatalystService.consortium_url = {consortium_url!r}\n"
        f"c.CatalystService.consortium_token_file = {str(token_file)!r}\n"
        "c.CatalystService.consortium_interval = 3600\n"
        "c.CatalystService.consortium_poll = 0.5\n"
        f"c.CatalystService.min_group_size = {k}\n"
        "c.CatalystApp.excluded_users = {'admin'}\n"
    )


@pytest.fixture
def consortium_postgres():
    """The consortium's database: PostgreSQL, as a real consortium runs (the hubs keep
    SQLite files of their own; the in-process tests run both engines on both sides)."""
    name = f"consortium_e2e_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        missing(f"PostgreSQL is not reachable at {POSTGRES_URL}: {e}")
    yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_three_hubs_one_consortium(tmp_path, consortium_postgres):
    port = free_ports(1)[0]
    consortium_url = f"http://127.0.0.1:{port}/services/consortium/"
    names = {"andes": "Andes", "sahel": "Sahel", "pampa": "Pampa"}
    (tmp_path / "consortium_config.py").write_text(
        "c = get_config()  # noqa\n"
        f"c.ConsortiumBase.db_url = {consortium_postgres!r}\n"
        "c.ConsortiumService.upgrade_db = True\n"
        "c.ConsortiumService.metrics_cache = 0\n"
        "c.ConsortiumService.hubs = "
        + repr(
            {
                "andes": {"name": "Andes", "region": "Latin America"},
                "sahel": {"name": "Sahel", "region": "Africa"},
                "pampa": {"name": "Pampa", "region": "Latin America"},
            }
        )
        + "\n"
    )
    # credentials from the command line, before any hub starts
    tokens = {}
    for hub in names:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "catalyst_hub",
                "consortium",
                "credential",
                "create",
                hub,
                f"--config={tmp_path / 'consortium_config.py'}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        tokens[hub] = out.stdout.strip().splitlines()[-1]
        (tmp_path / f"{hub}.token").write_text(tokens[hub])
    users = {
        "andes": {f"ana{i}@andes.example.org": "pw" for i in range(4)}
        | {f"rui{i}@andes.example.org": "pw" for i in range(3)}
        | {STAFF: "pw", "admin": "pw"},
        "sahel": {f"sahel{i}@example.org": "pw" for i in range(3)} | {"admin": "pw"},
        "pampa": {f"pampa{i}": "pw" for i in range(4)} | {"admin": "pw"},
    }
    groups = {
        "andes": {
            "community-highlands": [u for u in users["andes"] if u.startswith("ana")],
            "community-coast": [u for u in users["andes"] if u.startswith("rui")],
            "catalyst-admins": ["admin"],
        },
        "sahel": {"catalyst-admins": ["admin"]},
        "pampa": {"catalyst-admins": ["admin"]},
    }
    with ExitStack() as stack:
        hubs = {}
        for hub in names:
            hubs[hub] = RealHub(
                tmp_path / hub,
                users=users[hub],
                groups=groups[hub],
                hub_name=hub,
                extra_hub_config=(
                    consortium_hub_config(port, tmp_path / "consortium_config.py")
                    if hub == "andes"
                    else ""
                ),
                extra_service_config=service_config(consortium_url, tmp_path / f"{hub}.token"),
            )
            stack.enter_context(hubs[hub])
        for hub, real in hubs.items():
            for username in users[hub]:
                if username in (STAFF, "admin"):
                    continue
                real.decide(username)
                real.service_get("me", real.token(username)).raise_for_status()
        staff = hubs["andes"].token(STAFF)
        admins = {hub: real.token("admin") for hub, real in hubs.items()}
        month = utcnow().date().strftime("%Y-%m")
        for hub, real in hubs.items():
            r = real.service_post("api/consortium", admins[hub])
            assert r.status_code == 200, (hub, r.text)

        def consortium(path: str, token: str | None = staff) -> requests.Response:
            headers = {"Authorization": f"token {token}"} if token else {}
            return requests.get(
                hubs["andes"].url + "services/consortium/" + path, headers=headers, timeout=30
            )

        def own_month(hub: str, community: str) -> dict:
            r = hubs[hub].service_get(
                f"reports/communities/{community}/month.json?month={month}", admins[hub]
            )
            r.raise_for_status()
            return {f["key"]: f["value"] for f in r.json()["figures"]}

        expected = {
            ("Andes", "highlands"): 4,
            ("Andes", "coast"): 3,
            ("Sahel", "default"): 3,
            ("Pampa", "default"): 4,
        }
        # sent: every hub's figures are there (a retry after a first failed attempt aside)
        deadline = time.monotonic() + 90
        rows = {}
        while time.monotonic() < deadline:
            r = consortium(f"overview.json?month={month}")
            if r.status_code == 200:
                rows = {
                    (row["hub"], row["community"]): row for row in r.json()["tables"]["communities"]
                }
                if all(rows.get(key, {}).get("active_members") == n for key, n in expected.items()):
                    break
            time.sleep(0.5)
        else:
            pytest.fail(f"consortium rows {rows}\n{hubs['andes'].log_tail()}")
        hub_ids = {v: k for k, v in names.items()}
        compared = 0
        for (display, community), row in rows.items():
            own = own_month(hub_ids[display], community)
            for key in (
                "active_members",
                "new_members",
                "activated_in_period",
                "sessions",
                "mean_dau",
            ):
                if not isinstance(row[key], dict):
                    assert row[key] == own[key], (display, community, key)
                    compared += 1
        assert compared >= len(expected) * 2
        regions = {
            row["region"]: row
            for row in consortium(f"overview.json?month={month}").json()["tables"]["regions"]
        }
        assert regions["Latin America"]["hubs"] == 2 and regions["Africa"]["hubs"] == 1
        page = consortium(f"?month={month}")
        assert page.status_code == 200 and "not linked across hubs" in page.text
        # nothing personal in any page or export of the consortium
        everything = (
            page.text
            + json.dumps(
                [consortium(p).json() for p in ("overview.json", "trends.json", "funder.json")]
            )
            + consortium("metrics").text
        )
        for accounts in users.values():
            for username in accounts:
                if username == STAFF:  # the reader's own name, in the navigation bar
                    continue
                assert username not in everything and username.split("@")[0] not in everything
        # each hub's admin sees its publishing
        for hub, real in hubs.items():
            state = real.service_get("api/consortium", admins[hub]).json()
            assert state["enabled"] and state["last_published_day"] == utcnow().date().isoformat()
            assert state["last_error"] is None
        # anonymous: a login redirect for pages, 401 for exports
        assert consortium("overview.json", token=None).status_code == 401
        # the champion of a hub (no consortium scope) may not read it
        champion = hubs["andes"].token("ana0@andes.example.org")
        assert consortium("overview.json", token=champion).status_code == 403
