"""The headless Chromium the browser tests and the page-weight benchmark drive (Debian's),
and axe-core's accessibility check for pages it shows."""

import json
import os
from pathlib import Path

CHROMIUM = os.environ.get("CATALYST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]

REPO = Path(__file__).resolve().parents[1]
#: axe-core, installed by ``make setup`` into ``.tools``
AXE = REPO / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
#: evaluated in the page once axe's source has been (``page.evaluate(AXE.read_text())``, not
#: a <script>: the services' Content-Security-Policy rightly refuses inline scripts, and a
#: test must not weaken it); takes a selector to check within, or null for the document
AXE_RUN = (
    "async (context) => JSON.stringify(await axe.run(context ? document.querySelector(context)"
    " : document, {resultTypes: ['violations']}))"
)


def axe_summary(result: str, serious_only: bool = True) -> list[dict]:
    """The violations of an ``AXE_RUN`` result (serious and critical ones by default)."""
    violations = json.loads(result)["violations"]
    if serious_only:
        violations = [v for v in violations if v["impact"] in ("serious", "critical")]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
    ]


def login(page, hub_url: str, username: str, password: str, next_url: str = "") -> None:
    """Log in through the hub's login form (``next_url``: a path to land on)."""
    page.goto(hub_url + "hub/login" + (f"?next={next_url}" if next_url else ""))
    page.fill("#username_input", username)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_load_state("networkidle")
