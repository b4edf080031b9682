"""``surveil export`` and ``surveil import``: the store's tables as Parquet, partitioned by trading day (Hive layout).

``OUT/<table>/day=20261201/data_0.parquet`` for the market activity, one file per table for the
reference data (``OUT/accounts/data_0.parquet``). DuckDB, Spark and Trino read the layout as it is:
``SELECT * FROM read_parquet('OUT/trades/*/*.parquet', hive_partitioning = true)``. An export
replaces what an earlier export wrote in ``OUT`` table by table, so it can be repeated after each
ingest; it is written to a temporary folder first and moved into place, so a reader never sees half
a table. ``import_parquet`` reads such an export into an empty store: the market activity moves to
another machine without its journal (the analysts' alerts and cases are not exported).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import msgspec

from surveillance.schema import ACTIVITY_TABLES, EXPORTED, columns
from surveillance.settings import SurveillanceError
from surveillance.store import Store

PARTITION = "day"


class Exported(msgspec.Struct, frozen=True, kw_only=True):
    table: str
    rows: int
    days: int  # partitions written (0: not partitioned)


def export_parquet(store: Store, out: Path) -> list[Exported]:
    """Write every exported table under ``out``; what was written."""
    if out.exists() and not out.is_dir():
        raise SurveillanceError(f"{out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SurveillanceError(f"{out}: cannot create: {exc.strerror or exc}") from None
    written = []
    for table in EXPORTED:
        rows = store.scalar(f"SELECT count(*) FROM {table}")
        partitioned = table in ACTIVITY_TABLES
        days = store.scalar(f"SELECT count(DISTINCT {PARTITION}) FROM {table}") if partitioned else 0
        staging = Path(tempfile.mkdtemp(dir=out, prefix=f".{table}."))
        try:
            target = staging / table
            if partitioned:
                options = f"FORMAT parquet, PARTITION_BY ({PARTITION}), WRITE_PARTITION_COLUMNS true"
                store.con.execute(f"COPY (SELECT * FROM {table} ORDER BY {PARTITION}) TO {_quoted(target)} ({options})")
                target.mkdir(exist_ok=True)  # an empty table writes no partition
            else:
                target.mkdir()
                store.con.execute(f"COPY {table} TO {_quoted(target / 'data_0.parquet')} (FORMAT parquet)")
            final = out / table
            if final.exists():
                shutil.rmtree(final)
            target.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        written.append(Exported(table=table, rows=rows, days=days))
    return written


def _quoted(path: Path) -> str:
    """A path as an SQL string literal (COPY takes no parameter for its file)."""
    return "'" + str(path).replace("'", "''") + "'"


def import_parquet(store: Store, source: Path) -> list[Exported]:
    """Load an export (``export_parquet``'s layout) into ``store``, whose exported tables must be empty."""
    if not source.is_dir():
        raise SurveillanceError(f"{source}: not a directory of exported tables")
    missing = [table for table in EXPORTED if not (source / table).is_dir()]
    if missing:
        raise SurveillanceError(f"{source}: not a carbonx surveillance export (no {missing[0]}/)")
    if any(store.scalar(f"SELECT count(*) FROM {table}") for table in EXPORTED):
        raise SurveillanceError(f"{store.path}: the store already holds market data; import into a new --store")
    loaded = []
    with store.transaction():
        for table in EXPORTED:
            files = sorted((source / table).rglob("*.parquet"))
            if files:
                names = ", ".join(columns(table))
                paths = [str(path) for path in files]
                store.con.execute(
                    f"INSERT INTO {table} SELECT {names} FROM read_parquet(?, hive_partitioning = true)", [paths]
                )
            rows = store.scalar(f"SELECT count(*) FROM {table}")
            days = store.scalar(f"SELECT count(DISTINCT {PARTITION}) FROM {table}") if table in ACTIVITY_TABLES else 0
            loaded.append(Exported(table=table, rows=rows, days=days))
        store.set_meta("last_seq", str(store.scalar("SELECT coalesce(max(last_seq), 0) FROM days")))
        store.set_meta("imported_from", str(source.resolve()))
    return loaded
