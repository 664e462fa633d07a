"""Our xAPI profile: the learning records of a hub as xAPI 1.0.3 statements.

Which records become statements (one each, however often the record's events arrived):

| record (projection) | verb | object (activity type) | parent |
| --- | --- | --- | --- |
| an exercise completed (``exercise_completions``) | ADL ``completed`` | the exercise (``interaction``) | its episode, its lesson |
| an episode completed (``training_progress``), by the learner or signed off by a lead | ADL ``completed`` | the episode (``module``) | its lesson |
| a lesson completed: every episode of it in the catalog completed (at the last one) | ADL ``completed`` | the lesson (``lesson``) | |
| an onboarding step reached (``member_steps``) | ADL ``completed`` | the step (``objective``) | the hub's onboarding checklist (``course``) |

- Activity ids are IRIs under the hub's URL (``hub_url``): ``<hub>/xapi/lessons/<lesson>``,
  ``…/episodes/<episode>``, ``…/exercises/<exercise>``, ``<hub>/xapi/onboarding/<step>``;
  the cohorts the learner is in that take the lesson are ``grouping``
  (``<hub>/xapi/cohorts/<id>``), and every statement names our profile as ``category``.
- A lead's sign-off is the episode's completion with the lead as ``context.instructor``.
- The actor is an ``account``: ``homePage`` the hub's URL, ``name`` the keyed member id (never
  a username or an email address). So is the instructor.
- Statement ids are UUIDs keyed with the deployment's secret over what the statement is about
  (hub, member, record), not over its content: sending again gives the same id, which a
  conforming LRS stores once.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import hmac
import os
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import Any

import orjson

from ..catalog import Catalog
from ..identity import keyed_uuid
from ..private_files import PRIVATE_FILE
from ..reports.learning_records import Learner, LearningRecords, learning_records
from ..store.audit import Access, audit
from ..store.privacy import ERASED_MEMBER
from ..store.store import Store

XAPI_VERSION = "1.0.3"
#: Our profile's IRI: ``context.contextActivities.category`` of every statement.
PROFILE_ID = "https://events.catalyst-hub.org/xapi/profile/v1"
PLATFORM = "catalyst_hub"

ADL_VERB = "http://adlnet.gov/expapi/verbs/"
ADL_ACTIVITY = "http://adlnet.gov/expapi/activities/"
COMPLETED = {"id": ADL_VERB + "completed", "display": {"en-US": "completed"}}

#: Extension IRIs (``context.extensions``)
EXT_COMMUNITY = PROFILE_ID + "/extensions/community"
EXT_SOURCE = PROFILE_ID + "/extensions/source"

#: The first parts of every statement id's keyed message (see ``identity.keyed_uuid``).
ID_PARTS = ("catalyst-id", "xapi-statement")

#: Statement ids a Profile remembers (about 200 bytes each) before it starts again.
MAX_REMEMBERED_IDS = 2_000_000

#: The kinds of statement, in the order a member's statements of one time are listed.
KINDS = ("step", "exercise", "episode", "lesson")


def normalize_hub_url(url: str) -> str:
    """The hub's URL with exactly one trailing slash (activity ids are built under it)."""
    return url.rstrip("/") + "/"


def xapi_time(value: datetime) -> str:
    """ISO 8601 UTC with milliseconds and ``Z`` (the precision an LRS keeps)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _language_map(title: dict[str, str] | str | None, fallback: str) -> dict[str, str]:
    if isinstance(title, dict) and title:
        return {lang: text for lang, text in sorted(title.items()) if text}
    return {"en": title if isinstance(title, str) and title else fallback}


@dataclass
class Profile:
    """Builds the statements of one hub (its URL, secret and catalog)."""

    hub: str
    hub_url: str
    secret: bytes
    catalog: Catalog

    def __post_init__(self) -> None:
        self.hub_url = normalize_hub_url(self.hub_url)
        self._episodes = self.catalog.episodes()
        self._lessons = {
            lesson.id: lesson for program in self.catalog.programs for lesson in program.lessons
        }
        self._steps = {step.id: step for step in self.catalog.steps}
        self._prefixes: dict[str, Any] = {}
        self._ids: dict[tuple[str, ...], str] = {}
        # activities are the same in every statement that names them: built once
        self.lesson: Callable[[str], dict[str, Any]] = cache(self._lesson)
        self.episode: Callable[[str, str], dict[str, Any]] = cache(self._episode)
        self.exercise: Callable[[str, str, str], dict[str, Any]] = cache(self._exercise)
        self.step: Callable[[str], dict[str, Any]] = cache(self._step)
        self.onboarding: Callable[[], dict[str, Any]] = cache(self._onboarding)
        self._profile_category = [
            {
                "objectType": "Activity",
                "id": PROFILE_ID,
                "definition": {"type": ADL_ACTIVITY + "profile"},
            }
        ]

    # -- ids -----------------------------------------------------------------------------

    def statement_id(self, member_id: str, kind: str, *keys: str) -> str:
        """``keyed_uuid(secret, "xapi-statement", hub, member, kind, *keys)``, from the HMAC
        state of the member's prefix (computed once per member), remembered: the forwarder
        and the API list every statement of the hub again and again."""
        key = (member_id, kind, *keys)
        found = self._ids.get(key)
        if found is not None:
            return found
        prefix = self._prefixes.get(member_id)
        if prefix is None:
            prefix = hmac.new(self.secret, digestmod=hashlib.sha256)
            prefix.update(b"\x00".join(p.encode() for p in (*ID_PARTS, self.hub, member_id)))
            self._prefixes[member_id] = prefix
        mac = prefix.copy()
        mac.update(b"".join(b"\x00" + part.encode() for part in (kind, *keys)))
        raw = bytearray(mac.digest()[:16])
        raw[6] = (raw[6] & 0x0F) | 0x80
        raw[8] = (raw[8] & 0x3F) | 0x80
        if len(self._ids) >= MAX_REMEMBERED_IDS:
            self._ids.clear()
            self._prefixes.clear()
        found = self._ids[key] = str(uuid.UUID(bytes=bytes(raw)))
        return found

    def slow_statement_id(self, member_id: str, kind: str, *keys: str) -> str:
        """The same id, through ``identity.keyed_uuid`` (the tests compare the two)."""
        return keyed_uuid(self.secret, *ID_PARTS[1:], self.hub, member_id, kind, *keys)

    def agent(self, member_id: str) -> dict[str, Any]:
        return {
            "objectType": "Agent",
            "account": {"homePage": self.hub_url, "name": member_id},
        }

    def lesson_iri(self, lesson: str) -> str:
        return f"{self.hub_url}xapi/lessons/{lesson}"

    def episode_iri(self, lesson: str, episode: str) -> str:
        return f"{self.lesson_iri(lesson)}/episodes/{episode}"

    def exercise_iri(self, lesson: str, episode: str, exercise: str) -> str:
        return f"{self.episode_iri(lesson, episode)}/exercises/{exercise}"

    def step_iri(self, step: str) -> str:
        return f"{self.hub_url}xapi/onboarding/{step}"

    def cohort_iri(self, cohort_id: int) -> str:
        return f"{self.hub_url}xapi/cohorts/{cohort_id}"

    # -- activities ----------------------------------------------------------------------

    def _activity(self, iri: str, kind: str, name: dict[str, str]) -> dict[str, Any]:
        return {
            "objectType": "Activity",
            "id": iri,
            "definition": {"type": ADL_ACTIVITY + kind, "name": name},
        }

    def _lesson(self, lesson: str) -> dict[str, Any]:
        found = self._lessons.get(lesson)
        return self._activity(
            self.lesson_iri(lesson), "lesson", _language_map(found.title if found else None, lesson)
        )

    def _episode(self, lesson: str, episode: str) -> dict[str, Any]:
        found = self._episodes.get((lesson, episode))
        return self._activity(
            self.episode_iri(lesson, episode),
            "module",
            _language_map(found.title if found else None, episode),
        )

    def _exercise(self, lesson: str, episode: str, exercise: str) -> dict[str, Any]:
        return self._activity(
            self.exercise_iri(lesson, episode, exercise), "interaction", {"en": exercise}
        )

    def _step(self, step: str) -> dict[str, Any]:
        found = self._steps.get(step)
        return self._activity(
            self.step_iri(step), "objective", _language_map(found.title if found else None, step)
        )

    def _onboarding(self) -> dict[str, Any]:
        return self._activity(
            f"{self.hub_url}xapi/onboarding",
            "course",
            {
                "en": "Getting started",
                "es": "Primeros pasos",
                "fr": "Premiers pas",
                "pt": "Primeiros passos",
            },
        )

    def _context(
        self,
        community: str,
        parents: list[dict[str, Any]],
        grouping: list[dict[str, Any]],
        source: str | None = None,
    ) -> dict[str, Any]:
        activities: dict[str, Any] = {"category": self._profile_category}
        if parents:
            activities["parent"] = parents
        if grouping:
            activities["grouping"] = grouping
        extensions: dict[str, Any] = {EXT_COMMUNITY: community}
        if source:
            extensions[EXT_SOURCE] = source
        return {
            "platform": PLATFORM,
            "contextActivities": activities,
            "extensions": extensions,
        }

    def _grouping(self, cohorts: Iterable[tuple[int, tuple[str, ...]]], lesson: str):
        return [
            {
                "objectType": "Activity",
                "id": self.cohort_iri(cohort_id),
                "definition": {"type": ADL_ACTIVITY + "course"},
            }
            for cohort_id, lessons in cohorts
            if lesson in lessons
        ]

    def _statement(
        self,
        statement_id: str,
        member_id: str,
        obj: dict[str, Any],
        when: datetime,
        context: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "id": statement_id,
            "actor": self.agent(member_id),
            "verb": COMPLETED,
            "object": obj,
            "result": {"completion": True},
            "context": context,
            "timestamp": xapi_time(when),
            "version": XAPI_VERSION,
        }

    # -- statements ----------------------------------------------------------------------

    def entries(self, records: LearningRecords) -> list[Entry]:
        """Every statement of ``records`` as an Entry (its id and timestamp, built when
        asked), in a stable order: the timestamp as sent (milliseconds), then the id, the
        order paging cursors compare."""
        out: list[Entry] = []
        learners = records.learners
        for member, step, reached in records.steps:
            sid = self.statement_id(member, "step", step)
            out.append(
                Entry(
                    xapi_time(reached),
                    sid,
                    member,
                    partial(self._step_statement, sid, learners[member], step, reached),
                )
            )
        for member, lesson, episode, exercise, completed in records.exercises:
            sid = self.statement_id(member, "exercise", lesson, episode, exercise)
            build = partial(
                self._exercise_statement,
                sid,
                learners[member],
                lesson,
                episode,
                exercise,
                completed,
            )
            out.append(Entry(xapi_time(completed), sid, member, build))
        by_lesson: dict[tuple[str, str], dict[str, datetime]] = {}
        for member, lesson, episode, completed, source, signed_off_by in records.episodes:
            by_lesson.setdefault((member, lesson), {})[episode] = completed
            sid = self.statement_id(member, "episode", lesson, episode)
            build = partial(
                self._episode_statement,
                sid,
                learners[member],
                lesson,
                episode,
                completed,
                source,
                signed_off_by,
            )
            out.append(Entry(xapi_time(completed), sid, member, build))
        for (member, lesson), done in by_lesson.items():
            found = self._lessons.get(lesson)
            if found is None or not found.episodes:
                continue
            if not all(episode.id in done for episode in found.episodes):
                continue
            when = max(done[episode.id] for episode in found.episodes)
            sid = self.statement_id(member, "lesson", lesson)
            build = partial(self._lesson_statement, sid, learners[member], lesson, when)
            out.append(Entry(xapi_time(when), sid, member, build))
        out.sort(key=lambda entry: (entry.timestamp, entry.id))
        return out

    def statements(self, records: LearningRecords) -> list[dict[str, Any]]:
        """Every statement of ``records``, ordered as ``entries``."""
        return [entry.build() for entry in self.entries(records)]

    def _step_statement(self, sid: str, who: Learner, step: str, reached: datetime):
        context = self._context(who.community, [self.onboarding()], [])
        return self._statement(sid, who.member_id, self.step(step), reached, context)

    def _exercise_statement(
        self, sid: str, who: Learner, lesson: str, episode: str, exercise: str, completed: datetime
    ):
        context = self._context(
            who.community,
            [self.episode(lesson, episode), self.lesson(lesson)],
            self._grouping(who.cohorts, lesson),
        )
        obj = self.exercise(lesson, episode, exercise)
        return self._statement(sid, who.member_id, obj, completed, context)

    def _episode_statement(
        self,
        sid: str,
        who: Learner,
        lesson: str,
        episode: str,
        completed: datetime,
        source: str | None,
        signed_off_by: str | None,
    ):
        context = self._context(
            who.community,
            [self.lesson(lesson)],
            self._grouping(who.cohorts, lesson),
            source or "self",
        )
        if source == "lead" and signed_off_by and signed_off_by != ERASED_MEMBER:
            context["instructor"] = self.agent(signed_off_by)
        obj = self.episode(lesson, episode)
        return self._statement(sid, who.member_id, obj, completed, context)

    def _lesson_statement(self, sid: str, who: Learner, lesson: str, when: datetime):
        context = self._context(who.community, [], self._grouping(who.cohorts, lesson))
        return self._statement(sid, who.member_id, self.lesson(lesson), when, context)


@dataclass(slots=True)
class Entry:
    """A statement before it is built: what ordering, paging and forwarding need."""

    timestamp: str
    id: str
    member_id: str
    build: Callable[[], dict[str, Any]]


_PROFILES: dict[tuple, Profile] = {}


def profile_for(store: Store, hub_url: str) -> Profile:
    """The Profile of ``store``'s hub, the same one each time (it remembers statement ids)."""
    key = (store.hub, normalize_hub_url(hub_url), store.secret, id(store.catalog))
    profile = _PROFILES.get(key)
    if profile is None or profile.catalog is not store.catalog:
        if len(_PROFILES) >= 16:
            _PROFILES.clear()
        profile = _PROFILES[key] = Profile(store.hub, hub_url, store.secret, store.catalog)
    return profile


def hub_statements(
    store: Store,
    hub_url: str,
    communities: Iterable[str] | None = None,
    members: Iterable[str] | None = None,
) -> list[dict[str, Any]]:
    """Every statement of this hub (of ``communities`` or ``members`` when given), ordered by
    time then id."""
    return [entry.build() for entry in hub_entries(store, hub_url, communities, members)]


def hub_entries(
    store: Store,
    hub_url: str,
    communities: Iterable[str] | None = None,
    members: Iterable[str] | None = None,
) -> list[Entry]:
    """The Entries of ``hub_statements`` (statements built when asked)."""
    return profile_for(store, hub_url).entries(learning_records(store, communities, members))


# -- paging (StatementResult) ----------------------------------------------------------------


def encode_cursor(statement: dict[str, Any]) -> str:
    """An opaque cursor after ``statement`` (its timestamp and id)."""
    raw = f"{statement['timestamp']}|{statement['id']}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """(timestamp, id) of a cursor; ValueError for one we did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("not a cursor of this API") from None
    timestamp, sep, statement_id = raw.partition("|")
    if not sep or len(timestamp) != 24 or len(statement_id) != 36:
        raise ValueError("not a cursor of this API")
    return timestamp, statement_id


def page_after(
    entries: list[Entry], cursor: tuple[str, str] | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """The ``limit`` statements after ``cursor`` (built), and whether more follow."""
    if cursor is not None:
        start = bisect.bisect_right(entries, cursor, key=lambda e: (e.timestamp, e.id))
        entries = entries[start:]
    return [entry.build() for entry in entries[:limit]], len(entries) > limit


#: The audit action of a read of statements (per-person records, pseudonymous).
XAPI_READ = "xapi_statements"


def audited_page(
    store: Store,
    hub_url: str,
    communities: Iterable[str] | None,
    cursor: tuple[str, str] | None,
    limit: int,
    actor: str | None,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the hub's statements, and in the same call the audit rows of that read
    (one per learner, by community) when ``actor`` names who reads."""
    every = hub_entries(store, hub_url, communities)
    page, more = page_after(every, cursor, limit)
    if actor is not None and page:
        by_community: dict[str, set[str]] = {}
        for statement in page:
            community = statement["context"]["extensions"][EXT_COMMUNITY]
            by_community.setdefault(community, set()).add(statement["actor"]["account"]["name"])
        with store.begin() as conn:
            for community, members in sorted(by_community.items()):
                audit(store, Access(actor, XAPI_READ, community), sorted(members), conn)
    return page, more


def write_statements(
    store: Store, hub_url: str, target: str, communities: Iterable[str] | None = None
) -> int:
    """Write the hub's statements as JSON lines to the file ``target`` (private, replaced
    whole) or to standard output (``-``); returns how many."""
    statements = hub_statements(store, hub_url, communities)
    lines = b"".join(orjson.dumps(s) + b"\n" for s in statements)
    if target == "-":
        sys.stdout.buffer.write(lines)
        sys.stdout.flush()
    else:
        path = Path(target)
        partial = path.with_name(path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as f:
            f.write(lines)
        os.replace(partial, path)
    return len(statements)
