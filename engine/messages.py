"""Commands and events of the carbonx engine: the internal contract and the wire format.

Every command and event is a frozen, tagged ``msgspec.Struct``. Commands are imperatives
(``NewOrder``), events past participles (``OrderAccepted``). Units are integers throughout:
prices in fen per tonne, quantities in tonnes, money in fen, time in ns since the epoch (UTC).

Compatibility rules (the journal and the wire depend on them): new fields go at the end and
always have defaults; fields are never reordered, renamed or retyped; a retired reject code
stays reserved as a comment and its number is never reused.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec


class Side(IntEnum):
    BUY = 1
    SELL = 2


class OrderType(IntEnum):
    LIMIT = 1  # day order: rests until filled, cancelled or expired at the close
    LIMIT_IOC = 2  # immediate or cancel
    LIMIT_FOK = 3  # fill completely at once or cancel without trading
    MARKET_FIVE_CANCEL = 4  # 最优五档即时成交剩余撤销: best five levels, rest cancelled
    MARKET_FIVE_LIMIT = 5  # 最优五档即时成交剩余转限价: best five levels, rest to limit

    @property
    def is_market(self) -> bool:
        return self in (OrderType.MARKET_FIVE_CANCEL, OrderType.MARKET_FIVE_LIMIT)


class StpMode(IntEnum):
    """Self-trade prevention: what happens when an incoming order meets a resting order of its account."""

    CANCEL_RESTING = 1
    CANCEL_INCOMING = 2
    CANCEL_BOTH = 3


class Session(IntEnum):
    CLOSED = 0
    MORNING = 1
    LUNCH_BREAK = 2
    AFTERNOON = 3

    @property
    def is_continuous(self) -> bool:
        return self in (Session.MORNING, Session.AFTERNOON)


class CancelReason(IntEnum):
    USER = 1  # the owner's CancelOrder
    IOC_REMAINDER = 2  # what an IOC could not fill at once
    FOK_UNFILLED = 3  # a FOK that could not fill completely
    MARKET_REMAINDER = 4  # a market order's rest after five levels (or with no liquidity)
    SELF_TRADE = 5  # self-trade prevention
    EXPIRED = 6  # a day order still resting at the end of the day


class Reject(IntEnum):
    """Stable reject codes, grouped by subsystem. Numbers are never reused.

    1xxx gateway and authentication (the gateway issue), 2xxx market rules,
    3xxx funds and holdings, 4xxx order book, 5xxx auctions and agreement transfers.
    """

    # 2xxx rules
    UNKNOWN_ACCOUNT = 2001
    UNKNOWN_INSTRUMENT = 2002
    PROHIBITED_PARTICIPANT = 2003
    ACCOUNT_CANNOT_TRADE = 2004
    MARKET_CLOSED = 2005
    MARKET_HALTED = 2006
    INSTRUMENT_HALTED = 2007
    PRICE_OUT_OF_BAND = 2008
    INVALID_TICK = 2009
    INVALID_LOT = 2010
    QUANTITY_OUT_OF_RANGE = 2011
    INVALID_PRICE = 2012
    DUPLICATE_CLIENT_ORDER_ID = 2013
    INVALID_CLIENT_ORDER_ID = 2014
    INVALID_SESSION_TRANSITION = 2015
    TRADING_DAY_OPEN = 2016
    NO_TRADING_DAY = 2017
    NOT_A_TRADING_DAY = 2018
    SESSION_OPEN = 2019
    ALREADY_HALTED = 2020
    NOT_HALTED = 2021
    # 3xxx funds and holdings
    INSUFFICIENT_FUNDS = 3001
    INSUFFICIENT_HOLDINGS = 3002
    INVALID_AMOUNT = 3003
    # 4xxx order book
    UNKNOWN_ORDER = 4001
    AMEND_NO_CHANGE = 4002


def reject_text(code: Reject, **context: object) -> str:
    """The reject text: the code's name, then ``key=value`` context in the given order.

    A text value that is empty or holds a space, ``=`` or a quote is written as a JSON string, so
    what a client sent (an account or client order id) can never forge extra context.
    """
    if not context:
        return code.name
    return code.name + ": " + " ".join(f"{k}={_context_value(v)}" for k, v in context.items())


def _context_value(value: object) -> str:
    text = str(value)
    if isinstance(value, str) and (not text or any(c.isspace() or c in '="\\' for c in text)):
        return msgspec.json.encode(text).decode()
    return text


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every command and event. ``version`` lets the journal upcast old records."""

    version: int = 1


# ----------------------------------------------------------------------------------------------
# Commands


class Command(Message, frozen=True, kw_only=True):
    pass


class NewOrder(Command, frozen=True, kw_only=True, tag=True):
    account: str
    instrument: str
    client_order_id: str
    side: Side
    order_type: OrderType
    quantity: int
    price: int = 0  # fen/t; 0 for market orders
    stp: StpMode | None = None  # None: the exchange's configured default


class CancelOrder(Command, frozen=True, kw_only=True, tag=True):
    account: str
    order_id: int


class AmendOrder(Command, frozen=True, kw_only=True, tag=True):
    """Change a resting limit order. ``quantity`` is the new open (unfilled) quantity.

    Quantity down at the same price keeps time priority; a price change or quantity up loses it.
    """

    account: str
    order_id: int
    price: int
    quantity: int


class StartOfDay(Command, frozen=True, kw_only=True, tag=True):
    trading_day: int  # YYYYMMDD, a trading day of the calendar after the last one


class SetSession(Command, frozen=True, kw_only=True, tag=True):
    session: Session


class EndOfDay(Command, frozen=True, kw_only=True, tag=True):
    trading_day: int  # must be the open trading day; the session must be CLOSED


class HaltInstrument(Command, frozen=True, kw_only=True, tag=True):
    instrument: str
    reason: str = ""


class ResumeInstrument(Command, frozen=True, kw_only=True, tag=True):
    instrument: str


class HaltMarket(Command, frozen=True, kw_only=True, tag=True):
    reason: str = ""


class ResumeMarket(Command, frozen=True, kw_only=True, tag=True):
    pass


class DepositCash(Command, frozen=True, kw_only=True, tag=True):
    account: str
    amount: int  # fen


class AllocateAllowances(Command, frozen=True, kw_only=True, tag=True):
    """Issue allowances (or credits) of an instrument into an account's available holdings."""

    account: str
    instrument: str
    quantity: int


# ----------------------------------------------------------------------------------------------
# Events


class Event(Message, frozen=True, kw_only=True):
    ts_event: int = 0


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


class CashDeposited(Event, frozen=True, kw_only=True, tag=True):
    account: str
    amount: int


class AllowancesAllocated(Event, frozen=True, kw_only=True, tag=True):
    account: str
    instrument: str
    quantity: int


class DailyBulletin(Event, frozen=True, kw_only=True, tag=True):
    """One instrument's figures for the day. The close is the next day's reference price."""

    trading_day: int
    instrument: str
    reference_price: int
    open: int  # 0 when nothing traded
    high: int
    low: int
    last: int
    close: int
    vwap: int
    volume: int
    turnover: int
    trades: int


class TradingDayEnded(Event, frozen=True, kw_only=True, tag=True):
    trading_day: int
    expired_orders: int
    fees_collected: int  # fen, charged during the day


COMMAND_TYPES: tuple[type[Command], ...] = (
    NewOrder,
    CancelOrder,
    AmendOrder,
    StartOfDay,
    SetSession,
    EndOfDay,
    HaltInstrument,
    ResumeInstrument,
    HaltMarket,
    ResumeMarket,
    DepositCash,
    AllocateAllowances,
)

EVENT_TYPES: tuple[type[Event], ...] = (
    OrderAccepted,
    OrderRejected,
    RequestRejected,
    TradeExecuted,
    OrderCancelled,
    OrderAmended,
    OrderConvertedToLimit,
    TradingDayStarted,
    SessionChanged,
    InstrumentStatusChanged,
    MarketStatusChanged,
    CashDeposited,
    AllowancesAllocated,
    DailyBulletin,
    TradingDayEnded,
)

AnyCommand = (
    NewOrder
    | CancelOrder
    | AmendOrder
    | StartOfDay
    | SetSession
    | EndOfDay
    | HaltInstrument
    | ResumeInstrument
    | HaltMarket
    | ResumeMarket
    | DepositCash
    | AllocateAllowances
)

AnyEvent = (
    OrderAccepted
    | OrderRejected
    | RequestRejected
    | TradeExecuted
    | OrderCancelled
    | OrderAmended
    | OrderConvertedToLimit
    | TradingDayStarted
    | SessionChanged
    | InstrumentStatusChanged
    | MarketStatusChanged
    | CashDeposited
    | AllowancesAllocated
    | DailyBulletin
    | TradingDayEnded
)

command_encoder = msgspec.msgpack.Encoder()
command_decoder: msgspec.msgpack.Decoder[AnyCommand] = msgspec.msgpack.Decoder(AnyCommand)
event_decoder: msgspec.msgpack.Decoder[AnyEvent] = msgspec.msgpack.Decoder(AnyEvent)
