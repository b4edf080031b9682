"""Auctions are journaled like every command and replay to the same events and hash on both books.

Two days: listing trades on DAY1 (whose VWAP makes DAY2's compliance floor), a random-tie
buyback cleared with its seed, a one-way sale applied for, approved and cleared at its close, a
market-supply sale left open over the end of day (its bids in the snapshot) and cleared on DAY2,
and a pro-rata compliance sale on DAY2. Sequenced into a journal on one book, then recovered on
each book: from the journal alone, and from the end-of-day snapshot plus the rest.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from engine.exchange import Exchange
from engine.journal import Journal, JournalRecord
from engine.messages import (
    AllocateAllowances,
    AmendBid,
    AnnounceAuction,
    ApplyAuction,
    ApproveAuction,
    AuctionCleared,
    ClearAuction,
    CloseAuction,
    Command,
    DepositCash,
    EndOfDay,
    Event,
    NewOrder,
    OpenAuction,
    OrderType,
    Purpose,
    Session,
    SetSession,
    Side,
    StartOfDay,
    SubmitBid,
    TieBreak,
    WithdrawBid,
)
from engine.recovery import Sequencer, record_config, recover
from tests.auction_desk import COMMITMENT, SEED, auction_config, buyback, one_way, reserve_sale
from tests.conftest import DAY1, DAY2
from tests.test_replay import TickingClock

pytestmark = pytest.mark.per_book  # the listing trades that make the VWAP run on the book under test
SESSIONS = [SetSession(session=s) for s in (Session.MORNING, Session.LUNCH_BREAK, Session.AFTERNOON)]


def order(account: str, side: Side, quantity: int, price: int, cid: str) -> NewOrder:
    return NewOrder(
        account=account,
        instrument="SHEA2025",
        client_order_id=cid,
        side=side,
        order_type=OrderType.LIMIT,
        quantity=quantity,
        price=price,
    )


def submit(account: str, auction_id: int, price: int, quantity: int, cid: str) -> SubmitBid:
    return SubmitBid(account=account, auction_id=auction_id, client_bid_id=cid, price=price, quantity=quantity)


def two_days() -> list[Command]:
    day1: list[Command] = [
        StartOfDay(trading_day=DAY1),
        *(DepositCash(account=a, amount=2_000_000_000) for a in ("A3", "A4", "B1")),
        DepositCash(account="TREASURY", amount=5_000_000_000),
        AllocateAllowances(account="RESERVE", instrument="SHEA2025", quantity=1_000_000),
        AllocateAllowances(account="A1", instrument="SHEA2025", quantity=600_000),
        AllocateAllowances(account="A2", instrument="SHEA2025", quantity=600_000),
        *SESSIONS[:1],
        order("A1", Side.SELL, 1_000, 8000, "s1"),
        order("A3", Side.BUY, 400, 8000, "b1"),  # DAY1's VWAP: 80.00
        # auction 1: a buyback with a random tie, cleared with the seed
        AnnounceAuction(
            terms=buyback(volume=10_000, price=8000, tie_break=TieBreak.RANDOM, seed_commitment=COMMITMENT)
        ),
        OpenAuction(auction_id=1),
        submit("A1", 1, 7900, 6_000, "o1"),
        submit("A2", 1, 7900, 6_000, "o1"),
        submit("A2", 1, 7800, 1_000, "o2"),
        AmendBid(account="A2", bid_id=3, price=7850, quantity=1_000),
        CloseAuction(auction_id=1),
        ClearAuction(auction_id=1, seed="00" * 32),  # refused: not the committed seed
        ClearAuction(auction_id=1, seed=SEED),
        # auction 2: a one-way sale, cleared at its close
        ApplyAuction(account="A2", terms=one_way(volume=100_000, price=7500, seller="A2")),
        ApproveAuction(auction_id=2),
        OpenAuction(auction_id=2),
        submit("A3", 2, 7800, 60_000, "w1"),
        submit("A4", 2, 7700, 50_000, "w1"),
        CloseAuction(auction_id=2),
        # auction 3: open over the end of day
        AnnounceAuction(terms=reserve_sale(volume=20_000, price=7000)),
        OpenAuction(auction_id=3),
        submit("A2", 3, 7100, 10_000, "m1"),
        submit("B1", 3, 7000, 15_000, "m1"),
        submit("B1", 3, 7050, 1_000, "m2"),
        WithdrawBid(account="B1", bid_id=8),
        *SESSIONS[1:],
        SetSession(session=Session.CLOSED),
        EndOfDay(trading_day=DAY1),
    ]
    day2: list[Command] = [
        StartOfDay(trading_day=DAY2),
        *SESSIONS,
        CloseAuction(auction_id=3),
        # auction 4: 1.2 × DAY1's VWAP, pro rata
        AnnounceAuction(
            terms=reserve_sale(
                volume=5_000,
                price=0,
                purpose=Purpose.COMPLIANCE,
                vwap_from=DAY1,
                vwap_to=DAY1,
                tie_break=TieBreak.PRO_RATA,
                seed_commitment=COMMITMENT,
            )
        ),
        OpenAuction(auction_id=4),
        submit("A1", 4, 9600, 4_000, "c1"),
        submit("B1", 4, 9600, 3_000, "c1"),
        CloseAuction(auction_id=4),
        ClearAuction(auction_id=4, seed=SEED),
        order("A2", Side.SELL, 500, 8100, "s2"),
        SetSession(session=Session.CLOSED),
    ]
    return day1 + day2


def encoded(outcomes: list[list[Event]]) -> list[list[bytes]]:
    return [[msgspec.msgpack.encode(event) for event in events] for events in outcomes]


@pytest.mark.parametrize("replay_book", ["fast", "reference"])
@pytest.mark.parametrize("use_snapshots", [False, True])
def test_a_journal_of_auctions_replays_to_the_same_events_and_hash_on_either_book(
    tmp_path: Path, book_kind: str, replay_book: str, use_snapshots: bool
) -> None:
    config = auction_config()
    record_config(tmp_path, config)
    live = Exchange(config, book_kind)
    events: list[list[Event]] = []
    with Journal.open(tmp_path, fsync=False) as journal:
        sequencer = Sequencer(live, journal, TickingClock())
        for command in two_days():
            events += sequencer.submit_batch([command])
            if isinstance(command, EndOfDay):
                sequencer.snapshot()
    results = [e for outcome in events for e in outcome if isinstance(e, AuctionCleared)]
    assert [(r.auction_id, r.volume_sold, r.clearing_price) for r in results] == [
        (1, 10_000, 7900),
        (2, 100_000, 7700),
        (3, 20_000, 7000),
        (4, 5_000, 9600),
    ]
    replayed: list[list[Event]] = []

    def collect(record: JournalRecord, outcome: list[Event]) -> None:
        replayed.append(outcome)

    recovered = recover(tmp_path, config, replay_book, use_snapshots=use_snapshots, on_events=collect)

    assert encoded(replayed) == encoded(events[-len(replayed) :])
    after_snapshot = len(events) - two_days().index(EndOfDay(trading_day=DAY1)) - 1
    assert len(replayed) == (after_snapshot if use_snapshots else len(events))
    assert recovered.exchange.state_hash() == live.state_hash()
    recovered.exchange.validate_internal_state()
    assert live.ledger.conservation() == []
