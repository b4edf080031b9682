"""Batches for ``Exchange.apply_batch``: commands in, events out, as columns until asked for objects.

``CommandBatch`` is what the node's sequencer hands the exchange per poll and what the benchmark
times: on the fast book an int64 column per field (``engine.listing.fast.layout.X_*``, one row per
command, Fortran order so each column is contiguous), built once at the boundary by
``Exchange.command_batch``; the command objects ride along for the reject texts and for the
commands the kernels leave to Python (sessions, halts, registry operations, end of day).

``EventBatch`` holds what the batch caused: on the fast book the fixed-layout event records
(``engine.listing.fast.layout.E_*``) and, per command, where its records start. ``events(i)`` turns one
command's records into ``engine.messages`` events when someone needs them; nothing is decoded
otherwise. On the reference book both hold plain objects, so callers never care which book ran.

The fast book's records are a view of the listing's own event buffer, which the next batch
overwrites: copying them out cost as much as a third of the kernel's time. They are read (or
``keep()`` copied) before the next ``apply_batch``; reading them later raises ``StaleEventBatch``
instead of returning another batch's events.

A record the boundary cannot turn into an event (a defect in ``engine.listing.fast.events``, or a record
it does not know) does not raise out of the reader: see ``decode_or_report``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import overload

import numpy as np

from engine.messages import Command, Event

# The event standing in for records of ``cmd`` (stamped ``ts``) that could not be decoded, given the
# exception: ``Exchange`` gives the command's INTERNAL_ERROR reject and keeps the failure for the node.
ReportFailure = Callable[[Command, int, Exception], Event]
# Turns one command's records (rows from ``ndarray.tolist()``), stamped ``ts``, into its events; the
# command is None for records no command caused (an end-of-day expiry).
RecordDecoder = Callable[[list[list[int]], int, Command | None], list[Event]]
# Turns a whole batch's records into its events in record order at once (records, first, commands,
# time stamps); it may raise, and the batch is then decoded command by command with a ``RecordDecoder``.
BatchDecoder = Callable[[np.ndarray, np.ndarray, Sequence[Command], list[int]], list[Event]]


def decode_or_report(
    rows: list[list[int]], ts: int, cmd: Command | None, decode: RecordDecoder, report: ReportFailure | None
) -> list[Event]:
    """``decode``, except that records it cannot turn into events end in ``report``'s event.

    By the time its records are read, the kernel has applied the command in full: the state is
    whole and only its report failed. So the records that decode stand, in order, and the others
    give way to one ``report`` event after them. The market is not halted, unlike a failure while
    applying (``Exchange.apply``): records are decoded when someone reads the batch, after the
    batch's later commands were applied, so a halt then would depend on where the batches were cut
    (the node's poll batches, recovery's 4,096). The one-command path (``FastListing.apply_many``)
    decodes through here too, so one by one and in batches the events are the same.
    Without ``report`` (or without the command) the failure is raised, as ``decode`` does.
    """
    try:
        return decode(rows, ts, cmd)
    except Exception as exc:
        if report is None or cmd is None:
            raise
        failure = exc
    decoded: list[Event] = []
    for row in rows:
        # Every record that decodes is kept; any later failure is the first one's consequence or twin.
        with contextlib.suppress(Exception):
            decoded += decode([row], ts, cmd)
    return [*decoded, report(cmd, ts, failure)]


# Below this many commands, decoding command by command is the faster: decoding a batch at once
# pays a fixed ~6 µs (grouping the records by kind in one kernel call, a few numpy calls a kind)
# whatever its size. ``python -m bench.decode`` on this 2-core EPYC, two runs, ns a command at once
# against command by command: 16 commands 1,541 / 1,550 and 2,070 / 1,764; 24: 1,562 / 1,513 and
# 1,316 / 1,365; 32: 1,304 / 1,498 and 1,239 / 1,422 (bench/RESULTS.md, issue 19, fifth session).
BULK_FROM = 24


class EventLists(Sequence[list[Event]]):
    """Each command's events, cut from the batch's events in record order when read.

    ``EventBatch.all_events`` on the fast book: a list per command, kept for the whole batch, cost
    the cycle collector a scan of every one of them (they are containers, and live long enough to
    reach the oldest generation); cut when read, each is dropped as soon as its reader is done.
    Reading command ``i`` twice gives equal lists, not the same list. ``outcome`` holds the events of
    the commands applied in Python (and of any whose records did not decode).
    """

    __slots__ = ("_bounds", "_events", "_outcome")

    def __init__(self, events: list[Event], bounds: list[int], outcome: dict[int, list[Event]]) -> None:
        self._events = events
        self._bounds = bounds  # command i's events are events[bounds[i]:bounds[i + 1]]
        self._outcome = outcome

    def __len__(self) -> int:
        return len(self._bounds) - 1

    @overload
    def __getitem__(self, index: int) -> list[Event]: ...

    @overload
    def __getitem__(self, index: slice) -> list[list[Event]]: ...

    def __getitem__(self, index: int | slice) -> list[Event] | list[list[Event]]:
        if isinstance(index, slice):  # the node cuts each submission's commands out of its batch
            events, bounds, outcome = self._events, self._bounds, self._outcome
            return [
                python if (python := outcome.get(i)) is not None else events[bounds[i] : bounds[i + 1]]
                for i in range(*index.indices(len(self)))
            ]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("command index out of range")
        python = self._outcome.get(index)
        if python is not None:
            return python
        return self._events[self._bounds[index] : self._bounds[index + 1]]

    def __iter__(self) -> Iterator[list[Event]]:
        events, bounds, outcome = self._events, self._bounds, self._outcome
        if not outcome:
            for i in range(len(bounds) - 1):
                yield events[bounds[i] : bounds[i + 1]]
            return
        for i in range(len(bounds) - 1):
            python = outcome.get(i)
            yield python if python is not None else events[bounds[i] : bounds[i + 1]]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __repr__(self) -> str:
        return f"EventLists({list(self)!r})"


class CommandBatch:
    def __init__(self, commands: Sequence[Command], ts: Sequence[int], columns: np.ndarray | None = None) -> None:
        self.commands = commands
        self.ts = ts
        self.columns = columns  # the fast book's columnar form; None for the reference book

    def __len__(self) -> int:
        return len(self.ts)


class StaleEventBatch(RuntimeError):
    """An event batch read after the next batch overwrote its records (``EventBatch.keep`` them)."""


class EventBatch:
    def __init__(
        self,
        batch: CommandBatch,
        records: np.ndarray | None = None,
        first: np.ndarray | None = None,
        decode: RecordDecoder | None = None,
        python_events: dict[int, list[Event]] | None = None,
        current: Callable[[], bool] | None = None,
        report_failure: ReportFailure | None = None,
        decode_all: BatchDecoder | None = None,
    ) -> None:
        self.batch = batch
        self._records = records  # int64 (records, EVENT_FIELDS); None on the reference book
        self.first = first  # first record of each command, and the total at [len(batch)]
        self._decode = decode
        self._python = python_events or {}
        self._current = current  # False once the buffer under ``records`` holds a later batch
        self._report_failure = report_failure  # records that do not decode (``decode_or_report``)
        self._decode_all = decode_all

    @property
    def records(self) -> np.ndarray | None:
        if self._current is not None and not self._current():
            raise StaleEventBatch("these event records were overwritten by a later batch: keep() them to read later")
        return self._records

    def keep(self) -> EventBatch:
        """Copy the records out of the listing's buffer, so they can be read after later batches."""
        records = self.records
        if records is not None and self._current is not None:
            self._records, self._current = records.copy(), None
        return self

    def __len__(self) -> int:
        return len(self.batch)

    def events(self, index: int) -> list[Event]:
        """The events of command ``index`` as messages."""
        python = self._python.get(index)
        if python is not None:
            return python
        records = self.records
        if records is None or self.first is None or self._decode is None:
            return []
        start, end = int(self.first[index]), int(self.first[index + 1])
        commands = self.batch.commands
        cmd = commands[index] if index < len(commands) else None
        try:
            return self._decode(records[start:end].tolist(), int(self.batch.ts[index]), cmd)
        except Exception:
            return self._decode_failed(index, records[start:end].tolist())

    def all_events(self) -> Sequence[list[Event]]:
        """Every command's events as messages, in command order (on the fast book, ``EventLists``)."""
        records = self.records
        decode = self._decode
        if records is None or self.first is None or decode is None:
            return [self._python.get(i, []) for i in range(len(self))]
        commands, ts = self.batch.commands, self.batch.ts
        if self._decode_all is not None and len(self) >= BULK_FROM:
            try:
                every = self._decode_all(records, self.first, commands, list(map(int, ts)))
            except Exception:  # a record that does not decode: found and reported command by command below
                pass
            else:
                return EventLists(every, self.first.tolist(), self._python)
        rows, bounds = records.tolist(), self.first.tolist()
        out: list[list[Event]] = []
        for i in range(len(self)):
            python = self._python.get(i)
            if python is not None:
                out.append(python)
            else:
                cmd = commands[i] if i < len(commands) else None
                try:
                    out.append(decode(rows[bounds[i] : bounds[i + 1]], int(ts[i]), cmd))
                except Exception:
                    out.append(self._decode_failed(i, rows[bounds[i] : bounds[i + 1]]))
        return out

    def _decode_failed(self, index: int, rows: list[list[int]]) -> list[Event]:
        """The events of a command whose records do not all decode, kept: a second read reports nothing again."""
        assert self._decode is not None
        commands = self.batch.commands
        cmd = commands[index] if index < len(commands) else None
        events = decode_or_report(rows, int(self.batch.ts[index]), cmd, self._decode, self._report_failure)
        self._python[index] = events
        return events
