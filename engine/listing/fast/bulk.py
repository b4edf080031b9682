"""A whole batch's event records into events at once: ``EventBatch.all_events`` on the fast book.

The node, recovery, surveillance's ingest and a library user read every event of a batch, and one
record at a time that cost more than everything else on the way (1.9 µs a command on the standard
flow, 5.4 µs with the cycle collector, which a row list per record kept busy). Here the records
are decoded kind by kind, column-wise:
- one kernel call (``engine.listing.fast.regroup``) groups the records by kind, in record order,
  with only the columns each kind holds, each column a contiguous row; each kind's are turned into
  Python ints with one ``tolist()`` (a few lists, not a list per record: the collector has almost
  nothing new to scan);
- each kind's bulk decoder, generated at import from the same expressions as the one-record
  decoder (``engine.listing.fast.events.decoder_source``), runs one loop over those columns;
- the events go back into record order; ``engine.batch.EventLists`` cuts each command's from them
  when it is read.

A kind whose fields need the whole record (a reject's text reads its context columns by position)
is decoded record by record with the one-record decoder. The events are the same objects, field
for field, as ``Names.decode`` gives; tests/test_bulk_decode.py compares them on seeded flows.
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from engine.listing.fast.event_columns import EVENT_FIELDS
from engine.listing.fast.event_records import RECORD_KINDS, RecordKind, record_fields
from engine.listing.fast.events import DECODERS, Names, value_source
from engine.listing.fast.regroup import group_records
from engine.messages import Command, Event

# A bulk decoder: (each record's command index, the kind's held columns as lists, the commands, the
# time stamps, how many commands, the names) -> the records' events, in the order given.
BulkDecoder = Callable[[list[int], list[list[int]], Sequence[Command], list[int], int, Names], list[Event]]

_ROW = re.compile(r"row\[(\d+)\]")
_NAMES = {"names.accounts": "accounts", "names.instruments": "instruments", "names.client_order_ids": "coids"}
# In a comprehension there is no statement to name the command and the time in: each use reads them.
# The client order id's expression tests its command for None; the commands of a batch are never None.
_OWN_ID = ("cmd.client_order_id if cmd is not None else", "commands[owner].client_order_id if owner < known else")
_COMMAND = (re.compile(r"(?<!')\bcmd\b(?!')"), "(commands[owner] if owner < known else None)")


def bulk_source(kind: RecordKind, namespace: dict[str, Any]) -> tuple[str, list[int]] | None:
    """The source of the kind's bulk decoder and the columns it reads, or None (it needs whole records).

    One list comprehension over the held columns: a loop appending each event cost 10-30% more (the
    trades' decoding 501 against 365 ns an event, measured on the standard flow on this 2-core EPYC).
    """
    namespace[kind.event.__name__] = kind.event
    fields: list[tuple[str, str]] = []
    for field in record_fields(kind):
        value = value_source(field, kind, namespace)
        if value is None:
            continue
        value = _ROW.sub(r"r\1", value)
        if re.search(r"\brow\b", value):
            return None
        for name, local in _NAMES.items():
            value = value.replace(name, local)
        value = value.replace(*_OWN_ID)
        value = _COMMAND[0].sub(_COMMAND[1], value)
        if value == "ts":  # Held.TIME
            value = "stamps[owner]"
        fields.append((field.name, value))
    used = sorted({int(c) for _, value in fields for c in re.findall(r"\br(\d+)\b", value)})
    names = ", ".join(f"r{c}" for c in used)
    lines = [
        f"def bulk_{kind.name.lower()}(owners, columns, commands, stamps, known, names):",
        "    accounts, instruments, coids = names.accounts, names.instruments, names.client_order_ids",
        f"    return [{kind.event.__name__}(",
        *(f"            {name}={value}," for name, value in fields),
        f"        ) for owner, {names} in zip(owners, *columns)]" if used else "        ) for owner in owners]",
        "",
    ]
    return "\n".join(lines), used


def bulk_decoder(kind: RecordKind) -> tuple[BulkDecoder, list[int]] | None:
    namespace: dict[str, Any] = {}
    made = bulk_source(kind, namespace)
    if made is None:
        return None
    source, used = made
    filename = f"<bulk decoder of {kind.event.__name__} records>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)  # for tracebacks
    exec(compile(source, filename, "exec"), namespace)
    function: BulkDecoder = namespace[f"bulk_{kind.name.lower()}"]
    return function, used


BULK: dict[int, tuple[BulkDecoder, list[int]]] = {
    kind.code: made for kind in RECORD_KINDS if (made := bulk_decoder(kind)) is not None
}
# The one-record decoder each bulk decoder stands for: when ``DECODERS`` holds another (a test's
# stand-in that fails), that one runs, record by record, so both paths decode alike.
MIRRORS = {code: DECODERS[code] for code in BULK}


def _one_by_one(code: int) -> BulkDecoder:
    """The one-record decoder over a kind's records, whole (``DECODERS``, read when called)."""

    def decode_each(
        owners: list[int],
        rows: list[list[int]],
        commands: Sequence[Command],
        stamps: list[int],
        known: int,
        names: Names,
    ) -> list[Event]:
        decode = DECODERS[code]
        return [
            decode(row, stamps[owner], commands[owner] if owner < known else None, names)
            for owner, row in zip(owners, rows, strict=True)
        ]

    return decode_each


ONE_BY_ONE = {kind.code: _one_by_one(kind.code) for kind in RECORD_KINDS}


def _column_table(kinds: dict[int, list[int] | None]) -> np.ndarray:
    """``regroup.group_records``'s table: per kind code, how many columns it reads and which
    (None: every column), -1 for a code that is no kind."""
    table = np.zeros((max(kind.code for kind in RECORD_KINDS) + 1, 1 + EVENT_FIELDS), dtype=np.int64)
    table[:, 0] = -1
    for code, used in kinds.items():
        held = list(range(EVENT_FIELDS)) if used is None else used
        table[code, 0] = len(held)
        table[code, 1 : 1 + len(held)] = held
    return table


# Each kind's held columns where it has a bulk decoder, its whole record where it has none; and the
# whole record of every kind, for when a decoder other than its bulk decoder's mirror is in place.
_HELD = _column_table({kind.code: BULK[kind.code][1] if kind.code in BULK else None for kind in RECORD_KINDS})
_WHOLE = _column_table({kind.code: None for kind in RECORD_KINDS})


def load_kernel() -> None:
    """Load (or compile) the grouping kernel with the types ``decode_batch`` passes it, on no records."""
    group_records(
        np.zeros((0, EVENT_FIELDS), dtype=np.int64),
        np.zeros(1, dtype=np.int64),
        _HELD,
        np.empty((2 + EVENT_FIELDS, 0), dtype=np.int64),
        np.empty(_HELD.shape[0] + 1, dtype=np.int64),
    )


def decode_batch(
    records: np.ndarray, first: np.ndarray, commands: Sequence[Command], stamps: list[int], names: Names
) -> list[Event]:
    """The batch's events in record order (command ``i``'s records are ``first[i]:first[i + 1]``).

    Raises what a decoder raises, or ValueError for a record of no known kind; the caller then
    decodes command by command, which finds the records that do not decode and reports them
    (``engine.batch.decode_or_report``).
    """
    total = records.shape[0]
    if total == 0:
        return []
    packed = np.empty((2 + EVENT_FIELDS, total), dtype=np.int64)  # what each kind holds, then where
    bounds = np.empty(_HELD.shape[0] + 1, dtype=np.int64)
    group_records(records, first, _HELD, packed, bounds)
    ends = bounds.tolist()
    present = [code for code, (start, end) in enumerate(pairwise(ends)) if start < end]
    mirrored = [DECODERS[code] is MIRRORS[code] if code in MIRRORS else False for code in present]
    if not all(mirrored[i] for i, code in enumerate(present) if code in BULK):
        # A decoder stands in for a bulk decoder's mirror (a test's, that fails): it reads whole records.
        group_records(records, first, _WHOLE, packed, bounds)
        mirrored = [False] * len(present)
    decoded: list[Event] = []
    known = len(commands)
    for code, bulk_mirrored in zip(present, mirrored, strict=True):
        start, end = ends[code], ends[code + 1]
        if bulk_mirrored:
            decode, used = BULK[code]
            owners, *columns = packed[: 1 + len(used), start:end].tolist()
            decoded += decode(owners, columns, commands, stamps, known, names)
        else:
            owners, rows = packed[0, start:end].tolist(), packed[1 : 1 + EVENT_FIELDS, start:end].T.tolist()
            decoded += ONE_BY_ONE[code](owners, rows, commands, stamps, known, names)
    return list(map(decoded.__getitem__, packed[-1, :total].tolist()))
