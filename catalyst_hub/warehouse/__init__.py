"""The warehouse export: a hub's pseudonymous event log and daily tables as Parquet files that
DuckDB, ClickHouse, BigQuery and Spark read (``catalyst-hub export --parquet DIR``).

``pyarrow`` is an optional extra (``pip install "catalyst-hub[parquet]"``): nothing here
imports it until an export runs.
"""

from __future__ import annotations

EXTRA = "parquet"


class MissingExtra(RuntimeError):
    """An optional dependency of catalyst_hub is not installed."""


class ExportError(RuntimeError):
    """An export that cannot run: another is writing into the folder, or the folder holds
    another format's export."""


def require_pyarrow():
    """The ``pyarrow`` module, or MissingExtra naming the extra that installs it."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as e:
        raise MissingExtra(
            "the Parquet export needs pyarrow, which is not installed: "
            f'pip install "catalyst-hub[{EXTRA}]"'
        ) from e
    return pyarrow
