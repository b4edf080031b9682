"""The day's figures, the close, and the trading-day lifecycle (docs/RULES_COVERAGE.md "Listing trading").

Open is the first listing trade; the close is the VWAP of the day's listing trades half-up to the
tick, or the previous close when nothing traded, and it is the next day's reference price.
"""

from __future__ import annotations

import datetime as dt

import pytest

from engine.config import Calendar
from engine.messages import (
    AccountStatement,
    CancelReason,
    ConservationChecked,
    DailyBulletin,
    EndOfDay,
    Event,
    LargeHolderReported,
    MemberSettlement,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    Reject,
    RequestRejected,
    Session,
    StartOfDay,
    TradingDayEnded,
    TradingDayStarted,
)
from tests.conftest import CASH, DAY1, DAY2, HOLDING, Market, funded_market, market_config

SHEA = "SHEA2025"
SATURDAY = 20261128
SUNDAY = 20261129
FRIDAY_BEFORE = 20261120
WEDNESDAY = 20261125


def trade(market: Market, price: int, quantity: int, instrument: str = SHEA) -> None:
    """One listing trade: A2 rests the offer, A1 takes it."""
    market.sell("A2", quantity, price, instrument=instrument)
    market.buy("A1", quantity, price, instrument=instrument)


def bulletin(events: list[Event], instrument: str = SHEA) -> DailyBulletin:
    [found] = [e for e in events if isinstance(e, DailyBulletin) and e.instrument == instrument]
    return found


def no_trade_bulletin(ts: int, day: int, instrument: str, reference_price: int) -> DailyBulletin:
    return DailyBulletin(
        ts_event=ts,
        trading_day=day,
        instrument=instrument,
        reference_price=reference_price,
        open=0,
        high=0,
        low=0,
        last=0,
        close=reference_price,
        vwap=0,
        volume=0,
        turnover=0,
        trades=0,
    )


def to_closed(market: Market) -> None:
    for session in (Session.LUNCH_BREAK, Session.AFTERNOON, Session.CLOSED):
        market.session(session)


# ---------------------------------------------------------------------------------------- figures


@pytest.mark.per_book
def test_open_price_is_first_listing_trade(market: Market) -> None:
    trade(market, 8100, 10)
    trade(market, 7900, 30)
    trade(market, 8000, 20)

    figures = bulletin(market.close_day())

    assert figures.open == 8100


@pytest.mark.per_book
def test_high_low_last_volume_turnover_trades(market: Market) -> None:
    trade(market, 8100, 10)
    market.sell("A2", 30, 7900)
    market.sell("A3", 5, 7950)
    market.buy("A4", 35, 8000)  # two trades: 30 @ 7900, 5 @ 7950
    trade(market, 8000, 20)

    events = market.close_day()

    # Turnover 81000 + 237000 + 39750 + 160000 = 517750 over 65 t: VWAP 7965.38 -> 7965.
    assert bulletin(events) == DailyBulletin(
        ts_event=market.ts,
        trading_day=DAY1,
        instrument=SHEA,
        reference_price=8000,
        open=8100,
        high=8100,
        low=7900,
        last=8000,
        close=7965,
        vwap=7965,
        volume=65,
        turnover=517_750,
        trades=4,
    )


@pytest.mark.per_book
@pytest.mark.parametrize(
    ("trades", "vwap", "close"),
    [
        ([(7775, 10), (7780, 10)], 7778, 7780),  # VWAP 7777.50: exactly half a tick, rounds up
        ([(7770, 10), (7775, 10)], 7773, 7775),  # VWAP 7772.50: exactly half a tick, rounds up
        ([(7775, 20), (7780, 10)], 7777, 7775),  # VWAP 7776.67: below half a tick, rounds down
        ([(7775, 10), (7780, 30)], 7779, 7780),  # VWAP 7778.75: above half a tick, rounds up
        ([(7770, 30), (7785, 10)], 7774, 7775),  # VWAP 7773.75
    ],
)
def test_close_is_vwap_half_up_to_the_tick(
    market: Market, trades: list[tuple[int, int]], vwap: int, close: int
) -> None:
    for price, quantity in trades:
        trade(market, price, quantity, instrument="T5")

    figures = bulletin(market.close_day(), "T5")

    assert (figures.vwap, figures.close) == (vwap, close)
    assert figures.close % 5 == 0
    assert figures.volume == sum(q for _, q in trades)
    assert figures.turnover == sum(p * q for p, q in trades)


@pytest.mark.per_book
def test_close_carries_previous_close_without_trades(market: Market) -> None:
    day1 = market.close_day(DAY1)

    assert bulletin(day1) == no_trade_bulletin(market.ts, DAY1, SHEA, 8000)
    assert bulletin(day1, "CCER") == no_trade_bulletin(market.ts, DAY1, "CCER", 8500)

    market.open_day(DAY2)
    trade(market, 8100, 10)
    market.close_day(DAY2)
    market.open_day(WEDNESDAY)
    day3 = market.close_day(WEDNESDAY)

    assert bulletin(day3) == no_trade_bulletin(market.ts, WEDNESDAY, SHEA, 8100)


@pytest.mark.per_book
def test_close_is_next_days_reference_price(market: Market) -> None:
    trade(market, 8500, 10)
    assert bulletin(market.close_day(DAY1)).close == 8500
    market.open_day(DAY2)

    # DAY1's band was 7200..8800; DAY2's is 8500 -10%/+10% = 7650..9350.
    [above] = market.sell("A2", 10, 9351)
    [below] = market.buy("A1", 10, 7649)
    [at_upper] = market.sell("A2", 10, 9350)
    [at_lower] = market.buy("A1", 10, 7650)
    figures = bulletin(market.close_day(DAY2))

    assert isinstance(above, OrderRejected) and above.code is Reject.PRICE_OUT_OF_BAND
    assert above.text == "PRICE_OUT_OF_BAND: price=9351 lower=7650 upper=9350"
    assert isinstance(below, OrderRejected)
    assert below.text == "PRICE_OUT_OF_BAND: price=7649 lower=7650 upper=9350"
    assert isinstance(at_upper, OrderAccepted) and isinstance(at_lower, OrderAccepted)
    assert (figures.reference_price, figures.close) == (8500, 8500)


@pytest.mark.per_book
def test_close_is_next_days_reference_price_rounded_inward_to_the_tick(market: Market) -> None:
    trade(market, 7775, 10, instrument="T5")
    trade(market, 7780, 10, instrument="T5")
    assert bulletin(market.close_day(DAY1), "T5").close == 7780
    market.open_day(DAY2)

    # 7780 -10%/+10% = 7002..8558, on T5's 5-fen tick inward: 7005..8555.
    [above] = market.sell("A2", 10, 8560, instrument="T5")
    [below] = market.buy("A1", 10, 7000, instrument="T5")
    [at_upper] = market.sell("A2", 10, 8555, instrument="T5")
    [at_lower] = market.buy("A1", 10, 7005, instrument="T5")

    assert isinstance(above, OrderRejected)
    assert above.text == "PRICE_OUT_OF_BAND: price=8560 lower=7005 upper=8555"
    assert isinstance(below, OrderRejected)
    assert below.text == "PRICE_OUT_OF_BAND: price=7000 lower=7005 upper=8555"
    assert isinstance(at_upper, OrderAccepted) and isinstance(at_lower, OrderAccepted)


# ----------------------------------------------------------------------------------- end of day


@pytest.mark.per_book
def test_end_of_day_expires_day_orders_and_publishes_bulletin(market: Market) -> None:
    market.buy("A1", 15, 8000)
    market.sell("A2", 10, 8000)  # 80000, fee 120 per side; A1's 5 t rest
    market.sell("A3", 7, 8600, instrument="CCER")

    events = market.close_day(DAY1)

    ts = market.ts
    # Statements, settlement, large holders and conservation: tests/test_end_of_day.py.
    reported = (AccountStatement, MemberSettlement, LargeHolderReported, ConservationChecked)
    assert [e for e in events if not isinstance(e, reported)] == [
        # 5 t left of A1's buy: 40000 + fee(120000) - fee(80000) = 40060.
        OrderCancelled(
            ts_event=ts,
            order_id=1,
            account="A1",
            instrument=SHEA,
            reason=CancelReason.EXPIRED,
            cancelled_quantity=5,
            released_cash=40_060,
            released_quantity=0,
        ),
        OrderCancelled(
            ts_event=ts,
            order_id=3,
            account="A3",
            instrument="CCER",
            reason=CancelReason.EXPIRED,
            cancelled_quantity=7,
            released_cash=0,
            released_quantity=7,
        ),
        DailyBulletin(
            ts_event=ts,
            trading_day=DAY1,
            instrument=SHEA,
            reference_price=8000,
            open=8000,
            high=8000,
            low=8000,
            last=8000,
            close=8000,
            vwap=8000,
            volume=10,
            turnover=80_000,
            trades=1,
        ),
        no_trade_bulletin(ts, DAY1, "CCER", 8500),
        no_trade_bulletin(ts, DAY1, "T5", 7775),
        TradingDayEnded(ts_event=ts, trading_day=DAY1, expired_orders=2, fees_collected=240),
    ]
    assert all(len(book) == 0 for book in market.exchange.listing.books.values())
    assert market.cash("A1") == (CASH - 80_120, 0)
    assert market.holding("A1") == (HOLDING + 10, 0, 0)  # the resale restriction is lifted
    assert market.holding("A3", "CCER") == (HOLDING, 0, 0)
    assert market.exchange.market.day_open is False


@pytest.mark.per_book
@pytest.mark.parametrize("session", [Session.MORNING, Session.LUNCH_BREAK, Session.AFTERNOON])
def test_end_of_day_requires_closed_session(market: Market, session: Session) -> None:
    market.buy("A1", 10, 8000)
    for step in (Session.LUNCH_BREAK, Session.AFTERNOON)[: session - Session.MORNING]:
        market.session(step)
    assert market.exchange.market.session is session

    events = market.send(EndOfDay(trading_day=DAY1))

    assert events == [
        RequestRejected(
            ts_event=market.ts,
            request="EndOfDay",
            code=Reject.SESSION_OPEN,
            text=f"SESSION_OPEN: session={session.name}",
        )
    ]
    assert market.exchange.market.day_open is True
    assert len(market.exchange.listing.books[SHEA]) == 1


def test_end_of_day_rejects_a_date_other_than_the_open_day(market: Market) -> None:
    to_closed(market)

    [wrong_day] = market.send(EndOfDay(trading_day=DAY2))

    assert wrong_day == RequestRejected(
        ts_event=market.ts,
        request="EndOfDay",
        code=Reject.NOT_A_TRADING_DAY,
        text="NOT_A_TRADING_DAY: trading_day=20261124 open=20261123",
    )
    assert market.exchange.market.day_open is True

    assert isinstance(market.send(EndOfDay(trading_day=DAY1))[-1], TradingDayEnded)
    [again] = market.send(EndOfDay(trading_day=DAY1))

    assert isinstance(again, RequestRejected) and again.code is Reject.NO_TRADING_DAY
    assert again.text == "NO_TRADING_DAY: trading_day=20261123"


# --------------------------------------------------------------------------------- start of day


def test_start_of_day_rejected_while_a_day_is_open(market: Market) -> None:
    events = market.send(StartOfDay(trading_day=DAY2))

    assert events == [
        RequestRejected(
            ts_event=market.ts,
            request="StartOfDay",
            code=Reject.TRADING_DAY_OPEN,
            text="TRADING_DAY_OPEN: trading_day=20261123",
        )
    ]
    assert market.exchange.market.trading_day == DAY1
    assert market.exchange.market.session is Session.MORNING


@pytest.mark.parametrize("day", [SATURDAY, SUNDAY])
def test_start_of_day_rejects_a_weekend(market: Market, day: int) -> None:
    market.close_day(DAY1)

    [rejected] = market.send(StartOfDay(trading_day=day))

    assert isinstance(rejected, RequestRejected) and rejected.code is Reject.NOT_A_TRADING_DAY
    assert rejected.text == f"NOT_A_TRADING_DAY: trading_day={day}"
    assert (market.exchange.market.trading_day, market.exchange.market.day_open) == (DAY1, False)


def test_start_of_day_rejects_a_calendar_holiday(book_kind: str) -> None:
    market = funded_market(market_config(calendar=Calendar(holidays=[dt.date(2026, 11, 24)])), book_kind)
    market.close_day(DAY1)

    [holiday] = market.send(StartOfDay(trading_day=DAY2))
    started = market.send(StartOfDay(trading_day=WEDNESDAY))

    assert isinstance(holiday, RequestRejected) and holiday.code is Reject.NOT_A_TRADING_DAY
    assert holiday.text == "NOT_A_TRADING_DAY: trading_day=20261124"
    assert started == [TradingDayStarted(ts_event=market.ts, trading_day=WEDNESDAY)]
    assert market.exchange.market.trading_day == WEDNESDAY


@pytest.mark.parametrize("day", [DAY1, FRIDAY_BEFORE])
def test_start_of_day_rejects_a_date_not_after_the_last(market: Market, day: int) -> None:
    market.close_day(DAY1)

    [rejected] = market.send(StartOfDay(trading_day=day))

    assert isinstance(rejected, RequestRejected) and rejected.code is Reject.NOT_A_TRADING_DAY
    assert rejected.text == f"NOT_A_TRADING_DAY: trading_day={day} last=20261123"
    assert (market.exchange.market.trading_day, market.exchange.market.day_open) == (DAY1, False)


def test_start_of_day_rejects_an_invalid_date(market: Market) -> None:
    market.close_day(DAY1)

    [rejected] = market.send(StartOfDay(trading_day=20261131))

    assert isinstance(rejected, RequestRejected) and rejected.code is Reject.NOT_A_TRADING_DAY
    assert rejected.text == "NOT_A_TRADING_DAY: trading_day=20261131"
    assert market.exchange.market.day_open is False
