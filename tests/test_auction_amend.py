"""docs/AUCTIONS.md "Bids": amending and withdrawing a sealed bid.

One test per rule, through the Exchange, comparing the exact events: an amend is checked as a new
bid in place of the old one and freezes or releases the difference; a lower quantity at the same
price keeps the time rank, a new price or more tonnes take a new one; a withdrawal releases the
whole freeze, also while the market or the instrument is halted (it is a cancel); nobody acts on a
bid that is not its own live bid. Submitting a bid and its checks: tests/test_auction_bids.py. The
market: tests/auction_desk.py (auction 1 is a market-supply sale of 100,000 t at 48.00).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.messages import AmendBid, BidAmended, BidWithdrawn, HaltInstrument, HaltMarket, ResumeMarket, WithdrawBid
from engine.view import ExchangeView
from tests.auction_desk import (
    BIDDER_CASH,
    HOLDER_T,
    SHEA,
    amend,
    announce_open,
    auction_market,
    bid,
    buyback,
    reserve_sale,
    withdraw,
)
from tests.conftest import Market, assert_balanced
from tests.transfer_desk import refused

SALE = reserve_sale(volume=100_000, price=4800)


@pytest.fixture
def desk(book_kind: str) -> Iterator[Market]:
    market = auction_market(book_kind)
    assert announce_open(market, SALE) == 1
    yield market
    market.exchange.validate_internal_state()
    assert_balanced(market)


# ------------------------------------------------------------------------------ amend and withdraw


def test_a_lower_quantity_at_the_same_price_keeps_the_time_rank(desk: Market) -> None:
    mine = bid(desk, "A1", 1, 5000, 1_000)
    bid(desk, "A2", 1, 5000, 1_000)

    events = amend(desk, "A1", mine, 5000, 600)

    assert events == [
        BidAmended(
            ts_event=desk.ts,
            bid_id=mine,
            auction_id=1,
            account="A1",
            price=5000,
            quantity=600,
            time_rank=1,
            frozen_cash=3_000_000,
            frozen_quantity=0,
        )
    ]
    assert desk.cash("A1") == (BIDDER_CASH - 3_000_000, 3_000_000)


def test_a_new_price_or_more_tonnes_take_a_new_time_rank(desk: Market) -> None:
    mine = bid(desk, "A1", 1, 5000, 1_000)
    bid(desk, "A2", 1, 5000, 1_000)

    repriced = amend(desk, "A1", mine, 4900, 1_000)
    more = amend(desk, "A1", mine, 4900, 1_200)

    assert repriced == [
        BidAmended(
            ts_event=desk.ts - 1,
            bid_id=mine,
            auction_id=1,
            account="A1",
            price=4900,
            quantity=1_000,
            time_rank=3,
            frozen_cash=4_900_000,
            frozen_quantity=0,
        )
    ]
    assert more == [
        BidAmended(
            ts_event=desk.ts,
            bid_id=mine,
            auction_id=1,
            account="A1",
            price=4900,
            quantity=1_200,
            time_rank=4,
            frozen_cash=5_880_000,
            frozen_quantity=0,
        )
    ]
    assert desk.cash("A1") == (BIDDER_CASH - 5_880_000, 5_880_000)


def test_amending_an_offer_freezes_or_releases_the_tonnes(desk: Market) -> None:
    auction_id = announce_open(desk, buyback(volume=300_000, price=7000))
    mine = bid(desk, "A2", auction_id, 6900, 4_000)

    down = amend(desk, "A2", mine, 6900, 3_000)
    up = amend(desk, "A2", mine, 6800, 5_000)

    assert [(e.time_rank, e.frozen_quantity) for e in down + up if isinstance(e, BidAmended)] == [
        (1, 3_000),
        (2, 5_000),
    ]
    assert desk.holding("A2") == (HOLDER_T - 5_000, 5_000, 0)
    refused(
        desk,
        AmendBid(account="A2", bid_id=mine, price=6800, quantity=HOLDER_T + 1),
        f"INSUFFICIENT_HOLDINGS: bid_id={mine} instrument={SHEA} required=195001 available={HOLDER_T - 5_000}",
    )


def test_an_amend_that_changes_nothing_is_refused(desk: Market) -> None:
    mine = bid(desk, "A1", 1, 5000, 100)

    refused(
        desk,
        AmendBid(account="A1", bid_id=mine, price=5000, quantity=100),
        f"AMEND_NO_CHANGE: bid_id={mine} price=5000 quantity=100",
    )


def test_an_amend_is_checked_as_a_new_bid(desk: Market) -> None:
    mine = bid(desk, "A1", 1, 5000, 100)

    refused(
        desk,
        AmendBid(account="A1", bid_id=mine, price=4799, quantity=100),
        f"BID_BELOW_FLOOR: bid_id={mine} price=4799 floor=4800",
    )
    refused(
        desk,
        AmendBid(account="A1", bid_id=mine, price=5000, quantity=0),
        f"INVALID_LOT: bid_id={mine} quantity=0 lot=1",
    )


def test_a_withdrawal_releases_the_freeze_and_the_bid_stays_listed_as_withdrawn(desk: Market) -> None:
    mine = bid(desk, "A1", 1, 5000, 1_000)

    events = withdraw(desk, "A1", mine)

    assert events == [
        BidWithdrawn(
            ts_event=desk.ts, bid_id=mine, auction_id=1, account="A1", released_cash=5_000_000, released_quantity=0
        )
    ]
    assert desk.cash("A1") == (BIDDER_CASH, 0)
    (record,) = ExchangeView(desk.exchange).bids(1)
    assert (record.live, record.frozen_cash) == (False, 0)


def test_withdrawing_an_offer_releases_the_tonnes(desk: Market) -> None:
    auction_id = announce_open(desk, buyback(volume=10_000, price=7000))
    mine = bid(desk, "A2", auction_id, 6900, 4_000)

    events = withdraw(desk, "A2", mine)

    assert events == [
        BidWithdrawn(
            ts_event=desk.ts, bid_id=mine, auction_id=auction_id, account="A2", released_cash=0, released_quantity=4_000
        )
    ]
    assert desk.holding("A2") == (HOLDER_T, 0, 0)


def test_nobody_acts_on_a_bid_that_is_not_its_own_live_bid(desk: Market) -> None:
    mine = bid(desk, "A1", 1, 5000, 100)
    gone = bid(desk, "A1", 1, 5000, 100)
    withdraw(desk, "A1", gone)

    for command in (
        AmendBid(account="A2", bid_id=mine, price=5100, quantity=100),  # another's: never revealed
        WithdrawBid(account="A2", bid_id=mine),
        WithdrawBid(account="A1", bid_id=gone),  # withdrawn already
        AmendBid(account="A1", bid_id=gone, price=5100, quantity=100),
        WithdrawBid(account="A1", bid_id=99),
    ):
        refused(desk, command, f"UNKNOWN_BID: bid_id={command.bid_id}")


def test_a_bid_can_be_withdrawn_while_the_market_or_the_instrument_is_halted(desk: Market) -> None:
    # A withdrawal is a cancel: accepted while halted, as cancels of orders and of transfers are
    # (RULES.md "Risk control": while halted new orders are rejected, cancels are accepted).
    first = bid(desk, "A1", 1, 4800, 100)
    second = bid(desk, "A2", 1, 4800, 100)
    desk.send(HaltMarket(reason="drill"))

    assert withdraw(desk, "A1", first) == [
        BidWithdrawn(
            ts_event=desk.ts, bid_id=first, auction_id=1, account="A1", released_cash=480_000, released_quantity=0
        )
    ]
    desk.send(ResumeMarket())
    desk.send(HaltInstrument(instrument=SHEA, reason="drill"))
    assert withdraw(desk, "A2", second) == [
        BidWithdrawn(
            ts_event=desk.ts, bid_id=second, auction_id=1, account="A2", released_cash=480_000, released_quantity=0
        )
    ]
