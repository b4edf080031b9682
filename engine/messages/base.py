"""The foundations of every message: the enums and the tagged base classes.

Compatibility rules (the journal and the wire depend on them): new fields go at the end and
always have defaults; fields are never reordered, renamed or retyped.
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

    is_market: bool  # a best-five-levels market order (set on each member below)


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

    is_continuous: bool  # orders may trade in this session (set on each member below)


# Plain attributes on the members rather than properties: the engine reads them on every order,
# and on CPython 3.11 a property, and every ``OrderType.X`` read through the enum class (which goes
# through ``EnumType.__getattr__``), costs tens of nanoseconds each.
for _order_type in OrderType:
    _order_type.is_market = _order_type in (OrderType.MARKET_FIVE_CANCEL, OrderType.MARKET_FIVE_LIMIT)
for _session in Session:
    _session.is_continuous = _session in (Session.MORNING, Session.AFTERNOON)
del _order_type, _session


class CancelReason(IntEnum):
    USER = 1  # the owner's CancelOrder
    IOC_REMAINDER = 2  # what an IOC could not fill at once
    FOK_UNFILLED = 3  # a FOK that could not fill completely
    MARKET_REMAINDER = 4  # a market order's rest after five levels (or with no liquidity)
    SELF_TRADE = 5  # self-trade prevention
    EXPIRED = 6  # a day order still resting at the end of the day
    DISCONNECT = 7  # cancel-on-disconnect: the member's session was lost (a per-member gateway option)


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", gc=False):
    """Base of every command and event. ``version`` lets the journal upcast old records.

    ``gc=False``: messages are immutable values built from values, so they can never be part of a
    reference cycle, and the node creates millions of them. Left to the cycle collector, each one
    would be scanned by every collection while it lives (on the standard flow, turning records
    into events took 5 µs per command with the collector and 1.5 µs without).
    """

    version: int = 1


class Command(Message, frozen=True, kw_only=True):
    pass


class Event(Message, frozen=True, kw_only=True):
    ts_event: int = 0
