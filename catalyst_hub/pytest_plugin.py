"""Pytest fixtures for catalyst_hub and for deployments that extend it.

Enabled as a pytest plugin through the ``pytest11`` entry point. Engines:

- ``catalyst_db_url`` is parametrized over SQLite and PostgreSQL. PostgreSQL is found at
  ``$CATALYST_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
  Where none answers the PostgreSQL cases skip, unless ``$CATALYST_REQUIRE_ALL`` is set (CI),
  which turns the skip into a failure.
- Every test gets its own ``hub`` name: rows carry it, so tests sharing one PostgreSQL
  database never see each other's rows (which is also how hubs share a database).
"""

from __future__ import annotations

import os
import uuid

import pytest

POSTGRES_URL = os.environ.get("CATALYST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def require_all() -> bool:
    """In CI every optional component (PostgreSQL, Chromium) must be present."""
    return os.environ.get("CATALYST_REQUIRE_ALL", "").lower() not in ("", "0", "false", "no")


def missing(what: str) -> None:
    """Skip for a missing component locally; fail in CI."""
    if require_all():
        pytest.fail(f"{what} (CATALYST_REQUIRE_ALL is set, so this fails instead of skipping)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def _postgres_engine():
    from sqlalchemy import text

    from catalyst_hub.store import make_engine, upgrade

    try:
        engine = make_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as e:  # no server, or refused
        yield e
        return
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalyst_db_url(request, tmp_path) -> str:
    """A migrated database URL: a fresh SQLite file, or the shared PostgreSQL test database."""
    if request.param == "sqlite":
        from catalyst_hub.store import make_engine, upgrade

        url = f"sqlite:///{tmp_path / 'catalyst.sqlite'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url
    engine = request.getfixturevalue("_postgres_engine")
    if isinstance(engine, Exception):
        missing(f"PostgreSQL is not reachable at {POSTGRES_URL}: {engine}")
    return POSTGRES_URL


@pytest.fixture
def catalyst_hub_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def catalyst_store(catalyst_db_url, catalyst_hub_name):
    """A Store on a migrated database with the packaged catalog, for this test's hub."""
    from catalyst_hub.catalog import Catalog
    from catalyst_hub.store import Store, make_engine

    engine = make_engine(catalyst_db_url)
    store = Store(engine, catalyst_hub_name, b"test-secret-" + b"0" * 32, Catalog.load())
    yield store
    engine.dispose()


@pytest.fixture
def make_event():
    """Build an event envelope: ``make_event("action", {"action": "cell_executed"}, time=...)``."""
    from datetime import datetime, timezone

    def _make(schema: str, payload: dict, time: str | datetime | None = None, version: int = 1, id: str | None = None) -> dict:
        if time is None:
            time = datetime.now(timezone.utc)
        if isinstance(time, datetime):
            time = time.isoformat()
        return {"id": id or str(uuid.uuid4()), "schema": schema, "version": version, "time": time, "payload": payload}

    return _make
