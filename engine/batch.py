"""Batches for ``Exchange.apply_batch``: commands in, events out, as columns until asked for objects.

``CommandBatch`` is what the node's sequencer hands the exchange per poll and what the benchmark
times: on the fast book an int64 column per field (``engine.fast.layout.X_*``, one row per
command, Fortran order so each column is contiguous), built once at the boundary by
``Exchange.command_batch``; the command objects ride along for the reject texts and for the
commands the kernels leave to Python (sessions, halts, registry operations, end of day).

``EventBatch`` holds what the batch caused: on the fast book the fixed-layout event records
(``engine.fast.layout.E_*``) and, per command, where its records start. ``events(i)`` turns one
command's records into ``engine.messages`` events when someone needs them; nothing is decoded
otherwise. On the reference book both hold plain objects, so callers never care which book ran.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.fast.events import Names, decode
from engine.messages import Command, Event


class CommandBatch:
    def __init__(self, commands: Sequence[Command], ts: Sequence[int], columns: np.ndarray | None = None) -> None:
        self.commands = commands
        self.ts = ts
        self.columns = columns  # the fast book's columnar form; None for the reference book

    def __len__(self) -> int:
        return len(self.ts)


class EventBatch:
    def __init__(
        self,
        batch: CommandBatch,
        records: np.ndarray | None = None,
        first: np.ndarray | None = None,
        names: Names | None = None,
        python_events: dict[int, list[Event]] | None = None,
    ) -> None:
        self.batch = batch
        self.records = records  # int64 (records, EVENT_FIELDS); None on the reference book
        self.first = first  # first record of each command, and the total at [len(batch)]
        self._names = names
        self._python = python_events or {}

    def __len__(self) -> int:
        return len(self.batch)

    def events(self, index: int) -> list[Event]:
        """The events of command ``index`` as messages."""
        python = self._python.get(index)
        if python is not None:
            return python
        if self.records is None or self.first is None or self._names is None:
            return []
        start, end = int(self.first[index]), int(self.first[index + 1])
        commands = self.batch.commands
        cmd = commands[index] if index < len(commands) else None
        return decode(self.records[start:end].tolist(), int(self.batch.ts[index]), cmd, self._names)

    def all_events(self) -> list[list[Event]]:
        """Every command's events as messages, in command order."""
        if self.records is None or self.first is None or self._names is None:
            return [self._python.get(i, []) for i in range(len(self))]
        rows, bounds = self.records.tolist(), self.first.tolist()
        commands, ts, names = self.batch.commands, self.batch.ts, self._names
        out: list[list[Event]] = []
        for i in range(len(self)):
            python = self._python.get(i)
            if python is not None:
                out.append(python)
            else:
                cmd = commands[i] if i < len(commands) else None
                out.append(decode(rows[bounds[i] : bounds[i + 1]], int(ts[i]), cmd, names))
        return out
