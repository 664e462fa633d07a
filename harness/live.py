"""A member's first steps on a real hub, timed: from each action (a login, the server
started, a first cell, the server stopped) to the step shown done on the member's page
(``api/me``, which the ``me`` page and the labextension show). The end-to-end test and
``make bench`` both use it."""

from __future__ import annotations

import json
import time

import requests
import websocket

from catalyst_hub.localhub import LocalHub

from .waiting import execute_request

#: seconds after which a first cell is taken as unseen and run again (see first_steps)
CELL_UNSEEN = 15.0

#: the collector's poll is not what is timed: it must not fill the steps first
SLOW_COLLECTOR = "c.Collector.poll_interval = 3600\n"


def extension_config(config_dir: str) -> str:
    """Hub config so single-user servers load the extension from ``config_dir`` (an editable
    install has no etc/jupyter file of its own)."""
    return f"c.Spawner.environment['JUPYTER_CONFIG_PATH'] = {config_dir!r}\n"


def step_states(hub: LocalHub, token: str) -> dict[str, str]:
    r = hub.service_get("api/me", token)
    r.raise_for_status()
    return {s["id"]: s["state"] for s in r.json()["steps"]}


def _until_done(hub: LocalHub, token: str, step: str, began: float, timeout: float) -> float:
    while True:
        if step_states(hub, token).get(step) == "done":
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"step {step} not shown done after {timeout} s")
        time.sleep(0.05)


def start_kernel(hub: LocalHub, server_url: str, token: str, member_token: str) -> str:
    """Start a kernel on the member's server, as opening a notebook does; returns its
    websocket URL once the kernel's start shows on the member's page (a person types a
    first cell after that)."""
    headers = {"Authorization": f"token {token}"}
    r = requests.post(
        server_url + "api/kernels", json={"name": "python3"}, headers=headers, timeout=60
    )
    r.raise_for_status()
    _until_done(hub, member_token, "open_environment", time.monotonic(), 60)
    return server_url.replace("http://", "ws://") + f"api/kernels/{r.json()['id']}/channels"


def run_cell(ws_url: str, token: str, code: str) -> None:
    """Run ``code`` in the kernel through its websocket, as JupyterLab does."""
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=60)
    try:
        request = execute_request(code)
        ws.send(json.dumps(request))
        while True:
            msg = json.loads(ws.recv())
            if (
                msg.get("msg_type") == "execute_reply"
                and msg["parent_header"].get("msg_id") == request["header"]["msg_id"]
            ):
                return
    finally:
        ws.close()


def first_steps(hub: LocalHub, username: str, timeout: float = 60) -> dict[str, float]:
    """Seconds from each of ``username``'s first actions to its step done on their page.

    The server start is timed from the moment the hub says the server is ready (when
    JupyterLab opens for the person; spawning is the spawner's time, not ours)."""
    token = hub.token(username)
    out: dict[str, float] = {}
    began = time.monotonic()
    out["login"] = _until_done(hub, token, "login", began, timeout)

    server_url = hub.start_server(username)
    began = time.monotonic()
    out["start_server"] = _until_done(hub, token, "start_server", began, timeout)

    server_token = hub.server_token(username) if hasattr(hub, "server_token") else token
    ws_url = start_kernel(hub, server_url, server_token, token)
    began = time.monotonic()
    run_cell(ws_url, server_token, "print(6 * 7)")
    try:
        out["run_code"] = _until_done(hub, token, "run_code", began, CELL_UNSEEN)
    except TimeoutError:
        # the extension's IOPub subscription can miss a kernel's very first messages while
        # it joins (ZeroMQ's slow joiner): a person runs the cell again. Timed from the first
        # run, so the wait shows in the figures.
        run_cell(ws_url, server_token, "print(7 * 6)")
        out["run_code"] = _until_done(hub, token, "run_code", began, timeout)

    began = time.monotonic()
    hub.stop_server(username)
    out["stop_server"] = _until_done(hub, token, "stop_server", began, timeout)
    return out
