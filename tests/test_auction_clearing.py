"""docs/AUCTIONS.md "Clearing": how a sale's bids are allocated and priced, and when the auction cancels itself.

One test per rule, through the Exchange, comparing the exact events of the clearing (each bid's
``BidAllocated`` in bid id order, then the public ``AuctionCleared``) and the exact ledger balances
after it: bids sorted by price, the marginal bid filled partly; uniform price (the lowest accepted
bid) or pay-as-bid; ties at the marginal price by time, in the seeded random order, or pro rata
with the leftover lots in the seeded random order (two pinned seeds give two different
allocations of the same tie); an undersubscribed auction; both cancellation rules. Every figure
of the results is worked out by hand in the test. Buybacks, one-way bidding, the compliance-only
bucket and fees: tests/test_auction_settlement.py. The market: tests/auction_desk.py.
"""

from __future__ import annotations

from engine.messages import AuctionClosed, BidAllocated, CancelCause, Pricing, TieBreak
from tests.auction_desk import (
    BIDDER_CASH,
    COMMITMENT,
    FEES,
    HOLDER_T,
    RESERVE,
    RESERVE_T,
    SEED,
    SHEA,
    T5,
    TREASURY,
    TREASURY_CASH,
    allocated,
    announce_open,
    bid,
    clear,
    cleared,
    close,
    reserve_sale,
    settled,
)
from tests.conftest import Market

OTHER_SEED = "00" * 32  # its random order of three tied bids differs from SEED's (tests/test_auction_prng.py)
OTHER_COMMITMENT = "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"  # SHA-256 of 32 zero bytes


def four_bids(market: Market, auction_id: int) -> None:
    """60,000 t at 52.00 (A1), 30,000 t at 50.00 (A2), 20,000 t at 49.00 (B1), 10,000 t at 48.50 (A2)."""
    bid(market, "A1", auction_id, 5200, 60_000)
    bid(market, "A2", auction_id, 5000, 30_000)
    bid(market, "B1", auction_id, 4900, 20_000)
    bid(market, "A2", auction_id, 4850, 10_000)


# The four bids' public figures: 120,000 t in 4 bids from 3 bidders; prices 48.50, 49.00, 50.00, 52.00.
FOUR_BIDS = {
    "bid_volume": 120_000,
    "bid_count": 4,
    "bidders": 3,
    "min_bid": 4850,
    "median_bid": 4950,  # (49.00 + 50.00) / 2
    "max_bid": 5200,
}


# ------------------------------------------------------------------------------ uniform and pay-as-bid


def test_uniform_price_every_winner_pays_the_lowest_accepted_bid(desk: Market) -> None:
    terms = reserve_sale(volume=100_000, price=4800)
    auction_id = announce_open(desk, terms)
    four_bids(desk, auction_id)

    events = close(desk, auction_id)

    # 60,000 + 30,000 fill; B1's 20,000 at 49.00 is the marginal bid: 10,000 t; A2's 48.50 gets nothing.
    ts = desk.ts
    assert events == [
        AuctionClosed(ts_event=ts, auction_id=auction_id, instrument=SHEA, bids=4),
        allocated(ts, 1, auction_id, "A1", (5200, 60_000), (60_000, 4900)),
        allocated(ts, 2, auction_id, "A2", (5000, 30_000), (30_000, 4900)),
        allocated(ts, 3, auction_id, "B1", (4900, 20_000), (10_000, 4900)),
        allocated(ts, 4, auction_id, "A2", (4850, 10_000)),
        settled(ts, auction_id, terms, 4800, 100_000, 490_000_000),
        cleared(
            ts,
            auction_id,
            terms,
            4800,
            **FOUR_BIDS,
            successful_bidders=3,
            volume_sold=100_000,
            clearing_price=4900,
            revenue=490_000_000,
            bid_to_cover_bp=12_000,
            covered_share_bp=7_000,  # A1 60,000 and B1 10,000 of 100,000
            hhi=4_600,  # 60² + 30² + 10²
        ),
    ]
    # Delivery versus payment: the reserve's tonnes to the winners (restricted until tomorrow),
    # their cash to the reserve and on to the treasury; every other freeze released.
    assert desk.holding(RESERVE) == (RESERVE_T - 100_000, 0, 0)
    assert desk.cash(RESERVE) == (0, 0)
    assert desk.cash(TREASURY) == (TREASURY_CASH + 490_000_000, 0)
    assert [desk.cash(a) for a in ("A1", "A2", "B1")] == [
        (BIDDER_CASH - 294_000_000, 0),
        (BIDDER_CASH - 147_000_000, 0),
        (BIDDER_CASH - 49_000_000, 0),
    ]
    assert [desk.holding(a) for a in ("A1", "A2", "B1")] == [
        (HOLDER_T, 0, 60_000),
        (HOLDER_T, 0, 30_000),
        (0, 0, 10_000),
    ]
    assert desk.cash(FEES) == (0, 0)  # no fee on a reserve sale by default


def test_pay_as_bid_every_winner_pays_its_own_price(desk: Market) -> None:
    terms = reserve_sale(volume=100_000, price=4800, pricing=Pricing.PAY_AS_BID)
    auction_id = announce_open(desk, terms)
    four_bids(desk, auction_id)

    events = close(desk, auction_id)

    ts = desk.ts
    assert events[1:] == [
        allocated(ts, 1, auction_id, "A1", (5200, 60_000), (60_000, 5200)),
        allocated(ts, 2, auction_id, "A2", (5000, 30_000), (30_000, 5000)),
        allocated(ts, 3, auction_id, "B1", (4900, 20_000), (10_000, 4900)),
        allocated(ts, 4, auction_id, "A2", (4850, 10_000)),
        settled(ts, auction_id, terms, 4800, 100_000, 511_000_000),
        cleared(
            ts,
            auction_id,
            terms,
            4800,
            **FOUR_BIDS,
            successful_bidders=3,
            volume_sold=100_000,
            clearing_price=4900,  # the marginal accepted price
            revenue=511_000_000,  # 60,000 × 52.00 + 30,000 × 50.00 + 10,000 × 49.00
            bid_to_cover_bp=12_000,
            covered_share_bp=7_000,
            hhi=4_600,
        ),
    ]
    assert desk.cash(TREASURY) == (TREASURY_CASH + 511_000_000, 0)
    assert [desk.cash(a) for a in ("A1", "A2", "B1")] == [
        (BIDDER_CASH - 312_000_000, 0),
        (BIDDER_CASH - 150_000_000, 0),
        (BIDDER_CASH - 49_000_000, 0),
    ]


# ------------------------------------------------------------------------------ tie-breaks


def test_a_time_tie_break_fills_the_earlier_bid_first(desk: Market) -> None:
    terms = reserve_sale(volume=10_000, price=4800)
    auction_id = announce_open(desk, terms)
    bid(desk, "A1", auction_id, 5000, 6_000)
    bid(desk, "A2", auction_id, 5000, 6_000)
    bid(desk, "B1", auction_id, 5100, 2_000)

    events = close(desk, auction_id)

    # B1's 51.00 fills; 8,000 t are left for the tie at 50.00: A1 bid first.
    ts = desk.ts
    assert events[1:] == [
        allocated(ts, 1, auction_id, "A1", (5000, 6_000), (6_000, 5000)),
        allocated(ts, 2, auction_id, "A2", (5000, 6_000), (2_000, 5000), cut=True),
        allocated(ts, 3, auction_id, "B1", (5100, 2_000), (2_000, 5000)),
        settled(ts, auction_id, terms, 4800, 10_000, 50_000_000),
        cleared(
            ts,
            auction_id,
            terms,
            4800,
            bid_volume=14_000,
            bid_count=3,
            bidders=3,
            min_bid=5000,
            median_bid=5000,
            max_bid=5100,
            successful_bidders=3,
            volume_sold=10_000,
            clearing_price=5000,
            revenue=50_000_000,
            bid_to_cover_bp=14_000,
            covered_share_bp=8_000,  # A1 6,000 and B1 2,000
            hhi=4_400,  # 60² + 20² + 20²
        ),
    ]


def _three_tied(market: Market, seed: str, commitment: str) -> list[tuple[int, bool]]:
    """Three bids of 5,000 t tied at 50.00 for 10,000 t, cleared with a random tie-break: (tonnes, cut) per bid."""
    auction_id = announce_open(
        market, reserve_sale(volume=10_000, tie_break=TieBreak.RANDOM, seed_commitment=commitment)
    )
    for account in ("A1", "A2", "B1"):
        bid(market, account, auction_id, 5000, 5_000)
    close(market, auction_id)
    return [(e.quantity, e.cut_by_tie_break) for e in clear(market, auction_id, seed) if isinstance(e, BidAllocated)]


def test_a_random_tie_break_fills_the_tied_bids_in_the_seeded_order(desk: Market) -> None:
    # SEED orders the three (taken in time order) 1, 3, 2; OTHER_SEED 3, 2, 1.
    assert _three_tied(desk, SEED, COMMITMENT) == [(5_000, False), (0, True), (5_000, False)]
    assert _three_tied(desk, OTHER_SEED, OTHER_COMMITMENT) == [(0, True), (5_000, False), (5_000, False)]


def test_a_random_tie_breaks_results_carry_the_commitment_and_the_seed(desk: Market) -> None:
    terms = reserve_sale(volume=10_000, tie_break=TieBreak.RANDOM, seed_commitment=COMMITMENT)
    auction_id = announce_open(desk, terms)
    for account in ("A1", "A2", "B1"):
        bid(desk, account, auction_id, 5000, 5_000)
    close(desk, auction_id)

    events = clear(desk, auction_id)

    assert events[-1] == cleared(
        desk.ts,
        auction_id,
        terms,
        4800,
        bid_volume=15_000,
        bid_count=3,
        bidders=3,
        min_bid=5000,
        median_bid=5000,
        max_bid=5000,
        successful_bidders=2,
        volume_sold=10_000,
        clearing_price=5000,
        revenue=50_000_000,
        bid_to_cover_bp=15_000,
        covered_share_bp=10_000,  # A1 and B1 won
        hhi=5_000,
        seed=SEED,
    )


def test_pro_rata_shares_the_room_in_lots_and_the_seeded_order_places_the_leftover_lots(desk: Market) -> None:
    terms = reserve_sale(
        instrument=T5, volume=1_000, price=7775, tie_break=TieBreak.PRO_RATA, seed_commitment=COMMITMENT
    )
    auction_id = announce_open(desk, terms)
    bid(desk, "A1", auction_id, 7800, 560)
    bid(desk, "A2", auction_id, 7800, 560)
    bid(desk, "B1", auction_id, 7800, 410)
    close(desk, auction_id)

    events = clear(desk, auction_id)

    # 1,000 × 560 / 1,530 = 366.0 -> 360 (10 t lots); 410 -> 267.97 -> 260; 20 t are left: one
    # lot each to the first two in SEED's order (bids 1, 3, 2).
    ts = desk.ts
    assert events == [
        allocated(ts, 1, auction_id, "A1", (7800, 560), (370, 7800), cut=True),
        allocated(ts, 2, auction_id, "A2", (7800, 560), (360, 7800), cut=True),
        allocated(ts, 3, auction_id, "B1", (7800, 410), (270, 7800), cut=True),
        settled(ts, auction_id, terms, 7775, 1_000, 7_800_000),
        cleared(
            ts,
            auction_id,
            terms,
            7775,
            bid_volume=1_530,
            bid_count=3,
            bidders=3,
            min_bid=7800,
            median_bid=7800,
            max_bid=7800,
            successful_bidders=3,
            volume_sold=1_000,
            clearing_price=7800,
            revenue=7_800_000,
            bid_to_cover_bp=15_300,
            covered_share_bp=6_400,  # A1 370 and B1 270 of 1,000
            hhi=3_394,  # 37² + 36² + 27²
            seed=SEED,
        ),
    ]
    assert desk.holding(RESERVE, T5) == (RESERVE_T - 1_000, 0, 0)


def test_two_seeds_place_a_pro_rata_leftover_differently(desk: Market) -> None:
    def shares(seed: str, commitment: str) -> list[int]:
        auction_id = announce_open(
            desk,
            reserve_sale(
                instrument=T5, volume=1_000, price=7775, tie_break=TieBreak.PRO_RATA, seed_commitment=commitment
            ),
        )
        for account, quantity in (("A1", 560), ("A2", 560), ("B1", 410)):
            bid(desk, account, auction_id, 7800, quantity)
        close(desk, auction_id)
        return [e.quantity for e in clear(desk, auction_id, seed) if isinstance(e, BidAllocated)]

    assert shares(SEED, COMMITMENT) == [370, 360, 270]  # order 1, 3, 2
    assert shares(OTHER_SEED, OTHER_COMMITMENT) == [360, 370, 270]  # order 3, 2, 1


# ------------------------------------------------------------------------------ undersubscribed and cancelled


def test_an_undersubscribed_auction_fills_every_bid_and_the_rest_stays_in_reserve(desk: Market) -> None:
    terms = reserve_sale(volume=100_000, price=4800)
    auction_id = announce_open(desk, terms)
    bid(desk, "A1", auction_id, 5000, 30_000)
    bid(desk, "A2", auction_id, 4800, 20_000)

    events = close(desk, auction_id)

    ts = desk.ts
    assert events[1:] == [
        allocated(ts, 1, auction_id, "A1", (5000, 30_000), (30_000, 4800)),
        allocated(ts, 2, auction_id, "A2", (4800, 20_000), (20_000, 4800)),
        settled(ts, auction_id, terms, 4800, 50_000, 240_000_000),
        cleared(
            ts,
            auction_id,
            terms,
            4800,
            bid_volume=50_000,
            bid_count=2,
            bidders=2,
            min_bid=4800,
            median_bid=4900,
            max_bid=5000,
            successful_bidders=2,
            volume_sold=50_000,
            clearing_price=4800,
            revenue=240_000_000,
            bid_to_cover_bp=5_000,
            covered_share_bp=6_000,
            hhi=5_200,  # 60² + 40²
        ),
    ]
    assert desk.holding(RESERVE) == (RESERVE_T - 50_000, 0, 0)
    assert desk.cash(TREASURY) == (TREASURY_CASH + 240_000_000, 0)


def test_an_auction_without_bids_sells_nothing(desk: Market) -> None:
    terms = reserve_sale(volume=1_000, price=4800)
    auction_id = announce_open(desk, terms)

    events = close(desk, auction_id)

    zero = dict.fromkeys(("bid_volume", "bid_count", "bidders", "min_bid", "median_bid", "max_bid"), 0)
    assert events[1:] == [
        settled(desk.ts, auction_id, terms, 4800),
        cleared(
            desk.ts,
            auction_id,
            terms,
            4800,
            **zero,
            successful_bidders=0,
            volume_sold=0,
            clearing_price=0,
            revenue=0,
            bid_to_cover_bp=0,
            covered_share_bp=0,
            hhi=0,
        ),
    ]
    assert desk.holding(RESERVE) == (RESERVE_T, 0, 0)


def test_an_undersubscribed_auction_is_cancelled_when_its_terms_say_so(desk: Market) -> None:
    terms = reserve_sale(volume=100_000, price=4800, cancel_if_undersubscribed=True)
    auction_id = announce_open(desk, terms)
    bid(desk, "A1", auction_id, 5000, 30_000)
    bid(desk, "A2", auction_id, 4800, 20_000)

    events = close(desk, auction_id)

    ts = desk.ts
    assert events[1:] == [
        allocated(ts, 1, auction_id, "A1", (5000, 30_000)),
        allocated(ts, 2, auction_id, "A2", (4800, 20_000)),
        settled(ts, auction_id, terms, 4800),
        cleared(
            ts,
            auction_id,
            terms,
            4800,
            bid_volume=50_000,
            bid_count=2,
            bidders=2,
            min_bid=4800,
            median_bid=4900,
            max_bid=5000,
            successful_bidders=0,
            volume_sold=0,
            clearing_price=0,
            revenue=0,
            bid_to_cover_bp=5_000,
            covered_share_bp=0,
            hhi=0,
            cancelled=True,
            cancel_cause=CancelCause.UNDERSUBSCRIBED,
        ),
    ]
    assert desk.holding(RESERVE) == (RESERVE_T, 0, 0)
    assert [desk.cash(a) for a in ("A1", "A2", TREASURY)] == [(BIDDER_CASH, 0), (BIDDER_CASH, 0), (TREASURY_CASH, 0)]


def test_a_clearing_price_too_far_below_the_previous_close_cancels_the_auction(desk: Market) -> None:
    # The previous close is 80.00; 10% below it is 72.00. 71.99 is beyond it: cancelled.
    terms = reserve_sale(volume=1_000, price=7000, cancel_below_reference_bp=1_000)
    auction_id = announce_open(desk, terms)
    bid(desk, "A1", auction_id, 7199, 1_000)

    events = close(desk, auction_id)

    ts = desk.ts
    assert events[1:] == [
        allocated(ts, 1, auction_id, "A1", (7199, 1_000)),
        settled(ts, auction_id, terms, 7000),
        cleared(
            ts,
            auction_id,
            terms,
            7000,
            bid_volume=1_000,
            bid_count=1,
            bidders=1,
            min_bid=7199,
            median_bid=7199,
            max_bid=7199,
            successful_bidders=0,
            volume_sold=0,
            clearing_price=0,
            revenue=0,
            bid_to_cover_bp=10_000,
            covered_share_bp=0,
            hhi=0,
            cancelled=True,
            cancel_cause=CancelCause.BELOW_REFERENCE,
            reference_price=8000,  # the input of the test, published
        ),
    ]
    assert desk.holding(RESERVE) == (RESERVE_T, 0, 0)


def test_a_clearing_price_exactly_at_the_allowed_distance_stands(desk: Market) -> None:
    terms = reserve_sale(volume=1_000, price=7000, cancel_below_reference_bp=1_000)
    auction_id = announce_open(desk, terms)
    bid(desk, "A1", auction_id, 7200, 1_000)

    events = close(desk, auction_id)

    assert events[-1] == cleared(
        desk.ts,
        auction_id,
        terms,
        7000,
        bid_volume=1_000,
        bid_count=1,
        bidders=1,
        min_bid=7200,
        median_bid=7200,
        max_bid=7200,
        successful_bidders=1,
        volume_sold=1_000,
        clearing_price=7200,
        revenue=7_200_000,
        bid_to_cover_bp=10_000,
        covered_share_bp=10_000,
        hhi=10_000,
        reference_price=8000,
    )
