"""The server extension end to end: a real hub, proxy and catalyst service, a real
single-user server with the extension (enabled by the shipped jupyter_server_config.d
file), a notebook created and a cell run through the kernel websocket; the service then
shows those steps done for that member, and nothing for another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import websocket

from harness.realhub import REPO, RealHub
from harness.waiting import execute_request, wait_until

pytestmark = pytest.mark.e2e

ALICE = "alice@example.org"
BOB = "bob"


@pytest.fixture
def hub_with_extension(tmp_path):
    # an editable install has no etc/jupyter file: point servers at the repository's copy
    config_path = REPO / "jupyter_config"
    hub = RealHub(
        tmp_path / "hub",
        users={ALICE: "alice-pass", BOB: "bob-pass"},
        groups={"community-andes": [ALICE], "community-sahel": [BOB]},
        extra_hub_config=(f"c.Spawner.environment['JUPYTER_CONFIG_PATH'] = {str(config_path)!r}\n"),
    )
    hub.start()
    yield hub
    hub.stop()


def _execute(ws_url: str, token: str, code: str) -> None:
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=30)
    try:
        request = execute_request(code)
        msg_id = request["header"]["msg_id"]
        ws.send(json.dumps(request))
        while True:
            msg = json.loads(ws.recv())
            if (
                msg.get("msg_type") == "execute_reply"
                and msg["parent_header"].get("msg_id") == msg_id
            ):
                assert msg["content"]["status"] == "ok"
                return
    finally:
        ws.close()


def _steps(hub: RealHub, token: str) -> dict[str, str]:
    r = hub.service_get("api/me", token)
    r.raise_for_status()
    return {s["id"]: s["state"] for s in r.json()["steps"]}


def test_notebook_and_cell_reach_the_service(hub_with_extension):
    hub = hub_with_extension
    hub.decide(ALICE)  # she accepted the recording notice (the default is opt-in)
    server_url = hub.start_server(ALICE)
    token = hub.server_token(ALICE)
    headers = {"Authorization": f"token {token}"}

    # the extension is loaded and talks to the service
    r = requests.get(server_url + "catalyst/progress", headers=headers, timeout=30)
    r.raise_for_status()
    progress = r.json()
    assert progress["active"] is True and progress["stale"] is False
    assert progress["community"] == "andes"

    r = requests.post(
        server_url + "api/contents", json={"type": "notebook"}, headers=headers, timeout=30
    )
    assert r.status_code == 201, r.text
    r = requests.post(
        server_url + "api/kernels", json={"name": "python3"}, headers=headers, timeout=60
    )
    assert r.status_code == 201, r.text
    kernel_id = r.json()["id"]
    ws_url = server_url.replace("http://", "ws://") + f"api/kernels/{kernel_id}/channels"
    _execute(ws_url, token, "print(6 * 7)")

    alice = hub.token(ALICE)
    try:
        states = wait_until(
            lambda: (s := _steps(hub, alice))["run_code"] == "done" and s, 10, "run_code done"
        )
    except TimeoutError:
        # a cell run within moments of the kernel's start can go unseen (the extension's
        # IOPub subscription is still joining): a second cell, as a person would run, counts
        _execute(ws_url, token, "print(7 * 6)")
        states = wait_until(
            lambda: (s := _steps(hub, alice))["run_code"] == "done" and s, 20, "run_code done"
        )
    assert states["open_environment"] == "done"
    assert states["upload_file"] != "done"

    # the other member has none of it
    theirs = _steps(hub, hub.token(BOB))
    assert theirs["run_code"] != "done" and theirs["open_environment"] != "done"

    # the outbox is in the member's home and is empty once delivered
    outbox = Path(hub.workdir) / "homes" / ALICE
    files = list(outbox.rglob("catalyst_hub/outbox.sqlite"))
    assert len(files) == 1
    requests.delete(server_url + f"api/kernels/{kernel_id}", headers=headers, timeout=30)


def test_an_undecided_members_steps_wait_in_the_outbox_until_accept(hub_with_extension):
    """Bob has not answered the notice: his server's events are kept in its outbox (on disk,
    held), not stored; accepting through the extension's local API sends them."""
    import sqlite3

    hub = hub_with_extension
    server_url = hub.start_server(BOB)
    headers = {"Authorization": f"token {hub.server_token(BOB)}"}
    bob = hub.token(BOB)

    def local(*events):
        r = requests.post(
            server_url + "catalyst/events",
            json={"events": list(events)},
            headers=headers,
            timeout=30,
        )
        assert r.status_code == 202, r.text

    local({"schema": "action", "version": 1, "payload": {"action": "git_committed"}})
    outbox = next((Path(hub.workdir) / "homes" / BOB).rglob("catalyst_hub/outbox.sqlite"))

    def held() -> int:
        with sqlite3.connect(outbox) as conn:
            return conn.execute("SELECT count(*) FROM events WHERE held = 1").fetchone()[0]

    def held_actions() -> set[str]:
        with sqlite3.connect(outbox) as conn:
            bodies = conn.execute("SELECT body FROM events WHERE held = 1").fetchall()
        return {json.loads(body)["payload"].get("action") for (body,) in bodies}

    # his git commit, and the login and start the server itself reported
    wait_until(lambda: "git_committed" in held_actions(), 30, "the service to defer the event")
    assert _steps(hub, bob)["use_git"] != "done"

    local(
        {
            "schema": "consent",
            "version": 1,
            "payload": {"decision": "given", "notice_version": "1"},
        }
    )
    wait_until(lambda: _steps(hub, bob)["use_git"] == "done", 30, "use_git done")
    wait_until(lambda: held() == 0, 30, "the outbox to empty")
