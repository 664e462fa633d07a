"""Retention and rebuild: a purge deletes old raw events, and a rebuild afterwards gives the
very same projections as before the purge (on SQLite and PostgreSQL).

Before the retention horizon, `rebuild` emptied every projection and replayed a log that no
longer had the old events: daily totals, first-seen times, steps, training and sessions older
than the retention were lost."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from catalyst_hub.demo import demo_events
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.seed import sender_kind
from catalyst_hub.store import privacy
from catalyst_hub.store import tables as t
from catalyst_hub.timeutil import isoformat, utcnow, zone_named

# builds data relative to now: CI runs it again at 00:05 and 23:55 UTC
pytestmark = pytest.mark.clock

RETENTION_DAYS = 14


def projections(store) -> dict[str, list[tuple]]:
    """Every projection row of the hub, in a stable order."""
    out = {}
    with store.connect() as conn:
        for table in t.PROJECTION_TABLES:
            rows = conn.execute(select(table).where(table.c.hub == store.hub)).all()
            out[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return out


def events_left(store) -> list[tuple]:
    e = t.events.c
    with store.connect() as conn:
        return conn.execute(select(e.schema, e.time).where(e.hub == store.hub)).all()


def envelope(schema, payload, when, make_event):
    return make_event(schema, payload, time=isoformat(when))


# a hub three hours behind UTC too: its purge keeps whole days of its own, so the daily
# totals a rebuild keeps and those it recomputes do not overlap
@pytest.mark.parametrize("zone", ["UTC", "America/Argentina/Buenos_Aires"])
def test_rebuild_after_a_purge_keeps_the_projections(catalyst_store, make_event, zone):
    store = catalyst_store
    store.zone = store.projector.zone = zone_named(zone)
    ingestor = Ingestor(store)
    now = utcnow()
    horizon = privacy.purge_horizon(now, RETENTION_DAYS, store.zone)
    rng = random.Random(7)
    # a month of demo life for researchers at every stage (sessions, steps, training, consent)
    items = []
    for i, name in enumerate(["ana@example.org", "kofi@example.org", "lucia@example.org"]):
        member_id = store.member_id(name)
        items += [
            (e, Sender(member_id, "andes", sender_kind(e["schema"], e["payload"])))
            for e in demo_events(name, 8 - 2 * i, rng, now)
        ]
    # and rows that straddle the horizon
    bea = Sender(store.member_id("bea@example.org"), "sahel")
    before, after = horizon - timedelta(hours=1), horizon + timedelta(hours=1)
    straddling = [
        envelope(
            "server_started",
            {"server_name": "", "started": isoformat(before), "profile": "jupyterlab"},
            before,
            make_event,
        ),
        envelope(
            "server_stopped",
            {"server_name": "", "started": isoformat(before), "last_activity": isoformat(after)},
            after,
            make_event,
        ),
        envelope(
            "exercise_completed",
            {"lesson": "hub-basics", "episode": "first-notebook", "exercise": "hello"},
            before,
            make_event,
        ),
        envelope(
            "exercise_completed",
            {"lesson": "hub-basics", "episode": "first-notebook", "exercise": "variables"},
            after,
            make_event,
        ),
        envelope("activity", {"kind": "kernel", "count": 5, "seconds": 60}, before, make_event),
        envelope("activity", {"kind": "kernel", "count": 7, "seconds": 60}, after, make_event),
        envelope("action", {"action": "git_cloned"}, before, make_event),
        envelope("action", {"action": "git_cloned"}, after, make_event),
        envelope(
            "episode_completed",
            {"lesson": "hub-basics", "episode": "persistence", "source": "self"},
            after,
            make_event,
        ),
        envelope("consent", {"decision": "given", "notice_version": "1"}, before, make_event),
    ]
    items += [
        (e, Sender(bea.member_id, bea.community, sender_kind(e["schema"], e["payload"])))
        for e in straddling
    ]
    ingestor.ingest_trusted(items)
    assert store.rebuild() > 0
    live = projections(store)
    assert all(live.values()), "every projection has rows"

    purged = privacy.purge_expired_events(store, RETENTION_DAYS, now=now)
    assert purged > 0
    assert {schema for schema, time in events_left(store) if time < horizon} == {"consent"}
    assert privacy.retention_horizon(store) == horizon
    assert projections(store) == live  # the purge itself touches no projection

    store.rebuild()
    assert projections(store) == live

    # an event older than the horizon arriving late (an outbox offline for weeks) is
    # projected as it comes; a rebuild keeps it, without counting it twice
    late = envelope(
        "activity",
        {"kind": "ui", "count": 3, "seconds": 30},
        horizon - timedelta(days=3),
        make_event,
    )
    ingestor.ingest_trusted([(late, bea)])
    with_late = projections(store)
    assert with_late != live
    store.rebuild()
    assert projections(store) == with_late

    # a later purge moves the horizon forward, never back, and the projections still stand
    later = now + timedelta(days=5)
    assert privacy.purge_expired_events(store, RETENTION_DAYS, now=later) > 0
    assert privacy.purge_expired_events(store, RETENTION_DAYS + 30, now=later) == 0
    assert privacy.retention_horizon(store) == privacy.purge_horizon(
        later, RETENTION_DAYS, store.zone
    )
    store.rebuild()
    assert projections(store) == with_late

    # without the recorded horizon, the same rebuild loses everything before it (the gap
    # this guards against)
    with store.begin() as conn:
        conn.execute(delete(t.retention_horizons).where(t.retention_horizons.c.hub == store.hub))
    store.rebuild()
    lost = projections(store)
    assert len(lost["daily_activity"]) < len(with_late["daily_activity"])


def test_every_projection_has_a_horizon_column():
    assert set(t.HORIZON_COLUMNS) == {table.name for table in t.PROJECTION_TABLES}
    for name, column in t.HORIZON_COLUMNS.items():
        assert column.table.name == name and not column.nullable


def test_a_rebuild_without_purge_replays_everything(catalyst_store, make_event):
    store = catalyst_store
    sender = Sender(store.member_id("ana@example.org"), "andes")
    old = utcnow() - timedelta(days=400)
    Ingestor(store).ingest_trusted(
        [(envelope("activity", {"kind": "ui", "count": 2}, old, make_event), sender)]
    )
    before = projections(store)
    assert privacy.retention_horizon(store) is None
    assert store.rebuild() == 1
    assert projections(store) == before
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.retention_horizons)).scalar() >= 0
