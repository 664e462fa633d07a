"""Alembic migrations: from nothing to head, and a service that refuses an old schema."""

import subprocess
import sys

import pytest
from sqlalchemy import inspect

from catalyst_hub.store import DatabaseNeedsUpgrade, check_current, make_engine, upgrade
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
