"""A researcher's first steps, in a real browser against a real hub, server and extension.

Log in, open JupyterLab, see the "Getting started" panel with nothing run yet; accept the
notice; create a notebook and run a cell: the steps tick by themselves; run a lesson
notebook's exercises: the episode completes; switch JupyterLab to Spanish; open the plain
page without JavaScript and see the same state. Screenshots land in test-artifacts/.
"""

import nbformat
from browser_helpers import (
    PANEL,
    axe_violations,
    login,
    open_panel,
    screenshot,
    set_lab_language,
)

ANA = "ana@andes.example.org"


def step(page, step_id: str, state: str, timeout: float = 20_000):
    return page.wait_for_selector(
        f'{PANEL} li[data-step-id="{step_id}"][data-state="{state}"]', timeout=timeout
    )


def write_lesson(home, name: str = "lesson.ipynb") -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["catalyst"] = {"lesson": "hub-basics", "episode": "first-notebook"}
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    hello = nbformat.v4.new_code_cell("print('hello')")
    hello.metadata["catalyst"] = {"exercise": "hello"}
    variables = nbformat.v4.new_code_cell("x = 6 * 7\nx")
    variables.metadata["tags"] = ["exercise:variables"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Your first notebook"), hello, variables]
    home.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(home / name))


def run_until_output(page, first_cell: str, texts: tuple[str, ...], presses: int) -> None:
    """Shift+Enter from ``first_cell`` until every one of ``texts`` shows. A kernel that has
    just started may miss a request, and a key press may land while a cell renders, on a
    loaded machine: then run the cells again, as a person would."""
    for _attempt in range(3):
        page.click(f"{first_cell} .jp-InputPrompt")
        for _ in range(presses):
            page.keyboard.press("Shift+Enter")
            page.wait_for_timeout(200)
        try:
            for text in texts:
                page.wait_for_selector(
                    f".jp-NotebookPanel:visible .jp-OutputArea-output:has-text('{text}')",
                    timeout=20_000,
                )
            return
        except Exception:
            continue
    raise AssertionError(f"no output {texts!r} after running the cells three times")


def test_first_steps_in_jupyterlab_and_on_the_plain_page(browser_hub, page, chromium):
    login(page, browser_hub, ANA, "ana-pass")
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    page.wait_for_selector(".jp-LauncherCard", timeout=60_000)

    open_panel(page)
    # nothing run, uploaded or committed yet
    for step_id in ("run_code", "upload_file", "use_git"):
        assert page.get_attribute(f'{PANEL} li[data-step-id="{step_id}"]', "data-state") != "done"
    notice = page.wait_for_selector(f"{PANEL} section[data-catalyst-consent-notice]")
    assert notice.is_visible()
    screenshot(page, "researcher-1-panel-first-use")
    assert axe_violations(page, PANEL) == []

    page.click(f'{PANEL} button[data-catalyst-consent="accept"]')
    page.wait_for_selector(f"{PANEL} [data-catalyst-privacy]")

    # a new notebook, a cell run through the real kernel
    page.click('.jp-LauncherCard[data-category="Notebook"]')
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-cell .cm-content")
    page.wait_for_selector(".jp-NotebookPanel [data-status='idle']", timeout=60_000)
    page.click(".jp-NotebookPanel .jp-Notebook-cell .cm-content")
    page.keyboard.type("print(6 * 7)")
    run_until_output(
        page, ".jp-NotebookPanel:visible .jp-Notebook-cell:first-child", ("42",), presses=1
    )
    step(page, "run_code", "done")
    step(page, "open_environment", "done")
    screenshot(page, "researcher-2-steps-ticked")

    # a lesson notebook: its exercise cells complete the episode
    home = browser_hub.workdir / "homes" / ANA
    write_lesson(home)
    page.goto(browser_hub.url + f"user/{ANA}/lab/tree/lesson.ipynb")
    page.wait_for_selector(".jp-NotebookPanel [data-status='idle']", timeout=60_000)
    # run the cells one after the other with Shift+Enter, from the first one
    run_until_output(
        page, ".jp-NotebookPanel:visible .jp-Notebook-cell:first-child", ("hello", "42"), presses=3
    )
    open_panel(page)
    page.wait_for_selector(
        f'{PANEL} li[data-catalyst-episode][data-episode-id="first-notebook"][data-state="done"]',
        timeout=20_000,
    )
    screenshot(page, "researcher-3-episode-complete")

    # JupyterLab in Spanish: the panel follows
    set_lab_language(page, browser_hub, ANA, "es_ES")
    page.reload()
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    open_panel(page)
    page.wait_for_selector(f"{PANEL} :text('Primeros pasos')", timeout=30_000)
    page.wait_for_selector(
        f'{PANEL} li[data-step-id="run_code"]:has-text("Ejecuta código")', timeout=30_000
    )
    screenshot(page, "researcher-4-spanish")

    # the plain page, without JavaScript, shows the same state
    plain = chromium.new_context(
        java_script_enabled=False, storage_state=page.context.storage_state()
    )
    try:
        nojs = plain.new_page()
        nojs.goto(browser_hub.service_url + "me?lang=es")
        assert nojs.get_attribute('[data-step-id="run_code"]', "data-state") == "done"
        assert nojs.get_attribute('[data-step-id="open_environment"]', "data-state") == "done"
        assert nojs.get_attribute('[data-episode-id="first-notebook"]', "data-state") == "done"
        assert "Ejecuta código" in nojs.inner_text('[data-step-id="run_code"]')
        screenshot(nojs, "researcher-5-plain-page-no-js")
    finally:
        plain.close()
    # axe needs JavaScript: check the same page in the scripted context
    page.goto(browser_hub.service_url + "me")
    assert axe_violations(page) == []
