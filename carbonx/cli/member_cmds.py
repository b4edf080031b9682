"""``carbonx order`` and ``carbonx account``: a member's
tools against a running node, through the order gateway (CURVE keys from the keys directory).

Exit status: 0 when the exchange accepted what was asked, 1 when the engine rejected it (the
reject code and text are printed), 2 for an error the user can fix (bad argument, unreachable
node, refused key or request).
"""

from __future__ import annotations

import argparse
import time
from typing import Any
from zoneinfo import ZoneInfo

from carbonx.cli.commands import help_of
from carbonx.cli.connect import add_connection_options, connect, default_account, describe, fen
from carbonx.cli.display import EMPTY, clock, cny, iso, reject_in_cny, table
from carbonx.cli.kept_reports import current_day
from carbonx.cli.order_history import DayOrder, day_orders
from carbonx.errors import CarbonxError
from engine.messages import (
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderType,
    RequestRejected,
    Side,
)
from gateway.client import MemberClient
from gateway.client_core import Result
from gateway.protocol import Fill

ORDER_TYPES = {
    "limit": OrderType.LIMIT,
    "ioc": OrderType.LIMIT_IOC,
    "fok": OrderType.LIMIT_FOK,
    "market": OrderType.MARKET_FIVE_CANCEL,
    "market-limit": OrderType.MARKET_FIVE_LIMIT,
}

ORDER_EPILOG = """\
examples (make run starts a demo node; demo members M001 M002 M003 M101 M102, regulator REGULATOR):
  carbonx order new --member M002 sell SHEA2025 100 80.00
  carbonx order new --member M001 buy SHEA2025 100 80.00     trades with it: the fill is printed
  carbonx order new --member M002 sell SHEA2025 100 80.00 --wait 30
                                         wait up to 30 s for this order's fills, printing each
  carbonx order new --member M002 sell SHEA2025 100 79.90 --type ioc
  carbonx order new --member M101 --account A102 buy SHEA2025 50 --type market
  carbonx order list --member M001       open orders
  carbonx order list --member M001 --all
                                         today's orders: open, filled, cancelled, expired, rejected
  carbonx order amend --member M001 7 80.10 200
  carbonx order cancel --member M001 7
  carbonx order cancel --member M001 --all
  carbonx fills --member M002            the day's fills, a resting order's included

Prices are CNY per tonne (at most 2 decimals), quantities tonnes. Order types: limit (a day order),
ioc, fok, market (best five levels, rest cancelled), market-limit (best five levels, rest to limit).
Resending an order with the same --client-order-id returns the original result, never a second order.
"""
LIST_DESCRIPTION = """\
The open orders of the member's accounts, as the book holds them now.

With --all, every order of the current trading day, from the member's execution reports merged
with the book: open, filled, cancelled (with the reason: USER, IOC_REMAINDER, SELF_TRADE ...),
expired (a day order still resting at the end of day) and rejected (with the reject code,
docs/REJECT_CODES.md; a rejected order never got an order id).
"""
MAX_WAIT_S = 3_600


def add_parsers(commands: Any) -> None:
    _add_order(commands)
    _add_account(commands)


def _add_order(commands: Any) -> None:
    parser = commands.add_parser(
        "order",
        help=help_of("order"),
        description="Orders through the order gateway of a running node (carbonx serve).",
        epilog=ORDER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = actions.add_parser(
        "new", help="send a new order", epilog=ORDER_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    new.add_argument("side", choices=("buy", "sell"), help="buy or sell")
    new.add_argument("instrument", help="instrument code, e.g. SHEA2025")
    new.add_argument("quantity", type=int, help="tonnes")
    new.add_argument("price", nargs="?", default=None, help="limit price in CNY per tonne (none for market orders)")
    new.add_argument("--type", choices=sorted(ORDER_TYPES), default="limit", help="order type (default: limit)")
    new.add_argument("--account", default=None, help="the account (default: the member's only account)")
    new.add_argument("--client-order-id", default=None, help="your id for the order (default: random); unique per day")
    new.add_argument(
        "--wait",
        type=_seconds,
        default=1.0,
        metavar="SECONDS",
        help="after the result, print this order's fills that arrive within SECONDS, stopping once it is filled "
        "or cancelled (default: 1; 0: return at once). Fills that come later: carbonx fills",
    )
    new.set_defaults(run=_order_new)
    cancel = actions.add_parser("cancel", help="cancel an order, or every order with --all")
    cancel.add_argument("order_id", type=int, nargs="?", help="the exchange's order id")
    cancel.add_argument("--all", action="store_true", help="cancel every open order of the account")
    cancel.add_argument("--instrument", default="", help="with --all: only this instrument")
    cancel.add_argument("--account", default=None, help="the account (default: the member's only account)")
    cancel.set_defaults(run=_order_cancel)
    amend = actions.add_parser("amend", help="change a resting limit order's price and open quantity")
    amend.add_argument("order_id", type=int)
    amend.add_argument("price", help="new price in CNY per tonne")
    amend.add_argument("quantity", type=int, help="new open quantity in tonnes")
    amend.add_argument("--account", default=None, help="the account (default: the member's only account)")
    amend.set_defaults(run=_order_amend)
    listing = actions.add_parser(
        "list",
        help="the open orders of the member's accounts; with --all, every order of the day",
        description=LIST_DESCRIPTION,
        epilog="examples:\n  carbonx order list --member M001\n  carbonx order list --member M001 --all\n"
        "  carbonx order list --member M101 --account A102 --instrument SHEA2025 --all",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("--all", action="store_true", help="every order of today, in every state")
    listing.add_argument("--account", default="", help="only this account")
    listing.add_argument("--instrument", default="", help="only this instrument")
    listing.set_defaults(run=_order_list)
    for sub in (new, cancel, amend, listing):
        add_connection_options(sub)


def _add_account(commands: Any) -> None:
    parser = commands.add_parser(
        "account",
        help=help_of("account"),
        description="Balances and holdings, as the exchange holds them now: available, frozen by open orders, "
        "withdrawable cash; allowances available, frozen, restricted (bought today) and compliance-only.",
        epilog="example:\n  carbonx account --member M001",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--account", default="", help="only this account")
    add_connection_options(parser)
    parser.set_defaults(run=_account)


# ---------------------------------------------------------------------------------------------- actions


def show(result: Result) -> int:
    if result.refused is not None:
        raise CarbonxError(f"refused by the gateway: {reject_in_cny(result.refused.text)}")
    if result.duplicate:
        print("already sent: the original result follows (no new order)")
    for report in result.reports:
        print(f"#{report.seq} {describe(report.event)}")
    rejected = any(isinstance(e, OrderRejected | RequestRejected) for e in result.events)
    return 1 if rejected else 0


def _order_new(args: argparse.Namespace) -> int:
    order_type = ORDER_TYPES[args.type]
    market = order_type in (OrderType.MARKET_FIVE_CANCEL, OrderType.MARKET_FIVE_LIMIT)
    if market and args.price is not None:
        raise CarbonxError("a market order takes no price")
    if not market and args.price is None:
        raise CarbonxError(f"a {args.type} order needs a price (CNY per tonne)")
    price = 0 if market else fen(args.price)
    client, _ = connect(args)
    with client:
        account = default_account(client, args.account)
        side = Side.BUY if args.side == "buy" else Side.SELL
        result = client.new_order(
            account, args.instrument, side, args.quantity, price, order_type, args.client_order_id
        )
        status = show(result)
        if status == 0 and args.wait > 0:
            _await_fills(client, result, args.wait)
        return status


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= seconds <= MAX_WAIT_S:
        raise argparse.ArgumentTypeError(f"{text}: from 0 to {MAX_WAIT_S} seconds")
    return seconds


def _await_fills(client: MemberClient, result: Result, wait_s: float) -> None:
    """Print the order's own fills (and its end) as they arrive, for up to ``wait_s`` seconds."""
    order_id = next((e.order_id for e in result.events if isinstance(e, OrderAccepted)), 0)
    if not order_id or result.duplicate or any(_ends(e, order_id) for e in result.events):
        return  # (a resent order's later fills were reported before: carbonx fills lists them)
    after = max((r.seq for r in result.reports), default=0)
    deadline = time.monotonic() + wait_s
    while (left := deadline - time.monotonic()) > 0:
        for report in client.poll(max(1, int(left * 1_000))):
            event = report.event
            if report.seq > after and isinstance(event, Fill | OrderCancelled) and event.order_id == order_id:
                print(f"#{report.seq} {describe(event)}")
                if _ends(event, order_id):
                    return
    print(f"order {order_id} is still open after {wait_s:g} s; its later fills: carbonx fills --member {client.member}")


def _ends(event: Event, order_id: int) -> bool:
    """Whether the event leaves the order with nothing open: filled, or cancelled (an expiry too)."""
    if isinstance(event, Fill):
        return event.order_id == order_id and event.leaves == 0
    return isinstance(event, OrderCancelled) and event.order_id == order_id


def _order_cancel(args: argparse.Namespace) -> int:
    if args.all == (args.order_id is not None):
        raise CarbonxError("give an order id or --all (not both)")
    client, _ = connect(args)
    with client:
        account = default_account(client, args.account)
        result = client.cancel_all(account, args.instrument) if args.all else client.cancel(account, args.order_id)
        return show(result)


def _order_amend(args: argparse.Namespace) -> int:
    price = fen(args.price)
    client, _ = connect(args)
    with client:
        return show(client.amend(default_account(client, args.account), args.order_id, price, args.quantity))


def _order_list(args: argparse.Namespace) -> int:
    if args.all:
        return _order_list_all(args)
    client, _ = connect(args)
    with client:
        orders = client.list_orders(args.account, args.instrument)
    if not orders:
        print("no open orders")
        return 0
    header = ("order", "account", "instrument", "side", "price", "open t", "filled t")
    print("{:>8} {:<8} {:<10} {:<4} {:>10} {:>9} {:>9}  client id".format(*header))
    for o in orders:
        print(
            f"{o.order_id:>8} {o.account:<8} {o.instrument:<10} {o.side.name:<4} {cny(o.price):>10} "
            f"{o.leaves:>9,} {o.filled:>9,}  {o.client_order_id}"
        )
    return 0


DAY_HEADER = (
    "order",
    "time",
    "account",
    "instrument",
    "side",
    "type",
    "price",
    "quantity t",
    "filled t",
    "open t",
    "status",
    "client id",
)
DAY_LEFT = frozenset({"time", "account", "instrument", "side", "type", "status", "client id"})


def _order_list_all(args: argparse.Namespace) -> int:
    client, loaded = connect(args)
    with client:
        day, reports = current_day(client)
        orders = client.list_orders(args.account, args.instrument)
        live = client.poll()  # reports that came since the logon: the query's state includes their events
    if not day:
        print("no trading day has started yet")
        return 0
    rows = day_orders([*reports, *live], orders, args.account, args.instrument)
    if not rows:
        print(f"no orders on trading day {iso(day)}")
        return 0
    zone = ZoneInfo(loaded.exchange.calendar.timezone)
    print(f"orders of trading day {iso(day)} (times {zone.key}; prices CNY/t)")
    for line in table(DAY_HEADER, [_day_row(o, zone, day) for o in rows], left=DAY_LEFT):
        print(line)
    return 0


def _day_row(o: DayOrder, zone: ZoneInfo, day: int) -> tuple[str, ...]:
    if o.side is None or o.order_type is None:  # rejected: never an order
        return (
            EMPTY,
            clock(o.ts_event, zone, day),
            o.account,
            o.instrument,
            *(EMPTY,) * 6,
            o.status,
            o.client_order_id,
        )
    order_type = next((name for name, t in ORDER_TYPES.items() if t is o.order_type), o.order_type.name)
    return (
        str(o.order_id),
        clock(o.ts_event, zone, day),
        o.account,
        o.instrument,
        o.side.name.lower(),
        order_type,
        cny(o.price) if o.price else "market",
        f"{o.quantity:,}",
        f"{o.filled:,}",
        f"{o.leaves:,}",
        o.status,
        o.client_order_id,
    )


def _account(args: argparse.Namespace) -> int:
    client, _ = connect(args)
    with client:
        balances = client.accounts(args.account)
    for b in balances:
        print(f"{b.account} ({b.kind}, member {b.member})")
        print(
            f"  cash CNY   available {cny(b.cash_available):>16}   frozen {cny(b.cash_frozen):>14}   "
            f"withdrawable {cny(b.cash_withdrawable):>16}"
        )
        for h in b.holdings:
            print(
                f"  {h.instrument:<10} available {h.available:>12,} t   frozen {h.frozen:>10,} t   "
                f"restricted {h.restricted:>10,} t   compliance-only {h.compliance:>10,} t"
            )
    return 0
