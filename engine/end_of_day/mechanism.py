"""The end of day (docs/RULES_COVERAGE.md "End of day, the registry and risk control").

In order: day orders expire (their freezes are released), each instrument's bulletin is published
and its close becomes the next reference price, the resale restriction is lifted, the statements
of every account and the cash settlement of every member are issued, holders above the large-holder
threshold are listed, and conservation is checked. A conservation mismatch halts the market: the
books are closed anyway, and nothing may trade on balances that do not add up until the operator
has looked and resumed the market.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from engine.config import ExchangeConfig, Instrument
from engine.listing.daily import InstrumentDay
from engine.messages import (
    AccountStatement,
    ConservationChecked,
    DailyBulletin,
    Event,
    LargeHolderReported,
    MarketStatusChanged,
    MemberSettlement,
    TradingDayEnded,
)
from engine.risk import PositionLimits
from settlement.ledger import Ledger
from settlement.statements import AccountDay

CONSERVATION_HALT_REASON = "conservation check failed"


class MarketDay(Protocol):
    """The parts of the market state the end of day changes (engine.exchange.MarketState)."""

    trading_day: int
    day_open: bool
    halted: bool
    halt_reason: str


class ClientOrderIds(Collection[tuple[str, str]], Protocol):
    def clear(self) -> None: ...


class ListingDay(Protocol):
    """What the end of day needs of listing trading (``engine.listing.Listing`` or the fast one)."""

    days: dict[str, InstrumentDay]
    instruments: dict[str, Instrument]
    fees_today: int

    @property
    def client_order_ids(self) -> ClientOrderIds: ...

    def expire_all(self, ts: int) -> list[Event]: ...


def run_end_of_day(
    config: ExchangeConfig,
    market: MarketDay,
    listing: ListingDay,
    ledger: Ledger,
    risk: PositionLimits,
    ts: int,
) -> list[Event]:
    day = market.trading_day
    events = listing.expire_all(ts)
    expired = len(events)
    events += _bulletins(listing, day, ts)
    ledger.end_of_day()
    statements = ledger.statements()
    members = {a.id: a.member for a in config.accounts}
    events += [
        AccountStatement(
            ts_event=ts,
            trading_day=day,
            account=s.account,
            member=members[s.account],
            cash=s.cash,
            holdings=s.holdings,
            trades=s.trades,
        )
        for s in statements
    ]
    events += _member_settlements(statements, members, day, ts)
    ledger.start_next_statements()
    events += _large_holders(ledger, risk, members, day, ts)
    mismatches = ledger.conservation()
    events.append(ConservationChecked(ts_event=ts, trading_day=day, ok=not mismatches, mismatches=mismatches))
    if mismatches and not market.halted:
        market.halted, market.halt_reason = True, CONSERVATION_HALT_REASON
        events.append(MarketStatusChanged(ts_event=ts, halted=True, reason=CONSERVATION_HALT_REASON))
    listing.client_order_ids.clear()
    market.day_open = False
    events.append(
        TradingDayEnded(ts_event=ts, trading_day=day, expired_orders=expired, fees_collected=listing.fees_today)
    )
    return events


def _bulletins(listing: ListingDay, day: int, ts: int) -> list[Event]:
    events: list[Event] = []
    for code, figures in listing.days.items():
        close = figures.close(listing.instruments[code].tick_fen)
        events.append(
            DailyBulletin(
                ts_event=ts,
                trading_day=day,
                instrument=code,
                reference_price=figures.reference_price,
                open=figures.open,
                high=figures.high,
                low=figures.low,
                last=figures.last,
                close=close,
                vwap=figures.vwap(),
                volume=figures.volume,
                turnover=figures.turnover,
                trades=figures.trades,
            )
        )
        figures.reference_price = close
    return events


def _member_settlements(statements: list[AccountDay], members: dict[str, str], day: int, ts: int) -> list[Event]:
    """Net cash of the day's trades per member: what it pays (negative) or receives (positive)."""
    totals: dict[str, list[int]] = {}
    for statement in statements:
        cash = statement.cash
        if not (cash.bought or cash.sold or cash.fees_paid or cash.fees_received):
            continue
        total = totals.setdefault(members[statement.account], [0, 0, 0, 0])
        for i, amount in enumerate((cash.bought, cash.sold, cash.fees_paid, cash.fees_received)):
            total[i] += amount
    return [
        MemberSettlement(
            ts_event=ts,
            trading_day=day,
            member=member,
            bought=bought,
            sold=sold,
            fees_paid=paid,
            fees_received=received,
            net=sold - bought - paid + received,
        )
        for member, (bought, sold, paid, received) in sorted(totals.items())
    ]


def _large_holders(ledger: Ledger, risk: PositionLimits, members: dict[str, str], day: int, ts: int) -> list[Event]:
    events: list[Event] = []
    for (account, instrument), holding in ledger.holdings():
        if holding.total:
            threshold = risk.large_holder_threshold(account, instrument)
            if threshold is not None and holding.total > threshold:
                events.append(
                    LargeHolderReported(
                        ts_event=ts,
                        trading_day=day,
                        account=account,
                        member=members[account],
                        instrument=instrument,
                        holding=holding.total,
                        threshold=threshold,
                    )
                )
    return events
