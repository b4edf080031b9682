"""``surveillance.book_replay.book_at``: the book at any moment is the book the live exchange had then.

A journal is written live, on each order book in turn, and the live book (``ExchangeView.book``) is
kept after every command; the replay, on each book too, must give the same resting orders in the
same priority. The journal has two snapshots in the middle, so the replay starts from a snapshot
when one lies at or before the moment, and from the beginning otherwise.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest

import engine.listing
from carbonx.config import load_config
from carbonx.simulation import OrderFlow, funding_commands
from engine.config import ExchangeConfig
from engine.exchange import Exchange
from engine.journal import Journal, follow_journal
from engine.listing import BOOK_KINDS
from engine.messages import (
    AmendOrder,
    Command,
    Event,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderType,
    Session,
    SetSession,
    Side,
    StartOfDay,
)
from engine.recovery import Sequencer, record_config
from engine.view import ExchangeView, RestingOrder
from surveillance.book_replay import book_at
from surveillance.settings import SurveillanceError

pytestmark = pytest.mark.not_per_book  # each test names both books itself: the live one and the replay's

REPO = Path(__file__).resolve().parents[1]
DAY = dt.date(2026, 12, 1)
SECOND, MILLISECOND = 1_000_000_000, 1_000_000
SHEA = "SHEA2025"


class Tape(msgspec.Struct, kw_only=True):
    """A journal written live, with what the live exchange showed after each command."""

    data_dir: Path
    books: dict[int, list[RestingOrder]]  # seq -> SHEA2025's book after it (of a batch: after its last)
    times: dict[int, int]  # seq -> its exchange time
    snapshots: list[int]
    queue: list[int]  # the order ids at 80.50 on the ask side after the amendments, in their priority
    queue_seq: int
    batch: list[int]  # the seqs of three commands sent in one batch, stamped with one time
    last_seq: int


class Writer:
    def __init__(self, data_dir: Path, config: ExchangeConfig, book: str) -> None:
        record_config(data_dir, config)
        self.data_dir = data_dir
        self.journal = Journal.open(data_dir, fsync=False)
        self.exchange = Exchange(config, book)
        self.view = ExchangeView(self.exchange)
        self.now = int(dt.datetime.combine(DAY, dt.time(9, 0), ZoneInfo("Asia/Shanghai")).timestamp()) * SECOND
        self.sequencer = Sequencer(self.exchange, self.journal, self._clock)
        self.books: dict[int, list[RestingOrder]] = {0: []}

    def _clock(self) -> int:
        self.now += 250 * MILLISECOND
        return self.now

    def send(self, *commands: Command) -> list[list[Event]]:
        events = self.sequencer.submit_batch(commands)
        self.books[self.sequencer.last_seq] = self.view.book(SHEA)  # the live book is seen between batches only
        return events

    def accepted(self, account: str, side: Side, quantity: int, price: int) -> int:
        (events,) = self.send(
            NewOrder(account=account, instrument=SHEA, client_order_id=f"{account}-{self.now}", side=side,
                     order_type=OrderType.LIMIT, quantity=quantity, price=price)
        )  # fmt: skip
        (accepted,) = [e for e in events if isinstance(e, OrderAccepted)]
        return accepted.order_id

    def amend(self, account: str, order_id: int, price: int, quantity: int) -> bool:
        (events,) = self.send(AmendOrder(account=account, order_id=order_id, price=price, quantity=quantity))
        (amended,) = [e for e in events if isinstance(e, OrderAmended)]
        return amended.priority_kept

    def flow(self, flow: OrderFlow, commands: int) -> None:
        bands = {code: self.view.band(code) for code in self.view.instruments()}
        for _ in range(commands):
            command = flow.next_command(bands)
            (events,) = self.send(command)
            flow.observe(command, events)


def write_tape(data_dir: Path, config: ExchangeConfig, book: str) -> Tape:
    """Funding, the morning; three asks at 80.50 and two amendments (one keeps its place, one loses
    it); a random flow with a snapshot after 120 and after 240 of its commands; one batch of three."""
    writer, flow = Writer(data_dir, config, book), OrderFlow(config, random.Random(23))
    writer.send(StartOfDay(trading_day=20261201), *funding_commands(config))
    writer.send(SetSession(session=Session.MORNING))
    first = writer.accepted("A001", Side.SELL, 100, 8_050)
    second = writer.accepted("A002", Side.SELL, 200, 8_050)
    third = writer.accepted("A003", Side.SELL, 50, 8_050)
    writer.accepted("A101", Side.BUY, 100, 7_950)
    writer.accepted("A104", Side.BUY, 120, 7_950)
    assert writer.amend("A001", first, 8_050, 60)  # less: keeps its place
    assert not writer.amend("A002", second, 8_050, 300)  # more: goes to the back
    queue_seq = writer.sequencer.last_seq
    snapshots = []
    for _ in range(2):
        writer.flow(flow, 120)
        writer.sequencer.snapshot()
        snapshots.append(writer.sequencer.last_seq)
    writer.flow(flow, 60)
    writer.send(*[NewOrder(account="A102", instrument=SHEA, client_order_id=f"batch-{i}", side=Side.BUY,
                           order_type=OrderType.LIMIT, quantity=10, price=7_900 + i) for i in range(3)])  # fmt: skip
    last_seq = writer.sequencer.last_seq
    writer.flow(flow, 20)
    writer.journal.close()
    times = {record.seq: record.ts for record, _end in follow_journal(data_dir)}
    return Tape(
        data_dir=data_dir, books=writer.books, times=times, snapshots=snapshots, queue=[first, third, second],
        queue_seq=queue_seq, batch=[last_seq - 2, last_seq - 1, last_seq], last_seq=writer.sequencer.last_seq,
    )  # fmt: skip


@pytest.fixture(scope="module")
def config() -> ExchangeConfig:
    return load_config(REPO / "config").exchange


@pytest.fixture(scope="module", params=BOOK_KINDS, ids=[f"live-{kind}" for kind in BOOK_KINDS])
def tape(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, config: ExchangeConfig) -> Tape:
    return write_tape(tmp_path_factory.mktemp(f"tape-{request.param}") / "data", config, request.param)


@pytest.fixture(params=BOOK_KINDS, ids=[f"replay-{kind}" for kind in BOOK_KINDS])
def replay_book(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The book the replay runs on: book_at builds its exchange on the engine's default book."""
    monkeypatch.setattr(engine.listing, "DEFAULT_BOOK", request.param)
    return str(request.param)


def replayed(tape: Tape, seq: int) -> list[RestingOrder]:
    found = book_at(tape.data_dir, SHEA, seq=seq)
    assert found.seq == seq
    return [*found.bids, *found.asks]


def sample_seqs(tape: Tape) -> Sequence[int]:
    around = [s + d for s in (tape.queue_seq, *tape.snapshots) for d in (-1, 0, 1)]
    wanted = {0, *range(tape.queue_seq - 8, tape.last_seq, 37), *around, tape.batch[-1], tape.last_seq}
    return sorted(wanted & set(tape.books))


# ------------------------------------------------------------------ the book at a seq
def test_the_book_after_a_seq_is_the_live_book_after_it(tape: Tape, replay_book: str) -> None:
    seqs = sample_seqs(tape)

    books = {seq: replayed(tape, seq) for seq in seqs}

    assert books == {seq: tape.books[seq] for seq in seqs}
    assert sum(1 for book in books.values() if len(book) >= 5) > len(seqs) // 2  # not a test of empty books


def test_bids_and_asks_are_split_and_each_side_is_best_price_first(tape: Tape) -> None:
    found = book_at(tape.data_dir, SHEA, seq=tape.last_seq)

    assert found.bids and found.asks
    assert {o.side for o in found.bids} == {Side.BUY} and {o.side for o in found.asks} == {Side.SELL}
    assert [o.price for o in found.bids] == sorted((o.price for o in found.bids), reverse=True)
    assert [o.price for o in found.asks] == sorted(o.price for o in found.asks)
    assert found.trading_day == 20261201


def test_an_amendment_that_loses_priority_goes_behind_its_level_and_one_that_keeps_it_stays(
    tape: Tape, replay_book: str
) -> None:
    found = book_at(tape.data_dir, SHEA, seq=tape.queue_seq)

    level = [(o.order_id, o.account, o.leaves) for o in found.asks if o.price == 8_050]

    assert level == [(tape.queue[0], "A001", 60), (tape.queue[1], "A003", 50), (tape.queue[2], "A002", 300)]
    assert [(o.price, o.leaves) for o in found.bids] == [(7_950, 100), (7_950, 120)]
    assert [o.account for o in found.bids] == ["A101", "A104"]


# ------------------------------------------------------------------ the book at a time
def test_the_book_at_a_time_is_the_book_after_the_last_command_stamped_at_or_before_it(tape: Tape) -> None:
    seq = tape.queue_seq
    ts = tape.times[seq]

    exactly = book_at(tape.data_dir, SHEA, ts=ts)
    between = book_at(tape.data_dir, SHEA, ts=ts + 1)
    just_before_the_next = book_at(tape.data_dir, SHEA, ts=tape.times[seq + 1] - 1)
    at_the_next = book_at(tape.data_dir, SHEA, ts=tape.times[seq + 1])

    assert [(b.seq, b.ts) for b in (exactly, between, just_before_the_next)] == [(seq, ts)] * 3
    assert [*exactly.bids, *exactly.asks] == tape.books[seq]
    assert (at_the_next.seq, [*at_the_next.bids, *at_the_next.asks]) == (seq + 1, tape.books[seq + 1])


def test_a_time_shared_by_a_batch_gives_the_book_after_its_last_command(tape: Tape) -> None:
    first, *_, last = tape.batch
    assert tape.times[first] == tape.times[last]

    found = book_at(tape.data_dir, SHEA, ts=tape.times[first])

    assert found.seq == last
    assert [*found.bids, *found.asks] == tape.books[last]
    assert {f"batch-{i}" for i in range(3)} <= {o.client_order_id for o in found.bids}


def test_a_time_before_the_first_command_is_the_empty_book_and_after_the_last_the_final_one(tape: Tape) -> None:
    before = book_at(tape.data_dir, SHEA, ts=tape.times[1] - 1)
    after = book_at(tape.data_dir, SHEA, ts=tape.times[tape.last_seq] + 3_600 * SECOND)

    assert (before.seq, before.ts, before.bids, before.asks, before.trading_day) == (0, 0, [], [], 0)
    assert (after.seq, after.ts) == (tape.last_seq, tape.times[tape.last_seq])
    assert [*after.bids, *after.asks] == tape.books[tape.last_seq]


# ------------------------------------------------------------------ snapshots
def test_the_replay_starts_from_the_newest_snapshot_at_or_before_the_seq(tape: Tape, replay_book: str) -> None:
    first, second = tape.snapshots
    moments = [first - 1, first, first + 5, second - 1, second, second + 1, tape.last_seq]

    found = {seq: book_at(tape.data_dir, SHEA, seq=seq) for seq in moments}

    assert {seq: (b.snapshot_seq, b.replayed) for seq, b in found.items()} == {
        first - 1: (0, first - 1),  # the snapshot after the moment is not used
        first: (first, 0),
        first + 5: (first, 5),
        second - 1: (first, second - 1 - first),
        second: (second, 0),
        second + 1: (second, 1),
        tape.last_seq: (second, tape.last_seq - second),
    }
    assert {seq: [*b.bids, *b.asks] for seq, b in found.items()} == {seq: tape.books[seq] for seq in moments}
    assert found[first].ts == tape.times[first]


def test_a_replay_to_a_time_reads_the_journal_from_the_beginning(tape: Tape) -> None:
    seq = tape.snapshots[1] + 3

    found = book_at(tape.data_dir, SHEA, ts=tape.times[seq])

    assert (found.seq, found.snapshot_seq, found.replayed) == (seq, 0, seq)
    assert [*found.bids, *found.asks] == tape.books[seq]


# ------------------------------------------------------------------ refusals
def test_a_seq_beyond_the_journal_is_one_line(tape: Tape) -> None:
    with pytest.raises(SurveillanceError) as refused:
        book_at(tape.data_dir, SHEA, seq=tape.last_seq + 1)

    assert str(refused.value) == f"--seq {tape.last_seq + 1}: the journal ends at seq {tape.last_seq}"


def test_a_negative_seq_is_one_line(tape: Tape) -> None:
    with pytest.raises(SurveillanceError, match="must not be negative") as refused:
        book_at(tape.data_dir, SHEA, seq=-1)

    assert "\n" not in str(refused.value)


def test_an_instrument_the_exchange_does_not_list_is_one_line(tape: Tape) -> None:
    with pytest.raises(SurveillanceError) as refused:
        book_at(tape.data_dir, "SHEA2099", seq=1)

    assert str(refused.value) == (
        f"SHEA2099: not an instrument of {tape.data_dir} (listed: SHEA2024, SHEA2025, CCER, SHCER)"
    )


def test_a_data_directory_that_is_not_one_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SurveillanceError, match="data directory not found") as refused:
        book_at(tmp_path / "missing", SHEA, seq=1)

    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("moment", [{}, {"seq": 1, "ts": 1}])
def test_exactly_one_of_a_seq_and_a_time_is_given(tape: Tape, moment: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="exactly one of seq and ts"):
        book_at(tape.data_dir, SHEA, **moment)
