"""Consent in the ingest path, export, erasure and retention, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

import catalyst_hub.store  # noqa: F401  (first: importing ingest first hits an import cycle)
from catalyst_hub.ingest import COLLECTOR, Ingestor, Sender
from catalyst_hub.store import privacy
from catalyst_hub.store import tables as t
from catalyst_hub.timeutil import utcnow

# builds data relative to now: CI runs it again at 00:05 and 23:55 UTC
pytestmark = pytest.mark.clock


@pytest.fixture
def ingestor(catalyst_store):
    return Ingestor(catalyst_store)


def sender_for(store, username: str, community: str = "andes") -> Sender:
    return Sender(member_id=store.member_id(username), community=community)


def count(store, table, member_id: str | None = None) -> int:
    query = select(func.count()).select_from(table).where(table.c.hub == store.hub)
    if member_id is not None:
        query = query.where(table.c.member_id == member_id)
    with store.connect() as conn:
        return conn.execute(query).scalar_one()


def member_rows(store, member_id: str) -> dict[str, int]:
    """Rows about one member in every table that has some."""
    rows = {"events": count(store, t.events, member_id)}
    rows.update({table.name: count(store, table, member_id) for table in privacy.member_tables()})
    return rows


def consent(make_event, decision: str, time=None, version: str = "1"):
    return make_event("consent", {"decision": decision, "notice_version": version}, time=time)


def activity(make_event, time=None):
    """A member's events touching every projection they may send to: a step, a day of
    activity, training (sessions come from the collector: ``session``)."""
    time = time or utcnow()
    return [
        make_event("action", {"action": "logged_in"}, time=time),
        make_event(
            "exercise_completed",
            {"lesson": "hub-basics", "episode": "first-notebook", "exercise": "hello"},
            time=time,
        ),
        make_event("activity", {"kind": "kernel", "count": 2, "seconds": 60}, time=time),
    ]


def session(ingestor, make_event, sender: Sender, time=None) -> tuple[set[str], set[str]]:
    """A server session of ``sender``'s, as the collector records it."""
    time = time or utcnow()
    started = {"server_name": "", "started": time.isoformat() + "Z", "profile": "python-small"}
    return ingestor.ingest_trusted(
        [(make_event("server_started", started, time=time), sender)], COLLECTOR
    )


# -- consent on the ingest path ---------------------------------------------------------------


def test_events_of_a_member_who_opted_out_are_dropped(catalyst_store, ingestor, make_event):
    ana = sender_for(catalyst_store, "ana@example.org")
    ok, results = ingestor.ingest(activity(make_event), ana)
    assert ok and {r.status for r in results} == {"stored"}
    ok, results = ingestor.ingest([consent(make_event, "withdrawn")], ana)
    assert ok and results[0].status == "stored"
    before = member_rows(catalyst_store, ana.member_id)

    later = activity(make_event) + [make_event("step_reached", {"step": "use_git"})]
    ok, results = ingestor.ingest(later, ana)
    assert ok  # acknowledged, so the client's outbox clears them
    assert [r.status for r in results] == ["dropped"] * len(later)
    assert all("opted out" in r.message for r in results)
    assert member_rows(catalyst_store, ana.member_id) == before
    assert privacy.consent_of(catalyst_store, ana.member_id) == "withdrawn"


def test_consent_events_are_still_stored_and_accepting_again_resumes(
    catalyst_store, ingestor, make_event
):
    ana = sender_for(catalyst_store, "ana@example.org")
    now = utcnow()
    ingestor.ingest([consent(make_event, "withdrawn", time=now - timedelta(minutes=5))], ana)
    # a batch that accepts again: the acceptance is newer, so its other events are stored
    batch = [consent(make_event, "given", time=now), *activity(make_event, now)]
    ok, results = ingestor.ingest(batch, ana)
    assert [r.status for r in results] == ["stored"] * len(batch)
    assert privacy.consent_of(catalyst_store, ana.member_id) == "given"


def test_an_old_acceptance_does_not_undo_a_newer_opt_out(catalyst_store, ingestor, make_event):
    ana = sender_for(catalyst_store, "ana@example.org")
    now = utcnow()
    ingestor.ingest([consent(make_event, "withdrawn", time=now)], ana)
    # delivered late from an outbox: decided before the opt-out
    batch = [consent(make_event, "given", time=now - timedelta(days=1)), *activity(make_event, now)]
    ok, results = ingestor.ingest(batch, ana)
    assert [r.status for r in results] == ["stored"] + ["dropped"] * 3
    assert privacy.consent_of(catalyst_store, ana.member_id) == "withdrawn"


def test_opting_out_in_a_batch_drops_the_rest_of_it(catalyst_store, ingestor, make_event):
    ana = sender_for(catalyst_store, "ana@example.org")
    bea = sender_for(catalyst_store, "bea@example.org")
    ok, results = ingestor.ingest([*activity(make_event), consent(make_event, "withdrawn")], ana)
    assert [r.status for r in results] == ["dropped"] * 3 + ["stored"]
    assert count(catalyst_store, t.events, ana.member_id) == 1
    # another member is not affected
    ok, results = ingestor.ingest(activity(make_event), bea)
    assert {r.status for r in results} == {"stored"}


def test_the_collector_records_nothing_about_a_member_who_opted_out(
    catalyst_store, ingestor, make_event
):
    ana = sender_for(catalyst_store, "ana@example.org")
    bea = sender_for(catalyst_store, "bea@example.org")
    ingestor.ingest([consent(make_event, "withdrawn")], ana)
    now = utcnow()
    started = {"server_name": "", "started": now.isoformat() + "Z"}
    stored, held = ingestor.ingest_trusted(
        [
            (make_event("server_started", started, time=now), ana),
            (make_event("server_started", started, time=now), bea),
        ],
        COLLECTOR,
    )
    assert len(stored) == 1 and len(held) == 1
    assert count(catalyst_store, t.server_sessions, ana.member_id) == 0
    assert count(catalyst_store, t.server_sessions, bea.member_id) == 1


# -- export -----------------------------------------------------------------------------------


def test_export_holds_everything_about_me_and_nothing_of_others(
    catalyst_store, ingestor, make_event
):
    ana = sender_for(catalyst_store, "ana@example.org")
    bea = sender_for(catalyst_store, "bea@example.org")
    mine = activity(make_event) + [consent(make_event, "given")]
    ingestor.ingest(mine, ana)
    session(ingestor, make_event, ana)
    ingestor.ingest(activity(make_event), bea)

    data = privacy.export_member(catalyst_store, ana.member_id)
    json.dumps(data)  # JSON-ready
    assert [row["username"] for row in data["identity"]] == ["ana@example.org"]
    assert len(data["events"]) == len(mine) + 1  # and the session's
    assert {e["id"] for e in mine} <= {e["id"] for e in data["events"]}
    assert data["consent"]["decision"] == "given" and data["consent"]["version"] == "1"
    tables = data["tables"]
    assert len(tables["members"]) == 1 and len(tables["daily_activity"]) == 1
    assert {row["step"] for row in tables["member_steps"]} >= {"login", "start_server"}
    assert len(tables["server_sessions"]) == 1 and len(tables["training_progress"]) == 1
    text = json.dumps(data)
    assert bea.member_id not in text and "bea@example.org" not in text


# -- erasure ----------------------------------------------------------------------------------


def test_erasure_removes_identity_events_and_rows_and_logs_no_identity(
    catalyst_store, ingestor, make_event
):
    store = catalyst_store
    ana = sender_for(store, "ana@example.org")
    bea = sender_for(store, "bea@example.org")
    ingestor.ingest(activity(make_event) + [consent(make_event, "given")], ana)
    session(ingestor, make_event, ana)
    ingestor.ingest(activity(make_event), bea)
    # a lead read ana's progress earlier: the audit row names her by member id
    with store.begin() as conn:
        conn.execute(
            insert(t.audit_log).values(
                hub=store.hub,
                time=utcnow(),
                actor=bea.member_id,
                action="read_learner",
                subject=ana.member_id,
            )
        )
    before = member_rows(store, ana.member_id)
    assert before["events"] == 5 and before["members"] == 1 and before["member_steps"] >= 2
    others = member_rows(store, bea.member_id)

    erasure = privacy.erase_member(store, ana.member_id)

    assert erasure.events == 5 and erasure.identities == 1
    assert erasure.rows["members"] == 1 and erasure.rows["daily_activity"] == 1
    assert set(member_rows(store, ana.member_id).values()) == {0}
    assert member_rows(store, bea.member_id) == others
    with store.connect() as conn:
        identities = conn.execute(
            select(t.identities.c.username).where(t.identities.c.hub == store.hub)
        ).scalars()
        assert list(identities) == ["bea@example.org"]
        audit = conn.execute(select(t.audit_log).where(t.audit_log.c.hub == store.hub)).all()
    erasures = [row for row in audit if row.action == privacy.ERASURE_ACTION]
    assert len(erasures) == 1
    row = erasures[0]
    assert row.subject is None and row.community is None
    assert json.loads(row.detail)["receipt"] == erasure.receipt
    for value in row._mapping.values():
        text = str(value)
        assert "ana@example.org" not in text and ana.member_id not in text
    # the earlier read keeps who read and when, without pointing at ana
    read = [r for r in audit if r.action == "read_learner"][0]
    assert read.subject is None and read.actor == bea.member_id

    # seen again later, the identity is not recorded again until ana decides on the notice
    assert store.member_id("ana@example.org") == ana.member_id
    assert count(store, t.identities) == 1
    ok, results = ingestor.ingest([consent(make_event, "given")], ana)
    assert ok and results[0].status == "stored"
    assert store.member_id("ana@example.org") == ana.member_id
    assert count(store, t.identities) == 2


# -- retention --------------------------------------------------------------------------------


def test_purge_removes_old_events_and_keeps_daily_aggregates(catalyst_store, ingestor, make_event):
    store = catalyst_store
    ana = sender_for(store, "ana@example.org")
    now = utcnow()
    old = now - timedelta(days=400)
    old_events = activity(make_event, old) + [consent(make_event, "given", time=old)]
    recent = activity(make_event, now - timedelta(days=3))
    ingestor.ingest(old_events + recent, ana)
    days_before = count(store, t.daily_activity, ana.member_id)
    steps_before = count(store, t.member_steps, ana.member_id)
    assert days_before == 2

    purged = privacy.purge_expired_events(store, retention_days=365, now=now, chunk=2)

    assert purged == 3  # the old activity; the consent decision stays
    with store.connect() as conn:
        left = conn.execute(
            select(t.events.c.id, t.events.c.schema).where(t.events.c.hub == store.hub)
        ).all()
    assert sorted(e.id for e in left) == sorted([old_events[-1]["id"], *(e["id"] for e in recent)])
    assert count(store, t.daily_activity, ana.member_id) == days_before
    assert count(store, t.member_steps, ana.member_id) == steps_before
    assert privacy.purge_expired_events(store, retention_days=365, now=now) == 0


def test_purge_leaves_another_members_recent_event_of_the_same_id(
    catalyst_store, ingestor, make_event
):
    """Event ids are unique per member: an expired event of Ana's takes no recent one of
    Ben's with it."""
    store = catalyst_store
    ana, ben = sender_for(store, "ana@example.org"), sender_for(store, "ben@example.org")
    now = utcnow()
    old = make_event("action", {"action": "logged_in"}, time=now - timedelta(days=400))
    ingestor.ingest([old], ana)
    ingestor.ingest([{**old, "time": (now - timedelta(days=1)).isoformat() + "Z"}], ben)
    assert privacy.purge_expired_events(store, retention_days=365, now=now) == 1
    assert count(store, t.events, ana.member_id) == 0
    assert count(store, t.events, ben.member_id) == 1


def test_purge_with_no_retention_keeps_everything(catalyst_store, ingestor, make_event):
    ana = sender_for(catalyst_store, "ana@example.org")
    ingestor.ingest(activity(make_event, datetime(2020, 1, 1)), ana)
    assert privacy.purge_expired_events(catalyst_store, retention_days=0) == 0
    assert count(catalyst_store, t.events) == 3


def test_a_redelivery_after_opting_out_is_a_duplicate(catalyst_store, ingestor, make_event):
    ana = sender_for(catalyst_store, "ana@example.org")
    first = activity(make_event)
    ingestor.ingest(first, ana)
    ingestor.ingest([consent(make_event, "withdrawn")], ana)
    ok, results = ingestor.ingest([first[0], make_event("action", {"action": "logged_in"})], ana)
    assert [r.status for r in results] == ["duplicate", "dropped"]


def test_another_members_event_of_the_same_id_is_no_redelivery(
    catalyst_store, ingestor, make_event
):
    """After Ana opts out, her event is dropped even when Ben has one of the same id."""
    ana, ben = (
        sender_for(catalyst_store, "ana@example.org"),
        sender_for(catalyst_store, "ben@example.org"),
    )
    event = make_event("action", {"action": "logged_in"})
    ingestor.ingest([event], ben)
    ingestor.ingest([consent(make_event, "withdrawn")], ana)
    ok, results = ingestor.ingest([event], ana)
    assert ok and [r.status for r in results] == ["dropped"]
    assert count(catalyst_store, t.events, ana.member_id) == 1  # the opt-out only


def test_only_an_acceptance_after_the_erasure_starts_a_new_record(
    catalyst_store, ingestor, make_event
):
    """An acceptance sent before the erasure and delivered after it (a server's outbox)
    does not lift the tombstone; an opt-out does not either; accepting again does."""
    catalyst_store.consent_mode = "opt-in"
    ana = sender_for(catalyst_store, "ana@example.org")
    early = consent(make_event, "given", time=utcnow() - timedelta(minutes=5))
    ok, _ = ingestor.ingest(activity(make_event), ana)
    privacy.erase_member(catalyst_store, ana.member_id)

    for late in ([early], [consent(make_event, "withdrawn")]):
        ok, results = ingestor.ingest([*late, *activity(make_event)], ana)
        assert ok and [r.status for r in results[1:]] == ["dropped"] * 3
    assert catalyst_store.member_id("ana@example.org") == ana.member_id
    assert count(catalyst_store, t.identities) == 0

    ok, results = ingestor.ingest([consent(make_event, "given"), *activity(make_event)], ana)
    assert [r.status for r in results] == ["stored"] * 4
    assert catalyst_store.member_id("ana@example.org") == ana.member_id
    assert count(catalyst_store, t.identities) == 1
    # the new record is new: what a server made before the erasure is never stored again
    before = activity(make_event, utcnow() - timedelta(minutes=5))
    ok, results = ingestor.ingest([early, *before], ana)
    assert ok and [r.status for r in results] == ["dropped"] * 4
    assert privacy.consent_of(catalyst_store, ana.member_id) == "given"
