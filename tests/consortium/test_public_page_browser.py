"""A community's public page on the consortium in headless Chromium: its champion publishes
it, anyone reads it in their language (Accept-Language, then the page's language choice),
with the community's figures as the consortium has them, hidden ones shown as hidden, no
member id or username anywhere in the document, no serious accessibility violation (axe);
an unpublished community has no page (404).

Playwright's async API: the consortium service runs in this test's event loop, which the
sync API would block."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from catalyst_hub.consortium.reports import community_report
from catalyst_hub.i18n import gettext_for
from catalyst_hub.pytest_plugin import missing
from catalyst_hub.service.handlers.base import format_value
from catalyst_hub.store import tables as t
from catalyst_hub.workflows.consortium import public_page, set_public_page
from harness.chromium import AXE, AXE_RUN, CHROMIUM, CHROMIUM_ARGS, REPO, axe_summary

pytestmark = [pytest.mark.browser, pytest.mark.clock]

ARTIFACTS = REPO / "test-artifacts"


def words(language: str) -> tuple[str, str]:
    """ "hidden" and the page's note that it is public, in ``language`` (not English)."""
    _ = gettext_for(language)
    found = (_("hidden"), _("This page is public: its hub chose to share it."))
    assert language == "en" or found != words("en"), language
    return found


@pytest.fixture
async def browser():
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    if not AXE.exists():
        missing(f"axe-core is not installed at {AXE} (make setup)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


def personal(store) -> set[str]:
    """Every member id and username of the hub: none may reach the public page."""
    i, m = t.identities.c, t.members.c
    with store.connect() as conn:
        names = {r.username for r in conn.execute(select(i.username).where(i.hub == store.hub))}
        ids = {r.member_id for r in conn.execute(select(m.member_id).where(m.hub == store.hub))}
    return names | ids


async def cells(page) -> list[list[str]]:
    """The month table's cells as the browser shows them, row by row."""
    return await page.eval_on_selector_all(
        "#table-months tbody tr",
        "rows => rows.map(r => [...r.children].map(c => c.innerText.trim()))",
    )


def expected(consortium, hub: str, community: str, language: str) -> list[list[str]]:
    """The month table as the consortium has it, formatted as in ``language``."""
    _ = gettext_for(language)
    tables, _rows = community_report(consortium.store, hub, community, _)
    fmt = format_value(_)
    return [[fmt(v) for v in row] for row in tables[0].rows]


async def test_a_published_public_page_in_chromium(consortium, make_publishing_hub, browser):
    # k=12: communities of about 20 members, so some figures of each month are hidden
    andes = await make_publishing_hub(consortium, "andes", "Andes", "Latin America", k=12)
    champion = andes.store.member_id("champion@andes.example.org")
    set_public_page(andes.store, "community1", True, champion)
    assert await andes.publisher.run_once(full=True) >= 1
    url = public_page(andes.store, "community1", [], consortium.url()).url
    assert url == consortium.url(f"public/{andes.name}/community1")

    secrets = personal(andes.store)
    assert len(secrets) > 20
    seen_hidden = False
    context = await browser.new_context(locale="es-ES", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        # Accept-Language: Spanish
        response = await page.goto(url)
        assert response is not None and response.status == 200
        assert await page.get_attribute("html", "lang") == "es"
        assert "community1" in await page.inner_text("h1")
        assert words("es")[1] in await page.inner_text("main")
        shown = await cells(page)
        assert shown and shown == expected(consortium, andes.name, "community1", "es")
        hidden = await page.eval_on_selector_all(
            "#table-months td[data-suppressed]", "cells => cells.map(c => c.innerText.trim())"
        )
        seen_hidden = bool(hidden)
        assert hidden and set(hidden) == {words("es")[0]}, hidden
        header = await page.eval_on_selector_all(
            "#table-months thead th", "cells => cells.map(c => c.dataset.key)"
        )
        assert "badges_issued" in header
        await page.screenshot(path=str(mkdir(ARTIFACTS) / "consortium-public-page-es.png"))
        document = await page.content()
        leaked = sorted(s for s in secrets if s in document)
        assert not leaked, leaked[:5]
        await page.evaluate(AXE.read_text("utf-8"))
        assert axe_summary(await page.evaluate(AXE_RUN, None)) == []

        # the page's own language choice: French
        await page.select_option("#lang-select", "fr")
        async with page.expect_navigation():
            await page.click(".lang-switch button[type=submit]")
        assert await page.get_attribute("html", "lang") == "fr"
        assert words("fr")[1] in await page.inner_text("main")
        assert await cells(page) == expected(consortium, andes.name, "community1", "fr")
        hidden = await page.eval_on_selector_all(
            "#table-months td[data-suppressed]", "cells => cells.map(c => c.innerText.trim())"
        )
        assert hidden and set(hidden) == {words("fr")[0]}
        document = await page.content()
        assert not [s for s in secrets if s in document]
        await page.evaluate(AXE.read_text("utf-8"))
        assert axe_summary(await page.evaluate(AXE_RUN, None)) == []

        # a community whose champion did not publish: no page, in any form
        for path in ("community0", "community0.json", "community2.csv"):
            response = await page.goto(consortium.url(f"public/{andes.name}/{path}"))
            assert response is not None and response.status == 404, path
    finally:
        await context.close()
    assert seen_hidden

    # staff see the public page linked from the overview's community row
    staff = consortium.token("staff", roles=["consortium-staff"])
    r = await consortium.request("get", "", staff)
    assert r.status_code == 200, r.text
    href = consortium.url(f"public/{andes.name}/community1").split("//", 1)[1].split("/", 1)[1]
    assert f'<a href="/{href}" data-public-page>community1</a>' in r.text
    assert r.text.count("data-public-page") == 1


def mkdir(path):
    path.mkdir(exist_ok=True)
    return path
