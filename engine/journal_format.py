"""What a journal record's payload holds: one command, or a batch of commands (engine.journal).

A payload is msgpack of one of two arrays:

- ``JournalRecord``: ``[seq, ts, command, origin, request_id]``, one command. Every journal written
  before batch records existed holds only these, and a lone command is still written so.
- ``JournalBatch``: ``["B", first_seq, ts, commands, origins]``, the commands a sequencer stamped
  together (at one exchange time ``ts``) with consecutive seqs from ``first_seq``. ``origins`` is
  run-length coded: ``[origin, request_id, count]`` per run of consecutive commands from the same
  request, the counts adding up to the number of commands. At most ``BATCH_RECORD_MAX`` commands a
  record: a larger batch is several records in the same write.

The two are told apart by the payload's second byte: a batch's first element is the string "B"
(msgpack fixstr ``0xa1``), a record's is its seq (an integer). Readers see only ``JournalRecord``s:
``expand`` turns a batch into the records of its commands, the same records (and the same bytes when
encoded alone) that one record per command would have been.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

import msgspec

from engine.messages import AnyCommand
from engine.messages.limits import unchecked_decoder

BATCH_RECORD_MAX = 1_024  # commands in one batch record: what a reader holds decoded at once is bounded
_BATCH_TAG = b"\xa1B"  # msgpack of the string "B", right after the array's header byte


class JournalRecord(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    seq: int
    ts: int  # exchange time, ns since the epoch (UTC)
    command: AnyCommand
    # Who sent it through the gateway and the request it came in (the execution reports it causes
    # are routed and numbered from these, so a replay rebuilds them exactly). "" : the node itself
    # (scheduler, cancel-on-disconnect) or an offline tool. Older records decode with the defaults.
    origin: str = ""
    request_id: int = 0


class JournalBatch(msgspec.Struct, frozen=True, kw_only=True, array_like=True, tag="B"):
    first_seq: int
    ts: int
    commands: list[AnyCommand]
    origins: list[tuple[str, int, int]]  # (origin, request_id, count) per run of commands


class BadBatch(ValueError):
    """A batch record that decodes but cannot be expanded (its runs do not cover its commands)."""


_encoder = msgspec.msgpack.Encoder()
_record_decoder = msgspec.msgpack.Decoder(JournalRecord)
_batch_decoder = msgspec.msgpack.Decoder(JournalBatch)
# Records journaled before a field's bound existed (engine.messages.limits): read without the bounds.
_unchecked_record_decoder = unchecked_decoder(JournalRecord)
_unchecked_batch_decoder = unchecked_decoder(JournalBatch)


def is_batch(payload: bytes) -> bool:
    return payload[1:3] == _BATCH_TAG


def decode_payload(payload: bytes, *, checked: bool = True) -> JournalRecord | JournalBatch:
    """The record or batch in ``payload``; msgspec's ``ValidationError``/``DecodeError`` as they come.

    ``checked``: with the commands' field bounds (False: without, for what an older version wrote).
    """
    batch = is_batch(payload)
    if checked:
        return _batch_decoder.decode(payload) if batch else _record_decoder.decode(payload)
    decoder = _unchecked_batch_decoder if batch else _unchecked_record_decoder
    decoded: JournalRecord | JournalBatch = decoder.decode(payload)
    return decoded


def encode_record(record: JournalRecord) -> bytes:
    return _encoder.encode(record)


def encode_commands(
    first_seq: int, ts: int, commands: Sequence[AnyCommand], origins: Sequence[tuple[str, int]]
) -> list[bytes]:
    """The payloads journaling ``commands`` from seq ``first_seq`` at time ``ts``, each with its
    (origin, request id): a lone command as a ``JournalRecord``, more as ``JournalBatch``es."""
    if len(commands) != len(origins):
        raise ValueError(f"{len(commands)} commands but {len(origins)} origins")
    if len(commands) == 1:
        origin, request_id = origins[0]
        return [_encoder.encode((first_seq, ts, commands[0], origin, request_id))]
    payloads = []
    for start in range(0, len(commands), BATCH_RECORD_MAX):
        chunk = commands[start : start + BATCH_RECORD_MAX]
        runs = [(o, r, len(list(g))) for (o, r), g in groupby(origins[start : start + BATCH_RECORD_MAX])]
        batch = JournalBatch(first_seq=first_seq + start, ts=ts, commands=list(chunk), origins=runs)
        payloads.append(_encoder.encode(batch))
    return payloads


def expand(batch: JournalBatch) -> list[JournalRecord]:
    """The records of a batch's commands, in order; ``BadBatch`` if its runs do not cover them."""
    commands, ts = batch.commands, batch.ts
    if not commands:
        raise BadBatch("a batch record with no command")
    if sum(count for _, _, count in batch.origins) != len(commands) or any(c < 1 for _, _, c in batch.origins):
        raise BadBatch(f"its origins' counts do not add up to its {len(commands)} commands")
    records: list[JournalRecord] = []
    seq, index = batch.first_seq, 0
    for origin, request_id, count in batch.origins:
        for command in commands[index : index + count]:
            records.append(JournalRecord(seq=seq, ts=ts, command=command, origin=origin, request_id=request_id))
            seq += 1
        index += count
    return records
