"""Each detector against real server actions: the event it sends, and none for unrelated
actions. The events are read where they arrive (a stand-in of the service's ingest API)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess

import pytest
from conftest import settle, wait_for
from tornado.httpclient import HTTPClientError
from tornado.web import RequestHandler

from harness.waiting import execute_request


def _put(jp_fetch, path: str, model: dict):
    return jp_fetch("api", "contents", path, method="PUT", body=json.dumps(model))


@pytest.fixture(params=[False, True], ids=["requests", "contents-events"])
def catalyst_config(request):
    return {"NotebookDetector": {"use_contents_events": request.param}}


async def test_notebook_created_opened_saved(catalyst, fake_service, jp_fetch):
    r = await jp_fetch("api", "contents", method="POST", body=json.dumps({"type": "notebook"}))
    assert r.code == 201
    path = json.loads(r.body)["path"]
    await wait_for(lambda: "notebook_created" in fake_service.actions(), message="notebook_created")
    await settle(catalyst)
    # creating a notebook saves it, but that is not "saving your work"
    assert fake_service.actions() == ["notebook_created"]

    r = await jp_fetch("api", "contents", path)
    model = json.loads(r.body)
    await wait_for(lambda: "notebook_opened" in fake_service.actions(), message="notebook_opened")

    r = await _put(
        jp_fetch, path, {"type": "notebook", "format": "json", "content": model["content"]}
    )
    assert r.code == 200
    await wait_for(lambda: "notebook_saved" in fake_service.actions(), message="notebook_saved")

    # each action once per person, however often it happens
    for _ in range(3):
        await _put(
            jp_fetch, path, {"type": "notebook", "format": "json", "content": model["content"]}
        )
        await jp_fetch("api", "contents", path)
    await settle(catalyst)
    assert fake_service.actions() == ["notebook_created", "notebook_opened", "notebook_saved"]

    # activity is counted, and written once per window
    catalyst.recorder.flush_activity()
    activity = await wait_for(lambda: fake_service.of("activity"), message="activity")
    assert [(a["payload"]["kind"], a["payload"]["count"]) for a in activity] == [("notebook", 9)]


async def test_no_notebook_events_for_other_files(catalyst, fake_service, jp_fetch, jp_root_dir):
    (jp_root_dir / "data.csv").write_text("a,b\n1,2\n")
    await jp_fetch("api", "contents")  # directory listing
    await jp_fetch("api", "contents", "data.csv")
    await _put(jp_fetch, "notes.txt", {"type": "file", "format": "text", "content": "hi"})
    await _put(jp_fetch, "notes.txt", {"type": "file", "format": "text", "content": "hi again"})
    await jp_fetch("api", "contents", method="POST", body=json.dumps({"type": "directory"}))
    await settle(catalyst)
    assert fake_service.events == {}


async def test_file_uploaded(catalyst, fake_service, jp_fetch):
    # a text file whose content mentions the base64 format is not an upload
    text = json.dumps({"format": "base64"})
    await _put(jp_fetch, "fake.json", {"type": "file", "format": "text", "content": text})
    await settle(catalyst)
    assert fake_service.actions() == []

    content = base64.b64encode(b"\x00\x01binary data").decode()
    r = await _put(
        jp_fetch,
        "upload.bin",
        {"type": "file", "format": "base64", "content": content, "name": "upload.bin"},
    )
    assert r.code == 201
    await wait_for(lambda: "file_uploaded" in fake_service.actions(), message="file_uploaded")
    await settle(catalyst)
    assert fake_service.actions() == ["file_uploaded"]


async def test_failed_upload_is_not_an_upload(catalyst, fake_service, jp_fetch):
    content = base64.b64encode(b"data").decode()
    with pytest.raises(HTTPClientError):
        await _put(
            jp_fetch,
            "no/such/folder/x.bin",
            {"type": "file", "format": "base64", "content": content},
        )
    await settle(catalyst)
    assert fake_service.actions() == []


def _execute_request(code: str, silent: bool = False) -> str:
    return json.dumps(execute_request(code, silent))


async def _run(ws, code: str, silent: bool = False) -> None:
    await ws.write_message(_execute_request(code, silent))
    await _replies(ws, ["ok"])


async def _replies(ws, statuses: list[str]) -> None:
    """Read the kernel's messages until the execute_replies of ``statuses`` came back."""
    got = []
    while len(got) < len(statuses):
        msg = json.loads(await asyncio.wait_for(ws.read_message(), 30))
        if msg.get("msg_type") == "execute_reply":
            got.append(msg["content"]["status"])
    assert got == statuses


async def test_kernel_started_and_cells_executed(catalyst, fake_service, jp_fetch, jp_ws_fetch):
    r = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kernel_id = json.loads(r.body)["id"]
    started = await wait_for(lambda: fake_service.of("action"), message="kernel_started")
    assert started[0]["payload"] == {"action": "kernel_started", "language": "python"}

    ws = await jp_ws_fetch("api", "kernels", kernel_id, "channels")
    try:
        # silent executions (completers, variable inspectors) are not the member running code
        await _run(ws, "x = 1", silent=True)
        await settle(catalyst)
        assert fake_service.actions() == ["kernel_started"]

        await _run(ws, "print(x + 1)")
        await wait_for(lambda: "cell_executed" in fake_service.actions(), message="cell_executed")
        await _run(ws, "x += 1")
        await _run(ws, "x += 1")
    finally:
        ws.close()
    await settle(catalyst)
    executed = [
        e["payload"] for e in fake_service.of("action") if e["payload"]["action"] == "cell_executed"
    ]
    assert executed == [{"action": "cell_executed", "language": "python"}]

    catalyst.recorder.flush_activity()
    activity = await wait_for(lambda: fake_service.of("activity"), message="activity")
    assert [a["payload"] for a in activity] == [
        {"kind": "kernel", "count": 3, "seconds": 3600, "language": "python"}
    ]
    await jp_fetch("api", "kernels", kernel_id, method="DELETE")


async def test_blank_or_unrun_cells_are_not_running_code(
    catalyst, fake_service, jp_fetch, jp_ws_fetch
):
    r = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kernel_id = json.loads(r.body)["id"]
    await wait_for(lambda: fake_service.of("action"), message="kernel_started")
    ws = await jp_ws_fetch("api", "kernels", kernel_id, "channels")
    try:
        # empty cells: the kernel answers, but ran no code
        await _run(ws, "")
        await _run(ws, "  \n\t\n")
        await settle(catalyst)
        assert fake_service.actions() == ["kernel_started"]
        catalyst.recorder.flush_activity()
        await settle(catalyst)
        assert fake_service.of("activity") == []

        # a failing cell ran code; the one queued behind it is aborted, never executed
        await ws.write_message(_execute_request("import time; time.sleep(0.2); 1 / 0"))
        await ws.write_message(_execute_request("x = 1"))
        await _replies(ws, ["error", "aborted"])
        await wait_for(lambda: "cell_executed" in fake_service.actions(), message="cell_executed")
    finally:
        ws.close()
    catalyst.recorder.flush_activity()
    activity = await wait_for(lambda: fake_service.of("activity"), message="activity")
    assert [a["payload"]["count"] for a in activity] == [1]
    await jp_fetch("api", "kernels", kernel_id, method="DELETE")


async def test_terminal_opened(catalyst, fake_service, jp_fetch, jp_ws_fetch):
    await jp_fetch("api", "terminals")  # listing terminals opens none
    await settle(catalyst)
    assert fake_service.actions() == []

    r = await jp_fetch("api", "terminals", method="POST", body="{}")
    name = json.loads(r.body)["name"]
    await wait_for(lambda: fake_service.actions() == ["terminal_opened"], message="terminal_opened")

    ws = await jp_ws_fetch("terminals", "websocket", name)
    try:
        await ws.write_message(json.dumps(["stdin", "echo hello\r"]))
        await asyncio.wait_for(ws.read_message(), 10)
    finally:
        ws.close()
    catalyst.recorder.flush_activity()
    activity = await wait_for(lambda: fake_service.of("activity"), message="terminal activity")
    assert [a["payload"]["kind"] for a in activity] == ["terminal"]
    await jp_fetch("api", "terminals", name, method="DELETE")


class _FakeProxiedApp(RequestHandler):
    """Stands in for a jupyter-server-proxy handler: the detector only looks at paths."""

    def get(self, path: str) -> None:
        self.finish("rstudio")


async def test_proxy_app_opened(catalyst, fake_service, jp_fetch, jp_serverapp, jp_base_url):
    jp_serverapp.web_app.add_handlers(".*$", [(jp_base_url + "rstudio/(.*)", _FakeProxiedApp)])
    await jp_fetch("api", "status")
    await jp_fetch("api", "kernelspecs")
    await settle(catalyst)
    assert fake_service.actions() == []

    for _ in range(3):
        await jp_fetch("rstudio", "auth-sign-in")
    action = await wait_for(lambda: fake_service.of("action"), message="proxy_app_opened")
    assert action[0]["payload"] == {"action": "proxy_app_opened", "app": "rstudio"}
    catalyst.recorder.flush_activity()
    activity = await wait_for(lambda: fake_service.of("activity"), message="proxy activity")
    assert [a["payload"] for a in activity] == [
        {"kind": "proxy", "count": 3, "seconds": 3600, "app": "rstudio"}
    ]


def _git(*args: str, cwd) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


async def test_git_cloned_and_committed(catalyst, fake_service, jp_root_dir, tmp_path):
    origin = tmp_path / "origin"
    origin.mkdir()
    _git("init", "-q", "-b", "main", cwd=origin)
    (origin / "README.md").write_text("hello\n")
    _git("add", ".", cwd=origin)
    _git("commit", "-q", "-m", "first", cwd=origin)
    # a repository that was there before the server started is not news; nor is `git init`
    existing = jp_root_dir / "existing"
    existing.mkdir()
    _git("init", "-q", cwd=existing)
    git = next(d for d in catalyst.detectors if d.name == "git")
    await wait_for(lambda: git._reflogs is not None, message="first git scan")
    await settle(catalyst)
    assert fake_service.actions() == []

    _git("clone", "-q", str(origin), "project", cwd=jp_root_dir)
    await wait_for(lambda: fake_service.actions() == ["git_cloned"], message="git_cloned")

    (jp_root_dir / "project" / "notes.md").write_text("mine\n")
    _git("add", ".", cwd=jp_root_dir / "project")
    _git("commit", "-q", "-m", "notes", cwd=jp_root_dir / "project")
    await wait_for(lambda: "git_committed" in fake_service.actions(), message="git_committed")
    # both first times seen: the detector stops scanning
    await wait_for(lambda: git._task is None or git._task.done(), message="git detector done")
    assert fake_service.actions() == ["git_cloned", "git_committed"]
