"""Which app an ``activity`` event's time belongs to: the server extension gives each app a
window's time once, the projector adds up time per app, the usage report shows it."""

from __future__ import annotations

from typing import Any

#: the app of each activity kind of the server extension (``proxy`` activity names its app,
#: such as ``rstudio``); the collector's ``server`` activity is no app
APP_OF_KIND = {
    "kernel": "jupyterlab",
    "notebook": "jupyterlab",
    "ui": "jupyterlab",
    "terminal": "terminal",
    "proxy": "proxy",
}


def app_of(payload: dict[str, Any]) -> str | None:
    """The app of an ``activity`` payload (None: not an app's activity)."""
    app = APP_OF_KIND.get(payload["kind"])
    if app is None:
        return None
    return payload.get("app") or app
