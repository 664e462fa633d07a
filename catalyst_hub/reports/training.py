"""Training completion: a cohort's learner x episode matrix, community summaries.

Sign-off is written by ``catalyst_hub.workflows.training``. Definitions (printed on the
page):

- An episode is **done** for a learner once it is completed, whichever way: all its
  exercises ran, the learner reported it, or a lead signed it off. **Started**: some activity
  but not done.
- **Earned** counts done episodes; **possible** counts episodes of the cohort's lessons (times
  learners, for a lesson or the cohort); **percent** is earned out of possible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select

from ..catalog import localized
from ..store import Store
from ..store import tables as t
from ..timeutil import isoformat
from .cohorts import Cohort
from .common import in_communities, not_excluded, percent


@dataclass(frozen=True)
class EpisodeColumn:
    lesson: str
    lesson_title: str
    episode: str
    title: str


@dataclass
class Cell:
    state: str  # done | started | todo
    source: str | None = None
    completed: datetime | None = None


@dataclass
class Score:
    earned: int = 0
    possible: int = 0

    @property
    def percent(self) -> float | None:
        return percent(self.earned, self.possible)

    def to_json(self) -> dict[str, Any]:
        return {"earned": self.earned, "possible": self.possible, "percent": self.percent}


@dataclass
class LearnerRow:
    member_id: str
    cells: list[Cell]
    lessons: dict[str, Score]
    total: Score


@dataclass
class Matrix:
    cohort: Cohort
    columns: list[EpisodeColumn]
    learners: list[LearnerRow]
    lessons: dict[str, Score] = field(default_factory=dict)
    episodes_done: list[int] = field(default_factory=list)
    total: Score = field(default_factory=Score)

    def lesson_titles(self) -> list[tuple[str, str, int]]:
        """(lesson id, title, number of episodes), for a header row spanning columns."""
        out: list[tuple[str, str, int]] = []
        for col in self.columns:
            if out and out[-1][0] == col.lesson:
                out[-1] = (col.lesson, col.lesson_title, out[-1][2] + 1)
            else:
                out.append((col.lesson, col.lesson_title, 1))
        return out

    def to_json(self, names: dict[str, str]) -> dict[str, Any]:
        return {
            "cohort": self.cohort.to_json(),
            "episodes": [c.__dict__ for c in self.columns],
            "lessons": {k: v.to_json() for k, v in self.lessons.items()},
            "total": self.total.to_json(),
            "learners": [
                {
                    "member_id": row.member_id,
                    "username": names.get(row.member_id),
                    "episodes": [
                        {
                            "lesson": col.lesson,
                            "episode": col.episode,
                            "state": cell.state,
                            "source": cell.source,
                            "completed": isoformat(cell.completed),
                        }
                        for col, cell in zip(self.columns, row.cells, strict=True)
                    ],
                    "lessons": {k: v.to_json() for k, v in row.lessons.items()},
                    "total": row.total.to_json(),
                }
                for row in self.learners
            ],
        }


def cohort_columns(store: Store, cohort: Cohort, language: str) -> list[EpisodeColumn]:
    lessons = {
        lesson.id: lesson for program in store.catalog.programs for lesson in program.lessons
    }
    return [
        EpisodeColumn(
            lesson_id,
            localized(lessons[lesson_id].title, language),
            ep.id,
            localized(ep.title, language),
        )
        for lesson_id in cohort.lessons
        if lesson_id in lessons
        for ep in lessons[lesson_id].episodes
    ]


def completion_matrix(store: Store, cohort: Cohort, language: str = "en") -> Matrix:
    """Learner x episode completion of ``cohort`` (learners by member id)."""
    columns = cohort_columns(store, cohort, language)
    tp, cm = t.training_progress.c, t.cohort_members.c
    progress: dict[tuple[str, str, str], Cell] = {}
    if columns and cohort.members:
        with store.connect() as conn:
            rows = conn.execute(
                select(tp.member_id, tp.lesson, tp.episode, tp.completed, tp.source)
                .select_from(
                    t.training_progress.join(
                        t.cohort_members, and_(cm.hub == tp.hub, cm.member_id == tp.member_id)
                    )
                )
                .where(
                    tp.hub == store.hub,
                    cm.cohort_id == cohort.id,
                    tp.lesson.in_(sorted({c.lesson for c in columns})),
                )
            ).all()
        for member_id, lesson, episode, completed, source in rows:
            state = "done" if completed is not None else "started"
            progress[(member_id, lesson, episode)] = Cell(
                state, source if completed else None, completed
            )

    matrix = Matrix(cohort, columns, [], episodes_done=[0] * len(columns))
    for member_id in cohort.members:
        cells = [progress.get((member_id, c.lesson, c.episode), Cell("todo")) for c in columns]
        per_lesson: dict[str, Score] = {}
        for i, (col, cell) in enumerate(zip(columns, cells, strict=True)):
            done = cell.state == "done"
            for scores in (per_lesson, matrix.lessons):
                score = scores.setdefault(col.lesson, Score())
                score.possible += 1
                score.earned += done
            matrix.episodes_done[i] += done
        total = Score(
            sum(s.earned for s in per_lesson.values()), sum(s.possible for s in per_lesson.values())
        )
        matrix.total.earned += total.earned
        matrix.total.possible += total.possible
        matrix.learners.append(LearnerRow(member_id, cells, per_lesson, total))
    return matrix


@dataclass
class CommunityTraining:
    community: str
    learners: int
    episodes_started: int
    episodes_completed: int

    @property
    def percent(self) -> float | None:
        return percent(self.episodes_completed, self.episodes_started)


def training_by_community(
    store: Store, communities: list[str] | None = None
) -> dict[str, CommunityTraining]:
    """Per community: learners (members with any training progress), episodes they started,
    and episodes completed. One grouped query."""
    tp = t.training_progress.c
    with store.connect() as conn:
        rows = conn.execute(
            select(
                tp.community,
                func.count(func.distinct(tp.member_id)),
                func.count(),
                func.sum(case((tp.completed.is_not(None), 1), else_=0)),
            )
            .where(
                tp.hub == store.hub,
                in_communities(tp.community, communities),
                not_excluded(store, tp.member_id),
            )
            .group_by(tp.community)
        ).all()
    return {
        c: CommunityTraining(c, int(n), int(started), int(done or 0))
        for c, n, started, done in rows
    }
