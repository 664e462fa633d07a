"""Write the export: Hive-style partitions (``<table>/hub=<hub>/month=YYYY-MM/part-0.parquet``),
incremental by a per-partition content fingerprint kept in ``_manifest.json``.

Each table is read in one database snapshot, in chunks (``store.warehouse.stream_rows``):

1. if the manifest knows partitions of this hub's table, a first pass only fingerprints every
   partition: a hash of each row, summed (so it depends on the rows, not on the order the
   database returns them), with the row count;
2. partitions that are new, changed (another fingerprint, or their file missing) are written
   in a second pass, each to a hidden temporary file in its folder, renamed over the old file
   only when complete (``os.replace``: a reader sees the old partition or the new one, never
   half of one); partitions whose rows are all gone (erased, purged) are removed;
3. the manifest and the schema document are replaced the same way.

Memory holds one chunk of the cursor and, for the partitions being written, a bounded number
of buffered rows: it does not grow with the number of events.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from sqlalchemy import Date, DateTime, Integer

from ..store import Store
from ..store import warehouse as w
from ..timeutil import isoformat, utcnow
from . import ExportError, require_pyarrow
from .schema import schema_document, write_schema

MANIFEST = "_manifest.json"
PART_FILE = "part-0.parquet"
FORMAT = 1
#: rows per Parquet row group, and buffered over all partitions being written at once
ROW_GROUP_ROWS = 65_536
BUFFER_ROWS = 100_000
_MOD = 1 << 128


@dataclass
class TableSummary:
    partitions: int = 0
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    rows: int = 0


@dataclass
class ExportSummary:
    folder: Path
    tables: dict[str, TableSummary] = field(default_factory=dict)

    @property
    def written(self) -> int:
        return sum(s.written for s in self.tables.values())

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.tables.values())

    def bytes(self) -> int:
        """Bytes of every Parquet file of the folder."""
        return sum(p.stat().st_size for p in self.folder.rglob("*.parquet"))


def arrow_schema(table: w.ExportTable):
    pa = require_pyarrow()
    fields = []
    for col in table.columns:
        if isinstance(col.type, DateTime):
            kind = pa.timestamp("us", tz="UTC")
        elif isinstance(col.type, Date):
            kind = pa.date32()
        elif isinstance(col.type, Integer):
            kind = pa.int64()
        else:
            kind = pa.string()
        fields.append(pa.field(col.name, kind, nullable=col.nullable))
    return pa.schema(fields)


def partition_path(table: str, hub: str, month: str) -> str:
    """The partition's folder, relative to the export's: Hive-style ``key=value`` parts."""
    return f"{table}/hub={quote(hub, safe='')}/month={month}"


def _month_name(number: int) -> str:
    """ "2026-11" of 202611 (the rows' months are numbered so in the loops below)."""
    return f"{number // 100:04d}-{number % 100:02d}"


def _row_hash(row: tuple, dumps=orjson.dumps, blake2b=hashlib.blake2b) -> int:
    return int.from_bytes(blake2b(dumps(row), digest_size=16).digest(), "little")


class _Fingerprint:
    __slots__ = ("rows", "total")

    def __init__(self) -> None:
        self.rows = 0
        self.total = 0

    def hexdigest(self) -> str:
        return f"{self.rows}:{self.total % _MOD:032x}"


class _PartitionWriter:
    """One partition being written: buffered rows, a ParquetWriter on a temporary file."""

    def __init__(self, folder: Path, schema) -> None:
        self.folder = folder
        self.schema = schema
        self.rows: list[tuple] = []
        self.fingerprint = _Fingerprint()
        self.tmp = folder / f".{PART_FILE}.{os.getpid()}.tmp"
        self.writer: Any = None  # a pyarrow ParquetWriter once the first rows come

    def add(self, row: tuple) -> None:
        self.rows.append(row)
        self.fingerprint.rows += 1
        self.fingerprint.total += _row_hash(row)

    def flush(self) -> None:
        if not self.rows:
            return
        pa = require_pyarrow()
        import pyarrow.parquet as pq

        columns = list(zip(*self.rows, strict=True))
        batch = pa.Table.from_arrays(
            [pa.array(values, type=f.type) for values, f in zip(columns, self.schema, strict=True)],
            schema=self.schema,
        )
        if self.writer is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.tmp, self.schema, compression="zstd")
        self.writer.write_table(batch, row_group_size=ROW_GROUP_ROWS)
        self.rows = []

    def finish(self) -> Path:
        """Flush, close and move the file into place; returns its final path."""
        self.flush()
        if self.writer is None:  # every row written above; an empty partition has no writer
            raise RuntimeError("no rows")
        self.writer.close()
        with open(self.tmp, "rb") as f:
            os.fsync(f.fileno())
        final = self.folder / PART_FILE
        os.replace(self.tmp, final)
        return final

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.tmp.unlink(missing_ok=True)


def _load_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.exists():
        return {"format": FORMAT, "partitions": {}}
    manifest = json.loads(path.read_text("utf-8"))
    if manifest.get("format") != FORMAT:
        raise ExportError(f"{path} is of another format ({manifest.get('format')!r})")
    return manifest


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def export_parquet(
    store: Store,
    folder: str | os.PathLike,
    log: Callable[[str], None] = lambda message: None,
    chunk: int = w.CHUNK_ROWS,
) -> ExportSummary:
    """Export ``store``'s hub into ``folder`` (created if missing), writing only the partitions
    that are new or changed since the last export there. Returns what was done."""
    require_pyarrow()
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary(root)
    tables = w.export_tables()
    with _exclusive(root), w.snapshot(store) as conn:
        manifest = _load_manifest(root)
        for table in tables:
            before = json.dumps(manifest["partitions"], sort_keys=True)
            summary.tables[table.name] = _export_table(
                conn, store, table, root, manifest, chunk, log
            )
            if json.dumps(manifest["partitions"], sort_keys=True) != before:
                manifest["updated"] = isoformat(utcnow())
                _write_atomic(root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
        write_schema(root, schema_document(tables, {t.name: arrow_schema(t) for t in tables}))
    return summary


@contextmanager
def _exclusive(root: Path):
    """One export at a time into a folder (hubs sharing a folder each write their own
    partitions, and the manifest is read, changed and replaced)."""
    import fcntl

    with open(root / ".lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportError(f"another export into {root} is running") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _export_table(
    conn, store: Store, table: w.ExportTable, root: Path, manifest: dict, chunk: int, log
) -> TableSummary:
    prefix = f"{table.name}/hub={quote(store.hub, safe='')}/"
    entries: dict[str, dict] = manifest["partitions"]
    known = {key: entry for key, entry in entries.items() if key.startswith(prefix)}
    for stale in (root / prefix).glob(f"*/.{PART_FILE}.*.tmp"):  # of an interrupted run
        stale.unlink(missing_ok=True)
    month_at = [c.name for c in table.columns].index(table.month_column.name)
    summary = TableSummary()

    # 1. which partitions changed (months numbered 202611 in the loops: they run per row)
    def key_of(month: int) -> str:
        return prefix + f"month={_month_name(month)}"

    to_write: set[int] | None = None  # None: every partition (nothing known yet)
    current: set[str] = set()
    if known:
        prints: dict[int, _Fingerprint] = {}
        for rows in w.stream_rows(conn, store, table, chunk):
            for row in rows:
                value = row[month_at]
                month = value.year * 100 + value.month
                fp = prints.get(month)
                if fp is None:
                    fp = prints[month] = _Fingerprint()
                fp.rows += 1
                fp.total += _row_hash(row)
        current = {key_of(month) for month in prints}
        to_write = {
            month
            for month, fp in prints.items()
            if (key := key_of(month)) not in known
            or known[key].get("fingerprint") != fp.hexdigest()
            or not (root / key / PART_FILE).exists()
        }
        summary.rows = sum(fp.rows for fp in prints.values())

    # 2. write them
    if to_write is None or to_write:
        schema = arrow_schema(table)
        writers: dict[int, _PartitionWriter] = {}
        buffered = 0
        try:
            # only the months to write are read again
            months = None if to_write is None else {_month_name(m) for m in to_write}
            for rows in w.stream_rows(conn, store, table, chunk, months):
                for row in rows:
                    value = row[month_at]
                    month = value.year * 100 + value.month
                    if to_write is not None and month not in to_write:
                        continue
                    part = writers.get(month)
                    if part is None:
                        part = writers[month] = _PartitionWriter(root / key_of(month), schema)
                    part.add(row)
                    buffered += 1
                    if len(part.rows) >= ROW_GROUP_ROWS:
                        buffered -= len(part.rows)
                        part.flush()
                if buffered > BUFFER_ROWS:  # bounded memory: the largest buffer goes out
                    for part in sorted(writers.values(), key=lambda p: -len(p.rows)):
                        buffered -= len(part.rows)
                        part.flush()
                        if buffered <= BUFFER_ROWS // 2:
                            break
            for month, part in sorted(writers.items()):
                final = part.finish()
                entries[key_of(month)] = {
                    "fingerprint": part.fingerprint.hexdigest(),
                    "rows": part.fingerprint.rows,
                    "bytes": final.stat().st_size,
                    "written": isoformat(utcnow()),
                }
                summary.written += 1
        except BaseException:
            for part in writers.values():
                part.abort()
            raise
        if to_write is None:
            current = {key_of(month) for month in writers}
            summary.rows = sum(p.fingerprint.rows for p in writers.values())

    # 3. partitions with no rows left
    for key in sorted(set(known) - current):
        (root / key / PART_FILE).unlink(missing_ok=True)
        for empty in (root / key, (root / key).parent):
            try:
                empty.rmdir()
            except OSError:
                break
        del entries[key]
        summary.removed += 1
    summary.partitions = len(current)
    summary.unchanged = summary.partitions - summary.written
    log(
        f"{table.name}: {summary.rows:,} rows in {summary.partitions} partitions "
        f"({summary.written} written, {summary.unchanged} unchanged, {summary.removed} removed)"
    )
    return summary
