"""SQLite engine settings of the service."""

from catalyst_hub.store import make_engine, upgrade


def test_wal_checkpoints_run_in_the_background(tmp_path):
    """With the checkpointer on, a commit leaves the log to it; it checkpoints every frame
    once no reader needs them, and nothing is lost."""
    from catalyst_hub.store.engine import WalCheckpointer

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    checkpointer = WalCheckpointer(engine, interval=3600)  # turns driven by hand below
    assert WalCheckpointer.applies_to(engine)
    checkpointer.start()
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE filler (x TEXT)")
            conn.exec_driver_sql(
                "INSERT INTO filler SELECT hex(randomblob(500)) FROM "
                "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
                "SELECT i FROM n)"
            )
        busy, frames, done = checkpointer.checkpoint()
        assert busy == 0 and frames > 1000 and done == frames
    finally:
        checkpointer.stop()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM filler").scalar() == 5000
    engine.dispose()
    assert not WalCheckpointer.applies_to(make_engine("postgresql://nobody@127.0.0.1/none"))
