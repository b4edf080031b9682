"""Position limits (持有量限制) and the large-holder report (大户报告).

docs/RULES_COVERAGE.md "End of day, the registry and risk control".

Small limits keep the numbers readable: position limits of 1,000 t for a covered entity (plus its
own free allocation of the instrument), 2,000 t for an institution and 1,500 t for an individual;
large-holder thresholds of 500 t (plus allocation), 1,000 t and 1,000 t. A position is every
bucket of the holding (available, frozen, restricted, compliance-only) plus open buy orders.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.config import ExchangeConfig, RiskLimits
from engine.exchange import Exchange
from engine.messages import (
    AllocateAllowances,
    DepositCash,
    Event,
    LargeHolderReported,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderRejected,
    OrderType,
    Reject,
    RequestRejected,
    Session,
    Side,
    StartOfDay,
    TradeExecuted,
)
from tests.conftest import CASH, DAY1, DAY2, TRADERS, Market, assert_balanced, market_config

pytestmark = pytest.mark.per_book
SHEA = "SHEA2025"
LIMITS = RiskLimits(
    position_limit_t={"covered_entity": 1_000, "institution": 2_000, "individual": 1_500},
    large_holder_t={"covered_entity": 500, "institution": 1_000, "individual": 1_000},
)


def limited_market(book_kind: str, config: ExchangeConfig | None = None) -> Market:
    """DAY1's morning: every trader has CASH; A1 (covered entity) was allocated 400 t of SHEA2025,
    A2 (institution) 1,200 t, A4 (individual, the seller) 5,000 t; A3 (individual) holds nothing."""
    market = Market(Exchange(config or market_config(risk=LIMITS), book=book_kind))
    market.send(StartOfDay(trading_day=DAY1))
    for account in TRADERS:
        market.send(DepositCash(account=account, amount=CASH))
    for account, quantity in (("A1", 400), ("A2", 1_200), ("A4", 5_000)):
        market.send(AllocateAllowances(account=account, instrument=SHEA, quantity=quantity))
    market.session(Session.MORNING)
    market.events.clear()
    return market


@pytest.fixture
def limited(book_kind: str) -> Iterator[Market]:
    market = limited_market(book_kind)
    yield market
    market.exchange.validate_internal_state()
    assert_balanced(market)


def accepted(events: list[Event]) -> OrderAccepted:
    assert isinstance(events[0], OrderAccepted), events
    return events[0]


def refused_buy(market: Market, account: str, quantity: int, text: str, price: int = 7900) -> None:
    """The buy is rejected POSITION_LIMIT with exactly ``text`` and changes nothing."""
    before = market.exchange.state_hash()

    events = market.buy(account, quantity, price, client_order_id="over")

    assert events == [
        OrderRejected(
            ts_event=market.ts,
            account=account,
            instrument=SHEA,
            client_order_id="over",
            code=Reject.POSITION_LIMIT,
            text=text,
        )
    ]
    assert market.exchange.state_hash() == before


# ---------------------------------------------------------------------------------------- the limit


def test_buy_that_could_exceed_the_limit_is_rejected(limited: Market) -> None:
    refused_buy(limited, "A3", 1_501, "POSITION_LIMIT: position=0 quantity=1501 limit=1500")


def test_buy_exactly_at_the_limit_is_accepted(limited: Market) -> None:
    order = accepted(limited.buy("A3", 1_500, 7900))

    assert order.quantity == 1_500


def test_open_buy_orders_count_towards_the_position(limited: Market) -> None:
    limited.buy("A3", 1_000, 7900)

    refused_buy(limited, "A3", 501, "POSITION_LIMIT: position=1000 quantity=501 limit=1500")
    accepted(limited.buy("A3", 500, 7800))


def test_every_bucket_of_the_holding_counts(limited: Market) -> None:
    limited.send(AllocateAllowances(account="A3", instrument=SHEA, quantity=300))
    limited.send(AllocateAllowances(account="A3", instrument=SHEA, quantity=100, compliance_only=True))
    limited.sell("A3", 100, 8100)  # frozen
    limited.sell("A4", 200, 8000)
    limited.buy("A3", 200, 8000)  # restricted until tomorrow

    holding = limited.exchange.ledger.holding("A3", SHEA)
    assert (holding.available, holding.frozen, holding.restricted, holding.compliance) == (200, 100, 200, 100)
    refused_buy(limited, "A3", 901, "POSITION_LIMIT: position=600 quantity=901 limit=1500")
    accepted(limited.buy("A3", 900, 7900))


def test_a_market_buy_counts_its_whole_quantity(limited: Market) -> None:
    limited.buy("A3", 1_000, 7900)
    before = limited.exchange.state_hash()

    [rejected] = limited.buy("A3", 501, order_type=OrderType.MARKET_FIVE_CANCEL)

    assert isinstance(rejected, OrderRejected)
    assert rejected.text == "POSITION_LIMIT: position=1000 quantity=501 limit=1500"
    assert limited.exchange.state_hash() == before


def test_amend_up_counts_and_amend_down_gives_room_back(limited: Market) -> None:
    limited.buy("A3", 1_000, 7900)  # order 1
    before = limited.exchange.state_hash()

    too_much = limited.amend("A3", 1, 7900, 1_501)

    assert too_much == [
        RequestRejected(
            ts_event=limited.ts,
            request="AmendOrder",
            code=Reject.POSITION_LIMIT,
            text="POSITION_LIMIT: position=1000 quantity=501 limit=1500",
            account="A3",
            order_id=1,
        )
    ]
    assert limited.exchange.state_hash() == before
    [up] = limited.amend("A3", 1, 7900, 1_500)
    [down] = limited.amend("A3", 1, 7900, 400)
    assert isinstance(up, OrderAmended) and isinstance(down, OrderAmended)
    assert (up.quantity, down.quantity) == (1_500, 400)
    refused_buy(limited, "A3", 1_101, "POSITION_LIMIT: position=400 quantity=1101 limit=1500")
    accepted(limited.buy("A3", 1_100, 7900))


def test_cancel_gives_the_room_back(limited: Market) -> None:
    order = accepted(limited.buy("A3", 1_500, 7900))
    refused_buy(limited, "A3", 1, "POSITION_LIMIT: position=1500 quantity=1 limit=1500")

    limited.cancel("A3", order.order_id)

    accepted(limited.buy("A3", 1_500, 7900))


def test_a_fill_moves_the_position_from_open_buys_to_the_holding(limited: Market) -> None:
    limited.sell("A4", 600, 8000)

    events = limited.buy("A3", 1_000, 8000)  # 600 t bought (restricted), 400 t rest

    assert [type(e) for e in events] == [OrderAccepted, TradeExecuted]
    refused_buy(limited, "A3", 501, "POSITION_LIMIT: position=1000 quantity=501 limit=1500")
    accepted(limited.buy("A3", 500, 7900))


def test_expiry_and_a_sale_give_the_room_back(limited: Market) -> None:
    limited.sell("A4", 600, 8000)
    limited.buy("A3", 600, 8000)
    limited.buy("A3", 900, 7900)  # expires tonight
    refused_buy(limited, "A3", 1, "POSITION_LIMIT: position=1500 quantity=1 limit=1500")
    limited.close_day(DAY1)
    limited.open_day(DAY2)
    refused_buy(limited, "A3", 901, "POSITION_LIMIT: position=600 quantity=901 limit=1500")

    limited.sell("A3", 600, 8000)
    limited.buy("A2", 600, 8000)

    accepted(limited.buy("A3", 1_500, 7900))
    limited.close_day(DAY2)


def test_a_covered_entitys_limit_includes_its_free_allocation(limited: Market) -> None:
    # A1 holds its 400 t allocation: limit 1,000 + 400.
    refused_buy(limited, "A1", 1_001, "POSITION_LIMIT: position=400 quantity=1001 limit=1400")
    accepted(limited.buy("A1", 1_000, 7900))

    limited.send(AllocateAllowances(account="A1", instrument=SHEA, quantity=100, compliance_only=True))
    limited.send(AllocateAllowances(account="A1", instrument="CCER", quantity=5_000))  # another instrument's

    refused_buy(limited, "A1", 1, "POSITION_LIMIT: position=1500 quantity=1 limit=1500")


def test_an_institutions_allocation_is_not_added_to_its_limit(limited: Market) -> None:
    refused_buy(limited, "A2", 801, "POSITION_LIMIT: position=1200 quantity=801 limit=2000")
    accepted(limited.buy("A2", 800, 7900))


def test_an_account_kind_without_a_configured_limit_is_not_limited(book_kind: str) -> None:
    config = market_config(risk=RiskLimits(position_limit_t={"individual": 1_500}, large_holder_t={}))
    market = limited_market(book_kind, config)

    order = accepted(market.buy("A2", 99_999, 7200))

    assert order.quantity == 99_999
    refused_buy(market, "A3", 1_501, "POSITION_LIMIT: position=0 quantity=1501 limit=1500")


def test_open_buys_survive_a_snapshot(limited: Market) -> None:
    limited.buy("A3", 1_000, 7900)
    restored = Market(
        Exchange.from_snapshot(limited.exchange.config, limited.exchange.snapshot(), limited.exchange.book_kind)
    )

    [rejected] = restored.send(
        NewOrder(
            account="A3",
            instrument=SHEA,
            client_order_id="after",
            side=Side.BUY,
            order_type=OrderType.LIMIT,
            quantity=501,
            price=7900,
        )
    )

    assert isinstance(rejected, OrderRejected)
    assert rejected.text == "POSITION_LIMIT: position=1000 quantity=501 limit=1500"


# ---------------------------------------------------------------------------------------- large holders


def test_large_holders_above_the_threshold_are_listed_at_the_end_of_day(limited: Market) -> None:
    limited.send(AllocateAllowances(account="A2", instrument="CCER", quantity=1_001))
    limited.send(AllocateAllowances(account="RESERVE", instrument=SHEA, quantity=1_000_000))  # no threshold
    limited.sell("A4", 1_000, 8000)
    limited.buy("A3", 1_000, 8000)  # exactly the threshold: not reported
    limited.sell("A4", 501, 8000)
    limited.buy("A1", 501, 8000)  # 901 t over 500 + 400 allocated

    events = limited.close_day(DAY1)

    ts = limited.ts
    assert [e for e in events if isinstance(e, LargeHolderReported)] == [
        LargeHolderReported(
            ts_event=ts, trading_day=DAY1, account="A1", member="M1", instrument=SHEA, holding=901, threshold=900
        ),
        LargeHolderReported(
            ts_event=ts, trading_day=DAY1, account="A2", member="M2", instrument="CCER", holding=1_001, threshold=1_000
        ),
        LargeHolderReported(
            ts_event=ts, trading_day=DAY1, account="A2", member="M2", instrument=SHEA, holding=1_200, threshold=1_000
        ),
        LargeHolderReported(
            ts_event=ts, trading_day=DAY1, account="A4", member="M2", instrument=SHEA, holding=3_499, threshold=1_000
        ),
    ]
