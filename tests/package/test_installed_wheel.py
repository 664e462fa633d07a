"""The operator's path: the wheel and sdist built, the wheel installed in a new virtual
environment outside the repository, and everything run from another folder.

What it checks: the example configuration is package data (``catalyst-hub config``), the
labextension and the server extension are enabled by the install alone, ``catalyst-hub
demo`` says how to install the proxy when it is missing, and otherwise serves a researcher's
page and a staff page on 127.0.0.1, and stops every process it started on Ctrl-C.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests

from catalyst_hub.localhub import free_ports
from catalyst_hub.pytest_plugin import missing
from harness.realhub import REPO

pytestmark = pytest.mark.e2e

PROXY_DIR = REPO / ".tools" / "node_modules" / ".bin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv, wheel): the wheel built from an sdist of the repository, installed (with
    JupyterLab, as a single-user image has it) into a virtual environment of its own."""
    if not (PROXY_DIR / "configurable-http-proxy").exists():
        missing("configurable-http-proxy is not installed in .tools: run `make setup`")
    root = tmp_path_factory.mktemp("operator")
    dist = root / "dist"
    # sdist first, then the wheel from it (the default of `build`): what a package index gets
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], cwd=root)
    (wheel,) = dist.glob("catalyst_hub-*.whl")
    assert list(dist.glob("catalyst_hub-*.tar.gz"))
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=root)
    run([str(venv / "bin" / "pip"), "install", "-q", f"{wheel}[postgres]", "jupyterlab"], cwd=root)
    return venv, wheel


def run(command: list[str], cwd: Path, env: dict | None = None) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{command}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # without colours


def outside_env(venv: Path, with_proxy: bool = True) -> dict[str, str]:
    """The environment of an operator's shell: the venv's scripts (and the proxy) on PATH,
    nothing of the repository's on the Python path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    path = [str(venv / "bin"), *(["/usr/local/bin", "/usr/bin", "/bin"])]
    if with_proxy:
        path.insert(1, str(PROXY_DIR))
    env["PATH"] = os.pathsep.join(path)
    # where node lives, for the proxy's script
    node = shutil.which("node")
    if node:
        env["PATH"] += os.pathsep + str(Path(node).parent)
    return env


def processes_under(folder: Path) -> list[str]:
    """Processes whose command line or working folder is inside ``folder``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if str(folder) in cmdline or cwd.startswith(str(folder)):
            found.append(f"{proc.name}: {cmdline.strip()}")
    return found


def test_the_wheel_ships_the_example_configuration_and_both_extensions(installed, tmp_path):
    venv, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    for packaged in (
        "catalyst_hub/jupyter_config/jupyterhub_config.py",
        "catalyst_hub/jupyter_config/catalyst_config.py",
        "catalyst_hub/jupyter_config/z2jh-values.yaml",
        "catalyst_hub/jupyter_config/grafana-dashboard.json",
        "catalyst_hub/jupyter_config/templates/home.html",
        "catalyst_hub/py.typed",  # type checkers use the package's annotations
    ):
        assert packaged in names
    # test machinery is not the product: no harness, no pytest plugin loaded into every run
    assert not [n for n in names if n.startswith(("harness/", "catalyst_hub/testing/"))]
    metadata = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "pytest11" not in zipfile.ZipFile(wheel).read(metadata).decode()
    env = outside_env(venv)
    written = run([str(venv / "bin" / "catalyst-hub"), "config", "--output=mine"], tmp_path, env)
    assert "jupyterhub_config.py" in written
    assert (tmp_path / "mine" / "templates" / "home.html").is_file()
    # a hub's own config loads ours from the installed package
    loader = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "from catalyst_hub.hubconfig import config_path; print(config_path('jupyterhub_config.py'))",
        ],
        tmp_path,
        env,
    )
    assert str(venv) in loader
    labextensions = run([str(venv / "bin" / "jupyter"), "labextension", "list"], tmp_path, env)
    assert re.search(r"@catalyst-hub/labextension v\S+ enabled .*OK", labextensions), labextensions
    serverext = run([str(venv / "bin" / "jupyter"), "server", "extension", "list"], tmp_path, env)
    assert re.search(r"catalyst_hub\.serverext\s+enabled", serverext), serverext
    # installed without the parquet extra: the export names the extra that brings pyarrow
    export = subprocess.run(
        [str(venv / "bin" / "catalyst-hub"), "export", "--parquet=out", "--data-dir=data"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert export.returncode == 2, export.stderr
    assert 'pip install "catalyst-hub[parquet]"' in export.stderr


def test_demo_without_the_proxy_says_how_to_install_it(installed, tmp_path):
    venv, _ = installed
    done = subprocess.run(
        [str(venv / "bin" / "catalyst-hub"), "demo", f"--port={free_ports(1)[0]}"],
        cwd=tmp_path,
        env=outside_env(venv, with_proxy=False),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "npm install -g configurable-http-proxy" in done.stderr, done.stderr
    assert processes_under(tmp_path) == []


def test_demo_from_another_folder_serves_pages_and_stops_everything(installed, tmp_path):
    venv, _ = installed
    port = free_ports(1)[0]
    demo = subprocess.Popen(
        [str(venv / "bin" / "catalyst-hub"), "demo", f"--port={port}"],
        cwd=tmp_path,
        env=outside_env(venv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line and demo.poll() is not None:
                break
            output.append(line)
            if line.strip() == "Press Ctrl-C to stop.":
                break
        text = "".join(output)
        assert f"is running at http://127.0.0.1:{port}/" in text, text
        passwords = dict(re.findall(r"^  (\S+@\S+|admin)\s+(\S+)\s+\S", text, re.M))
        url = f"http://127.0.0.1:{port}/"
        researcher = next(name for name in passwords if name.startswith("ana@"))
        me = login(url, researcher, passwords[researcher]).get(url + "services/catalyst/me")
        assert me.status_code == 200 and 'data-step-id="login"' in me.text
        staff = next(name for name in passwords if name.startswith("staff@"))
        overview = login(url, staff, passwords[staff]).get(
            url + "services/catalyst/reports/overview"
        )
        assert overview.status_code == 200 and "andes" in overview.text
        # only on the loopback interface
        listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
        assert f"127.0.0.1:{port} " in listening and f"0.0.0.0:{port} " not in listening
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(90)
        except subprocess.TimeoutExpired:
            demo.kill()
            raise
    assert demo.returncode == 0, "".join(output) + demo.stdout.read()
    deadline = time.monotonic() + 30
    while processes_under(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_under(tmp_path) == []


def login(url: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(url + "hub/login", timeout=30)
    r = session.post(
        url + "hub/login",
        data={"username": username, "password": password, "_xsrf": session.cookies.get("_xsrf")},
        timeout=30,
    )
    assert r.status_code == 200, r.text[:300]
    return session
