"""The exchange's own auctions, reproduced with bids that fit the published facts (RULES.md §3).

- 2014-06-30: 580,000 t offered at a floor of 48.00; 7,220 t sold at 48.00.
- 2019-11-29: 2,000,000 t offered at a floor of 48.00; three bidders; 73,421 t sold at 48.00, for
  CNY 3,524,208.

Both were compliance auctions (covered entities only) with a uniform price. The published facts
fix the volume offered, the floor, the bidders (2019), the volume sold, the price and the
revenue; the individual bids are not public, so the tests choose bids that fit them, and assert
every field of ``AuctionCleared`` exactly. The 2014 floor is reproduced as the compliance rule
computes it: 1.2 × a VWAP of 40.00 loaded for the weeks before; the 2019 floor is fixed.
"""

from __future__ import annotations

from engine.config import Account
from engine.messages import DayFigures, DepositCash, LoadDailyFigures, Purpose
from engine.view import ExchangeView, PublishedBid
from tests.auction_desk import (
    RESERVE,
    RESERVE_T,
    SHEA,
    TREASURY,
    TREASURY_CASH,
    allocated,
    announce_open,
    auction_config,
    auction_market,
    bid,
    cleared,
    close,
    reserve_sale,
    resolved,
    settled,
)
from tests.conftest import Market, assert_balanced


def history_market(book_kind: str) -> Market:
    """The auction market with a third covered entity, C1 (member M1), funded like the other bidders."""
    base = auction_config()
    config = auction_config(accounts=[*base.accounts, Account(id="C1", member="M1", kind="covered_entity")])
    market = auction_market(book_kind, config)
    market.send(DepositCash(account="C1", amount=100_000_000))
    market.events.clear()
    return market


def test_2014_06_30_580000_t_offered_at_48_and_7220_t_sold_at_48(book_kind: str) -> None:
    market = history_market(book_kind)
    # June 2014 before the auction: 20,000 t at a VWAP of 40.00; 1.2 × 40.00 = 48.00.
    june = [
        DayFigures(trading_day=20140603, volume=10_000, turnover=40_100_000, close=4010),
        DayFigures(trading_day=20140604, volume=10_000, turnover=39_900_000, close=3990),
    ]
    market.send(LoadDailyFigures(instrument=SHEA, days=june))
    terms = reserve_sale(volume=580_000, price=0, purpose=Purpose.COMPLIANCE, vwap_from=20140603, vwap_to=20140627)
    auction_id = announce_open(market, terms)
    bid(market, "A1", auction_id, 4800, 5_000)
    bid(market, "B1", auction_id, 4800, 2_220)

    events = close(market, auction_id)

    assert events[-1] == cleared(
        market.ts,
        auction_id,
        terms,
        4800,
        bid_volume=7_220,
        bid_count=2,
        bidders=2,
        successful_bidders=2,
        volume_sold=7_220,
        clearing_price=4800,
        revenue=34_656_000,  # CNY 346,560.00
        bid_to_cover_bp=124,  # 7,220 / 580,000 = 1.24%
        min_bid=4800,
        median_bid=4800,
        max_bid=4800,
        covered_share_bp=10_000,
        hhi=5_741,  # (5,000² + 2,220²) / 7,220²
    )
    record = ExchangeView(market.exchange).auction(auction_id)
    assert record is not None and (record.price_limit, record.vwap) == (4800, 4000)
    assert record.terms == resolved(terms, vwap_k_bp=12_000)
    # Undersubscribed: the unsold 572,780 t stay in the reserve; the winners' tonnes are surrender-only.
    assert market.holding(RESERVE) == (RESERVE_T - 7_220, 0, 0)
    assert market.cash(TREASURY) == (TREASURY_CASH + 34_656_000, 0)
    ledger = market.exchange.ledger
    assert (ledger.holding("A1", SHEA).compliance, ledger.holding("B1", SHEA).compliance) == (5_000, 2_220)
    assert_balanced(market)


def test_2019_11_29_2000000_t_offered_three_bidders_73421_t_sold_at_48_for_cny_3524208(book_kind: str) -> None:
    market = history_market(book_kind)
    terms = reserve_sale(volume=2_000_000, price=4800, purpose=Purpose.COMPLIANCE)
    auction_id = announce_open(market, terms)
    bid(market, "A1", auction_id, 4800, 40_000)
    bid(market, "B1", auction_id, 4850, 20_000)
    bid(market, "C1", auction_id, 4800, 3_421)
    bid(market, "A1", auction_id, 4900, 10_000)

    events = close(market, auction_id)

    # Every bid fills (undersubscribed), at the lowest bid: 48.00, whatever each bid.
    ts = market.ts
    assert events[1:] == [
        allocated(ts, 1, auction_id, "A1", (4800, 40_000), (40_000, 4800), compliance_only=True),
        allocated(ts, 2, auction_id, "B1", (4850, 20_000), (20_000, 4800), compliance_only=True),
        allocated(ts, 3, auction_id, "C1", (4800, 3_421), (3_421, 4800), compliance_only=True),
        allocated(ts, 4, auction_id, "A1", (4900, 10_000), (10_000, 4800), compliance_only=True),
        settled(ts, auction_id, terms, 4800, 73_421, 352_420_800),  # 1,926,579 t back to the reserve
        cleared(
            ts,
            auction_id,
            terms,
            4800,
            bid_volume=73_421,
            bid_count=4,
            bidders=3,
            successful_bidders=3,
            volume_sold=73_421,
            clearing_price=4800,
            revenue=352_420_800,  # CNY 3,524,208.00
            bid_to_cover_bp=367,  # 73,421 / 2,000,000 = 3.67%
            min_bid=4800,
            median_bid=4825,  # (48.00 + 48.50) / 2
            max_bid=4900,
            covered_share_bp=10_000,
            hhi=5_401,  # (50,000² + 20,000² + 3,421²) / 73,421²
        ),
    ]
    assert market.holding(RESERVE) == (RESERVE_T - 73_421, 0, 0)
    assert market.cash(TREASURY) == (TREASURY_CASH + 352_420_800, 0)
    assert ExchangeView(market.exchange).published_bids(auction_id) == [
        PublishedBid(bidder=1, time_rank=1, price=4800, quantity=40_000, allocated=40_000, allocation_price=4800),
        PublishedBid(bidder=2, time_rank=2, price=4850, quantity=20_000, allocated=20_000, allocation_price=4800),
        PublishedBid(bidder=3, time_rank=3, price=4800, quantity=3_421, allocated=3_421, allocation_price=4800),
        PublishedBid(bidder=1, time_rank=4, price=4900, quantity=10_000, allocated=10_000, allocation_price=4800),
    ]
    assert_balanced(market)
