"""Projections kept current as events arrive equal a rebuild from the log, on both engines."""

import random
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from catalyst_hub.catalog import Catalog
from catalyst_hub.ingest import COLLECTOR, LEAD, Ingestor, Sender
from catalyst_hub.projections import Projector
from catalyst_hub.store import Store
from catalyst_hub.store import tables as t

START = datetime(2026, 3, 2, 9, 0)


def workload(n_members: int = 12, seed: int = 7) -> list[tuple[dict, Sender, int]]:
    """A mixed, shuffled stream of every kind of event for a few members."""
    rng = random.Random(seed)
    out = []
    actions = [
        "logged_in",
        "notebook_created",
        "kernel_started",
        "cell_executed",
        "file_uploaded",
        "git_cloned",
        "notebook_saved",
    ]
    for m in range(n_members):
        member = Sender(member_id=f"member-{m:02d}", community=rng.choice(["andes", "sahel"]))
        # each kind of event from the sender that may assert it
        collector, lead = replace(member, kind=COLLECTOR), replace(member, kind=LEAD)
        for _ in range(40):
            sender = member
            when = START + timedelta(days=rng.randint(0, 30), minutes=rng.randint(0, 600))
            kind = rng.random()
            if kind < 0.3:
                raw = ("action", {"action": rng.choice(actions)})
            elif kind < 0.6:
                activity = rng.choice(["kernel", "terminal", "proxy"])
                raw = (
                    "activity",
                    {
                        "kind": activity,
                        "count": rng.randint(1, 9),
                        "seconds": rng.randint(0, 60),
                        # per app time: a proxied app, or none named
                        **(
                            {"app": "rstudio"} if activity == "proxy" and rng.random() < 0.5 else {}
                        ),
                    },
                )
            elif kind < 0.75:
                raw = (
                    "exercise_completed",
                    {
                        "lesson": "hub-basics",
                        "episode": rng.choice(["first-notebook", "data-files"]),
                        "exercise": rng.choice(["hello", "variables", "read-csv", "plot"]),
                    },
                )
            elif kind < 0.8:
                signed_off = rng.random() < 0.5
                raw = (
                    "episode_completed",
                    {"lesson": "sharing", "episode": "publish", "source": "self"},
                )
                if signed_off:
                    raw[1].update(source="lead", signed_off_by="member-00")
                    sender = lead
            elif kind < 0.85:
                raw = (
                    "consent",
                    {"decision": rng.choice(["given", "withdrawn"]), "notice_version": "1"},
                )
            elif kind < 0.93:
                sender = collector
                started = when.isoformat() + "Z"
                # sessions of two servers, which overlap (a new start ends the previous
                # one), some with no stop recorded and some started twice
                server = rng.choice(["", "", "gpu"])
                raw = (
                    "server_started",
                    {
                        "server_name": server,
                        "started": started,
                        "profile": rng.choice(["jupyterlab", "rstudio"]),
                    },
                )
                if rng.random() < 0.2:
                    out.append(
                        (
                            {
                                "id": str(uuid.uuid4()),
                                "schema": raw[0],
                                "version": 1,
                                "time": started,
                                "payload": raw[1],
                            },
                            sender,
                            rng.random(),
                        )
                    )
                if rng.random() < 0.7:  # else no stop recorded
                    stop = {"server_name": server, "started": started}
                    if rng.random() < 0.7:
                        stop["last_activity"] = (when + timedelta(minutes=20)).isoformat() + "Z"
                    out.append(
                        (
                            {
                                "id": str(uuid.uuid4()),
                                "schema": "server_stopped",
                                "version": 1,
                                "time": (when + timedelta(hours=rng.choice([1, 30]))).isoformat()
                                + "Z",
                                "payload": stop,
                            },
                            sender,
                            rng.random(),
                        )
                    )
            else:
                raw = ("step_reached", {"step": "use_git", "source": "self"})
            event = {
                "id": str(uuid.uuid4()),
                "schema": raw[0],
                "version": 1,
                "time": when.isoformat() + "Z",
                "payload": raw[1],
            }
            out.append((event, sender, rng.random()))
    out.sort(key=lambda item: item[2])  # arrival order unrelated to event time
    return out


def snapshot(store: Store) -> dict[str, list[tuple]]:
    with store.connect() as conn:
        return {
            table.name: sorted(
                tuple(row) for row in conn.execute(select(table).where(table.c.hub == store.hub))
            )
            for table in t.PROJECTION_TABLES
        }


def test_incremental_projections_equal_rebuild(catalyst_store):
    ingestor = Ingestor(catalyst_store)
    stream = workload()
    # arrive in uneven batches, with some events delivered twice
    i = 0
    rng = random.Random(3)
    while i < len(stream):
        size = rng.randint(1, 40)
        batch = stream[i : i + size]
        by_sender: dict = {}
        for raw, sender, _ in batch:
            by_sender.setdefault(sender, []).append(raw)
        for sender, raws in by_sender.items():
            ok, results = ingestor.ingest(raws, sender)
            assert ok, [r.to_json() for r in results if r.status == "error"]
        if rng.random() < 0.3:
            raw, sender, _ = batch[0]
            ok, results = ingestor.ingest([raw], sender)
            # stored before, or dropped because the member had opted out by then
            assert results[0].status in ("duplicate", "dropped")
        i += size
    live = snapshot(catalyst_store)
    assert all(
        live[name]
        for name in (
            "members",
            "member_steps",
            "daily_activity",
            "training_progress",
            "server_sessions",
        )
    )
    with catalyst_store.connect() as conn:
        stored = conn.execute(
            select(func.count()).select_from(t.events).where(t.events.c.hub == catalyst_store.hub)
        ).scalar()
    assert 0 < stored <= len(stream)
    replayed = catalyst_store.rebuild()
    assert replayed == stored
    assert snapshot(catalyst_store) == live


def test_two_hubs_share_one_database(catalyst_db_url, catalyst_hub_name):
    """The services of several hubs write to one database; each sees its own rows only."""
    from catalyst_hub.store import make_engine

    engine = make_engine(catalyst_db_url)
    secret = b"s" * 40
    andes = Store(engine, catalyst_hub_name + "-andes", secret, Projector(Catalog.load()))
    sahel = Store(engine, catalyst_hub_name + "-sahel", secret, Projector(Catalog.load()))
    andes.consent_mode = sahel.consent_mode = "opt-out"  # as catalyst_store: no consent here
    # the same username on two hubs is two different members
    assert andes.member_id("ana") != sahel.member_id("ana")
    for store in (andes, sahel):
        ok, _ = Ingestor(store).ingest(
            [
                {
                    "id": str(uuid.uuid4()),
                    "schema": "action",
                    "version": 1,
                    "time": "2026-05-01T10:00:00Z",
                    "payload": {"action": "cell_executed"},
                }
            ],
            Sender(store.member_id("ana"), "default"),
        )
        assert ok
    andes.rebuild()
    assert len(snapshot(andes)["member_steps"]) == 1
    assert len(snapshot(sahel)["member_steps"]) == 1
    with engine.connect() as conn:
        hubs = set(
            conn.execute(
                select(t.events.c.hub).where(t.events.c.hub.like(catalyst_hub_name + "%"))
            ).scalars()
        )
    assert hubs == {andes.hub, sahel.hub}
    engine.dispose()


def test_earliest_step_time_wins_whatever_the_order(catalyst_store):
    ingestor = Ingestor(catalyst_store)
    sender = Sender("m1", "andes")
    late = {
        "id": str(uuid.uuid4()),
        "schema": "action",
        "version": 1,
        "time": "2026-05-03T10:00:00Z",
        "payload": {"action": "cell_executed"},
    }
    early = {**late, "id": str(uuid.uuid4()), "time": "2026-05-01T08:00:00Z"}
    ingestor.ingest([late], sender)
    ingestor.ingest([early], sender)
    with catalyst_store.connect() as conn:
        reached = conn.execute(
            select(t.member_steps.c.reached).where(t.member_steps.c.hub == catalyst_store.hub)
        ).scalar()
        member = conn.execute(select(t.members).where(t.members.c.hub == catalyst_store.hub)).one()
    assert reached == datetime(2026, 5, 1, 8, 0)
    assert member.first_seen == datetime(2026, 5, 1, 8, 0)
    assert member.last_active == datetime(2026, 5, 3, 10, 0)


# -- activation: members.activated ---------------------------------------------------------------

ALL_STEPS = [step.id for step in Catalog.load().steps]  # the packaged checklist
#: sahel's checklist is two steps; every other community has all of them
SAHEL = ["login", "run_code"]


def checklist_catalog() -> Catalog:
    base = Catalog.load()
    return Catalog(base.steps, base.programs, {"sahel": {"steps": SAHEL}})


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 5, day, hour)


def activation_stream() -> list[tuple[dict, Sender]]:
    """Steps out of order, a step reached again earlier, and members changing community."""

    def event(schema, payload, when):
        return {
            "id": str(uuid.uuid4()),
            "schema": schema,
            "version": 1,
            "time": when.isoformat() + "Z",
            "payload": payload,
        }

    def step(name, when):
        return event("step_reached", {"step": name}, when)

    def active(when):
        return event("activity", {"kind": "kernel", "count": 1, "seconds": 5}, when)

    out = []
    # ana (andes): every step, the last of them (use_git) first reached May 9 and again May 4
    for i, name in enumerate(ALL_STEPS):
        if name != "use_git":
            out.append((step(name, at(2 + i % 3, 9 + i)), "ana", "andes"))
    out.append((step("use_git", at(9)), "ana", "andes"))
    out.append((step("use_git", at(4, 20)), "ana", "andes"))
    # ben: seven of andes's steps, then moves to sahel, whose two steps he has
    for i, name in enumerate(ALL_STEPS[:-1]):
        out.append((step(name, at(3, 8 + i)), "ben", "andes"))
    out.append((active(at(12)), "ben", "sahel"))
    out.append((active(at(6)), "ben", "andes"))  # an older event: he stays in sahel
    # caro: activated in sahel, then moves to andes, where she misses steps
    out.append((step("login", at(2)), "caro", "sahel"))
    out.append((step("run_code", at(5)), "caro", "sahel"))
    out.append((active(at(14)), "caro", "andes"))
    # dan (sahel): one of the two steps
    out.append((step("run_code", at(7)), "dan", "sahel"))
    return [(raw, Sender(member_id=name, community=community)) for raw, name, community in out]


EXPECTED_ACTIVATED = {
    "ana": at(4, 20),  # use_git's earliest time is the latest of her steps' earliest
    "ben": at(3, 12),  # sahel: login May 3 08:00, run_code May 3 12:00
    "caro": None,  # andes now: not every step
    "dan": None,
}


def activated_of(store: Store) -> dict[str, datetime | None]:
    m = t.members.c
    with store.connect() as conn:
        return dict(conn.execute(select(m.member_id, m.activated).where(m.hub == store.hub)).all())


def test_activation_whatever_the_order_equals_rebuild(catalyst_store):
    """Any arrival order and batching, duplicates, and a rebuild give the same activation."""
    catalog = checklist_catalog()
    stream = activation_stream()
    for seed in range(4):
        store = Store(
            catalyst_store.engine,
            f"{catalyst_store.hub}-{seed}",
            catalyst_store.secret,
            Projector(catalog),
        )
        store.consent_mode = catalyst_store.consent_mode
        ingestor = Ingestor(store)
        rng = random.Random(seed)
        order = stream[:] if seed == 0 else rng.sample(stream, len(stream))
        i = 0
        while i < len(order):
            size = rng.randint(1, 5)
            by_sender: dict = {}
            for raw, sender in order[i : i + size]:
                by_sender.setdefault(sender, []).append(raw)
            for sender, raws in by_sender.items():
                ok, results = ingestor.ingest(raws, sender)
                assert ok, [r.to_json() for r in results if r.status == "error"]
            i += size
        ingestor.ingest([order[0][0]], order[0][1])  # a retried delivery
        assert activated_of(store) == EXPECTED_ACTIVATED, seed
        assert step_communities(store) == EXPECTED_STEP_COMMUNITIES, seed
        live = snapshot(store)
        store.rebuild()
        assert snapshot(store) == live


#: every step row in its member's community: the one of their latest event
EXPECTED_STEP_COMMUNITIES = {
    "ana": {"andes"},
    "ben": {"sahel"},
    "caro": {"andes"},
    "dan": {"sahel"},
}


def step_communities(store: Store) -> dict[str, set[str]]:
    ms = t.member_steps.c
    out: dict[str, set[str]] = {}
    with store.connect() as conn:
        for member_id, community in conn.execute(
            select(ms.member_id, ms.community).where(ms.hub == store.hub)
        ):
            out.setdefault(member_id, set()).add(community)
    return out


def test_activation_with_one_checklist_for_all(catalyst_store):
    """The packaged catalog (one checklist): a community change needs no recomputation, and
    only batches that reach a step are looked at."""
    ingestor = Ingestor(catalyst_store)
    for raw, sender in activation_stream():
        ingestor.ingest([raw], sender)
    assert activated_of(catalyst_store) == {
        "ana": at(4, 20),
        "ben": None,  # seven of eight steps, wherever he is
        "caro": None,
        "dan": None,
    }
    live = snapshot(catalyst_store)
    catalyst_store.rebuild()
    assert snapshot(catalyst_store) == live


def test_ensure_activation_after_migration_and_catalog_change(catalyst_store):
    """A database migrated to the column has it empty and no checklists recorded: the first
    ``ensure_activation`` computes it, the next ones do nothing until the checklists change."""
    ingestor = Ingestor(catalyst_store)
    for raw, sender in activation_stream():
        ingestor.ingest([raw], sender)
    hub = catalyst_store.hub
    with catalyst_store.begin() as conn:  # as 0007 leaves an existing database
        conn.execute(update(t.members).where(t.members.c.hub == hub).values(activated=None))
    packaged = catalyst_store.projector
    with catalyst_store.begin() as conn:
        assert packaged.ensure_activation(conn, hub)
    assert activated_of(catalyst_store)["ana"] == at(4, 20)
    with catalyst_store.begin() as conn:
        assert not packaged.ensure_activation(conn, hub)
        # sahel gets a checklist of its own: ben, who moved there, is activated
        assert Projector(checklist_catalog()).ensure_activation(conn, hub)
    assert activated_of(catalyst_store) == EXPECTED_ACTIVATED


def test_a_stored_event_is_a_row_of_the_log():
    """The store writes a StoredEvent as a row of the events table by position."""
    from catalyst_hub.events import StoredEvent

    assert StoredEvent._fields == tuple(c.name for c in t.events.c)
