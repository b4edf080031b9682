"""The end-of-day database: migrations, exact rows of a real end of day, idempotence, two days, the
conservation alarm, and docs/DATABASE.md against the live schema."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from carbonx.statements_db import (
    COLUMNS,
    DB_FILE,
    MIGRATIONS,
    SCHEMA_VERSION,
    StatementStore,
    StatementStoreError,
    _statements,
)
from engine.messages import (
    AccountStatement,
    AllocateAllowances,
    ConservationChecked,
    DailyBulletin,
    Event,
    LargeHolderReported,
    MemberSettlement,
    TradeExecuted,
    TradingDayEnded,
)
from settlement.arrays import K_AVAIL
from settlement.statements import ConservationMismatch
from tests.conftest import DAY1, DAY2, Market, funded_market, market_config

DOC = Path(__file__).resolve().parent.parent / "docs" / "DATABASE.md"


def day_one(*, corrupt_cash: bool = False) -> Market:
    """A closed DAY1: two SHEA2025 trades and one CCER trade, two orders left to expire, and A2 made a
    large holder of CCER by an allocation. ``corrupt_cash`` adds one fen from nowhere to A1."""
    market = funded_market(market_config(), "reference")
    market.sell("A2", 100, 8000)
    market.buy("A1", 60, 8010)  # trade 1: 60 t at 80.00; the price improvement is released
    market.buy("A3", 50, 8000)  # trade 2: 40 t; the other 10 t rest and expire
    market.sell("A4", 10, 8500, instrument="CCER")
    market.buy("A1", 10, 8500, instrument="CCER")  # trade 3
    market.buy("A4", 5, 7900)  # rests and expires
    market.send(AllocateAllowances(account="A2", instrument="CCER", quantity=460_000))
    if corrupt_cash:  # as a defect would: in the ledger's arrays, past its methods
        ledger = market.exchange.ledger
        ledger.arrays.cash[ledger.account_index["A1"], K_AVAIL] += 1
    market.close_day(DAY1)
    return market


def day_two(market: Market) -> None:
    """DAY2 on the same market: A1 buys 50 t of SHEA2025 from A2 at 80.50."""
    market.open_day(DAY2)
    market.sell("A2", 50, 8050)
    market.buy("A1", 50, 8050)
    market.close_day(DAY2)


def of_type(events: list[Event], kind: type[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as db:
        return {table: sorted(db.execute(f"SELECT * FROM {table}")) for table in COLUMNS}


def live_schema(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: [row[1] for row in db.execute(f"PRAGMA table_info({table})")] for table in tables}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / DB_FILE


# ------------------------------------------------------------------------------------------ migrations


def test_a_new_file_is_created_and_migrated_to_the_current_schema(db_path: Path) -> None:
    with StatementStore.open(db_path):
        pass

    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert SCHEMA_VERSION == 3
    assert live_schema(db_path) == {table: list(columns) for table, columns in COLUMNS.items()}


def test_a_version_2_database_keeps_its_trades_and_takes_auction_allocations_after_migration(db_path: Path) -> None:
    # Version 2's CHECK (method IN (0, 1)) refused an auction allocation (method 2): migration 3 widens it.
    trade = "INSERT INTO statement_trades VALUES (20261201, 'A001', {id}, 'SHEA2025', 1, 8000, 10, 80000, 80, {method})"
    with sqlite3.connect(db_path) as db:
        for script in MIGRATIONS[:2]:
            for statement in _statements(script):
                db.execute(statement)
        db.execute("PRAGMA user_version = 2")
        db.execute("INSERT INTO trading_days VALUES (20261201, 1, 0, 0, 1)")
        db.execute(
            "INSERT INTO cash_statements VALUES (20261201, 'A001', 'M001', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)"
        )
        db.execute(trade.format(id=7, method=1))
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(trade.format(id=8, method=2))

    with StatementStore.open(db_path):
        pass

    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (3,)
        db.execute(trade.format(id=8, method=2))
        assert db.execute("SELECT trade_id, method FROM statement_trades ORDER BY trade_id").fetchall() == [
            (7, 1),
            (8, 2),
        ]
    assert live_schema(db_path) == {table: list(columns) for table, columns in COLUMNS.items()}


def test_an_empty_existing_file_is_migrated(db_path: Path) -> None:
    db_path.touch()

    with StatementStore.open(db_path) as store:
        assert store.trading_days() == []

    assert set(live_schema(db_path)) == set(COLUMNS)


@pytest.mark.per_book
def test_reopening_applies_nothing_again_and_keeps_the_rows(db_path: Path) -> None:
    with StatementStore.open(db_path) as store:
        store.record(day_one().events)

    with StatementStore.open(db_path) as store:
        assert store.trading_days() == [DAY1]
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_database_of_a_newer_schema_is_refused_with_one_line_naming_the_file(db_path: Path) -> None:
    with sqlite3.connect(db_path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(StatementStoreError) as error:
        StatementStore.open(db_path)

    assert str(error.value) == (
        f"{db_path}: database schema version 4 is newer than this carbonx knows (3); "
        "use the carbonx that wrote it or a newer one"
    )
    with sqlite3.connect(db_path) as db:  # left as it was
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION + 1,)
        assert db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


def test_a_file_that_is_not_a_database_is_refused_with_one_line(db_path: Path) -> None:
    db_path.write_bytes(b"this is not an SQLite database\n" * 100)

    with pytest.raises(StatementStoreError) as error:
        StatementStore.open(db_path)

    message = str(error.value)
    assert message.startswith(f"{db_path}: not a usable carbonx end-of-day database: ")
    assert "\n" not in message


def test_a_directory_that_does_not_exist_is_refused_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "missing" / DB_FILE

    with pytest.raises(StatementStoreError, match=r"^.*missing/carbonx\.db: cannot open the end-of-day database: "):
        StatementStore.open(path)


# -------------------------------------------------------------------------------------------- recording


@pytest.mark.per_book
def test_recording_an_end_of_day_writes_these_exact_rows(db_path: Path) -> None:
    market = day_one()

    with StatementStore.open(db_path) as store:
        written = store.record(market.events)

    assert written == [DAY1]
    rows = dump(db_path)
    assert rows["trading_days"] == [(DAY1, market.ts, 2, 2656, 1)]
    assert rows["bulletins"] == [
        (DAY1, "CCER", 8500, 8500, 8500, 8500, 8500, 8500, 8500, 10, 85_000, 1, 0, 0, 0),
        (DAY1, "SHEA2025", 8000, 8000, 8000, 8000, 8000, 8000, 8000, 100, 800_000, 2, 0, 0, 0),
        (DAY1, "T5", 7775, 0, 0, 0, 0, 7775, 0, 0, 0, 0, 0, 0, 0),
    ]
    assert rows["cash_statements"] == [
        (DAY1, "A1", "M1", 0, 1_000_000_000, 0, 565_000, 0, 848, 0, 0, 0, 999_434_152, 0, 601, 999_434_152),
        (DAY1, "A2", "M2", 0, 1_000_000_000, 0, 0, 800_000, 1200, 0, 0, 0, 1_000_798_800, 0, 0, 1_000_798_800),
        (DAY1, "A3", "M2", 0, 1_000_000_000, 0, 320_000, 0, 480, 0, 0, 0, 999_679_520, 0, 80_120, 999_679_520),
        (DAY1, "A4", "M2", 0, 1_000_000_000, 0, 0, 85_000, 128, 0, 0, 0, 1_000_084_872, 0, 39_559, 1_000_084_872),
        (DAY1, "EXCHANGE-FEES", "EXCH", 0, 0, 0, 0, 0, 0, 2656, 0, 0, 2656, 0, 0, 2656),
    ]
    assert [r for r in rows["holding_statements"] if r[1] in ("A1", "A2")] == [
        (DAY1, "A1", "CCER", 0, 50_000, 10, 0, 0, 0, 0, 0, 0, 0, 50_010, 0, 10),
        (DAY1, "A1", "SHEA2025", 0, 50_000, 60, 0, 0, 0, 0, 0, 0, 0, 50_060, 0, 60),
        (DAY1, "A1", "T5", 0, 50_000, 0, 0, 0, 0, 0, 0, 0, 0, 50_000, 0, 0),
        (DAY1, "A2", "CCER", 0, 510_000, 0, 0, 0, 0, 0, 0, 0, 0, 510_000, 0, 0),
        (DAY1, "A2", "SHEA2025", 0, 50_000, 0, 100, 0, 0, 0, 0, 0, 0, 49_900, 0, 0),
        (DAY1, "A2", "T5", 0, 50_000, 0, 0, 0, 0, 0, 0, 0, 0, 50_000, 0, 0),
    ]
    assert len(rows["holding_statements"]) == 12  # four traders, three instruments; the fee account holds none
    assert rows["statement_trades"] == [
        (DAY1, "A1", 1, "SHEA2025", 1, 8000, 60, 480_000, 720, 0),
        (DAY1, "A1", 3, "CCER", 1, 8500, 10, 85_000, 128, 0),
        (DAY1, "A2", 1, "SHEA2025", 2, 8000, 60, 480_000, 720, 0),
        (DAY1, "A2", 2, "SHEA2025", 2, 8000, 40, 320_000, 480, 0),
        (DAY1, "A3", 2, "SHEA2025", 1, 8000, 40, 320_000, 480, 0),
        (DAY1, "A4", 3, "CCER", 2, 8500, 10, 85_000, 128, 0),
    ]
    assert rows["member_settlements"] == [
        (DAY1, "EXCH", 0, 0, 0, 2656, 2656),
        (DAY1, "M1", 565_000, 0, 848, 0, -565_848),
        (DAY1, "M2", 320_000, 885_000, 1808, 0, 563_192),
    ]
    assert rows["large_holders"] == [(DAY1, "A2", "M2", "CCER", 510_000, 500_000)]
    assert rows["conservation_mismatches"] == []


@pytest.mark.per_book
def test_the_queries_give_back_the_events_that_were_recorded(db_path: Path) -> None:
    events = day_one().events

    with StatementStore.open(db_path) as store:
        store.record(events)

        assert store.trading_days() == [DAY1]
        assert [store.day_ended(DAY1)] == of_type(events, TradingDayEnded)
        assert [store.conservation(DAY1)] == of_type(events, ConservationChecked)
        assert store.statements(DAY1) == of_type(events, AccountStatement)
        assert store.statements(DAY1, "A3") == [s for s in of_type(events, AccountStatement) if s.account == "A3"]
        assert store.bulletins(DAY1) == sorted(of_type(events, DailyBulletin), key=lambda b: b.instrument)
        assert store.member_settlements(DAY1) == of_type(events, MemberSettlement)
        assert store.large_holders(DAY1) == of_type(events, LargeHolderReported)
        assert store.accounts(DAY1) == ["A1", "A2", "A3", "A4", "EXCHANGE-FEES"]


@pytest.mark.per_book
def test_a_day_not_recorded_has_nothing(db_path: Path) -> None:
    with StatementStore.open(db_path) as store:
        store.record(day_one().events)

        assert store.day_ended(DAY2) is None
        assert store.conservation(DAY2) is None
        assert store.statements(DAY2) == []
        assert store.bulletins(DAY2) == []
        assert store.statements(DAY1, "NOBODY") == []


@pytest.mark.per_book
def test_recording_the_same_events_twice_leaves_the_same_rows(db_path: Path) -> None:
    events = day_one().events
    with StatementStore.open(db_path) as store:
        store.record(events)
    first = dump(db_path)

    with StatementStore.open(db_path) as store:
        assert store.record(events) == [DAY1]

    assert dump(db_path) == first
    assert sum(len(rows) for rows in first.values()) == 1 + 3 + 5 + 12 + 6 + 3 + 1


@pytest.mark.per_book
def test_recording_a_day_again_replaces_all_of_its_rows(db_path: Path) -> None:
    events = day_one().events
    only_a1 = [e for e in events if not isinstance(e, AccountStatement) or e.account == "A1"]
    only_a1 = [e for e in only_a1 if not isinstance(e, LargeHolderReported | MemberSettlement)]
    with StatementStore.open(db_path) as store:
        store.record(events)

        store.record(only_a1)

        assert store.accounts(DAY1) == ["A1"]
        assert store.member_settlements(DAY1) == []
        assert store.large_holders(DAY1) == []
    rows = dump(db_path)
    assert {r[1] for r in rows["holding_statements"]} == {"A1"}
    assert {r[1] for r in rows["statement_trades"]} == {"A1"}


@pytest.mark.per_book
def test_events_other_than_the_end_of_day_are_ignored(db_path: Path) -> None:
    market = day_one()
    trades = of_type(market.events, TradeExecuted)
    assert len(trades) == 3

    with StatementStore.open(db_path) as store:
        assert store.record(trades) == []
        assert store.trading_days() == []

    assert all(rows == [] for rows in dump(db_path).values())


@pytest.mark.per_book
def test_a_partial_end_of_day_is_refused_and_writes_nothing(db_path: Path) -> None:
    bulletins = of_type(day_one().events, DailyBulletin)

    with StatementStore.open(db_path) as store, pytest.raises(ValueError, match="end of day 20261123: need exactly"):
        store.record(bulletins)

    assert all(rows == [] for rows in dump(db_path).values())


@pytest.mark.per_book
def test_two_days_in_one_call_each_open_where_the_last_closed(db_path: Path) -> None:
    market = day_one()
    day_two(market)

    with StatementStore.open(db_path) as store:
        assert store.record(market.events) == [DAY1, DAY2]

        assert store.trading_days() == [DAY1, DAY2]
        (a1_day1,) = store.statements(DAY1, "A1")
        (a1_day2,) = store.statements(DAY2, "A1")
        assert a1_day1.cash.closing == 999_434_152  # unchanged by DAY2
        cash = a1_day2.cash
        assert (cash.opening, cash.deposits, cash.bought, cash.fees_paid, cash.closing) == (
            999_434_152,
            0,
            402_500,
            604,
            999_031_048,
        )
        shea = {h.instrument: h for h in a1_day2.holdings}["SHEA2025"]
        assert (shea.opening, shea.bought, shea.closing, shea.released_restricted) == (50_060, 50, 50_110, 50)
        assert [t.trade_id for t in a1_day2.trades] == [4]
        assert [b.close for b in store.bulletins(DAY2)] == [8500, 8050, 7775]
        assert [b.reference_price for b in store.bulletins(DAY2)] == [8500, 8000, 7775]


# ----------------------------------------------------------------------------------- conservation alarm


@pytest.mark.per_book
def test_a_conservation_failure_is_recorded_and_logs_one_critical_line(db_path: Path) -> None:
    events = day_one(corrupt_cash=True).events

    with StatementStore.open(db_path) as store, capture_logs() as logs:
        store.record(events)

    mismatch = {"asset": "CASH", "expected": 4_000_000_000, "actual": 4_000_000_001, "difference": 1}
    assert logs == [
        {
            "event": "conservation_check_failed",
            "log_level": "critical",
            "trading_day": DAY1,
            "mismatches": [mismatch],
        }
    ]
    rows = dump(db_path)
    assert rows["trading_days"][0][4] == 0
    assert rows["conservation_mismatches"] == [(DAY1, "CASH", 4_000_000_000, 4_000_000_001, 1)]
    with StatementStore.open(db_path) as store:
        checked = store.conservation(DAY1)
    assert checked is not None
    assert checked.ok is False
    assert checked.mismatches == [ConservationMismatch(**mismatch)]


@pytest.mark.per_book
def test_a_passed_conservation_check_logs_nothing(db_path: Path) -> None:
    events = day_one().events

    with StatementStore.open(db_path) as store, capture_logs() as logs:
        store.record(events)

    assert logs == []


# ------------------------------------------------------------------------------------ docs/DATABASE.md


def documented_schema(text: str) -> dict[str, list[str]]:
    """The tables of DATABASE.md: each a ``### `name` `` heading, each column a row ``| `column` |``."""
    tables: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        heading = re.match(r"^### `(\w+)`\s*$", line)
        if heading:
            current = tables.setdefault(heading[1], [])
        elif line.startswith(("## ", "### ")):
            current = None
        elif current is not None and (column := re.match(r"^\| `(\w+)` \|", line)):
            current.append(column[1])
    return tables


def schema_problems(schema: dict[str, list[str]], documented: dict[str, list[str]]) -> list[str]:
    problems = [f"table {t} is not documented" for t in schema if t not in documented]
    problems += [f"table {t} is documented but not in the schema" for t in documented if t not in schema]
    for table in schema.keys() & documented.keys():
        problems += [f"{table}.{c} is not documented" for c in schema[table] if c not in documented[table]]
        problems += [
            f"{table}.{c} is documented but not in the schema" for c in documented[table] if c not in schema[table]
        ]
    return sorted(problems)


def test_every_table_and_column_of_the_live_schema_is_documented(db_path: Path) -> None:
    with StatementStore.open(db_path):
        pass

    problems = schema_problems(live_schema(db_path), documented_schema(DOC.read_text(encoding="utf-8")))

    assert problems == []


def test_a_stale_document_is_detected(db_path: Path) -> None:
    with StatementStore.open(db_path):
        pass
    text = DOC.read_text(encoding="utf-8")
    stale = text.replace("| `withdrawable` | fen |", "| `withdrawn` | fen |")
    stale = stale.replace("### `large_holders`", "### `big_holders`")
    assert stale.count("`withdrawn`") == 1 and "`big_holders`" in stale

    problems = schema_problems(live_schema(db_path), documented_schema(stale))

    assert problems == [
        "cash_statements.withdrawable is not documented",
        "cash_statements.withdrawn is documented but not in the schema",
        "table big_holders is documented but not in the schema",
        "table large_holders is not documented",
    ]
