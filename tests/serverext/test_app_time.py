"""A window's time goes to each app once: JupyterLab's kernels, notebooks and UI are one app,
so a minute of them counts as a minute of JupyterLab, beside RStudio's and the terminal's."""

from __future__ import annotations

from conftest import wait_for


async def test_each_app_gets_the_window_once(catalyst, fake_service):
    recorder = catalyst.recorder
    recorder.count("kernel", 2, language="python")
    recorder.count("kernel", language="r")
    recorder.count("notebook", 4)
    recorder.count("ui")
    recorder.count("proxy", 5, app="rstudio")
    recorder.count("proxy", app="proxy:8787")
    recorder.count("terminal", 2)
    recorder.flush_activity()
    activity = await wait_for(
        lambda: len(fake_service.of("activity")) == 7 and fake_service.of("activity"),
        message="the window's activity",
    )
    seconds: dict[str, int] = {}
    for event in activity:
        payload = event["payload"]
        app = payload.get("app") or {"terminal": "terminal"}.get(payload["kind"], "jupyterlab")
        seconds[app] = seconds.get(app, 0) + payload["seconds"]
    # the fixture's window is an hour
    assert seconds == {"jupyterlab": 3600, "rstudio": 3600, "proxy:8787": 3600, "terminal": 3600}
    counts = sorted((e["payload"]["kind"], e["payload"]["count"]) for e in activity)
    assert counts == [
        ("kernel", 1),
        ("kernel", 2),
        ("notebook", 4),
        ("proxy", 1),
        ("proxy", 5),
        ("terminal", 2),
        ("ui", 1),
    ]
