"""docs/RULES_COVERAGE.md "Listing trading", one test per rule, through the Exchange with the exact events it emits.

Numbers are chosen so fees are exact (prices in whole yuan steps of 1.00, quantities in steps of 20 t):
then each side's fee is 0.15% of the traded value with no rounding, and the cash a buy releases on a
price improvement is simply the improvement plus its fee.
"""

from __future__ import annotations

import msgspec
import pytest

from engine.listing.book import DepthLevel
from engine.messages import (
    CancelReason,
    DailyBulletin,
    EndOfDay,
    Event,
    HaltInstrument,
    HaltMarket,
    InstrumentStatusChanged,
    MarketStatusChanged,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderConvertedToLimit,
    OrderRejected,
    OrderType,
    Reject,
    RequestRejected,
    ResumeInstrument,
    ResumeMarket,
    Session,
    SessionChanged,
    Side,
    StartOfDay,
    StpMode,
    TradeExecuted,
    TradingDayEnded,
    TradingDayStarted,
)
from engine.prices import band_limits
from tests.conftest import CASH, DAY1, DAY2, HOLDING, Market

pytestmark = pytest.mark.per_book  # the listing's rules; its three session and halt tests run per book too
BUY, SELL = Side.BUY, Side.SELL
LISTING_FEE_PPM = 1500  # 0.15% per side (docs/RULES_COVERAGE.md "Pre-funding and settlement"; config/fees.toml)
SHEA_BAND = (7200, 8800)  # SHEA2025: reference 80.00 ± 10%


def fee(value: int) -> int:
    """0.15% of a traded value, half-up to the fen."""
    return (value * LISTING_FEE_PPM + 500_000) // 1_000_000


def buy_freeze(price: int, quantity: int) -> int:
    """What a buy freezes: price × quantity plus the maximum fee on it."""
    return price * quantity + fee(price * quantity)


def improvement(limit: int, price: int, quantity: int) -> int:
    """Cash a buy frozen at ``limit`` no longer needs after ``quantity`` trades at ``price``."""
    return (limit - price) * quantity + fee((limit - price) * quantity)


def accepted(
    ts: int,
    order_id: int,
    account: str,
    side: Side,
    quantity: int,
    price: int,
    client_order_id: str,
    *,
    order_type: OrderType = OrderType.LIMIT,
    instrument: str = "SHEA2025",
    freeze_price: int | None = None,
) -> OrderAccepted:
    is_buy = side is BUY
    return OrderAccepted(
        ts_event=ts,
        order_id=order_id,
        account=account,
        instrument=instrument,
        client_order_id=client_order_id,
        side=side,
        order_type=order_type,
        price=price,
        quantity=quantity,
        frozen_cash=buy_freeze(price if freeze_price is None else freeze_price, quantity) if is_buy else 0,
        frozen_quantity=0 if is_buy else quantity,
    )


def trade(
    ts: int,
    trade_id: int,
    price: int,
    quantity: int,
    aggressor: Side,
    buy: tuple[int, str],
    sell: tuple[int, str],
    buy_leaves: int,
    sell_leaves: int,
    buy_released_cash: int = 0,
    instrument: str = "SHEA2025",
) -> TradeExecuted:
    return TradeExecuted(
        ts_event=ts,
        trade_id=trade_id,
        instrument=instrument,
        price=price,
        quantity=quantity,
        aggressor=aggressor,
        buy_order_id=buy[0],
        sell_order_id=sell[0],
        buy_account=buy[1],
        sell_account=sell[1],
        buy_fee=fee(price * quantity),
        sell_fee=fee(price * quantity),
        buy_leaves=buy_leaves,
        sell_leaves=sell_leaves,
        buy_released_cash=buy_released_cash,
    )


def cancelled(
    ts: int,
    order_id: int,
    account: str,
    reason: CancelReason,
    quantity: int,
    released_cash: int = 0,
    released_quantity: int = 0,
    instrument: str = "SHEA2025",
) -> OrderCancelled:
    return OrderCancelled(
        ts_event=ts,
        order_id=order_id,
        account=account,
        instrument=instrument,
        reason=reason,
        cancelled_quantity=quantity,
        released_cash=released_cash,
        released_quantity=released_quantity,
    )


def rejected(
    ts: int, account: str, client_order_id: str, code: Reject, text: str, instrument: str = "SHEA2025"
) -> OrderRejected:
    return OrderRejected(
        ts_event=ts, account=account, instrument=instrument, client_order_id=client_order_id, code=code, text=text
    )


def rest(
    market: Market,
    account: str,
    side: Side,
    quantity: int,
    price: int,
    instrument: str = "SHEA2025",
    client_order_id: str | None = None,
) -> int:
    """Arrange a resting limit order; return its id."""
    events = market.order(account, side, quantity, price, instrument=instrument, client_order_id=client_order_id)
    assert len(events) == 1 and isinstance(events[0], OrderAccepted), events
    return events[0].order_id


def resting(market: Market, instrument: str = "SHEA2025") -> list[tuple[int, str, Side, int, int]]:
    """(id, account, side, price, leaves) of the book's resting orders in priority order."""
    book = market.exchange.listing.books[instrument]
    return [(o.order_id, o.account, o.side, o.price, o.leaves) for o in book.orders()]


def depth(market: Market, side: Side, instrument: str = "SHEA2025") -> list[DepthLevel]:
    return market.exchange.listing.books[instrument].depth(side, 10)


# ------------------------------------------------------------------------------------------ priority and price


def test_price_time_priority(market: Market) -> None:
    far = rest(market, "A2", SELL, 100, 8100)
    first = rest(market, "A3", SELL, 100, 8000)
    second = rest(market, "A4", SELL, 100, 8000)

    events = market.buy("A1", 300, 8100, client_order_id="in")

    ts = market.ts
    assert events == [
        accepted(ts, 4, "A1", BUY, 300, 8100, "in"),
        trade(ts, 1, 8000, 100, BUY, (4, "A1"), (first, "A3"), 200, 0, improvement(8100, 8000, 100)),
        trade(ts, 2, 8000, 100, BUY, (4, "A1"), (second, "A4"), 100, 0, improvement(8100, 8000, 100)),
        trade(ts, 3, 8100, 100, BUY, (4, "A1"), (far, "A2"), 0, 0),
    ]
    assert resting(market) == []
    assert market.cash("A1") == (CASH - 2_410_000 - fee(2_410_000), 0)
    assert market.holding("A1") == (HOLDING, 0, 300)


def test_trade_prints_at_resting_price(market: Market) -> None:
    bid = rest(market, "A2", BUY, 100, 8000)

    events = market.sell("A1", 100, 7900, client_order_id="in")

    ts = market.ts
    assert events == [
        accepted(ts, 2, "A1", SELL, 100, 7900, "in"),
        trade(ts, 1, 8000, 100, SELL, (bid, "A2"), (2, "A1"), 0, 0),
    ]
    assert market.cash("A1") == (CASH + 800_000 - fee(800_000), 0)
    assert market.cash("A2") == (CASH - buy_freeze(8000, 100), 0)


# ------------------------------------------------------------------------------------------ order types


def test_limit_day_order_rests(market: Market) -> None:
    events = market.buy("A1", 100, 7900, client_order_id="in")

    assert events == [accepted(market.ts, 1, "A1", BUY, 100, 7900, "in")]
    assert depth(market, BUY) == [DepthLevel(7900, 100, 1)]
    assert market.cash("A1") == (CASH - buy_freeze(7900, 100), buy_freeze(7900, 100))
    market.session(Session.LUNCH_BREAK)
    market.session(Session.AFTERNOON)
    assert resting(market) == [(1, "A1", BUY, 7900, 100)]


def test_limit_ioc_remainder_cancelled(market: Market) -> None:
    ask = rest(market, "A2", SELL, 40, 8000)

    events = market.buy("A1", 100, 8000, order_type=OrderType.LIMIT_IOC, client_order_id="in")

    ts = market.ts
    assert events == [
        accepted(ts, 2, "A1", BUY, 100, 8000, "in", order_type=OrderType.LIMIT_IOC),
        trade(ts, 1, 8000, 40, BUY, (2, "A1"), (ask, "A2"), 60, 0),
        cancelled(ts, 2, "A1", CancelReason.IOC_REMAINDER, 60, released_cash=buy_freeze(8000, 60)),
    ]
    assert resting(market) == []
    assert market.cash("A1") == (CASH - buy_freeze(8000, 40), 0)


def test_limit_ioc_with_nothing_to_trade_is_cancelled_whole(market: Market) -> None:
    rest(market, "A2", SELL, 40, 8001)

    events = market.sell("A1", 100, 8000, order_type=OrderType.LIMIT_IOC, client_order_id="in")

    ts = market.ts
    assert events == [
        accepted(ts, 2, "A1", SELL, 100, 8000, "in", order_type=OrderType.LIMIT_IOC),
        cancelled(ts, 2, "A1", CancelReason.IOC_REMAINDER, 100, released_quantity=100),
    ]
    assert market.holding("A1") == (HOLDING, 0, 0)


def test_limit_fok_fills_completely_or_cancels_without_trading(market: Market) -> None:
    first = rest(market, "A2", SELL, 60, 8000)
    second = rest(market, "A3", SELL, 60, 8000)

    too_big = market.buy("A1", 140, 8000, order_type=OrderType.LIMIT_FOK, client_order_id="big")

    ts = market.ts
    assert too_big == [
        accepted(ts, 3, "A1", BUY, 140, 8000, "big", order_type=OrderType.LIMIT_FOK),
        cancelled(ts, 3, "A1", CancelReason.FOK_UNFILLED, 140, released_cash=buy_freeze(8000, 140)),
    ]
    assert resting(market) == [(first, "A2", SELL, 8000, 60), (second, "A3", SELL, 8000, 60)]
    assert market.cash("A1") == (CASH, 0)

    fits = market.buy("A1", 100, 8000, order_type=OrderType.LIMIT_FOK, client_order_id="fits")

    ts = market.ts
    assert fits == [
        accepted(ts, 4, "A1", BUY, 100, 8000, "fits", order_type=OrderType.LIMIT_FOK),
        trade(ts, 1, 8000, 60, BUY, (4, "A1"), (first, "A2"), 40, 0),
        trade(ts, 2, 8000, 40, BUY, (4, "A1"), (second, "A3"), 0, 20),
    ]
    assert resting(market) == [(second, "A3", SELL, 8000, 20)]


def test_limit_fok_that_cannot_fill_leaves_own_resting_orders_untouched(market: Market) -> None:
    own = rest(market, "A1", SELL, 50, 8000)
    other = rest(market, "A2", SELL, 50, 8000)

    events = market.buy("A1", 100, 8000, order_type=OrderType.LIMIT_FOK, client_order_id="in")

    ts = market.ts
    assert events == [
        accepted(ts, 3, "A1", BUY, 100, 8000, "in", order_type=OrderType.LIMIT_FOK),
        cancelled(ts, 3, "A1", CancelReason.FOK_UNFILLED, 100, released_cash=buy_freeze(8000, 100)),
    ]
    assert resting(market) == [(own, "A1", SELL, 8000, 50), (other, "A2", SELL, 8000, 50)]
    assert market.holding("A1") == (HOLDING - 50, 50, 0)


def test_market_best_five_levels_rest_cancelled(market: Market) -> None:
    asks = [rest(market, "A2", SELL, 20, 8000 + 100 * level) for level in range(6)]
    upper = SHEA_BAND[1]

    events = market.buy("A1", 200, order_type=OrderType.MARKET_FIVE_CANCEL, client_order_id="in")

    ts = market.ts
    in_id = 7
    assert events == [
        accepted(ts, in_id, "A1", BUY, 200, 0, "in", order_type=OrderType.MARKET_FIVE_CANCEL, freeze_price=upper),
        *[
            trade(
                ts,
                level + 1,
                8000 + 100 * level,
                20,
                BUY,
                (in_id, "A1"),
                (asks[level], "A2"),
                200 - 20 * (level + 1),
                0,
                improvement(upper, 8000 + 100 * level, 20),
            )
            for level in range(5)
        ],
        cancelled(ts, in_id, "A1", CancelReason.MARKET_REMAINDER, 100, released_cash=buy_freeze(upper, 100)),
    ]
    assert depth(market, SELL) == [DepthLevel(8500, 20, 1)]
    assert depth(market, BUY) == []


def test_market_best_five_levels_with_no_liquidity_is_cancelled(market: Market) -> None:
    sell = market.sell("A1", 100, order_type=OrderType.MARKET_FIVE_CANCEL, client_order_id="s")
    buy = market.buy("A1", 100, order_type=OrderType.MARKET_FIVE_CANCEL, client_order_id="b")

    assert sell == [
        accepted(market.ts - 1, 1, "A1", SELL, 100, 0, "s", order_type=OrderType.MARKET_FIVE_CANCEL),
        cancelled(market.ts - 1, 1, "A1", CancelReason.MARKET_REMAINDER, 100, released_quantity=100),
    ]
    assert buy == [
        accepted(
            market.ts, 2, "A1", BUY, 100, 0, "b", order_type=OrderType.MARKET_FIVE_CANCEL, freeze_price=SHEA_BAND[1]
        ),
        cancelled(market.ts, 2, "A1", CancelReason.MARKET_REMAINDER, 100, released_cash=buy_freeze(SHEA_BAND[1], 100)),
    ]
    assert (market.cash("A1"), market.holding("A1")) == ((CASH, 0), (HOLDING, 0, 0))


def test_market_best_five_levels_rest_to_limit_at_last_trade_price(market: Market) -> None:
    near = rest(market, "A2", SELL, 20, 8000)
    far = rest(market, "A3", SELL, 20, 8100)
    upper = SHEA_BAND[1]

    events = market.buy("A1", 100, order_type=OrderType.MARKET_FIVE_LIMIT, client_order_id="in")

    ts = market.ts
    assert events == [
        accepted(ts, 3, "A1", BUY, 100, 0, "in", order_type=OrderType.MARKET_FIVE_LIMIT, freeze_price=upper),
        trade(ts, 1, 8000, 20, BUY, (3, "A1"), (near, "A2"), 80, 0, improvement(upper, 8000, 20)),
        trade(ts, 2, 8100, 20, BUY, (3, "A1"), (far, "A3"), 60, 0, improvement(upper, 8100, 20)),
        OrderConvertedToLimit(
            ts_event=ts,
            order_id=3,
            account="A1",
            instrument="SHEA2025",
            price=8100,
            quantity=60,
            released_cash=improvement(upper, 8100, 60),
        ),
    ]
    assert resting(market) == [(3, "A1", BUY, 8100, 60)]
    assert market.cash("A1")[1] == buy_freeze(8100, 60)


def test_market_best_five_levels_rest_to_limit_buy_with_no_trade_rests_at_the_best_bid(market: Market) -> None:
    bid = rest(market, "A3", BUY, 20, 7900)
    upper = SHEA_BAND[1]

    events = market.buy("A1", 100, order_type=OrderType.MARKET_FIVE_LIMIT, client_order_id="in")

    ts = market.ts
    assert events == [
        accepted(ts, 2, "A1", BUY, 100, 0, "in", order_type=OrderType.MARKET_FIVE_LIMIT, freeze_price=upper),
        OrderConvertedToLimit(
            ts_event=ts,
            order_id=2,
            account="A1",
            instrument="SHEA2025",
            price=7900,
            quantity=100,
            released_cash=improvement(upper, 7900, 100),
        ),
    ]
    assert resting(market) == [(bid, "A3", BUY, 7900, 20), (2, "A1", BUY, 7900, 100)]
    assert market.cash("A1") == (CASH - buy_freeze(7900, 100), buy_freeze(7900, 100))


def test_market_best_five_levels_rest_to_limit_sell_with_no_trade_rests_at_the_best_ask(market: Market) -> None:
    ask = rest(market, "A3", SELL, 50, 8100)

    events = market.sell("A1", 100, order_type=OrderType.MARKET_FIVE_LIMIT, client_order_id="in")

    ts = market.ts
    assert events == [
        accepted(ts, 2, "A1", SELL, 100, 0, "in", order_type=OrderType.MARKET_FIVE_LIMIT),
        OrderConvertedToLimit(
            ts_event=ts, order_id=2, account="A1", instrument="SHEA2025", price=8100, quantity=100, released_cash=0
        ),
    ]
    assert resting(market) == [(ask, "A3", SELL, 8100, 50), (2, "A1", SELL, 8100, 100)]


def test_market_best_five_levels_rest_to_limit_with_empty_own_side_is_cancelled(market: Market) -> None:
    events = market.buy("A1", 100, order_type=OrderType.MARKET_FIVE_LIMIT, client_order_id="in")

    ts = market.ts
    upper = SHEA_BAND[1]
    assert events == [
        accepted(ts, 1, "A1", BUY, 100, 0, "in", order_type=OrderType.MARKET_FIVE_LIMIT, freeze_price=upper),
        cancelled(ts, 1, "A1", CancelReason.MARKET_REMAINDER, 100, released_cash=buy_freeze(upper, 100)),
    ]
    assert resting(market) == []
    assert market.cash("A1") == (CASH, 0)


def test_market_best_five_levels_rest_to_limit_meeting_only_own_orders_is_cancelled(market: Market) -> None:
    own = rest(market, "A1", SELL, 50, 8100)

    events = market.buy("A1", 100, order_type=OrderType.MARKET_FIVE_LIMIT, client_order_id="in")

    ts = market.ts
    upper = SHEA_BAND[1]
    assert events == [
        accepted(ts, 2, "A1", BUY, 100, 0, "in", order_type=OrderType.MARKET_FIVE_LIMIT, freeze_price=upper),
        cancelled(ts, own, "A1", CancelReason.SELF_TRADE, 50, released_quantity=50),
        cancelled(ts, 2, "A1", CancelReason.MARKET_REMAINDER, 100, released_cash=buy_freeze(upper, 100)),
    ]
    assert resting(market) == []


def test_market_order_with_price_rejected(market: Market) -> None:
    five_cancel = market.buy("A1", 100, 8000, order_type=OrderType.MARKET_FIVE_CANCEL, client_order_id="m1")
    five_limit = market.sell("A1", 100, 8000, order_type=OrderType.MARKET_FIVE_LIMIT, client_order_id="m2")

    assert five_cancel == [
        rejected(
            market.ts - 1, "A1", "m1", Reject.INVALID_PRICE, "INVALID_PRICE: price=8000 order_type=MARKET_FIVE_CANCEL"
        )
    ]
    assert five_limit == [
        rejected(market.ts, "A1", "m2", Reject.INVALID_PRICE, "INVALID_PRICE: price=8000 order_type=MARKET_FIVE_LIMIT")
    ]
    assert (market.cash("A1"), market.holding("A1")) == ((CASH, 0), (HOLDING, 0, 0))


def test_limit_order_without_a_price_rejected(market: Market) -> None:
    events = market.buy("A1", 100, 0, client_order_id="in")

    assert events == [rejected(market.ts, "A1", "in", Reject.INVALID_PRICE, "INVALID_PRICE: price=0")]


# ------------------------------------------------------------------------------------------ cancel and amend


def test_cancel(market: Market) -> None:
    bid = rest(market, "A1", BUY, 100, 7900)
    ask = rest(market, "A1", SELL, 100, 8100)

    cancel_bid = market.cancel("A1", bid)
    cancel_ask = market.cancel("A1", ask)

    assert cancel_bid == [
        cancelled(market.ts - 1, bid, "A1", CancelReason.USER, 100, released_cash=buy_freeze(7900, 100))
    ]
    assert cancel_ask == [cancelled(market.ts, ask, "A1", CancelReason.USER, 100, released_quantity=100)]
    assert resting(market) == []
    assert (market.cash("A1"), market.holding("A1")) == ((CASH, 0), (HOLDING, 0, 0))


def test_cancel_of_a_partly_filled_order_cancels_its_open_quantity(market: Market) -> None:
    ask = rest(market, "A1", SELL, 100, 8000)
    market.buy("A2", 40, 8000)

    events = market.cancel("A1", ask)

    assert events == [cancelled(market.ts, ask, "A1", CancelReason.USER, 60, released_quantity=60)]
    assert market.holding("A1") == (HOLDING - 40, 0, 0)


def test_amend_quantity_down_keeps_priority(market: Market) -> None:
    first = rest(market, "A1", SELL, 100, 8000)
    second = rest(market, "A2", SELL, 100, 8000)

    events = market.amend("A1", first, 8000, 60)

    assert events == [
        OrderAmended(
            ts_event=market.ts,
            order_id=first,
            account="A1",
            instrument="SHEA2025",
            price=8000,
            quantity=60,
            priority_kept=True,
            frozen_cash_change=0,
            frozen_quantity_change=-40,
        )
    ]
    assert resting(market) == [(first, "A1", SELL, 8000, 60), (second, "A2", SELL, 8000, 100)]
    assert market.holding("A1") == (HOLDING - 60, 60, 0)
    fill = market.buy("A3", 60, 8000, client_order_id="in")
    assert fill[1] == trade(market.ts, 1, 8000, 60, BUY, (3, "A3"), (first, "A1"), 0, 0)


def test_amend_quantity_down_of_a_buy_releases_cash_and_keeps_priority(market: Market) -> None:
    first = rest(market, "A1", BUY, 100, 7900)
    second = rest(market, "A2", BUY, 100, 7900)

    events = market.amend("A1", first, 7900, 40)

    assert events == [
        OrderAmended(
            ts_event=market.ts,
            order_id=first,
            account="A1",
            instrument="SHEA2025",
            price=7900,
            quantity=40,
            priority_kept=True,
            frozen_cash_change=buy_freeze(7900, 40) - buy_freeze(7900, 100),
            frozen_quantity_change=0,
        )
    ]
    assert resting(market) == [(first, "A1", BUY, 7900, 40), (second, "A2", BUY, 7900, 100)]
    assert market.cash("A1") == (CASH - buy_freeze(7900, 40), buy_freeze(7900, 40))


def test_amend_price_change_loses_priority(market: Market) -> None:
    moved = rest(market, "A1", SELL, 100, 8100)
    waiting = rest(market, "A2", SELL, 100, 8000)

    events = market.amend("A1", moved, 8000, 100)

    assert events == [
        OrderAmended(
            ts_event=market.ts,
            order_id=moved,
            account="A1",
            instrument="SHEA2025",
            price=8000,
            quantity=100,
            priority_kept=False,
            frozen_cash_change=0,
            frozen_quantity_change=0,
        )
    ]
    assert resting(market) == [(waiting, "A2", SELL, 8000, 100), (moved, "A1", SELL, 8000, 100)]


def test_amend_price_change_and_back_goes_behind_the_level(market: Market) -> None:
    first = rest(market, "A1", SELL, 100, 8000)
    second = rest(market, "A2", SELL, 100, 8000)
    market.amend("A1", first, 8010, 100)

    market.amend("A1", first, 8000, 100)

    assert resting(market) == [(second, "A2", SELL, 8000, 100), (first, "A1", SELL, 8000, 100)]


def test_amend_quantity_up_loses_priority(market: Market) -> None:
    grown = rest(market, "A1", BUY, 60, 7900)
    waiting = rest(market, "A2", BUY, 100, 7900)

    events = market.amend("A1", grown, 7900, 100)

    assert events == [
        OrderAmended(
            ts_event=market.ts,
            order_id=grown,
            account="A1",
            instrument="SHEA2025",
            price=7900,
            quantity=100,
            priority_kept=False,
            frozen_cash_change=buy_freeze(7900, 100) - buy_freeze(7900, 60),
            frozen_quantity_change=0,
        )
    ]
    assert resting(market) == [(waiting, "A2", BUY, 7900, 100), (grown, "A1", BUY, 7900, 100)]
    assert market.cash("A1") == (CASH - buy_freeze(7900, 100), buy_freeze(7900, 100))


def test_amend_that_crosses_trades(market: Market) -> None:
    ask = rest(market, "A2", SELL, 100, 8000)
    bid = rest(market, "A1", BUY, 100, 7900)

    events = market.amend("A1", bid, 8000, 100)

    ts = market.ts
    assert events == [
        OrderAmended(
            ts_event=ts,
            order_id=bid,
            account="A1",
            instrument="SHEA2025",
            price=8000,
            quantity=100,
            priority_kept=False,
            frozen_cash_change=buy_freeze(8000, 100) - buy_freeze(7900, 100),
            frozen_quantity_change=0,
        ),
        trade(ts, 1, 8000, 100, BUY, (bid, "A1"), (ask, "A2"), 0, 0),
    ]
    assert resting(market) == []
    assert market.cash("A1") == (CASH - buy_freeze(8000, 100), 0)


def test_amend_with_no_change_rejected(market: Market) -> None:
    bid = rest(market, "A1", BUY, 100, 7900)

    events = market.amend("A1", bid, 7900, 100)

    assert events == [
        RequestRejected(
            ts_event=market.ts,
            request="AmendOrder",
            code=Reject.AMEND_NO_CHANGE,
            text="AMEND_NO_CHANGE: price=7900 quantity=100",
            account="A1",
            order_id=bid,
        )
    ]


def test_amend_outside_the_band_rejected_and_the_order_stays(market: Market) -> None:
    bid = rest(market, "A1", BUY, 100, 7900)

    events = market.amend("A1", bid, 8801, 100)

    assert events == [
        RequestRejected(
            ts_event=market.ts,
            request="AmendOrder",
            code=Reject.PRICE_OUT_OF_BAND,
            text="PRICE_OUT_OF_BAND: price=8801 lower=7200 upper=8800",
            account="A1",
            order_id=bid,
        )
    ]
    assert resting(market) == [(bid, "A1", BUY, 7900, 100)]
    assert market.cash("A1") == (CASH - buy_freeze(7900, 100), buy_freeze(7900, 100))


# ------------------------------------------------------------------------------------------ band, size, tick, lot


def test_daily_price_band_rounded_inward(market: Market) -> None:
    # T5: reference 77.75, tick 0.05: ±10% is 69.975 .. 85.525, rounded inward to 70.00 .. 85.50.
    assert band_limits(7775, 1000, 5) == (7000, 8550)
    assert market.exchange.listing.band("T5") == (7000, 8550)

    at_lower = market.buy("A1", 10, 7000, instrument="T5", client_order_id="lo")
    at_upper = market.sell("A1", 10, 8550, instrument="T5", client_order_id="hi")
    below = market.buy("A2", 10, 6995, instrument="T5", client_order_id="below")
    above = market.sell("A2", 10, 8555, instrument="T5", client_order_id="above")

    ts = market.ts
    assert at_lower == [accepted(ts - 3, 1, "A1", BUY, 10, 7000, "lo", instrument="T5")]
    assert at_upper == [accepted(ts - 2, 2, "A1", SELL, 10, 8550, "hi", instrument="T5")]
    assert below == [
        rejected(
            ts - 1,
            "A2",
            "below",
            Reject.PRICE_OUT_OF_BAND,
            "PRICE_OUT_OF_BAND: price=6995 lower=7000 upper=8550",
            instrument="T5",
        )
    ]
    assert above == [
        rejected(
            ts, "A2", "above", Reject.PRICE_OUT_OF_BAND, "PRICE_OUT_OF_BAND: price=8555 lower=7000 upper=8550", "T5"
        )
    ]


def test_order_outside_band_rejected_never_queued(market: Market) -> None:
    outside = market.buy("A1", 100, SHEA_BAND[1] + 1, client_order_id="out")
    assert outside == [
        rejected(
            market.ts, "A1", "out", Reject.PRICE_OUT_OF_BAND, "PRICE_OUT_OF_BAND: price=8801 lower=7200 upper=8800"
        )
    ]

    # A sell at the upper limit would have met it: it rests, nothing trades.
    events = market.sell("A2", 100, SHEA_BAND[1], client_order_id="in")

    assert events == [accepted(market.ts, 1, "A2", SELL, 100, SHEA_BAND[1], "in")]
    assert resting(market) == [(1, "A2", SELL, SHEA_BAND[1], 100)]
    assert market.cash("A1") == (CASH, 0)


def test_size_one_to_99999_tonnes(market: Market) -> None:
    smallest = market.buy("A1", 1, 8000, client_order_id="one")
    largest = market.buy("A2", 99_999, 8000, client_order_id="max")
    nothing = market.buy("A3", 0, 8000, client_order_id="zero")
    too_big = market.buy("A3", 100_000, 8000, client_order_id="big")

    ts = market.ts
    assert smallest == [accepted(ts - 3, 1, "A1", BUY, 1, 8000, "one")]
    assert largest == [accepted(ts - 2, 2, "A2", BUY, 99_999, 8000, "max")]
    assert nothing == [
        rejected(
            ts - 1, "A3", "zero", Reject.QUANTITY_OUT_OF_RANGE, "QUANTITY_OUT_OF_RANGE: quantity=0 min=1 max=99999"
        )
    ]
    assert too_big == [
        rejected(
            ts, "A3", "big", Reject.QUANTITY_OUT_OF_RANGE, "QUANTITY_OUT_OF_RANGE: quantity=100000 min=1 max=99999"
        )
    ]


def test_amend_cannot_take_an_order_past_99999_tonnes(market: Market) -> None:
    ask = rest(market, "A1", SELL, 100, 8000)
    market.buy("A2", 40, 8000)

    events = market.amend("A1", ask, 8000, 99_999 - 40 + 1)

    assert events == [
        RequestRejected(
            ts_event=market.ts,
            request="AmendOrder",
            code=Reject.QUANTITY_OUT_OF_RANGE,
            text="QUANTITY_OUT_OF_RANGE: quantity=100000 min=1 max=99999",
            account="A1",
            order_id=ask,
        )
    ]


def test_tick_and_lot(market: Market) -> None:
    on_tick = market.buy("A1", 10, 7780, instrument="T5", client_order_id="ok")
    off_tick = market.buy("A1", 10, 7781, instrument="T5", client_order_id="tick")
    off_lot = market.buy("A1", 15, 7780, instrument="T5", client_order_id="lot")

    ts = market.ts
    assert on_tick == [accepted(ts - 2, 1, "A1", BUY, 10, 7780, "ok", instrument="T5")]
    assert off_tick == [rejected(ts - 1, "A1", "tick", Reject.INVALID_TICK, "INVALID_TICK: price=7781 tick=5", "T5")]
    assert off_lot == [rejected(ts, "A1", "lot", Reject.INVALID_LOT, "INVALID_LOT: quantity=15 lot=10", "T5")]


# ------------------------------------------------------------------------------------------ self-trade prevention


def test_self_trade_prevention_cancel_resting_default(market: Market) -> None:
    own = rest(market, "A1", SELL, 100, 8000)
    other = rest(market, "A2", SELL, 100, 8000)

    events = market.buy("A1", 100, 8000, client_order_id="in")

    ts = market.ts
    assert events == [
        accepted(ts, 3, "A1", BUY, 100, 8000, "in"),
        cancelled(ts, own, "A1", CancelReason.SELF_TRADE, 100, released_quantity=100),
        trade(ts, 1, 8000, 100, BUY, (3, "A1"), (other, "A2"), 0, 0),
    ]
    assert resting(market) == []
    assert market.holding("A1") == (HOLDING, 0, 100)


def test_self_trade_prevention_cancel_incoming(market: Market) -> None:
    other = rest(market, "A2", SELL, 50, 8000)
    own = rest(market, "A1", SELL, 100, 8000)
    behind = rest(market, "A3", SELL, 100, 8000)

    events = market.buy("A1", 200, 8000, stp=StpMode.CANCEL_INCOMING, client_order_id="in")

    ts = market.ts
    assert events == [
        accepted(ts, 4, "A1", BUY, 200, 8000, "in"),
        trade(ts, 1, 8000, 50, BUY, (4, "A1"), (other, "A2"), 150, 0),
        cancelled(ts, 4, "A1", CancelReason.SELF_TRADE, 150, released_cash=buy_freeze(8000, 150)),
    ]
    assert resting(market) == [(own, "A1", SELL, 8000, 100), (behind, "A3", SELL, 8000, 100)]


def test_self_trade_prevention_cancel_both(market: Market) -> None:
    own = rest(market, "A1", SELL, 100, 8000)
    other = rest(market, "A2", SELL, 100, 8000)

    events = market.buy("A1", 100, 8000, stp=StpMode.CANCEL_BOTH, client_order_id="in")

    ts = market.ts
    assert events == [
        accepted(ts, 3, "A1", BUY, 100, 8000, "in"),
        cancelled(ts, own, "A1", CancelReason.SELF_TRADE, 100, released_quantity=100),
        cancelled(ts, 3, "A1", CancelReason.SELF_TRADE, 100, released_cash=buy_freeze(8000, 100)),
    ]
    assert resting(market) == [(other, "A2", SELL, 8000, 100)]
    assert (market.cash("A1"), market.holding("A1")) == ((CASH, 0), (HOLDING, 0, 0))


# ------------------------------------------------------------------------------------------ sessions


def test_sessions_closed_lunch_reject_new_orders_accept_cancels(market: Market) -> None:
    morning = rest(market, "A1", BUY, 100, 7900)
    market.session(Session.LUNCH_BREAK)

    lunch_order = market.buy("A2", 100, 7900, client_order_id="lunch")
    lunch_amend = market.amend("A1", morning, 7900, 50)
    lunch_cancel = market.cancel("A1", morning)

    ts = market.ts
    assert lunch_order == [rejected(ts - 2, "A2", "lunch", Reject.MARKET_CLOSED, "MARKET_CLOSED: session=LUNCH_BREAK")]
    assert lunch_amend == [
        RequestRejected(
            ts_event=ts - 1,
            request="AmendOrder",
            code=Reject.MARKET_CLOSED,
            text="MARKET_CLOSED: session=LUNCH_BREAK",
            account="A1",
            order_id=morning,
        )
    ]
    assert lunch_cancel == [cancelled(ts, morning, "A1", CancelReason.USER, 100, released_cash=buy_freeze(7900, 100))]

    market.session(Session.AFTERNOON)
    afternoon = rest(market, "A1", SELL, 100, 8100)
    market.session(Session.CLOSED)

    closed_order = market.sell("A2", 100, 8100, client_order_id="closed")
    closed_cancel = market.cancel("A1", afternoon)

    ts = market.ts
    assert closed_order == [rejected(ts - 1, "A2", "closed", Reject.MARKET_CLOSED, "MARKET_CLOSED: session=CLOSED")]
    assert closed_cancel == [cancelled(ts, afternoon, "A1", CancelReason.USER, 100, released_quantity=100)]


def test_orders_rejected_before_the_morning_session_and_after_the_day(market: Market) -> None:
    market.close_day(DAY1)

    no_day = market.buy("A1", 100, 8000, client_order_id="no-day")
    market.send(StartOfDay(trading_day=DAY2))
    before_open = market.buy("A1", 100, 8000, client_order_id="early")

    ts = market.ts
    assert no_day == [rejected(ts - 2, "A1", "no-day", Reject.MARKET_CLOSED, "MARKET_CLOSED: session=CLOSED")]
    assert before_open == [rejected(ts, "A1", "early", Reject.MARKET_CLOSED, "MARKET_CLOSED: session=CLOSED")]


def _session_rejected(ts: int, current: Session, requested: Session) -> RequestRejected:
    return RequestRejected(
        ts_event=ts,
        request="SetSession",
        code=Reject.INVALID_SESSION_TRANSITION,
        text=f"INVALID_SESSION_TRANSITION: current={current.name} requested={requested.name}",
    )


def test_session_transitions(market: Market) -> None:
    # The fixture's day is open and in the morning session (closed -> morning already happened).
    for current, following in (
        (Session.MORNING, Session.LUNCH_BREAK),
        (Session.LUNCH_BREAK, Session.AFTERNOON),
        (Session.AFTERNOON, Session.CLOSED),
    ):
        for wrong in Session:
            if wrong is not following:
                assert market.session(wrong) == [_session_rejected(market.ts, current, wrong)]
        assert market.session(following) == [SessionChanged(ts_event=market.ts, trading_day=DAY1, session=following)]
    market.send(EndOfDay(trading_day=DAY1))

    no_day = market.session(Session.MORNING)

    assert no_day == [
        RequestRejected(
            ts_event=market.ts,
            request="SetSession",
            code=Reject.NO_TRADING_DAY,
            text="NO_TRADING_DAY: session=MORNING",
        )
    ]
    assert market.send(StartOfDay(trading_day=DAY2)) == [TradingDayStarted(ts_event=market.ts, trading_day=DAY2)]
    for wrong in (Session.CLOSED, Session.LUNCH_BREAK, Session.AFTERNOON):
        assert market.session(wrong) == [_session_rejected(market.ts, Session.CLOSED, wrong)]
    assert market.session(Session.MORNING) == [
        SessionChanged(ts_event=market.ts, trading_day=DAY2, session=Session.MORNING)
    ]


def test_no_second_morning_after_the_afternoon_close(market: Market) -> None:
    market.session(Session.LUNCH_BREAK)
    market.session(Session.AFTERNOON)
    market.session(Session.CLOSED)

    events = market.session(Session.MORNING)

    assert events == [_session_rejected(market.ts, Session.CLOSED, Session.MORNING)]


# ------------------------------------------------------------------------------------------ halts


def test_halt_instrument_rejects_orders_accepts_cancels(market: Market) -> None:
    bid = rest(market, "A1", BUY, 100, 7900)

    halted = market.send(HaltInstrument(instrument="SHEA2025", reason="technical"))
    order = market.sell("A2", 100, 7900, client_order_id="h")
    amend = market.amend("A1", bid, 7900, 50)
    other_instrument = market.sell("A2", 100, 8500, instrument="CCER", client_order_id="ccer")
    cancel = market.cancel("A1", bid)

    ts = market.ts
    assert halted == [InstrumentStatusChanged(ts_event=ts - 4, instrument="SHEA2025", halted=True, reason="technical")]
    assert order == [rejected(ts - 3, "A2", "h", Reject.INSTRUMENT_HALTED, "INSTRUMENT_HALTED: instrument=SHEA2025")]
    assert amend == [
        RequestRejected(
            ts_event=ts - 2,
            request="AmendOrder",
            code=Reject.INSTRUMENT_HALTED,
            text="INSTRUMENT_HALTED: instrument=SHEA2025",
            account="A1",
            order_id=bid,
        )
    ]
    assert other_instrument == [accepted(ts - 1, 2, "A2", SELL, 100, 8500, "ccer", instrument="CCER")]
    assert cancel == [cancelled(ts, bid, "A1", CancelReason.USER, 100, released_cash=buy_freeze(7900, 100))]


def test_resume_instrument_accepts_orders_again(market: Market) -> None:
    market.send(HaltInstrument(instrument="SHEA2025"))

    resumed = market.send(ResumeInstrument(instrument="SHEA2025"))
    order = market.buy("A1", 100, 7900, client_order_id="r")

    ts = market.ts
    assert resumed == [InstrumentStatusChanged(ts_event=ts - 1, instrument="SHEA2025", halted=False, reason="")]
    assert order == [accepted(ts, 1, "A1", BUY, 100, 7900, "r")]


def test_halt_instrument_already_halted_and_resume_not_halted(market: Market) -> None:
    not_halted = market.send(ResumeInstrument(instrument="SHEA2025"))
    market.send(HaltInstrument(instrument="SHEA2025"))
    twice = market.send(HaltInstrument(instrument="SHEA2025"))
    unknown = market.send(HaltInstrument(instrument="SHEA1999"))

    ts = market.ts
    assert not_halted == [
        RequestRejected(
            ts_event=ts - 3, request="ResumeInstrument", code=Reject.NOT_HALTED, text="NOT_HALTED: instrument=SHEA2025"
        )
    ]
    assert twice == [
        RequestRejected(
            ts_event=ts - 1,
            request="HaltInstrument",
            code=Reject.ALREADY_HALTED,
            text="ALREADY_HALTED: instrument=SHEA2025",
        )
    ]
    assert unknown == [
        RequestRejected(
            ts_event=ts,
            request="HaltInstrument",
            code=Reject.UNKNOWN_INSTRUMENT,
            text="UNKNOWN_INSTRUMENT: instrument=SHEA1999",
        )
    ]


def test_halt_market(market: Market) -> None:
    ask = rest(market, "A1", SELL, 100, 8100)

    halted = market.send(HaltMarket(reason="drill"))
    shea = market.buy("A2", 100, 8100, client_order_id="shea")
    ccer = market.buy("A2", 100, 8500, instrument="CCER", client_order_id="ccer")
    twice = market.send(HaltMarket())
    cancel = market.cancel("A1", ask)

    ts = market.ts
    assert halted == [MarketStatusChanged(ts_event=ts - 4, halted=True, reason="drill")]
    assert shea == [rejected(ts - 3, "A2", "shea", Reject.MARKET_HALTED, "MARKET_HALTED")]
    assert ccer == [rejected(ts - 2, "A2", "ccer", Reject.MARKET_HALTED, "MARKET_HALTED", instrument="CCER")]
    assert twice == [
        RequestRejected(ts_event=ts - 1, request="HaltMarket", code=Reject.ALREADY_HALTED, text="ALREADY_HALTED")
    ]
    assert cancel == [cancelled(ts, ask, "A1", CancelReason.USER, 100, released_quantity=100)]


def test_resume_market(market: Market) -> None:
    not_halted = market.send(ResumeMarket())
    market.send(HaltMarket(reason="drill"))

    resumed = market.send(ResumeMarket())
    order = market.buy("A1", 100, 7900, client_order_id="r")

    ts = market.ts
    assert not_halted == [
        RequestRejected(ts_event=ts - 3, request="ResumeMarket", code=Reject.NOT_HALTED, text="NOT_HALTED")
    ]
    assert resumed == [MarketStatusChanged(ts_event=ts - 1, halted=False, reason="")]
    assert order == [accepted(ts, 1, "A1", BUY, 100, 7900, "r")]


# ------------------------------------------------------------------------------------------ participants


def test_unknown_account(market: Market) -> None:
    events = market.buy("ZZ", 100, 8000, client_order_id="in")

    assert events == [rejected(market.ts, "ZZ", "in", Reject.UNKNOWN_ACCOUNT, "UNKNOWN_ACCOUNT: account=ZZ")]


def test_unknown_instrument(market: Market) -> None:
    events = market.buy("A1", 100, 8000, instrument="SHEA1999", client_order_id="in")

    assert events == [
        rejected(
            market.ts, "A1", "in", Reject.UNKNOWN_INSTRUMENT, "UNKNOWN_INSTRUMENT: instrument=SHEA1999", "SHEA1999"
        )
    ]


def test_prohibited_participant(market: Market) -> None:
    events = market.buy("STAFF", 100, 8000, client_order_id="in")

    assert events == [
        rejected(market.ts, "STAFF", "in", Reject.PROHIBITED_PARTICIPANT, "PROHIBITED_PARTICIPANT: account=STAFF")
    ]


@pytest.mark.parametrize(("account", "kind"), [("RESERVE", "reserve"), ("EXCHANGE-FEES", "exchange_fees")])
def test_system_account_cannot_trade(market: Market, account: str, kind: str) -> None:
    events = market.sell(account, 100, 8000, client_order_id="in")

    assert events == [
        rejected(
            market.ts,
            account,
            "in",
            Reject.ACCOUNT_CANNOT_TRADE,
            f"ACCOUNT_CANNOT_TRADE: account={account} kind={kind}",
        )
    ]


def test_duplicate_client_order_id_per_account_per_day(market: Market) -> None:
    first = rest(market, "A1", BUY, 100, 7900, client_order_id="dup")
    market.cancel("A1", first)  # a cancelled order's id still counts for the day

    again = market.buy("A1", 100, 7900, client_order_id="dup")
    again_ts = market.ts
    other_account = market.buy("A2", 100, 7900, client_order_id="dup")
    other_ts = market.ts
    market.close_day(DAY1)
    market.open_day(DAY2)
    next_day = market.buy("A1", 100, 7900, client_order_id="dup")

    assert again == [
        rejected(
            again_ts, "A1", "dup", Reject.DUPLICATE_CLIENT_ORDER_ID, "DUPLICATE_CLIENT_ORDER_ID: client_order_id=dup"
        )
    ]
    assert other_account == [accepted(other_ts, 2, "A2", BUY, 100, 7900, "dup")]
    assert next_day == [accepted(market.ts, 3, "A1", BUY, 100, 7900, "dup")]


def test_client_order_id_must_be_1_to_36_characters(market: Market) -> None:
    empty = market.buy("A1", 100, 7900, client_order_id="")
    too_long = market.buy("A1", 100, 7900, client_order_id="x" * 37)
    longest = market.buy("A1", 100, 7900, client_order_id="x" * 36)

    ts = market.ts
    assert empty == [
        rejected(ts - 2, "A1", "", Reject.INVALID_CLIENT_ORDER_ID, "INVALID_CLIENT_ORDER_ID: length=0 max=36")
    ]
    assert too_long == [
        rejected(ts - 1, "A1", "x" * 37, Reject.INVALID_CLIENT_ORDER_ID, "INVALID_CLIENT_ORDER_ID: length=37 max=36")
    ]
    assert longest == [accepted(ts, 1, "A1", BUY, 100, 7900, "x" * 36)]


# ------------------------------------------------------------------------------------------ end of day


def test_day_orders_expire_at_end_of_day(market: Market) -> None:
    bid = rest(market, "A1", BUY, 100, 7900)
    far_ask = rest(market, "A2", SELL, 100, 8100)
    near_ask = rest(market, "A3", SELL, 100, 8050)
    market.buy("A4", 40, 8050)

    events = market.close_day(DAY1)

    ts = market.ts
    traded = 8050 * 40
    assert [e for e in events if isinstance(e, OrderCancelled | DailyBulletin | TradingDayEnded)] == [
        cancelled(ts, bid, "A1", CancelReason.EXPIRED, 100, released_cash=buy_freeze(7900, 100)),
        cancelled(ts, near_ask, "A3", CancelReason.EXPIRED, 60, released_quantity=60),
        cancelled(ts, far_ask, "A2", CancelReason.EXPIRED, 100, released_quantity=100),
        DailyBulletin(
            ts_event=ts,
            trading_day=DAY1,
            instrument="SHEA2025",
            reference_price=8000,
            open=8050,
            high=8050,
            low=8050,
            last=8050,
            close=8050,
            vwap=8050,
            volume=40,
            turnover=traded,
            trades=1,
        ),
        *[
            DailyBulletin(
                ts_event=ts,
                trading_day=DAY1,
                instrument=code,
                reference_price=reference,
                open=0,
                high=0,
                low=0,
                last=0,
                close=reference,
                vwap=0,
                volume=0,
                turnover=0,
                trades=0,
            )
            for code, reference in (("CCER", 8500), ("T5", 7775))
        ],
        TradingDayEnded(ts_event=ts, trading_day=DAY1, expired_orders=3, fees_collected=2 * fee(traded)),
    ]
    assert resting(market) == []
    assert (market.cash("A1"), market.holding("A2")) == ((CASH, 0), (HOLDING, 0, 0))
    market.open_day(DAY2)
    assert market.exchange.listing.band("SHEA2025") == band_limits(8050, 1000, 1) == (7245, 8855)


# ------------------------------------------------------------------------------------------ no information leak


def test_cancel_of_another_accounts_order_is_unknown_order(market: Market) -> None:
    bid = rest(market, "A1", BUY, 100, 7900)

    foreign = market.cancel("A2", bid)
    foreign_ts = market.ts
    market.cancel("A1", bid)
    missing = market.cancel("A2", bid)

    assert foreign == [
        RequestRejected(
            ts_event=foreign_ts,
            request="CancelOrder",
            code=Reject.UNKNOWN_ORDER,
            text=f"UNKNOWN_ORDER: order_id={bid}",
            account="A2",
            order_id=bid,
        )
    ]
    # The same rejection, field for field, as for an order that does not exist.
    assert [_without_ts(e) for e in foreign] == [_without_ts(e) for e in missing]


def test_amend_of_another_accounts_order_is_unknown_order(market: Market) -> None:
    bid = rest(market, "A1", BUY, 100, 7900)

    foreign = market.amend("A2", bid, 7800, 100)
    foreign_ts = market.ts
    nonexistent = market.amend("A2", 999, 7800, 100)

    assert foreign == [
        RequestRejected(
            ts_event=foreign_ts,
            request="AmendOrder",
            code=Reject.UNKNOWN_ORDER,
            text=f"UNKNOWN_ORDER: order_id={bid}",
            account="A2",
            order_id=bid,
        )
    ]
    assert nonexistent == [
        RequestRejected(
            ts_event=market.ts,
            request="AmendOrder",
            code=Reject.UNKNOWN_ORDER,
            text="UNKNOWN_ORDER: order_id=999",
            account="A2",
            order_id=999,
        )
    ]
    assert resting(market) == [(bid, "A1", BUY, 7900, 100)]


def _without_ts(event: Event) -> Event:
    return msgspec.structs.replace(event, ts_event=0)
