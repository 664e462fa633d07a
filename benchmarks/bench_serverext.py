"""What the catalyst_hub server extension costs inside a user's Jupyter server.

(a) per detected event: the detector's work on the event loop plus the outbox append (on
    the loop: building the event and handing it to the outbox thread; in the thread: the
    SQLite transaction);
(b) per ordinary Jupyter request: two real Jupyter servers started side by side in this
    run, one with the extension enabled and one without, answering the same requests in
    alternating rounds.

Run: .venv/bin/python benchmarks/bench_serverext.py [--requests 1500]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import requests

from catalyst_hub.events import envelope
from catalyst_hub.localhub import free_ports
from catalyst_hub.serverext.detectors import KernelDetector, NotebookDetector
from catalyst_hub.serverext.outbox import Outbox
from catalyst_hub.serverext.recorder import Recorder


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f} µs"


async def bench_events(n: int, workdir: Path) -> list[tuple[str, float]]:
    outbox = Outbox(
        path=str(workdir / "outbox.sqlite"), service_url="http://127.0.0.1:9/", token="x"
    )
    recorder = Recorder(outbox=outbox)
    await recorder.start()
    logging.getLogger().setLevel(logging.WARNING)
    server = SimpleNamespace(base_url="/user/a/", kernel_manager=None)
    kernels = KernelDetector(recorder, server)
    notebooks = NotebookDetector(recorder, server)

    def message(msg_type: str, content: dict) -> list[bytes]:
        header = {"msg_id": "1", "msg_type": msg_type, "session": "s", "version": "5.3"}
        parent = {"msg_id": "request-1", "msg_type": "execute_request"}
        parts = (header, parent, {}, content)
        return [f"kernel.x.{msg_type}".encode(), b"<IDS|MSG>", b"sig"] + [
            json.dumps(part).encode() for part in parts
        ]

    # a cell the kernel ran: its execute_input with the code, then idle for the request
    executing = message("execute_input", {"code": "print(6 * 7)", "execution_count": 1})
    idle = message("status", {"execution_state": "idle"})
    stream_frames = message("stream", {"name": "stdout", "text": "42"})
    request = SimpleNamespace(method="GET", query_arguments={})
    figures = []

    running: dict[str, None] = {}
    t = time.perf_counter()
    for _ in range(n):
        kernels._on_iopub("python", running, executing)
        kernels._on_iopub("python", running, idle)
    figures.append(
        (
            "cell executed (IOPub execute_input and idle -> activity count)",
            (time.perf_counter() - t) / n,
        )
    )

    t = time.perf_counter()
    for _ in range(n):
        kernels._on_iopub("python", running, stream_frames)
    figures.append(("other IOPub message (output), ignored", (time.perf_counter() - t) / n))

    t = time.perf_counter()
    for _ in range(n):
        notebooks.on_request(request, "api/contents/a.ipynb", 200, {})
    figures.append(("notebook opened (request observer -> count)", (time.perf_counter() - t) / n))

    # a first-time action: validation, envelope, hand-off to the outbox thread
    t = time.perf_counter()
    for _ in range(n):
        recorder._actions.discard("cell_executed")
        recorder.action("cell_executed", language="python")
    loop_side = (time.perf_counter() - t) / n
    await recorder.drain()
    figures.append(("first-time action, event loop side", loop_side))

    t = time.perf_counter()
    for _ in range(n):
        await outbox.submit([envelope("activity", {"kind": "ui", "count": 1})])
    figures.append(
        ("outbox append, 1 event per transaction (thread)", (time.perf_counter() - t) / n)
    )

    events = [envelope("activity", {"kind": "ui", "count": 1}) for _ in range(n)]
    t = time.perf_counter()
    for i in range(0, n, 50):
        await outbox.submit(events[i : i + 50])
    figures.append(
        ("outbox append, 50 events per transaction, per event", (time.perf_counter() - t) / n)
    )

    t = time.perf_counter()
    for _ in range(n // 10):
        recorder.count("kernel", language="python")
    figures.append(("activity count (in memory)", (time.perf_counter() - t) / (n // 10)))
    await recorder.stop()
    await outbox.stop()
    return figures


def _start_server(workdir: Path, enabled: bool) -> tuple[subprocess.Popen, str]:
    (port,) = free_ports(1)
    name = "enabled" if enabled else "disabled"
    root = workdir / "root"
    config = workdir / f"{name}_config.py"
    config.write_text(
        "c = get_config()  # noqa\n"
        f"c.ServerApp.jpserver_extensions = {{'catalyst_hub.serverext': {enabled}}}\n"
        f"c.CatalystExtension.outbox_path = {str(workdir / name / 'outbox.sqlite')!r}\n"
        "c.ServerApp.log_level = 'WARN'\n"
    )
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(workdir / name / "config")}
    if enabled:
        # an unreachable service: events stay in the outbox (the cost of sending is not
        # on the request path)
        env.update(JUPYTERHUB_API_TOKEN="bench", CATALYST_SERVICE_URL="http://127.0.0.1:9/")
    else:
        env.pop("JUPYTERHUB_API_TOKEN", None)
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter_server", f"--config={config}", f"--port={port}",
            "--no-browser", "--allow-root", "--IdentityProvider.token=bench",
            f"--ServerApp.root_dir={root}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(
                url + "api/status", headers={"Authorization": "token bench"}, timeout=1
            ).ok:
                return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{name} server did not start")


def bench_requests(n: int, workdir: Path) -> list[tuple[str, float, float]]:
    root = workdir / "root"
    root.mkdir()
    for i in range(20):
        (root / f"file{i}.txt").write_text("x" * 100)
    nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (root / "a.ipynb").write_text(json.dumps(nb))
    servers = {e: _start_server(workdir, e) for e in (False, True)}
    try:
        sessions = {e: requests.Session() for e in servers}
        for s in sessions.values():
            s.headers["Authorization"] = "token bench"
        cases = [
            ("GET api/contents (listing)", "get", "api/contents", None),
            ("GET api/contents/a.ipynb", "get", "api/contents/a.ipynb", None),
            ("PUT api/contents/a.ipynb (save)", "put", "api/contents/a.ipynb",
             json.dumps({"type": "notebook", "format": "json", "content": nb})),
            ("GET api/status", "get", "api/status", None),
        ]  # fmt: skip
        rows = []
        for label, method, path, body in cases:
            times: dict[bool, list[float]] = {False: [], True: []}
            for enabled in servers:  # warm up
                for _ in range(50):
                    getattr(sessions[enabled], method)(servers[enabled][1] + path, data=body)
            rounds = 10
            for _ in range(rounds):
                for enabled in (False, True):
                    session, url = sessions[enabled], servers[enabled][1] + path
                    for _ in range(n // rounds):
                        t = time.perf_counter()
                        r = getattr(session, method)(url, data=body)
                        times[enabled].append(time.perf_counter() - t)
                        r.raise_for_status()
            rows.append((label, statistics.median(times[False]), statistics.median(times[True])))
        return rows
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        figures = asyncio.run(bench_events(args.events, workdir))
        print(f"\n(a) cost per detected event ({args.events} events)")
        for label, seconds in figures:
            print(f"  {label:<58} {_us(seconds)}")
        rows = bench_requests(args.requests, workdir)
    print(f"\n(b) per request, median of {args.requests} (same run, alternating rounds)")
    print(f"  {'request':<36} {'disabled':>12} {'enabled':>12} {'added':>12}")
    for label, off, on in rows:
        print(f"  {label:<36} {_us(off):>12} {_us(on):>12} {_us(on - off):>12}")


if __name__ == "__main__":
    main()
