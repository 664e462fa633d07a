"""Browser tests: headless Chromium (Debian's) driven by Playwright, against real hubs.

Screenshots go to ``test-artifacts/`` (kept by CI). axe-core, installed by ``make setup``
into ``.tools``, is injected into pages to check accessibility.
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from catalyst_hub.pytest_plugin import missing
from catalyst_hub.testing.realhub import REPO, RealHub

CHROMIUM = os.environ.get("CATALYST_CHROMIUM", "/usr/bin/chromium")
AXE = REPO / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page, hub: RealHub, username: str, password: str, next_url: str = "") -> None:
    page.goto(hub.url + "hub/login" + (f"?next={next_url}" if next_url else ""))
    page.fill("#username_input", username)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_load_state("networkidle")


def axe_violations(page, serious_only: bool = True) -> list[dict]:
    """axe-core's violations on the current page (serious and critical by default)."""
    if not AXE.exists():
        missing(f"axe-core is not installed at {AXE} (make setup)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => JSON.stringify(await axe.run(document, {resultTypes: ['violations']}))")
    violations = json.loads(result)["violations"]
    if serious_only:
        violations = [v for v in violations if v["impact"] in ("serious", "critical")]
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]} for v in violations]


@pytest.fixture
def browser_hub(tmp_path):
    """A real hub for browser tests: two communities, a lead, staff, an admin."""
    # JupyterLab's news popup would cover screenshots: switch it off through page config
    labconfig = tmp_path / "jupyter-config" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    hub = RealHub(
        tmp_path / "hub",
        users={
            "ana@andes.example.org": "ana-pass",
            "bob": "bob-pass",
            "lead@andes.example.org": "lead-pass",
            "staff": "staff-pass",
            "admin": "admin-pass",
        },
        groups={
            "community-andes": ["ana@andes.example.org", "lead@andes.example.org"],
            "community-sahel": ["bob"],
            "leads-andes": ["lead@andes.example.org"],
            "consortium-staff": ["staff"],
            "catalyst-admins": ["admin"],
        },
        admins={"admin"},
        extra_hub_config=f"c.Spawner.environment['JUPYTER_CONFIG_PATH'] = {str(labconfig.parent)!r}\n",
    )
    hub.start()
    yield hub
    hub.stop()
