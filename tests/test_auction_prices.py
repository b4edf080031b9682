"""docs/AUCTIONS.md "Announcement" and "Price rules": the purposes' defaults and the price limit.

One test per rule, through the Exchange, comparing the exact announcement: the compliance and
market-supply defaults (k, eligibility, caps) and announced terms replacing them; k × the VWAP of
listing trades over a window of earlier days (on both books), of figures loaded with
``LoadDailyFigures`` and of both together; the cap; the rounding half-up to the tick;
AUCTION_NO_REFERENCE_PRICE; the checks of loaded figures and the days kept. The market:
tests/auction_desk.py.
"""

from __future__ import annotations

import pytest

from engine.config import AuctionRules
from engine.messages import AnnounceAuction, BidCap, LoadDailyFigures, Purpose, Session, StartOfDay
from tests.auction_desk import (
    DAY0,
    SHEA,
    T5,
    TREASURY,
    TREASURY_CASH,
    announce,
    announced,
    auction_config,
    auction_market,
    buyback,
    figures,
    load,
    reserve_sale,
    resolved,
)
from tests.conftest import DAY1, DAY2, Market, assert_balanced
from tests.transfer_desk import refused

WEEK_BEFORE = [20261116, 20261117, 20261118, 20261119, DAY0]
# Two days before go-live: 1,000 t at 80.00 and 2,000 t at 80.11: VWAP 24,022,000 / 3,000 = 80.07333...
BEFORE_GO_LIVE = (figures(20261119, 1_000, 8_000_000), figures(DAY0, 2_000, 16_022_000, close=8011))


# ------------------------------------------------------------------------------ purposes and price rules


def test_a_compliance_sale_defaults_to_k_1_2_and_covered_entities_only(desk: Market) -> None:
    load(desk, SHEA, *BEFORE_GO_LIVE)
    terms = reserve_sale(purpose=Purpose.COMPLIANCE, price=0, vwap_from=20261119, vwap_to=DAY0)

    events = announce(desk, terms)

    # 1.2 × 24,022,000 / 3,000 = 9,608.8 -> 96.09; the VWAP itself, 8,007.33 -> 80.07.
    published = resolved(terms, vwap_k_bp=12_000, eligible_kinds=["covered_entity"], caps=[])
    assert events == [announced(desk.ts, 1, published, 9609, vwap=8007)]


def test_a_market_supply_sale_defaults_to_k_1_and_caps_of_100000_and_50000_t(desk: Market) -> None:
    load(desk, SHEA, *BEFORE_GO_LIVE)
    terms = reserve_sale(purpose=Purpose.MARKET_SUPPLY, price=0, vwap_from=20261119, vwap_to=DAY0)

    events = announce(desk, terms)

    published = resolved(
        terms,
        vwap_k_bp=10_000,
        eligible_kinds=["covered_entity", "institution"],
        caps=[BidCap(kind="covered_entity", max_t=100_000), BidCap(kind="institution", max_t=50_000)],
    )
    assert events == [announced(desk.ts, 1, published, 8007, vwap=8007)]


def test_announced_eligibility_caps_and_k_replace_the_purposes_defaults(desk: Market) -> None:
    load(desk, SHEA, *BEFORE_GO_LIVE)
    caps = [BidCap(kind="institution", max_bp=400), BidCap(kind="covered_entity", max_bp=2_500)]
    terms = reserve_sale(
        purpose=Purpose.COMPLIANCE,
        price=0,
        vwap_from=20261119,
        vwap_to=DAY0,
        vwap_k_bp=11_000,
        eligible_kinds=["institution", "covered_entity", "institution"],
        caps=caps,
    )

    events = announce(desk, terms)

    # 1.1 × 8,007.333 = 8,808.07 -> 88.08; kinds sorted once each, caps sorted by kind.
    published = resolved(
        terms, eligible_kinds=["covered_entity", "institution"], caps=[caps[1], caps[0]], vwap_k_bp=11_000
    )
    assert events == [announced(desk.ts, 1, published, 8808, vwap=8007)]


def test_a_buybacks_ceiling_is_k_times_the_vwap_too(desk: Market) -> None:
    load(desk, SHEA, *BEFORE_GO_LIVE)
    terms = buyback(volume=1_000, price=0, vwap_from=20261119, vwap_to=DAY0, vwap_k_bp=9_000)

    events = announce(desk, terms)

    # 0.9 × 8,007.333 = 7,206.6 -> 72.07; the treasury freezes 1,000 t × 72.07.
    assert events == [announced(desk.ts, 1, resolved(terms), 7207, vwap=8007)]
    assert desk.cash(TREASURY) == (TREASURY_CASH - 7_207_000, 7_207_000)


def test_a_cap_limits_a_vwap_price(desk: Market) -> None:
    load(desk, SHEA, *BEFORE_GO_LIVE)
    terms = reserve_sale(purpose=Purpose.COMPLIANCE, price=0, vwap_from=20261119, vwap_to=DAY0, price_cap=9000)

    events = announce(desk, terms)

    assert events == [announced(desk.ts, 1, resolved(terms, vwap_k_bp=12_000), 9000, vwap=8007)]


def test_a_vwap_price_rounds_half_up_to_the_tick(desk: Market) -> None:
    # T5's tick is 5 fen. 77.775 is half-way between 77.75 and 77.80: up; 77.774 is not: down.
    load(desk, T5, figures(20261119, 100, 777_750, close=7775), figures(DAY0, 100, 777_740, close=7775))
    half = reserve_sale(instrument=T5, volume=1_000, price=0, vwap_from=20261119, vwap_to=20261119, vwap_k_bp=10_000)
    below = reserve_sale(instrument=T5, volume=1_000, price=0, vwap_from=DAY0, vwap_to=DAY0, vwap_k_bp=10_000)

    first, second = announce(desk, half), announce(desk, below)

    # The published VWAP rounds half-up to the fen: 7,777.5 -> 7,778; 7,777.4 -> 7,777.
    assert first == [announced(desk.ts - 1, 1, resolved(half), 7780, vwap=7778)]
    assert second == [announced(desk.ts, 2, resolved(below), 7775, vwap=7777)]


def test_a_vwap_window_without_listing_trades_has_no_reference_price(desk: Market) -> None:
    load(desk, SHEA, figures(20261118, 0, 0, close=8000), *BEFORE_GO_LIVE)

    refused(
        desk,
        AnnounceAuction(terms=reserve_sale(price=0, vwap_from=20261116, vwap_to=20261118)),
        f"AUCTION_NO_REFERENCE_PRICE: instrument={SHEA} vwap_from=20261116 vwap_to=20261118",
    )
    refused(
        desk,
        AnnounceAuction(terms=reserve_sale(instrument=T5, price=0, vwap_from=20261116, vwap_to=DAY0)),
        f"AUCTION_NO_REFERENCE_PRICE: instrument={T5} vwap_from=20261116 vwap_to={DAY0}",
    )


def test_a_vwap_price_that_rounds_to_zero_is_refused(desk: Market) -> None:
    load(desk, SHEA, figures(DAY0, 1, 1))

    refused(
        desk,
        AnnounceAuction(terms=reserve_sale(price=0, vwap_from=DAY0, vwap_to=DAY0, vwap_k_bp=1)),
        "INVALID_AUCTION_TERMS: term=price reason=zero",
    )


# ------------------------------------------------------------------------------ the figures kept


def test_loaded_figures_must_ascend_add_up_and_close_on_the_tick(desk: Market) -> None:
    cases = [
        (LoadDailyFigures(instrument="NOPE", days=[figures(DAY0, 1, 8000)]), "UNKNOWN_INSTRUMENT: instrument=NOPE"),
        (LoadDailyFigures(instrument=SHEA, days=[]), "INVALID_DAILY_FIGURES: field=days reason=empty"),
        (
            LoadDailyFigures(instrument=SHEA, days=[figures(DAY0, 1, 8000), figures(20261119, 1, 8000)]),
            "INVALID_DAILY_FIGURES: field=trading_day reason=not_ascending",
        ),
        (
            LoadDailyFigures(instrument=SHEA, days=[figures(DAY0, 1, 8000), figures(DAY0, 1, 8000)]),
            "INVALID_DAILY_FIGURES: field=trading_day reason=not_ascending",
        ),
        (
            LoadDailyFigures(instrument=SHEA, days=[figures(DAY0, 10, 0)]),
            f"INVALID_DAILY_FIGURES: field=turnover reason=inconsistent_on_{DAY0}",
        ),
        (
            LoadDailyFigures(instrument=SHEA, days=[figures(DAY0, 0, 100)]),
            f"INVALID_DAILY_FIGURES: field=turnover reason=inconsistent_on_{DAY0}",
        ),
        (
            LoadDailyFigures(instrument=SHEA, days=[figures(DAY0, 10, 9)]),  # below one fen a tonne
            f"INVALID_DAILY_FIGURES: field=turnover reason=inconsistent_on_{DAY0}",
        ),
        (
            LoadDailyFigures(instrument=T5, days=[figures(DAY0, 10, 77_770, close=7777)]),
            f"INVALID_DAILY_FIGURES: field=close reason=not_on_tick_on_{DAY0}",
        ),
        (
            LoadDailyFigures(instrument=SHEA, days=[figures(DAY0, 10, 80_000, close=0)]),
            f"INVALID_DAILY_FIGURES: field=close reason=not_on_tick_on_{DAY0}",
        ),
    ]
    for command, text in cases:
        refused(desk, command, text)


def test_a_day_loaded_again_replaces_its_figures(desk: Market) -> None:
    load(desk, SHEA, *BEFORE_GO_LIVE)
    load(desk, SHEA, figures(DAY0, 1_000, 9_000_000, close=9000))

    events = announce(desk, reserve_sale(price=0, vwap_from=20261119, vwap_to=DAY0))

    # (8,000,000 + 9,000,000) / 2,000 = 85.00: DAY0's first figures are gone.
    assert (events[0].price_limit, events[0].vwap) == (8500, 8500)


def test_only_the_last_history_days_are_kept(book_kind: str) -> None:
    assert AuctionRules().history_days == 250  # the default: about a year of trading days
    market = auction_market(book_kind, auction_config(auction=AuctionRules(history_days=3)))
    load(market, SHEA, *(figures(day, 100, 800_000 + i * 10_000) for i, day in enumerate(WEEK_BEFORE)))

    refused(
        market,
        AnnounceAuction(terms=reserve_sale(price=0, vwap_from=20261116, vwap_to=20261117)),
        f"AUCTION_NO_REFERENCE_PRICE: instrument={SHEA} vwap_from=20261116 vwap_to=20261117",
    )
    events = announce(market, reserve_sale(price=0, vwap_from=20261116, vwap_to=DAY0))
    # The three kept: 82.00, 83.00 and 84.00 a tonne, 100 t each.
    assert (events[0].price_limit, events[0].vwap) == (8300, 8300)
    assert_balanced(market)


@pytest.mark.per_book
def test_the_vwap_comes_from_the_listing_trades_of_earlier_days(book_kind: str) -> None:
    market = auction_market(book_kind)
    market.sell("A1", 1_000, 8000)
    market.buy("A3", 1_000, 8000)
    market.sell("A2", 500, 8101)
    market.buy("A4", 500, 8101)
    market.close_day(DAY1)
    market.send(StartOfDay(trading_day=DAY2))
    market.session(Session.MORNING)
    market.sell("A1", 100, 8800)  # today's trade: not in any window until today is over
    market.buy("A3", 100, 8800)
    terms = reserve_sale(purpose=Purpose.COMPLIANCE, price=0, vwap_from=DAY1, vwap_to=DAY2)

    events = announce(market, terms)

    # DAY1: (8,000,000 + 4,050,500) / 1,500 = 8,033.67 -> VWAP 80.34; × 1.2 = 9,640.4 -> 96.40.
    assert events == [announced(market.ts, 1, resolved(terms, vwap_k_bp=12_000), 9640, vwap=8034)]
    # Today's trades are in no window until the day is over.
    refused(
        market,
        AnnounceAuction(terms=reserve_sale(price=0, vwap_from=DAY2, vwap_to=DAY2)),
        f"AUCTION_NO_REFERENCE_PRICE: instrument={SHEA} vwap_from={DAY2} vwap_to={DAY2}",
    )
    market.close_day(DAY2)
    later = announce(market, reserve_sale(volume=1_000, price=0, vwap_from=DAY2, vwap_to=DAY2))
    assert (later[0].price_limit, later[0].vwap) == (8800, 8800)
    assert_balanced(market)


@pytest.mark.per_book
def test_loaded_days_and_listing_days_make_one_window(book_kind: str) -> None:
    market = auction_market(book_kind)
    load(market, SHEA, *BEFORE_GO_LIVE)
    market.sell("A1", 1_000, 8100)
    market.buy("A3", 1_000, 8100)
    market.close_day(DAY1)
    market.send(StartOfDay(trading_day=DAY2))

    events = announce(market, reserve_sale(price=0, vwap_from=20261119, vwap_to=DAY1))

    # (24,022,000 + 8,100,000) / 4,000 = 8,030.5 -> 80.31 (half-up).
    assert (events[0].price_limit, events[0].vwap) == (8031, 8031)
    assert_balanced(market)
