"""Journal and replay: a restart from the journal, or from a snapshot plus the journal after it,
rebuilds the same state (equal hashes) and behaves the same afterwards (equal events)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from carbonx.simulation import OrderFlow, funding_commands, run_simulation
from engine import recovery
from engine.batch import EventBatch
from engine.config import ExchangeConfig
from engine.config_record import config_differences
from engine.exchange import Exchange
from engine.journal import JOURNAL_FILE, Journal, read_journal, write_snapshot
from engine.messages import Command, EndOfDay, Event, Session, SetSession, StartOfDay
from engine.recovery import DataDirError, Sequencer, record_config, recorded_config, recover
from tests.conftest import DAY1, assert_conserved, market_config


class TickingClock:
    def __init__(self) -> None:
        self.now = 1_795_000_000_000_000_000

    def __call__(self) -> int:
        self.now += 1_000_000
        return self.now


def trading_commands(config: ExchangeConfig, exchange: Exchange, rng: random.Random, n: int) -> list[Command]:
    """``n`` order-entry commands of the simulated members, drawn against the live exchange."""
    flow = OrderFlow(config, rng)
    bands = {code: exchange.listing.band(code) for code in exchange.listing.instruments}
    commands: list[Command] = []
    for _ in range(n):
        command = flow.next_command(bands)
        flow.observe(command, exchange.apply(command))
        commands.append(command)
    return commands


def opening(config: ExchangeConfig) -> list[Command]:
    return [StartOfDay(trading_day=DAY1), *funding_commands(config), SetSession(session=Session.MORNING)]


def flow_for(config: ExchangeConfig, seed: int, n: int) -> list[Command]:
    """A reproducible command list: the opening, then ``n`` commands drawn on a scratch exchange."""
    scratch = Exchange(config)
    for command in opening(config):
        scratch.apply(command)
    return opening(config) + trading_commands(config, scratch, random.Random(seed), n)


def run_journaled(directory: Path, config: ExchangeConfig, commands: list[Command], book: str, snapshot_at: int = 0):
    """Apply commands through the sequencer into a journal; snapshot after ``snapshot_at`` of them."""
    record_config(directory, config)
    exchange = Exchange(config, book)
    events: list[list[Event]] = []
    with Journal.open(directory, fsync=False) as journal:
        sequencer = Sequencer(exchange, journal, TickingClock())
        for i, command in enumerate(commands, 1):
            events.append(sequencer.submit(command))
            if i == snapshot_at:
                sequencer.snapshot()
    return exchange, events


@pytest.mark.per_book
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_restart_from_journal_and_from_snapshot_gives_equal_hashes(tmp_path: Path, book_kind: str, seed: int) -> None:
    config = market_config()
    commands = flow_for(config, seed, 1500)
    live, _ = run_journaled(tmp_path, config, commands, book_kind, snapshot_at=800)

    from_journal = recover(tmp_path, config, book_kind, use_snapshots=False)
    from_snapshot = recover(tmp_path, config, book_kind)

    assert from_journal.snapshot_seq == 0 and from_journal.replayed == len(commands)
    assert from_snapshot.snapshot_seq == 800 and from_snapshot.replayed == len(commands) - 800
    assert from_journal.exchange.state_hash() == live.state_hash()
    assert from_snapshot.exchange.state_hash() == live.state_hash()
    from_snapshot.exchange.validate_internal_state()


@pytest.mark.per_book
def test_recovered_exchanges_produce_equal_events_afterwards(tmp_path: Path, book_kind: str) -> None:
    config = market_config()
    commands = flow_for(config, 11, 1200)
    head, tail = commands[:900], commands[900:]
    live, _ = run_journaled(tmp_path, config, head, book_kind, snapshot_at=500)
    restarted = [
        recover(tmp_path, config, book_kind, use_snapshots=False).exchange,
        recover(tmp_path, config, book_kind).exchange,
    ]

    expected = [live.apply(c, ts=i) for i, c in enumerate(tail)]

    for exchange in restarted:
        assert [exchange.apply(c, ts=i) for i, c in enumerate(tail)] == expected
        assert exchange.state_hash() == live.state_hash()


@pytest.mark.per_book
def test_a_replay_nobody_reads_the_events_of_builds_none_and_reaches_the_same_state(
    tmp_path: Path, book_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``recover`` without ``on_events`` (``carbonx replay``, the read-only commands) never turns the
    fast book's records into events: the kernel changed the state whether they are read or not."""
    config = market_config()
    live, _ = run_journaled(tmp_path, config, flow_for(config, 7, 1500), book_kind)
    seen: list[int] = []
    monkeypatch.setattr(recovery, "REPLAY_BATCH", 256)  # several batches, and the last one short
    recover(tmp_path, config, book_kind, use_snapshots=False, on_events=lambda record, _: seen.append(record.seq))
    decoded = 0
    all_events, events = EventBatch.all_events, EventBatch.events

    def counted_all(batch: EventBatch) -> Sequence[list[Event]]:
        nonlocal decoded
        decoded += 1
        return all_events(batch)

    def counted_one(batch: EventBatch, index: int) -> list[Event]:
        nonlocal decoded
        decoded += 1
        return events(batch, index)

    monkeypatch.setattr(EventBatch, "all_events", counted_all)
    monkeypatch.setattr(EventBatch, "events", counted_one)

    replayed = recover(tmp_path, config, book_kind, use_snapshots=False)

    assert decoded == 0
    assert seen == list(range(1, replayed.replayed + 1))  # with a reader, every record's events reached it
    assert replayed.exchange.state_hash() == live.state_hash()
    replayed.exchange.validate_internal_state()


@pytest.mark.per_book
def test_a_replay_for_the_end_of_day_events_gives_only_those_and_decodes_no_order(
    tmp_path: Path, book_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``events_for`` (the offline registry's ``apply_commands``): only those commands' events reach
    the reader, as a full replay gives them, and no order's records are decoded for it."""
    config = market_config()
    closing = [SetSession(session=Session.LUNCH_BREAK), SetSession(session=Session.AFTERNOON)]
    closing += [SetSession(session=Session.CLOSED), EndOfDay(trading_day=DAY1)]
    live, first = run_journaled(tmp_path, config, [*flow_for(config, 9, 600), *closing], book_kind)
    everything: dict[int, list[Event]] = {}
    recover(tmp_path, config, book_kind, on_events=lambda record, events: everything.update({record.seq: events}))
    monkeypatch.setattr(EventBatch, "all_events", _never)
    seen: list[tuple[int, list[Event]]] = []

    replayed = recover(
        tmp_path, config, book_kind, on_events=lambda r, events: seen.append((r.seq, events)), events_for=(EndOfDay,)
    )

    [(seq, events)] = seen
    assert seq == replayed.last_seq and events == everything[seq] == first[-1]
    assert replayed.exchange.state_hash() == live.state_hash()


def _never(batch: EventBatch) -> Sequence[list[Event]]:
    raise AssertionError("every command's events were decoded")


@pytest.mark.per_book
def test_events_replayed_are_the_events_first_produced(tmp_path: Path, book_kind: str) -> None:
    config = market_config()
    commands = flow_for(config, 5, 600)
    _, first_events = run_journaled(tmp_path, config, commands, book_kind)

    exchange = Exchange(config, book_kind)
    replayed = [exchange.apply(r.command, r.ts) for r in read_journal(tmp_path)]

    assert replayed == first_events


@pytest.mark.per_book
def test_torn_last_record_is_dropped_with_a_warning(tmp_path: Path, book_kind: str) -> None:
    config = market_config()
    commands = flow_for(config, 7, 300)
    live, _ = run_journaled(tmp_path, config, commands[:-1], book_kind)
    good_hash = live.state_hash()
    with Journal.open(tmp_path, fsync=False) as journal:
        Sequencer(Exchange(config, book_kind), journal, TickingClock()).submit(commands[-1])
    path = tmp_path / JOURNAL_FILE
    path.write_bytes(path.read_bytes()[:-3])  # the crash tore the last record

    with capture_logs() as logs:
        recovered = recover(tmp_path, config, book_kind)

    assert recovered.replayed == len(commands) - 1
    assert recovered.exchange.state_hash() == good_hash
    assert [entry["event"] for entry in logs] == ["journal.torn_record_dropped"]


@pytest.mark.per_book
def test_full_simulated_day_replays_to_the_same_hash_and_conserves(tmp_path: Path) -> None:
    config = market_config()
    result = run_simulation(
        config, tmp_path / "sim", seed=4, orders=800, trading_day=dt.date(2026, 11, 23), fsync=False
    )
    recovered_config = recorded_config(tmp_path / "sim")

    replayed = recover(tmp_path / "sim", recovered_config, use_snapshots=False)

    assert recovered_config == config
    assert replayed.exchange.state_hash() == result.state_hash
    assert not replayed.exchange.market.day_open
    ledger = replayed.exchange.ledger
    assert_conserved(replayed.exchange, deposited=ledger.deposited, issued=dict(ledger.issued))
    assert sum(ledger.issued.values()) > 0 and result.trades > 0


def test_data_directory_refuses_a_different_config(tmp_path: Path) -> None:
    record_config(tmp_path, market_config())
    other = market_config(instruments=market_config().instruments[:1])

    with pytest.raises(DataDirError, match="different config") as refused:
        record_config(tmp_path, other)

    assert 'instruments: recorded [{"code":"SHEA2025"' in str(refused.value)  # the key, and both values
    assert str(refused.value).count("\n") == 0


def test_a_refused_config_names_the_keys_that_differ_with_both_values(tmp_path: Path) -> None:
    config = market_config()
    record_config(tmp_path, config)
    auction = msgspec.structs.replace(config.auction, max_bids_sent_per_account=1000, results_kept=5)
    changed = msgspec.structs.replace(config, auction=auction)

    with pytest.raises(DataDirError) as refused:
        record_config(tmp_path, changed)

    text = str(refused.value)
    assert "auction.max_bids_sent_per_account: recorded 0, now 1000" in text
    assert f"auction.results_kept: recorded {config.auction.results_kept}, now 5" in text
    assert "serve it with the config it was written with" in text
    assert config_differences(config, config) == []


def test_directory_without_config_record_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataDirError, match="not a carbonx data directory"):
        recorded_config(tmp_path)


@pytest.mark.per_book
@given(seed=st.integers(0, 10_000), split=st.integers(1, 400))
def test_any_split_snapshot_plus_journal_equals_journal_alone(
    tmp_path_factory: pytest.TempPathFactory, seed: int, split: int
) -> None:
    config = market_config()
    commands = flow_for(config, seed, 300)
    commands.append(SetSession(session=Session.LUNCH_BREAK))
    directory = tmp_path_factory.mktemp("replay")
    live, _ = run_journaled(directory, config, commands, "reference", snapshot_at=min(split, len(commands)))

    assert recover(directory, config).exchange.state_hash() == live.state_hash()
    assert recover(directory, config, use_snapshots=False).exchange.state_hash() == live.state_hash()


@pytest.mark.per_book
def test_end_of_day_then_snapshot_then_next_day(tmp_path: Path, book_kind: str) -> None:
    config = market_config()
    day1 = [
        *flow_for(config, 9, 400),
        SetSession(session=Session.LUNCH_BREAK),
        SetSession(session=Session.AFTERNOON),
        SetSession(session=Session.CLOSED),
        EndOfDay(trading_day=DAY1),
    ]
    live, _ = run_journaled(tmp_path, config, day1, book_kind, snapshot_at=len(day1))
    recovered = recover(tmp_path, config, book_kind)

    next_day = [StartOfDay(trading_day=20261124), SetSession(session=Session.MORNING)]
    assert [recovered.exchange.apply(c) for c in next_day] == [live.apply(c) for c in next_day]
    assert recovered.exchange.state_hash() == live.state_hash()


@pytest.mark.per_book
def test_a_snapshot_of_another_state_layout_is_skipped_and_the_journal_replayed(tmp_path: Path, book_kind: str) -> None:
    # A snapshot written by an earlier version (a state without fields added since) passes its CRC
    # but does not decode: recovery warns and falls back to an older snapshot or the whole journal.
    config = market_config()
    commands = flow_for(config, 5, 300)
    live, _ = run_journaled(tmp_path, config, commands, book_kind, snapshot_at=100)
    write_snapshot(tmp_path, 200, msgspec.msgpack.encode([1, 2, 3]))

    with capture_logs() as logs:
        recovered = recover(tmp_path, config, book_kind)

    assert recovered.snapshot_seq == 100 and recovered.replayed == len(commands) - 100
    assert recovered.exchange.state_hash() == live.state_hash()
    assert [(e["event"], e["seq"]) for e in logs] == [("recovery.snapshot_unreadable", 200)]
