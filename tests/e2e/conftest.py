"""End-to-end fixtures: a real JupyterHub, proxy, catalyst service and single-user servers."""

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from catalyst_hub.pytest_plugin import POSTGRES_URL, missing
from harness.realhub import RealHub


@pytest.fixture
def real_hub(tmp_path):
    """Alice (andes) and Bob (sahel), on SQLite."""
    hub = RealHub(
        tmp_path / "hub",
        users={"alice@example.org": "alice-pass", "bob": "bob-pass"},
        groups={"community-andes": ["alice@example.org"], "community-sahel": ["bob"]},
    )
    hub.start()
    yield hub
    hub.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def e2e_database(request, tmp_path_factory):
    """A database URL: SQLite, or a PostgreSQL database of its own (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('e2e-db') / 'catalyst.sqlite'}"
        return
    name = f"catalyst_e2e_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        missing(f"PostgreSQL is not reachable at {POSTGRES_URL}: {e}")
    yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
