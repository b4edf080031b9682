"""Batch records: one record for the commands stamped together, read back as one record per command.

The format is engine/journal_format.py's docstring; the rest of the journal's rules (torn tails,
damage, old journals) are tests/test_journal.py's.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

import engine.journal_format as journal_format
from engine.journal import (
    JOURNAL_FILE,
    JOURNAL_MAGIC,
    Journal,
    JournalCorrupt,
    JournalRecord,
    follow_journal,
    read_journal,
)
from engine.journal_format import JournalBatch
from engine.messages import AnyCommand, CancelOrder, DepositCash, NewOrder, OrderType, Side

T0 = 1_700_000_000_000_000_000


def _order(i: int) -> NewOrder:
    return NewOrder(
        account=f"A{i % 3}",
        instrument="SHEA",
        client_order_id=f"c-{i}",
        side=Side.BUY if i % 2 else Side.SELL,
        order_type=OrderType.LIMIT,
        quantity=10 + i,
        price=4_000 + i,
    )


def _commands(n: int, offset: int = 0) -> list[AnyCommand]:
    return [_order(offset + i) if i % 4 else CancelOrder(account="A1", order_id=offset + i) for i in range(n)]


def _payloads(data: bytes) -> list[tuple[int, bytes]]:
    """(start offset, payload) of each record, read from the documented format."""
    found, offset = [], len(JOURNAL_MAGIC)
    while offset < len(data):
        length, crc = struct.unpack_from("<II", data, offset)
        payload = data[offset + 8 : offset + 8 + length]
        assert zlib.crc32(payload) == crc
        found.append((offset, payload))
        offset += 8 + length
    return found


def _expected(
    first_seq: int, ts: int, commands: list[AnyCommand], origins: list[tuple[str, int]]
) -> list[JournalRecord]:
    return [
        JournalRecord(seq=first_seq + i, ts=ts, command=c, origin=o, request_id=r)
        for i, (c, (o, r)) in enumerate(zip(commands, origins, strict=True))
    ]


def test_commands_appended_together_are_one_batch_record_of_the_documented_format(tmp_path: Path) -> None:
    commands = _commands(5)
    origins = [("M1", 7), ("M1", 7), ("M2", 3), ("", 0), ("M1", 8)]
    with Journal.open(tmp_path) as journal:
        journal.append_commands(T0, commands, origins)
        assert journal.last_seq == 5

    ((_, payload),) = _payloads((tmp_path / JOURNAL_FILE).read_bytes())
    raw = msgspec.msgpack.decode(payload)
    assert raw[:3] == ["B", 1, T0]
    assert raw[3] == [msgspec.to_builtins(c) for c in commands]
    assert raw[4] == [["M1", 7, 2], ["M2", 3, 1], ["", 0, 1], ["M1", 8, 1]]  # runs of one request
    assert list(read_journal(tmp_path)) == _expected(1, T0, commands, origins)


def test_a_batch_larger_than_a_record_holds_is_several_records_in_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_format, "BATCH_RECORD_MAX", 4)
    commands = _commands(10)
    origins = [("M1", i // 3) for i in range(10)]
    with Journal.open(tmp_path) as journal:
        journal.append_commands(T0, commands, origins)

    payloads = _payloads((tmp_path / JOURNAL_FILE).read_bytes())
    assert [msgspec.msgpack.decode(p)[1] for _, p in payloads] == [1, 5, 9]  # each batch's first seq
    assert [len(msgspec.msgpack.decode(p)[3]) for _, p in payloads] == [4, 4, 2]
    assert list(read_journal(tmp_path)) == _expected(1, T0, commands, origins)


def test_old_records_and_batch_records_read_in_one_journal(tmp_path: Path) -> None:
    old = [JournalRecord(seq=s, ts=T0 + s, command=DepositCash(account="A1", amount=s)) for s in (1, 2)]
    with Journal.open(tmp_path) as journal:
        journal.append_batch(old)  # one record per command, as every journal was before batch records
        journal.append_commands(T0 + 10, _commands(3), [("M1", 1)] * 3)
        journal.append_commands(T0 + 20, _commands(1, 3), [("M2", 2)])
        journal.append_batch([JournalRecord(seq=7, ts=T0 + 30, command=DepositCash(account="A2", amount=1))])
    with Journal.open(tmp_path) as journal:
        assert journal.last_seq == 7
        journal.append_commands(T0 + 40, _commands(2, 4), [("M1", 3)] * 2)

    records = list(read_journal(tmp_path))
    assert [r.seq for r in records] == list(range(1, 10))
    assert records[:2] == old
    assert records[2:5] == _expected(3, T0 + 10, _commands(3), [("M1", 1)] * 3)
    assert records[7:] == _expected(8, T0 + 40, _commands(2, 4), [("M1", 3)] * 2)


@settings(max_examples=60, deadline=None)
@given(
    turns=st.lists(
        st.lists(st.tuples(st.sampled_from(["", "M1", "M2"]), st.integers(0, 3)), min_size=1, max_size=9),
        min_size=1,
        max_size=6,
    ),
    record_max=st.integers(1, 5),
)
def test_following_from_any_offset_it_yields_goes_on_with_the_next_command(
    turns: list[list[tuple[str, int]]], record_max: int
) -> None:
    """Stopped after any command (in a batch or not), a reader resumes from the offset yielded with
    it and reads exactly the commands after it: what surveillance's ingest does between turns."""
    import tempfile

    saved = journal_format.BATCH_RECORD_MAX
    journal_format.BATCH_RECORD_MAX = record_max
    try:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory)
            expected: list[JournalRecord] = []
            with Journal.open(path, fsync=False) as journal:
                for turn, origins in enumerate(turns):
                    commands = _commands(len(origins), len(expected))
                    expected += _expected(journal.last_seq + 1, T0 + turn, commands, origins)
                    journal.append_commands(T0 + turn, commands, origins)
            everything = list(follow_journal(path))
            assert [record for record, _ in everything] == expected
            assert everything[-1][1] == (path / JOURNAL_FILE).stat().st_size  # the last one: the file's end
            for index, (record, resume) in enumerate(everything):
                rest = [r for r, _ in follow_journal(path, resume, record.seq)]
                assert rest == expected[index + 1 :]
    finally:
        journal_format.BATCH_RECORD_MAX = saved


def test_a_torn_batch_record_is_dropped_whole_and_appends_go_on_after_what_came_before(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        journal.append_commands(T0, _commands(3), [("M1", 1)] * 3)
        journal.append_commands(T0 + 1, _commands(4, 3), [("M1", 2)] * 4)
    path = tmp_path / JOURNAL_FILE
    data = path.read_bytes()
    path.write_bytes(data[:-5])  # the second write cut short

    with capture_logs() as logs, Journal.open(tmp_path) as journal:
        assert journal.last_seq == 3  # none of the torn batch's four commands
        journal.append_commands(T0 + 2, _commands(2, 7), [("M2", 1)] * 2)
    assert [e["event"] for e in logs] == ["journal.torn_record_dropped"]
    assert [r.seq for r in read_journal(tmp_path)] == [1, 2, 3, 4, 5]
    assert [r.command for r in read_journal(tmp_path)][3:] == _commands(2, 7)


def _journal_of(directory: Path, payloads: list[bytes]) -> None:
    data = JOURNAL_MAGIC + b"".join(struct.pack("<II", len(p), zlib.crc32(p)) + p for p in payloads)
    (directory / JOURNAL_FILE).write_bytes(data)


def test_a_batch_whose_runs_do_not_cover_its_commands_is_damage(tmp_path: Path) -> None:
    commands = _commands(3)
    bad = msgspec.msgpack.encode(JournalBatch(first_seq=1, ts=T0, commands=commands, origins=[("M1", 1, 2)]))
    _journal_of(tmp_path, [bad])
    with pytest.raises(JournalCorrupt, match="do not add up to its 3 commands"):
        list(read_journal(tmp_path))


def test_a_batch_whose_seqs_do_not_follow_is_damage(tmp_path: Path) -> None:
    first = msgspec.msgpack.encode(JournalBatch(first_seq=1, ts=T0, commands=_commands(3), origins=[("", 0, 3)]))
    overlapping = msgspec.msgpack.encode(JournalBatch(first_seq=3, ts=T0, commands=_commands(2), origins=[("", 0, 2)]))
    _journal_of(tmp_path, [first, overlapping])
    with pytest.raises(JournalCorrupt, match="seq 3 does not follow seq 3"):
        list(read_journal(tmp_path))
    # Resuming at a batch whose commands were all read already is no place to resume from.
    start = _payloads((tmp_path / JOURNAL_FILE).read_bytes())[0][0]
    with pytest.raises(JournalCorrupt, match="seq 1 does not follow seq 3"):
        list(follow_journal(tmp_path, start, 3))


def test_a_batch_written_before_a_bound_existed_is_read_without_it(tmp_path: Path) -> None:
    # A quantity beyond today's bound, as an older version could have journaled and applied it.
    order = msgspec.msgpack.decode(msgspec.msgpack.encode(_order(1)))
    order["client_order_id"] = "x" * 10_000
    payload = msgspec.msgpack.encode(["B", 1, T0, [order, msgspec.to_builtins(_order(2))], [["M1", 4, 2]]])
    _journal_of(tmp_path, [payload])

    with capture_logs() as logs:
        records = list(read_journal(tmp_path))
    assert [r.command.client_order_id for r in records] == ["x" * 10_000, "c-2"]  # type: ignore[union-attr]
    assert [(r.seq, r.origin, r.request_id) for r in records] == [(1, "M1", 4), (2, "M1", 4)]
    assert [e["event"] for e in logs] == ["journal.record_beyond_bounds"]
