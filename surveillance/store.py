"""The surveillance store: one DuckDB file in its own directory, beside the data directory, never in it.

It never needs the node's journal lock: ingest only reads the journal. DuckDB lets one process
write a database file at a time; a second ``carbonx surveil`` while one writes gets one line
saying so (``SurveillanceError``), never a half-written store.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import duckdb
import numpy as np
import numpy.typing as npt

from surveillance.schema import columns, create_statements
from surveillance.settings import SurveillanceError

STORE_FILE = "surveillance.duckdb"
STORE_SUFFIX = "-surveillance"  # the default store of data directory DIR is DIR-surveillance
LOCK_WAIT_S = 10.0  # how long an open waits for another process's hold on the store
_LOCK_RETRY_S = 0.05


def default_store_dir(data_dir: Path) -> Path:
    """``var`` → ``var-surveillance``: beside the data directory, never inside it."""
    resolved = data_dir.resolve()
    return resolved.with_name(resolved.name + STORE_SUFFIX)


def check_store_dir(store_dir: Path, data_dir: Path | None) -> None:
    """Refuse a store inside the data directory (or the data directory itself): it would need the node's lock."""
    if data_dir is None:
        return
    store, data = store_dir.resolve(), data_dir.resolve()
    if store == data or data in store.parents:
        raise SurveillanceError(f"{store_dir}: the store must not be inside the data directory {data_dir}")


class Store:
    """An open store: ``con`` is the DuckDB connection the rules, trail and reports query."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None) -> None:
        self.con = con
        self.path = path

    @classmethod
    def open(cls, store_dir: Path, *, read_only: bool = False, wait_s: float = LOCK_WAIT_S) -> Store:
        """Open (creating it unless ``read_only``) the store in ``store_dir``.

        DuckDB lets one process at a time open a database file for writing, and none other while it
        does. ``surveil watch`` holds the store only while it ingests (well under a second), so an
        open that finds it held tries again for up to ``wait_s`` before saying so.
        """
        path = store_dir / STORE_FILE
        if read_only and not path.exists():
            raise SurveillanceError(f"{store_dir}: no surveillance store yet (run `carbonx surveil ingest` first)")
        deadline = time.monotonic() + wait_s
        while True:
            try:
                if not read_only:
                    store_dir.mkdir(parents=True, exist_ok=True)
                con = duckdb.connect(str(path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                first = str(exc).splitlines()[0]
                if "lock" not in first.lower():
                    raise SurveillanceError(f"{path}: cannot open the store: {first}") from None
                if time.monotonic() >= deadline:
                    raise SurveillanceError(
                        f"{path}: in use by another carbonx surveil (one writer at a time)"
                    ) from None
                time.sleep(_LOCK_RETRY_S)
            except OSError as exc:
                raise SurveillanceError(f"{store_dir}: cannot create the store: {exc.strerror or exc}") from None
            except duckdb.Error as exc:
                raise SurveillanceError(f"{path}: not a surveillance store: {str(exc).splitlines()[0]}") from None
        store = cls(con, path)
        if not read_only:
            store.create()
        return store

    @classmethod
    def memory(cls) -> Store:
        """A store in memory (tests, and ``surveil watch``'s live view)."""
        store = cls(duckdb.connect(":memory:"), None)
        store.create()
        return store

    def create(self) -> None:
        for statement in create_statements():
            self.con.execute(statement)

    def insert(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Append ``rows`` (tuples in the table's column order) in one statement."""
        if not rows:
            return
        self.insert_columns(table, dict(zip(columns(table), zip(*rows, strict=True), strict=True)))

    def insert_columns(self, table: str, data: Mapping[str, Sequence[Any]]) -> None:
        """Append whole columns (every column of ``table``, equal lengths) in one statement.

        The columns go to DuckDB as NumPy arrays, which it scans in bulk: several times faster than
        any per-value path (parameters, executemany).
        """
        names = columns(table)
        if not data or not len(data[names[0]]):
            return
        arrays = {name: _array(data[name]) for name in names}
        self.con.register("incoming_rows", arrays)
        try:
            self.con.execute(f"INSERT INTO {table} SELECT {', '.join(names)} FROM incoming_rows")
        finally:
            self.con.unregister("incoming_rows")

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> int:
        """The integer one query returns (a count, a max): 0 when it returns nothing."""
        rows = self.con.execute(sql, list(params)).fetchall()  # fetch all: DuckDB keeps a half-read result open
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def meta(self, key: str, default: str = "") -> str:
        rows = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return str(rows[0][0]) if rows else default

    def set_meta(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: an ingest that fails half-way leaves the store as it was."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _array(values: Sequence[Any]) -> npt.NDArray[Any]:
    first = values[0]
    if isinstance(first, bool):
        return np.array(values, dtype=np.bool_)
    if isinstance(first, int):
        return np.array(values, dtype=np.int64)
    return np.array(values, dtype=object)
