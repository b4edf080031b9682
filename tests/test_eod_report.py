"""`carbonx eod report`: exact table lines, CSV rows and JSON values of a real end of day, and the
one-line errors (no database, no such date, no such account)."""

from __future__ import annotations

import argparse
import csv
import io
import shutil
from collections import Counter
from pathlib import Path

import msgspec
import pytest
from structlog.testing import capture_logs

from carbonx.cli import eod_cmd, main
from carbonx.cli.display import trading_day_arg
from carbonx.cli.recorded_days import dates
from carbonx.statements_db import DB_FILE, StatementStore
from engine.journal import JOURNAL_FILE
from tests.test_statements_db import day_one, day_two

ROOT = Path(__file__).resolve().parent.parent
DATE = "2026-11-23"


def record(data_dir: Path, *, corrupt_cash: bool = False, two_days: bool = False) -> Path:
    market = day_one(corrupt_cash=corrupt_cash)
    if two_days:
        day_two(market)
    data_dir.mkdir(parents=True, exist_ok=True)
    with StatementStore.open(data_dir / DB_FILE) as store, capture_logs():  # the alarm is test_statements_db's
        store.record(market.events)
    return data_dir


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return record(tmp_path / "var")


def report(capsys: pytest.CaptureFixture[str], data_dir: Path, *argv: str) -> str:
    """Run the report through a parser of its own (independent of the wiring in carbonx.cli)."""
    parser = argparse.ArgumentParser(prog="carbonx")
    eod_cmd.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["eod", "report", "--data-dir", str(data_dir), *argv])
    assert args.run(args) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["eod", "report", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(status: int, out: str, err: str) -> str:
    assert status == 2
    assert out == ""
    assert err.startswith("carbonx eod: error: ")
    assert err.count("\n") == 1
    return err.rstrip("\n")


# ------------------------------------------------------------------------------------------------ table


@pytest.mark.per_book
def test_the_table_of_one_account_line_by_line(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    out = report(capsys, data_dir, "--date", DATE, "--account", "A1")

    assert out.splitlines() == [
        "carbonx eod report: trading day 2026-11-23",
        f"database           {data_dir / DB_FILE}",
        "day orders expired 2",
        "fees collected     26.56 CNY",
        "conservation       OK: every instrument and cash adds up",
        "",
        "Daily bulletin (prices CNY/t, volume t, turnover CNY)",
        "instrument  reference   open   high    low   last  close   vwap  change  volume t  turnover  trades",
        "CCER            85.00  85.00  85.00  85.00  85.00  85.00  85.00   0.00%        10    850.00       1",
        "SHEA2025        80.00  80.00  80.00  80.00  80.00  80.00  80.00   0.00%       100  8,000.00       2",
        "T5              77.75      -      -      -      -  77.75      -   0.00%         0      0.00       0",
        "reference: the previous close; change: the close against it, in percent",
        "",
        "Member cash settlement (CNY; net = sold - bought - fees paid + fees received)",
        "member    bought      sold  fees paid  fees received        net  settlement",
        "EXCH        0.00      0.00       0.00          26.56      26.56  receives",
        "M1      5,650.00      0.00       8.48           0.00  -5,658.48  pays",
        "M2      3,200.00  8,850.00      18.08           0.00   5,631.92  receives",
        "",
        "Large holders (t)",
        "account  member  instrument  holding  threshold",
        "A2       M2      CCER        510,000    500,000",
        "",
        "Account A1 (member M1)",
        "  cash                        CNY",
        "  opening                    0.00",
        "  deposits         +10,000,000.00",
        "  bought                -5,650.00",
        "  fees paid                 -8.48",
        "  closing            9,994,341.52",
        "  frozen at close            0.00",
        "  released today             6.01",
        "  withdrawable       9,994,341.52",
        "  holdings t  opening  allocated  bought  closing  compliance-only  restriction released",
        "  CCER              0    +50,000     +10   50,010                0                    10",
        "  SHEA2025          0    +50,000     +60   50,060                0                    60",
        "  T5                0    +50,000       0   50,000                0                     0",
        "  trade  instrument  side  quantity t  price CNY/t  value CNY  fee CNY",
        "  1      SHEA2025    buy           60        80.00   4,800.00     7.20",
        "  3      CCER        buy           10        85.00     850.00     1.28",
    ]


@pytest.mark.per_book
def test_the_table_shows_every_account_in_order_with_its_own_movements(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    lines = report(capsys, data_dir, "--date", DATE).splitlines()

    headings = [line for line in lines if line.startswith("Account ")]
    assert headings == [
        "Account A1 (member M1)",
        "Account A2 (member M2)",
        "Account A3 (member M2)",
        "Account A4 (member M2)",
        "Account EXCHANGE-FEES (member EXCH)",
    ]
    a2 = lines[lines.index("Account A2 (member M2)") : lines.index("Account A3 (member M2)")]
    assert "  sold                  +8,000.00" in a2
    assert "  holdings t  opening  allocated  sold  closing  compliance-only  restriction released" in a2
    assert "  SHEA2025          0    +50,000  -100   49,900                0                     0" in a2
    assert "  2      SHEA2025    sell          40        80.00   3,200.00     4.80" in a2
    fees = lines[lines.index("Account EXCHANGE-FEES (member EXCH)") :]
    assert fees == [
        "Account EXCHANGE-FEES (member EXCH)",
        "  cash                CNY",
        "  opening            0.00",
        "  fees received    +26.56",
        "  closing           26.56",
        "  frozen at close    0.00",
        "  released today     0.00",
        "  withdrawable      26.56",
        "  holdings: none",
        "  trades: none",
    ]


@pytest.mark.per_book
def test_the_table_shows_each_conservation_mismatch(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data_dir = record(tmp_path / "var", corrupt_cash=True)

    lines = report(capsys, data_dir, "--date", DATE).splitlines()

    assert lines[4] == "conservation       FAILED: 1 asset does not add up; the end of day halted the market"
    start = lines.index("Conservation mismatches (cash in CNY, instruments in t)")
    assert lines[start : start + 4] == [
        "Conservation mismatches (cash in CNY, instruments in t)",
        "asset       expected         actual  difference",
        "CASH   40,000,000.00  40,000,000.01        0.01",
        "",
    ]


# -------------------------------------------------------------------------------------------------- csv


@pytest.mark.per_book
def test_the_csv_is_one_flat_table_with_a_record_column(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    out = report(capsys, data_dir, "--date", DATE, "--format", "csv")

    reader = csv.DictReader(io.StringIO(out))
    rows = list(reader)
    assert tuple(reader.fieldnames or ()) == eod_cmd.CSV_COLUMNS
    assert Counter(r["record"] for r in rows) == {
        "day": 1,
        "conservation": 1,
        "bulletin": 3,
        "settlement": 3,
        "large_holder": 1,
        "cash": 5,
        "holding": 12,
        "trade": 6,
    }

    def filled(row: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in row.items() if v != ""}

    assert filled(rows[0]) == {
        "record": "day",
        "trading_day": "2026-11-23",
        "expired_orders": "2",
        "fees_collected_fen": "2656",
    }
    assert filled(rows[1]) == {"record": "conservation", "trading_day": "2026-11-23", "conservation_ok": "1"}
    by_record = {(r["record"], r["member"], r["account"], r["instrument"], r["trade_id"]): filled(r) for r in rows}
    assert by_record["bulletin", "", "", "SHEA2025", ""] == {
        "record": "bulletin",
        "trading_day": "2026-11-23",
        "instrument": "SHEA2025",
        **{f"{p}_fen_per_t": "8000" for p in ("reference_price", "open", "high", "low", "last", "close", "vwap")},
        "volume_t": "100",
        "turnover_fen": "800000",
        "trades": "2",
        "bulk_volume_t": "0",
        "bulk_turnover_fen": "0",
        "bulk_trades": "0",
    }
    assert by_record["settlement", "M1", "", "", ""] == {
        "record": "settlement",
        "trading_day": "2026-11-23",
        "member": "M1",
        "bought_fen": "565000",
        "sold_fen": "0",
        "fees_paid_fen": "848",
        "fees_received_fen": "0",
        "net_fen": "-565848",
    }
    assert by_record["large_holder", "M2", "A2", "CCER", ""] == {
        "record": "large_holder",
        "trading_day": "2026-11-23",
        "member": "M2",
        "account": "A2",
        "instrument": "CCER",
        "holding_t": "510000",
        "threshold_t": "500000",
    }
    owner = {"trading_day": "2026-11-23", "member": "M1", "account": "A1"}
    assert by_record["cash", "M1", "A1", "", ""] == {
        "record": "cash",
        **owner,
        "opening_fen": "0",
        "deposits_fen": "1000000000",
        "withdrawals_fen": "0",
        "bought_fen": "565000",
        "sold_fen": "0",
        "fees_paid_fen": "848",
        "fees_received_fen": "0",
        "transferred_in_fen": "0",
        "transferred_out_fen": "0",
        "closing_fen": "999434152",
        "closing_frozen_fen": "0",
        "released_fen": "601",
        "withdrawable_fen": "999434152",
    }
    holding = by_record["holding", "M1", "A1", "SHEA2025", ""]
    assert {k: holding[k] for k in ("opening_t", "allocated_t", "bought_t", "closing_t", "released_restricted_t")} == {
        "opening_t": "0",
        "allocated_t": "50000",
        "bought_t": "60",
        "closing_t": "50060",
        "released_restricted_t": "60",
    }
    assert len(holding) == 5 + 13  # record, trading day, owner, instrument, then every holding column
    assert by_record["trade", "M1", "A1", "SHEA2025", "1"] == {
        "record": "trade",
        **owner,
        "instrument": "SHEA2025",
        "trade_id": "1",
        "side": "buy",
        "price_fen_per_t": "8000",
        "quantity_t": "60",
        "value_fen": "480000",
        "fee_fen": "720",
        "method": "listing",
    }


@pytest.mark.per_book
def test_the_csv_gives_each_mismatch_in_the_unit_of_its_asset(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data_dir = record(tmp_path / "var", corrupt_cash=True)

    rows = list(csv.DictReader(io.StringIO(report(capsys, data_dir, "--date", DATE, "--format", "csv"))))

    conservation = [{k: v for k, v in r.items() if v} for r in rows if r["record"] == "conservation"]
    assert conservation == [
        {
            "record": "conservation",
            "trading_day": "2026-11-23",
            "conservation_ok": "0",
            "asset": "CASH",
            "expected_fen": "4000000000",
            "actual_fen": "4000000001",
            "difference_fen": "1",
        }
    ]


def test_every_csv_column_is_documented() -> None:
    text = (ROOT / "docs" / "DATABASE.md").read_text(encoding="utf-8")

    assert [c for c in eod_cmd.CSV_COLUMNS if f"`{c}`" not in text] == []


# ------------------------------------------------------------------------------------------------- json


@pytest.mark.per_book
def test_the_json_is_one_document_of_integers(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    document = msgspec.json.decode(report(capsys, data_dir, "--date", DATE, "--format", "json"))

    assert document["trading_day"] == "2026-11-23"
    assert document["units"] == {"money": "fen", "price": "fen per tonne", "quantity": "tonnes"}
    assert (document["expired_orders"], document["fees_collected"]) == (2, 2656)
    assert document["conservation"] == {"ok": True, "mismatches": []}
    assert [b["instrument"] for b in document["bulletins"]] == ["CCER", "SHEA2025", "T5"]
    assert document["bulletins"][2] == {
        "instrument": "T5",
        "reference_price": 7775,
        "open": 0,
        "high": 0,
        "low": 0,
        "last": 0,
        "close": 7775,
        "vwap": 0,
        "volume": 0,
        "turnover": 0,
        "trades": 0,
        "bulk_volume": 0,
        "bulk_turnover": 0,
        "bulk_trades": 0,
    }
    assert [(s["member"], s["net"]) for s in document["member_settlements"]] == [
        ("EXCH", 2656),
        ("M1", -565_848),
        ("M2", 563_192),
    ]
    assert document["large_holders"] == [
        {"account": "A2", "member": "M2", "instrument": "CCER", "holding": 510_000, "threshold": 500_000}
    ]
    accounts = {a["account"]: a for a in document["accounts"]}
    assert list(accounts) == ["A1", "A2", "A3", "A4", "EXCHANGE-FEES"]
    a4 = accounts["A4"]
    assert a4["member"] == "M2"
    assert a4["cash"] == {
        "opening": 0,
        "deposits": 1_000_000_000,
        "withdrawals": 0,
        "bought": 0,
        "sold": 85_000,
        "fees_paid": 128,
        "fees_received": 0,
        "transferred_in": 0,
        "transferred_out": 0,
        "closing": 1_000_084_872,
        "closing_frozen": 0,
        "released": 39_559,
        "withdrawable": 1_000_084_872,
    }
    assert a4["holdings"][0] == {
        "instrument": "CCER",
        "opening": 0,
        "allocated": 50_000,
        "bought": 0,
        "sold": 10,
        "surrendered": 0,
        "cancelled": 0,
        "carried_in": 0,
        "carried_out": 0,
        "transferred_in": 0,
        "transferred_out": 0,
        "closing": 49_990,
        "closing_compliance": 0,
        "released_restricted": 0,
    }
    assert a4["trades"] == [
        {
            "trade_id": 3,
            "instrument": "CCER",
            "side": "sell",
            "price": 8500,
            "quantity": 10,
            "value": 85_000,
            "fee": 128,
            "method": "listing",
        }
    ]


@pytest.mark.per_book
def test_the_json_of_one_account_keeps_the_market_sections(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    document = msgspec.json.decode(report(capsys, data_dir, "--date", DATE, "--format", "json", "--account", "A3"))

    assert [a["account"] for a in document["accounts"]] == ["A3"]
    assert len(document["bulletins"]) == 3
    assert len(document["member_settlements"]) == 3


# ---------------------------------------------------------------------------------- arguments and errors


@pytest.mark.per_book
def test_the_date_may_be_given_as_yyyymmdd(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    iso = report(capsys, data_dir, "--date", DATE)

    assert report(capsys, data_dir, "--date", "20261123") == iso


@pytest.mark.parametrize("text", ["2026-11-31", "23.11.2026", "2026-1-23", "202611230", "yesterday"])
def test_a_date_that_is_not_a_date_is_a_usage_error(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a date YYYY-MM-DD or YYYYMMDD"):
        trading_day_arg(text)


@pytest.mark.per_book
def test_through_the_command_line_with_the_data_dir_of_the_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    (config / "node.toml").write_text(f'data_dir = "{data_dir}"\nfsync = false\n', encoding="utf-8")

    status, out, err = cli(capsys, "--date", DATE, "--config", str(config), "--account", "A4")

    assert (status, err) == (0, "")
    assert out.splitlines()[1] == f"database           {data_dir / DB_FILE}"
    assert "Account A4 (member M2)" in out.splitlines()


def test_help_explains_the_report_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["eod", "report", "--help"])

    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    for words in ("--date", "--account", "--format", "--data-dir", "--config", "examples:", "carbonx eod report"):
        assert words in out


def test_a_missing_database_is_one_line_and_creates_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / JOURNAL_FILE).write_bytes(b"")  # a data directory no day has ended in (without one: test_cli_data_dirs)

    status, out, err = cli(capsys, "--date", DATE, "--data-dir", str(tmp_path))

    assert one_line_error(status, out, err) == (
        f"carbonx eod: error: {tmp_path / DB_FILE}: no end-of-day database here; "
        "no end of day has been recorded in this data directory"
    )
    assert list(tmp_path.iterdir()) == [tmp_path / JOURNAL_FILE]


@pytest.mark.per_book
def test_a_date_without_an_end_of_day_lists_the_dates_that_have_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data_dir = record(tmp_path / "var", two_days=True)

    status, out, err = cli(capsys, "--date", "2026-11-25", "--data-dir", str(data_dir))

    assert one_line_error(status, out, err) == (
        f"carbonx eod: error: {data_dir / DB_FILE}: no end of day recorded for 2026-11-25; "
        "available: 2026-11-23, 2026-11-24"
    )


def test_an_empty_database_says_that_no_day_is_recorded(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with StatementStore.open(tmp_path / DB_FILE):
        pass

    status, out, err = cli(capsys, "--date", DATE, "--data-dir", str(tmp_path))

    assert one_line_error(status, out, err).endswith(": no end of day recorded for 2026-11-23; none recorded yet")


@pytest.mark.per_book
def test_an_account_without_a_statement_lists_the_accounts(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    status, out, err = cli(capsys, "--date", DATE, "--data-dir", str(data_dir), "--account", "A9")

    assert one_line_error(status, out, err) == (
        f"carbonx eod: error: {data_dir / DB_FILE}: no statement of account 'A9' on 2026-11-23; "
        "accounts: A1, A2, A3, A4, EXCHANGE-FEES"
    )


def test_a_long_list_in_an_error_is_cut_short() -> None:
    names = [f"D{i:02d}" for i in range(20)]
    days = [20261100 + d for d in range(1, 21)]

    assert eod_cmd._listing(names) == "D00, D01, D02, D03, D04, D05, D06, D07, D08, D09, D10, D11 and 8 more"
    assert dates(days) == (
        "20 days from 2026-11-01 to 2026-11-20, the latest 2026-11-16, 2026-11-17, 2026-11-18, 2026-11-19, 2026-11-20"
    )
