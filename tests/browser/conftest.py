"""Browser tests: headless Chromium (Debian's) driven by Playwright, against real hubs.

Screenshots go to ``test-artifacts/`` (kept by CI). axe-core, installed by ``make setup``
into ``.tools``, is injected into pages to check accessibility.
"""

import json
import shutil
from pathlib import Path

import pytest
from browser_helpers import screenshot

from catalyst_hub.pytest_plugin import missing
from harness.chromium import CHROMIUM, CHROMIUM_ARGS
from harness.realhub import RealHub


@pytest.fixture(scope="module")
def chromium():
    """One browser per test module: Playwright's sync API keeps an event loop running while
    it is open, which the asyncio tests of other modules must not meet."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(chromium, request):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        # what the browser showed when the test failed
        screenshot(page, f"failed-{request.node.name}")
    context.close()


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
