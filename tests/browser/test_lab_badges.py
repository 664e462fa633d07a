"""The JupyterLab panel's badge list in a real browser: a learner with an earned badge opens
JupyterLab in her real single-user server; the "Getting started" panel lists the badge as
earned with a claim link that lands on the claim page; claimed, it links to the public
verification page; in Spanish (JupyterLab's language) it says so in Spanish, and once
revoked it links to her page. Screenshots in test-artifacts/."""

from __future__ import annotations

import pytest
from browser_helpers import PANEL, axe_violations, login, open_panel, screenshot, set_lab_language

pytestmark = pytest.mark.browser

ANA = ("ana@andes.example.org", "ana-pass")
BADGE = f'{PANEL} li[data-catalyst-badge][data-lesson-id="hub-basics"]'


def listed(page, state: str, timeout: float = 90_000):
    """The panel's hub-basics badge once it shows ``state`` (the panel polls its server)."""
    badge = page.wait_for_selector(f'{BADGE}[data-state="{state}"]', timeout=timeout)
    badge.scroll_into_view_if_needed()  # in sight for the screenshots
    return badge


def shown(badge) -> tuple[str, str]:
    """The badge's name and state as written (the state is styled in capitals)."""
    name = badge.query_selector(".jp-CatalystPanel-badgeName").text_content()
    return name, badge.query_selector(".jp-CatalystPanel-badge").text_content()


def badge_link(page, kind: str, href: str, label: str) -> str:
    """The badge's link of ``kind`` (claim, verify, page), checked to go to ``href`` and to
    say ``label``; returns its selector."""
    link = f'{BADGE} a[data-catalyst-badge-link="{kind}"]'
    assert page.get_attribute(link, "href") == href
    assert label in page.inner_text(link)
    return link


def follow(page, link_selector: str):
    """Click a panel link (it opens a new tab) and return the new tab, loaded."""
    with page.context.expect_page() as opened:
        page.click(link_selector)
    tab = opened.value
    tab.wait_for_load_state()
    return tab


def test_the_panel_lists_the_badge_with_its_state_and_links(browser_hub, page):
    hub = browser_hub
    hub.earn_hub_basics(ANA[0])
    login(page, hub, *ANA)
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    open_panel(page)

    # earned: its name, its state and a link to claim it on the hub
    badge = listed(page, "earned")
    badge_id = badge.get_attribute("data-badge-id")
    assert "Your badges" in page.inner_text(f"{PANEL} [data-catalyst-badges]")
    assert shown(badge) == ("Hub basics", "Earned")
    claim_url = f"{hub.service_url}me/badges/{badge_id}/claim"
    claim = badge_link(page, "claim", claim_url, "Claim this badge")
    screenshot(page, "lab-badges-1-earned")
    assert axe_violations(page, f"{PANEL} [data-catalyst-badges]") == []

    # the claim link lands on the claim page; she claims it there
    tab = follow(page, claim)
    tab.wait_for_selector("#claim-form")
    tab.fill("#email", ANA[0])
    tab.click("#claim-submit")
    tab.wait_for_selector('#status[data-status="badge-claimed"]')
    tab.close()

    # claimed: the link is the badge's public verification page, which verifies it
    badge = listed(page, "claimed")
    assert shown(badge) == ("Hub basics", "Claimed")
    public_url = f"{hub.service_url}badges/{badge_id}"
    verify = badge_link(page, "verify", public_url, "Public verification page")
    screenshot(page, "lab-badges-2-claimed")
    tab = follow(page, verify)
    tab.wait_for_selector('#verification[data-verified="yes"]')
    tab.close()

    # JupyterLab in Spanish: the panel lists it in Spanish
    set_lab_language(page, hub, ANA[0], "es_ES")
    page.reload()
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    open_panel(page)
    listed(page, "claimed")
    page.wait_for_selector(f"{PANEL} [data-catalyst-badges] :text('Tus insignias')", timeout=30_000)
    badge = page.wait_for_selector(f"{BADGE}:has-text('Fundamentos del hub')", timeout=30_000)
    assert shown(badge) == ("Fundamentos del hub", "Reclamada")
    badge_link(page, "verify", public_url, "Página pública de verificación")

    # revoked by a catalyst admin: the state says so, and the link goes to her page
    r = hub.service_post(
        f"api/badges/{badge_id}/revoke", hub.token("admin"), json={"reason": "a mistake"}
    )
    assert r.status_code == 200, r.text
    badge = listed(page, "revoked")
    assert shown(badge) == ("Fundamentos del hub", "Revocada")
    mine = badge_link(page, "page", f"{hub.service_url}me#badge-{badge_id}", "Verla en tu página")
    screenshot(page, "lab-badges-3-revoked-spanish")
    tab = follow(page, mine)
    assert tab.get_attribute(f"#badge-{badge_id}", "data-claimed") == "yes"
    tab.close()
