"""Cohorts, the completion matrix, sign-off and the audited username lookup."""

import pytest
from sqlalchemy import select

from catalyst_hub.reports.cohorts import CohortError, get_cohort, list_cohorts, parse_fields
from catalyst_hub.reports.people import Access, known_member, usernames
from catalyst_hub.reports.training import completion_matrix, training_by_community
from catalyst_hub.store import tables as t
from catalyst_hub.workflows.training import (
    SignOffError,
    create_cohort,
    edit_learners,
    sign_off,
)


@pytest.fixture
def cohort(hub):
    store = hub.store
    fields = parse_fields(store, "Taller Andes", "es", "2026-03-01", "2026-03-31", ["hub-basics"])
    cohort_id = create_cohort(store, "andes", fields, hub.ids["staff"])
    edit_learners(store, get_cohort(store, cohort_id), ["ana", "ben", "dan"], [], hub.ids["staff"])
    return get_cohort(store, cohort_id)


def test_matrix(hub, cohort):
    matrix = completion_matrix(hub.store, cohort)
    assert [c.episode for c in matrix.columns] == ["first-notebook", "data-files", "persistence"]
    states = {row.member_id: [c.state for c in row.cells] for row in matrix.learners}
    assert states[hub.ids["ana"]] == ["done", "todo", "todo"]  # both exercises ran
    assert states[hub.ids["ben"]] == ["todo", "started", "todo"]  # one of two exercises
    assert states[hub.ids["dan"]] == ["todo", "todo", "done"]  # self-reported
    assert (matrix.total.earned, matrix.total.possible, matrix.total.percent) == (2, 9, 22.2)
    assert matrix.lessons["hub-basics"].earned == 2
    assert matrix.episodes_done == [1, 0, 1]
    ana = next(r for r in matrix.learners if r.member_id == hub.ids["ana"])
    assert (ana.total.earned, ana.total.possible, ana.total.percent) == (1, 3, 33.3)


def test_sign_off_goes_through_the_event_log(hub, cohort):
    store, lead = hub.store, hub.ids["staff"]
    assert sign_off(store, cohort, hub.ids["ben"], "hub-basics", "first-notebook", lead)
    matrix = completion_matrix(store, cohort)
    ben = next(r for r in matrix.learners if r.member_id == hub.ids["ben"])
    assert (ben.cells[0].state, ben.cells[0].source) == ("done", "lead")
    assert matrix.total.earned == 3
    assert _signed_off_by(store, hub.ids["ben"], "first-notebook") == lead
    with pytest.raises(SignOffError):
        sign_off(store, cohort, hub.ids["caro"], "hub-basics", "data-files", lead)  # not a learner
    with pytest.raises(SignOffError):
        sign_off(
            store, cohort, hub.ids["ben"], "sharing", "publish", lead
        )  # not the cohort's lesson


def test_sign_off_of_a_started_episode_records_the_lead(hub, cohort):
    store, lead = hub.store, hub.ids["staff"]
    assert sign_off(store, cohort, hub.ids["ben"], "hub-basics", "data-files", lead)
    ben = next(
        r for r in completion_matrix(store, cohort).learners if r.member_id == hub.ids["ben"]
    )
    assert ben.cells[1].state == "done"
    assert (ben.cells[1].source, _signed_off_by(store, hub.ids["ben"], "data-files")) == (
        "lead",
        lead,
    )


def _signed_off_by(store, member_id, episode):
    tp = t.training_progress.c
    with store.connect() as conn:
        return conn.execute(
            select(tp.signed_off_by).where(
                tp.hub == store.hub, tp.member_id == member_id, tp.episode == episode
            )
        ).scalar()


def test_usernames_are_audited(hub, cohort):
    store = hub.store
    names = usernames(
        store, cohort.members, Access(hub.ids["staff"], "view_cohort", "andes", "cohort")
    )
    assert sorted(names.values()) == ["ana", "ben", "dan"]
    with store.connect() as conn:
        rows = conn.execute(
            select(t.audit_log).where(
                t.audit_log.c.hub == store.hub, t.audit_log.c.action == "view_cohort"
            )
        ).all()
    assert sorted(r.subject for r in rows) == sorted(cohort.members)
    assert {(r.actor, r.action, r.community) for r in rows} == {
        (hub.ids["staff"], "view_cohort", "andes")
    }


def test_known_member_does_not_create_identities(hub):
    store = hub.store
    assert known_member(store, "ana") == (hub.ids["ana"], "andes")
    assert known_member(store, "eve") == (hub.ids["eve"], "pampa")
    assert known_member(store, "nobody") is None
    with store.connect() as conn:
        names = set(
            conn.execute(
                select(t.identities.c.username).where(t.identities.c.hub == store.hub)
            ).scalars()
        )
    assert "nobody" not in names


def test_cohort_fields_are_checked(hub):
    store = hub.store
    with pytest.raises(CohortError):
        parse_fields(store, "", "es", None, None, ["hub-basics"])
    with pytest.raises(CohortError):
        parse_fields(store, "x", "xx", None, None, ["hub-basics"])
    with pytest.raises(CohortError):
        parse_fields(store, "x", "es", "2026-03-05", "2026-03-01", ["hub-basics"])
    with pytest.raises(CohortError):
        parse_fields(store, "x", "es", None, None, ["no-such-lesson"])
    # lessons keep the catalog's order
    assert parse_fields(store, "x", "es", None, None, ["sharing", "hub-basics"]).lessons == [
        "hub-basics",
        "sharing",
    ]


def test_list_cohorts_by_community(hub, cohort):
    assert [(c.name, c.learners) for c in list_cohorts(hub.store, {"andes"})] == [
        ("Taller Andes", 3)
    ]
    assert list_cohorts(hub.store, {"pampa"}) == []


def test_training_by_community(hub):
    andes = training_by_community(hub.store)["andes"]
    # ana (first-notebook done), ben (data-files started), dan (persistence done); staff excluded
    assert (andes.learners, andes.episodes_started, andes.episodes_completed) == (3, 3, 2)
    assert andes.percent == 66.7
