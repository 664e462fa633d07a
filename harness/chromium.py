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
