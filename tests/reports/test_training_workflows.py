"""Each training workflow commits once: its changes and their audit rows, or nothing."""

import contextlib

import pytest
from sqlalchemy import event, func, select

from catalyst_hub.reports.cohorts import get_cohort, parse_fields
from catalyst_hub.store import tables as t
from catalyst_hub.workflows.training import (
    LearnersError,
    create_cohort,
    edit_learners,
    sign_off,
)


@contextlib.contextmanager
def commits(engine):
    """Counts the transactions committed on ``engine`` inside the block."""
    count = []

    def on_commit(conn):
        count.append(conn)

    event.listen(engine, "commit", on_commit)
    try:
        yield count
    finally:
        event.remove(engine, "commit", on_commit)


@pytest.fixture
def cohort(hub):
    store = hub.store
    fields = parse_fields(store, "Taller", "es", None, None, ["hub-basics"])
    cohort_id = create_cohort(store, "andes", fields, hub.ids["staff"])
    edit_learners(store, get_cohort(store, cohort_id), ["ana"], [], hub.ids["staff"])
    return get_cohort(store, cohort_id)


def audit_rows(store, action):
    a = t.audit_log.c
    with store.connect() as conn:
        return conn.execute(
            select(func.count()).where(a.hub == store.hub, a.action == action)
        ).scalar_one()


def learners(store, cohort_id):
    return get_cohort(store, cohort_id).members


def test_adding_and_removing_learners_is_one_transaction(hub, cohort):
    store, lead = hub.store, hub.ids["staff"]
    with commits(store.engine) as done:
        change = edit_learners(store, cohort, ["ben", "dan"], [hub.ids["ana"]], lead)
    assert len(done) == 1
    assert (change.added, change.removed) == (2, 1)
    assert learners(store, cohort.id) == sorted([hub.ids["ben"], hub.ids["dan"]])
    assert (audit_rows(store, "add_learners"), audit_rows(store, "remove_learners")) == (3, 1)


def test_a_refused_learner_writes_nothing(hub, cohort):
    store, lead = hub.store, hub.ids["staff"]
    before = audit_rows(store, "add_learners")
    with commits(store.engine) as done:
        with pytest.raises(LearnersError) as refused:
            edit_learners(store, cohort, ["ben"], ["not-a-member-id"], lead)
        with pytest.raises(LearnersError):
            edit_learners(store, cohort, ["ben", "nobody"], [], lead)
    assert done == []
    assert refused.value.unknown_ids and not refused.value.unknown_names
    assert learners(store, cohort.id) == [hub.ids["ana"]]
    assert audit_rows(store, "add_learners") == before


def test_sign_off_commits_with_its_audit_row(hub, cohort):
    store, lead = hub.store, hub.ids["staff"]
    with commits(store.engine) as done:
        assert sign_off(store, cohort, hub.ids["ana"], "hub-basics", "data-files", lead)
    assert len(done) == 1
    assert audit_rows(store, "sign_off") == 1
