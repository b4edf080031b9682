"""docs/AUCTIONS.md "Bids": submitting a sealed bid, each check with its reject.

One test per rule, through the Exchange, comparing the exact events; every refused bid changes
nothing (the state hash before and after). The checks, in order: the auction (known, open, before
its cut-off by exchange time), halts, the bidder (eligible, not the auctioneer, not prohibited),
the client bid id, the number of bids, lot, price, tick, floor or ceiling, the cap over the
bidder's live bids, the position limit and the funds (a buyback's offer: the tonnes). Amending and
withdrawing: tests/test_auction_amend.py. The market: tests/auction_desk.py (auction 1 is a
market-supply sale of 100,000 t at 48.00).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.config import AuctionRules
from engine.messages import (
    AmendBid,
    ApplyAuction,
    BidCap,
    HaltInstrument,
    HaltMarket,
    MergeAccounts,
    Purpose,
    ResumeMarket,
    TieBreak,
    WithdrawBid,
)
from engine.view import BidRecord, ExchangeView
from tests.auction_desk import (
    ALL_KINDS,
    BIDDER_CASH,
    COMMITMENT,
    HOLDER_T,
    SHEA,
    T5,
    accepted,
    announce,
    announce_open,
    apply_approve_open,
    auction_config,
    auction_market,
    bid,
    bid_command,
    buyback,
    close,
    one_way,
    reserve_sale,
    withdraw,
)
from tests.conftest import Market, assert_balanced
from tests.transfer_desk import refused

SALE = reserve_sale(volume=100_000, price=4800)  # market supply: covered entities 100,000 t, institutions 50,000 t
OPEN_TO_ALL = reserve_sale(volume=2_000_000, price=100, eligible_kinds=ALL_KINDS, caps=[])


@pytest.fixture
def desk(book_kind: str) -> Iterator[Market]:
    market = auction_market(book_kind)
    assert announce_open(market, SALE) == 1
    yield market
    market.exchange.validate_internal_state()
    assert_balanced(market)


# ------------------------------------------------------------------------------ a bid


def test_a_bid_freezes_its_value_and_only_its_bidder_sees_it(desk: Market) -> None:
    first = bid_command("A1", 1, 5000, 1_000, "mine")
    second = bid_command("A2", 1, 4800, 500, "mine")

    events = desk.send(first), desk.send(second)

    assert events == ([accepted(desk.ts - 1, 1, first, 1)], [accepted(desk.ts, 2, second, 2)])
    assert desk.cash("A1") == (BIDDER_CASH - 5_000_000, 5_000_000)
    assert desk.cash("A2") == (BIDDER_CASH - 2_400_000, 2_400_000)
    view = ExchangeView(desk.exchange)
    record = BidRecord(
        bid_id=1,
        auction_id=1,
        account="A1",
        client_bid_id="mine",
        price=5000,
        quantity=1_000,
        time_rank=1,
        frozen_cash=5_000_000,
        frozen_quantity=0,
        live=True,
    )
    assert view.bids(1, "A1") == [record]
    assert [b.bid_id for b in view.bids(accounts=["A1", "A2"])] == [1, 2]
    assert view.bids(1, "A3") == []


def test_the_bids_of_some_accounts_are_those_of_every_bid_kept_filtered(desk: Market) -> None:
    """A member's ``ListBids`` reads its accounts' bids from the mechanism's index of the bids each
    account sent, not a walk of every bid; the same records, by bid id, withdrawn ones included."""
    first, second = announce_open(desk, SALE), announce_open(desk, reserve_sale(volume=50_000, price=4800))
    for n in range(12):
        placed = bid(desk, ("A1", "A2", "B1")[n % 3], (first, second)[n % 2], 4800 + n, 10, f"b{n}")
        if n % 5 == 0:
            withdraw(desk, ("A1", "A2", "B1")[n % 3], placed)
    view = ExchangeView(desk.exchange)
    every = view.bids()
    assert len(every) == 12 and any(not b.live for b in every)

    for auction_id in (None, first, second, 99):
        for accounts in (["A1"], ["A2", "B1"], {"A1", "A2", "B1"}, ["NOBODY"], []):
            wanted = [b for b in every if (auction_id is None or b.auction_id == auction_id) and b.account in accounts]
            assert view.bids(auction_id, accounts) == wanted, (auction_id, accounts)
    desk.exchange.validate_internal_state()  # the index agrees with the bids it was built from


def test_an_offer_in_a_buyback_freezes_its_tonnes(desk: Market) -> None:
    auction_id = announce_open(desk, buyback(volume=10_000, price=7000))
    offer = bid_command("A2", auction_id, 6900, 4_000)

    events = desk.send(offer)

    assert events == [accepted(desk.ts, 1, offer, 1, offer=True)]
    assert desk.holding("A2") == (HOLDER_T - 4_000, 4_000, 0)
    assert desk.cash("A2") == (BIDDER_CASH, 0)


def test_a_one_way_bid_freezes_the_fee_too(desk: Market) -> None:
    auction_id = apply_approve_open(desk, one_way(volume=100_000, price=7200))
    command = bid_command("A3", auction_id, 7500, 10_001)

    events = desk.send(command)

    # 10,001 × 75.00 = 750,075.00 CNY, and 0.10% of it, 750.075 -> 750.08 CNY (half-up).
    assert events == [accepted(desk.ts, 1, command, 1, ppm=1000)]
    assert events[0].frozen_cash == 75_007_500 + 75_008


# ------------------------------------------------------------------------------ the auction


def test_a_bid_for_an_unknown_auction_or_anothers_application_is_refused(desk: Market) -> None:
    desk.send(ApplyAuction(account="A1", terms=one_way()))  # auction 2, not yet approved

    refused(desk, bid_command("A3", 99, 4800, 1), "UNKNOWN_AUCTION: auction_id=99")
    refused(desk, bid_command("A3", 2, 7200, 1), "UNKNOWN_AUCTION: auction_id=2")
    refused(desk, bid_command("A1", 2, 7200, 1), "AUCTION_NOT_OPEN: auction_id=2 status=APPLIED")


def test_a_bid_before_the_opening_or_after_the_close_is_refused(desk: Market) -> None:
    announce(desk, reserve_sale(volume=1_000))
    waiting = announce_open(desk, reserve_sale(volume=1_000, tie_break=TieBreak.RANDOM, seed_commitment=COMMITMENT))
    bid(desk, "A1", waiting, 4800, 100)
    close(desk, waiting)

    refused(desk, bid_command("A1", 2, 4800, 1), "AUCTION_NOT_OPEN: auction_id=2 status=ANNOUNCED")
    refused(desk, bid_command("A1", waiting, 4800, 1), f"AUCTION_NOT_OPEN: auction_id={waiting} status=CLOSED")
    refused(desk, WithdrawBid(account="A1", bid_id=1), f"AUCTION_NOT_OPEN: bid_id=1 auction_id={waiting} status=CLOSED")
    close(desk, 1)  # a time tie-break clears at once
    refused(desk, bid_command("A1", 1, 4800, 1), "AUCTION_NOT_OPEN: auction_id=1 status=CLEARED")


def test_bids_stop_at_the_cut_off_by_exchange_time(desk: Market) -> None:
    cutoff = desk.ts + 10
    auction_id = announce_open(desk, reserve_sale(volume=1_000, cutoff_at=cutoff))
    first = bid(desk, "A1", auction_id, 4800, 100)
    desk.ts = cutoff - 2
    last = bid(desk, "A2", auction_id, 4800, 100)  # at cutoff − 1: still in time
    assert desk.ts == cutoff - 1

    refused(
        desk,
        bid_command("A3", auction_id, 4800, 100),
        f"AUCTION_CUTOFF_PASSED: auction_id={auction_id} cutoff_at={cutoff}",
    )
    refused(
        desk,
        AmendBid(account="A1", bid_id=first, price=4900, quantity=100),
        f"AUCTION_CUTOFF_PASSED: bid_id={first} auction_id={auction_id} cutoff_at={cutoff}",
    )
    refused(
        desk,
        WithdrawBid(account="A2", bid_id=last),
        f"AUCTION_CUTOFF_PASSED: bid_id={last} auction_id={auction_id} cutoff_at={cutoff}",
    )


def test_no_bid_or_amend_while_the_market_or_the_instrument_is_halted(desk: Market) -> None:
    mine = bid(desk, "A1", 1, 4800, 100)
    desk.send(HaltMarket(reason="drill"))

    refused(desk, bid_command("A2", 1, 4800, 100), "MARKET_HALTED: auction_id=1")
    refused(desk, AmendBid(account="A1", bid_id=mine, price=4900, quantity=100), f"MARKET_HALTED: bid_id={mine}")
    desk.send(ResumeMarket())
    desk.send(HaltInstrument(instrument=SHEA, reason="drill"))
    refused(desk, bid_command("A2", 1, 4800, 100), f"INSTRUMENT_HALTED: auction_id=1 instrument={SHEA}")
    announce_open(desk, reserve_sale(instrument=T5, volume=1_000, price=7775))  # another instrument: open
    assert bid(desk, "A2", 2, 7775, 100) == 2


# ------------------------------------------------------------------------------ the bidder


def test_only_the_eligible_kinds_may_bid(desk: Market) -> None:
    compliance = announce_open(desk, reserve_sale(volume=1_000, purpose=Purpose.COMPLIANCE))

    refused(desk, bid_command("A3", 1, 4800, 1), "BIDDER_NOT_ELIGIBLE: auction_id=1 account=A3 reason=individual")
    refused(
        desk, bid_command("TREASURY", 1, 4800, 1), "BIDDER_NOT_ELIGIBLE: auction_id=1 account=TREASURY reason=treasury"
    )
    refused(desk, bid_command("NOBODY", 1, 4800, 1), "BIDDER_NOT_ELIGIBLE: auction_id=1 account=NOBODY reason=unknown")
    refused(
        desk,
        bid_command("A2", compliance, 4800, 1),
        f"BIDDER_NOT_ELIGIBLE: auction_id={compliance} account=A2 reason=institution",
    )
    assert bid(desk, "B1", compliance, 4800, 1) == 1  # a covered entity
    assert bid(desk, "A2", 1, 4800, 1) == 2  # an institution in a market-supply sale


def test_the_auctioneer_cannot_bid_in_its_own_auction(desk: Market) -> None:
    auction_id = apply_approve_open(desk, one_way(seller="A1"))

    refused(
        desk,
        bid_command("A1", auction_id, 7200, 1),
        f"BIDDER_NOT_ELIGIBLE: auction_id={auction_id} account=A1 reason=auctioneer",
    )


def test_a_closed_account_cannot_bid(book_kind: str) -> None:
    market = auction_market(book_kind, before=[MergeAccounts(account="A4", successor="A3")])
    auction_id = announce_open(market, OPEN_TO_ALL)

    refused(
        market,
        bid_command("A4", auction_id, 100, 1),
        f"BIDDER_NOT_ELIGIBLE: auction_id={auction_id} account=A4 reason=closed",
    )
    assert_balanced(market)


def test_a_prohibited_participant_cannot_bid(desk: Market) -> None:
    auction_id = announce_open(desk, OPEN_TO_ALL)

    refused(
        desk, bid_command("STAFF", auction_id, 100, 1), f"PROHIBITED_PARTICIPANT: auction_id={auction_id} account=STAFF"
    )


# ------------------------------------------------------------------------------ the client bid id and counts


def test_a_client_bid_id_empty_or_longer_than_36_is_invalid(desk: Market) -> None:
    refused(desk, bid_command("A1", 1, 4800, 1, ""), "INVALID_BID_ID: auction_id=1 length=0 max=36")
    refused(desk, bid_command("A1", 1, 4800, 1, "x" * 37), "INVALID_BID_ID: auction_id=1 length=37 max=36")
    assert bid(desk, "A1", 1, 4800, 1, "x" * 36) == 1


def test_a_client_bid_id_is_unique_per_account_and_auction_withdrawn_or_not(desk: Market) -> None:
    mine = bid(desk, "A1", 1, 4800, 1, "b1")
    withdraw(desk, "A1", mine)

    refused(desk, bid_command("A1", 1, 4800, 1, "b1"), "DUPLICATE_BID_ID: auction_id=1 client_bid_id=b1")
    assert bid(desk, "A2", 1, 4800, 1, "b1") == 2  # another account
    other = announce_open(desk, reserve_sale(volume=1_000))
    assert bid(desk, "A1", other, 4800, 1, "b1") == 3  # another auction


def test_an_account_has_at_most_max_bids_per_account_live_bids(book_kind: str) -> None:
    market = auction_market(book_kind, auction_config(auction=AuctionRules(max_bids_per_account=2)))
    auction_id = announce_open(market, SALE)
    first = bid(market, "A1", auction_id, 4800, 1)
    bid(market, "A1", auction_id, 4900, 1)

    refused(
        market,
        bid_command("A1", auction_id, 5000, 1, "third"),
        f"TOO_MANY_BIDS: auction_id={auction_id} account=A1 max=2",
    )
    assert bid(market, "A2", auction_id, 5000, 1) == 3  # per account
    withdraw(market, "A1", first)
    assert bid(market, "A1", auction_id, 5000, 1, "third") == 4  # live ones count
    assert_balanced(market)


def test_an_account_sends_at_most_max_bids_sent_per_account_bids_withdrawn_ones_included(book_kind: str) -> None:
    """Bidding and withdrawing, one account cannot take the auction's room for bids from the others."""
    rules = AuctionRules(max_bids_per_account=1, max_bids_sent_per_account=3, max_bids_per_auction=5)
    market = auction_market(book_kind, auction_config(auction=rules))
    auction_id = announce_open(market, SALE)
    for n in range(3):
        withdraw(market, "A1", bid(market, "A1", auction_id, 4800, 1, f"b{n}"))

    refused(
        market,
        bid_command("A1", auction_id, 4800, 1, "b3"),
        f"TOO_MANY_BIDS: auction_id={auction_id} account=A1 sent=3 max=3",
    )
    assert bid(market, "A2", auction_id, 4800, 1) == 4  # the others still bid
    assert bid(market, "B1", auction_id, 4800, 1) == 5
    market.exchange.validate_internal_state()  # the count is rebuilt from the bids kept, and agrees


def test_without_max_bids_sent_per_account_an_account_may_bid_and_withdraw_up_to_the_auctions_room(
    book_kind: str,
) -> None:
    rules = AuctionRules(max_bids_per_account=1, max_bids_per_auction=4)
    assert rules.max_bids_sent_per_account == 0  # the engine's default: data directories recorded before it
    market = auction_market(book_kind, auction_config(auction=rules))
    auction_id = announce_open(market, SALE)
    for n in range(4):
        withdraw(market, "A1", bid(market, "A1", auction_id, 4800, 1, f"b{n}"))

    refused(market, bid_command("A2", auction_id, 4800, 1), f"TOO_MANY_BIDS: auction_id={auction_id} max=4")


def test_an_auction_takes_at_most_max_bids_per_auction_withdrawn_ones_included(book_kind: str) -> None:
    market = auction_market(book_kind, auction_config(auction=AuctionRules(max_bids_per_auction=2)))
    auction_id = announce_open(market, SALE)
    first = bid(market, "A1", auction_id, 4800, 1)
    bid(market, "A2", auction_id, 4800, 1)
    withdraw(market, "A1", first)

    refused(market, bid_command("B1", auction_id, 4800, 1), f"TOO_MANY_BIDS: auction_id={auction_id} max=2")
    assert_balanced(market)


# ------------------------------------------------------------------------------ lot, price, limits


def test_a_quantity_off_the_bid_lot_is_refused(desk: Market) -> None:
    t5 = announce_open(desk, reserve_sale(instrument=T5, volume=1_000, price=7775))
    lots = announce_open(desk, reserve_sale(volume=10_000, bid_lot_t=100))

    refused(desk, bid_command("A1", t5, 7775, 15), f"INVALID_LOT: auction_id={t5} quantity=15 lot=10")
    refused(desk, bid_command("A1", lots, 4800, 150), f"INVALID_LOT: auction_id={lots} quantity=150 lot=100")
    refused(desk, bid_command("A1", 1, 4800, 0), "INVALID_LOT: auction_id=1 quantity=0 lot=1")
    assert bid(desk, "A1", lots, 4800, 200) == 1


def test_a_price_not_positive_or_off_the_tick_is_refused(desk: Market) -> None:
    t5 = announce_open(desk, reserve_sale(instrument=T5, volume=1_000, price=7775))

    refused(desk, bid_command("A1", 1, 0, 1), "INVALID_PRICE: auction_id=1 price=0")
    refused(desk, bid_command("A1", t5, 7777, 10), f"INVALID_TICK: auction_id={t5} price=7777 tick=5")


def test_a_bid_below_the_floor_is_refused(desk: Market) -> None:
    refused(desk, bid_command("A1", 1, 4799, 1), "BID_BELOW_FLOOR: auction_id=1 price=4799 floor=4800")
    assert bid(desk, "A1", 1, 4800, 1) == 1  # the floor itself is a valid bid


def test_an_offer_above_a_buybacks_ceiling_is_refused(desk: Market) -> None:
    auction_id = announce_open(desk, buyback(volume=10_000, price=7000))

    refused(
        desk,
        bid_command("A2", auction_id, 7001, 1),
        f"BID_ABOVE_CEILING: auction_id={auction_id} price=7001 ceiling=7000",
    )
    assert bid(desk, "A2", auction_id, 7000, 1) == 1


def test_a_one_way_bid_is_between_the_floor_and_the_previous_close_plus_10_percent(desk: Market) -> None:
    auction_id = apply_approve_open(desk, one_way(price=7500))

    refused(
        desk, bid_command("A3", auction_id, 7499, 1), f"BID_BELOW_FLOOR: auction_id={auction_id} price=7499 floor=7500"
    )
    refused(
        desk,
        bid_command("A3", auction_id, 8801, 1),
        f"BID_ABOVE_CEILING: auction_id={auction_id} price=8801 ceiling=8800",
    )
    assert bid(desk, "A3", auction_id, 8800, 1) == 1


def test_a_bid_is_capped_over_the_bidders_live_bids(desk: Market) -> None:
    first = bid(desk, "A2", 1, 4800, 30_000)

    refused(
        desk,
        bid_command("A2", 1, 4900, 20_001, "more"),
        "BID_CAP_EXCEEDED: auction_id=1 account=A2 live=30000 quantity=20001 cap=50000",
    )
    refused(
        desk,
        AmendBid(account="A2", bid_id=first, price=4800, quantity=50_001),
        f"BID_CAP_EXCEEDED: bid_id={first} account=A2 live=0 quantity=50001 cap=50000",
    )
    assert bid(desk, "A2", 1, 4900, 20_000, "more") == 2  # exactly at the cap
    withdraw(desk, "A2", first)
    assert bid(desk, "A2", 1, 5000, 30_000, "again") == 3  # a withdrawn bid no longer counts
    refused(
        desk,
        bid_command("A1", 1, 4800, 100_001),
        "BID_CAP_EXCEEDED: auction_id=1 account=A1 live=0 quantity=100001 cap=100000",
    )


def test_a_cap_as_a_share_of_the_volume_and_the_volume_itself_cap_a_bid(desk: Market) -> None:
    caps = [BidCap(kind="individual", max_bp=2_500), BidCap(kind="institution", max_t=3_000, max_bp=5_000)]
    auction_id = announce_open(desk, reserve_sale(volume=10_000, eligible_kinds=ALL_KINDS, caps=caps))

    refused(
        desk,
        bid_command("A3", auction_id, 4800, 2_501),
        f"BID_CAP_EXCEEDED: auction_id={auction_id} account=A3 live=0 quantity=2501 cap=2500",
    )
    refused(  # the smaller of 3,000 t and 50% of 10,000 t
        desk,
        bid_command("A2", auction_id, 4800, 3_001),
        f"BID_CAP_EXCEEDED: auction_id={auction_id} account=A2 live=0 quantity=3001 cap=3000",
    )
    refused(  # uncapped kind: never more than the volume
        desk,
        bid_command("A1", auction_id, 4800, 10_001),
        f"BID_CAP_EXCEEDED: auction_id={auction_id} account=A1 live=0 quantity=10001 cap=10000",
    )
    assert bid(desk, "A1", auction_id, 4800, 10_000) == 1


def test_a_bid_that_could_pass_the_position_limit_is_refused(desk: Market) -> None:
    # A3 (individual, limit 1,000,000 t) holds nothing; its live bids to buy count, in any auction.
    auction_id = announce_open(desk, OPEN_TO_ALL)
    other = announce_open(desk, reserve_sale(volume=800_000, price=100, eligible_kinds=ALL_KINDS, caps=[]))
    bid(desk, "A3", auction_id, 100, 600_000)

    refused(
        desk,
        bid_command("A3", other, 100, 400_001),
        f"POSITION_LIMIT: auction_id={other} position=600000 quantity=400001 limit=1000000",
    )
    # A covered entity's limit adds its free allocation: A1 holds its 200,000 t.
    refused(
        desk,
        bid_command("A1", auction_id, 100, 1_000_001),
        f"POSITION_LIMIT: auction_id={auction_id} position=200000 quantity=1000001 limit=1200000",
    )
    assert bid(desk, "A3", other, 100, 400_000) == 2  # exactly at the limit


def test_a_bid_the_bidder_cannot_pay_for_is_refused(desk: Market) -> None:
    refused(
        desk,
        bid_command("A1", 1, 20_001, 100_000),
        f"INSUFFICIENT_FUNDS: auction_id=1 required=2000100000 available={BIDDER_CASH}",
    )
    mine = bid(desk, "A1", 1, 20_000, 50_000)
    refused(  # the amend freezes the difference: 2,000,050,000 − 1,000,000,000
        desk,
        AmendBid(account="A1", bid_id=mine, price=40_001, quantity=50_000),
        f"INSUFFICIENT_FUNDS: bid_id={mine} required=1000050000 available={BIDDER_CASH - 1_000_000_000}",
    )


def test_an_offer_the_seller_does_not_hold_is_refused(desk: Market) -> None:
    auction_id = announce_open(desk, buyback(volume=10_000, price=7000))

    refused(
        desk,
        bid_command("A3", auction_id, 7000, 100),
        f"INSUFFICIENT_HOLDINGS: auction_id={auction_id} instrument={SHEA} required=100 available=0",
    )
