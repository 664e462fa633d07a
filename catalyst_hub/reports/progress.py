"""A researcher's own progress: their community's checklist and their training."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..catalog import localized
from ..store import Store
from ..store import tables as t
from ..timeutil import isoformat


def member_progress(store: Store, member_id: str, community: str, language: str) -> dict[str, Any]:
    """Everything the "Getting started" panel and the ``me`` page show, in ``language``.

    Shape (also the server extension's local API and the labextension's input)::

        {"community", "language",
         "consent": {"decision": given|withdrawn|null, "version"},
         "steps": [{"id", "title", "help", "help_url", "self_report", "state": done|next|todo, "reached"}],
         "steps_done", "steps_total",
         "training": {"earned", "possible", "percent", "programs": [{"id", "title", "earned", "possible",
             "percent", "lessons": [{"id", "title", "earned", "possible", "percent", "episodes": [
                 {"id", "title", "self_report", "exercises_total", "exercises_done", "state": done|started|todo,
                  "completed", "source"}]}]}]}}
    """
    with store.connect() as conn:
        reached = dict(
            conn.execute(
                select(t.member_steps.c.step, t.member_steps.c.reached).where(
                    t.member_steps.c.hub == store.hub, t.member_steps.c.member_id == member_id
                )
            ).all()
        )
        progress = {
            (row.lesson, row.episode): row
            for row in conn.execute(
                select(t.training_progress).where(
                    t.training_progress.c.hub == store.hub,
                    t.training_progress.c.member_id == member_id,
                )
            )
        }
        member = conn.execute(
            select(t.members.c.consent, t.members.c.consent_version).where(
                t.members.c.hub == store.hub, t.members.c.member_id == member_id
            )
        ).first()

    steps = []
    next_given = False
    for step in store.catalog.steps_for(community):
        when = reached.get(step.id)
        if when is not None:
            state = "done"
        elif not next_given:
            state, next_given = "next", True
        else:
            state = "todo"
        steps.append(
            {
                "id": step.id,
                "title": localized(step.title, language),
                "help": localized(step.help, language),
                "help_url": step.help_url,
                "self_report": step.self_report,
                "state": state,
                "reached": isoformat(when),
            }
        )

    programs = []
    for program in store.catalog.programs:
        lessons = []
        for lesson in program.lessons:
            episodes = []
            for episode in lesson.episodes:
                row = progress.get((lesson.id, episode.id))
                done = row is not None and row.completed is not None
                episodes.append(
                    {
                        "id": episode.id,
                        "title": localized(episode.title, language),
                        "self_report": episode.self_report,
                        "exercises_total": len(episode.exercises),
                        "exercises_done": min(row.exercises_done, len(episode.exercises))
                        if row
                        else 0,
                        "state": "done" if done else ("started" if row is not None else "todo"),
                        "completed": isoformat(row.completed) if row is not None and done else None,
                        "source": row.source if row is not None and done else None,
                    }
                )
            lessons.append(
                _scored(
                    {"id": lesson.id, "title": localized(lesson.title, language)},
                    episodes,
                    "episodes",
                )
            )
        programs.append(
            _scored(
                {"id": program.id, "title": localized(program.title, language)}, lessons, "lessons"
            )
        )

    earned = sum(p["earned"] for p in programs)
    possible = sum(p["possible"] for p in programs)
    return {
        "community": community,
        "language": language,
        "consent": {
            "decision": member.consent if member else None,
            "version": member.consent_version if member else None,
        },
        "steps": steps,
        "steps_done": sum(1 for s in steps if s["state"] == "done"),
        "steps_total": len(steps),
        "training": {
            "earned": earned,
            "possible": possible,
            "percent": _percent(earned, possible),
            "programs": programs,
        },
    }


def _scored(item: dict, children: list[dict], key: str) -> dict:
    if key == "episodes":
        earned = sum(1 for c in children if c["state"] == "done")
        possible = len(children)
    else:
        earned = sum(c["earned"] for c in children)
        possible = sum(c["possible"] for c in children)
    return {
        **item,
        "earned": earned,
        "possible": possible,
        "percent": _percent(earned, possible),
        key: children,
    }


def _percent(earned: int, possible: int) -> int:
    return round(100 * earned / possible) if possible else 0
