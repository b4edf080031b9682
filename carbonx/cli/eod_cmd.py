"""``carbonx eod report``: a trading day's end of day from the database, as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import Any, TextIO

import msgspec

from carbonx.cli.commands import help_of
from carbonx.cli.display import cny, iso, signed, table, tonnes, trading_day_arg
from carbonx.cli.recorded_days import (
    BULLETIN_PRICES,
    BULLETIN_UNITS,
    bulletin_table,
    end_of_day_database,
    recorded_day,
)
from carbonx.config import load_config
from carbonx.errors import CarbonxError
from carbonx.statements_db import DB_FILE, StatementStore
from engine.messages import (
    AccountStatement,
    ConservationChecked,
    DailyBulletin,
    LargeHolderReported,
    MemberSettlement,
    TradingDayEnded,
)
from settlement.arrays import METHOD_AUCTION, METHOD_LISTING, METHOD_TRANSFER
from settlement.statements import CashStatement, HoldingStatement, StatementTrade

HELP = help_of("eod")
DESCRIPTION = """\
The end of day of each trading day is recorded in the SQLite database carbonx.db of the data
directory (docs/DATABASE.md): the daily bulletin, the conservation check, the members' cash
settlement, the large holders and every account's statement.
"""
REPORT_HELP = "show the end of day of one trading day (the latest, or --date; all accounts, or one)"
REPORT_DESCRIPTION = """\
Show the end of day of one trading day (without --date: the latest recorded, named on the first
line) from the data directory's carbonx.db: the daily bulletin per instrument, the conservation
check (every instrument and cash adds up, or each mismatch), the cash each member pays or
receives for the day's trades, the holders above the large-holder threshold, and each account's
statement: cash (opening, every movement, closing, frozen, released, withdrawable), each
instrument (opening, movements, closing, the compliance-only part, the resale restriction
released) and its trades with their fees.

Agreement transfers (bulk trades) are counted apart in the bulletin (bulk volume, bulk turnover,
transfers: the table lists them below the listing's on a day that had any) and marked in the
statements: a trade's method is listing or transfer (the table adds the column for an account
that made a transfer; a transfer's number is its transfer id, numbered apart from trade ids).

Formats: table (for people: CNY with two decimals, tonnes), csv (one flat table with a `record`
column to filter on; integers, the unit in each column name: _fen, _t, _fen_per_t) and json (one
document, integers in fen and tonnes). docs/DATABASE.md describes every column and key.

The report only reads: a data directory that is missing, a file, or holds neither a journal nor
the database ends with one line saying so, and nothing is created in it.
"""
REPORT_EPILOG = """\
examples:
  carbonx eod report                                      the latest trading day recorded
  carbonx eod report --date 2026-11-23                    the whole end of day, for people
  carbonx eod report --date 20261123 --account A1         one account's statement
  carbonx eod report --date 2026-11-23 --format csv > eod-2026-11-23.csv
  carbonx eod report --date 2026-11-23 --format json --data-dir var

An unknown date or account ends with an error listing the dates or accounts that exist. A day
is recorded when it ends: by the node's scheduler, or `carbonx regulator end-of-day`.
"""
FORMATS = ("table", "csv", "json")
SIDES = {1: "buy", 2: "sell"}
METHODS = {METHOD_LISTING: "listing", METHOD_TRANSFER: "transfer", METHOD_AUCTION: "auction"}  # StatementTrade.method

# Movements of a statement section with the sign they add to the balance, in the statement's order.
CASH_MOVEMENTS = (
    ("deposits", 1),
    ("withdrawals", -1),
    ("bought", -1),
    ("sold", 1),
    ("fees_paid", -1),
    ("fees_received", 1),
    ("transferred_in", 1),
    ("transferred_out", -1),
)
HOLDING_MOVEMENTS = (
    ("allocated", 1),
    ("bought", 1),
    ("sold", -1),
    ("surrendered", -1),
    ("cancelled", -1),
    ("carried_in", 1),
    ("carried_out", -1),
    ("transferred_in", 1),
    ("transferred_out", -1),
)


class ReportError(CarbonxError):
    """No statement of that account on that day (no end of day: recorded_days.DayNotRecorded)."""


class EodReport(msgspec.Struct, frozen=True, kw_only=True):
    database: str
    latest: bool  # asked without a date: the latest recorded day
    ended: TradingDayEnded
    conservation: ConservationChecked
    bulletins: list[DailyBulletin]
    settlements: list[MemberSettlement]
    large_holders: list[LargeHolderReported]
    statements: list[AccountStatement]


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "eod",
        help=HELP,
        description=DESCRIPTION,
        epilog=REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="eod_command", metavar="ACTION", required=True)
    report = actions.add_parser(
        "report",
        help=REPORT_HELP,
        description=REPORT_DESCRIPTION,
        epilog=REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument(
        "--date",
        type=trading_day_arg,
        default=None,
        metavar="DATE",
        help="the trading day: YYYY-MM-DD or YYYYMMDD (default: the latest recorded)",
    )
    report.add_argument("--account", metavar="ACCOUNT", help="show only this account's statement")
    report.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    report.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"data directory holding {DB_FILE} (default: the data_dir of the config's node.toml)",
    )
    report.add_argument(
        "--config", default="config", metavar="DIR", help="config directory, for the data_dir (default: config)"
    )
    report.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir if args.data_dir is not None else Path(load_config(args.config).node.data_dir)
    report = load_report(end_of_day_database(data_dir), args.date, args.account)
    if args.format == "csv":
        write_csv(report, sys.stdout)
    elif args.format == "json":
        sys.stdout.write(json_report(report).decode() + "\n")
    else:
        for line in table_report(report):
            print(line)
    return 0


def load_report(db: Path, day: int | None, account: str | None) -> EodReport:
    """The end of day of ``day`` (None: the latest recorded) from the database ``db``."""
    with StatementStore.open(db) as store:
        latest = day is None
        day = recorded_day(store, db, day)
        ended, conservation = store.day_ended(day), store.conservation(day)
        assert ended is not None and conservation is not None, day  # a recorded day has both
        statements = store.statements(day, account)
        if account is not None and not statements:
            accounts = _listing(store.accounts(day))
            raise ReportError(f"{db}: no statement of account {account!r} on {iso(day)}; accounts: {accounts}")
        return EodReport(
            database=str(db),
            latest=latest,
            ended=ended,
            conservation=conservation,
            bulletins=store.bulletins(day),
            settlements=store.member_settlements(day),
            large_holders=store.large_holders(day),
            statements=statements,
        )


def _listing(names: Sequence[str], most: int = 12) -> str:
    """A list short enough for a one-line error: the first few and how many more."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


# ---------------------------------------------------------------------------------------------- table


def table_report(report: EodReport) -> list[str]:
    ended, conservation = report.ended, report.conservation
    lines = [
        f"carbonx eod report: trading day {iso(ended.trading_day)}"
        + (" (the latest recorded)" if report.latest else ""),
        f"database           {report.database}",
        f"day orders expired {ended.expired_orders:,}",
        f"fees collected     {cny(ended.fees_collected)} CNY",
        f"conservation       {_conservation_summary(conservation)}",
        "",
        f"Daily bulletin ({BULLETIN_UNITS})",
        *bulletin_table(report.bulletins, full=True),
    ]
    if not conservation.ok:
        lines += ["", "Conservation mismatches (cash in CNY, instruments in t)"]
        rows = [
            [m.asset, *(_amount(m.asset, v) for v in (m.expected, m.actual, m.difference))]
            for m in conservation.mismatches
        ]
        lines += table(["asset", "expected", "actual", "difference"], rows)
    lines += ["", *_settlement_lines(report.settlements), "", *_large_holder_lines(report.large_holders)]
    for statement in report.statements:
        lines += ["", *account_lines(statement)]
    return lines


def _conservation_summary(conservation: ConservationChecked) -> str:
    if conservation.ok:
        return "OK: every instrument and cash adds up"
    failed = len(conservation.mismatches)
    assets = "asset does" if failed == 1 else "assets do"
    return f"FAILED: {failed} {assets} not add up; the end of day halted the market"


def _amount(asset: str, value: int) -> str:
    return cny(value) if asset == "CASH" else tonnes(value)


def _settlement_lines(settlements: list[MemberSettlement]) -> list[str]:
    if not settlements:
        return ["Member cash settlement: no trades, nothing to settle"]
    rows = [
        [
            s.member,
            *(cny(v) for v in (s.bought, s.sold, s.fees_paid, s.fees_received, s.net)),
            "receives" if s.net > 0 else "pays" if s.net < 0 else "nothing",
        ]
        for s in settlements
    ]
    header = ["member", "bought", "sold", "fees paid", "fees received", "net", "settlement"]
    return [
        "Member cash settlement (CNY; net = sold - bought - fees paid + fees received)",
        *table(header, rows, left={"member", "settlement"}),
    ]


def _large_holder_lines(holders: list[LargeHolderReported]) -> list[str]:
    if not holders:
        return ["Large holders: none above the report threshold"]
    rows = [[h.account, h.member, h.instrument, f"{h.holding:,}", f"{h.threshold:,}"] for h in holders]
    return [
        "Large holders (t)",
        *table(
            ["account", "member", "instrument", "holding", "threshold"], rows, left={"account", "member", "instrument"}
        ),
    ]


def account_lines(statement: AccountStatement) -> list[str]:
    """One account's statement: cash, then each instrument, then its trades."""
    return [
        f"Account {statement.account} (member {statement.member})",
        *_indent(_cash_lines(statement.cash)),
        *_indent(_holding_lines(statement.holdings)),
        *_indent(_trade_lines(statement.trades)),
    ]


def _cash_lines(cash: CashStatement) -> list[str]:
    rows = [["opening", cny(cash.opening)]]
    rows += [[_label(f), signed(sign * getattr(cash, f))] for f, sign in CASH_MOVEMENTS if getattr(cash, f)]
    rows += [
        ["closing", cny(cash.closing)],
        ["frozen at close", cny(cash.closing_frozen)],
        ["released today", cny(cash.released)],
        ["withdrawable", cny(cash.withdrawable)],
    ]
    return table(["cash", "CNY"], rows)


def _holding_lines(holdings: list[HoldingStatement]) -> list[str]:
    if not holdings:
        return ["holdings: none"]
    # Only the kinds of movement this account had, so a trader's statement is not a wall of zeros.
    moved = [(f, sign) for f, sign in HOLDING_MOVEMENTS if any(getattr(h, f) for h in holdings)]
    movements = [_label(f) for f, _ in moved]
    header = ["holdings t", "opening", *movements, "closing", "compliance-only", "restriction released"]
    rows = [
        [
            h.instrument,
            f"{h.opening:,}",
            *(signed(sign * getattr(h, f), tonnes) for f, sign in moved),
            f"{h.closing:,}",
            f"{h.closing_compliance:,}",
            f"{h.released_restricted:,}",
        ]
        for h in holdings
    ]
    return table(header, rows)


def _trade_lines(trades: list[StatementTrade]) -> list[str]:
    """The account's trades; an account that made an agreement transfer gets a method column, so a
    bulk trade is never read as a listing trade (their numbers may be the same)."""
    if not trades:
        return ["trades: none"]
    bulk = any(t.method != METHOD_LISTING for t in trades)
    rows = [
        [
            str(t.trade_id),
            t.instrument,
            SIDES[t.side],
            *([METHODS[t.method]] if bulk else []),
            f"{t.quantity:,}",
            cny(t.price),
            cny(t.value),
            cny(t.fee),
        ]
        for t in trades
    ]
    methods = ["method"] if bulk else []
    header = ["trade", "instrument", "side", *methods, "quantity t", "price CNY/t", "value CNY", "fee CNY"]
    return table(header, rows, left={"trade", "instrument", "side", "method"})


def _label(field: str) -> str:
    return field.replace("_", " ")


def _indent(lines: list[str]) -> list[str]:
    return ["  " + line for line in lines]


# ------------------------------------------------------------------------------------------------ csv

SETTLEMENT_AMOUNTS = ("bought", "sold", "fees_paid", "fees_received", "net")
# One flat table; the unit is part of each amount column's name. Filled per record kind as docs/DATABASE.md says.
CSV_COLUMNS: tuple[str, ...] = tuple(
    chain(
        ("record", "trading_day", "member", "account", "instrument"),
        ("expired_orders", "fees_collected_fen"),  # day
        # conservation: cash mismatches in fen, instrument mismatches in tonnes
        ("conservation_ok", "asset", "expected_fen", "actual_fen", "difference_fen"),
        ("expected_t", "actual_t", "difference_t"),
        (f"{name}_fen_per_t" for name in BULLETIN_PRICES),
        ("volume_t", "turnover_fen", "trades"),  # bulletin
        (f"{name}_fen" for name in CashStatement.__struct_fields__),
        ("net_fen",),  # a settlement fills bought, sold, fees_paid, fees_received and net
        (f"{name}_t" for name in HoldingStatement.__struct_fields__ if name != "instrument"),
        ("trade_id", "side", "price_fen_per_t", "quantity_t", "value_fen", "fee_fen"),
        ("holding_t", "threshold_t"),  # large holder
        # Added with agreement transfers, at the end: a bulletin's bulk figures, a trade's method.
        ("bulk_volume_t", "bulk_turnover_fen", "bulk_trades", "method"),
    )
)


def write_csv(report: EodReport, out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_records(report))


def csv_records(report: EodReport) -> Iterator[dict[str, object]]:
    """The report as flat records, each naming its kind in ``record``."""
    day = iso(report.ended.trading_day)
    ended, conservation = report.ended, report.conservation
    yield {
        "record": "day",
        "trading_day": day,
        "expired_orders": ended.expired_orders,
        "fees_collected_fen": ended.fees_collected,
    }
    if conservation.ok:
        yield {"record": "conservation", "trading_day": day, "conservation_ok": 1}
    for m in conservation.mismatches:
        unit = "fen" if m.asset == "CASH" else "t"
        values = {"expected": m.expected, "actual": m.actual, "difference": m.difference}
        yield {"record": "conservation", "trading_day": day, "conservation_ok": 0, "asset": m.asset} | {
            f"{name}_{unit}": value for name, value in values.items()
        }
    for b in report.bulletins:
        yield (
            {"record": "bulletin", "trading_day": day, "instrument": b.instrument}
            | {f"{name}_fen_per_t": getattr(b, name) for name in BULLETIN_PRICES}
            | {"volume_t": b.volume, "turnover_fen": b.turnover, "trades": b.trades}
            | {"bulk_volume_t": b.bulk_volume, "bulk_turnover_fen": b.bulk_turnover, "bulk_trades": b.bulk_trades}
        )
    for s in report.settlements:
        yield {"record": "settlement", "trading_day": day, "member": s.member} | {
            f"{name}_fen": getattr(s, name) for name in SETTLEMENT_AMOUNTS
        }
    for h in report.large_holders:
        yield {
            "record": "large_holder",
            "trading_day": day,
            "member": h.member,
            "account": h.account,
            "instrument": h.instrument,
            "holding_t": h.holding,
            "threshold_t": h.threshold,
        }
    for statement in report.statements:
        yield from _statement_records(statement, day)


def _statement_records(statement: AccountStatement, day: str) -> Iterator[dict[str, object]]:
    owner = {"trading_day": day, "member": statement.member, "account": statement.account}
    yield {"record": "cash", **owner} | {f"{name}_fen": value for name, value in _fields(statement.cash).items()}
    for h in statement.holdings:
        quantities = _fields(h)
        instrument = quantities.pop("instrument")
        yield {"record": "holding", **owner, "instrument": instrument} | {
            f"{name}_t": value for name, value in quantities.items()
        }
    for t in statement.trades:
        yield {
            "record": "trade",
            **owner,
            "instrument": t.instrument,
            "trade_id": t.trade_id,
            "side": SIDES[t.side],
            "price_fen_per_t": t.price,
            "quantity_t": t.quantity,
            "value_fen": t.value,
            "fee_fen": t.fee,
            "method": METHODS[t.method],
        }


def _fields(struct: msgspec.Struct) -> dict[str, Any]:
    return msgspec.structs.asdict(struct)


# ----------------------------------------------------------------------------------------------- json


def json_report(report: EodReport) -> bytes:
    """One JSON document; integers in fen, fen per tonne and tonnes (keys in docs/DATABASE.md)."""
    ended, conservation = report.ended, report.conservation
    document = {
        "trading_day": iso(ended.trading_day),
        "units": {"money": "fen", "price": "fen per tonne", "quantity": "tonnes"},
        "expired_orders": ended.expired_orders,
        "fees_collected": ended.fees_collected,
        "conservation": {
            "ok": conservation.ok,
            "mismatches": [_fields(m) for m in conservation.mismatches],
        },
        "bulletins": [_event_fields(b) for b in report.bulletins],
        "member_settlements": [_event_fields(s) for s in report.settlements],
        "large_holders": [_event_fields(h) for h in report.large_holders],
        "accounts": [
            {
                "account": s.account,
                "member": s.member,
                "cash": _fields(s.cash),
                "holdings": [_fields(h) for h in s.holdings],
                "trades": [_fields(t) | {"side": SIDES[t.side], "method": METHODS[t.method]} for t in s.trades],
            }
            for s in report.statements
        ],
    }
    return msgspec.json.format(msgspec.json.encode(document), indent=2)


def _event_fields(event: msgspec.Struct) -> dict[str, Any]:
    fields = _fields(event)
    for envelope in ("version", "ts_event", "trading_day"):
        fields.pop(envelope)
    return fields
