"""A whole batch's event records into events at once: ``EventBatch.all_events`` on the fast book.

The node, recovery, surveillance's ingest and a library user read every event of a batch, and one
record at a time that cost more than everything else on the way (1.9 µs a command on the standard
flow, 5.4 µs with the cycle collector, which a row list per record kept busy). Here the records
are decoded kind by kind, column-wise:
- the records of one kind are taken together, only the columns the kind holds, and turned into
  Python ints with one ``tolist()`` per column (a few lists, not a list per record: the collector
  has almost nothing new to scan);
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
from typing import Any

import numpy as np

from engine.listing.fast.event_columns import E_KIND
from engine.listing.fast.event_records import RECORD_KINDS, RecordKind, record_fields
from engine.listing.fast.events import DECODERS, Names, value_source
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


def decode_batch(
    records: np.ndarray, first: np.ndarray, commands: Sequence[Command], stamps: list[int], names: Names
) -> list[Event]:
    """The batch's events in record order (command ``i``'s records are ``first[i]:first[i + 1]``).

    Raises what a decoder raises; the caller then decodes command by command, which finds the
    records that do not decode and reports them (``engine.batch.decode_or_report``).
    """
    n = first.shape[0] - 1
    total = records.shape[0]
    if total == 0:
        return []
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(first))
    kinds = records[:, E_KIND]
    order = np.argsort(kinds, kind="stable")  # records grouped by kind, each group in record order
    grouped = kinds[order]
    starts = [0, *(np.flatnonzero(grouped[1:] != grouped[:-1]) + 1).tolist()]  # not np.r_: 4 µs a call against 2
    decoded: list[Event] = []
    known = len(commands)
    for start, end in zip(starts, [*starts[1:], total], strict=True):
        code = int(grouped[start])
        picked = order[start:end]
        owners = owner[picked].tolist()
        bulk = BULK.get(code)
        if bulk is not None and DECODERS[code] is MIRRORS[code]:
            decode, used = bulk
            columns = records[picked][:, used].T.tolist() if used else []
            decoded += decode(owners, columns, commands, stamps, known, names)
        else:
            decoded += ONE_BY_ONE[code](owners, records[picked].tolist(), commands, stamps, known, names)
    where = np.empty_like(order)
    where[order] = np.arange(total)  # record r's event is decoded[where[r]]
    return list(map(decoded.__getitem__, where.tolist()))
