"""docs/AUCTIONS.md "Settlement": buybacks, one-way bidding, the compliance-only bucket and fees.

One test per rule, through the Exchange, comparing the exact events of the clearing and the exact
ledger balances after it: a buyback by volume and by budget, uniform and pay-as-offer (the tonnes
go to the reserve account, the treasury pays and gets back the rest of its freeze); one-way
bidding's delivery versus payment with the one-way fee on both sides; a compliance auction's
tonnes in the compliance-only bucket, never sellable on the listing; the auction fee on a reserve
sale (the bidder pays it) and on a buyback (the seller pays it out of its proceeds; the treasury
pays none). The market: tests/auction_desk.py.
"""

from __future__ import annotations

import pytest

from engine.config import Fees
from engine.messages import (
    AuctionClosed,
    CancelCause,
    OrderRejected,
    Pricing,
    Purpose,
    Reject,
    Session,
    StartOfDay,
)
from tests.auction_desk import (
    BIDDER_CASH,
    FEES,
    HOLDER_T,
    ONE_WAY_PPM,
    RESERVE,
    RESERVE_T,
    SHEA,
    TREASURY,
    TREASURY_CASH,
    allocated,
    announce_open,
    apply_approve_open,
    auction_config,
    auction_market,
    bid,
    buyback,
    cleared,
    close,
    one_way,
    reserve_sale,
    settled,
)
from tests.conftest import DAY1, DAY2, Market, assert_balanced

AUCTION_PPM = 500  # 0.05% a side: a fee the tests set (the default is none)


def four_offers(market: Market, auction_id: int) -> None:
    """4,000 t at 65.00 (A1), 5,000 t at 68.00 (A2), 3,000 t at 69.00 (A1), 2,000 t at 70.00 (A2)."""
    bid(market, "A1", auction_id, 6500, 4_000)
    bid(market, "A2", auction_id, 6800, 5_000)
    bid(market, "A1", auction_id, 6900, 3_000)
    bid(market, "A2", auction_id, 7000, 2_000)


FOUR_OFFERS = {
    "bid_volume": 14_000,
    "bid_count": 4,
    "bidders": 2,
    "min_bid": 6500,
    "median_bid": 6850,  # (68.00 + 69.00) / 2
    "max_bid": 7000,
}


# ------------------------------------------------------------------------------ buybacks


def test_a_uniform_buyback_pays_every_seller_the_highest_accepted_offer(desk: Market) -> None:
    terms = buyback(volume=10_000, price=7000)
    auction_id = announce_open(desk, terms)
    four_offers(desk, auction_id)

    events = close(desk, auction_id)

    # Offers ascending: 4,000 at 65.00 and 5,000 at 68.00 fill; 1,000 of the 3,000 at 69.00.
    ts = desk.ts
    assert events == [
        AuctionClosed(ts_event=ts, auction_id=auction_id, instrument=SHEA, bids=4),
        allocated(ts, 1, auction_id, "A1", (6500, 4_000), (4_000, 6900), offer=True),
        allocated(ts, 2, auction_id, "A2", (6800, 5_000), (5_000, 6900), offer=True),
        allocated(ts, 3, auction_id, "A1", (6900, 3_000), (1_000, 6900), offer=True),
        allocated(ts, 4, auction_id, "A2", (7000, 2_000), offer=True),
        settled(ts, auction_id, terms, 7000, 10_000, 69_000_000),
        cleared(
            ts,
            auction_id,
            terms,
            7000,
            **FOUR_OFFERS,
            successful_bidders=2,
            volume_sold=10_000,
            clearing_price=6900,
            revenue=69_000_000,
            bid_to_cover_bp=14_000,
            covered_share_bp=5_000,  # A1's 5,000 t
            hhi=5_000,
        ),
    ]
    # The treasury paid 69,000,000 of the 70,000,000 it froze; the tonnes went on to the reserve.
    assert desk.cash(TREASURY) == (TREASURY_CASH - 69_000_000, 0)
    assert desk.holding(TREASURY) == (0, 0, 0)
    assert desk.holding(RESERVE) == (RESERVE_T, 0, 10_000)
    assert [desk.cash(a) for a in ("A1", "A2")] == [(BIDDER_CASH + 34_500_000, 0)] * 2
    assert [desk.holding(a) for a in ("A1", "A2")] == [(HOLDER_T - 5_000, 0, 0)] * 2
    desk.close_day(DAY1)
    assert desk.holding(RESERVE) == (RESERVE_T + 10_000, 0, 0)  # bought today, free tomorrow


def test_a_pay_as_offer_buyback_pays_each_seller_its_own_price(desk: Market) -> None:
    terms = buyback(volume=10_000, price=7000, pricing=Pricing.PAY_AS_BID)
    auction_id = announce_open(desk, terms)
    four_offers(desk, auction_id)

    events = close(desk, auction_id)

    ts = desk.ts
    assert events[1:] == [
        allocated(ts, 1, auction_id, "A1", (6500, 4_000), (4_000, 6500), offer=True),
        allocated(ts, 2, auction_id, "A2", (6800, 5_000), (5_000, 6800), offer=True),
        allocated(ts, 3, auction_id, "A1", (6900, 3_000), (1_000, 6900), offer=True),
        allocated(ts, 4, auction_id, "A2", (7000, 2_000), offer=True),
        settled(ts, auction_id, terms, 7000, 10_000, 66_900_000),
        cleared(
            ts,
            auction_id,
            terms,
            7000,
            **FOUR_OFFERS,
            successful_bidders=2,
            volume_sold=10_000,
            clearing_price=6900,
            revenue=66_900_000,  # 4,000 × 65.00 + 5,000 × 68.00 + 1,000 × 69.00
            bid_to_cover_bp=14_000,
            covered_share_bp=5_000,
            hhi=5_000,
        ),
    ]
    assert desk.cash(TREASURY) == (TREASURY_CASH - 66_900_000, 0)
    assert [desk.cash(a) for a in ("A1", "A2")] == [(BIDDER_CASH + 32_900_000, 0), (BIDDER_CASH + 34_000_000, 0)]
    assert desk.holding(RESERVE) == (RESERVE_T, 0, 10_000)


def test_a_uniform_budget_buyback_buys_what_the_budget_pays_at_the_marginal_price(desk: Market) -> None:
    terms = buyback(volume=0, budget=50_000_000, price=7000)
    auction_id = announce_open(desk, terms)
    four_offers(desk, auction_id)

    events = close(desk, auction_id)

    # At 65.00 the budget buys 7,692 t: the 4,000 fit. At 68.00 every accepted tonne is paid
    # 68.00: 50,000,000 // 6,800 = 7,352 t in all, so 3,352 of the 5,000 at 68.00.
    ts = desk.ts
    assert events[1:] == [
        allocated(ts, 1, auction_id, "A1", (6500, 4_000), (4_000, 6800), offer=True),
        allocated(ts, 2, auction_id, "A2", (6800, 5_000), (3_352, 6800), offer=True),
        allocated(ts, 3, auction_id, "A1", (6900, 3_000), offer=True),
        allocated(ts, 4, auction_id, "A2", (7000, 2_000), offer=True),
        settled(ts, auction_id, terms, 7000, 7_352, 49_993_600),
        cleared(
            ts,
            auction_id,
            terms,
            7000,
            **FOUR_OFFERS,
            successful_bidders=2,
            volume_sold=7_352,
            clearing_price=6800,
            revenue=49_993_600,
            bid_to_cover_bp=0,  # no volume to cover
            covered_share_bp=5_441,  # 4,000 / 7,352
            hhi=5_039,  # (4,000² + 3,352²) / 7,352²
        ),
    ]
    assert desk.cash(TREASURY) == (TREASURY_CASH - 49_993_600, 0)
    assert desk.holding(RESERVE) == (RESERVE_T, 0, 7_352)


def test_a_pay_as_offer_budget_buyback_spends_what_is_left_at_each_price(desk: Market) -> None:
    terms = buyback(volume=0, budget=50_000_000, price=7000, pricing=Pricing.PAY_AS_BID)
    auction_id = announce_open(desk, terms)
    four_offers(desk, auction_id)

    events = close(desk, auction_id)

    # 4,000 t at 65.00 spend 26,000,000; the 24,000,000 left buy 3,529 t at 68.00.
    ts = desk.ts
    assert events[1:] == [
        allocated(ts, 1, auction_id, "A1", (6500, 4_000), (4_000, 6500), offer=True),
        allocated(ts, 2, auction_id, "A2", (6800, 5_000), (3_529, 6800), offer=True),
        allocated(ts, 3, auction_id, "A1", (6900, 3_000), offer=True),
        allocated(ts, 4, auction_id, "A2", (7000, 2_000), offer=True),
        settled(ts, auction_id, terms, 7000, 7_529, 49_997_200),
        cleared(
            ts,
            auction_id,
            terms,
            7000,
            **FOUR_OFFERS,
            successful_bidders=2,
            volume_sold=7_529,
            clearing_price=6800,
            revenue=49_997_200,
            bid_to_cover_bp=0,
            covered_share_bp=5_313,  # 4,000 / 7,529
            hhi=5_020,
        ),
    ]
    assert desk.cash(TREASURY) == (TREASURY_CASH - 49_997_200, 0)
    assert desk.holding(RESERVE) == (RESERVE_T, 0, 7_529)


def test_a_buyback_clearing_too_far_above_the_previous_close_is_cancelled(desk: Market) -> None:
    terms = buyback(volume=1_000, price=9000, cancel_below_reference_bp=1_000)
    auction_id = announce_open(desk, terms)
    bid(desk, "A2", auction_id, 8801, 1_000)  # 80.00 + 10% is 88.00

    events = close(desk, auction_id)

    ts = desk.ts
    assert events[1:] == [
        allocated(ts, 1, auction_id, "A2", (8801, 1_000), offer=True),
        settled(ts, auction_id, terms, 9000),
        cleared(
            ts,
            auction_id,
            terms,
            9000,
            bid_volume=1_000,
            bid_count=1,
            bidders=1,
            min_bid=8801,
            median_bid=8801,
            max_bid=8801,
            successful_bidders=0,
            volume_sold=0,
            clearing_price=0,
            revenue=0,
            bid_to_cover_bp=10_000,
            covered_share_bp=0,
            hhi=0,
            cancelled=True,
            cancel_cause=CancelCause.BELOW_REFERENCE,
            reference_price=8000,
        ),
    ]
    assert (desk.cash(TREASURY), desk.holding("A2"), desk.holding(RESERVE)) == (
        (TREASURY_CASH, 0),
        (HOLDER_T, 0, 0),
        (RESERVE_T, 0, 0),
    )


# ------------------------------------------------------------------------------ one-way bidding


def test_a_one_way_sale_settles_delivery_versus_payment_with_the_one_way_fee_on_both_sides(desk: Market) -> None:
    terms = one_way(volume=100_000, price=7200)
    auction_id = apply_approve_open(desk, terms)
    bid(desk, "A3", auction_id, 7600, 60_000)
    bid(desk, "A4", auction_id, 7500, 50_000)
    bid(desk, "A2", auction_id, 7400, 20_000)

    events = close(desk, auction_id)

    # 60,000 at 76.00 and 40,000 of A4's 50,000 at 75.00: uniform 75.00. Fees 0.10% a side:
    # A3 450,000.00 on 450,000,000, A4 300,000.00; the seller as much on its side.
    ts = desk.ts
    assert events[1:] == [
        allocated(ts, 1, auction_id, "A3", (7600, 60_000), (60_000, 7500), ppm=ONE_WAY_PPM),
        allocated(ts, 2, auction_id, "A4", (7500, 50_000), (40_000, 7500), ppm=ONE_WAY_PPM),
        allocated(ts, 3, auction_id, "A2", (7400, 20_000), ppm=ONE_WAY_PPM),
        settled(ts, auction_id, terms, 7200, 100_000, 750_000_000, fee=750_000),  # the seller's fee
        cleared(
            ts,
            auction_id,
            terms,
            7200,
            bid_volume=130_000,
            bid_count=3,
            bidders=3,
            min_bid=7400,
            median_bid=7500,
            max_bid=7600,
            successful_bidders=2,
            volume_sold=100_000,
            clearing_price=7500,
            revenue=750_000_000,
            bid_to_cover_bp=13_000,
            covered_share_bp=0,  # two individuals won
            hhi=5_200,
            fees=1_500_000,
        ),
    ]
    assert desk.cash("A1") == (BIDDER_CASH + 750_000_000 - 750_000, 0)
    assert desk.holding("A1") == (HOLDER_T - 100_000, 0, 0)
    assert [desk.cash(a) for a in ("A3", "A4", "A2")] == [
        (BIDDER_CASH - 450_450_000, 0),
        (BIDDER_CASH - 300_300_000, 0),
        (BIDDER_CASH, 0),
    ]
    assert [desk.holding(a) for a in ("A3", "A4")] == [(0, 0, 60_000), (0, 0, 40_000)]
    assert desk.cash(FEES) == (1_500_000, 0)
    assert desk.cash(TREASURY) == (TREASURY_CASH, 0)  # a member's sale: nothing to the treasury


def test_an_undersold_one_way_sale_gives_the_seller_back_the_rest(desk: Market) -> None:
    auction_id = apply_approve_open(desk, one_way(volume=100_000, price=7200))
    bid(desk, "A3", auction_id, 7300, 30_000)

    close(desk, auction_id)

    assert desk.holding("A1") == (HOLDER_T - 30_000, 0, 0)
    assert desk.cash("A1") == (BIDDER_CASH + 219_000_000 - 219_000, 0)


# ------------------------------------------------------------------------------ compliance-only


def test_a_compliance_auctions_tonnes_land_in_the_compliance_only_bucket(desk: Market) -> None:
    terms = reserve_sale(volume=10_000, price=4800, purpose=Purpose.COMPLIANCE)
    auction_id = announce_open(desk, terms)
    bid(desk, "A1", auction_id, 5000, 6_000)
    bid(desk, "B1", auction_id, 4900, 6_000)

    events = close(desk, auction_id)

    ts = desk.ts
    assert events[1:] == [
        allocated(ts, 1, auction_id, "A1", (5000, 6_000), (6_000, 4900), compliance_only=True),
        allocated(ts, 2, auction_id, "B1", (4900, 6_000), (4_000, 4900), compliance_only=True),
        settled(ts, auction_id, terms, 4800, 10_000, 49_000_000),
        cleared(
            ts,
            auction_id,
            terms,
            4800,
            bid_volume=12_000,
            bid_count=2,
            bidders=2,
            min_bid=4900,
            median_bid=4950,
            max_bid=5000,
            successful_bidders=2,
            volume_sold=10_000,
            clearing_price=4900,
            revenue=49_000_000,
            bid_to_cover_bp=12_000,
            covered_share_bp=10_000,
            hhi=5_200,
        ),
    ]
    ledger = desk.exchange.ledger
    assert (ledger.holding("A1", SHEA).compliance, ledger.holding("B1", SHEA).compliance) == (6_000, 4_000)
    assert desk.holding("B1") == (0, 0, 0)  # neither available nor restricted
    assert desk.cash(TREASURY) == (TREASURY_CASH + 49_000_000, 0)


@pytest.mark.per_book
def test_compliance_only_tonnes_can_never_be_sold_on_the_listing(book_kind: str) -> None:
    market = auction_market(book_kind)
    auction_id = announce_open(market, reserve_sale(volume=10_000, price=4800, purpose=Purpose.COMPLIANCE))
    bid(market, "B1", auction_id, 4900, 4_000)
    close(market, auction_id)

    (today,) = market.sell("B1", 1, 8000)
    market.close_day(DAY1)
    market.send(StartOfDay(trading_day=DAY2))
    market.session(Session.MORNING)
    (tomorrow,) = market.sell("B1", 1, 8000)

    for reject in (today, tomorrow):
        assert isinstance(reject, OrderRejected) and reject.code is Reject.INSUFFICIENT_HOLDINGS
    assert market.exchange.ledger.holding("B1", SHEA).compliance == 4_000
    assert_balanced(market)


# ------------------------------------------------------------------------------ fees


def test_a_reserve_sales_bidder_pays_the_auction_fee_and_the_treasury_gets_the_whole_value(book_kind: str) -> None:
    market = auction_market(book_kind, auction_config(fees=Fees(auction_ppm=AUCTION_PPM)))
    terms = reserve_sale(volume=10_000, price=4800)
    auction_id = announce_open(market, terms)
    bid(market, "A1", auction_id, 5000, 1_001)

    events = close(market, auction_id)

    # 1,001 × 50.00 = 5,005,000 fen; 0.05% of it is 2,502.5 -> 2,503 (half-up).
    ts = market.ts
    assert events[1] == allocated(ts, 1, auction_id, "A1", (5000, 1_001), (1_001, 5000), ppm=AUCTION_PPM)
    assert events[1].fee == 2_503
    assert events[-1].fees == 2_503
    assert market.cash("A1") == (BIDDER_CASH - 5_007_503, 0)
    assert market.cash(TREASURY) == (TREASURY_CASH + 5_005_000, 0)
    assert market.cash(FEES) == (2_503, 0)
    assert_balanced(market)


def test_a_buyback_seller_pays_the_auction_fee_out_of_its_proceeds(book_kind: str) -> None:
    # settle.py: "each bidder pays the auction's rate on its allocation ... the treasury pays none".
    market = auction_market(book_kind, auction_config(fees=Fees(auction_ppm=AUCTION_PPM)))
    terms = buyback(volume=10_000, price=7000)
    auction_id = announce_open(market, terms)
    bid(market, "A2", auction_id, 6805, 1_000)

    events = close(market, auction_id)

    # 1,000 × 68.05 = 6,805,000 fen; 0.05% of it is 3,402.5 -> 3,403.
    ts = market.ts
    assert events[1] == allocated(ts, 1, auction_id, "A2", (6805, 1_000), (1_000, 6805), ppm=AUCTION_PPM, offer=True)
    assert events[-1].fees == 3_403
    assert market.cash("A2") == (BIDDER_CASH + 6_805_000 - 3_403, 0)
    assert market.cash(TREASURY) == (TREASURY_CASH - 6_805_000, 0)
    assert market.cash(FEES) == (3_403, 0)
    assert_balanced(market)
