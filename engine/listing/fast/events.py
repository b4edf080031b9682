"""Event records back into ``engine.messages`` events, at the boundary and only when asked.

A record (``engine.listing.fast.layout``) holds integers only: accounts and instruments by index, a
reject as its code and up to three numbers of context. The names and the reject text come from
here: the command that caused the record (when there is one) gives what the client sent, and
the tables of the listing give the rest, so each event equals the reference listing's byte for
byte.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine.listing.fast.layout import (
    ALL_INSTRUMENTS,
    EV_ACCEPTED,
    EV_ALL_CANCELLED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_CONVERTED,
    EV_ORDER_REJECTED,
    EV_REQUEST_REJECTED,
    EV_TRADE,
)
from engine.messages import (
    AllOrdersCancelled,
    CancelReason,
    Command,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderConvertedToLimit,
    OrderRejected,
    OrderType,
    Reject,
    RequestRejected,
    Session,
    Side,
    StpMode,
    TradeExecuted,
    reject_text,
)

# Enum members by value: calling ``Side(1)`` runs Python-level enum code (~1 µs), a dict lookup does not.
SIDES = {member.value: member for member in Side}
ORDER_TYPES = {member.value: member for member in OrderType}
STP_MODES = {member.value: member for member in StpMode}
CANCEL_REASONS = {member.value: member for member in CancelReason}


class Names:
    """What turns indices back into names: accounts, instruments, account kinds, client order ids."""

    def __init__(self, accounts: list[str], instruments: list[str], kinds: list[str]) -> None:
        self.accounts = accounts
        self.instruments = instruments
        self.kinds = kinds
        self.client_order_ids: list[tuple[str, str]] = []  # interned key -> (account, client order id)


def _context(code: int, c: Sequence[int], cmd: Any, names: Names, account: str, instrument: str) -> dict[str, object]:
    """The ``key=value`` context of a reject, in the order the reference listing gives it."""
    if code in (Reject.UNKNOWN_ACCOUNT, Reject.PROHIBITED_PARTICIPANT, Reject.ACCOUNT_CLOSED):
        return {"account": account}
    if code == Reject.ACCOUNT_CANNOT_TRADE:
        return {"account": account, "kind": names.kinds[names.accounts.index(account)]}
    if code == Reject.UNKNOWN_INSTRUMENT:
        return {"instrument": instrument}
    if code == Reject.INVALID_CLIENT_ORDER_ID:
        return {"length": c[0], "max": c[1]}
    if code == Reject.DUPLICATE_CLIENT_ORDER_ID:
        return {"client_order_id": getattr(cmd, "client_order_id", "")}
    if code == Reject.MARKET_CLOSED:
        return {"session": Session(c[0]).name}
    if code == Reject.MARKET_HALTED:
        return {}
    if code == Reject.INSTRUMENT_HALTED:
        return {"instrument": names.instruments[c[0]]}
    if code == Reject.QUANTITY_OUT_OF_RANGE:
        return {"quantity": c[0], "min": c[1], "max": c[2]}
    if code == Reject.INVALID_LOT:
        return {"quantity": c[0], "lot": c[1]}
    if code == Reject.INVALID_PRICE:
        return {"price": c[0], "order_type": OrderType(c[1]).name} if c[1] else {"price": c[0]}
    if code == Reject.INVALID_TICK:
        return {"price": c[0], "tick": c[1]}
    if code == Reject.PRICE_OUT_OF_BAND:
        return {"price": c[0], "lower": c[1], "upper": c[2]}
    if code == Reject.POSITION_LIMIT:
        return {"position": c[0], "quantity": c[1], "limit": c[2]}
    if code in (Reject.INSUFFICIENT_FUNDS, Reject.INSUFFICIENT_HOLDINGS):
        return {"required": c[0], "available": c[1]}
    if code == Reject.UNKNOWN_ORDER:
        return {"order_id": getattr(cmd, "order_id", c[0])}
    if code == Reject.AMEND_NO_CHANGE:
        return {"price": c[0], "quantity": c[1]}
    return {}


def _accepted(f: list[int], ts: int, cmd: Any, names: Names) -> Event:
    order_id, account, instr, side, kind, price, quantity, frozen_cash, frozen_quantity, coid = f[:10]
    return OrderAccepted(
        ts_event=ts,
        order_id=order_id,
        account=names.accounts[account],
        instrument=names.instruments[instr],
        # The command's own id when there is one: the interned names are cleared at the end of day,
        # which may come later in the same batch than this record.
        client_order_id=cmd.client_order_id if cmd is not None else names.client_order_ids[coid][1],
        side=SIDES[side],
        order_type=ORDER_TYPES[kind],
        price=price,
        quantity=quantity,
        frozen_cash=frozen_cash,
        frozen_quantity=frozen_quantity,
    )


def _order_rejected(f: list[int], ts: int, cmd: Any, names: Names) -> Event:
    code = Reject(f[0])
    account = cmd.account if cmd is not None else ""
    instrument = cmd.instrument if cmd is not None else ""
    return OrderRejected(
        ts_event=ts,
        account=account,
        instrument=instrument,
        client_order_id=cmd.client_order_id if cmd is not None else "",
        code=code,
        text=reject_text(code, **_context(code, f[1:4], cmd, names, account, instrument)),
    )


def _request_rejected(f: list[int], ts: int, cmd: Any, names: Names) -> Event:
    code = Reject(f[0])
    account = cmd.account if cmd is not None else ""
    instrument = getattr(cmd, "instrument", "")
    return RequestRejected(
        ts_event=ts,
        request=type(cmd).__name__,
        code=code,
        text=reject_text(code, **_context(code, f[1:4], cmd, names, account, instrument)),
        account=account,
        order_id=getattr(cmd, "order_id", 0),
    )


def _trade(f: list[int], ts: int, cmd: Any, names: Names) -> Event:
    accounts = names.accounts
    return TradeExecuted(
        ts_event=ts,
        trade_id=f[0],
        instrument=names.instruments[f[1]],
        price=f[2],
        quantity=f[3],
        aggressor=SIDES[f[4]],
        buy_order_id=f[5],
        sell_order_id=f[6],
        buy_account=accounts[f[7]],
        sell_account=accounts[f[8]],
        buy_fee=f[9],
        sell_fee=f[10],
        buy_leaves=f[11],
        sell_leaves=f[12],
        buy_released_cash=f[13],
    )


def _cancelled(f: list[int], ts: int, cmd: Any, names: Names) -> Event:
    return OrderCancelled(
        ts_event=ts,
        order_id=f[0],
        account=names.accounts[f[1]],
        instrument=names.instruments[f[2]],
        reason=CANCEL_REASONS[f[3]],
        cancelled_quantity=f[4],
        released_cash=f[5],
        released_quantity=f[6],
    )


def _amended(f: list[int], ts: int, cmd: Any, names: Names) -> Event:
    return OrderAmended(
        ts_event=ts,
        order_id=f[0],
        account=names.accounts[f[1]],
        instrument=names.instruments[f[2]],
        price=f[3],
        quantity=f[4],
        priority_kept=bool(f[5]),
        frozen_cash_change=f[6],
        frozen_quantity_change=f[7],
    )


def _converted(f: list[int], ts: int, cmd: Any, names: Names) -> Event:
    return OrderConvertedToLimit(
        ts_event=ts,
        order_id=f[0],
        account=names.accounts[f[1]],
        instrument=names.instruments[f[2]],
        price=f[3],
        quantity=f[4],
        released_cash=f[5],
    )


def _all_cancelled(f: list[int], ts: int, cmd: Any, names: Names) -> Event:
    return AllOrdersCancelled(
        ts_event=ts,
        account=names.accounts[f[0]],
        instrument="" if f[1] == ALL_INSTRUMENTS else names.instruments[f[1]],
        cancelled=f[2],
        reason=CANCEL_REASONS[f[3]],
    )


DECODERS: dict[int, Callable[[list[int], int, Any, Names], Event]] = {
    EV_ACCEPTED: _accepted,
    EV_ORDER_REJECTED: _order_rejected,
    EV_REQUEST_REJECTED: _request_rejected,
    EV_TRADE: _trade,
    EV_CANCELLED: _cancelled,
    EV_AMENDED: _amended,
    EV_CONVERTED: _converted,
    EV_ALL_CANCELLED: _all_cancelled,
}


def decode(records: list[list[int]], ts: int, cmd: Command | None, names: Names) -> list[Event]:
    """The events of one command (or of an expiry): each record as a rows from ``ndarray.tolist()``."""
    return [DECODERS[r[0]](r[2:], ts, cmd, names) for r in records]
