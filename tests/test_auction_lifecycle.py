"""docs/AUCTIONS.md "Lifecycle": statuses, who may move an auction on, withdrawal, the seed, and what is published.

One test per rule, through the Exchange, comparing the exact events: announced -> open ->
closed -> cleared (a ``time`` tie-break clears at the close, ``random`` and ``pro_rata`` when the
regulator reveals the committed seed: SEED_MISMATCH otherwise), AUCTION_WRONG_STATUS and
UNKNOWN_AUCTION for a command out of turn, the regulator's withdrawal that releases every
freeze, the applicant's withdrawal of its own application, and the anonymised bid list (bidders
numbered by their earliest live bid's time rank). The market: tests/auction_desk.py.
"""

from __future__ import annotations

from engine.config import AuctionRules
from engine.messages import (
    ApplyAuction,
    ApproveAuction,
    AuctionApplied,
    AuctionCancelled,
    AuctionClosed,
    AuctionOpened,
    AuctionStatus,
    BidWithdrawn,
    CancelAuction,
    ClearAuction,
    CloseAuction,
    OpenAuction,
    TieBreak,
)
from engine.view import ExchangeView, PublishedBid
from tests.auction_desk import (
    BIDDER_CASH,
    COMMITMENT,
    HOLDER_T,
    RESERVE,
    RESERVE_T,
    SEED,
    SHEA,
    TREASURY,
    TREASURY_CASH,
    amend,
    announce,
    announce_open,
    auction_config,
    auction_market,
    bid,
    buyback,
    clear,
    close,
    one_way,
    reserve_sale,
    withdraw,
)
from tests.conftest import Market, assert_balanced
from tests.transfer_desk import refused

RANDOM = {"tie_break": TieBreak.RANDOM, "seed_commitment": COMMITMENT}


def status(market: Market, auction_id: int) -> AuctionStatus | None:
    record = ExchangeView(market.exchange).auction(auction_id)
    return None if record is None else record.status


# ------------------------------------------------------------------------------ statuses


def test_an_auction_is_announced_opened_closed_and_cleared_at_the_close_with_a_time_tie_break(desk: Market) -> None:
    announce(desk, reserve_sale(volume=1_000))
    assert status(desk, 1) is AuctionStatus.ANNOUNCED

    assert desk.send(OpenAuction(auction_id=1)) == [AuctionOpened(ts_event=desk.ts, auction_id=1, instrument=SHEA)]
    assert status(desk, 1) is AuctionStatus.OPEN
    bid(desk, "A1", 1, 5000, 600)
    withdraw(desk, "A2", bid(desk, "A2", 1, 5000, 600))
    events = close(desk, 1)

    assert events[0] == AuctionClosed(ts_event=desk.ts, auction_id=1, instrument=SHEA, bids=1)  # live bids
    assert [type(e).__name__ for e in events] == ["AuctionClosed", "BidAllocated", "AuctionSettled", "AuctionCleared"]
    assert status(desk, 1) is AuctionStatus.CLEARED
    record = ExchangeView(desk.exchange).auction(1)
    assert record is not None and record.results == events[-1]
    assert (record.frozen_quantity, record.bids, record.bids_received, record.published_bids) == (0, 0, 2, 1)
    assert ExchangeView(desk.exchange).bids(1) == []  # a cleared auction's bidders read their allocations


def test_a_random_tie_break_clears_only_with_the_committed_seed(desk: Market) -> None:
    auction_id = announce_open(desk, reserve_sale(volume=1_000, **RANDOM))
    bid(desk, "A1", auction_id, 5000, 600)

    assert close(desk, auction_id) == [AuctionClosed(ts_event=desk.ts, auction_id=auction_id, instrument=SHEA, bids=1)]
    assert status(desk, auction_id) is AuctionStatus.CLOSED
    mismatch = f"SEED_MISMATCH: auction_id={auction_id} commitment={COMMITMENT}"
    for wrong in ("00" * 32, "", SEED[:-2], SEED + "00", "zz" * 32, SEED[:-2] + "  "):
        refused(desk, ClearAuction(auction_id=auction_id, seed=wrong), mismatch)
    events = clear(desk, auction_id, SEED)

    assert [type(e).__name__ for e in events] == ["BidAllocated", "AuctionSettled", "AuctionCleared"]
    assert (events[-1].seed_commitment, events[-1].seed) == (COMMITMENT, SEED)
    assert status(desk, auction_id) is AuctionStatus.CLEARED


def test_a_command_out_of_turn_names_the_status_it_met(desk: Market) -> None:
    announce(desk, reserve_sale(volume=1_000))

    refused(desk, CloseAuction(auction_id=1), "AUCTION_WRONG_STATUS: auction_id=1 status=ANNOUNCED needed=OPEN")
    refused(desk, ClearAuction(auction_id=1), "AUCTION_WRONG_STATUS: auction_id=1 status=ANNOUNCED needed=CLOSED")
    refused(desk, ApproveAuction(auction_id=1), "AUCTION_WRONG_STATUS: auction_id=1 status=ANNOUNCED needed=APPLIED")
    desk.send(OpenAuction(auction_id=1))
    refused(desk, OpenAuction(auction_id=1), "AUCTION_WRONG_STATUS: auction_id=1 status=OPEN needed=ANNOUNCED")
    close(desk, 1)
    refused(desk, ClearAuction(auction_id=1), "AUCTION_WRONG_STATUS: auction_id=1 status=CLEARED needed=CLOSED")
    refused(desk, CancelAuction(auction_id=1), "AUCTION_WRONG_STATUS: auction_id=1 status=CLEARED")


def test_a_command_for_an_unknown_auction_is_refused(desk: Market) -> None:
    for command in (
        OpenAuction(auction_id=9),
        CloseAuction(auction_id=9),
        ClearAuction(auction_id=9, seed=SEED),
        ApproveAuction(auction_id=9),
        CancelAuction(auction_id=9),
    ):
        refused(desk, command, "UNKNOWN_AUCTION: auction_id=9")


# ------------------------------------------------------------------------------ withdrawal


def test_the_regulator_withdraws_an_open_auction_and_every_freeze_is_released(desk: Market) -> None:
    auction_id = announce_open(desk, reserve_sale(volume=100_000))
    first = bid(desk, "A1", auction_id, 5000, 1_000)
    gone = bid(desk, "A2", auction_id, 5100, 2_000)
    third = bid(desk, "B1", auction_id, 4900, 3_000)
    withdraw(desk, "A2", gone)

    events = desk.send(CancelAuction(auction_id=auction_id, reason="drill over"))

    assert events == [
        BidWithdrawn(
            ts_event=desk.ts,
            bid_id=first,
            auction_id=auction_id,
            account="A1",
            released_cash=5_000_000,
            released_quantity=0,
        ),
        BidWithdrawn(
            ts_event=desk.ts,
            bid_id=third,
            auction_id=auction_id,
            account="B1",
            released_cash=14_700_000,
            released_quantity=0,
        ),
        AuctionCancelled(
            ts_event=desk.ts,
            auction_id=auction_id,
            instrument=SHEA,
            auctioneer=RESERVE,
            reason="drill over",
            released_cash=0,
            released_quantity=100_000,
        ),
    ]
    assert [desk.cash(a) for a in ("A1", "A2", "B1")] == [(BIDDER_CASH, 0)] * 3
    assert desk.holding(RESERVE) == (RESERVE_T, 0, 0)
    record = ExchangeView(desk.exchange).auction(auction_id)
    assert record is not None
    assert (record.status, record.cancel_reason, record.results) == (AuctionStatus.CANCELLED, "drill over", None)
    refused(
        desk, CancelAuction(auction_id=auction_id), f"AUCTION_WRONG_STATUS: auction_id={auction_id} status=CANCELLED"
    )


def test_withdrawing_a_closed_buyback_releases_the_treasurys_cash_and_the_offers(desk: Market) -> None:
    auction_id = announce_open(desk, buyback(volume=10_000, price=7000, **RANDOM))
    offer = bid(desk, "A2", auction_id, 6900, 4_000)
    close(desk, auction_id)

    events = desk.send(CancelAuction(auction_id=auction_id))

    assert events == [
        BidWithdrawn(
            ts_event=desk.ts,
            bid_id=offer,
            auction_id=auction_id,
            account="A2",
            released_cash=0,
            released_quantity=4_000,
        ),
        AuctionCancelled(
            ts_event=desk.ts,
            auction_id=auction_id,
            instrument=SHEA,
            auctioneer=TREASURY,
            reason="withdrawn by the regulator",
            released_cash=70_000_000,
            released_quantity=0,
        ),
    ]
    assert (desk.cash(TREASURY), desk.holding("A2")) == ((TREASURY_CASH, 0), (HOLDER_T, 0, 0))


def test_an_applicant_withdraws_its_own_application_only_before_approval(desk: Market) -> None:
    desk.send(ApplyAuction(account="A1", terms=one_way(volume=100_000)))
    desk.send(ApplyAuction(account="A2", terms=one_way(volume=100_000, seller="A2")))
    desk.send(ApproveAuction(auction_id=2))

    refused(desk, CancelAuction(auction_id=1, account="A2"), "UNKNOWN_AUCTION: auction_id=1")  # not its own
    refused(desk, CancelAuction(auction_id=2, account="A2"), "AUCTION_WRONG_STATUS: auction_id=2 status=ANNOUNCED")
    events = desk.send(CancelAuction(auction_id=1, account="A1"))

    assert events == [
        AuctionCancelled(
            ts_event=desk.ts,
            auction_id=1,
            instrument=SHEA,
            auctioneer="A1",
            reason="withdrawn by the applicant",
            released_cash=0,
            released_quantity=100_000,
        )
    ]
    assert desk.holding("A1") == (HOLDER_T, 0, 0)


def test_the_regulator_declines_an_application_by_withdrawing_it(desk: Market) -> None:
    applied = desk.send(ApplyAuction(account="A1", terms=one_way(volume=150_000)))
    assert isinstance(applied[0], AuctionApplied)

    events = desk.send(CancelAuction(auction_id=1, reason="declined"))

    assert events == [
        AuctionCancelled(
            ts_event=desk.ts,
            auction_id=1,
            instrument=SHEA,
            auctioneer="A1",
            reason="declined",
            released_cash=0,
            released_quantity=150_000,
        )
    ]
    assert status(desk, 1) is AuctionStatus.CANCELLED


def test_only_the_last_results_kept_finished_auctions_are_kept(book_kind: str) -> None:
    market = auction_market(book_kind, auction_config(auction=AuctionRules(results_kept=2)))
    for _ in range(3):
        close(market, announce_open(market, reserve_sale(volume=1_000)))

    assert [a.auction_id for a in ExchangeView(market.exchange).auctions()] == [2, 3]
    refused(market, CancelAuction(auction_id=1), "UNKNOWN_AUCTION: auction_id=1")
    assert_balanced(market)


def test_the_results_kept_are_those_of_the_auctions_finished_last(book_kind: str) -> None:
    # "The last results_kept finished auctions": by when they finished, not by id. An auction open
    # longer than later ones keeps its results when it clears, for its bidders to page and verify.
    market = auction_market(book_kind, auction_config(auction=AuctionRules(results_kept=2)))
    long_running = announce_open(market, reserve_sale(volume=1_000))
    for _ in range(2):
        close(market, announce_open(market, reserve_sale(volume=1_000)))
    bid(market, "A1", long_running, 5000, 100)

    events = close(market, long_running)

    assert [a.auction_id for a in ExchangeView(market.exchange).auctions()] == [long_running, 3]
    record = ExchangeView(market.exchange).auction(long_running)
    assert record is not None and record.results == events[-1]
    assert len(ExchangeView(market.exchange).published_bids(long_running)) == 1
    assert_balanced(market)


# ------------------------------------------------------------------------------ the anonymised bid list


def test_the_published_bids_number_bidders_by_their_earliest_live_bids_time_rank(desk: Market) -> None:
    auction_id = announce_open(desk, reserve_sale(volume=5_000))
    bid(desk, "A2", auction_id, 5000, 1_000)  # rank 1: A2 is bidder 1
    early = bid(desk, "B1", auction_id, 5200, 1_000)  # rank 2, withdrawn: B1 no longer counts from it
    mine = bid(desk, "A1", auction_id, 5100, 3_000)  # rank 3
    bid(desk, "A2", auction_id, 4900, 2_000)  # rank 4
    bid(desk, "B1", auction_id, 4800, 1_000)  # rank 5: B1's earliest live bid
    withdraw(desk, "B1", early)
    amend(desk, "A1", mine, 5100, 2_500)  # a lower quantity keeps rank 3

    close(desk, auction_id)

    # 5,000 t: A1 2,500 at 51.00, A2 1,000 at 50.00, A2 1,500 of 2,000 at 49.00: uniform 49.00.
    view = ExchangeView(desk.exchange)
    published = [
        PublishedBid(bidder=1, time_rank=1, price=5000, quantity=1_000, allocated=1_000, allocation_price=4900),
        PublishedBid(bidder=2, time_rank=3, price=5100, quantity=2_500, allocated=2_500, allocation_price=4900),
        PublishedBid(bidder=1, time_rank=4, price=4900, quantity=2_000, allocated=1_500, allocation_price=4900),
        PublishedBid(bidder=3, time_rank=5, price=4800, quantity=1_000, allocated=0, allocation_price=0),
    ]
    assert view.published_bids(auction_id) == published
    assert view.published_bids(auction_id, offset=1, limit=2) == published[1:3]
    assert view.published_bids(auction_id, offset=4) == []
    assert view.published_bids(99) == []
