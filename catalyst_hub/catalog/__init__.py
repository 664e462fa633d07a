"""The onboarding and training catalog: data in YAML files that a deployment owns.

A catalog file has ``steps`` (the onboarding checklist, each with the rule that detects it),
``training`` (program > lesson > episode > exercise) and ``communities`` (per-community
overrides: which steps, extra help links). Titles are ``{language: text}`` maps. Several files
are merged in order, later ones replacing items with the same id, so a deployment can start
from the packaged default and change what it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..events.names import STEP_REACHED

DEFAULT_CATALOG = resources.files(__package__) / "data" / "default.yaml"
LANGUAGES = ("en", "es", "pt", "fr")


class CatalogError(ValueError):
    """A catalog file that cannot be used; says which file and what is wrong."""


def localized(text: dict[str, str] | str | None, language: str) -> str:
    """The text in ``language``, falling back to English, then to any language present."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    base = language.split("-")[0].split("_")[0].lower()
    for key in (language, base, "en"):
        if key in text:
            return text[key]
    return next(iter(text.values()), "")


@dataclass(frozen=True)
class Rule:
    """Matches an event by schema name and payload values (a list value means any of them)."""

    schema: str
    match: dict[str, Any] = field(default_factory=dict)

    def matches(self, schema: str, payload: dict[str, Any]) -> bool:
        if schema != self.schema:
            return False
        for key, expected in self.match.items():
            value = payload.get(key)
            if isinstance(expected, list):
                if value not in expected:
                    return False
            elif value != expected:
                return False
        return True


@dataclass(frozen=True)
class Step:
    id: str
    title: dict[str, str]
    help: dict[str, str]
    help_url: str | None
    detect: tuple[Rule, ...]
    self_report: bool


@dataclass(frozen=True)
class Episode:
    id: str
    title: dict[str, str]
    exercises: tuple[str, ...]
    self_report: bool


#: how a badge is earned: every episode of the lesson completed (however it was recorded),
#: or every episode signed off by a training lead
BADGE_RULES = ("episodes", "signed-off")


@dataclass(frozen=True)
class Badge:
    """The Open Badges 3.0 achievement a lesson awards (texts ``{language: text}``)."""

    name: dict[str, str]
    description: dict[str, str]
    criteria: dict[str, str]
    image: str | None
    rule: str


@dataclass(frozen=True)
class Lesson:
    id: str
    title: dict[str, str]
    episodes: tuple[Episode, ...]
    badge: Badge | None = None


@dataclass(frozen=True)
class Program:
    id: str
    title: dict[str, str]
    lessons: tuple[Lesson, ...]


@dataclass
class Catalog:
    steps: list[Step]
    programs: list[Program]
    communities: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, paths: Sequence[str | Path] | None = None) -> Catalog:
        """Merge the catalog files in ``paths`` (the packaged default when empty)."""
        steps: dict[str, Step] = {}
        programs: dict[str, Program] = {}
        communities: dict[str, dict[str, Any]] = {}
        sources = list(paths) if paths else [DEFAULT_CATALOG]
        for source in sources:
            name = str(source)
            try:
                readable = Path(source) if isinstance(source, str) else source
                data = yaml.safe_load(readable.read_text("utf-8"))
            except (OSError, yaml.YAMLError) as e:
                raise CatalogError(f"cannot read catalog {name}: {e}") from e
            if not isinstance(data, dict):
                raise CatalogError(f"catalog {name} must be a mapping")
            try:
                for raw in data.get("steps", []):
                    step = _step(raw)
                    steps[step.id] = step
                for raw in data.get("training", {}).get("programs", []):
                    program = _program(raw)
                    programs[program.id] = program
                for community, override in (data.get("communities") or {}).items():
                    communities.setdefault(str(community), {}).update(override or {})
            except (KeyError, TypeError, AttributeError) as e:
                raise CatalogError(f"catalog {name}: malformed entry ({e!r})") from e
        return cls(list(steps.values()), list(programs.values()), communities)

    def steps_for(self, community: str) -> list[Step]:
        """The checklist of a community: its override's ``steps`` list, else every step."""
        chosen = self.communities.get(community, {}).get("steps")
        if not chosen:
            return list(self.steps)
        by_id = {step.id: step for step in self.steps}
        return [by_id[step_id] for step_id in chosen if step_id in by_id]

    def step_ids(self) -> set[str]:
        return {step.id for step in self.steps}

    def steps_matching(self, schema: str, payload: dict[str, Any]) -> list[str]:
        """Ids of the steps an event reaches, by the steps' detection rules."""
        if schema == STEP_REACHED:
            step_id = payload.get("step")
            return [step_id] if step_id in self.step_ids() else []
        return [s.id for s in self.steps if any(r.matches(schema, payload) for r in s.detect)]

    def badges(self) -> dict[str, tuple[Lesson, Badge]]:
        """Lessons that award a badge, by lesson id."""
        return {
            lesson.id: (lesson, lesson.badge)
            for program in self.programs
            for lesson in program.lessons
            if lesson.badge is not None
        }

    def episodes(self) -> dict[tuple[str, str], Episode]:
        """Every episode by (lesson id, episode id)."""
        return {
            (lesson.id, episode.id): episode
            for program in self.programs
            for lesson in program.lessons
            for episode in lesson.episodes
        }


def _step(raw: dict[str, Any]) -> Step:
    detect = raw.get("detect") or []
    if isinstance(detect, dict):
        detect = [detect]
    rules = tuple(Rule(schema=r["schema"], match=dict(r.get("match") or {})) for r in detect)
    return Step(
        id=str(raw["id"]),
        title=raw["title"],
        help=raw.get("help") or {},
        help_url=raw.get("help_url"),
        detect=rules,
        self_report=bool(raw.get("self_report", not rules)),
    )


def _program(raw: dict[str, Any]) -> Program:
    lessons = []
    for lesson in raw.get("lessons", []):
        episodes = tuple(
            Episode(
                id=str(ep["id"]),
                title=ep["title"],
                exercises=tuple(str(x) for x in ep.get("exercises", [])),
                self_report=bool(ep.get("self_report", not ep.get("exercises"))),
            )
            for ep in lesson.get("episodes", [])
        )
        lessons.append(
            Lesson(
                id=str(lesson["id"]),
                title=lesson["title"],
                episodes=episodes,
                badge=_badge(lesson["badge"]) if lesson.get("badge") else None,
            )
        )
    return Program(id=str(raw["id"]), title=raw["title"], lessons=tuple(lessons))


def _badge(raw: dict[str, Any]) -> Badge:
    rule = str(raw.get("rule", "episodes"))
    if rule not in BADGE_RULES:
        raise CatalogError(f"badge rule {rule!r} is not one of {', '.join(BADGE_RULES)}")
    texts = {}
    for key in ("name", "description", "criteria"):
        value = raw[key]
        texts[key] = {"en": value} if isinstance(value, str) else dict(value)
    image = raw.get("image")
    return Badge(image=str(image) if image else None, rule=rule, **texts)
