"""The Parquet export (``catalyst-hub export --parquet``), read back by DuckDB as an analyst
would: its figures equal the service's reports, a second export rewrites only the partitions
that changed and ends as a fresh export would, and no username, email or erased member is in
it (SQLite and PostgreSQL, on the hand-built hub of ``conftest.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb  # a test dependency: missing, the suite fails rather than skips
import pytest

from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.reports.adoption import adoption_summary
from catalyst_hub.reports.common import Period
from catalyst_hub.reports.training import training_by_community
from catalyst_hub.store import privacy
from catalyst_hub.store import warehouse as w
from catalyst_hub.warehouse import ExportError
from catalyst_hub.warehouse.parquet import MANIFEST, export_parquet

#: members whose usernames are email addresses, as on the real hubs
EMAILS = ("luisa.quispe@andes.example.org", "kwame.mensah@uni.example.edu")


def at(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour)


def tables() -> list[str]:
    return [table.name for table in w.export_tables()]


def read(folder: Path, table: str) -> str:
    """The DuckDB relation of one exported table, its partition columns included."""
    return f"read_parquet('{folder}/{table}/*/*/*.parquet', hive_partitioning = true)"


def parts(folder: Path) -> dict[str, os.stat_result]:
    return {str(p.parent.relative_to(folder)): p.stat() for p in sorted(folder.rglob("*.parquet"))}


def contents(folder: Path) -> dict[str, list[tuple]]:
    """Every row of every exported table, in one order (the files' own order is the
    database's)."""
    db = duckdb.connect()
    out = {}
    for table in tables():
        if (folder / table).exists():
            out[table] = sorted(db.sql(f"SELECT * FROM {read(folder, table)}").fetchall(), key=repr)
    return out


def all_text(folder: Path) -> str:
    """Every value of every file, decoded (the raw bytes are compressed)."""
    db = duckdb.connect()
    text = []
    for table in contents(folder):
        for row in db.sql(f"SELECT * FROM {read(folder, table)}").fetchall():
            text.append("\t".join(map(str, row)))
    return "\n".join(text)


def add_email_members(hub, make_event) -> None:
    """Two members named by email, with activity, steps, a session and training."""
    ingestor = Ingestor(hub.store)
    for name in EMAILS:
        member = hub.store.member_id(name)
        own = [
            make_event("activity", {"kind": "kernel", "count": 2, "seconds": 60}, time=at(5)),
            make_event("step_reached", {"step": "login"}, time=at(5)),
            make_event(
                "episode_completed", {"lesson": "hub-basics", "episode": "persistence"}, time=at(6)
            ),
        ]
        stored, results = ingestor.ingest(own, Sender(member, "andes", "member"))
        assert stored, [r.to_json() for r in results]
        session = make_event(
            "server_started", {"server_name": "", "started": at(5).isoformat() + "Z"}, time=at(5)
        )
        stored, results = ingestor.ingest([session], Sender(member, "andes", "collector"))
        assert stored, [r.to_json() for r in results]


def test_duckdb_figures_equal_the_reports(hub, make_event, tmp_path):
    add_email_members(hub, make_event)
    out = tmp_path / "export"
    summary = export_parquet(hub.store, out)
    assert summary.written == len(parts(out)) > 0
    db = duckdb.connect()
    for month in (2, 3):
        active = db.sql(
            f"SELECT count(DISTINCT member_id) FROM {read(out, 'daily_activity')} "
            f"WHERE community = 'andes' AND month = '2026-{month:02d}'"
        ).fetchall()[0][0]
        report = adoption_summary(hub.store, "andes", Period.month(2026, month))
        assert active == report.active_members > 0
    completed = db.sql(
        f"SELECT count(*) FROM {read(out, 'training_progress')} "
        "WHERE community = 'andes' AND completed IS NOT NULL"
    ).fetchall()[0][0]
    assert completed == training_by_community(hub.store, ["andes"])["andes"].episodes_completed
    assert completed == 4  # ana's first-notebook, dan's persistence, the two email members'
    # the hub and the month are partition folders; the staff account is left out everywhere
    hubs = db.sql(f"SELECT DISTINCT hub FROM {read(out, 'events')}").fetchall()
    assert hubs == [(hub.store.hub,)]
    assert hub.ids["staff"] not in all_text(out)
    assert {"SCHEMA.md", "schema.json", MANIFEST} <= {p.name for p in out.iterdir()}
    schema = (out / "SCHEMA.md").read_text()
    for table in w.export_tables():
        assert f"## {table.name}" in schema
        for column in table.columns:
            assert f"| `{column.name}` |" in schema


def test_no_username_or_email_in_any_byte(hub, make_event, tmp_path):
    add_email_members(hub, make_event)
    out = tmp_path / "export"
    export_parquet(hub.store, out)
    names = [*EMAILS, *(e.split("@")[0] for e in EMAILS), *(e.split("@")[1] for e in EMAILS)]
    text = all_text(out)
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for name in names:
                assert name.encode() not in data, (path, name)
    for name in names:
        assert name not in text
    assert "@" not in text
    assert hub.store.member_id(EMAILS[0]) in text  # members are there, by member id


def test_incremental_rewrites_only_changed_partitions(hub, make_event, tmp_path):
    out = tmp_path / "export"
    export_parquet(hub.store, out)
    before = parts(out)
    files = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}  # manifest, schema too
    again = export_parquet(hub.store, out)
    assert again.written == 0
    assert parts(out) == before  # not one partition touched
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == files

    # ben is active again on March 14: the log, his day, his app time and his member row
    # change, all in March
    ingestor = Ingestor(hub.store)
    event = make_event("activity", {"kind": "kernel", "count": 1, "seconds": 60}, time=at(14))
    stored, _ = ingestor.ingest([event], Sender(hub.ids["ben"], "andes", "member"))
    assert stored
    summary = export_parquet(hub.store, out)
    after = parts(out)
    assert set(after) == set(before)
    rewritten = {
        key
        for key, stat in after.items()
        if (stat.st_ino, stat.st_mtime_ns) != (before[key].st_ino, before[key].st_mtime_ns)
    }
    month = f"hub={hub.store.hub}/month=2026-03"
    changed = ("events", "daily_activity", "app_activity", "members")
    assert rewritten == {f"{table}/{month}" for table in changed}
    assert summary.written == len(rewritten)
    assert summary.tables["events"].unchanged == summary.tables["events"].partitions - 1
    assert not list(out.rglob("*.tmp"))

    fresh = tmp_path / "fresh"
    export_parquet(hub.store, fresh)
    assert set(parts(fresh)) == set(after)
    assert contents(fresh) == contents(out)


def test_erased_member_leaves_the_export(hub, tmp_path):
    out = tmp_path / "export"
    export_parquet(hub.store, out)
    ana = hub.ids["ana"]
    assert ana in all_text(out)
    assert (out / f"events/hub={hub.store.hub}/month=2026-02").exists()  # ana's server, Feb 23
    privacy.erase_member(hub.store, ana)
    summary = export_parquet(hub.store, out)
    assert summary.tables["events"].removed == 1  # February held ana's events alone
    assert not (out / f"events/hub={hub.store.hub}/month=2026-02").exists()
    assert ana not in all_text(out)
    fresh = tmp_path / "fresh"
    export_parquet(hub.store, fresh)
    assert contents(fresh) == contents(out)


def test_small_buffers_give_the_same_export(hub, make_event, tmp_path, monkeypatch):
    """Chunks, row groups and the write buffer far smaller than the tables (as the log is
    far larger than them at scale): the same rows, in files of many row groups."""
    import pyarrow.parquet as pq

    from catalyst_hub.warehouse import parquet

    add_email_members(hub, make_event)
    export_parquet(hub.store, tmp_path / "plain")
    monkeypatch.setattr(parquet, "ROW_GROUP_ROWS", 3)
    monkeypatch.setattr(parquet, "BUFFER_ROWS", 5)
    small = tmp_path / "small"
    export_parquet(hub.store, small, chunk=4)
    assert contents(small) == contents(tmp_path / "plain")
    groups = [pq.ParquetFile(p).metadata.num_row_groups for p in small.rglob("*.parquet")]
    assert max(groups) > 1

    def prints(folder):
        entries = json.loads((folder / MANIFEST).read_text())["partitions"]
        return {key: entry["fingerprint"] for key, entry in entries.items()}

    assert prints(small) == prints(tmp_path / "plain")


def test_one_export_at_a_time(hub, tmp_path):
    import fcntl

    out = tmp_path / "export"
    out.mkdir()
    with open(out / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another export running
        with pytest.raises(ExportError, match="another export"):
            export_parquet(hub.store, out)
    assert not list(out.rglob("*.parquet"))
    assert export_parquet(hub.store, out).written > 0


def test_rows_of_an_erased_member_are_never_read(hub):
    """Defence in depth: rows of a member under a tombstone are filtered in the query too."""
    ana = hub.ids["ana"]
    privacy.erase_member(hub.store, ana)
    # as if a late writer had slipped a row in after the erasure
    from sqlalchemy import insert

    from catalyst_hub.store import tables as t

    with hub.store.begin() as conn:
        conn.execute(
            insert(t.daily_activity).values(
                hub=hub.store.hub,
                member_id=ana,
                day=at(9).date(),
                community="andes",
                events=1,
                seconds=1,
            )
        )
    table = next(x for x in w.export_tables() if x.name == "daily_activity")
    with w.snapshot(hub.store) as conn:
        rows = [row for chunk in w.stream_rows(conn, hub.store, table, chunk=2) for row in chunk]
    assert rows and ana not in {row[0] for row in rows}


@pytest.mark.parametrize("catalyst_db_url", ["sqlite"], indirect=True)
def test_the_command(catalyst_db_url, catalyst_hub_name, tmp_path, make_event):
    """``catalyst-hub export --parquet`` with the hub's configuration; and without pyarrow,
    an error naming the extra."""
    secret = tmp_path / "secret"
    args = [
        "export",
        f"--db-url={catalyst_db_url}",
        f"--hub-name={catalyst_hub_name}",
        f"--CatalystApp.secret_file={secret}",
        f"--parquet={tmp_path / 'out'}",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    run = subprocess.run(
        [sys.executable, "-m", "catalyst_hub", *args], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr
    assert "partition(s) written" in run.stderr
    assert (tmp_path / "out" / "SCHEMA.md").exists()

    # pyarrow missing: an import of it fails, as in an environment without the extra
    blocked = "import sys; sys.modules['pyarrow'] = None; from catalyst_hub.cli import main; main()"
    run = subprocess.run(
        [sys.executable, "-c", blocked, *args], capture_output=True, text=True, env=env
    )
    assert run.returncode == 2
    assert 'pip install "catalyst-hub[parquet]"' in run.stderr
