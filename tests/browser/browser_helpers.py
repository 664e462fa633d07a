"""Helpers for browser tests: screenshots, logging in through the hub's form, axe-core."""

import json
from pathlib import Path

from catalyst_hub.pytest_plugin import missing
from harness.realhub import REPO, RealHub

AXE = REPO / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
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
    # evaluated, not added as a <script>: the service's Content-Security-Policy rightly
    # refuses inline scripts, and a test must not weaken it
    page.evaluate(AXE.read_text("utf-8"))
    result = page.evaluate(
        "async (context) => JSON.stringify(await axe.run(context ? document.querySelector(context) : document, {resultTypes: ['violations']}))",
        context,
    )
    violations = json.loads(result)["violations"]
    if serious_only:
        violations = [v for v in violations if v["impact"] in ("serious", "critical")]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
    ]
