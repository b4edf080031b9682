"""Agreement transfers are journaled like every command and replay to the same events and hash on both books.

Two days of transfers (executed, refused for want of funds and then accepted, rejected, cancelled,
expired at the close) interleaved with listing orders, sequenced into a journal on one book, then
recovered on each book: from the journal alone, and from the end-of-day snapshot plus the rest.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from engine.exchange import Exchange
from engine.journal import Journal, JournalRecord
from engine.messages import (
    AcceptTransfer,
    AllocateAllowances,
    CancelTransfer,
    Command,
    DepositCash,
    EndOfDay,
    Event,
    NewOrder,
    OrderType,
    RejectTransfer,
    Session,
    SetSession,
    Side,
    StartOfDay,
    TransferExecuted,
)
from engine.recovery import Sequencer, record_config, recover
from tests.conftest import DAY1, DAY2, market_config
from tests.test_replay import TickingClock
from tests.transfer_desk import proposal

pytestmark = pytest.mark.per_book  # the listing orders between the transfers run on the book under test
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


def two_days() -> list[Command]:
    day1: list[Command] = [
        StartOfDay(trading_day=DAY1),
        DepositCash(account="A3", amount=2_000_000_000),
        DepositCash(account="A4", amount=500_000_000),
        AllocateAllowances(account="A1", instrument="SHEA2025", quantity=600_000),
        AllocateAllowances(account="A2", instrument="SHEA2025", quantity=600_000),
        *SESSIONS,
        order("A1", Side.SELL, 1_000, 8000, "s1"),
        order("A3", Side.BUY, 400, 8000, "b1"),  # a listing trade: the close of DAY1
        proposal("A1", Side.SELL, "A3", 150_000, 7000, "t1"),
        AcceptTransfer(account="A3", transfer_id=1),  # executed
        proposal("A2", Side.SELL, "A4", 100_000, 8000, "t2"),
        AcceptTransfer(account="A4", transfer_id=2),  # refused: A4 lacks the cash
        DepositCash(account="A4", amount=500_000_000),
        AcceptTransfer(account="A4", transfer_id=2),  # executed now
        proposal("A3", Side.BUY, "A2", 100_000, 9000, "t3"),
        RejectTransfer(account="A2", transfer_id=3),
        proposal("A1", Side.SELL, "A4", 100_000, 8000, "t4"),
        CancelTransfer(account="A1", transfer_id=4),
        proposal("A2", Side.SELL, "A3", 120_000, 8000, "t5"),  # still open at the close: expires
        SetSession(session=Session.CLOSED),
        EndOfDay(trading_day=DAY1),
    ]
    day2: list[Command] = [
        StartOfDay(trading_day=DAY2),
        DepositCash(account="A4", amount=1_000_000_000),
        *SESSIONS,
        proposal("A3", Side.SELL, "A4", 100_000, 8000, "t1"),  # DAY1's purchase is sellable now
        AcceptTransfer(account="A4", transfer_id=6),
        order("A2", Side.SELL, 500, 8100, "s2"),
        SetSession(session=Session.CLOSED),
    ]
    return day1 + day2


def encoded(outcomes: list[list[Event]]) -> list[list[bytes]]:
    return [[msgspec.msgpack.encode(event) for event in events] for events in outcomes]


@pytest.mark.parametrize("replay_book", ["fast", "reference"])
@pytest.mark.parametrize("use_snapshots", [False, True])
def test_a_journal_of_transfers_replays_to_the_same_events_and_hash_on_either_book(
    tmp_path: Path, book_kind: str, replay_book: str, use_snapshots: bool
) -> None:
    config = market_config()
    record_config(tmp_path, config)
    live = Exchange(config, book_kind)
    events: list[list[Event]] = []
    with Journal.open(tmp_path, fsync=False) as journal:
        sequencer = Sequencer(live, journal, TickingClock())
        for command in two_days():
            events += sequencer.submit_batch([command])
            if isinstance(command, EndOfDay):
                sequencer.snapshot()
    executed = [e for outcome in events for e in outcome if isinstance(e, TransferExecuted)]
    assert [e.transfer_id for e in executed] == [1, 2, 6]
    replayed: list[list[Event]] = []

    def collect(record: JournalRecord, outcome: list[Event]) -> None:
        replayed.append(outcome)

    recovered = recover(tmp_path, config, replay_book, use_snapshots=use_snapshots, on_events=collect)

    assert encoded(replayed) == encoded(events[-len(replayed) :])
    after_snapshot = len(events) - two_days().index(EndOfDay(trading_day=DAY1)) - 1
    assert len(replayed) == (after_snapshot if use_snapshots else len(events))
    assert recovered.exchange.state_hash() == live.state_hash()
    recovered.exchange.validate_internal_state()
