"""Alembic migrations: from nothing to head, and a service that refuses an old schema."""

import subprocess
import sys
import uuid
from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import MetaData, Table, delete, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from catalyst_hub.catalog import Catalog
from catalyst_hub.store import DatabaseNeedsUpgrade, check_current, make_engine, upgrade
from catalyst_hub.store.engine import alembic_config, current_revision
from catalyst_hub.store.tables import metadata


def test_upgrade_creates_every_table(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with pytest.raises(DatabaseNeedsUpgrade, match="catalyst-hub db upgrade"):
        check_current(engine)
    upgrade(engine)
    check_current(engine)
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_cli_upgrade_then_service_refuses_an_older_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    upgrade(engine, "0001")
    from alembic.script import ScriptDirectory

    from catalyst_hub.store.engine import alembic_config

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    if head == "0001":
        # only one revision so far: simulate an old database by stamping an unknown older one
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "catalyst_hub",
            "rebuild",
            f"--db-url={url}",
            f"--data-dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "catalyst-hub db upgrade" in run.stderr
    assert "Traceback" not in run.stderr
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    run = subprocess.run(
        [sys.executable, "-m", "catalyst_hub", "db", "upgrade", f"--db-url={url}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    check_current(engine)


@pytest.mark.parametrize(
    "command", [["service"], ["db", "upgrade"], ["rebuild"], ["demo"], ["seed"], ["export"], []]
)
def test_cli_help(command):
    run = subprocess.run(
        [sys.executable, "-m", "catalyst_hub", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "--db-url" in run.stdout or not command or command == ["demo"]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request, tmp_path):
    """An empty database: a new SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from catalyst_hub.pytest_plugin import POSTGRES_URL, missing, postgres_admin

    name = f"catalyst_migrations_{uuid.uuid4().hex[:8]}"
    admin = postgres_admin()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        admin.dispose()
        missing(f"PostgreSQL is not reachable at {POSTGRES_URL}: {e}")
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migrations_make_the_tables_of_the_code(empty_db_url):
    """Alembic's own comparison finds nothing between the migrated schema and tables.py."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(empty_db_url)
    upgrade(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert differences == []


def test_event_key_migration_keeps_the_log(empty_db_url):
    """0006 re-keys the log by member: rows survive it and its downgrade, and afterwards the
    same id from two members is two events."""
    engine = make_engine(empty_db_url)
    upgrade(engine, "0005_session_report_index")
    row = {
        "hub": "h",
        "community": "c",
        "schema": "action",
        "version": 1,
        "time": datetime(2026, 1, 1),
        "received": datetime(2026, 1, 1),
        "payload": {"action": "cell_executed"},
    }
    events = Table("events", MetaData(), autoload_with=engine)
    with engine.begin() as conn:
        conn.execute(insert(events), [{**row, "id": f"id-{i}", "member_id": "a"} for i in range(3)])
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(events), [{**row, "id": "id-0", "member_id": "b"}])
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 4
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(insert(events), [{**row, "id": "id-1", "member_id": "a"}])
    assert inspect(engine).get_pk_constraint("events")["constrained_columns"] == [
        "hub",
        "member_id",
        "id",
    ]
    with engine.begin() as conn:
        conn.execute(delete(events).where(events.c.member_id == "b"))
    command.downgrade(alembic_config(engine), "0005_session_report_index")
    assert inspect(engine).get_pk_constraint("events")["constrained_columns"] == ["id"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 3
    engine.dispose()


def test_activation_after_upgrade(empty_db_url):
    """0007 adds ``members.activated`` empty; ``catalyst-hub db upgrade`` fills it from the
    steps with the hub's catalog, so reports give the same figures as before the upgrade."""
    engine = make_engine(empty_db_url)
    upgrade(engine, "0006_events_member_key")
    meta = MetaData()
    members = Table("members", meta, autoload_with=engine)
    steps = Table("member_steps", meta, autoload_with=engine)
    checklist = [step.id for step in Catalog.load().steps]  # the packaged checklist
    seen = datetime(2026, 1, 1)
    with engine.begin() as conn:
        for hub in ("h", "other"):
            conn.execute(
                insert(members),
                [
                    {
                        "hub": hub,
                        "member_id": name,
                        "community": "c",
                        "first_seen": seen,
                        "last_active": seen,
                    }
                    for name in ("done", "halfway")
                ],
            )
            conn.execute(
                insert(steps),
                [
                    {
                        "hub": hub,
                        "member_id": name,
                        "step": step,
                        "community": "c",
                        "reached": datetime(2026, 1, 2 + i),
                    }
                    for name, reached in (("done", checklist), ("halfway", checklist[:3]))
                    for i, step in enumerate(reached)
                ],
            )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "catalyst_hub",
            "db",
            "upgrade",
            f"--db-url={empty_db_url}",
            "--hub-name=h",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    meta = MetaData()
    members = Table("members", meta, autoload_with=engine)
    with engine.connect() as conn:
        activated = {
            (hub, name): when
            for hub, name, when in conn.execute(
                select(members.c.hub, members.c.member_id, members.c.activated)
            )
        }
    assert activated == {
        ("h", "done"): datetime(2026, 1, 9),
        ("h", "halfway"): None,
        # another hub of the database: its own service computes it with its own catalog
        ("other", "done"): None,
        ("other", "halfway"): None,
    }
    command.downgrade(alembic_config(engine), "0006_events_member_key")
    assert "activated" not in {c["name"] for c in inspect(engine).get_columns("members")}
    assert "activation_checklists" not in inspect(engine).get_table_names()
    engine.dispose()


def test_step_rows_take_their_members_community(empty_db_url):
    """0009 gives every member_steps row its member's community (steps were written with the
    community of the event that reached them); its downgrade keeps the rows."""
    engine = make_engine(empty_db_url)
    upgrade(engine, "0008_session_kind_index")
    when = datetime(2026, 1, 1)
    tables = MetaData()
    members = Table("members", tables, autoload_with=engine)
    steps = Table("member_steps", tables, autoload_with=engine)
    member = {"hub": "h", "first_seen": when, "last_active": when}
    with engine.begin() as conn:
        conn.execute(
            insert(members),
            [
                {**member, "member_id": "moved", "community": "sahel"},
                {**member, "member_id": "stayed", "community": "andes"},
            ],
        )
        conn.execute(
            insert(steps),
            [
                {"hub": "h", "member_id": m, "step": s, "community": c, "reached": when}
                for m, s, c in [
                    ("moved", "login", "andes"),
                    ("moved", "run_code", "sahel"),
                    ("stayed", "login", "andes"),
                ]
            ],
        )
    upgrade(engine)

    def rows():
        with engine.connect() as conn:
            return sorted(conn.execute(select(steps.c.member_id, steps.c.step, steps.c.community)))

    assert rows() == [
        ("moved", "login", "sahel"),
        ("moved", "run_code", "sahel"),
        ("stayed", "login", "andes"),
    ]
    command.downgrade(alembic_config(engine), "0008_session_kind_index")
    assert len(rows()) == 3
    engine.dispose()


# -- 0010: the collector's ids keyed with the secret ------------------------------------------

OLD_NAMESPACE = uuid.UUID("6f1c1c3e-2b7a-4e8e-9d56-3c1f0a6e7b21")
SECRET = b"deployment-secret-" + b"9" * 32


def _old_id(*parts: str) -> str:
    """An id as the collector made them before 0010: uuid5 of hub and username."""
    return str(uuid.uuid5(OLD_NAMESPACE, "/".join(parts)))


def _old_collector_rows(hub: str, username: str, secret: bytes = SECRET):
    """What the collector stored at 0009 for one member with a server: ids, rows, the hub's
    user model that produced them."""
    from catalyst_hub.identity import member_id
    from catalyst_hub.store import tables as t
    from catalyst_hub.timeutil import isoformat, parse_time

    member = member_id(secret, hub, username)
    started = isoformat(parse_time("2026-11-30T09:00:00.250000Z"))
    last = parse_time("2026-11-30T10:30:00Z")
    now = datetime(2026, 11, 30, 12, 0)
    user = {
        "name": username,
        "last_activity": isoformat(last),
        "groups": [],
        "servers": {"": {"started": started, "last_activity": isoformat(last)}},
    }
    events = [
        (_old_id(hub, username, "logged_in"), "action", last, {"action": "logged_in"}),
        (
            _old_id(hub, username, "", started, "start"),
            "server_started",
            parse_time(started),
            {"server_name": "", "started": started},
        ),
        (
            _old_id(hub, username, "", last.date().isoformat(), "activity"),
            "activity",
            last,
            {"kind": "server", "count": 1},
        ),
        (
            _old_id(hub, member, "", started, "stop"),
            "server_stopped",
            now,
            {"server_name": "", "started": started, "last_activity": isoformat(last)},
        ),
    ]
    rows = [
        {
            "id": event_id,
            "hub": hub,
            "member_id": member,
            "community": "default",
            "schema": schema,
            "version": 1,
            "time": time,
            "received": now,
            "payload": payload,
        }
        for event_id, schema, time, payload in events
    ]
    identity = {"hub": hub, "username": username, "member_id": member, "created": now}
    with_tables = (t.events, rows), (t.identities, [identity])
    return member, user, with_tables


def _at_0009_with_old_ids(url: str, hub: str, username: str, secret: bytes = SECRET):
    engine = make_engine(url)
    if current_revision(engine) is None:
        upgrade(engine, "0009_step_member_community")
    member, user, with_tables = _old_collector_rows(hub, username, secret)
    with engine.begin() as conn:
        for table, rows in with_tables:
            conn.execute(insert(table), rows)
    return engine, member, user


def test_0010_rekeys_collector_ids_to_what_the_collector_now_makes(empty_db_url):
    from types import SimpleNamespace

    from catalyst_hub.ingest import COLLECTOR, Ingestor, Sender
    from catalyst_hub.projections import Projector
    from catalyst_hub.service.collector import Collector, event_id
    from catalyst_hub.store import Store
    from catalyst_hub.store import tables as t

    hub, username = "andes", "ana.silva@example.org"
    engine, member, user = _at_0009_with_old_ids(empty_db_url, hub, username)
    with engine.connect() as conn:
        before = set(conn.execute(select(t.events.c.id)).scalars())
    upgrade(engine, secrets={hub: SECRET})
    with engine.connect() as conn:
        after = set(conn.execute(select(t.events.c.id)).scalars())
    assert len(after) == 4 and not (after & before)

    # polling the same hub state again: every event is a duplicate of a migrated one
    store = Store(engine, hub, SECRET, Projector(Catalog.load()))
    store.consent_mode = "opt-out"  # the member's decision is not what this is about
    app = SimpleNamespace(hub_name=hub, store=store, ingestor=Ingestor(store))
    collector = Collector(app=app)
    collector._running = {}
    items = collector._user_events(user, Sender(member, "default"), set())
    ((_, _, started),) = collector._running
    stop = event_id(SECRET, hub, member, "", started, "stop")
    assert {raw["id"] for raw, _ in items} | {stop} == after
    stored, held = app.ingestor.ingest_trusted(items, COLLECTOR)
    assert stored == set() and held == set()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.events)).scalar() == 4
    engine.dispose()


def test_0010_needs_each_hubs_own_secret(empty_db_url):
    engine, _, _ = _at_0009_with_old_ids(empty_db_url, "sahel", "kofi@example.org")
    with pytest.raises(RuntimeError, match="catalyst-hub db upgrade --config"):
        upgrade(engine)
    with pytest.raises(RuntimeError, match="is not the one its member ids were made with"):
        upgrade(engine, secrets={"sahel": b"another-secret-" + b"1" * 32})
    assert check_current_fails(engine)
    engine.dispose()


def check_current_fails(engine) -> bool:
    try:
        check_current(engine)
    except DatabaseNeedsUpgrade:
        return True
    return False


def test_cli_upgrade_rekeys_every_hub_with_its_secret(tmp_path):
    """Two hubs share the database, each with its own secret: one run with this hub's config
    and the other's secret file re-keys both."""
    from catalyst_hub.store import tables as t

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    other = b"sahel-secret-" + b"2" * 32
    engine, _, _ = _at_0009_with_old_ids(url, "andes", "ana@example.org")
    _at_0009_with_old_ids(url, "sahel", "kofi@example.org", other)[0].dispose()
    (tmp_path / "andes-secret").write_text(SECRET.decode())
    (tmp_path / "sahel-secret").write_text(other.decode())
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "catalyst_hub",
            "db",
            "upgrade",
            f"--db-url={url}",
            "--CatalystApp.hub_name=andes",
            f"--CatalystApp.secret_file={tmp_path / 'andes-secret'}",
            f"--DbUpgradeApp.other_hub_secret_files=sahel={tmp_path / 'sahel-secret'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    check_current(engine)
    with engine.connect() as conn:
        ids = set(conn.execute(select(t.events.c.id)).scalars())
    old = {_old_id("andes", "ana@example.org", "logged_in")}
    old.add(_old_id("sahel", "kofi@example.org", "logged_in"))
    assert len(ids) == 8 and not (ids & old)


def test_sessions_get_their_end(empty_db_url):
    """0011 computes ``server_sessions.ended`` of the existing rows with the default hour of
    idle cull, and adds ``app_activity``; its downgrade removes both."""
    engine = make_engine(empty_db_url)
    upgrade(engine, "0009_step_member_community")
    sessions = Table("server_sessions", MetaData(), autoload_with=engine)

    def at(hour, minute=0):
        return datetime(2026, 3, 10, hour, minute)

    row = {"hub": "h", "member_id": "m", "server_name": "", "community": "andes"}
    with engine.begin() as conn:
        conn.execute(
            insert(sessions),
            [
                {**row, "started": at(9), "stopped": at(10), "last_activity": at(9, 55)},
                {**row, "started": at(11), "stopped": None, "last_activity": None},
                {**row, "started": at(12, 30), "stopped": at(16), "last_activity": at(14, 45)},
                {**row, "started": at(15), "stopped": None, "last_activity": None},
                {
                    **row,
                    "server_name": "gpu",
                    "started": at(10),
                    "stopped": None,
                    "last_activity": at(10, 30),
                },
            ],
        )
    upgrade(engine)
    sessions = Table("server_sessions", MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        ends = sorted(
            conn.execute(select(sessions.c.server_name, sessions.c.started, sessions.c.ended))
        )
    assert ends == [
        ("", at(9), at(10)),
        ("", at(11), at(12)),
        ("", at(12, 30), at(15)),
        ("", at(15), at(16)),
        ("gpu", at(10), at(11, 30)),
    ]
    assert "app_activity" in inspect(engine).get_table_names()
    command.downgrade(alembic_config(engine), "0009_step_member_community")
    assert "ended" not in {c["name"] for c in inspect(engine).get_columns("server_sessions")}
    assert "app_activity" not in inspect(engine).get_table_names()
    engine.dispose()
