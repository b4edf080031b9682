"""docs/AUCTIONS.md "Announcement": what an announcement (or a one-way application) is checked against and
what the auctioneer freezes.

One test per rule, through the Exchange, comparing the exact events: each reason of
INVALID_AUCTION_TERMS (a refused announcement changes nothing: the state hash before and after),
the auctioneer's freezes and their refusals, TOO_MANY_AUCTIONS, one-way applications and their
approval. The purposes' defaults and the price rules: tests/test_auction_prices.py. The market:
tests/auction_desk.py.
"""

from __future__ import annotations

import msgspec
import pytest

from engine.config import AuctionRules
from engine.exchange import Exchange
from engine.messages import (
    AnnounceAuction,
    ApplyAuction,
    ApproveAuction,
    AuctionApplied,
    AuctionStatus,
    BidCap,
    CancelAuction,
    Command,
    MergeAccounts,
    Purpose,
    StartOfDay,
    TieBreak,
)
from engine.view import ExchangeView
from tests.auction_desk import (
    ALL_KINDS,
    CLOSES,
    COMMITMENT,
    DAY0,
    HOLDER_T,
    MARKET_SUPPLY_CAPS,
    RESERVE,
    RESERVE_T,
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
    one_way,
    reserve_sale,
    resolved,
)
from tests.conftest import DAY1, Market, assert_balanced
from tests.transfer_desk import refused

# ------------------------------------------------------------------------------ what is frozen


def test_a_reserve_sale_freezes_the_reserves_volume_and_publishes_its_resolved_terms(desk: Market) -> None:
    terms = reserve_sale(volume=100_000, price=4800, name="2026 market supply auction 1")

    events = announce(desk, terms)

    # Market supply: covered entities and institutions, 100,000 t and 50,000 t caps; the cut-off
    # at the close; the instrument's 1 t lot; a fixed floor has no k.
    published = resolved(
        terms,
        eligible_kinds=["covered_entity", "institution"],
        caps=MARKET_SUPPLY_CAPS,
        cutoff_at=CLOSES,
        bid_lot_t=1,
        vwap_k_bp=0,
    )
    assert events == [announced(desk.ts, 1, published, 4800)]
    assert events[0].frozen_quantity == 100_000
    assert desk.holding(RESERVE) == (RESERVE_T - 100_000, 100_000, 0)
    record = ExchangeView(desk.exchange).auction(1)
    assert record is not None
    assert (record.status, record.terms, record.price_limit, record.frozen_quantity) == (
        AuctionStatus.ANNOUNCED,
        published,
        4800,
        100_000,
    )


def test_a_buyback_freezes_the_treasurys_volume_times_the_ceiling(desk: Market) -> None:
    terms = buyback(volume=10_000, price=7000)

    events = announce(desk, terms)

    assert events == [announced(desk.ts, 1, resolved(terms, eligible_kinds=ALL_KINDS, caps=[]), 7000)]
    assert events[0].frozen_cash == 70_000_000
    assert desk.cash(TREASURY) == (TREASURY_CASH - 70_000_000, 70_000_000)


def test_a_budget_buyback_freezes_its_budget(desk: Market) -> None:
    terms = buyback(volume=0, budget=50_000_000, price=7000)

    events = announce(desk, terms)

    assert events == [announced(desk.ts, 1, resolved(terms), 7000)]
    assert events[0].frozen_cash == 50_000_000
    assert desk.cash(TREASURY) == (TREASURY_CASH - 50_000_000, 50_000_000)


def test_a_reserve_without_the_tonnes_is_refused(desk: Market) -> None:
    announce(desk, reserve_sale(volume=RESERVE_T - 1_000))

    refused(
        desk,
        AnnounceAuction(terms=reserve_sale(volume=1_001)),
        f"INSUFFICIENT_HOLDINGS: instrument={SHEA} required=1001 available=1000",
    )
    assert [e.auction_id for e in announce(desk, reserve_sale(volume=1_000))] == [2]  # the refusal took no id


def test_a_treasury_without_the_cash_is_refused(desk: Market) -> None:
    refused(
        desk,
        AnnounceAuction(terms=buyback(volume=1_000_000, price=7000)),
        f"INSUFFICIENT_FUNDS: required=7000000000 available={TREASURY_CASH}",
    )
    refused(
        desk,
        AnnounceAuction(terms=buyback(volume=0, budget=TREASURY_CASH + 1)),
        f"INSUFFICIENT_FUNDS: required={TREASURY_CASH + 1} available={TREASURY_CASH}",
    )


def test_a_one_way_application_freezes_the_sellers_tonnes_and_approval_announces_it(desk: Market) -> None:
    terms = one_way(volume=100_000, price=7200, tie_break=TieBreak.RANDOM)

    applied = desk.send(ApplyAuction(account="A1", terms=terms))
    approved = desk.send(ApproveAuction(auction_id=1, seed_commitment=COMMITMENT))

    assert applied == [
        AuctionApplied(ts_event=desk.ts - 1, auction_id=1, account="A1", terms=resolved(terms), frozen_quantity=100_000)
    ]
    # The one-way band: bids at most the previous close (80.00) + 10%.
    assert approved == [announced(desk.ts, 1, resolved(terms, seed_commitment=COMMITMENT), 7200, bid_ceiling=8800)]
    assert desk.holding("A1") == (HOLDER_T - 100_000, 100_000, 0)


def test_a_one_way_seller_without_the_tonnes_is_refused(desk: Market) -> None:
    refused(
        desk,
        ApplyAuction(account="A3", terms=one_way(seller="A3")),
        f"INSUFFICIENT_HOLDINGS: instrument={SHEA} required=100000 available=0",
    )


def test_at_most_max_live_auctions_are_announced_open_or_closed(book_kind: str) -> None:
    market = auction_market(book_kind, auction_config(auction=AuctionRules(max_live_auctions=2)))
    announce(market, reserve_sale(volume=1_000))
    announce(market, reserve_sale(volume=1_000))

    refused(market, AnnounceAuction(terms=reserve_sale(volume=1_000)), "TOO_MANY_AUCTIONS: live=2 max=2")
    market.send(CancelAuction(auction_id=1))  # a finished auction no longer counts
    assert [e.auction_id for e in announce(market, reserve_sale(volume=1_000))] == [3]
    assert_balanced(market)


def test_applications_are_counted_apart_in_all_and_per_account(book_kind: str) -> None:
    rules = AuctionRules(max_live_auctions=1, max_live_applications=2, max_applications_per_account=1)
    market = auction_market(book_kind, auction_config(auction=rules))
    market.send(ApplyAuction(account="A1", terms=one_way()))

    refused(market, ApplyAuction(account="A1", terms=one_way()), "TOO_MANY_AUCTIONS: account=A1 live=1 max=1")
    market.send(ApplyAuction(account="A2", terms=one_way(seller="A2")))
    refused(market, ApplyAuction(account="B1", terms=one_way(seller="B1")), "TOO_MANY_AUCTIONS: live=2 max=2")
    # Members' applications never keep the regulator from announcing its own.
    assert [e.auction_id for e in announce(market, reserve_sale(volume=1_000))] == [3]
    assert_balanced(market)


# ------------------------------------------------------------------------------ the terms' checks


def _merged_a4(book_kind: str) -> Market:
    market = Market(Exchange(auction_config(), book=book_kind))
    market.send(MergeAccounts(account="A4", successor="A3"))
    market.send(StartOfDay(trading_day=DAY1))
    return market


TERMS_REFUSED: list[tuple[str, Command, str]] = [
    (
        "unknown instrument",
        AnnounceAuction(terms=reserve_sale(instrument="NOPE")),
        "UNKNOWN_INSTRUMENT: instrument=NOPE",
    ),
    (
        "unknown auctioneer",
        AnnounceAuction(terms=msgspec.structs.replace(reserve_sale(), auctioneer="NOBODY")),
        "term=auctioneer reason=unknown",
    ),
    (
        "a one-way sale announced",
        AnnounceAuction(terms=one_way()),
        "term=kind reason=one_way_by_application_only",
    ),
    (
        "a reserve sale applied for",
        ApplyAuction(account="A1", terms=msgspec.structs.replace(reserve_sale(), auctioneer="A1")),
        "term=kind reason=only_one_way_by_application",
    ),
    (
        "another's tonnes applied for",
        ApplyAuction(account="A2", terms=one_way(seller="A1")),
        "term=auctioneer reason=not_the_applicant",
    ),
    (
        "a prohibited seller",
        ApplyAuction(account="STAFF", terms=one_way(seller="STAFF")),
        "term=auctioneer reason=prohibited",
    ),
    (
        "a system account's one-way sale",
        ApplyAuction(account=RESERVE, terms=one_way(seller=RESERVE)),
        "term=auctioneer reason=reserve",
    ),
    (
        "a reserve sale by a trading account",
        AnnounceAuction(terms=msgspec.structs.replace(reserve_sale(), auctioneer="A1")),
        "term=auctioneer reason=covered_entity_not_reserve",
    ),
    (
        "a buyback by the reserve",
        AnnounceAuction(terms=msgspec.structs.replace(buyback(), auctioneer=RESERVE)),
        "term=auctioneer reason=reserve_not_treasury",
    ),
    (
        "a reserve sale without a purpose",
        AnnounceAuction(terms=reserve_sale(purpose=Purpose.NONE)),
        "term=purpose reason=compliance_or_market_supply",
    ),
    (
        "a buyback with a purpose",
        AnnounceAuction(terms=buyback(purpose=Purpose.COMPLIANCE)),
        "term=purpose reason=reserve_sales_only",
    ),
    (
        "a bid lot off the instrument's lot",
        AnnounceAuction(terms=reserve_sale(instrument=T5, price=7775, bid_lot_t=15)),
        "term=bid_lot_t reason=not_a_multiple_of_10",
    ),
    (
        "a buyback with a volume and a budget",
        AnnounceAuction(terms=buyback(volume=10_000, budget=1)),
        "term=volume reason=volume_or_budget",
    ),
    (
        "a buyback with neither",
        AnnounceAuction(terms=buyback(volume=0)),
        "term=volume reason=volume_or_budget",
    ),
    ("a sale with a budget", AnnounceAuction(terms=reserve_sale(budget=1)), "term=budget reason=buybacks_only"),
    ("a sale of nothing", AnnounceAuction(terms=reserve_sale(volume=0)), "term=volume reason=zero"),
    (
        "a volume off the bid lot",
        AnnounceAuction(terms=reserve_sale(instrument=T5, price=7775, volume=1_005)),
        "term=volume reason=not_a_multiple_of_10",
    ),
    (
        "a one-way sale below 100,000 t",
        ApplyAuction(account="A1", terms=one_way(volume=99_999)),
        "term=volume reason=below_one_way_minimum volume=99999 min=100000",
    ),
    (
        "a window that closes when it opens",
        AnnounceAuction(terms=reserve_sale(opens_at=CLOSES, closes_at=CLOSES)),
        "term=closes_at reason=not_after_opens_at",
    ),
    (
        "a window without an opening",
        AnnounceAuction(terms=reserve_sale(opens_at=0)),
        "term=closes_at reason=not_after_opens_at",
    ),
    (
        "a cut-off after the close",
        AnnounceAuction(terms=reserve_sale(cutoff_at=CLOSES + 1)),
        "term=cutoff_at reason=outside_window",
    ),
    (
        "a cut-off at the opening",
        AnnounceAuction(terms=reserve_sale(opens_at=5, cutoff_at=5)),
        "term=cutoff_at reason=outside_window",
    ),
    (
        "a window already over",
        AnnounceAuction(terms=reserve_sale(opens_at=1, closes_at=2)),
        "term=closes_at reason=in_the_past",
    ),
    (
        "a cap off the tick",
        AnnounceAuction(terms=reserve_sale(instrument=T5, price=0, vwap_from=DAY0, vwap_to=DAY0, price_cap=7777)),
        "term=price_cap reason=not_on_tick_5",
    ),
    (
        "a fixed price off the tick",
        AnnounceAuction(terms=reserve_sale(instrument=T5, price=7777)),
        "term=price reason=not_on_tick_5",
    ),
    (
        "a fixed price with a VWAP rule",
        AnnounceAuction(terms=reserve_sale(price=4800, vwap_from=DAY0, vwap_to=DAY0)),
        "term=price reason=fixed_price_and_vwap_rule",
    ),
    (
        "a fixed price with a k",
        AnnounceAuction(terms=reserve_sale(price=4800, vwap_k_bp=12_000)),
        "term=price reason=fixed_price_and_vwap_rule",
    ),
    (
        "no price and no window",
        AnnounceAuction(terms=reserve_sale(price=0)),
        "term=vwap_from reason=window_needed",
    ),
    (
        "a window that ends before it starts",
        AnnounceAuction(terms=reserve_sale(price=0, vwap_from=DAY0, vwap_to=20261119)),
        "term=vwap_from reason=window_needed",
    ),
    (
        "a one-way floor below the previous close - 10%",
        ApplyAuction(account="A1", terms=one_way(price=7199)),
        "term=price reason=below_one_way_floor price=7199 lower=7200",
    ),
    (
        "a one-way floor above the bid ceiling",
        ApplyAuction(account="A1", terms=one_way(price=8801)),
        "term=price reason=above_bid_ceiling price=8801 upper=8800",
    ),
    (
        "nobody eligible",
        AnnounceAuction(terms=reserve_sale(eligible_kinds=[])),
        "term=eligible_kinds reason=empty",
    ),
    (
        "a system kind eligible",
        AnnounceAuction(terms=reserve_sale(eligible_kinds=["covered_entity", "reserve"])),
        "term=eligible_kinds reason=reserve_cannot_bid",
    ),
    (
        "a kind capped twice",
        AnnounceAuction(
            terms=reserve_sale(caps=[BidCap(kind="institution", max_t=1), BidCap(kind="institution", max_bp=1)])
        ),
        "term=caps reason=kind_twice",
    ),
    (
        "a system kind capped",
        AnnounceAuction(terms=reserve_sale(caps=[BidCap(kind="treasury", max_t=1)])),
        "term=caps reason=treasury_cannot_bid",
    ),
    (
        "a cap above 100%",
        AnnounceAuction(terms=reserve_sale(caps=[BidCap(kind="institution", max_bp=10_001)])),
        "term=caps reason=max_bp_above_10000",
    ),
    (
        "a share of no volume",
        AnnounceAuction(terms=buyback(volume=0, budget=1_000_000, caps=[BidCap(kind="institution", max_bp=2_500)])),
        "term=caps reason=max_bp_without_volume",
    ),
    (
        "a cancellation threshold of 100%",
        AnnounceAuction(terms=reserve_sale(cancel_below_reference_bp=10_000)),
        "term=cancel_below_reference_bp reason=not_below_10000",
    ),
    (
        "a commitment not in lowercase hex",
        AnnounceAuction(terms=reserve_sale(tie_break=TieBreak.RANDOM, seed_commitment=COMMITMENT.upper())),
        "term=seed_commitment reason=not_64_lowercase_hex",
    ),
    (
        "a commitment of the wrong length",
        AnnounceAuction(terms=reserve_sale(seed_commitment=COMMITMENT[:-1])),
        "term=seed_commitment reason=not_64_lowercase_hex",
    ),
    (
        "a pro-rata tie-break without a commitment",
        AnnounceAuction(terms=reserve_sale(tie_break=TieBreak.PRO_RATA)),
        "term=seed_commitment reason=needed_for_pro_rata",
    ),
    (
        "a random tie-break without a commitment",
        AnnounceAuction(terms=buyback(tie_break=TieBreak.RANDOM)),
        "term=seed_commitment reason=needed_for_random",
    ),
]


@pytest.mark.parametrize(("command", "text"), [c[1:] for c in TERMS_REFUSED], ids=[c[0] for c in TERMS_REFUSED])
def test_terms_that_break_a_rule_are_refused_naming_the_term_and_the_reason(
    desk: Market, command: Command, text: str
) -> None:
    load(desk, T5, figures(DAY0, 10, 77_750, close=7775))  # a window a T5 cap could apply to

    refused(desk, command, text if text.startswith("UNKNOWN_") else f"INVALID_AUCTION_TERMS: {text}")


def test_a_closed_account_cannot_be_an_auctioneer(book_kind: str) -> None:
    market = _merged_a4(book_kind)

    refused(
        market,
        ApplyAuction(account="A4", terms=one_way(seller="A4")),
        "INVALID_AUCTION_TERMS: term=auctioneer reason=closed",
    )


def test_an_application_needs_no_commitment_until_its_approval(desk: Market) -> None:
    terms = one_way(tie_break=TieBreak.PRO_RATA)
    assert isinstance(desk.send(ApplyAuction(account="A1", terms=terms))[0], AuctionApplied)

    refused(
        desk,
        ApproveAuction(auction_id=1),
        "INVALID_AUCTION_TERMS: auction_id=1 term=seed_commitment reason=needed_for_pro_rata",
    )
    assert desk.send(ApproveAuction(auction_id=1, seed_commitment=COMMITMENT)) == [
        announced(desk.ts, 1, resolved(terms, seed_commitment=COMMITMENT), 7200, bid_ceiling=8800)
    ]
