"""Events of the end of day: the bulletin, statements, cash settlement, large holders, conservation."""

from __future__ import annotations

from engine.messages.base import Event
from settlement.statements import CashStatement, ConservationMismatch, HoldingStatement, StatementTrade


class DailyBulletin(Event, frozen=True, kw_only=True, tag=True):
    """One instrument's figures for the day. The close is the next day's reference price.

    Open to trades are the listing's alone; agreement transfers (bulk trades) are counted apart, in
    the ``bulk_`` fields, and never set a price.
    """

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
    bulk_volume: int = 0  # tonnes traded by agreement transfer
    bulk_turnover: int = 0  # fen
    bulk_trades: int = 0


class AccountStatement(Event, frozen=True, kw_only=True, tag=True):
    """One account's statement: cash and each instrument, opening to closing, with its trades."""

    trading_day: int
    account: str
    member: str
    cash: CashStatement
    holdings: list[HoldingStatement]
    trades: list[StatementTrade]


class MemberSettlement(Event, frozen=True, kw_only=True, tag=True):
    """A member's cash settlement of the day's trades over all its accounts.

    ``net`` = sold − bought − fees paid + fees received: positive, the member receives; negative,
    it pays. The nets of all members sum to zero.
    """

    trading_day: int
    member: str
    bought: int
    sold: int
    fees_paid: int
    fees_received: int
    net: int


class LargeHolderReported(Event, frozen=True, kw_only=True, tag=True):
    """An account holds more of an instrument than the large-holder threshold (大户报告)."""

    trading_day: int
    account: str
    member: str
    instrument: str
    holding: int
    threshold: int


class ConservationChecked(Event, frozen=True, kw_only=True, tag=True):
    """Every unit and fen accounted for; on a mismatch the market is halted."""

    trading_day: int
    ok: bool
    mismatches: list[ConservationMismatch]


class TradingDayEnded(Event, frozen=True, kw_only=True, tag=True):
    trading_day: int
    expired_orders: int
    fees_collected: int  # fen, charged during the day
