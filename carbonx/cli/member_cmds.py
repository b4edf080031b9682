"""``carbonx order`` and ``carbonx account``: a member's
tools against a running node, through the order gateway (CURVE keys from the keys directory).

Exit status: 0 when the exchange accepted what was asked, 1 when the engine rejected it (the
reject code and text are printed), 2 for an error the user can fix (bad argument, unreachable
node, refused key or request).
"""

from __future__ import annotations

import argparse
from typing import Any

from carbonx.cli.connect import add_connection_options, connect, default_account, describe, fen
from carbonx.cli.display import cny
from carbonx.errors import CarbonxError
from engine.messages import (
    OrderRejected,
    OrderType,
    RequestRejected,
    Side,
)
from gateway.client_core import Result

ORDER_TYPES = {
    "limit": OrderType.LIMIT,
    "ioc": OrderType.LIMIT_IOC,
    "fok": OrderType.LIMIT_FOK,
    "market": OrderType.MARKET_FIVE_CANCEL,
    "market-limit": OrderType.MARKET_FIVE_LIMIT,
}

ORDER_EPILOG = """\
examples (make run starts a demo node; demo members M001 M002 M003 M101 M102, regulator REGULATOR):
  carbonx order new --member M001 buy SHEA2025 100 80.00
  carbonx order new --member M002 sell SHEA2025 100 79.90 --type ioc
  carbonx order new --member M101 --account A102 buy SHEA2025 50 --type market
  carbonx order list --member M001
  carbonx order amend --member M001 7 80.10 200
  carbonx order cancel --member M001 7
  carbonx order cancel --member M001 --all

Prices are CNY per tonne (at most 2 decimals), quantities tonnes. Order types: limit (a day order),
ioc, fok, market (best five levels, rest cancelled), market-limit (best five levels, rest to limit).
Resending an order with the same --client-order-id returns the original result, never a second order.
"""


def add_parsers(commands: Any) -> None:
    _add_order(commands)
    _add_account(commands)


def _add_order(commands: Any) -> None:
    parser = commands.add_parser(
        "order",
        help="send, amend, cancel and list orders on a running node",
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
    listing = actions.add_parser("list", help="the open orders of the member's accounts")
    listing.add_argument("--account", default="", help="only this account")
    listing.add_argument("--instrument", default="", help="only this instrument")
    listing.set_defaults(run=_order_list)
    for sub in (new, cancel, amend, listing):
        add_connection_options(sub)


def _add_account(commands: Any) -> None:
    parser = commands.add_parser(
        "account",
        help="cash and holdings of the member's accounts on a running node",
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
        raise CarbonxError(f"refused by the gateway: {result.refused.text}")
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
        return show(result)


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
