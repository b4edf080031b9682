"""``carbonx fills``: a member's executions of one trading day, from its execution reports.

Each fill is the member's own side of a trade (docs/PROTOCOL.md §4.7: the market is anonymous, so
nothing names the counterparty, in any format); the node keeps the reports of the current and the
previous trading day, and the statements of ``carbonx eod report`` hold the trades of older days.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from carbonx.cli.commands import help_of
from carbonx.cli.connect import add_connection_options, connect
from carbonx.cli.display import clock, cny, exchange_time, iso, table, trading_day_arg
from carbonx.cli.kept_reports import day_reports
from carbonx.errors import CarbonxError
from engine.messages import Side
from gateway.protocol import Fill

HELP = help_of("fills")
DESCRIPTION = """\
List the member's executions of one trading day (default: the current one) as the node reported
them: the exchange time, the trade and order, the account, side, instrument, price, quantity, fee,
and whether the order was the maker (it rested in the book) or the taker (it traded on arrival).
A fill never names the other side of the trade.

The node keeps the reports of the current and the previous trading day; for an older day, the
trades are in the account's end-of-day statement (carbonx eod report --date D --account A).

Formats: table (for people: times in the exchange's time zone, Asia/Shanghai; prices and fees in
CNY), csv and json (exact integers, the unit in each name: price_fen_per_t, quantity_t, fee_fen,
leaves_t; trading_day is the date YYYY-MM-DD, as in carbonx eod report and carbonx bulletin;
ts_event_ns is the exchange time in ns since the epoch, UTC, and time the same instant in ISO 8601
with the exchange's UTC offset).
"""
EPILOG = """\
examples (make run starts a demo node):
  carbonx order new --member M002 sell SHEA2025 100 80.00
  carbonx order new --member M001 buy SHEA2025 100 80.00
  carbonx fills --member M002                        the seller's fill of that trade
  carbonx fills --member M002 --date 2026-11-23      a previous trading day (if the node keeps it)
  carbonx fills --member M101 --account A102 --format csv > fills.csv
"""
FORMATS = ("table", "csv", "json")
CSV_FIELDS = (
    "trading_day",
    "time",
    "ts_event_ns",
    "trade_id",
    "order_id",
    "account",
    "instrument",
    "side",
    "price_fen_per_t",
    "quantity_t",
    "fee_fen",
    "role",
    "leaves_t",
)


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "fills",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--date",
        type=trading_day_arg,
        default=None,
        metavar="DATE",
        help="the trading day: YYYY-MM-DD or YYYYMMDD (default: the current one)",
    )
    parser.add_argument("--account", default="", help="only this account")
    parser.add_argument("--instrument", default="", help="only this instrument")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    add_connection_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    client, loaded = connect(args)
    with client:
        accounts = client.session.accounts
        if args.account and args.account not in accounts:
            known = ", ".join(accounts)
            raise CarbonxError(f"member {client.member} has no account {args.account!r} (its accounts: {known})")
        day, reports = day_reports(client, args.date)
        member = client.member
    fills = [
        r.event
        for r in reports
        if isinstance(r.event, Fill)
        and (not args.account or r.event.account == args.account)
        and (not args.instrument or r.event.instrument == args.instrument)
    ]
    zone = ZoneInfo(loaded.exchange.calendar.timezone)
    if args.format == "csv":
        write_csv(fills, day, zone)
    elif args.format == "json":
        rows = [fill_record(f, day, zone) for f in fills]
        document = {"member": member, "trading_day": iso(day) if day else None, "timezone": zone.key, "fills": rows}
        print(json.dumps(document, indent=2))
    else:
        for line in table_lines(member, fills, day, zone):
            print(line)
    return 0


def fill_record(fill: Fill, day: int, zone: ZoneInfo) -> dict[str, int | str]:
    """One fill with exact integers: what csv and json carry."""
    return {
        "trading_day": iso(day),
        "time": exchange_time(fill.ts_event, zone).isoformat() if fill.ts_event else "",
        "ts_event_ns": fill.ts_event,
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "account": fill.account,
        "instrument": fill.instrument,
        "side": fill.side.name.lower(),
        "price_fen_per_t": fill.price,
        "quantity_t": fill.quantity,
        "fee_fen": fill.fee,
        "role": role(fill),
        "leaves_t": fill.leaves,
    }


def write_csv(fills: Sequence[Fill], day: int, zone: ZoneInfo) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for fill in fills:
        writer.writerow(fill_record(fill, day, zone))


def role(fill: Fill) -> str:
    """Maker: the order rested in the book; taker: it traded on arrival (took liquidity)."""
    return "taker" if fill.aggressor else "maker"


HEADER = ("time", "trade", "order", "account", "side", "instrument", "price", "quantity t", "fee", "role")
LEFT = frozenset({"time", "account", "side", "instrument", "role"})


def table_lines(member: str, fills: Sequence[Fill], day: int, zone: ZoneInfo) -> list[str]:
    if not day:
        return [f"fills of {member}: no trading day has started yet"]
    title = f"fills of {member} on trading day {iso(day)}"
    if not fills:
        return [f"{title}: none"]
    rows = [
        (
            clock(f.ts_event, zone, day),
            str(f.trade_id),
            str(f.order_id),
            f.account,
            f.side.name.lower(),
            f.instrument,
            cny(f.price),
            f"{f.quantity:,}",
            cny(f.fee),
            role(f),
        )
        for f in fills
    ]
    bought = sum(f.quantity for f in fills if f.side is Side.BUY)
    sold = sum(f.quantity for f in fills if f.side is Side.SELL)
    fees = sum(f.fee for f in fills)
    count = f"{len(fills)} fill" + ("" if len(fills) == 1 else "s")
    return [
        f"{title} (times {zone.key}; prices CNY/t, fees CNY)",
        *table(HEADER, rows, left=LEFT),
        f"{count}: bought {bought:,} t, sold {sold:,} t, fees {cny(fees)} CNY",
    ]
