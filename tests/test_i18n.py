"""Every user-facing message of the service and the reports exists in every language.

Messages are found where they are used: ``_("...")`` / ``_('...')`` in the service's templates,
and calls of ``_`` / ``self._`` / ``handler._`` with a literal first argument in Python code
under ``catalyst_hub/service`` and ``catalyst_hub/reports``. Run ``python tests/test_i18n.py``
to print the missing ones as JSON, ready to translate.
"""

from __future__ import annotations

import ast
import json
import re
import string
import sys
from pathlib import Path

import pytest
import yaml

from catalyst_hub.i18n import DEFAULT_LANGUAGE, LANGUAGES, message_files, messages

PACKAGE = Path(__file__).parents[1] / "catalyst_hub"
TEMPLATES = PACKAGE / "service" / "templates"
TEMPLATE_DIRS = [TEMPLATES, PACKAGE / "consortium" / "templates"]
PYTHON_DIRS = [PACKAGE / "service", PACKAGE / "reports", PACKAGE / "consortium"]
CATALOG = PACKAGE / "catalog" / "data" / "default.yaml"
TRANSLATED = [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE]

# _( then a quoted literal: "..." or '...' with backslash escapes
TEMPLATE_CALL = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""", re.S)


def template_messages() -> dict[str, str]:
    """{message: where} for every template under the service's templates folder."""
    found: dict[str, str] = {}
    for path in sorted(p for folder in TEMPLATE_DIRS for p in folder.rglob("*.html")):
        text = path.read_text("utf-8")
        for match in TEMPLATE_CALL.finditer(text):
            raw = match.group(1) if match.group(1) is not None else match.group(2)
            message = re.sub(r"\\(.)", r"\1", raw)  # \" and \' in a Jinja literal
            line = text.count("\n", 0, match.start()) + 1
            found.setdefault(message, f"{path.relative_to(PACKAGE.parent)}:{line}")
    return found


def python_messages() -> dict[str, str]:
    """{message: where} for ``_("...")`` calls (any receiver) in the service and reports."""
    found: dict[str, str] = {}
    for folder in PYTHON_DIRS:
        for path in sorted(folder.rglob("*.py")):
            tree = ast.parse(path.read_text("utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                func = node.func
                is_gettext = (isinstance(func, ast.Name) and func.id == "_") or (
                    isinstance(func, ast.Attribute) and func.attr == "_"
                )
                first = node.args[0]
                if is_gettext and isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.setdefault(
                        first.value, f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                    )
    return found


def used_messages() -> dict[str, str]:
    return {**python_messages(), **template_messages()}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_messages_are_found():
    used = used_messages()
    # a few anchors, so a broken extractor cannot pass by finding nothing
    assert "Skip to content" in used  # layout.html, double quotes
    assert "Hub navigation" in used  # layout.html, single quotes
    assert "Authentication required: send a JupyterHub token." in used  # base.py, self._
    assert "What this hub records about your work" in used  # app.py, _ = gettext_for(...)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(language):
    table = messages(language)
    missing = {
        message: where for message, where in used_messages().items() if not table.get(message)
    }
    assert not missing, f"{len(missing)} message(s) missing in {language}:\n" + "\n".join(
        f"  {where}: {message!r}" for message, where in sorted(missing.items(), key=lambda x: x[1])
    )


@pytest.mark.parametrize("language", TRANSLATED)
def test_placeholders_match(language):
    wrong = {
        message: translation
        for message, translation in messages(language).items()
        if fields(message) != fields(translation)
    }
    assert not wrong, f"placeholders differ in {language}: {wrong}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_translation_files_are_flat_string_maps_without_conflicts(language):
    seen: dict[str, tuple[str, str]] = {}
    for path in message_files(language):
        data = json.loads(path.read_text("utf-8"))
        assert isinstance(data, dict), path
        for message, translation in data.items():
            assert isinstance(message, str) and isinstance(translation, str), (path, message)
            if message in seen and seen[message][1] != translation:
                pytest.fail(
                    f"{message!r} translated differently in {seen[message][0]} and {path.name}"
                )
            seen[message] = (path.name, translation)


def catalog_texts(data: dict):
    """(where, {language: text}) of every title and help text of the catalog."""
    for step in data.get("steps", []):
        yield f"step {step['id']} title", step["title"]
        if step.get("help"):
            yield f"step {step['id']} help", step["help"]
    for program in data.get("training", {}).get("programs", []):
        yield f"program {program['id']} title", program["title"]
        for key in ("name", "description", "criteria") if program.get("badge") else ():
            yield f"program {program['id']} badge {key}", program["badge"][key]
        for lesson in program.get("lessons", []):
            yield f"lesson {lesson['id']} title", lesson["title"]
            for episode in lesson.get("episodes", []):
                yield f"episode {lesson['id']}/{episode['id']} title", episode["title"]
            for key in ("name", "description", "criteria") if lesson.get("badge") else ():
                yield f"lesson {lesson['id']} badge {key}", lesson["badge"][key]


def test_catalog_texts_exist_in_every_language():
    data = yaml.safe_load(CATALOG.read_text("utf-8"))
    missing = [
        f"{where}: {lang}"
        for where, texts in catalog_texts(data)
        for lang in LANGUAGES
        if not (isinstance(texts, dict) and str(texts.get(lang) or "").strip())
    ]
    assert not missing, "catalog texts missing a language:\n" + "\n".join(missing)


if __name__ == "__main__":
    # print what a language lacks, as JSON to fill in: python tests/test_i18n.py es
    language = sys.argv[1] if len(sys.argv) > 1 else "es"
    table = messages(language)
    todo = {m: "" for m in used_messages() if not table.get(m)}
    print(json.dumps(todo, ensure_ascii=False, indent=2))
