"""Agreement transfers (bulk trades) where people read them: the quote board and table, `carbonx
quotes`, `carbonx bulletin` (from a node and from a data directory), `carbonx eod report`'s
bulletin and statements, and the end-of-day database that keeps them, including a database
written before them, which opens and is migrated.

What market data publishes for a transfer: tests/test_market_data_bulk.py.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from structlog.testing import capture_logs

from carbonx.cli import main
from carbonx.statements_db import COLUMNS, DB_FILE, MIGRATIONS, SCHEMA_VERSION, StatementStore, _statements
from engine.messages import AccountStatement, DailyBulletin
from market_data.board import render
from market_data.overview import overview
from settlement.statements import StatementTrade
from tests.conftest import DAY1, Market
from tests.test_market_data_bulk import BULK, PRICE, to_afternoon, transfer
from tests.test_market_data_subscriber import Node
from tests.test_quote_board import State, exchange_time, known_state, make_quote, make_trade, quotes_args
from tests.test_statements_db import live_schema

DAY0 = 20261120  # a Friday: a day recorded by a carbonx from before agreement transfers
BULK_SECTION = [
    "",
    "Agreement transfers (bulk trades), in none of the listing's figures above",
    "instrument  bulk volume t  bulk turnover  transfers",
    "SHEA2025          100,000   8,100,000.00          1",
]


@pytest.fixture(autouse=True)
def logs() -> Iterator[None]:
    with capture_logs():
        yield


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def with_bulk(state: State, instrument: str, volume: int, trades: int, price: int = PRICE) -> None:
    state.quotes[instrument] = msgspec.structs.replace(
        state.quotes[instrument], bulk_volume=volume, bulk_turnover=volume * price, bulk_trades=trades
    )


# ------------------------------------------------------------------------------ the board and the table


def test_the_board_shows_the_days_bulk_trades_on_a_line_of_their_own() -> None:
    state = known_state()
    assert not any(line.startswith("  bulk") for line in render(state, ["SHEA2025"], 80))  # none today: no line
    with_bulk(state, "SHEA2025", 250_000, 2)

    lines = render(state, ["SHEA2025"], 80)

    assert lines[:6] == [
        "SHEA2025  80.12  +0.12 (+0.15%)  updated 10:31:07",  # the listing's last, never a bulk price
        "  reference 80.00  open 80.00  high 80.20  low 79.90",
        "  limit up 88.00  limit down 72.00",
        "  volume 1,200 t  turnover 96,144.00  trades 3",
        "  bulk volume 250,000 t  turnover 20,250,000.00  transfers 2",
        "             price   quantity t  orders",
    ]


def test_a_board_with_bulk_trades_and_five_trades_still_fits_an_80_by_24_terminal() -> None:
    state = known_state()
    state.trade_lists["SHEA2025"] = [make_trade(n, exchange_time(10, n, 0), 8000 + n, 10 * n) for n in range(1, 9)]
    state.quotes["SHEA2025"] = make_quote(
        "SHEA2025",
        8000,
        8008,
        trades=8,
        volume=360,
        turnover=2_880_000,
        bulk_volume=99_000_000,
        bulk_turnover=99_000_000 * 10_399,
        bulk_trades=9_999,
    )

    lines = render(state, ["SHEA2025"], 80)

    assert len(lines) == 23 and max(map(len, lines)) <= 80
    assert lines[4] == "  bulk volume 99,000,000 t  turnover 10,295,010,000.00  transfers 9,999"


def test_the_table_adds_a_bulk_column_on_a_day_with_bulk_trades() -> None:
    state = known_state()
    without = overview(state, ["SHEA2025", "CCER", "T5"], width=80)
    with_bulk(state, "SHEA2025", 250_000, 2)

    lines = overview(state, ["SHEA2025", "CCER", "T5"], width=80)

    assert "bulk t" not in without[1]
    assert lines == [
        "day 2026-11-23 MORNING · trading · updated 10:31:02",
        "code       last  change  bid  ask  volume t   turnover   bulk t  status",
        "SHEA2025  80.12  +0.15%    —    —     1,200  96,144.00  250,000  trading",
        "CCER          —       —    —    —         0       0.00        0  HALTED",
        "T5            —       —    —    —         —          —        —  no data",
    ]


# ------------------------------------------------------------------------------------ a node's feed


@pytest.fixture
def node(market: Market) -> Iterator[Node]:
    running = Node(market)
    yield running
    running.close()


def feed(node: Node) -> list[str]:
    return ["--endpoint", node.endpoint, "--snapshot-endpoint", node.snapshot_endpoint]


def test_quotes_shows_the_bulk_line_on_the_board_and_the_bulk_column_in_the_table(
    node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    node.act(lambda m: (to_afternoon(m), transfer(m, "p1")))

    board = quotes_args("SHEA2025", *feed(node), "--once")
    assert board.run(board) == 0
    lines = capsys.readouterr().out.splitlines()
    table = quotes_args(*feed(node), "--once")
    assert table.run(table) == 0
    rows = capsys.readouterr().out.splitlines()

    assert lines[0].startswith("SHEA2025  —  no trade today  updated ")  # a transfer is no last price
    assert lines[3:5] == [
        "  volume 0 t  turnover 0.00  trades 0",
        "  bulk volume 100,000 t  turnover 8,100,000.00  transfers 1",
    ]
    assert rows[1:] == [
        "code      last  change  bid  ask  volume t  turnover   bulk t  status",
        "SHEA2025     —       —    —    —         0      0.00  100,000  trading",
        "CCER         —       —    —    —         0      0.00        0  trading",
        "T5           —       —    —    —         0      0.00        0  trading",
    ]


def test_the_bulletin_of_a_node_shows_the_bulk_trades(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    node.act(lambda m: (to_afternoon(m), transfer(m, "p1"), m.close_day()))

    table = run(capsys, "bulletin", *feed(node)).splitlines()
    rows = list(csv.DictReader(io.StringIO(run(capsys, "bulletin", *feed(node), "--format", "csv"))))
    document = json.loads(run(capsys, "bulletin", *feed(node), "--format", "json"))

    assert table[2:7] == [  # no listing trade today: the bulk trade is in none of these figures
        "instrument  reference  open  high  low  close  change  volume t  turnover",
        "CCER            85.00     -     -    -  85.00   0.00%         0      0.00",
        "SHEA2025        80.00     -     -    -  80.00   0.00%         0      0.00",
        "T5              77.75     -     -    -  77.75   0.00%         0      0.00",
        "reference: the previous close; change: the close against it, in percent",
    ]
    assert table[-4:] == BULK_SECTION
    shea = next(r for r in rows if r["instrument"] == "SHEA2025")
    assert (shea["volume_t"], shea["turnover_fen"], shea["trades"]) == ("0", "0", "0")
    assert (shea["bulk_volume_t"], shea["bulk_turnover_fen"], shea["bulk_trades"]) == ("100000", "810000000", "1")
    assert [
        (i["instrument"], i["bulk_volume"], i["bulk_turnover"], i["bulk_trades"]) for i in document["instruments"]
    ] == [
        ("CCER", 0, 0, 0),
        ("SHEA2025", BULK, BULK * PRICE, 1),
        ("T5", 0, 0, 0),
    ]


# --------------------------------------------------------------------------- the end-of-day database


def listing_and_transfer_day(market: Market) -> Market:
    """DAY1: A1 buys 60 t of A2 on the listing (trade 1), then 100,000 t by agreement transfer
    (transfer 1): for both accounts, two trades numbered 1 on the same side."""
    market.sell("A2", 60, 8000)
    market.buy("A1", 60, 8000)
    to_afternoon(market)
    transfer(market, "p1")
    market.close_day()
    return market


def statements_of(market: Market, account: str) -> list[AccountStatement]:
    return [e for e in market.events if isinstance(e, AccountStatement) and e.account == account]


@pytest.mark.per_book
def test_the_database_keeps_each_trades_method_and_the_bulletins_bulk_figures(market: Market, tmp_path: Path) -> None:
    listing_and_transfer_day(market)

    with StatementStore.open(tmp_path / DB_FILE) as store:
        store.record(market.events)
        a1 = store.statements(DAY1, "A1")
        bulletins = store.bulletins(DAY1)

    assert a1 == statements_of(market, "A1")  # read back as the engine made it, the method included
    assert [(t.trade_id, t.side, t.quantity, t.method) for t in a1[0].trades] == [(1, 1, 60, 0), (1, 1, BULK, 1)]
    made = sorted((e for e in market.events if isinstance(e, DailyBulletin)), key=lambda b: b.instrument)
    assert bulletins == made
    shea = next(b for b in bulletins if b.instrument == "SHEA2025")
    assert (shea.volume, shea.bulk_volume, shea.bulk_turnover, shea.bulk_trades) == (60, BULK, BULK * PRICE, 1)


def old_database(path: Path) -> None:
    """A carbonx.db as a carbonx from before agreement transfers wrote it: schema 1, one day recorded."""
    with sqlite3.connect(path) as db:
        for statement in _statements(MIGRATIONS[0]):
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO trading_days VALUES (?, 5, 0, 1200, 1)", (DAY0,))
        db.execute(
            "INSERT INTO bulletins VALUES (?, 'SHEA2025', 8000, 8000, 8000, 8000, 8000, 8000, 8000, 10, 80000, 1)",
            (DAY0,),
        )
        cash = (DAY0, "A1", "M1", 0, 100_000, 0, 80_000, 0, 120, 0, 0, 0, 19_880, 0, 0, 19_880)
        db.execute(f"INSERT INTO cash_statements VALUES ({', '.join('?' * len(cash))})", cash)
        db.execute("INSERT INTO statement_trades VALUES (?, 'A1', 1, 'SHEA2025', 1, 8000, 10, 80000, 120)", (DAY0,))
    assert live_schema(path)["statement_trades"][-1] == "fee"


def test_a_database_from_before_transfers_is_migrated_and_keeps_its_days(market: Market, tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    old_database(path)
    to_afternoon(market)
    transfer(market, "p1")
    market.close_day()

    with StatementStore.open(path) as store:
        old_bulletin = store.bulletins(DAY0)
        old_trades = store.statements(DAY0)[0].trades
        store.record(market.events)  # a day with a transfer, into the migrated file
        days = store.trading_days()
        new_trades = store.statements(DAY1, "A1")[0].trades

    with sqlite3.connect(path) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        indexes = {row[1] for row in db.execute("PRAGMA index_list(statement_trades)")}
        key = [
            row[1] for row in sorted(db.execute("PRAGMA table_info(statement_trades)"), key=lambda r: r[5]) if row[5]
        ]
    assert version == SCHEMA_VERSION == 3
    assert live_schema(path) == {table: list(columns) for table, columns in COLUMNS.items()}
    assert {"statement_trades_by_account", "statement_trades_by_trade"} <= indexes
    assert key == ["trading_day", "account", "method", "trade_id", "side"]
    assert [(b.instrument, b.volume, b.bulk_volume, b.bulk_turnover, b.bulk_trades) for b in old_bulletin] == [
        ("SHEA2025", 10, 0, 0, 0)
    ]
    assert old_trades == [
        StatementTrade(trade_id=1, instrument="SHEA2025", side=1, price=8000, quantity=10, value=80_000, fee=120)
    ]
    assert days == [DAY0, DAY1]
    assert [(t.trade_id, t.quantity, t.method) for t in new_trades] == [(1, BULK, 1)]

    with StatementStore.open(path) as store:  # opened again: nothing left to migrate
        assert store.trading_days() == [DAY0, DAY1]


# ------------------------------------------------------------------------- bulletin and eod report


@pytest.fixture
def data_dir(market: Market, tmp_path: Path) -> Path:
    listing_and_transfer_day(market)
    with StatementStore.open(tmp_path / DB_FILE) as store:
        store.record(market.events)
    return tmp_path


@pytest.mark.per_book
def test_the_bulletin_of_a_data_directory_shows_the_bulk_trades(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = run(capsys, "bulletin", "--data-dir", str(data_dir)).splitlines()

    assert lines[4] == "SHEA2025        80.00  80.00  80.00  80.00  80.00   0.00%        60  4,800.00"
    assert lines[-4:] == BULK_SECTION


@pytest.mark.per_book
def test_the_eod_report_marks_each_trades_method(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("eod", "report", "--data-dir", str(data_dir))

    lines = run(capsys, *argv, "--account", "A1").splitlines()
    rows = list(csv.DictReader(io.StringIO(run(capsys, *argv, "--format", "csv"))))
    document = json.loads(run(capsys, *argv, "--format", "json"))

    assert lines[-3:] == [
        "  trade  instrument  side  method    quantity t  price CNY/t     value CNY   fee CNY",
        "  1      SHEA2025    buy   listing           60        80.00      4,800.00      7.20",
        "  1      SHEA2025    buy   transfer     100,000        81.00  8,100,000.00  8,100.00",
    ]
    bulletin_end = lines.index("reference: the previous close; change: the close against it, in percent")
    assert lines[bulletin_end + 1 : bulletin_end + 5] == BULK_SECTION
    trades = [
        (r["account"], r["trade_id"], r["side"], r["quantity_t"], r["method"]) for r in rows if r["record"] == "trade"
    ]
    assert trades == [
        ("A1", "1", "buy", "60", "listing"),
        ("A1", "1", "buy", "100000", "transfer"),
        ("A2", "1", "sell", "60", "listing"),
        ("A2", "1", "sell", "100000", "transfer"),
    ]
    shea = next(r for r in rows if r["record"] == "bulletin" and r["instrument"] == "SHEA2025")
    assert (shea["bulk_volume_t"], shea["bulk_turnover_fen"], shea["bulk_trades"]) == ("100000", "810000000", "1")
    a2 = next(a for a in document["accounts"] if a["account"] == "A2")
    assert [(t["trade_id"], t["side"], t["method"]) for t in a2["trades"]] == [
        (1, "sell", "listing"),
        (1, "sell", "transfer"),
    ]
    shea_json = next(b for b in document["bulletins"] if b["instrument"] == "SHEA2025")
    assert (shea_json["bulk_volume"], shea_json["bulk_turnover"], shea_json["bulk_trades"]) == (BULK, BULK * PRICE, 1)


# ---------------------------------------------------------------------------------------- the help


@pytest.mark.parametrize("argv", [["quotes"], ["bulletin"], ["eod", "report"]], ids=" ".join)
def test_the_help_tells_of_agreement_transfers(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])

    text = " ".join(capsys.readouterr().out.split())
    assert exit_info.value.code == 0
    assert "Agreement transfers" in text and "bulk" in text
