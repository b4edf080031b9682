"""Commands and events of listing trading and of the trading day: orders, sessions, halts."""

from __future__ import annotations

from engine.messages.base import CancelReason, Command, Event, OrderType, Session, Side, StpMode
from engine.messages.limits import AccountId, ClientOrderId, InstrumentCode, OrderId, Price, Quantity, Text, TradingDay
from engine.messages.reject import Reject


class NewOrder(Command, frozen=True, kw_only=True, tag=True):
    account: AccountId
    instrument: InstrumentCode
    client_order_id: ClientOrderId
    side: Side
    order_type: OrderType
    quantity: Quantity
    price: Price = 0  # fen/t; 0 for market orders
    stp: StpMode | None = None  # None: the exchange's configured default


class CancelOrder(Command, frozen=True, kw_only=True, tag=True):
    account: AccountId
    order_id: OrderId


class AmendOrder(Command, frozen=True, kw_only=True, tag=True):
    """Change a resting limit order. ``quantity`` is the new open (unfilled) quantity.

    Quantity down at the same price keeps time priority; a price change or quantity up loses it.
    """

    account: AccountId
    order_id: OrderId
    price: Price
    quantity: Quantity


class CancelAllOrders(Command, frozen=True, kw_only=True, tag=True):
    """Cancel every open order of an account (of one instrument, or all when empty).

    Members send it as a mass cancel; the gateway sends it with ``on_disconnect`` for a member whose
    session was lost and who chose cancel-on-disconnect.
    """

    account: AccountId
    instrument: InstrumentCode = ""
    on_disconnect: bool = False


class StartOfDay(Command, frozen=True, kw_only=True, tag=True):
    trading_day: TradingDay  # YYYYMMDD, a trading day of the calendar after the last one


class SetSession(Command, frozen=True, kw_only=True, tag=True):
    session: Session


class EndOfDay(Command, frozen=True, kw_only=True, tag=True):
    trading_day: TradingDay  # must be the open trading day; the session must be CLOSED


class HaltInstrument(Command, frozen=True, kw_only=True, tag=True):
    instrument: InstrumentCode
    reason: Text = ""


class ResumeInstrument(Command, frozen=True, kw_only=True, tag=True):
    instrument: InstrumentCode


class HaltMarket(Command, frozen=True, kw_only=True, tag=True):
    reason: Text = ""


class ResumeMarket(Command, frozen=True, kw_only=True, tag=True):
    pass


class OrderAccepted(Event, frozen=True, kw_only=True, tag=True):
    order_id: int
    account: str
    instrument: str
    client_order_id: str
    side: Side
    order_type: OrderType
    price: int
    quantity: int
    frozen_cash: int  # fen frozen for a buy: price × quantity + the maximum fee
    frozen_quantity: int  # tonnes frozen for a sell


class OrderRejected(Event, frozen=True, kw_only=True, tag=True):
    account: str
    instrument: str
    client_order_id: str
    code: Reject
    text: str


class RequestRejected(Event, frozen=True, kw_only=True, tag=True):
    """A command other than a new order was refused: ``request`` names the command type."""

    request: str
    code: Reject
    text: str
    account: str = ""
    order_id: int = 0


class TradeExecuted(Event, frozen=True, kw_only=True, tag=True):
    trade_id: int
    instrument: str
    price: int
    quantity: int
    aggressor: Side
    buy_order_id: int
    sell_order_id: int
    buy_account: str
    sell_account: str
    buy_fee: int
    sell_fee: int
    buy_leaves: int
    sell_leaves: int
    buy_released_cash: int  # fen the buy order no longer needs frozen (price improvement, unused fee)


class OrderCancelled(Event, frozen=True, kw_only=True, tag=True):
    order_id: int
    account: str
    instrument: str
    reason: CancelReason
    cancelled_quantity: int
    released_cash: int
    released_quantity: int


class OrderAmended(Event, frozen=True, kw_only=True, tag=True):
    order_id: int
    account: str
    instrument: str
    price: int
    quantity: int  # new open quantity
    priority_kept: bool
    frozen_cash_change: int  # + froze more, - released
    frozen_quantity_change: int


class OrderConvertedToLimit(Event, frozen=True, kw_only=True, tag=True):
    """A best-five-levels-rest-to-limit order's remainder now rests as a limit order."""

    order_id: int
    account: str
    instrument: str
    price: int
    quantity: int
    released_cash: int


class AllOrdersCancelled(Event, frozen=True, kw_only=True, tag=True):
    """The summary of a ``CancelAllOrders``, after one ``OrderCancelled`` per order."""

    account: str
    instrument: str
    cancelled: int
    reason: CancelReason


class TradingDayStarted(Event, frozen=True, kw_only=True, tag=True):
    trading_day: int


class SessionChanged(Event, frozen=True, kw_only=True, tag=True):
    trading_day: int
    session: Session


class InstrumentStatusChanged(Event, frozen=True, kw_only=True, tag=True):
    instrument: str
    halted: bool
    reason: str = ""


class MarketStatusChanged(Event, frozen=True, kw_only=True, tag=True):
    halted: bool
    reason: str = ""
