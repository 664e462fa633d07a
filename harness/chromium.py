"""The headless Chromium the browser tests and the page-weight benchmark drive (Debian's)."""

import os

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


def login(page, hub_url: str, username: str, password: str, next_url: str = "") -> None:
    """Log in through the hub's login form (``next_url``: a path to land on)."""
    page.goto(hub_url + "hub/login" + (f"?next={next_url}" if next_url else ""))
    page.fill("#username_input", username)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_load_state("networkidle")
