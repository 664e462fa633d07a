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
from catalyst_hub.store.engine import alembic_config
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
    "command", [["service"], ["db", "upgrade"], ["rebuild"], ["demo"], ["seed"], []]
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
