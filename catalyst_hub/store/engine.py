"""Engine creation and schema version checks for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from ..private_files import prepare_sqlite_file


class DatabaseNeedsUpgrade(RuntimeError):
    """The database schema is older (or newer) than this version of catalyst_hub."""


def normalize_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs, as SQLAlchemy would pick psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            prepare_sqlite_file(parsed.database)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL lets report reads run while ingest writes; NORMAL sync is durable in WAL mode
            # against process crashes, which is the failure we design for.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Speed only, durability unchanged: a page cache that holds the event indexes'
            # hot pages (the default is 2 MB), sorts in memory, and a WAL checkpoint (which
            # syncs to disk) every ~40 MB of log instead of every 4 MB: with ingest batches
            # of a few MB, the default checkpointed on nearly every commit.
            cursor.execute("PRAGMA cache_size=-32768")
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.execute("PRAGMA wal_autocheckpoint=10000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def alembic_config(engine: Engine, secrets: dict[str, bytes] | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", "catalyst_hub.store:migrations")
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    # data migrations that re-key rows need the hubs' secrets, which Alembic cannot find
    config.attributes["secrets"] = dict(secrets or {})
    return config


def upgrade(
    engine: Engine, revision: str = "head", secrets: dict[str, bytes] | None = None
) -> None:
    """Create or migrate the schema (``catalyst-hub db upgrade``); ``secrets`` ({hub: secret})
    lets migrations re-key those hubs' rows."""
    command.upgrade(alembic_config(engine, secrets), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_current(engine: Engine) -> None:
    """Raise DatabaseNeedsUpgrade unless the schema is at this version's head."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    current = current_revision(engine)
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        state = "has no catalyst_hub tables" if current is None else f"is at revision {current}"
        raise DatabaseNeedsUpgrade(
            f"The database {where} {state}; this version needs revision {head}. "
            f"Run `catalyst-hub db upgrade --db-url={where}` (back it up first)."
        )


class WalCheckpointer:
    """SQLite: WAL checkpoints in a thread of their own, off the commit path.

    By default the commit that takes the write-ahead log past ``wal_autocheckpoint`` pages
    copies it into the database file and syncs it, and that request waits (tens of
    milliseconds every few commits while ingesting fast). The service turns automatic
    checkpoints off on its connections and runs a PASSIVE checkpoint every ``interval``
    seconds here instead: it copies what no reader still needs, never blocks a writer, and
    SQLite releases the GIL while it runs. Durability is unchanged (WAL, synchronous=NORMAL).
    """

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def applies_to(engine: Engine) -> bool:
        return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")

    def start(self) -> None:
        event.listen(self.engine, "connect", _no_autocheckpoint)
        # connections made before this (schema checks) checkpoint by themselves: close them
        self.engine.dispose()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.checkpoint()

    def checkpoint(self) -> tuple[int, int, int]:
        """One PASSIVE checkpoint: (busy, frames in the log, frames checkpointed)."""
        with self.engine.connect() as conn:
            return tuple(conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one())

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.checkpoint()
            except Exception:  # a locked or busy database: the next turn tries again
                logging.getLogger(__name__).debug("WAL checkpoint failed", exc_info=True)


def _no_autocheckpoint(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()
