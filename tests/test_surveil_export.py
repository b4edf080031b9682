"""``surveil export`` / ``surveil import``: the store's tables as Parquet partitioned by trading day,
read back by DuckDB as they are, and loaded into a new store unchanged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from carbonx.config import load_config
from carbonx.simulation import run_simulation
from surveillance.export import Exported, export_parquet, import_parquet
from surveillance.ingest import ingest
from surveillance.schema import ACTIVITY_TABLES, EXPORTED, REFERENCE_TABLES, columns
from surveillance.settings import SurveillanceError
from surveillance.store import Store
from tests.surveil_rows import DAY, Market, at

REPO = Path(__file__).resolve().parents[1]
NEXT = 20261202
Rows = dict[str, list[tuple[Any, ...]]]


def two_days() -> Market:
    """A row in every activity table on each of two trading days."""
    market = Market()
    for account, member in (("A1", "M1"), ("A2", "M1"), ("B1", "M2"), ("C1", "M3")):
        market.account(account, member)
    for day in (DAY, NEXT):
        resting = market.order("A1", "BUY", 7_990, 300, at(10, day), best_bid=7_980, best_ask=8_010, day=day)
        market.amend("A1", resting, 7_995, 250, at(20, day), day=day)
        market.cancel("A1", resting, 250, at(30, day), day=day)
        market.trade("A2", "B1", 8_000 + day % 10, 100, at(40, day), day=day)
        market.reject("C1", at(50, day), day=day)
        market.reject("C1", at(55, day), request="ProposeTransfer", day=day)
        market.transfer("B1", "C1", 8_000, 100_000, at(60, day), transfer_id=day % 10, day=day)
        market.auction(day % 10, 7_000, 20_000, at(-600, day), clearing_price=7_250, day=day)
        market.bid("A1", day % 10, 10 + day % 10, 7_250, 5_000, at(-500, day), allocated=5_000, day=day)
        market.bulletin(8_001, 100, day=day)
        market.holding("A1", 300_000, day=day, bought=100)
        market.store.insert("large_holders", [(day, "A1", "M1", "SHEA2025", 300_000, 250_000)])
        market.day(day, first_seq=1 if day == DAY else 100, last_seq=99 if day == DAY else 150)
    market.store.insert("alerts", [(1, "fp", "wash.same_owner", DAY, "SHEA2025", "A1,A2", 5_000, "{}", "{}", "{}",
                                    "wash", 99, 0)])  # fmt: skip
    return market


def tables(store: Store) -> Rows:
    return {table: sorted(store.con.execute(f"SELECT * FROM {table}").fetchall()) for table in EXPORTED}


def read_back(out: Path) -> Rows:
    """Every exported table as DuckDB reads the files on its own (no store), columns in the store's order."""
    con = duckdb.connect()
    found = {}
    for table in EXPORTED:
        names = ", ".join(columns(table))
        partitioned = table in ACTIVITY_TABLES
        files = list((out / table).glob("*/*.parquet")) if partitioned else [out / table / "data_0.parquet"]
        pattern = str(out / table / "*" / "*.parquet") if partitioned else str(files[0])
        sql = f"SELECT {names} FROM read_parquet(?, hive_partitioning = {str(partitioned).lower()})"
        found[table] = sorted(con.execute(sql, [pattern]).fetchall()) if files else []
    con.close()
    return found


@pytest.fixture
def market() -> Market:
    return two_days()


def test_activity_is_written_by_day_and_reference_data_whole(market: Market, tmp_path: Path) -> None:
    out = tmp_path / "out"

    written = export_parquet(market.store, out)

    assert sorted(p.name for p in out.iterdir()) == sorted(EXPORTED)  # no alerts, no cases, nothing half-written
    for table in ACTIVITY_TABLES:
        assert sorted(p.name for p in (out / table).iterdir()) == [f"day={DAY}", f"day={NEXT}"], table
        assert all(list(p.glob("*.parquet")) for p in (out / table).iterdir()), table
    for table in REFERENCE_TABLES:
        assert [p.name for p in (out / table).iterdir()] == ["data_0.parquet"], table
    assert written == [
        Exported(table=t, rows=market.store.scalar(f"SELECT count(*) FROM {t}"), days=2 if t in ACTIVITY_TABLES else 0)
        for t in EXPORTED
    ]


def test_duckdb_reads_the_export_back_with_the_stores_rows(market: Market, tmp_path: Path) -> None:
    out = tmp_path / "out"

    export_parquet(market.store, out)

    assert read_back(out) == tables(market.store)
    assert all(read_back(out).values())


def test_a_days_partition_holds_that_days_rows_only(market: Market, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_parquet(market.store, out)

    days = (
        duckdb.connect()
        .execute(
            "SELECT DISTINCT day FROM read_parquet(?, hive_partitioning = true)", [f"{out}/trades/day={NEXT}/*.parquet"]
        )
        .fetchall()
    )

    assert days == [(NEXT,)]


def test_an_import_into_a_new_store_gives_identical_tables(market: Market, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_parquet(market.store, out)

    with Store.open(tmp_path / "elsewhere") as store:
        loaded = import_parquet(store, out)
        imported = tables(store)
        analysts = store.scalar("SELECT count(*) FROM alerts")
        last_seq = store.meta("last_seq")

    assert imported == tables(market.store)
    assert loaded == [Exported(table=t, rows=len(imported[t]), days=2 if t in ACTIVITY_TABLES else 0) for t in EXPORTED]
    assert (analysts, last_seq) == (0, "150")


def test_an_import_into_a_store_that_holds_market_data_is_refused(market: Market, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_parquet(market.store, out)
    target = two_days()
    before = tables(target.store)

    with pytest.raises(SurveillanceError, match="already holds market data") as refused:
        import_parquet(target.store, out)

    assert "\n" not in str(refused.value)
    assert tables(target.store) == before


def test_an_export_again_replaces_the_earlier_one(market: Market, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_parquet(market.store, out)
    for table in ACTIVITY_TABLES:
        market.con.execute(f"DELETE FROM {table} WHERE day = {NEXT}")
    market.con.execute("DELETE FROM accounts WHERE account = 'C1'")

    again = export_parquet(market.store, out)

    assert read_back(out) == tables(market.store)
    assert sorted(p.name for p in (out / "trades").iterdir()) == [f"day={DAY}"]
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPORTED)
    assert {e.days for e in again if e.table in ACTIVITY_TABLES} == {1}


def test_an_empty_store_exports_and_imports(tmp_path: Path) -> None:
    out = tmp_path / "out"

    written = export_parquet(Store.memory(), out)
    with Store.open(tmp_path / "store") as store:
        loaded = import_parquet(store, out)
        imported = tables(store)

    assert written == loaded == [Exported(table=t, rows=0, days=0) for t in EXPORTED]
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPORTED)
    assert read_back(out) == imported == {t: [] for t in EXPORTED}


def test_an_export_to_a_folder_whose_name_has_a_quote(market: Market, tmp_path: Path) -> None:
    out = tmp_path / "lin's exports"

    export_parquet(market.store, out)

    assert read_back(out) == tables(market.store)


def test_an_export_over_a_file_is_one_line(market: Market, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("not a directory")

    with pytest.raises(SurveillanceError, match="exists and is not a directory") as refused:
        export_parquet(market.store, out)

    assert "\n" not in str(refused.value)


def test_an_import_of_something_else_is_one_line(market: Market, tmp_path: Path) -> None:
    export_parquet(market.store, tmp_path / "out")
    (tmp_path / "out" / "days").rename(tmp_path / "days-moved")
    problems = []

    for source in (tmp_path / "missing", tmp_path / "out"):
        with pytest.raises(SurveillanceError) as refused:
            import_parquet(Store.memory(), source)
        problems.append(str(refused.value))

    assert problems == [
        f"{tmp_path / 'missing'}: not a directory of exported tables",
        f"{tmp_path / 'out'}: not a carbonx surveillance export (no days/)",
    ]


@pytest.mark.not_per_book  # ingest replays the simulated day's orders on the default book
def test_an_ingested_day_round_trips(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run_simulation(load_config(REPO / "config").exchange, data_dir, seed=5, orders=120,
                   trading_day=dt.date(2026, 12, 1), fsync=False)  # fmt: skip
    with Store.open(tmp_path / "store") as store:
        ingest(data_dir, store, tmp_path / "store")
        export_parquet(store, tmp_path / "out")
        ingested = tables(store)
    with Store.open(tmp_path / "copy") as copy:
        import_parquet(copy, tmp_path / "out")
        imported = tables(copy)

    assert imported == ingested == read_back(tmp_path / "out")
    assert ingested["trades"] and ingested["order_events"]
