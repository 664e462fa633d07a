"""Records nobody can forge: every schema (and every ``source`` value) against every kind of
sender, on SQLite and PostgreSQL.

A member's own tokens (an API token, their server's token) reach the service over HTTP; the
collector and a lead's sign-off are the service's own paths (``ingest_trusted`` with their
kind). Whatever is refused answers 403 (the whole batch), says which rule refused it, and
stores nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from catalyst_hub.events import COLLECTOR, LEAD, MEMBER
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.reports.cohorts import get_cohort
from catalyst_hub.reports.training import completion_matrix
from catalyst_hub.store import tables as t
from catalyst_hub.timeutil import isoformat, utcnow

ALICE = "alice@example.org"
LEAD_USER = "lead@andes.example.org"

EPISODE = {"lesson": "hub-basics", "episode": "persistence"}


@dataclass(frozen=True)
class Case:
    name: str
    schema: str
    payload: dict
    senders: frozenset  # the kinds that may send it


@pytest.fixture
def catalyst_config():
    # what a sender may assert and the bounds hold whatever the member decided: recording
    # on without a decision, so each test's rows are only what it sends
    return {"CatalystService": {"consent_mode": "opt-out"}}


def started_payload() -> dict:
    return {"server_name": "", "started": isoformat(utcnow() - timedelta(hours=1))}


# fmt: off
CASES = [
    Case("action", "action", {"action": "cell_executed"}, frozenset({MEMBER, COLLECTOR})),
    Case("action logged_in", "action", {"action": "logged_in"}, frozenset({MEMBER, COLLECTOR})),
    Case("activity kernel", "activity", {"kind": "kernel", "count": 3, "seconds": 60},
         frozenset({MEMBER})),
    Case("activity ui", "activity", {"kind": "ui", "count": 1}, frozenset({MEMBER})),
    Case("activity server", "activity", {"kind": "server", "count": 1}, frozenset({COLLECTOR})),
    Case("consent", "consent", {"decision": "given", "notice_version": "1"},
         frozenset({MEMBER})),
    Case("episode (default source)", "episode_completed", EPISODE, frozenset({MEMBER})),
    Case("episode self", "episode_completed", {**EPISODE, "source": "self"},
         frozenset({MEMBER})),
    Case("episode exercises", "episode_completed", {**EPISODE, "source": "exercises"},
         frozenset({MEMBER})),
    Case("episode lead", "episode_completed",
         {**EPISODE, "source": "lead", "signed_off_by": "made-up-lead"}, frozenset({LEAD})),
    Case("episode lead, no signer", "episode_completed", {**EPISODE, "source": "lead"},
         frozenset({LEAD})),
    Case("episode self, signed off", "episode_completed",
         {**EPISODE, "source": "self", "signed_off_by": "made-up-lead"}, frozenset()),
    Case("exercise", "exercise_completed",
         {"lesson": "hub-basics", "episode": "first-notebook", "exercise": "hello"},
         frozenset({MEMBER})),
    Case("server_started", "server_started", started_payload(), frozenset({COLLECTOR})),
    Case("server_stopped", "server_stopped", {**started_payload(), "last_activity": None},
         frozenset({COLLECTOR})),
    Case("step (default source)", "step_reached", {"step": "use_git"}, frozenset({MEMBER})),
    Case("step self", "step_reached", {"step": "use_git", "source": "self"},
         frozenset({MEMBER})),
    Case("step detector", "step_reached", {"step": "use_git", "source": "detector"},
         frozenset({MEMBER})),
    Case("step lead", "step_reached", {"step": "use_git", "source": "lead"}, frozenset({LEAD})),
]
# fmt: on

#: sender: its kind; the first two reach the service over HTTP
SENDERS = {"api token": MEMBER, "server token": MEMBER, "collector": COLLECTOR, "lead": LEAD}


@pytest.fixture
def catalyst_hub_roles():
    return [{"name": "lead-andes", "scopes": ["custom:catalyst:training!group=community-andes"]}]


def stored_ids(store, member_id: str) -> set[str]:
    e = t.events.c
    with store.connect() as conn:
        return set(
            conn.execute(select(e.id).where(e.hub == store.hub, e.member_id == member_id)).scalars()
        )


async def test_forgery_matrix(catalyst_service, make_event):
    svc = catalyst_service
    store = svc.store
    user = svc.user(ALICE, groups=["community-andes"])
    tokens = {
        "api token": user.new_api_token(),
        # what JupyterHub gives a server (Spawner.server_token_scopes of jupyter_config)
        "server token": user.new_api_token(
            note="Server at /user/alice/",
            scopes=[
                f"users:activity!user={ALICE}",
                f"access:servers!server={ALICE}/",
                "access:services!service=catalyst",
            ],
        ),
    }
    member_id = store.member_id(ALICE)
    ingestor = Ingestor(store)
    mismatches = []
    for case in CASES:
        for sender, kind in SENDERS.items():
            event = make_event(case.schema, dict(case.payload))
            allowed = kind in case.senders
            if sender in tokens:
                r = await svc.request("post", "api/events", tokens[sender], json=[event])
                status = r.status_code
                result = r.json()["results"][0]
                expected = 200 if allowed else 403
            else:
                ok, results = ingestor.ingest([event], Sender(member_id, "andes", kind))
                result = results[0].to_json()
                status, expected = (200 if ok else 403), (200 if allowed else 403)
            stored = event["id"] in stored_ids(store, member_id)
            got = (status, result["status"], stored)
            want = (expected, "stored" if allowed else "refused", allowed)
            if got != want:
                mismatches.append(f"{case.name} from {sender}: got {got}, expected {want}")
            elif not allowed and not re.search(
                rf"not accepted from a {kind}: only from .* \(x-(value-)?senders", result["message"]
            ):
                # the message names the rule
                mismatches.append(f"{case.name} from {sender}: {result['message']!r}")
    assert not mismatches, "\n".join(mismatches)


async def test_a_refused_event_refuses_the_whole_batch(catalyst_service, make_event):
    svc = catalyst_service
    token = svc.token(ALICE, groups=["community-andes"], consent=None)
    honest = make_event("action", {"action": "cell_executed"})
    forged = make_event("server_started", {"server_name": "", "started": "2025-01-01T00:00:00Z"})
    r = await svc.request("post", "api/events", token, json={"events": [honest, forged]})
    assert r.status_code == 403
    body = r.json()
    assert body["status"] == 403 and body["refused"] == 1 and body["stored"] == 0
    assert "may not be sent with a member's token" in body["message"]
    assert [x["status"] for x in body["results"]] == ["rejected", "refused"]
    assert "only from the collector (x-senders)" in body["results"][1]["message"]
    assert stored_ids(svc.store, svc.store.member_id(ALICE)) == set()
    with svc.store.connect() as conn:
        for table in (t.server_sessions, t.members):
            assert conn.execute(select(table).where(table.c.hub == svc.store.hub)).all() == []


async def test_a_sign_off_is_never_replaced_by_the_learners_events(catalyst_service, make_event):
    """A lead signs off through the sign-off endpoint; the learner's own later or backdated
    completions (self-reported, or by exercises) never replace it, live or after a rebuild."""
    svc = catalyst_service
    store = svc.store
    lead = svc.token(LEAD_USER, groups=["community-andes"], roles=["lead-andes"])
    learner = svc.token(ALICE, groups=["community-andes"], consent=None)
    # the learner is known to the service before being added to a cohort
    r = await svc.request(
        "post", "api/events", learner, json=[make_event("action", {"action": "logged_in"})]
    )
    assert r.status_code == 200, r.text
    cohort_id = await svc.create_cohort(lead)
    r = await svc.request(
        "post", f"training/cohorts/{cohort_id}/learners", lead, json={"usernames": [ALICE]}
    )
    assert r.status_code == 200, r.text
    learner_id = store.member_id(ALICE)
    r = await svc.request(
        "post",
        f"training/cohorts/{cohort_id}/signoff",
        lead,
        json={"learner": learner_id, **EPISODE},
    )
    assert r.status_code == 200, r.text

    def cell() -> tuple:
        tp = t.training_progress.c
        with store.connect() as conn:
            return conn.execute(
                select(tp.source, tp.signed_off_by).where(
                    tp.hub == store.hub, tp.member_id == learner_id, tp.episode == "persistence"
                )
            ).one()

    signed = (LEAD, store.member_id(LEAD_USER))
    assert tuple(cell()) == signed
    now = utcnow()
    for when in (now - timedelta(days=30), now - timedelta(seconds=1), now):
        for source in ("self", "exercises"):
            event = make_event("episode_completed", {**EPISODE, "source": source}, time=when)
            r = await svc.request("post", "api/events", learner, json=[event])
            assert r.status_code == 200, r.text
            assert tuple(cell()) == signed, (when, source)
    cohort = get_cohort(store, int(cohort_id))
    matrix = completion_matrix(store, cohort)
    [row] = matrix.learners
    persistence = row.cells[[c.episode for c in matrix.columns].index("persistence")]
    assert (persistence.state, persistence.source) == ("done", LEAD)
    store.rebuild()
    assert tuple(cell()) == signed
