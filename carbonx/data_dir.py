"""An existing exchange data directory, opened from outside the node to apply administrative commands.

The regulator's tools (``carbonx registry ...``) change the exchange the only way anything does:
through the journal. ``apply_commands`` takes the journal's lock, rebuilds the exchange from the
newest snapshot and the journal, rehearses the batch on a throwaway copy, and only when no command
would be rejected journals the whole batch as one group commit and applies it. A batch is therefore
applied whole or not at all, and a replay applies exactly what was applied.

The end-of-day database is a projection of the journal: the events of every ``EndOfDay`` this
opening replays (one journaled but not yet recorded when a process stopped) or applies are recorded
into it, idempotently per trading day.

Whatever writes a data directory holds the journal's lock for the whole of its writing (the
journal, the database, snapshots): a tool refuses a directory a running node holds with one line
(``DataDirUnavailable``) and changes nothing in it. Readers (``open_exchange``, ``held_by_a_node``,
``find_registry_file``) take no lock and write nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from carbonx.errors import CarbonxError
from carbonx.statements_db import DB_FILE, StatementStore
from engine.exchange import Exchange
from engine.journal import JOURNAL_FILE, Journal, JournalLocked, JournalRecord, journal_locked, read_journal
from engine.messages import Command, EndOfDay, Event, OrderRejected, RecordRegistryFile, RequestRejected
from engine.recovery import Recovered, Sequencer, check_commands, recorded_config, recover


class DataDirUnavailable(CarbonxError):
    """The data directory is missing or locked by a running node; one line."""


class CommandsRejected(CarbonxError):
    """The exchange would reject commands of a batch; nothing was applied.

    ``rejections`` holds (index in the batch, reject text) for every rejected command.
    """

    def __init__(self, rejections: Sequence[tuple[int, str]], total: int) -> None:
        self.rejections = list(rejections)
        first = self.rejections[0]
        super().__init__(
            f"{len(self.rejections)} of {total} commands would be rejected, nothing applied "
            f"(first: command #{first[0] + 1}: {first[1]})"
        )


def _require_data_dir(directory: Path) -> None:
    if not directory.is_dir():
        raise DataDirUnavailable(f"{directory}: no such data directory")


def open_exchange(directory: Path) -> Recovered:
    """The exchange as the data directory holds it (read only: takes no lock, writes nothing)."""
    _require_data_dir(directory)
    return recover(directory, recorded_config(directory))


def rehearse(exchange: Exchange, commands: Sequence[Command], ts: int = 0) -> list[list[Event]]:
    """Apply the batch to a throwaway copy of ``exchange``; the events, or ``CommandsRejected``."""
    trial = Exchange.from_snapshot(exchange.config, exchange.snapshot(), exchange.book_kind)
    outcomes = [trial.apply(command, ts) for command in commands]
    rejections = [
        (index, event.text)
        for index, events in enumerate(outcomes)
        for event in events
        if isinstance(event, RequestRejected | OrderRejected)
    ]
    if rejections:
        raise CommandsRejected(rejections, len(commands))
    return outcomes


def _open_journal(directory: Path, fsync: bool) -> Journal:
    try:
        return Journal.open(directory, fsync=fsync)
    except JournalLocked:
        raise DataDirUnavailable(f"{directory}: in use by a running carbonx node (journal locked)") from None


def apply_commands(
    directory: Path, commands: Sequence[Command], *, fsync: bool, clock: Callable[[], int] = time.time_ns
) -> list[list[Event]]:
    """Journal ``commands`` as one batch (one fsync) and apply them; the events of each command.

    Raises ``CommandsRejected`` (nothing journaled) when any command would be rejected.
    """
    _require_data_dir(directory)
    check_commands(commands)  # a bound broken: refused before anything is opened or rehearsed
    config = recorded_config(directory)  # before the journal is opened: it would create the file
    end_of_day: list[Event] = []

    def keep_end_of_day(record: JournalRecord, events: list[Event]) -> None:
        if isinstance(record.command, EndOfDay):
            end_of_day.extend(events)

    with _open_journal(directory, fsync) as journal:
        # Recovered under the lock, so nothing can be journaled between the rehearsal and the batch.
        exchange = recover(directory, config, on_events=keep_end_of_day).exchange
        ts = clock()
        rehearse(exchange, commands, ts)
        outcomes = Sequencer(exchange, journal, lambda: ts).submit_batch(commands)
        for command, events in zip(commands, outcomes, strict=True):
            if isinstance(command, EndOfDay):
                end_of_day.extend(events)
        if end_of_day:
            with StatementStore.open(directory / DB_FILE) as store:
                store.record(end_of_day)
        structlog.get_logger("carbonx.data_dir").info(
            "commands.applied", directory=str(directory), commands=len(commands), last_seq=journal.last_seq
        )
        return outcomes


def held_by_a_node(directory: Path) -> bool:
    """Whether a running node holds the directory's journal (its lock); creates and writes nothing."""
    return journal_locked(directory)


def find_registry_file(directory: Path, operation: str, sha256: str) -> JournalRecord | None:
    """The journal record that first applied a registry file of this operation and content.

    The first ``RecordRegistryFile`` of a key is always applied (only a later one can be a
    duplicate), so it is the first application. None when the journal has none (or the directory
    has no journal here, e.g. a node on another machine).
    """
    if not (directory / JOURNAL_FILE).is_file():
        return None
    for record in read_journal(directory):
        command = record.command
        if type(command) is RecordRegistryFile and (command.operation, command.sha256) == (operation, sha256):
            return record
    return None


def journal_last_seq(directory: Path) -> int:
    """The seq of the journal's last record (0 when there is none)."""
    if not (directory / JOURNAL_FILE).exists():
        return 0
    last = 0
    for record in read_journal(directory):
        last = record.seq
    return last
