"""A badge's ids do not depend on the address it was issued through: on a real hub whose
``c.JupyterHub.public_url`` is set (as the example config does) and no badge_base_url, one
learner's badge is issued by the hub's page, another's by ``api/me`` called by the server
extension of a real single-user server through the service's internal address (as the
JupyterLab panel asks); both carry the same public base in every id."""

from __future__ import annotations

import json
import sqlite3

import pytest
import requests

from harness.realhub import REPO, RealHub

pytestmark = pytest.mark.e2e

ANA = "ana@example.org"
BEN = "ben"


@pytest.fixture
def hub(tmp_path):
    hub = RealHub(tmp_path / "hub", users={ANA: "ana-pass", BEN: "ben-pass"})
    # the servers reach the service directly, not through the proxy's public address (as on
    # Kubernetes, http://proxy-public/...); an editable install needs the extension's switch
    internal = f"http://127.0.0.1:{hub.service_port}/services/catalyst/"
    hub.extra_hub_config = (
        f"c.Spawner.environment['CATALYST_SERVICE_URL'] = {internal!r}\n"
        f"c.Spawner.environment['JUPYTER_CONFIG_PATH'] = {str(REPO / 'jupyter_config')!r}\n"
    )
    hub.start()
    yield hub
    hub.stop()


def stored_credentials(hub: RealHub) -> dict[str, dict]:
    db = hub.workdir / "catalyst" / "catalyst_hub.sqlite"
    with sqlite3.connect(db) as conn:
        return {i: json.loads(c) for i, c in conn.execute("SELECT id, credential FROM badges")}


def test_badge_ids_are_the_hubs_public_address_whichever_way_issued(hub):
    base = hub.service_url  # the hub's public address, with the service's prefix
    hub.earn_hub_basics(ANA)
    hub.earn_hub_basics(BEN)

    # Ana's badge: issued as she opens her page on the hub
    r = hub.service_get("me", hub.token(ANA))
    assert r.status_code == 200 and "data-badge-id=" in r.text

    # Ben's: issued as the JupyterLab panel asks his server for his progress
    server_url = hub.start_server(BEN)
    r = requests.get(
        server_url + "catalyst/progress",
        headers={"Authorization": f"token {hub.server_token(BEN)}"},
        timeout=30,
    )
    r.raise_for_status()
    progress = r.json()
    assert progress["active"] is True and progress["stale"] is False
    [listed] = progress["badges"]
    ben_id = listed["id"]
    assert listed["public_url"] == f"{base}badges/{ben_id}"
    assert listed["claim_url"] == f"{base}me/badges/{ben_id}/claim"
    assert listed["page_url"] == f"{base}me#badge-{ben_id}"

    credentials = stored_credentials(hub)
    assert len(credentials) == 2 and ben_id in credentials
    for badge_id, credential in credentials.items():
        assert credential["id"] == f"{base}badges/{badge_id}"
        assert credential["issuer"]["id"] == f"{base}badges/issuer"
        assert credential["credentialStatus"]["statusListCredential"] == f"{base}badges/status/1"
        assert credential["proof"]["verificationMethod"].startswith(f"{base}badges/issuer#")
        assert credential["credentialSubject"]["achievement"]["id"] == (
            f"{base}badges/achievements/hub-basics"
        )
    # and the issuer document served at that id names the same keys
    issuer = requests.get(f"{base}badges/issuer", timeout=30).json()
    assert issuer["id"] == f"{base}badges/issuer"
