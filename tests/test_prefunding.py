"""Full pre-funding, DvP settlement and fees (docs/RULES_COVERAGE.md "Pre-funding and settlement").

One test per rule, named after it. Amounts are exact fen worked out by hand at the listing fee
rate of 1500 ppm (0.15% per side, half-up to the fen); SHEA2025's band on DAY1 is 7200..8800.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from engine.exchange import Exchange
from engine.messages import (
    AllocateAllowances,
    CancelReason,
    DepositCash,
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
    StartOfDay,
    TradeExecuted,
)
from tests.conftest import CASH, DAY1, DAY2, HOLDING, Market, assert_conserved, market_config

pytestmark = pytest.mark.per_book
FEES = "EXCHANGE-FEES"
SHEA = "SHEA2025"


def bare_market(book_kind: str, cash: Mapping[str, int], holdings: Mapping[str, int]) -> Market:
    """A market in DAY1's morning session funded only as given (cash in fen, SHEA2025 in tonnes)."""
    market = Market(Exchange(market_config(), book=book_kind))
    market.send(StartOfDay(trading_day=DAY1))
    for account, amount in cash.items():
        market.send(DepositCash(account=account, amount=amount))
    for account, quantity in holdings.items():
        market.send(AllocateAllowances(account=account, instrument=SHEA, quantity=quantity))
    market.session(Session.MORNING)
    market.events.clear()
    return market


def trades_in(events: list[Any]) -> list[TradeExecuted]:
    return [e for e in events if isinstance(e, TradeExecuted)]


# ---------------------------------------------------------------------------------------- freezes


@pytest.mark.parametrize(
    ("quantity", "price", "frozen"),
    [
        (100, 8000, 800_000 + 1_200),  # fee 1200.00 exactly
        (1660, 8001, 13_281_660 + 19_922),  # fee 19922.49 -> 19922
        (1, 7200, 7_200 + 11),  # fee 10.80 -> 11
    ],
)
def test_buy_freezes_price_times_quantity_plus_max_fee(market: Market, quantity: int, price: int, frozen: int) -> None:
    events = market.buy("A1", quantity, price)

    assert events == [
        OrderAccepted(
            ts_event=market.ts,
            order_id=1,
            account="A1",
            instrument=SHEA,
            client_order_id="c1",
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            price=price,
            quantity=quantity,
            frozen_cash=frozen,
            frozen_quantity=0,
        )
    ]
    assert market.cash("A1") == (CASH - frozen, frozen)
    assert market.holding("A1") == (HOLDING, 0, 0)


@pytest.mark.parametrize("order_type", [OrderType.MARKET_FIVE_CANCEL, OrderType.MARKET_FIVE_LIMIT])
def test_market_buy_freezes_at_band_upper_limit(market: Market, order_type: OrderType) -> None:
    market.sell("A2", 10, 8000)

    events = market.buy("A1", 100, order_type=order_type)

    accepted, trade, rest = events
    # 100 t at the band's upper limit 8800: 880000 + fee 1320, whatever the book offers.
    assert isinstance(accepted, OrderAccepted) and accepted.frozen_cash == 881_320
    # 10 t trade at 8000 (80000 + fee 120); the rest is re-priced at 8800:
    # 792000 + fee(872000) - fee(80000) = 793188 stays frozen, 881320 - 80120 - 793188 = 8012 freed.
    assert isinstance(trade, TradeExecuted)
    assert (trade.price, trade.quantity, trade.buy_fee, trade.buy_released_cash) == (8000, 10, 120, 8012)
    if order_type is OrderType.MARKET_FIVE_CANCEL:
        assert rest == OrderCancelled(
            ts_event=market.ts,
            order_id=2,
            account="A1",
            instrument=SHEA,
            reason=CancelReason.MARKET_REMAINDER,
            cancelled_quantity=90,
            released_cash=793_188,
            released_quantity=0,
        )
        assert market.cash("A1") == (CASH - 80_120, 0)
    else:
        # Rests at its last trade price 8000: 720000 + fee(800000) - fee(80000) = 721080.
        assert rest == OrderConvertedToLimit(
            ts_event=market.ts,
            order_id=2,
            account="A1",
            instrument=SHEA,
            price=8000,
            quantity=90,
            released_cash=793_188 - 721_080,
        )
        assert market.cash("A1") == (CASH - 80_120 - 721_080, 721_080)


def test_sell_freezes_allowances(market: Market) -> None:
    [accepted] = market.sell("A2", 100, 8000)

    assert isinstance(accepted, OrderAccepted)
    assert (accepted.frozen_cash, accepted.frozen_quantity) == (0, 100)
    assert market.holding("A2") == (HOLDING - 100, 100, 0)
    assert market.cash("A2") == (CASH, 0)


def test_no_short_selling(market: Market) -> None:
    [too_many] = market.sell("A2", HOLDING + 1, 8000)
    market.sell("A3", HOLDING, 8000)
    [nothing_left] = market.sell("A3", 1, 8000)

    assert isinstance(too_many, OrderRejected) and too_many.code is Reject.INSUFFICIENT_HOLDINGS
    assert too_many.text == "INSUFFICIENT_HOLDINGS: required=50001 available=50000"
    assert isinstance(nothing_left, OrderRejected) and nothing_left.code is Reject.INSUFFICIENT_HOLDINGS
    assert nothing_left.text == "INSUFFICIENT_HOLDINGS: required=1 available=0"
    assert market.holding("A2") == (HOLDING, 0, 0)
    assert market.holding("A3") == (0, HOLDING, 0)


def test_no_overdraft(book_kind: str) -> None:
    market = bare_market(book_kind, cash={"A1": 801_199}, holdings={})

    [rejected] = market.buy("A1", 100, 8000)  # needs 800000 + 1200, one fen more than A1 has

    assert rejected == OrderRejected(
        ts_event=market.ts,
        account="A1",
        instrument=SHEA,
        client_order_id="c1",
        code=Reject.INSUFFICIENT_FUNDS,
        text="INSUFFICIENT_FUNDS: required=801200 available=801199",
    )
    assert market.cash("A1") == (801_199, 0)
    assert len(market.exchange.listing.books[SHEA]) == 0

    market.send(DepositCash(account="A1", amount=1))
    [accepted] = market.buy("A1", 100, 8000)

    assert isinstance(accepted, OrderAccepted) and accepted.frozen_cash == 801_200
    assert market.cash("A1") == (0, 801_200)
    assert_conserved(market.exchange, deposited=801_200, issued={SHEA: 0})


def test_dvp_moves_cash_and_allowances_in_one_transfer(market: Market) -> None:
    ledger = market.exchange.ledger
    market.sell("A2", 100, 8000)

    [_, trade] = market.buy("A1", 100, 8000)

    # One ledger transfer per trade, both legs and both fees together (the record the statements read;
    # the reference book writes it through Ledger.settle_trade, the fast book through its numba twin).
    assert ledger.day.trades == [(1, SHEA, 8000, 100, "A1", "A2", 1_200, 1_200)]
    assert isinstance(trade, TradeExecuted) and (trade.buy_fee, trade.sell_fee) == (1_200, 1_200)
    assert market.cash("A1") == (CASH - 801_200, 0)
    assert market.holding("A1") == (HOLDING, 0, 100)
    assert market.cash("A2") == (CASH + 798_800, 0)
    assert market.holding("A2") == (HOLDING - 100, 0, 0)
    assert market.cash(FEES) == (2_400, 0)


# ------------------------------------------------------------------------------------------- fees


@pytest.mark.parametrize(
    ("quantity", "fee"),
    [
        (1000, 12_002),  # 1000 t at 80.01 = 8001000 fen: exact fee 12001.50 rounds up
        (1660, 19_922),  # 1660 t at 80.01 = 13281660 fen: exact fee 19922.49 rounds down
    ],
    ids=["x.50-up", "x.49-down"],
)
def test_fee_per_side_half_up_to_the_fen(market: Market, quantity: int, fee: int) -> None:
    value = 8001 * quantity
    market.sell("A2", quantity, 8001)

    [accepted, trade] = market.buy("A1", quantity, 8001)

    assert isinstance(accepted, OrderAccepted) and accepted.frozen_cash == value + fee
    assert isinstance(trade, TradeExecuted)
    assert (trade.buy_fee, trade.sell_fee, trade.buy_released_cash) == (fee, fee, 0)
    assert market.cash("A1") == (CASH - value - fee, 0)
    assert market.cash("A2") == (CASH + value - fee, 0)
    assert market.cash(FEES) == (2 * fee, 0)


def test_fee_on_cumulative_value_never_exceeds_frozen_max_fee(market: Market) -> None:
    # 100 t at 74.00: value 740000, maximum fee 1110.00 frozen at entry.
    [accepted] = market.buy("A1", 100, 7400)
    assert isinstance(accepted, OrderAccepted) and accepted.frozen_cash == 741_110

    # Twenty 5 t fills of 37000 fen each; each alone would cost 55.50 -> 56, 1120 in all.
    trades = []
    for i in range(20):
        trades += trades_in(market.sell("A2" if i % 2 == 0 else "A3", 5, 7400))

    # On cumulative value the increments alternate 56, 55 and total fee(740000) = 1110.
    assert [t.buy_fee for t in trades] == [56, 55] * 10
    assert sum(t.buy_fee for t in trades) == 1_110 == accepted.frozen_cash - 740_000
    assert all(t.buy_released_cash == 0 for t in trades)
    assert market.cash("A1") == (CASH - 741_110, 0)
    assert market.holding("A1") == (HOLDING, 0, 100)
    # Each 5 t sell is its own order: 56 each.
    assert [t.sell_fee for t in trades] == [56] * 20
    assert market.cash("A2") == market.cash("A3") == (CASH + 10 * (37_000 - 56), 0)
    assert market.cash(FEES) == (1_110 + 20 * 56, 0)


def test_price_improvement_released_on_fill(market: Market) -> None:
    market.sell("A2", 40, 8000)
    market.sell("A3", 60, 8050)

    [accepted, first, second] = market.buy("A1", 100, 8100)

    # Frozen at 81.00: 810000 + fee 1215.
    assert isinstance(accepted, OrderAccepted) and accepted.frozen_cash == 811_215
    # 40 t at 8000 (320000 + fee 480); 60 t still need 486000 + fee(806000) - fee(320000) = 486729;
    # 811215 - 320480 - 486729 = 4006 = 40 t x 1.00 improvement + 6 fen of fee no longer needed.
    assert first == TradeExecuted(
        ts_event=market.ts,
        trade_id=1,
        instrument=SHEA,
        price=8000,
        quantity=40,
        aggressor=Side.BUY,
        buy_order_id=3,
        sell_order_id=1,
        buy_account="A1",
        sell_account="A2",
        buy_fee=480,
        sell_fee=480,
        buy_leaves=60,
        sell_leaves=0,
        buy_released_cash=4_006,
    )
    # 60 t at 8050 (483000 + fee(803000) - fee(320000) = 1205 - 480 = 725): 486729 - 483725 = 3004.
    assert isinstance(second, TradeExecuted)
    assert (second.price, second.buy_fee, second.buy_leaves, second.buy_released_cash) == (8050, 725, 0, 3_004)
    assert market.cash("A1") == (CASH - 320_000 - 483_000 - 1_205, 0)
    assert market.cash("A1")[0] == CASH - 811_215 + 4_006 + 3_004


# -------------------------------------------------------------------------------------- releases


def test_cancel_releases_frozen(market: Market) -> None:
    market.buy("A1", 100, 8000)
    market.sell("A2", 30, 8000)  # 240000 + fee 360 paid out of A1's freeze
    market.sell("A3", 100, 8100)

    [buy_cancelled] = market.cancel("A1", 1)
    [sell_cancelled] = market.cancel("A3", 3)

    # 70 t left: 560000 + fee(800000) - fee(240000) = 560840.
    assert buy_cancelled == OrderCancelled(
        ts_event=market.ts - 1,
        order_id=1,
        account="A1",
        instrument=SHEA,
        reason=CancelReason.USER,
        cancelled_quantity=70,
        released_cash=560_840,
        released_quantity=0,
    )
    assert sell_cancelled == OrderCancelled(
        ts_event=market.ts,
        order_id=3,
        account="A3",
        instrument=SHEA,
        reason=CancelReason.USER,
        cancelled_quantity=100,
        released_cash=0,
        released_quantity=100,
    )
    assert market.cash("A1") == (CASH - 240_360, 0)
    assert market.holding("A3") == (HOLDING, 0, 0)


def test_ioc_and_fok_leftovers_released(market: Market) -> None:
    market.sell("A2", 60, 8000)

    ioc = market.buy("A1", 100, 8000, order_type=OrderType.LIMIT_IOC)
    market.sell("A2", 60, 8000)
    fok = market.buy("A3", 100, 8000, order_type=OrderType.LIMIT_FOK)
    ioc_sell = market.sell("A4", 100, 8100, order_type=OrderType.LIMIT_IOC)

    # IOC: 60 t traded (480000 + fee 720); 40 t still frozen as 320000 + fee(800000) - fee(480000).
    assert ioc[-1] == OrderCancelled(
        ts_event=market.ts - 3,
        order_id=2,
        account="A1",
        instrument=SHEA,
        reason=CancelReason.IOC_REMAINDER,
        cancelled_quantity=40,
        released_cash=320_480,
        released_quantity=0,
    )
    # FOK: only 60 t on offer, nothing trades and the full freeze comes back.
    assert [type(e) for e in fok] == [OrderAccepted, OrderCancelled]
    assert fok[-1] == OrderCancelled(
        ts_event=market.ts - 1,
        order_id=4,
        account="A3",
        instrument=SHEA,
        reason=CancelReason.FOK_UNFILLED,
        cancelled_quantity=100,
        released_cash=801_200,
        released_quantity=0,
    )
    assert ioc_sell[-1] == OrderCancelled(
        ts_event=market.ts,
        order_id=5,
        account="A4",
        instrument=SHEA,
        reason=CancelReason.IOC_REMAINDER,
        cancelled_quantity=100,
        released_cash=0,
        released_quantity=100,
    )
    assert market.cash("A1") == (CASH - 480_720, 0)
    assert market.cash("A3") == (CASH, 0)
    assert market.holding("A4") == (HOLDING, 0, 0)
    assert market.holding("A2") == (HOLDING - 120, 60, 0)


def test_expiry_releases_frozen(market: Market) -> None:
    market.buy("A1", 100, 7900)
    market.sell("A2", 50, 8100)

    events = market.close_day()

    expired = [e for e in events if isinstance(e, OrderCancelled)]
    assert [(e.order_id, e.reason, e.cancelled_quantity, e.released_cash, e.released_quantity) for e in expired] == [
        (1, CancelReason.EXPIRED, 100, 790_000 + 1_185, 0),
        (2, CancelReason.EXPIRED, 50, 0, 50),
    ]
    assert market.cash("A1") == (CASH, 0)
    assert market.holding("A2") == (HOLDING, 0, 0)


# ------------------------------------------------------------------- resale and use of proceeds


def test_same_day_resale_forbidden(market: Market) -> None:
    market.sell("A2", 100, 8000)
    market.buy("A1", 100, 8000)
    assert market.holding("A1") == (HOLDING, 0, 100)

    [rejected] = market.sell("A1", HOLDING + 1, 8000)

    assert isinstance(rejected, OrderRejected) and rejected.code is Reject.INSUFFICIENT_HOLDINGS
    assert rejected.text == "INSUFFICIENT_HOLDINGS: required=50001 available=50000"

    market.close_day(DAY1)
    market.open_day(DAY2)
    assert market.holding("A1") == (HOLDING + 100, 0, 0)
    [accepted] = market.sell("A1", HOLDING + 100, 8000)

    assert isinstance(accepted, OrderAccepted) and accepted.frozen_quantity == HOLDING + 100
    assert market.holding("A1") == (0, HOLDING + 100, 0)


def test_cash_from_sale_usable_at_once_for_buying(book_kind: str) -> None:
    market = bare_market(book_kind, cash={"A2": CASH}, holdings={"A1": 100})
    market.buy("A2", 100, 8000)
    market.sell("A1", 100, 8000)
    assert market.cash("A1") == (798_800, 0)  # 800000 - fee 1200, nothing deposited

    [accepted] = market.buy("A1", 99, 8000)  # 792000 + fee 1188

    assert isinstance(accepted, OrderAccepted) and accepted.frozen_cash == 793_188
    assert market.cash("A1") == (798_800 - 793_188, 793_188)
    assert_conserved(market.exchange, deposited=CASH, issued={SHEA: 100})


def test_sale_proceeds_not_withdrawable_until_next_day(market: Market) -> None:
    ledger = market.exchange.ledger
    market.buy("A1", 100, 8000)
    market.sell("A2", 100, 8000)

    assert ledger.cash("A2").available == CASH + 798_800
    assert ledger.cash("A2").withdrawable == CASH
    assert ledger.cash("A1").withdrawable == CASH - 801_200

    market.close_day(DAY1)
    market.open_day(DAY2)

    assert ledger.cash("A2").withdrawable == CASH + 798_800
    assert ledger.cash("A1").withdrawable == CASH - 801_200


# ------------------------------------------------------------------------------------------ amend


def test_amend_price_up_freezes_more_or_rejects_insufficient_funds(book_kind: str) -> None:
    # 100 t at 81.00 needs 810000 + fee 1215 = 811215; A1 has one fen less.
    market = bare_market(book_kind, cash={"A1": 811_214}, holdings={})
    market.buy("A1", 100, 8000)  # 801200 frozen, 10014 left

    [rejected] = market.amend("A1", 1, 8100, 100)

    assert rejected == RequestRejected(
        ts_event=market.ts,
        request="AmendOrder",
        code=Reject.INSUFFICIENT_FUNDS,
        text="INSUFFICIENT_FUNDS: required=10015 available=10014",
        account="A1",
        order_id=1,
    )
    assert market.cash("A1") == (10_014, 801_200)
    # The refused amend left the order's freeze at 80.00: halving it frees exactly 400000 + 600.
    [halved] = market.amend("A1", 1, 8000, 50)
    assert isinstance(halved, OrderAmended)
    assert (halved.priority_kept, halved.frozen_cash_change) == (True, -400_600)
    assert market.cash("A1") == (410_614, 400_600)

    [amended] = market.amend("A1", 1, 8100, 50)  # 405000 + fee 607.50 -> 608

    assert amended == OrderAmended(
        ts_event=market.ts,
        order_id=1,
        account="A1",
        instrument=SHEA,
        price=8100,
        quantity=50,
        priority_kept=False,
        frozen_cash_change=5_008,
        frozen_quantity_change=0,
    )
    assert market.cash("A1") == (811_214 - 405_608, 405_608)
    assert_conserved(market.exchange, deposited=811_214, issued={SHEA: 0})


def test_amend_sell_quantity_up_needs_holdings(market: Market) -> None:
    market.sell("A2", 100, 8100)

    [rejected] = market.amend("A2", 1, 8100, HOLDING + 1)

    assert isinstance(rejected, RequestRejected) and rejected.code is Reject.INSUFFICIENT_HOLDINGS
    assert rejected.text == "INSUFFICIENT_HOLDINGS: required=49901 available=49900"
    assert market.holding("A2") == (HOLDING - 100, 100, 0)

    [amended] = market.amend("A2", 1, 8100, HOLDING)

    assert isinstance(amended, OrderAmended)
    assert (amended.priority_kept, amended.quantity, amended.frozen_quantity_change) == (False, HOLDING, 49_900)
    assert market.holding("A2") == (0, HOLDING, 0)


# ---------------------------------------------------------------------------------- conservation


def test_conservation_through_trading(market: Market) -> None:
    deposited = CASH * 4
    issued = {code: HOLDING * 4 for code in (SHEA, "CCER", "T5")}
    market.sell("A2", 300, 8010)
    market.sell("A3", 200, 7990)
    market.buy("A1", 450, 8050)  # sweeps 200 @ 7990 and 250 @ 8010
    market.buy("A4", 70, 8500, instrument="CCER")
    market.sell("A1", 100, 8400, instrument="CCER")  # 70 @ 8500, 30 rest
    market.buy("A4", 95, order_type=OrderType.MARKET_FIVE_LIMIT)  # 50 @ 8010, 45 rest at 8010
    market.sell("A4", 40, 7810, instrument="T5")
    market.buy("A3", 40, 7800, instrument="T5")
    market.amend("A3", 8, 7815, 20)  # price up crosses the T5 ask: 20 @ 7810
    assert_conserved(market.exchange, deposited, issued)

    market.close_day(DAY1)

    trades = trades_in(market.events)
    assert [(t.instrument, t.price, t.quantity) for t in trades] == [
        (SHEA, 7990, 200),
        (SHEA, 8010, 250),
        ("CCER", 8500, 70),
        (SHEA, 8010, 50),
        ("T5", 7810, 20),
    ]
    # Per side: 2397; A1 fee(3600500) - 2397 = 3004 and A2 3004; 893; 601; 234.
    assert [(t.buy_fee, t.sell_fee) for t in trades] == [
        (2_397, 2_397),
        (3_004, 3_004),
        (893, 893),
        (601, 601),
        (234, 234),
    ]
    assert market.cash(FEES) == (14_258, 0)
    assert_conserved(market.exchange, deposited, issued)
    assert sum(market.cash(a)[0] for a in ("A1", "A2", "A3", "A4")) == deposited - 14_258
    assert all(market.cash(a)[1] == 0 for a in ("A1", "A2", "A3", "A4"))
    assert all(market.holding(a, code)[1] == 0 for a in ("A1", "A2", "A3", "A4") for code in issued)
