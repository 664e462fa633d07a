"""Translations of user-facing strings (English, Spanish, Portuguese, French).

Messages are keyed by their English text, gettext style; each language's translations live in
``<language>.json`` beside this file. English needs no file. ``tests/test_i18n.py`` fails when a
message used in a template or in code has no translation in one of the languages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources

LANGUAGES = ("en", "es", "pt", "fr")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "es": "Español", "pt": "Português", "fr": "Français"}


@cache
def messages(language: str) -> dict[str, str]:
    """The translations of ``language``: ``<language>.json`` merged with every
    ``<part>.<language>.json`` beside it (one per part of the service, e.g. ``reports.es.json``),
    so parts add their messages without editing a shared file. ``<language>.json`` wins."""
    if language == DEFAULT_LANGUAGE:
        return {}
    table: dict[str, str] = {}
    for path in message_files(language):
        table.update(json.loads(path.read_text("utf-8")))
    return table


def message_files(language: str) -> list:
    """The files ``messages`` reads for ``language``, the one that wins last."""
    folder = resources.files(__package__)
    parts = sorted(
        (p for p in folder.iterdir() if p.name.endswith(f".{language}.json")), key=lambda p: p.name
    )
    main = folder / f"{language}.json"
    return [*parts, main] if main.is_file() else parts


def gettext_for(language: str) -> Callable[..., str]:
    """A ``_(message, **values)`` function for ``language``; values fill ``{name}`` fields."""
    table = messages(language if language in LANGUAGES else DEFAULT_LANGUAGE)

    def _(message: str, **values) -> str:
        text = table.get(message) or message
        return text.format(**values) if values else text

    return _


def negotiate(requested: str | None, accept_language: str | None) -> str:
    """The language to answer in: an explicit choice, else the best of Accept-Language."""
    for candidate in [requested] if requested else []:
        base = candidate.split("-")[0].split("_")[0].lower()
        if base in LANGUAGES:
            return base
    choices = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        base = tag.split("-")[0].lower()
        if base in LANGUAGES and quality > 0:
            choices.append((-quality, i, base))
    return min(choices)[2] if choices else DEFAULT_LANGUAGE
