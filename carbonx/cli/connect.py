"""What the client commands share: connection options, prices in yuan, one-line event descriptions."""

from __future__ import annotations

import argparse
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

from carbonx.cli.display import cny, reject_in_cny
from carbonx.config import LoadedConfig, load_config
from carbonx.errors import CarbonxError
from engine.messages import (
    AllOrdersCancelled,
    Event,
    InstrumentStatusChanged,
    MarketStatusChanged,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderConvertedToLimit,
    OrderRejected,
    RequestRejected,
)
from gateway.client import MemberClient
from gateway.protocol import Fill

MEMBER_ENV = "CARBONX_MEMBER"


def add_connection_options(parser: argparse.ArgumentParser, member_default: str | None = None) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--member",
        default=member_default,
        metavar="ID",
        help=f"log on as this member (default: ${MEMBER_ENV}"
        + (f", else {member_default})" if member_default else ")"),
    )
    group.add_argument("--config", default="config", metavar="DIR", help="config directory (default: config)")
    group.add_argument(
        "--gateway", default=None, metavar="ENDPOINT", help="order entry endpoint (default: node.toml gateway.endpoint)"
    )
    group.add_argument(
        "--keys-dir",
        default=None,
        metavar="DIR",
        help="where <MEMBER>.key_secret and server.key are (default: node.toml gateway.keys_dir)",
    )
    group.add_argument("--timeout-ms", type=int, default=5_000, metavar="MS", help="answer timeout (default: 5000)")


def member_of(args: argparse.Namespace) -> str:
    member: str | None = os.environ.get(MEMBER_ENV) if args.member is None else args.member
    if not member:
        raise CarbonxError(f"no member: give --member ID or set {MEMBER_ENV}")
    return member


def connect(args: argparse.Namespace, loaded: LoadedConfig | None = None) -> tuple[MemberClient, LoadedConfig]:
    """The client of the member ``args`` name, and the config; ``loaded``: the config read already."""
    if loaded is None:
        loaded = load_config(args.config)
    member = member_of(args)
    if member not in {a.member for a in loaded.access}:
        known = ", ".join(a.member for a in loaded.access)
        raise CarbonxError(f"{args.config}/members.toml: unknown member {member!r} (known: {known})")
    endpoint = args.gateway or loaded.node.gateway.endpoint
    keys_dir = Path(args.keys_dir) if args.keys_dir else loaded.keys_dir
    client = MemberClient.from_keys(endpoint, member, keys_dir, timeout_ms=args.timeout_ms)
    return client, loaded


def default_account(client: MemberClient, account: str | None) -> str:
    if account:
        return account
    accounts = client.session.accounts
    if len(accounts) != 1:
        raise CarbonxError(f"member {client.member} has accounts {', '.join(accounts)}: choose one with --account")
    return accounts[0]


def fen(text: str, what: str = "price") -> int:
    """A price or amount in yuan ("80.00", "80.5", "80") as integer fen; refuses fractions of a fen."""
    try:
        value = Decimal(text) * 100
    except InvalidOperation:
        raise CarbonxError(f"{what} {text!r}: not a number (yuan, e.g. 80.00)") from None
    if value != value.to_integral_value() or value < 0:
        raise CarbonxError(f"{what} {text!r}: must be a non-negative amount in yuan with at most 2 decimals")
    return int(value)


def describe(event: Event) -> str:
    """One line for an execution report, in a member's words."""
    match event:
        case OrderAccepted():
            frozen = (
                f"froze {cny(event.frozen_cash)} CNY" if event.frozen_cash else f"froze {event.frozen_quantity:,} t"
            )
            price = f"@ {cny(event.price)}" if event.price else "at market"
            return (
                f"accepted order {event.order_id} ({event.client_order_id}): {event.side.name} "
                f"{event.quantity:,} t {event.instrument} {price}, {event.order_type.name}; {frozen}"
            )
        case Fill():
            verb = "bought" if event.side.name == "BUY" else "sold"
            role = "taker" if event.aggressor else "maker"
            return (
                f"fill order {event.order_id} (trade {event.trade_id}): {verb} {event.quantity:,} t "
                f"{event.instrument} @ {cny(event.price)}, fee {cny(event.fee)} CNY, {role}, leaves {event.leaves:,} t"
            )
        case OrderRejected() | RequestRejected():
            return f"rejected {event.code.value}: {reject_in_cny(event.text)}"
        case OrderCancelled():
            return (
                f"cancelled order {event.order_id} ({event.reason.name}): {event.cancelled_quantity:,} t; "
                f"released {cny(event.released_cash)} CNY, {event.released_quantity:,} t"
            )
        case OrderAmended():
            kept = "priority kept" if event.priority_kept else "priority lost"
            return f"amended order {event.order_id}: {event.quantity:,} t @ {cny(event.price)} ({kept})"
        case OrderConvertedToLimit():
            return f"order {event.order_id} rests as a limit order: {event.quantity:,} t @ {cny(event.price)}"
        case AllOrdersCancelled():
            return f"mass cancel of {event.account} {event.instrument or '(all instruments)'}: {event.cancelled} orders"
        case InstrumentStatusChanged():
            state = "halted" if event.halted else "resumed"
            return f"{event.instrument} {state}" + (f": {event.reason}" if event.reason else "")
        case MarketStatusChanged():
            state = "halted" if event.halted else "resumed"
            return f"market {state}" + (f": {event.reason}" if event.reason else "")
    return type(event).__name__
