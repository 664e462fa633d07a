"""Apply stored events to the projection tables.

Every projection is a merge that does not depend on the order events arrive in (earliest
first-reached time, latest last-active time, consent by event time...). So applying events
as they come, in any batches, gives the same tables as ``rebuild`` replaying the whole log,
and a retried delivery can never move a projection backwards.

A batch is first folded per key in Python, then written with one upsert per table: that keeps
the ingest path to a handful of statements per batch whatever its size.

Some projections also depend on the catalog: which steps an event reaches, which exercises
complete an episode, and which steps make a community's checklist (``members.activated``).
After changing how steps or exercises are detected, run ``catalyst-hub rebuild``. A change of
checklists alone is picked up when the service starts (``ensure_activation``), and a rebuild
recomputes it too.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import (
    Connection,
    Date,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from ..catalog import Catalog
from ..events import StoredEvent, names
from ..events.apps import app_of
from ..store import tables as t
from ..store.sql import (
    bind_processor,
    earliest,
    if_newer,
    latest,
    placeholder,
    result_processor,
    upsert_cached,
    upsert_tuples,
)
from ..timeutil import UTC, day_start, local_day, parse_time, utcnow

#: Most a daily counter (events, seconds of a member's day) holds: sums saturate there, so
#: whatever arrives the integer columns never overflow (PostgreSQL's integer is 32 bits).
COUNTER_MAX = 2**31 - 1

#: Events that show the member themself was active at the event's time.
ACTIVE_SCHEMAS = frozenset(
    {
        names.ACTIVITY,
        names.ACTION,
        names.STEP_REACHED,
        names.EXERCISE_COMPLETED,
        names.SERVER_STARTED,
    }
)


def saturating_sum(current: ColumnElement, new: ColumnElement) -> ColumnElement:
    """``current + new`` capped at COUNTER_MAX, computed so that no intermediate value
    overflows a 32-bit integer (both are at most COUNTER_MAX already)."""
    # literals, not parameters: the compiled upserts bind the row's columns only
    cap: ColumnElement[int] = literal_column(str(COUNTER_MAX), Integer)
    return case((new > cap - current, cap), else_=current + new)


#: The ``source`` of a lead's sign-off.
LEAD_SOURCE = "lead"


def _outranks(source: str | None, completed, current_source: str | None, current) -> bool:
    """Whether a completion (``source`` at ``completed``) replaces the current one of an
    episode: a lead's sign-off outranks any other, so no later or backdated report of the
    learner's (or their exercises) replaces it; between equals, the earlier counts.
    An order-free merge: the same completion wins whatever order they arrive in."""
    if current is None:
        return True
    lead, current_lead = source == LEAD_SOURCE, current_source == LEAD_SOURCE
    if lead != current_lead:
        return lead
    return completed < current


def _outranks_sql(tp, x) -> ColumnElement:
    """``_outranks`` of the proposed row ``x`` over the stored row ``tp``, in SQL."""
    # literals, not parameters: the compiled upserts bind the row's columns only
    empty: ColumnElement[str] = literal_column("''", String)
    lead_source: ColumnElement[str] = literal_column(f"'{LEAD_SOURCE}'", String)
    lead = func.coalesce(x.source, empty) == lead_source
    current_lead = func.coalesce(tp.source, empty) == lead_source
    return and_(
        x.completed.is_not(None),
        or_(
            tp.completed.is_(None),
            and_(lead, ~current_lead),
            and_(or_(lead, ~current_lead), x.completed < tp.completed),
        ),
    )


def _min(a, b):
    return b if a is None or (b is not None and b < a) else a


def _max(a, b):
    return b if a is None or (b is not None and b > a) else a


def _fold(rows: dict, key: tuple, new: dict, merge) -> None:
    if key in rows:
        merge(rows[key], new)
    else:
        rows[key] = new


class Projector:
    """Keeps the projection tables of one catalog current."""

    def __init__(
        self, catalog: Catalog, idle_cull_timeout: float = 3600.0, zone: ZoneInfo = UTC
    ) -> None:
        self.catalog = catalog
        #: the hub's time zone: ``daily_activity`` and ``app_activity`` rows are its days
        self.zone = zone
        #: how long the hub lets an idle server run: a session with no stop ends that long
        #: after its last activity (see ``session_ends``)
        self.idle_cull_timeout = timedelta(seconds=idle_cull_timeout)
        self._episodes = catalog.episodes()
        # per schema, the payload fields some step's rule looks at: the steps an event
        # reaches depend on those values only, so they are looked up once per distinct value
        self._step_fields: dict[str, tuple[str, ...]] = {names.STEP_REACHED: ("step",)}
        for step in catalog.steps:
            for rule in step.detect:
                fields = set(self._step_fields.get(rule.schema, ())) | set(rule.match)
                self._step_fields[rule.schema] = tuple(sorted(fields))
        self._steps_cache: dict[tuple, list[str]] = {}
        # a community without an override of steps has every step
        self._default_checklist = frozenset(s.id for s in catalog.steps)
        self._checklist_cache: dict[str, frozenset[str]] = {}
        #: the checklists as stored in ``activation_checklists``: what activation depends on
        self.checklists = checklists_json(catalog)
        # every community has the same checklist: moving community never changes activation
        self._one_checklist = all(
            self.checklist(community) == self._default_checklist
            for community in catalog.communities
        )

    def _steps(self, schema: str, payload: dict[str, Any]) -> list[str]:
        fields = self._step_fields.get(schema)
        if fields is None:
            return []  # most events (activity) match no step at all
        key = (schema, *map(payload.get, fields))
        try:
            return self._steps_cache[key]
        except KeyError:
            if len(self._steps_cache) >= 4096:
                # distinct values are few (action names, step ids); a sender inventing new
                # ones must not grow the service's memory without bound
                self._steps_cache.clear()
            found = self._steps_cache[key] = self.catalog.steps_matching(schema, payload)
            return found
        except TypeError:  # an unhashable value: no caching
            return self.catalog.steps_matching(schema, payload)

    def apply(self, conn: Connection, events: Iterable[StoredEvent]) -> None:
        self.apply_rows(
            conn, ((e.hub, e.member_id, e.community, e.schema, e.time, e.payload) for e in events)
        )

    def apply_rows(
        self,
        conn: Connection,
        events: Iterable[tuple[str, str, str, str, datetime, dict]],
        activation: bool = True,
    ) -> None:
        """``apply`` of (hub, member id, community, schema, time, payload) tuples, which is
        what ``rebuild`` reads. Each fold keeps a small list per key and builds no object
        per event: on the ingest path and in rebuild this loop runs for every event.

        Then ``members.activated`` of the members whose steps the batch touched (or, when
        communities have different checklists, of every member it touched: their community
        may have changed) is recomputed from their rows, and so is ``server_sessions.ended``
        of the servers whose sessions it touched; without ``activation`` the caller does both
        (``rebuild``: once at the end)."""
        members: dict = {}  # (hub, member): [community, first_seen, last_active]
        consents: dict = {}  # (hub, member): (time, decision, notice version)
        steps: dict = {}  # (hub, member, step): [community, reached]
        days: dict = {}  # (hub, member, day): [community, events, seconds]
        apps: dict = {}  # (hub, member, day, app): [community, events, seconds]
        exercises: dict = {}  # (hub, member, lesson, episode, exercise): completed
        episodes: dict = {}  # (hub, member, lesson, episode): see _fold_episode
        started: dict = {}
        stopped: list = []
        step_fields = self._step_fields
        fold_episode = self._fold_episode
        day_of = _day_function(self.zone)

        for hub, member_id, community, schema, time, payload in events:
            key = (hub, member_id)
            # last_active is the time of the member's latest event of any kind (a maximum, so
            # the row is the same whatever the batches); community follows that event
            member = members.get(key)
            if member is None:
                members[key] = [community, time, time]
            elif time >= member[2]:
                member[0] = community
                member[2] = time
            elif time < member[1]:
                member[1] = time
            if schema == names.CONSENT:
                consent = consents.get(key)
                if consent is None or time >= consent[0]:
                    consents[key] = (time, payload["decision"], payload["notice_version"])
            if schema in step_fields:
                for step in self._steps(schema, payload):
                    step_key = (hub, member_id, step)
                    reached = steps.get(step_key)
                    if reached is None:
                        steps[step_key] = [community, time]
                    elif time < reached[1]:
                        reached[1] = time
            if schema in ACTIVE_SCHEMAS:
                if schema == names.ACTIVITY:
                    count, seconds = payload.get("count", 1), payload.get("seconds", 0)
                else:
                    count, seconds = 1, 0
                day_key = (hub, member_id, day_of(time))
                day = days.get(day_key)
                if day is None:
                    days[day_key] = [community, count, seconds]
                else:
                    day[1] = min(day[1] + count, COUNTER_MAX)
                    day[2] = min(day[2] + seconds, COUNTER_MAX)
                app = app_of(payload) if schema == names.ACTIVITY else None
                if app is not None:
                    app_key = (*day_key, app)
                    used = apps.get(app_key)
                    if used is None:
                        apps[app_key] = [community, count, seconds]
                    else:
                        used[1] = min(used[1] + count, COUNTER_MAX)
                        used[2] = min(used[2] + seconds, COUNTER_MAX)
            if schema == names.EXERCISE_COMPLETED:
                lesson, episode = payload["lesson"], payload["episode"]
                exercise_key = (hub, member_id, lesson, episode, payload["exercise"])
                done = exercises.get(exercise_key)
                if done is None or time < done:
                    exercises[exercise_key] = time
                fold_episode(episodes, (hub, member_id, lesson, episode), community, time)
            elif schema == names.EPISODE_COMPLETED:
                source = payload.get("source", "self")
                fold_episode(
                    episodes,
                    (hub, member_id, payload["lesson"], payload["episode"]),
                    community,
                    time,
                    completed=time,
                    source=source,
                    signed_off_by=payload.get("signed_off_by") if source == "lead" else None,
                )
            elif schema == names.SERVER_STARTED:
                p = payload
                _fold(
                    started,
                    (*key, p["server_name"], _parse_time(p["started"])),
                    {
                        "hub": hub,
                        "member_id": member_id,
                        "server_name": p["server_name"],
                        "started": _parse_time(p["started"]),
                        "community": community,
                        "profile": p.get("profile"),
                        "environment": p.get("environment"),
                        "size": p.get("size"),
                        "stopped": None,
                        "last_activity": None,
                    },
                    lambda old, new: None,
                )
            elif schema == names.SERVER_STOPPED:
                p = payload
                stopped.append(
                    {
                        "hub": hub,
                        "member_id": member_id,
                        "server_name": p["server_name"],
                        "started": _parse_time(p["started"]),
                        "community": community,
                        "stopped": time,
                        "last_activity": _parse_time(p.get("last_activity")),
                        "profile": None,
                        "environment": None,
                        "size": None,
                    }
                )

        self._write_members(conn, members, consents)
        # only a step reached for the first time, or earlier than known, is written (and
        # counted): a step reached again, most of them, changes nothing
        new_steps = upsert_tuples(
            conn,
            t.member_steps,
            ("hub", "member_id", "step", "community", "reached"),
            [(*k, community, reached) for k, (community, reached) in steps.items()],
            ["hub", "member_id", "step"],
            lambda x: {"reached": x.reached},
            lambda x: x.reached < t.member_steps.c.reached,
        )
        if activation:
            follow_member_communities(conn, members)
        if activation and (new_steps or not self._one_checklist):
            # Activation of the members whose steps changed. When communities have checklists
            # of their own, a member's community may have changed too: every member touched.
            # Most batches (activity, steps reached before) make no query at all.
            touched: dict[str, set[str]] = {}
            for key in steps if self._one_checklist else members:
                touched.setdefault(key[0], set()).add(key[1])
            for member_hub, member_ids in touched.items():
                self.refresh_activation(conn, member_hub, member_ids)
        upsert_tuples(
            conn,
            t.daily_activity,
            ("hub", "member_id", "day", "community", "events", "seconds"),
            [(*k, *day) for k, day in days.items()],
            ["hub", "member_id", "day"],
            lambda x: {
                "events": saturating_sum(t.daily_activity.c.events, x.events),
                "seconds": saturating_sum(t.daily_activity.c.seconds, x.seconds),
            },
        )
        upsert_tuples(
            conn,
            t.exercise_completions,
            ("hub", "member_id", "lesson", "episode", "exercise", "completed"),
            [(*k, completed) for k, completed in exercises.items()],
            ["hub", "member_id", "lesson", "episode", "exercise"],
            lambda x: {"completed": earliest(t.exercise_completions.c.completed, x.completed)},
        )
        upsert_tuples(
            conn,
            t.app_activity,
            ("hub", "member_id", "day", "app", "community", "events", "seconds"),
            [(*k, *used) for k, used in apps.items()],
            ["hub", "member_id", "day", "app"],
            lambda x: {
                "events": saturating_sum(t.app_activity.c.events, x.events),
                "seconds": saturating_sum(t.app_activity.c.seconds, x.seconds),
            },
        )
        self._write_episodes(conn, episodes, exercises)
        self._write_sessions(conn, started, stopped)
        if activation:
            # rebuild does every server at once, at the end
            self.refresh_session_ends(
                conn,
                {k[:3] for k in started}
                | {(r["hub"], r["member_id"], r["server_name"]) for r in stopped},
            )

    # -- members -----------------------------------------------------------------------------

    @staticmethod
    def _write_members(conn: Connection, members: dict, consents: dict) -> None:
        m = t.members.c
        no_consent = (None, None, None)
        rows = []
        for key, (community, first_seen, last_active) in members.items():
            consent_time, consent, consent_version = consents.get(key, no_consent)
            rows.append(
                (*key, community, first_seen, last_active, consent, consent_version, consent_time)
            )
        upsert_tuples(
            conn,
            t.members,
            (
                "hub",
                "member_id",
                "community",
                "first_seen",
                "last_active",
                "consent",
                "consent_version",
                "consent_time",
            ),
            rows,
            ["hub", "member_id"],
            lambda x: {
                # community follows the member's most recent event
                "community": if_newer(m.last_active, x.last_active, m.community, x.community),
                "first_seen": earliest(m.first_seen, x.first_seen),
                "last_active": latest(m.last_active, x.last_active),
                "consent": if_newer(m.consent_time, x.consent_time, m.consent, x.consent),
                "consent_version": if_newer(
                    m.consent_time, x.consent_time, m.consent_version, x.consent_version
                ),
                "consent_time": latest(m.consent_time, x.consent_time),
            },
        )

    # -- activation --------------------------------------------------------------------------

    def checklist(self, community: str) -> frozenset[str]:
        """The step ids of ``community``'s checklist (``Catalog.steps_for``)."""
        found = self._checklist_cache.get(community)
        if found is None:
            if len(self._checklist_cache) >= 4096:
                self._checklist_cache.clear()
            found = self._checklist_cache[community] = frozenset(
                s.id for s in self.catalog.steps_for(community)
            )
        return found

    def activated(self, community: str, reached: dict[str, Any]) -> Any:
        """When a member of ``community`` with steps ``reached`` (step -> time) reached the
        last step of the checklist; None while a step is missing (or the list is empty)."""
        checklist = self.checklist(community)
        if not checklist:
            return None
        last = None
        for step in checklist:
            at = reached.get(step)
            if at is None:
                return None
            if last is None or at > last:
                last = at
        return last

    def refresh_activation(
        self, conn: Connection, hub: str, member_ids: Iterable[str] | None = None
    ) -> int:
        """Recompute ``members.activated`` of the members ``member_ids`` of ``hub`` (all of
        them when None) from their community and member_steps rows: a function of those rows
        alone, so the order events came in does not matter. Writes the rows that change;
        returns how many.

        On the ingest path for nearly every batch that reaches a step: plain SQL and driver
        values (times compare as the driver gives them: datetimes, or SQLite's fixed-width
        text), as for the upserts."""
        dialect = conn.dialect
        ids = None if member_ids is None else sorted(member_ids)
        chunks = [None] if ids is None else [ids[i : i + 5000] for i in range(0, len(ids), 5000)]
        changed = []
        activated = self.activated
        for chunk in chunks:
            sql = _activation_sql(dialect, None if chunk is None else len(chunk))
            rows: dict[str, tuple[str, Any, dict[str, Any]]] = {}
            for member_id, community, was, step, reached in conn.exec_driver_sql(
                sql, (hub, *(chunk or ()))
            ):
                row = rows.get(member_id)
                if row is None:
                    row = rows[member_id] = (community, was, {})
                if step is not None:
                    row[2][step] = reached
            for member_id, (community, was, reached) in rows.items():
                now = activated(community, reached)
                if now != was:
                    changed.append((now, hub, member_id))
        if changed:
            conn.exec_driver_sql(_activation_update_sql(dialect), changed)
        return len(changed)

    def ensure_activation(self, conn: Connection, hub: str) -> bool:
        """Recompute every ``members.activated`` of ``hub`` unless it was computed with this
        catalog's checklists (``activation_checklists``): after the migration that added the
        column, and after a catalog change of checklists. True when it recomputed."""
        a = t.activation_checklists.c
        stored = conn.execute(select(a.checklists).where(a.hub == hub)).scalar()
        if stored == self.checklists:
            return False
        self.refresh_activation(conn, hub)
        upsert_tuples(
            conn,
            t.activation_checklists,
            ("hub", "checklists", "updated"),
            [(hub, self.checklists, utcnow())],
            ["hub"],
            lambda x: {"checklists": x.checklists, "updated": x.updated},
        )
        return True

    # -- time zone ---------------------------------------------------------------------------

    def built_zone(self, conn: Connection, hub: str) -> str:
        """The time zone (IANA name) ``hub``'s daily projections were built in. A hub with
        no record yet has none built (a new database): it is recorded as this projector's."""
        z = t.projection_zones.c
        stored = conn.execute(select(z.timezone).where(z.hub == hub)).scalar()
        if stored is None:
            self.record_zone(conn, hub)
            return self.zone.key
        return stored

    def record_zone(self, conn: Connection, hub: str) -> None:
        """Record that ``hub``'s daily projections are days of this projector's zone."""
        upsert_tuples(
            conn,
            t.projection_zones,
            ("hub", "timezone", "updated"),
            [(hub, self.zone.key, utcnow())],
            ["hub"],
            lambda x: {"timezone": x.timezone, "updated": x.updated},
        )

    # -- training ----------------------------------------------------------------------------

    @staticmethod
    def _fold_episode(
        episodes: dict,
        key: tuple,
        community: str,
        time: datetime,
        completed: datetime | None = None,
        source: str | None = None,
        signed_off_by: str | None = None,
    ) -> None:
        # [community, first_activity, completed, source, signed_off_by]: the earliest activity,
        # and the completion that counts (see _outranks)
        episode = episodes.get(key)
        if episode is None:
            episodes[key] = [community, time, completed, source, signed_off_by]
            return
        if time < episode[1]:
            episode[1] = time
        if completed is not None and _outranks(source, completed, episode[3], episode[2]):
            episode[2:] = [completed, source, signed_off_by]

    def _write_episodes(self, conn: Connection, episodes: dict, exercises: dict) -> None:
        tp = t.training_progress.c
        upsert_tuples(
            conn,
            t.training_progress,
            (
                "hub",
                "member_id",
                "lesson",
                "episode",
                "community",
                "exercises_done",
                "first_activity",
                "completed",
                "source",
                "signed_off_by",
            ),
            [(*k, community, 0, *rest) for k, (community, *rest) in episodes.items()],
            ["hub", "member_id", "lesson", "episode"],
            lambda x: {
                "community": t.training_progress.c.community,
                "first_activity": earliest(tp.first_activity, x.first_activity),
                # the completion that counts, with who made it (see _outranks)
                **{
                    name: case((_outranks_sql(tp, x), getattr(x, name)), else_=getattr(tp, name))
                    for name in ("completed", "source", "signed_off_by")
                },
            },
        )
        touched = {key[:4] for key in exercises}
        if touched:
            self._complete_from_exercises(conn, touched)

    def _complete_from_exercises(self, conn: Connection, keys: set[tuple]) -> None:
        """Count each touched episode's catalog exercises; all of them done completes it, at
        the time the last of them was done (exercises the catalog does not name don't count,
        so the result is the same whatever order they arrive in)."""
        ex = t.exercise_completions.c
        rows = conn.execute(
            select(ex.hub, ex.member_id, ex.lesson, ex.episode, ex.exercise, ex.completed).where(
                tuple_(ex.hub, ex.member_id, ex.lesson, ex.episode).in_(list(keys))
            )
        ).all()
        per_episode: dict[tuple, dict[str, datetime]] = {}
        for hub, member_id, lesson, episode, exercise, completed in rows:
            per_episode.setdefault((hub, member_id, lesson, episode), {})[exercise] = completed
        counts = []
        for (hub, member_id, lesson, episode), done_at in per_episode.items():
            episode_def = self._episodes.get((lesson, episode))
            if episode_def is not None and episode_def.exercises:
                done_at = {k: v for k, v in done_at.items() if k in episode_def.exercises}
            last = max(done_at.values()) if done_at else None
            counts.append((hub, member_id, lesson, episode, len(done_at), last))
        tp = t.training_progress
        where = (
            tp.c.hub == bindparam("k_hub"),
            tp.c.member_id == bindparam("k_member_id"),
            tp.c.lesson == bindparam("k_lesson"),
            tp.c.episode == bindparam("k_episode"),
        )
        done_rows, complete_rows = [], []
        for hub, member_id, lesson, episode, done, last in counts:
            key = {"k_hub": hub, "k_member_id": member_id, "k_lesson": lesson, "k_episode": episode}
            done_rows.append({**key, "v_done": done})
            episode_def = self._episodes.get((lesson, episode))
            if episode_def and episode_def.exercises and done >= len(episode_def.exercises):
                complete_rows.append({**key, "v_last": last})
        # one executemany per kind of update, not two statements per episode
        if done_rows:
            conn.execute(
                update(tp).where(*where).values(exercises_done=bindparam("v_done")), done_rows
            )
        if complete_rows:
            conn.execute(
                update(tp)
                .where(
                    *where,
                    (tp.c.completed.is_(None)) | (tp.c.completed > bindparam("v_last")),
                    # exercises never replace a lead's sign-off (see _outranks)
                    tp.c.source.is_(None) | (tp.c.source != LEAD_SOURCE),
                )
                .values(completed=bindparam("v_last"), source="exercises", signed_off_by=None),
                complete_rows,
            )

    # -- sessions ----------------------------------------------------------------------------

    @staticmethod
    def _write_sessions(conn: Connection, started: dict, stopped: list) -> None:
        s = t.server_sessions.c
        upsert_cached(
            conn,
            t.server_sessions,
            started.values(),
            ["hub", "member_id", "server_name", "started"],
            lambda x: {
                "profile": x.profile,
                "environment": x.environment,
                "size": x.size,
                "community": x.community,
            },
        )
        merged: dict = {}
        for row in stopped:
            _fold(
                merged,
                (row["hub"], row["member_id"], row["server_name"], row["started"]),
                row,
                lambda old, new: old.update(
                    stopped=_max(old["stopped"], new["stopped"]),
                    last_activity=_max(old["last_activity"], new["last_activity"]),
                ),
            )
        # a stop seen before its start (rebuild, or a late collector) still makes a session row
        upsert_cached(
            conn,
            t.server_sessions,
            merged.values(),
            ["hub", "member_id", "server_name", "started"],
            lambda x: {
                "stopped": latest(s.stopped, x.stopped),
                "last_activity": latest(s.last_activity, x.last_activity),
            },
        )

    def refresh_session_ends(
        self,
        conn: Connection,
        servers: Iterable[tuple[str, str, str]] | None,
        hub: str | None = None,
    ) -> int:
        """Recompute ``server_sessions.ended`` of every session of ``servers`` ((hub, member
        id, server name) triples; every server of ``hub`` when None) from their rows: a
        function of the rows alone, so arrival order does not matter. Returns rows changed.

        Plain SQL and driver values, as for the upserts: a rebuild does every session of the
        hub, the ingest path the few servers a batch touched."""
        dialect = conn.dialect
        if servers is None:
            selects: list[tuple[str, tuple[str | None, ...]]] = [
                (_session_sql(dialect, None), (hub,))
            ]
        else:
            keys = sorted(servers)
            selects = [
                (_session_sql(dialect, len(chunk)), tuple(v for key in chunk for v in key))
                for chunk in (keys[i : i + 500] for i in range(0, len(keys), 500))
            ]
        c = t.server_sessions.c
        to_time = result_processor(c.started, dialect) or (lambda value: value)
        to_driver = bind_processor(c.ended, dialect) or (lambda value: value)
        idle = self.idle_cull_timeout
        changed = []
        for sql, params in selects:
            rows = conn.exec_driver_sql(sql, params).fetchall()
            for server in _by_server(rows):
                times = [
                    (to_time(started), _or_none(to_time, stopped), _or_none(to_time, last))
                    for *_, started, stopped, last, _ in server
                ]
                for row, end in zip(server, session_ends(times, idle), strict=True):
                    value = to_driver(end)
                    if value != row[6]:
                        changed.append((value, *row[:4]))
        if changed:
            conn.exec_driver_sql(_session_update_sql(dialect), changed)
        return len(changed)

    # -- rebuild -----------------------------------------------------------------------------

    def rebuild(self, conn_factory, hub: str, chunk: int = 100_000) -> int:
        """Empty the hub's projections and replay its whole event log. Returns events replayed.

        After a retention purge the log starts at the hub's horizon (see
        ``store.privacy.purge_expired_events``): rows that depend on purged events are kept
        as they are, and the log from the horizon on is replayed into the rest (see
        ``_from_horizon``). The result is the same tables as before the purge.
        """
        with conn_factory() as conn:
            horizon = retention_horizon(conn, hub)
            for table in t.PROJECTION_TABLES:
                conn.execute(
                    delete(table).where(
                        table.c.hub == hub, *_from_horizon(table, horizon, self.zone)
                    )
                )
        replayed = 0
        # The replay makes millions of short-lived objects without cycles (rows, payloads),
        # all freed by reference counting; the cycle collector would only walk the heap
        # over and over (a third of the time of a 1 M event rebuild).
        collecting = gc.isenabled()
        gc.disable()
        try:
            for batch in _chunks(conn_factory, hub, chunk, since=horizon):
                with conn_factory() as conn:
                    if conn.dialect.name == "postgresql":
                        # projections are recomputable from the log: a crash loses nothing a
                        # new rebuild cannot redo, so these commits need not wait for the disk
                        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                    self.apply_rows(conn, batch, activation=False)
                replayed += len(batch)
        finally:
            if collecting:
                gc.enable()
        # communities and activation once, from the rebuilt rows (and the kept ones, after a
        # purge)
        with conn_factory() as conn:
            follow_member_communities(conn, hub=hub)
            self.refresh_activation(conn, hub)
            self.refresh_session_ends(conn, None, hub=hub)
            self.record_zone(conn, hub)
        return replayed


def session_ends(
    sessions: list[tuple[datetime, datetime | None, datetime | None]], idle: timedelta
) -> list[datetime]:
    """When each of one server's sessions ended, given (started, stopped, last activity)
    in order of start.

    A server runs one session at a time, so a session ends by the next one's start. Nor
    does it run longer than the hub's idle-cull timeout after its last activity (its start
    when none is known): a session with no recorded stop ends there, and so does one whose
    stop was recorded later (a collector that restarts records the servers that stopped
    while it was down as stopped when it finds them gone, with no last activity). Never
    before the session's start."""
    ends = []
    for i, (started, stopped, last_activity) in enumerate(sessions):
        culled = (last_activity or started) + idle
        end = culled if stopped is None or culled < stopped else stopped
        if i + 1 < len(sessions) and sessions[i + 1][0] < end:
            end = sessions[i + 1][0]
        ends.append(max(end, started))
    return ends


def _or_none(convert: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else convert(value)


_SESSION_SQL: dict[tuple[str, int | None], str] = {}


def _session_sql(dialect, servers: int | None) -> str:
    """(hub, member, server, started, stopped, last_activity, ended) of one hub's sessions
    (None), or of ``servers`` given (hub, member, server) triples, in key order."""
    key = (dialect.name, servers)
    sql = _SESSION_SQL.get(key)
    if sql is None:
        q = dialect.identifier_preparer.quote
        mark = placeholder(dialect)
        c = t.server_sessions.c
        names = [q(col.name) for col in (c.hub, c.member_id, c.server_name)]
        columns = [
            *names,
            *(q(col.name) for col in (c.started, c.stopped, c.last_activity, c.ended)),
        ]
        if servers is None:
            where = f"{names[0]} = {mark}"
        else:
            one = f"({', '.join([mark] * 3)})"
            where = f"({', '.join(names)}) IN ({', '.join([one] * servers)})"
        sql = _SESSION_SQL[key] = (
            f"SELECT {', '.join(columns)} FROM {q(t.server_sessions.name)} WHERE {where} "
            f"ORDER BY {', '.join(columns[:4])}"
        )
    return sql


def _session_update_sql(dialect) -> str:
    q = dialect.identifier_preparer.quote
    mark = placeholder(dialect)
    c = t.server_sessions.c
    keys = " AND ".join(
        f"{q(col.name)} = {mark}" for col in (c.hub, c.member_id, c.server_name, c.started)
    )
    return f"UPDATE {q(t.server_sessions.name)} SET {q(c.ended.name)} = {mark} WHERE {keys}"


def _by_server(rows: Sequence[Any]) -> Iterator[list]:
    """Rows ordered by (hub, member, server, started), a list per server."""
    current: list = []
    for row in rows:
        if current and tuple(row[:3]) != tuple(current[0][:3]):
            yield current
            current = []
        current.append(row)
    if current:
        yield current


def follow_member_communities(
    conn: Connection, members: Iterable[tuple[str, str]] | None = None, hub: str | None = None
) -> int:
    """Give the ``member_steps`` rows of ``members`` ((hub, member id) pairs; every member of
    ``hub`` when None) their member's community (``members.community``: the community of
    their latest event). A step row is written with the community of the event that reached
    it; after this, counts of steps per community (the metrics) agree with counts of
    members, read from the (community, step) index alone. Returns the rows changed.

    On the ingest path for every batch: plain SQL, one statement per member, by its key."""
    if members is None:
        return conn.exec_driver_sql(_follow_sql(conn.dialect, False), (hub,)).rowcount
    params = list(members)
    if not params:
        return 0
    return conn.exec_driver_sql(_follow_sql(conn.dialect, True), params).rowcount


_FOLLOW_SQL: dict[tuple[str, bool], str] = {}


def _follow_sql(dialect, per_member: bool) -> str:
    key = (dialect.name, per_member)
    sql = _FOLLOW_SQL.get(key)
    if sql is None:
        q = dialect.identifier_preparer.quote
        mark = placeholder(dialect)
        steps, members = q(t.member_steps.name), q(t.members.name)
        hub, member, community = (q(c) for c in ("hub", "member_id", "community"))
        sql = (
            f"UPDATE {steps} SET {community} = m.{community} FROM {members} m "
            f"WHERE m.{hub} = {steps}.{hub} AND m.{member} = {steps}.{member} "
            f"AND {steps}.{community} <> m.{community} AND {steps}.{hub} = {mark}"
        )
        if per_member:
            sql += f" AND {steps}.{member} = {mark}"
        _FOLLOW_SQL[key] = sql
    return sql


def _chunks(
    conn_factory, hub: str, size: int, since: datetime | None = None
) -> Iterator[list[tuple]]:
    """The hub's events as ``apply_rows`` tuples, ``size`` at a time, so memory stays flat
    (the projections do not depend on the order). Read with the driver's cursor: plain
    tuples, only the columns the projections use, and the payload's JSON text parsed by
    orjson. From ``since`` on, when given (a rebuild after a retention purge).

    PostgreSQL streams one scan of the table through a server-side cursor, in the order
    the rows lie on disk; SQLite pages through the key (member, id), each page a short read
    of its own."""
    with conn_factory() as conn:
        dialect = conn.dialect
    to_driver = bind_processor(t.events.c.time, dialect) or (lambda value: value)
    from_time = (to_driver(since),) if since is not None else ()
    to_time = result_processor(t.events.c.time, dialect) or (lambda value: value)

    def as_rows(rows: list[tuple]) -> list[tuple]:
        return [
            (hub, member_id, community, schema, to_time(time), _loads(payload))
            for _, member_id, community, schema, time, payload in rows
        ]

    if dialect.name == "postgresql":
        with conn_factory() as conn:
            cursor = conn.connection.cursor(name="catalyst_rebuild")
            try:
                cursor.execute(_chunk_sql(dialect, None, False, bool(from_time)), (hub, *from_time))
                while rows := cursor.fetchmany(size):
                    yield as_rows(rows)
            finally:
                cursor.close()
        return
    after: tuple = ()
    while True:
        with conn_factory() as conn:
            sql = _chunk_sql(dialect, size, keyset=bool(after), since=bool(from_time))
            cursor = conn.connection.cursor()
            try:
                cursor.execute(sql, (hub, *after, *from_time))
                rows = cursor.fetchall()
            finally:
                cursor.close()
        if not rows:
            return
        yield as_rows(rows)
        after = (rows[-1][1], rows[-1][0])


def _chunk_sql(dialect, size: int | None, keyset: bool, since: bool) -> str:
    """The events query of ``_chunks``: a page of ``size`` in key order, or (no size) the
    whole scan."""
    q = dialect.identifier_preparer.quote
    mark = placeholder(dialect)
    e = t.events
    member, event_id = q(e.c.member_id.name), q(e.c.id.name)
    where = f"{q(e.c.hub.name)} = {mark}"
    if keyset:
        where += f" AND ({member}, {event_id}) > ({mark}, {mark})"
    if since:
        where += f" AND {q(e.c.time.name)} >= {mark}"
    columns = ", ".join(q(c.name) for c in (e.c.id, e.c.member_id, e.c.community, e.c.schema))
    sql = (
        f"SELECT {columns}, {q(e.c.time.name)}, CAST({q(e.c.payload.name)} AS TEXT) "
        f"FROM {q(e.name)} WHERE {where}"
    )
    if size is None:
        return sql
    return f"{sql} ORDER BY {member}, {event_id} LIMIT {int(size)}"


_ACTIVATION_SQL: dict[tuple[str, int | None], str] = {}


def _activation_sql(dialect, members: int | None) -> str:
    """(member_id, community, activated, step, reached) of one hub's members, a row per step
    (one with no step for a member without any), of ``members`` given ids (None: all)."""
    key = (dialect.name, members)
    sql = _ACTIVATION_SQL.get(key)
    if sql is None:
        q = dialect.identifier_preparer.quote
        mark = placeholder(dialect)
        m, s = t.members, t.member_steps
        where = f"m.{q(m.c.hub.name)} = {mark}"
        if members is not None:
            where += f" AND m.{q(m.c.member_id.name)} IN ({', '.join([mark] * members)})"
        sql = _ACTIVATION_SQL[key] = (
            f"SELECT m.{q(m.c.member_id.name)}, m.{q(m.c.community.name)}, "
            f"m.{q(m.c.activated.name)}, s.{q(s.c.step.name)}, s.{q(s.c.reached.name)} "
            f"FROM {q(m.name)} m LEFT JOIN {q(s.name)} s "
            f"ON s.{q(s.c.hub.name)} = m.{q(m.c.hub.name)} "
            f"AND s.{q(s.c.member_id.name)} = m.{q(m.c.member_id.name)} WHERE {where}"
        )
    return sql


def _activation_update_sql(dialect) -> str:
    q = dialect.identifier_preparer.quote
    mark = placeholder(dialect)
    m = t.members
    return (
        f"UPDATE {q(m.name)} SET {q(m.c.activated.name)} = {mark} "
        f"WHERE {q(m.c.hub.name)} = {mark} AND {q(m.c.member_id.name)} = {mark}"
    )


def _loads(text):
    if not isinstance(text, (str, bytes)):
        return text  # a driver that parsed JSON itself
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what the stdlib accepts and orjson does not (NaN...)
        return json.loads(text)


# -- rebuild after a retention purge -------------------------------------------------------------


def retention_horizon(conn: Connection, hub: str) -> datetime | None:
    """The hub's retention horizon: raw events before it were purged (None: never purged)."""
    r = t.retention_horizons.c
    return conn.execute(select(r.horizon).where(r.hub == hub)).scalar()


def _from_horizon(table: Table, horizon: datetime | None, zone: ZoneInfo = UTC) -> tuple:
    """The rows of ``table`` a rebuild recomputes: all without a horizon, else those whose
    earliest contributing event time (``tables.HORIZON_COLUMNS``) is at or after it.

    Why that gives the tables as they were: a row's column is the minimum of its events'
    times, so a row from the horizon on depends on kept events only, and every event before
    the horizon (purged, or a consent decision or a late arrival still in the log) went into
    a row before it, which is kept and not replayed into. Events from the horizon on are
    replayed into kept rows too; those merges are idempotent (earliest, latest, by time),
    except the daily sums, and a daily total before the horizon (a midnight) gets no event
    from the horizon on. (A purge's horizon is a midnight of the hub's time zone, whose day
    in ``zone`` is the first day replayed; see ``store.privacy.purge_horizon``.)
    """
    if horizon is None:
        return ()
    column = t.HORIZON_COLUMNS.get(table.name)
    if column is None:
        raise RuntimeError(
            f"projection {table.name} has no horizon column (tables.HORIZON_COLUMNS)"
        )
    return (column >= (local_day(horizon, zone) if isinstance(column.type, Date) else horizon),)


def _day_function(zone: ZoneInfo) -> Callable[[datetime], date]:
    """The day in ``zone`` of a naive UTC time, as a function for one batch: it remembers
    the bounds (in UTC) of the last day it found, as most events of a batch fall in a few
    days, so most events cost two comparisons rather than a time zone conversion."""
    if zone is UTC:
        return datetime.date
    last: list = [datetime.max, datetime.min, None]  # [start, end, day]: none yet

    def day_of(time: datetime) -> date:
        if last[0] <= time < last[1]:
            return last[2]
        day = local_day(time, zone)
        last[:] = [day_start(day, zone), day_start(day + timedelta(days=1), zone), day]
        return day

    return day_of


def _parse_time(value: str | datetime | None) -> datetime | None:
    return parse_time(value) if value is not None else None


def checklists_json(catalog: Catalog) -> str:
    """The catalog's checklists as activation depends on them: the default one, and each
    community whose checklist differs from it (step ids sorted: their order does not count)."""
    default = sorted({s.id for s in catalog.steps})
    communities = {}
    for community in sorted(catalog.communities):
        steps = sorted({s.id for s in catalog.steps_for(community)})
        if steps != default:
            communities[community] = steps
    return json.dumps({"default": default, "communities": communities}, sort_keys=True)
