"""Erasing a training lead: the records of others that name them (sign-offs, cohorts they
created or filled) no longer do; the audit trail keeps its pseudonymous actor (on SQLite and
PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.reports import cohorts
from catalyst_hub.store import audit, privacy
from catalyst_hub.store import tables as t
from catalyst_hub.workflows import training

LEAD, LEARNER = "luis@andes.example.org", "ana@andes.example.org"


def cells(store) -> list[tuple[str, str, str]]:
    """(table, column, value) of every non-empty cell of the hub's rows, identities excluded."""
    found = []
    with store.connect() as conn:
        for table in t.metadata.sorted_tables:
            if table.name == t.identities.name or "hub" not in table.c:
                continue
            for row in conn.execute(select(table).where(table.c.hub == store.hub)):
                for column, value in row._mapping.items():
                    if value is not None:
                        found.append((table.name, column, str(value)))
    return found


def test_erasing_a_lead_removes_them_from_others_records(catalyst_store, make_event):
    store = catalyst_store
    lead, learner = store.member_id(LEAD), store.member_id(LEARNER)
    Ingestor(store).ingest_trusted(
        [
            (make_event("action", {"action": "logged_in"}), Sender(lead, "andes")),
            (make_event("action", {"action": "logged_in"}), Sender(learner, "andes")),
        ]
    )
    fields = cohorts.CohortFields(
        name="Andes spring", language="es", starts=None, ends=None, lessons=["hub-basics"]
    )
    cohort_id = training.create_cohort(store, "andes", fields, actor=lead)
    training.edit_learners(store, cohorts.get_cohort(store, cohort_id), [LEARNER], [], lead)
    cohort = cohorts.get_cohort(store, cohort_id)
    assert training.sign_off(store, cohort, learner, "hub-basics", "persistence", lead)
    audit.audit(
        store, audit.Access(actor=lead, action="read_learner", community="andes"), [learner]
    )
    assert any(value == lead for table, _, value in cells(store) if table != "events")

    erasure = privacy.erase_member(store, lead)

    assert erasure.rows["training_progress.signed_off_by"] == 1
    assert erasure.rows["events.signed_off_by"] == 1
    assert erasure.rows["cohorts.created_by"] == 1
    assert erasure.rows["cohort_members.added_by"] == 1
    # the lead's id is left only as the actor of the audit rows of their reads, and in the
    # erasure tombstone that keeps every writer from recording them again
    remaining = {(table, column) for table, column, value in cells(store) if lead in value}
    assert remaining == {("audit_log", "actor"), ("member_erasures", "member_id")}
    # the learner keeps the completion, the cohort and its membership
    tp = t.training_progress.c
    with store.connect() as conn:
        done = conn.execute(
            select(tp.completed, tp.source, tp.signed_off_by).where(
                tp.hub == store.hub, tp.member_id == learner, tp.episode == "persistence"
            )
        ).one()
    assert done.completed is not None and done.source == "lead"
    assert done.signed_off_by == privacy.ERASED_MEMBER
    assert cohorts.get_cohort(store, cohort_id).members == [learner]
    # the event log says the same, so a rebuild agrees
    before = cells(store)
    store.rebuild()
    # (a rebuild records the time zone it built the days in: bookkeeping, like the audit)
    bookkeeping = ("audit_log", "projection_zones")
    assert sorted(c for c in cells(store) if c[0] not in bookkeeping) == sorted(
        c for c in before if c[0] not in bookkeeping
    )
    assert (
        privacy.export_member(store, learner)["tables"]["training_progress"][0]["signed_off_by"]
        == privacy.ERASED_MEMBER
    )
