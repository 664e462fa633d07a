"""Helpers for browser tests: screenshots, logging in through the hub's form, axe-core."""

from pathlib import Path

from catalyst_hub.pytest_plugin import missing
from harness.chromium import AXE, AXE_RUN, axe_summary
from harness.chromium import login as hub_login
from harness.realhub import REPO, RealHub

ARTIFACTS = REPO / "test-artifacts"
#: the JupyterLab "Getting started" panel
PANEL = "#catalyst-getting-started"


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page, hub: RealHub, username: str, password: str, next_url: str = "") -> None:
    hub_login(page, hub.url, username, password, next_url)


def axe_violations(page, context: str | None = None, serious_only: bool = True) -> list[dict]:
    """axe-core's violations on the current page, or within the ``context`` selector
    (serious and critical ones by default)."""
    if not AXE.exists():
        missing(f"axe-core is not installed at {AXE} (make setup)")
    page.evaluate(AXE.read_text("utf-8"))
    return axe_summary(page.evaluate(AXE_RUN, context), serious_only)


def open_panel(page) -> None:
    """Show the panel (it opens by itself while the notice awaits a decision)."""
    page.wait_for_selector(f"{PANEL} [data-catalyst-checklist]", state="attached", timeout=60_000)
    page.wait_for_timeout(500)  # let a self-opening panel settle before deciding to click
    if not page.is_visible(f"{PANEL} [data-catalyst-checklist]"):
        page.click('li[data-id="catalyst-getting-started"]')
    page.wait_for_selector(f"{PANEL} [data-catalyst-checklist]")


def set_lab_language(page, hub: RealHub, username: str, locale: str) -> None:
    """Switch ``username``'s JupyterLab to ``locale`` (``es_ES``; ``en`` for English) through
    its settings API, as the Settings > Language menu does; takes effect on reload."""
    xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_xsrf")
    status = page.evaluate(
        """async ([url, xsrf, locale]) => (await fetch(url, {method: 'PUT', headers: {'X-XSRFToken': xsrf, 'Content-Type': 'application/json'},
            body: JSON.stringify({raw: JSON.stringify({locale})})})).status""",
        [
            hub.url + f"user/{username}/lab/api/settings/@jupyterlab/translation-extension:plugin",
            xsrf,
            locale,
        ],
    )
    assert status == 204
