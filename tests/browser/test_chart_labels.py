"""Chart axis labels are readable: on every chart of a community's staff pages, at 7, 30, 90
and 365 days (and on the month page), no two tick labels' boxes intersect, as the browser
lays them out."""

from __future__ import annotations

from browser_helpers import login, screenshot
from test_staff import seed

KINDS = ("adoption", "funnel", "usage")

#: every tick label of every chart, with its box as laid out
TICK_BOXES = """() => Array.from(document.querySelectorAll('svg.chart')).map(svg => ({
    chart: svg.id,
    ticks: Array.from(svg.querySelectorAll('text.tick')).map(t => {
        const r = t.getBoundingClientRect();
        return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom};
    }),
}))"""


def overlaps(ticks: list[dict]) -> list[tuple[str, str]]:
    return [
        (a["text"], b["text"])
        for i, a in enumerate(ticks)
        for b in ticks[i + 1 :]
        if a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    ]


def test_no_two_tick_labels_intersect(browser_hub, page):
    hub = browser_hub
    seed(hub)
    # a catalyst admin reads the full reports (staff read them from outside: no charts)
    login(page, hub, "admin", "admin-pass", next_url="/services/catalyst/reports/")
    page.wait_for_selector("#communities")
    pages = [
        f"reports/communities/andes/{kind}?days={d}" for kind in KINDS for d in (7, 30, 90, 365)
    ]
    pages.append("reports/communities/andes/month")
    wrong, charts = {}, 0
    for path in pages:
        response = page.goto(hub.service_url + path)
        assert response.status == 200, path
        for chart in page.evaluate(TICK_BOXES):
            charts += 1
            assert len(chart["ticks"]) >= 2, (path, chart["chart"])
            if bad := overlaps(chart["ticks"]):
                wrong[(path, chart["chart"])] = bad
        if "days=365" in path:
            screenshot(page, "charts-" + path.rsplit("/", 1)[1].replace("?days=", "-"))
    assert not wrong, wrong
    assert charts >= 3 * 4 + 2  # each page has charts: none was missed
