"""An existing exchange data directory, opened from outside the node to apply administrative commands.

The regulator's tools (``carbonx registry ...``) change the exchange the only way anything does:
through the journal. ``apply_commands`` takes the journal's lock, rebuilds the exchange from the
newest snapshot and the journal, rehearses the batch on a throwaway copy (``Exchange.rehearse``) at
the time it then stamps on it, and only when no command would be rejected journals the whole batch
as one group commit and applies it. A batch is therefore applied whole or not at all, and a replay
applies exactly what was applied.

The end-of-day database is a projection of the journal: the events of every ``EndOfDay`` this
opening replays (one journaled but not yet recorded when a process stopped) or applies are recorded
into it, idempotently per trading day.

Whatever writes a data directory holds the journal's lock for the whole of its writing (the
journal, the database, snapshots): a tool refuses a directory a running node holds with one line
(``DataDirUnavailable``) and changes nothing in it. Readers (``open_exchange``, ``rehearse_commands``,
``held_by_a_node``, ``find_registry_file``) take no lock and write nothing.

Every command that takes a data directory checks it first and says what is wrong in one line,
never as a raw errno: a writer (``writable_data_dir``: serve, simulate) gets a directory it can
write, created if missing; a reader (``readable_data_dir``: replay, eod report) gets one that holds
a journal, and creates nothing, not even the directory.
"""

from __future__ import annotations

import errno
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from carbonx.errors import CarbonxError
from carbonx.statements_db import DB_FILE, StatementStore
from engine.journal import JOURNAL_FILE, Journal, JournalLocked, JournalRecord, journal_locked, read_journal
from engine.messages import Command, EndOfDay, Event, RecordRegistryFile

if TYPE_CHECKING:  # the engine loads numba: imported by the functions that replay, not by the readers
    from engine.exchange import Exchange
    from engine.recovery import Recovered


class DataDirUnavailable(CarbonxError):
    """The data directory is missing, a file, not writable, holds no journal, or is locked by a running
    node; one line."""


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
        raise DataDirUnavailable(f"{directory}: {_not_a_directory(directory)}")


def _not_a_directory(directory: Path) -> str:
    """Why ``directory`` is no directory: it is a file, lies under one, or does not exist."""
    if directory.exists():
        return "is a file, not a data directory"
    blocking = _file_above(directory)
    return "no such data directory" + (f" ({blocking} is a file)" if blocking else "")


def _file_above(directory: Path) -> Path | None:
    """The file in the way of ``directory``'s path (its nearest existing parent, if that is no directory)."""
    nearest = next((parent for parent in directory.parents if parent.exists()), None)
    return nearest if nearest is not None and not nearest.is_dir() else None


def writable_data_dir(directory: Path) -> None:
    """Make ``directory`` ready for a writer: created (with its parents) when missing, and writable.

    Raises ``DataDirUnavailable`` with one line when it is a file or under one, cannot be created,
    or cannot be written. Writability is tried by writing (an unnamed temporary file, gone at once):
    ``os.access`` says yes to root on a read-only mount such as sysfs.
    """
    if directory.exists() and not directory.is_dir():
        raise DataDirUnavailable(f"{directory}: {_not_a_directory(directory)}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocking = _file_above(directory) if exc.errno == errno.ENOTDIR else None
        reason = f"{blocking} is a file" if blocking else _words(exc)
        raise DataDirUnavailable(f"{directory}: cannot create the data directory: {reason}") from None
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise DataDirUnavailable(f"{directory}: cannot write in the data directory: {_words(exc)}") from None


def readable_data_dir(directory: Path) -> None:
    """Check that ``directory`` holds a journal for a reader; creates nothing (not even the directory).

    Raises ``DataDirUnavailable`` with one line when it is missing, a file, or holds no journal.
    """
    if not directory.is_dir():
        raise DataDirUnavailable(f"{directory}: {_not_a_directory(directory)}")
    if not (directory / JOURNAL_FILE).is_file():
        raise DataDirUnavailable(
            f"{directory}: holds no journal ({JOURNAL_FILE}): not a carbonx data directory "
            "(carbonx serve and carbonx simulate write one)"
        )


def unreadable(directory: Path, exc: OSError) -> DataDirUnavailable:
    """A reader's OS error as one line naming the directory (or the file in it) and the reason."""
    where = exc.filename if exc.filename else directory
    return DataDirUnavailable(f"{where}: cannot read the data directory: {_words(exc)}")


def _words(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def open_exchange(directory: Path) -> Recovered:
    """The exchange as the data directory holds it (read only: takes no lock, writes nothing)."""
    from engine.recovery import recorded_config, recover

    _require_data_dir(directory)
    return recover(directory, recorded_config(directory))


def _rehearse(exchange: Exchange, commands: Sequence[Command], ts: int) -> list[list[Event]]:
    """The events of each command, applied at ``ts`` to a copy (``Exchange.rehearse``); or ``CommandsRejected``."""
    rehearsal = exchange.rehearse(commands, ts)
    if not rehearsal.accepted:
        raise CommandsRejected([(r.index, r.text) for r in rehearsal.rejections], len(commands))
    return rehearsal.events


def rehearse_commands(
    directory: Path, commands: Sequence[Command], *, clock: Callable[[], int] = time.time_ns
) -> list[list[Event]]:
    """What ``apply_commands`` would do now, without doing it: the events of each command.

    Rehearsed on the exchange the directory holds, at the time the batch would be stamped with;
    raises ``CommandsRejected`` as ``apply_commands`` would. Takes no lock and writes nothing.
    """
    return _rehearse(open_exchange(directory).exchange, commands, clock())


def _open_journal(directory: Path, fsync: bool) -> Journal:
    try:
        return Journal.open(directory, fsync=fsync)
    except JournalLocked:
        raise DataDirUnavailable(f"{directory}: in use by a running carbonx node (journal locked)") from None


def apply_commands(
    directory: Path, commands: Sequence[Command], *, fsync: bool, clock: Callable[[], int] = time.time_ns
) -> Sequence[list[Event]]:
    """Journal ``commands`` as one batch (one fsync) and apply them; the events of each command.

    Raises ``CommandsRejected`` (nothing journaled) when any command would be rejected.
    """
    from engine.recovery import Sequencer, check_commands, recorded_config, recover

    _require_data_dir(directory)
    check_commands(commands)  # a bound broken: refused before anything is opened or rehearsed
    config = recorded_config(directory)  # before the journal is opened: it would create the file
    writable_data_dir(directory)
    end_of_day: list[Event] = []

    def keep_end_of_day(record: JournalRecord, events: list[Event]) -> None:
        if isinstance(record.command, EndOfDay):
            end_of_day.extend(events)

    with _open_journal(directory, fsync) as journal:
        # Recovered under the lock, so nothing can be journaled between the rehearsal and the batch.
        exchange = recover(directory, config, on_events=keep_end_of_day, events_for=(EndOfDay,)).exchange
        # Rehearsed and journaled at the same time: what was judged acceptable is what is applied.
        ts = clock()
        _rehearse(exchange, commands, ts)
        outcomes = Sequencer(exchange, journal, clock).submit_batch(commands, ts=ts)
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
    return directory.is_dir() and journal_locked(directory)


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
