"""The onboarding and training catalog: data in YAML files that a deployment owns.

A catalog file has ``steps`` (the onboarding checklist, each with the rule that detects it),
``training`` (program > lesson > episode > exercise; a lesson, or a whole program: a training
path, may award a badge) and ``communities`` (per-community overrides: which steps, extra help
links). Titles are ``{language: text}`` maps. Several files are merged in order, later ones
replacing items with the same id, so a deployment can start from the packaged default and
change what it needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
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


#: how a lesson's badge is earned: every episode of the lesson completed (however it was
#: recorded), or every episode signed off by a training lead
BADGE_RULES = ("episodes", "signed-off")
#: how a training path's (a program's) badge is earned: every lesson of the path complete, each
#: by its own measure (a lesson whose badge is ``signed-off`` needs its sign-offs, any other
#: lesson every episode completed), or every episode of every lesson signed off by a lead
PATH_BADGE_RULES = ("lessons", "signed-off")
#: the key of a path's badge (lessons' badges are keyed by the lesson id)
PATH_KEY = "path:"
#: the ids a badge's lesson or program may have: they are part of its Achievement's address
BADGE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,58}$")
IMAGE_URL = re.compile(r"^(https?://|data:image/)\S+$")


@dataclass(frozen=True)
class Badge:
    """The Open Badges 3.0 achievement a lesson or a training path awards (texts
    ``{language: text}`` in every language of ``LANGUAGES``)."""

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
    """A training path: its lessons in order, and the badge the whole path awards, if any."""

    id: str
    title: dict[str, str]
    lessons: tuple[Lesson, ...]
    badge: Badge | None = None


def path_key(program_id: str) -> str:
    return PATH_KEY + program_id


def split_key(key: str) -> tuple[str | None, str | None]:
    """(lesson id, path id) of a badge key: one of them is None."""
    if key.startswith(PATH_KEY):
        return None, key[len(PATH_KEY) :]
    return key, None


def key_slug(key: str) -> str:
    """A badge key as a file name's stem: ``hub-basics``, ``path-champions``."""
    lesson, path = split_key(key)
    return lesson if lesson is not None else f"path-{path}"


@dataclass(frozen=True)
class Award:
    """A badge of the catalog with what earns it: a lesson's, or a training path's."""

    key: str
    badge: Badge
    title: dict[str, str]
    lessons: tuple[Lesson, ...]
    #: the program when this is a training path's badge
    program: Program | None = None

    @property
    def is_path(self) -> bool:
        return self.program is not None

    @property
    def catalog_id(self) -> str:
        """The lesson's or the program's id."""
        return self.program.id if self.program is not None else self.lessons[0].id

    def requirements(self) -> Iterator[tuple[Lesson, bool]]:
        """Each lesson the badge needs, and whether its episodes must be signed off by a lead."""
        for lesson in self.lessons:
            if self.badge.rule == "signed-off":
                yield lesson, True
            else:
                yield lesson, lesson.badge is not None and lesson.badge.rule == "signed-off"


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
            except CatalogError as e:
                raise CatalogError(f"catalog {name}: {e}") from e
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

    def badges(self) -> dict[str, Award]:
        """Every badge of the catalog by key: the lessons' (by lesson id), then the training
        paths' (``path:<program id>``)."""
        lessons = {
            lesson.id: Award(lesson.id, lesson.badge, lesson.title, (lesson,))
            for program in self.programs
            for lesson in program.lessons
            if lesson.badge is not None
        }
        paths = {
            path_key(program.id): Award(
                path_key(program.id), program.badge, program.title, program.lessons, program
            )
            for program in self.programs
            if program.badge is not None
        }
        return {**lessons, **paths}

    def paths_with(self, lesson_id: str) -> list[str]:
        """Keys of the training paths' badges that need the lesson."""
        return [
            path_key(program.id)
            for program in self.programs
            if program.badge is not None
            and any(lesson.id == lesson_id for lesson in program.lessons)
        ]

    def badges_for_lessons(self, lesson_ids: Iterable[str]) -> list[str]:
        """Keys of the badges a cohort of these lessons shows: the lessons' own, then those
        of the training paths any of them belongs to."""
        lesson_ids = list(lesson_ids)
        awards = self.badges()
        keys = [lesson for lesson in lesson_ids if lesson in awards]
        for lesson in lesson_ids:
            keys += [key for key in self.paths_with(lesson) if key not in keys]
        return keys

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
        lesson_id = str(lesson["id"])
        badge = lesson.get("badge")
        lessons.append(
            Lesson(
                id=lesson_id,
                title=lesson["title"],
                episodes=episodes,
                badge=_badge(badge, "lesson", lesson_id, BADGE_RULES) if badge else None,
            )
        )
    program_id = str(raw["id"])
    badge = raw.get("badge")
    program = Program(
        id=program_id,
        title=raw["title"],
        lessons=tuple(lessons),
        badge=_badge(badge, "program", program_id, PATH_BADGE_RULES) if badge else None,
    )
    if program.badge is not None and not any(lesson.episodes for lesson in program.lessons):
        raise CatalogError(f"program {program_id}: badge: the program has no lesson with episodes")
    return program


def _badge(raw: Any, kind: str, catalog_id: str, rules: tuple[str, ...]) -> Badge:
    """A lesson's or a program's (``kind``) ``badge``; errors name the item and the field."""
    where = f"{kind} {catalog_id}"
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: badge must be a mapping")
    if not BADGE_ID.match(catalog_id):
        raise CatalogError(
            f"{where}: id: a {kind} with a badge needs an id of at most 58 letters, digits,"
            " '.', '_' or '-' (it is part of the badge's address)"
        )
    rule = str(raw.get("rule", rules[0]))
    if rule not in rules:
        raise CatalogError(f"{where}: badge rule {rule!r} is not one of {', '.join(rules)}")
    texts = {}
    for key in ("name", "description", "criteria"):
        value = raw.get(key)
        if not isinstance(value, dict):
            raise CatalogError(
                f"{where}: badge {key} must give the text in each of {', '.join(LANGUAGES)}"
            )
        missing = [lang for lang in LANGUAGES if not str(value.get(lang) or "").strip()]
        if missing:
            raise CatalogError(f"{where}: badge {key} has no text in {', '.join(missing)}")
        texts[key] = {str(lang): str(text) for lang, text in value.items()}
    image = raw.get("image")
    if image is not None and not (isinstance(image, str) and IMAGE_URL.match(image)):
        raise CatalogError(f"{where}: badge image must be an https:// (or data:image/) address")
    return Badge(image=image or None, rule=rule, **texts)
