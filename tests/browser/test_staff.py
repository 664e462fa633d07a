"""Consortium staff and a community's lead on the reports, in a real browser and a real hub.

Researchers of andes and sahel have a month of activity (the demo's generator, through the
ingest API with their own tokens). Staff log in through the hub, open the dashboard, see every
community, and open a community's report as outsiders: its figures suppressed, no per-day
detail. The lead of andes sees andes and not sahel: andes's full report with its charts, and
a table's CSV, downloaded with the page's link, holds the very numbers of the page's table;
axe finds nothing serious. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import csv
import random

from browser_helpers import axe_violations, login, screenshot

from catalyst_hub.demo import demo_events
from catalyst_hub.events import MEMBER
from catalyst_hub.seed import sender_kind
from catalyst_hub.timeutil import utcnow

MEMBERS = {
    "ana@andes.example.org": "ana-pass",
    "lead@andes.example.org": "lead-pass",
    "bob": "bob-pass",
}
REPORTS = "/services/catalyst/reports/"


def seed(hub) -> None:
    now = utcnow()
    for i, username in enumerate(MEMBERS):
        events = demo_events(username, reached=6 - i, rng=random.Random(i), now=now)
        # what a member's own token may send (server sessions are the collector's)
        events = [e for e in events if sender_kind(e["schema"], e["payload"]) == MEMBER]
        token = hub.token(username)
        for start in range(0, len(events), 500):
            r = hub.service_post("api/events", token, json={"events": events[start : start + 500]})
            assert r.status_code == 200, r.text


def table_rows(page, table_id: str) -> list[list[str]]:
    """The cells of a table of the page, as shown ("—" for none)."""
    return page.eval_on_selector_all(
        f"#table-{table_id} tbody tr",
        "rows => rows.map(r => Array.from(r.querySelectorAll('th, td')).map(c => c.textContent.trim()))",
    )


def test_staff_dashboard_charts_csv_and_a_lead_sees_only_their_community(
    browser_hub, page, chromium
):
    hub = browser_hub
    seed(hub)

    login(page, hub, "staff", "staff-pass", next_url=REPORTS)
    page.wait_for_selector("#communities")
    communities = page.eval_on_selector_all(
        "#communities tr[data-community]", "rows => rows.map(r => r.dataset.community)"
    )
    assert {"andes", "sahel"} <= set(communities), communities
    screenshot(page, "staff-1-dashboard")
    assert axe_violations(page) == []

    # a community's adoption report read from outside it: its figures through the
    # suppression policy, no per-day detail (andes has two active members, below k)
    page.click('#communities tr[data-community="andes"] a[href$="/adoption"]')
    page.wait_for_selector("#report-title[data-community='andes'][data-outside='true']")
    assert page.locator("figure svg").count() == 0
    figures = {row[1]: row[2] for row in table_rows(page, "figures")}
    assert figures["active_members"] == "fewer than 5", figures
    assert page.locator("#table-daily-active").count() == 0
    screenshot(page, "staff-2-adoption-andes")
    assert axe_violations(page) == []

    # the lead of andes: andes, and nothing of sahel
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        lead = context.new_page()
        login(lead, hub, "lead@andes.example.org", "lead-pass", next_url=REPORTS)
        lead.wait_for_selector("#communities")
        rows = lead.eval_on_selector_all(
            "#communities tr[data-community]", "rows => rows.map(r => r.dataset.community)"
        )
        assert rows == ["andes"]
        assert "sahel" not in lead.content().lower()
        screenshot(lead, "staff-3-lead-of-andes")
        response = lead.goto(hub.service_url + "reports/communities/sahel/adoption")
        assert response.status == 403
        response = lead.goto(hub.service_url + "reports/communities/andes/adoption")
        assert response.status == 200
        # their own community's full report: exact figures, charts drawn as inline SVG
        assert lead.locator("figure svg").count() >= 2
        active = lead.text_content('[data-figure="active"] .value').strip()
        assert active == "2", active  # ana and the lead were active this month
        assert axe_violations(lead) == []

        # the CSV behind the page's link holds the numbers of the page's table
        shown = table_rows(lead, "daily-active")
        assert len(shown) == 30 and any(row[1] != "0" for row in shown), shown
        with lead.expect_download() as download:
            lead.click('a[data-export="daily-active"]')
        assert download.value.suggested_filename == "andes-adoption-daily-active.csv"
        with open(download.value.path(), encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
        assert rows[0] == ["day", "dau", "wau", "mau"]
        assert [[cell or "—" for cell in row] for row in rows[1:]] == shown
    finally:
        context.close()
