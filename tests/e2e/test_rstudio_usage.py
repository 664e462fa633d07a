"""RStudio counted, end to end: a real hub, proxy and catalyst service, a single-user server
with the extension and the real jupyter-server-proxy, which proxies a small HTTP server
registered as ``rstudio`` (standing in for RStudio). A member's use of it shows as RStudio
time for their community on the usage page, its CSV and its JSON, and for no other."""

from __future__ import annotations

import csv
import io
import os
import sys
import uuid
from datetime import datetime, timezone

import pytest
import requests

from harness.realhub import REPO, RealHub
from harness.waiting import wait_until

pytestmark = pytest.mark.e2e

ALICE = "alice@example.org"
BOB = "bob"
STAFF = "stella"
#: the server extension's activity window: 36 s is 0.01 h, the report's precision
WINDOW = 36


@pytest.fixture
def hub_with_rstudio(tmp_path, catalyst_db_url):
    server_config = tmp_path / "server_config"
    server_config.mkdir()
    (server_config / "jupyter_server_config.py").write_text(
        "c = get_config()  # noqa\n"
        "c.ServerProxy.servers = {'rstudio': {\n"
        f"    'command': [{sys.executable!r}, '-m', 'http.server', '{{port}}'],\n"
        "    'timeout': 30,\n"
        "    'launcher_entry': {'enabled': False},\n"
        "}}\n"
        f"c.Recorder.activity_window_seconds = {WINDOW}\n"
    )
    # our config folder first, then the repository's (it enables the extension: an editable
    # install has no etc/jupyter file)
    config_path = os.pathsep.join([str(server_config), str(REPO / "jupyter_config")])
    hub = RealHub(
        tmp_path / "hub",
        users={ALICE: "alice-pass", BOB: "bob-pass", STAFF: "stella-pass"},
        groups={
            "community-andes": [ALICE],
            "community-sahel": [BOB],
            # a catalyst admin reads the full report (consortium staff read it from outside)
            "catalyst-admins": [STAFF],
        },
        extra_hub_config=f"c.Spawner.environment['JUPYTER_CONFIG_PATH'] = {config_path!r}\n",
        db_url=catalyst_db_url,
        hub_name=f"e2e-{uuid.uuid4().hex[:8]}",  # the PostgreSQL database is shared
    )
    hub.start()
    yield hub
    hub.stop()


def _consent(hub: RealHub, token: str) -> None:
    """The member accepts the recording notice (activity is recorded with consent)."""
    notice = hub.service_get("api/me", token).json()["notice"]
    r = hub.service_post(
        "api/events",
        token,
        json={
            "events": [
                {
                    "id": str(uuid.uuid4()),
                    "schema": "consent",
                    "version": 1,
                    "time": datetime.now(timezone.utc).isoformat(),
                    "payload": {"decision": "given", "notice_version": notice["version"]},
                }
            ]
        },
    )
    assert r.status_code < 300, r.text


def _apps(hub: RealHub, token: str, community: str) -> dict[str, dict]:
    r = hub.service_get(f"reports/communities/{community}/usage.json", token)
    r.raise_for_status()
    return {row["app"]: row for row in r.json()["apps"]}


def test_rstudio_time_shows_for_its_community(hub_with_rstudio):
    hub = hub_with_rstudio
    _consent(hub, hub.token(ALICE))
    _consent(hub, hub.token(BOB))  # so sahel is a community (one with no RStudio time)
    server_url = hub.start_server(ALICE)
    headers = {"Authorization": f"token {hub.server_token(ALICE)}"}

    # jupyter-server-proxy starts the stand-in on first request; it answers its listing
    def rstudio_page():
        r = requests.get(server_url + "rstudio/", headers=headers, timeout=60)
        return r.status_code == 200 and "Directory listing" in r.text and r

    wait_until(rstudio_page, 60, "the proxied rstudio stand-in")
    for _ in range(3):
        assert rstudio_page()

    staff = hub.token(STAFF)
    # the extension's window closes, the outbox delivers, the projection counts it
    apps = wait_until(
        lambda: (apps := _apps(hub, staff, "andes")).get("rstudio") and apps,
        3 * WINDOW + 60,
        "RStudio time in andes' usage",
    )
    rstudio = apps["rstudio"]
    assert rstudio["name"] == "RStudio"
    assert (rstudio["members"], rstudio["active_days"]) == (1, 1)
    assert rstudio["hours"] >= WINDOW / 3600

    r = hub.service_get("reports/communities/andes/usage.csv?table=apps", staff)
    r.raise_for_status()
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    (row,) = [row for row in rows if row["app"] == "RStudio"]
    assert (row["members"], row["active_days"]) == ("1", "1")
    assert float(row["hours"]) >= WINDOW / 3600

    page = hub.service_get("reports/communities/andes/usage", staff)
    page.raise_for_status()
    section = page.text.split('<section id="section-apps"', 1)[1].split("</section>", 1)[0]
    assert ">RStudio<" in section

    # and none of it in the other community
    assert "rstudio" not in _apps(hub, staff, "sahel")
