"""The database, its WAL and SHM files, the secret and the folders made for them are the
service's user's alone, whatever the umask (personal data: usernames, member ids, events)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from catalyst_hub.catalyst_app import CatalystApp
from catalyst_hub.store import make_engine, upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The umask of a service started from a shell with the usual defaults."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_sqlite_database_and_its_wal_files_are_private(tmp_path, open_umask):
    database = tmp_path / "new" / "data" / "catalyst.sqlite"
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    with engine.begin() as conn:  # WAL mode: the -wal and -shm files exist while connected
        conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
        conn.execute(text("INSERT INTO scratch VALUES (1)"))
        companions = [Path(f"{database}{suffix}") for suffix in ("-wal", "-shm")]
        assert all(p.exists() for p in companions)
        assert {p.name: mode(p) for p in [database, *companions]} == {
            p.name: 0o600 for p in [database, *companions]
        }
    engine.dispose()
    assert mode(database.parent) == mode(database.parent.parent) == 0o700


def test_files_an_earlier_version_left_readable_are_restricted(tmp_path, open_umask):
    database = tmp_path / "catalyst.sqlite"
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    engine.dispose()
    os.chmod(database, 0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert mode(database) == 0o600


def test_the_service_data_folder_and_secret_are_private(tmp_path, open_umask):
    data = tmp_path / "service-data"
    app = CatalystApp(data_dir=str(data), hub_name="private")
    app.init_store(check=True)
    app.engine.dispose()
    assert mode(data) == 0o700
    assert mode(data / "catalyst_hub_secret") == 0o600
    assert mode(data / "catalyst_hub.sqlite") == 0o600
    existing = tmp_path / "secret-from-before"
    existing.write_text("x" * 64)
    os.chmod(existing, 0o644)
    from catalyst_hub.identity import load_or_create_secret

    load_or_create_secret(existing)
    assert mode(existing) == 0o600
