"""A learner earns a badge, claims and downloads it in a real browser on a real hub, and the
downloaded file verifies at the public endpoint (no login). Screenshots in test-artifacts/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from browser_helpers import ARTIFACTS, axe_violations, login, screenshot

from catalyst_hub.badges.credentials import unbake_svg

pytestmark = pytest.mark.browser

ANA = ("ana@andes.example.org", "ana-pass")


def test_a_learner_earns_claims_downloads_and_verifies_a_badge(browser_hub, page, tmp_path):
    hub = browser_hub
    hub.earn_hub_basics(ANA[0])

    login(page, hub, *ANA, next_url="/services/catalyst/me")
    badge = page.wait_for_selector('#badges li[data-lesson-id="hub-basics"]')
    badge_id = badge.get_attribute("data-badge-id")
    assert badge.get_attribute("data-claimed") == "no"
    page.click(f"#claim-{badge_id}")
    page.wait_for_selector("#claim-form")
    assert axe_violations(page) == []
    page.fill("#email", ANA[0])
    page.click("#claim-submit")
    page.wait_for_selector('#status[data-status="badge-claimed"]')
    assert page.get_attribute(f"#badge-{badge_id}", "data-claimed") == "yes"
    screenshot(page, "badge-1-claimed")
    page.locator("#badges").screenshot(path=str(ARTIFACTS / "badge-1-claimed-section.png"))
    assert axe_violations(page, "#badges") == []

    with page.expect_download() as download:
        page.click(f"#download-json-{badge_id}")
    credential = json.loads(Path(download.value.path()).read_text("utf-8"))
    with page.expect_download() as download:
        page.click(f"#download-svg-{badge_id}")
    baked = Path(download.value.path()).read_text("utf-8")
    assert json.loads(unbake_svg(baked)) == credential
    assert ANA[0] not in json.dumps(credential)

    # the downloaded files verify at the public endpoint, without any login
    verify = hub.service_url + "api/badges/verify"
    for body, kind in ((json.dumps(credential), "application/json"), (baked, "image/svg+xml")):
        r = requests.post(verify, data=body.encode(), headers={"Content-Type": kind}, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["verified"] is True, r.json()

    # and the public verification link says so to anyone
    public = page.get_attribute(f"#public-{badge_id}", "href")
    anonymous = page.context.browser.new_context()
    try:
        other = anonymous.new_page()
        other.goto(public)
        other.wait_for_selector('#verification[data-verified="yes"]')
        screenshot(other, "badge-2-public-verification")
    finally:
        anonymous.close()
