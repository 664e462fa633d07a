"""Helpers for browser tests: screenshots, logging in through the hub's form, axe-core."""

from pathlib import Path

from catalyst_hub.pytest_plugin import missing
from harness.chromium import AXE, AXE_RUN, axe_summary
from harness.realhub import REPO, RealHub

ARTIFACTS = REPO / "test-artifacts"


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


def axe_violations(page, context: str | None = None, serious_only: bool = True) -> list[dict]:
    """axe-core's violations on the current page, or within the ``context`` selector
    (serious and critical ones by default)."""
    if not AXE.exists():
        missing(f"axe-core is not installed at {AXE} (make setup)")
    page.evaluate(AXE.read_text("utf-8"))
    return axe_summary(page.evaluate(AXE_RUN, context), serious_only)
