"""Training: cohorts, the completion matrix, adding learners and sign-off."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from tornado import web

from ...catalog import localized
from ...i18n import LANGUAGE_NAMES
from ...reports.badges import badges_per_community, learner_badges
from ...reports.cohorts import (
    Cohort,
    CohortError,
    CohortFields,
    get_cohort,
    list_cohorts,
    parse_fields,
)
from ...reports.common import known_communities, whole_number
from ...reports.export import matrix_table
from ...reports.people import Access, usernames
from ...reports.training import completion_matrix
from ...workflows.badges import award_badges
from ...workflows.training import (
    LearnersError,
    SignOffError,
    create_cohort,
    edit_learners,
    sign_off,
    update_cohort,
)
from .. import scopes
from ..base import APIHandler, check_json_limits
from .base import FORMAT_SUFFIX, ReportHandler

MAX_LEARNERS_PER_REQUEST = 500
#: Fields of a training form or JSON body that hold several values.
LIST_FIELDS = ("lessons", "usernames", "remove")


class TrainingHandler(ReportHandler):
    def training_scope(self) -> scopes.Communities:
        allowed = self.allowed(scopes.TRAINING)
        if not allowed:
            raise web.HTTPError(403, self._("This needs the scope {scope}", scope=scopes.TRAINING))
        return allowed

    async def visible_cohort(self, cohort_id: str) -> Cohort:
        """The cohort, if it is in a community this token leads; else 404 (nothing of
        another community is revealed, not even that the cohort exists)."""
        allowed = self.training_scope()
        number = whole_number(cohort_id)
        # beyond the id column's range (a 32-bit integer in PostgreSQL) there is no cohort
        cohort = (
            await self.run_db(get_cohort, self.store, number)
            if number is not None and number < 2**31
            else None
        )
        if cohort is None or not (allowed is scopes.ALL or cohort.community in allowed):
            raise web.HTTPError(404, self._("No such cohort."))
        return cohort

    def body(self) -> dict[str, Any]:
        """Form fields or a JSON object, as {name: str or list of str}."""
        if self.request.headers.get("Content-Type", "").startswith("application/json"):
            try:
                data = orjson.loads(self.request.body or b"{}")
            except orjson.JSONDecodeError:
                raise web.HTTPError(400, self._("Request body is not valid JSON.")) from None
            check_json_limits(self, data)
            if not isinstance(data, dict):
                raise web.HTTPError(400, self._("Request body must be a JSON object."))
        else:
            data = {
                key: [v.decode("utf-8", "replace") for v in values]
                if key in LIST_FIELDS
                else values[-1].decode("utf-8", "replace")
                for key, values in self.request.body_arguments.items()
            }
        for key, value in data.items():
            values = value if key in LIST_FIELDS and isinstance(value, list) else [value]
            # text only (or a list of texts), and no NUL, which no database text column holds
            if not all(v is None or (isinstance(v, str) and "\x00" not in v) for v in values):
                raise web.HTTPError(400, self._("{field} must be text.", field=key[:40]))
        return data

    def cohort_fields(self, body: dict[str, Any]) -> CohortFields:
        """A cohort's fields from a form or JSON body; 400 saying which one is wrong."""
        try:
            return parse_fields(
                self.store,
                body.get("name"),
                body.get("language"),
                body.get("starts") or None,
                body.get("ends") or None,
                _as_list(body.get("lessons")),
            )
        except CohortError as e:
            raise web.HTTPError(400, str(e)) from None

    @property
    def wants_json(self) -> bool:
        return self.fmt == "json" or self.request.headers.get("Content-Type", "").startswith(
            "application/json"
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if self.wants_json:
            return APIHandler.write_error(self, status_code, **kwargs)
        return super().write_error(status_code, **kwargs)

    def done(
        self,
        cohort_id: int,
        status: str,
        data: dict[str, Any] | None = None,
        http_status: int = 200,
    ) -> None:
        if self.wants_json:
            return self.write_json(
                {"status": status, "cohort": cohort_id, **(data or {})}, status=http_status
            )
        target = f"{self.catalyst.service_prefix}training/cohorts/{cohort_id}?" + urlencode(
            {"status": status}
        )
        self.redirect(target, status=303)

    def badge_names(self) -> dict[str, str]:
        """{badge key (lesson id, or a training path's key): its name} in the reader's
        language."""
        return {
            key: localized(award.badge.name, self.language)
            for key, award in self.store.catalog.badges().items()
        }

    def badge_paths(self) -> dict[str, str]:
        """{key: program id} of the training paths' badges (labelled as paths)."""
        return {
            key: award.catalog_id
            for key, award in self.store.catalog.badges().items()
            if award.is_path
        }


class TrainingPage(TrainingHandler):
    """``training/``: the cohorts of the communities led; POST creates one."""

    @web.authenticated
    async def get(self, suffix: str | None = None) -> None:
        allowed = self.training_scope()
        store = self.store
        cohorts = await self.run_db(list_cohorts, store, None if allowed is scopes.ALL else allowed)
        communities = (
            await self.run_db(known_communities, store)
            if allowed is scopes.ALL
            else sorted(allowed)
        )
        badge_counts = await self.run_db(
            badges_per_community, store, None if allowed is scopes.ALL else allowed
        )
        if self.fmt == "json":
            return self.write_json(
                {
                    "cohorts": [c.to_json() for c in cohorts],
                    "badges": [vars(b) for b in badge_counts],
                }
            )
        self.page(
            "reports/training.html",
            cohorts=cohorts,
            badge_counts=badge_counts,
            badge_names=self.badge_names(),
            communities=communities,
            lessons=self.lesson_choices(),
            error=None,
        )

    def lesson_choices(self) -> list[tuple[str, str]]:
        return [
            (
                lesson.id,
                f"{localized(program.title, self.language)}: {localized(lesson.title, self.language)}",
            )
            for program in self.store.catalog.programs
            for lesson in program.lessons
        ]

    @web.authenticated
    async def post(self, suffix: str | None = None) -> None:
        actor = self.require_actor()
        allowed = self.training_scope()
        body = self.body()
        community = str(body.get("community") or "")
        if not (allowed is scopes.ALL or community in allowed):
            raise web.HTTPError(403, self._("You do not lead training in this community."))
        fields = self.cohort_fields(body)
        cohort_id = await self.run_db(create_cohort, self.store, community, fields, actor.member_id)
        self.done(cohort_id, "created", http_status=201)


class CohortPage(TrainingHandler):
    """``training/cohorts/<id>``: the completion matrix (GET, with usernames); POST edits."""

    @web.authenticated
    async def get(self, cohort_id: str, suffix: str | None = None) -> None:
        actor = self.require_actor()
        cohort = await self.visible_cohort(cohort_id)
        store = self.store
        matrix = await self.run_db(completion_matrix, store, cohort, self.language)
        action = "view_cohort" if self.fmt == "html" else f"export_cohort_{self.fmt}"
        names = await self.run_db(
            usernames,
            store,
            cohort.members,
            Access(actor.member_id, action, cohort.community, f"cohort {cohort.id}"),
        )
        table = matrix_table(matrix, names, self._)
        if self.export([table], matrix.to_json(names), f"cohort-{cohort.id}"):
            return
        status = self.get_query_argument("status", "")
        self.page(
            "reports/cohort.html",
            cohort=cohort,
            matrix=matrix,
            # who earned and claimed the badges of the cohort's lessons and of their paths
            badge_keys=store.catalog.badges_for_lessons(cohort.lessons),
            badge_names=self.badge_names(),
            badge_paths=self.badge_paths(),
            badges=await self.run_db(learner_badges, store, cohort.members),
            names=names,
            learners=sorted(
                matrix.learners, key=lambda r: names.get(r.member_id, r.member_id).lower()
            ),
            table=table,
            lessons=TrainingPage.lesson_choices(self),
            status=status
            if status in ("created", "saved", "added", "removed", "signed-off")
            else "",
            languages_named=[(code, name) for code, name in LANGUAGE_NAMES.items()],
        )

    @web.authenticated
    async def post(self, cohort_id: str, suffix: str | None = None) -> None:
        self.require_actor()
        cohort = await self.visible_cohort(cohort_id)
        body = self.body()
        fields = self.cohort_fields(body)
        await self.run_db(update_cohort, self.store, cohort.id, fields)
        self.done(cohort.id, "saved")


class CohortLearners(TrainingHandler):
    """``POST training/cohorts/<id>/learners``: add (``usernames``) or remove (``remove``:
    member ids) learners. Only members of the cohort's community can be added."""

    @web.authenticated
    async def post(self, cohort_id: str) -> None:
        actor = self.require_actor()
        cohort = await self.visible_cohort(cohort_id)
        body = self.body()
        names = [
            n.strip()
            for raw in _as_list(body.get("usernames"))
            for n in raw.replace(",", "\n").splitlines()
            if n.strip()
        ]
        remove = [m for m in _as_list(body.get("remove")) if m]
        if len(names) + len(remove) > MAX_LEARNERS_PER_REQUEST:
            raise web.HTTPError(
                400, self._("At most {n} learners per request.", n=MAX_LEARNERS_PER_REQUEST)
            )
        try:
            change = await self.run_db(
                edit_learners, self.store, cohort, names, remove, actor.member_id
            )
        except LearnersError as e:
            if e.unknown_names:
                raise web.HTTPError(
                    400,
                    self._(
                        "Not added: no member of {community} is called {names}.",
                        community=cohort.community,
                        names=", ".join(e.unknown_names),
                    ),
                ) from None
            raise web.HTTPError(
                400, self._("Not removed: learners are removed by their member id.")
            ) from None
        self.done(
            cohort.id,
            "added" if change.added else "removed",
            {"added": change.added, "removed": change.removed},
        )


class CohortSignOff(TrainingHandler):
    """``POST training/cohorts/<id>/signoff``: the lead signs off an episode for a learner
    (``learner`` member id, ``lesson``, ``episode``), as an ``episode_completed`` event."""

    @web.authenticated
    async def post(self, cohort_id: str) -> None:
        actor = self.require_actor()
        cohort = await self.visible_cohort(cohort_id)
        body = self.body()
        learner, lesson, episode = (
            str(body.get(k) or "") for k in ("learner", "lesson", "episode")
        )
        try:
            await self.run_db(
                sign_off, self.store, cohort, learner, lesson, episode, actor.member_id
            )
        except SignOffError as e:
            raise web.HTTPError(400, self._(str(e))) from None
        issuer = self.catalyst.open_badges_issuer()
        if issuer is not None:
            # the last sign-off a badge needs issues it now, for the cohort's page to show
            await self.run_db(
                award_badges,
                self.store,
                issuer,
                learner,
                cohort.community,
                cohort.language,
            )
        self.done(cohort.id, "signed-off")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


default_handlers = [
    (rf"training/?{FORMAT_SUFFIX}", TrainingPage),
    (rf"training/cohorts/(?P<cohort_id>\d+){FORMAT_SUFFIX}", CohortPage),
    (r"training/cohorts/(?P<cohort_id>\d+)/learners", CohortLearners),
    (r"training/cohorts/(?P<cohort_id>\d+)/signoff", CohortSignOff),
]
