"""The hub's home page speaks the browser's language: its "Getting started" button and text."""

import pytest
from browser_helpers import login, screenshot

pytestmark = pytest.mark.browser

TEXT = {
    "es-ES": ("Primeros pasos", "Tu lista de primeros pasos"),
    "pt-BR": ("Primeiros passos", "A sua lista de primeiros passos"),
    "fr-FR": ("Premiers pas", "Votre liste de premiers pas"),
    "en-US": ("Getting started", "Your onboarding checklist"),
}


def test_getting_started_in_the_browsers_language(chromium, browser_hub):
    for locale, (button, sentence) in TEXT.items():
        context = chromium.new_context(locale=locale)
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            login(page, browser_hub, "bob", "bob-pass", next_url="/hub/home")
            page.goto(browser_hub.url + "hub/home")
            link = page.locator("#catalyst-getting-started")
            assert link.inner_text().strip() == button, locale
            assert page.locator("#catalyst-getting-started-text").inner_text().startswith(sentence)
            assert link.get_attribute("href") == "/services/catalyst/me"
            if locale == "es-ES":
                screenshot(page, "hub-home-es")
        finally:
            context.close()
