"""The sequencer and start-up recovery: the only path from a command to a state change.

A data directory holds everything needed to rebuild the exchange without the config folder:

    exchange-config.json   the ExchangeConfig the journal was written under (written once)
    journal.cxj            every sequenced command (engine.journal)
    snapshots/             full states, each with the seq it covers

The sequencer stamps each command with the next seq and the exchange time, appends the batch to
the journal (one fsync per batch) and only then applies it: nothing is acknowledged before it is
durable, and a replay applies exactly what was applied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import msgspec
import structlog

from engine.config import ExchangeConfig
from engine.config_record import CONFIG_FILE as CONFIG_FILE
from engine.config_record import DataDirError as DataDirError
from engine.config_record import record_config as record_config
from engine.config_record import recorded_config as recorded_config
from engine.exchange import Exchange
from engine.journal import JOURNAL_FILE, Journal, JournalRecord, read_journal, valid_snapshots, write_snapshot
from engine.messages import AnyCommand, Command, Event
from engine.messages.limits import command_problem

_log = structlog.get_logger("carbonx.recovery")


class InvalidCommand(ValueError):
    """A command breaks a bound of its fields (engine.messages.limits): refused, never journaled; one line."""


def check_commands(commands: Sequence[Command]) -> None:
    """Raise ``InvalidCommand`` naming the first command, and its field, that breaks a bound."""
    for index, command in enumerate(commands):
        problem = command_problem(command)
        if problem is not None:
            raise InvalidCommand(f"command #{index + 1} ({type(command).__name__}): {problem}")


class Sequencer:
    def __init__(self, exchange: Exchange, journal: Journal, clock: Callable[[], int]) -> None:
        self.exchange = exchange
        self.journal = journal
        self.clock = clock

    @property
    def last_seq(self) -> int:
        return self.journal.last_seq

    def submit_batch(
        self,
        commands: Sequence[Command],
        origins: Sequence[tuple[str, int]] | None = None,
        *,
        checked: bool = False,
        ts: int | None = None,
    ) -> Sequence[list[Event]]:
        """Stamp, journal (group commit) and apply a batch (``Exchange.apply_batch``); each command's events.

        ``origins``: per command, the member that sent it and its request id (docs/ARCHITECTURE.md
        "Persistence and recovery": the gateway's execution reports are a projection of the journal).
        ``checked``: every command was decoded with its bounds checked (the gateway's); otherwise they
        are checked here, and ``InvalidCommand`` is raised before anything is journaled.
        ``ts``: the exchange time to stamp, read from ``clock`` by the caller beforehand (None: read
        now). An atomic batch is rehearsed first (``Exchange.rehearse``) and must then be stamped with
        the time it was rehearsed at, or a rule that reads the time could accept it in the rehearsal
        and judge it otherwise when applied.
        """
        if not commands:
            return []
        if not checked:
            check_commands(commands)
        if ts is None:
            ts = self.clock()
        if origins is None:
            origins = [("", 0)] * len(commands)
        self.journal.append_commands(ts, cast(Sequence[AnyCommand], commands), origins)
        # One apply_batch for the whole batch: on the fast book, one kernel call per run of orders.
        batch = self.exchange.command_batch(commands, [ts] * len(commands))
        return self.exchange.apply_batch(batch).all_events()

    def submit(self, command: Command) -> list[Event]:
        return self.submit_batch([command])[0]

    def snapshot(self) -> Path:
        """Write the full state with the seq it covers (at end of day and on demand)."""
        return write_snapshot(self.journal.path.parent, self.journal.last_seq, self.exchange.snapshot())


class Recovered(msgspec.Struct, kw_only=True):
    exchange: Exchange
    snapshot_seq: int  # 0 when started from an empty state
    last_seq: int
    replayed: int  # journal records applied after the snapshot


def recover(
    directory: Path,
    config: ExchangeConfig,
    book: str | None = None,
    use_snapshots: bool = True,
    on_events: Callable[[JournalRecord, list[Event]], None] | None = None,
    accept_snapshot: Callable[[int], bool] | None = None,
    events_for: tuple[type[Command], ...] | None = None,
) -> Recovered:
    """Rebuild the exchange: the newest valid snapshot, then every journal record after it.

    ``on_events`` sees the events of each replayed record: the node uses it to bring the
    projections of the journal (the end-of-day database) up to date after a crash. Records are
    replayed in batches (``REPLAY_BATCH``), so it must not read the exchange's state.
    ``accept_snapshot(seq)`` may pass over snapshots a caller cannot use (the node needs its
    execution reports saved at the same seq); the journal then replays from an older one.
    ``events_for``: only the records of these command types go to ``on_events`` (a reader of the
    end-of-day events needs no order's events decoded); None: every record.
    """
    snapshot_seq, exchange = 0, None
    for seq, blob in valid_snapshots(directory) if use_snapshots else ():
        if accept_snapshot is not None and not accept_snapshot(seq):
            continue
        try:
            snapshot_seq, exchange = seq, Exchange.from_snapshot(config, blob, book)
            break
        except msgspec.DecodeError as exc:
            # Written by a version with another state layout: the journal still holds every command,
            # so an older snapshot or the whole journal rebuilds the same state.
            _log.warning("recovery.snapshot_unreadable", directory=str(directory), seq=seq, reason=str(exc))
    if exchange is None:
        snapshot_seq, exchange = 0, Exchange(config, book)
    last_seq, replayed = snapshot_seq, 0
    if (directory / JOURNAL_FILE).exists():
        pending: list[JournalRecord] = []
        for record in read_journal(directory, after_seq=snapshot_seq):
            pending.append(record)
            if len(pending) == REPLAY_BATCH:
                _replay(exchange, pending, on_events, events_for)
                pending = []
            last_seq, replayed = record.seq, replayed + 1
        _replay(exchange, pending, on_events, events_for)
    return Recovered(exchange=exchange, snapshot_seq=snapshot_seq, last_seq=last_seq, replayed=replayed)


# Journal records replayed per ``apply_batch``: the same events as one by one (the differential
# tests hold the batch path to it), at a fraction of the cost on the fast book, where a single
# command pays ~10 µs of kernel dispatch and boundary work and a batched one ~1-3 µs.
REPLAY_BATCH = 4_096


def _replay(
    exchange: Exchange,
    records: Sequence[JournalRecord],
    on_events: Callable[[JournalRecord, list[Event]], None] | None,
    events_for: tuple[type[Command], ...] | None = None,
) -> None:
    """Apply ``records``; ``on_events`` sees each one's events after the whole batch was applied.

    Without ``on_events`` nobody reads the events, and on the fast book they are never built: the
    kernel has changed the state in full by the time its records could be decoded (decoding was
    ~40% of a replayed record; bench/RESULTS.md, issue 19, ninth session).
    """
    if not records:
        return
    batch = exchange.command_batch([r.command for r in records], [r.ts for r in records])
    applied = exchange.apply_batch(batch)
    if on_events is None:
        return
    if events_for is None:
        for record, events in zip(records, applied.all_events(), strict=True):
            on_events(record, events)
        return
    for index, record in enumerate(records):
        if isinstance(record.command, events_for):
            on_events(record, applied.events(index))
