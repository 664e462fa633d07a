"""The README's screenshots (``docs/*.png``), made from the demo itself: ``make screenshots``.

Runs ``catalyst-hub demo --consortium`` in a temporary folder: three demo hubs publishing to
a consortium, the first of them the hub ``make demo`` runs (the same researchers, lead,
staff and data). Reads the addresses and passwords it prints, logs in as its users in
headless Chromium and captures each page of ``SHOTS``: the researcher who went furthest
(ana) claims the "Hub basics" badge she earned on her page, the badge's public verification
page, the consortium overview (the staff account) and a community's public page. Then it
stops the demo as a person would (Ctrl-C) and checks that no process of it is left (any
still running is ended by its id, and the script fails).

PNG, a moderate viewport, squeezed with pngquant and optipng where they are installed
(``apt-get install pngquant optipng``; without them the images are kept as captured).

    python -m harness.screenshots [--out docs] [--keep-workdir]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from catalyst_hub.demo import STAFF
from catalyst_hub.localhub import free_ports
from catalyst_hub.timeutil import utcnow
from harness.chromium import CHROMIUM, CHROMIUM_ARGS, login

REPO = Path(__file__).resolve().parents[1]
#: the demo's researcher who went furthest: her page issues her the "Hub basics" badge
RESEARCHER = "ana@andes.example.org"
READY = "Press Ctrl-C to stop."


@dataclass(frozen=True)
class Shot:
    """A README image: a page of the first demo hub's ``service`` at ``path``."""

    file: str
    service: str  # "catalyst" or "consortium"
    path: str  # relative to the service's prefix
    viewport: tuple[int, int]
    full_page: bool = False
    query: str = ""


SHOTS = [
    Shot("badge-claimed.png", "catalyst", "me", (1100, 800)),
    # its path is the badge's id; the pattern is its route
    Shot("badge-public-verification.png", "catalyst", "badges/<id>", (1100, 400), True),
    # the month of two weeks ago: the demo's data is the month before it starts
    Shot("consortium-overview.png", "consortium", "", (1200, 860), query="month={month}"),
    Shot("community-public-page.png", "consortium", "public/demo/andes", (1200, 860)),
]


@dataclass
class Demo:
    """What the running demo printed: each hub's address and its users' passwords."""

    hubs: dict[str, str] = field(default_factory=dict)  # hub's display name -> URL
    passwords: dict[str, dict[str, str]] = field(default_factory=dict)  # URL -> user -> pw

    @property
    def first(self) -> str:
        return next(iter(self.hubs.values()))

    def password(self, username: str) -> str:
        return self.passwords[self.first][username]

    def url(self, shot: Shot, path: str | None = None) -> str:
        url = f"{self.first}services/{shot.service}/{shot.path if path is None else path}"
        month = (utcnow() - timedelta(days=14)).strftime("%Y-%m")
        return url + ("?" + shot.query.format(month=month) if shot.query else "")


def parse_welcome(text: str) -> Demo:
    """The hubs' addresses and the passwords from the consortium demo's welcome lines."""
    demo = Demo()
    hub = None
    for line in text.splitlines():
        m = re.fullmatch(r"  (\S.*) \(([^)]+)\): (http://\S+/)", line)
        if m:
            hub = m.group(3)
            demo.hubs[m.group(1)] = hub
            demo.passwords[hub] = {}
            continue
        m = re.fullmatch(r" {6}(\S+) {2}(\S+)", line)
        if m and hub is not None and not m.group(1).startswith("http"):
            demo.passwords[hub][m.group(1)] = m.group(2)
    if not demo.hubs:
        raise RuntimeError(f"no hub address in the demo's welcome:\n{text}")
    return demo


def demo_processes(workdir: Path) -> list[int]:
    """Ids of the processes of the demo in ``workdir``: run from it or naming it."""
    mine = []
    marker = str(workdir).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            cwd = os.readlink(proc / "cwd").encode()
        except OSError:
            continue
        if marker in cmdline or cwd == marker or cwd.startswith(marker + b"/"):
            mine.append(int(proc.name))
    return mine


def end(pids: list[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
            time.sleep(0.2)


@contextmanager
def running_demo(workdir: Path, timeout: float = 300) -> Iterator[Demo]:
    """``catalyst-hub demo --consortium`` in ``workdir`` until the block ends; then Ctrl-C,
    and nothing of it left running (RuntimeError if something was)."""
    env = dict(os.environ)
    tools = REPO / ".tools" / "node_modules" / ".bin"
    env["PATH"] = os.pathsep.join([str(tools), str(Path(sys.executable).parent), env["PATH"]])
    out = workdir / "demo.out"
    command = [sys.executable, "-m", "catalyst_hub", "demo", "--consortium"]
    command += [f"--port={free_ports(1)[0]}", f"--workdir={workdir / 'demo'}"]
    with open(out, "wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while READY not in out.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the demo did not start:\n{out.read_text(errors='replace')}")
            time.sleep(0.5)
        yield parse_welcome(out.read_text(errors="replace"))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # as Ctrl-C: the demo stops what it started
            try:
                proc.wait(180)
            except subprocess.TimeoutExpired:
                end([proc.pid])
        left = demo_processes(workdir)
        if left:
            end(left)
            raise RuntimeError(f"the demo left processes running (ended now): {left}")


def squeeze(path: Path) -> None:
    """Make a PNG smaller where pngquant and optipng are installed."""
    if shutil.which("pngquant"):
        subprocess.run(
            ["pngquant", "--force", "--skip-if-larger", "--quality=80-98", "--strip"]
            + ["--output", str(path), str(path)],
            check=False,
        )
    if shutil.which("optipng"):
        subprocess.run(["optipng", "-quiet", "-o2", "-strip", "all", str(path)], check=False)


def wait_for_text(page, url: str, texts: list[str], timeout: float = 180) -> None:
    """Load ``url`` again until it shows every one of ``texts`` (the hubs publish to the
    consortium every few seconds after they start)."""
    deadline = time.monotonic() + timeout
    while True:
        response = page.goto(url)
        body = page.inner_text("body")
        if response is not None and response.ok and all(t in body for t in texts):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} does not show {texts} after {timeout:.0f} s")
        page.wait_for_timeout(2000)


def capture(demo: Demo, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    me, public, overview, community = SHOTS
    made = []

    def context(browser, shot: Shot):
        width, height = shot.viewport
        return browser.new_context(viewport={"width": width, "height": height}, locale="en-US")

    def save(page, shot: Shot, selector: str | None = None) -> None:
        path = out / shot.file
        if selector:
            page.locator(selector).screenshot(path=str(path))
        else:
            page.screenshot(path=str(path), full_page=shot.full_page)
        made.append(path)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            # the researcher claims the badge her page issued her
            page = context(browser, me).new_page()
            login(page, demo.first, RESEARCHER, demo.password(RESEARCHER), "/services/catalyst/me")
            badge = page.wait_for_selector('#badges li[data-lesson-id="hub-basics"]')
            badge_id = badge.get_attribute("data-badge-id")
            if badge.get_attribute("data-claimed") != "yes":
                page.click(f"#claim-{badge_id}")
                page.fill("#email", RESEARCHER)
                page.click("#claim-submit")
                page.wait_for_selector('#status[data-status="badge-claimed"]')
            save(page, me, "#badges")
            link = page.get_attribute(f"#public-{badge_id}", "href")
            assert link == demo.url(public, f"badges/{badge_id}"), link

            # its public verification page, for anyone
            page = context(browser, public).new_page()
            page.goto(link)
            page.wait_for_selector('#verification[data-verified="yes"]')
            save(page, public)

            # the consortium overview, once every hub has published
            page = context(browser, overview).new_page()
            login(page, demo.first, STAFF, demo.password(STAFF), "/services/consortium/")
            wait_for_text(page, demo.url(overview), list(demo.hubs))
            save(page, overview)

            # a community's public page (its hub chose one), for anyone
            page = context(browser, community).new_page()
            wait_for_text(page, demo.url(community), ["andes"])
            save(page, community)
        finally:
            browser.close()
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="where the PNGs go")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the demo's folder")
    args = parser.parse_args(argv)
    # a stop asked of the script (SIGTERM) stops the demo too, through the finally clauses
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="catalyst-screenshots-")).resolve()
    try:
        with running_demo(workdir) as demo:
            made = capture(demo, args.out)
    finally:
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    for path in made:
        squeeze(path)
        print(
            f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}"
            f"  {path.stat().st_size // 1024} KiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
