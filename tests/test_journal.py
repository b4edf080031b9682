"""The command journal and the snapshot store: round trips, torn tails, corruption, snapshots."""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from engine.journal import (
    JOURNAL_FILE,
    JOURNAL_MAGIC,
    Journal,
    JournalCorrupt,
    JournalLocked,
    JournalRecord,
    latest_snapshot,
    list_snapshots,
    read_journal,
    write_snapshot,
)
from engine.messages import (
    AmendOrder,
    AnyCommand,
    CancelOrder,
    DepositCash,
    HaltMarket,
    NewOrder,
    OrderType,
    Session,
    SetSession,
    Side,
    StartOfDay,
    StpMode,
)

T0 = 1_700_000_000_000_000_000

COMMANDS: list[AnyCommand] = [
    StartOfDay(trading_day=20240102),
    SetSession(session=Session.MORNING),
    DepositCash(account="A1", amount=5_000_000),
    NewOrder(
        account="A1",
        instrument="SHEA",
        client_order_id="c-1",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=100,
        price=4_250,
        stp=StpMode.CANCEL_BOTH,
    ),
    NewOrder(
        account="B2",
        instrument="SHEA",
        client_order_id="碳-2",
        side=Side.SELL,
        order_type=OrderType.MARKET_FIVE_CANCEL,
        quantity=30,
    ),
    AmendOrder(account="A1", order_id=1, price=4_260, quantity=80),
    CancelOrder(account="A1", order_id=1),
    HaltMarket(reason="drill"),
]


def _records(first_seq: int = 1, commands: list[AnyCommand] = COMMANDS) -> list[JournalRecord]:
    return [JournalRecord(seq=first_seq + i, ts=T0 + i * 1_000, command=c) for i, c in enumerate(commands)]


def _write(directory: Path, records: list[JournalRecord]) -> None:
    with Journal.open(directory, fsync=False) as journal:
        journal.append_batch(records)


def _record_ends(data: bytes) -> list[int]:
    """End offsets of the records in a well-formed journal file, read from the documented format."""
    ends, offset = [], len(JOURNAL_MAGIC)
    while offset < len(data):
        (length,) = struct.unpack_from("<I", data, offset)
        offset += 8 + length
        ends.append(offset)
    return ends


def _torn_events(logs: Sequence[Mapping[str, object]]) -> list[Mapping[str, object]]:
    return [e for e in logs if e["event"] == "journal.torn_record_dropped"]


def test_round_trip_through_append_close_reopen(tmp_path: Path) -> None:
    records = _records()

    with Journal.open(tmp_path) as journal:
        assert journal.last_seq == 0
        journal.append_batch(records[:5])
        journal.append(records[5])
        journal.append_batch(records[6:])
        assert journal.last_seq == records[-1].seq

    with Journal.open(tmp_path) as reopened:
        assert reopened.last_seq == records[-1].seq
    assert list(read_journal(tmp_path)) == records


def test_appending_commands_journals_the_records_append_batch_writes(tmp_path: Path) -> None:
    origins = [(f"M{i % 3}", i) for i in range(len(COMMANDS))]
    records = [
        JournalRecord(seq=seq, ts=T0, command=command, origin=origin, request_id=request_id)
        for seq, command, (origin, request_id) in zip(range(2, len(COMMANDS) + 2), COMMANDS, origins, strict=True)
    ]
    with Journal.open(tmp_path / "records") as journal:
        journal.append(JournalRecord(seq=1, ts=T0 - 1, command=COMMANDS[0]))
        journal.append_batch(records)
    with Journal.open(tmp_path / "commands") as journal:
        journal.append(JournalRecord(seq=1, ts=T0 - 1, command=COMMANDS[0]))
        journal.append_commands(T0, COMMANDS, origins)
        journal.append_commands(T0, [], [])  # nothing: no write
        assert journal.last_seq == len(COMMANDS) + 1

    # Read back, the batch records are the records append_batch wrote, one per command (the bytes
    # differ: tests/test_journal_batches.py).
    assert list(read_journal(tmp_path / "commands")) == list(read_journal(tmp_path / "records"))
    assert list(read_journal(tmp_path / "commands"))[1:] == records


def test_a_lone_command_is_journaled_as_the_record_append_batch_writes(tmp_path: Path) -> None:
    record = JournalRecord(seq=1, ts=T0, command=COMMANDS[3], origin="M1", request_id=9)
    with Journal.open(tmp_path / "records") as journal:
        journal.append(record)
    with Journal.open(tmp_path / "commands") as journal:
        journal.append_commands(T0, [COMMANDS[3]], [("M1", 9)])
    written = (tmp_path / "commands" / JOURNAL_FILE).read_bytes()
    assert written == (tmp_path / "records" / JOURNAL_FILE).read_bytes()


def test_file_format_is_the_documented_one(tmp_path: Path) -> None:
    record = JournalRecord(seq=7, ts=T0, command=CancelOrder(account="A1", order_id=3), origin="M1", request_id=12)

    _write(tmp_path, [record])

    data = (tmp_path / JOURNAL_FILE).read_bytes()
    assert data[:8] == b"CXJRNL01"
    length, crc = struct.unpack_from("<II", data, 8)
    payload = data[16:]
    assert len(payload) == length and zlib.crc32(payload) == crc
    assert msgspec.msgpack.decode(payload) == [
        7,
        T0,
        {"type": "CancelOrder", "version": 1, "account": "A1", "order_id": 3},
        "M1",
        12,
    ]


def test_records_of_the_first_format_still_read(tmp_path: Path) -> None:
    # Journals written before records named their origin hold [seq, ts, command] only.
    payload = msgspec.msgpack.encode([7, T0, {"type": "CancelOrder", "version": 1, "account": "A1", "order_id": 3}])
    (tmp_path / JOURNAL_FILE).write_bytes(b"CXJRNL01" + struct.pack("<II", len(payload), zlib.crc32(payload)) + payload)

    (record,) = read_journal(tmp_path)

    assert record == JournalRecord(seq=7, ts=T0, command=CancelOrder(account="A1", order_id=3))
    assert (record.origin, record.request_id) == ("", 0)


def test_read_journal_after_seq_filters(tmp_path: Path) -> None:
    records = _records(first_seq=10)
    _write(tmp_path, records)

    assert list(read_journal(tmp_path, after_seq=12)) == [r for r in records if r.seq > 12]
    assert list(read_journal(tmp_path, after_seq=records[-1].seq)) == []
    assert list(read_journal(tmp_path, after_seq=0)) == records


def test_new_journal_is_only_the_header(tmp_path: Path) -> None:
    directory = tmp_path / "node" / "journal"

    Journal.open(directory).close()

    assert (directory / JOURNAL_FILE).read_bytes() == JOURNAL_MAGIC
    assert list(read_journal(directory)) == []


def _cut_in_length_header(data: bytes, start: int) -> bytes:
    return data[: start + 3]


def _cut_in_payload(data: bytes, start: int) -> bytes:
    return data[:-2]


def _flip_byte_in_last_payload(data: bytes, start: int) -> bytes:
    flipped = bytearray(data)
    flipped[-3] ^= 0x40
    return bytes(flipped)


def _zero_filled_tail(data: bytes, start: int) -> bytes:
    return data[:start] + bytes(4096)


@pytest.mark.parametrize(
    "damage", [_cut_in_length_header, _cut_in_payload, _flip_byte_in_last_payload, _zero_filled_tail]
)
def test_torn_tail_is_dropped_then_truncated(tmp_path: Path, damage: Callable[[bytes, int], bytes]) -> None:
    records = _records()
    _write(tmp_path, records)
    path = tmp_path / JOURNAL_FILE
    data = path.read_bytes()
    good_end = _record_ends(data)[-2]
    path.write_bytes(damage(data, good_end))
    damaged_size = path.stat().st_size

    with capture_logs() as logs:
        assert list(read_journal(tmp_path)) == records[:-1]
    [event] = _torn_events(logs)
    assert event["log_level"] == "warning"
    assert event["offset"] == good_end and event["path"] == str(path)
    assert path.stat().st_size == damaged_size  # reading does not repair

    with capture_logs() as logs, Journal.open(tmp_path, fsync=False) as journal:
        assert journal.last_seq == records[-2].seq
        assert path.stat().st_size == good_end
        replacement = JournalRecord(seq=records[-2].seq + 1, ts=T0, command=HaltMarket(reason="again"))
        journal.append(replacement)
    assert len(_torn_events(logs)) == 1

    with capture_logs() as logs:
        assert list(read_journal(tmp_path)) == [*records[:-1], replacement]
    assert _torn_events(logs) == []


@pytest.mark.parametrize("reader", ["read_journal", "open"])
def test_mid_file_corruption_raises_with_offset(tmp_path: Path, reader: str) -> None:
    _write(tmp_path, _records())
    path = tmp_path / JOURNAL_FILE
    data = bytearray(path.read_bytes())
    second_start = _record_ends(bytes(data))[0]
    data[second_start + 10] ^= 0x01
    path.write_bytes(bytes(data))

    with pytest.raises(JournalCorrupt, match=f"byte offset {second_start}:") as caught:
        if reader == "open":
            Journal.open(tmp_path, fsync=False)
        else:
            list(read_journal(tmp_path))

    assert caught.value.offset == second_start
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert path.read_bytes() == bytes(data)  # nothing truncated


def test_bad_header_raises(tmp_path: Path) -> None:
    _write(tmp_path, _records())
    path = tmp_path / JOURNAL_FILE
    path.write_bytes(b"CXJRNL02" + path.read_bytes()[8:])

    with pytest.raises(JournalCorrupt, match="byte offset 0: bad header"):
        list(read_journal(tmp_path))
    with pytest.raises(JournalCorrupt, match="byte offset 0"):
        Journal.open(tmp_path)


def test_header_torn_while_creating_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    path.write_bytes(JOURNAL_MAGIC[:5])

    with capture_logs() as logs:
        assert list(read_journal(tmp_path)) == []
        with Journal.open(tmp_path, fsync=False) as journal:
            assert journal.last_seq == 0

    assert path.read_bytes() == JOURNAL_MAGIC
    assert len(_torn_events(logs)) == 2


def test_non_increasing_seq_raises_and_writes_nothing(tmp_path: Path) -> None:
    command = SetSession(session=Session.AFTERNOON)
    with Journal.open(tmp_path, fsync=False) as journal:
        journal.append(JournalRecord(seq=5, ts=T0, command=command))
        size = (tmp_path / JOURNAL_FILE).stat().st_size

        with pytest.raises(ValueError, match="greater than 5"):
            journal.append(JournalRecord(seq=5, ts=T0, command=command))
        with pytest.raises(ValueError, match="greater than 7"):
            journal.append_batch([JournalRecord(seq=s, ts=T0, command=command) for s in (6, 7, 7)])

        assert journal.last_seq == 5
        assert (tmp_path / JOURNAL_FILE).stat().st_size == size


def test_closed_journal_refuses_appends(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, fsync=False)
    journal.close()
    journal.close()

    with pytest.raises(ValueError, match="closed"):
        journal.append(JournalRecord(seq=1, ts=T0, command=HaltMarket()))


def test_second_writer_is_refused_while_open(tmp_path: Path) -> None:
    with Journal.open(tmp_path, fsync=False), pytest.raises(JournalLocked, match="already open"):
        Journal.open(tmp_path, fsync=False)

    Journal.open(tmp_path, fsync=False).close()  # the lock went with the close


def test_latest_snapshot_is_the_newest(tmp_path: Path) -> None:
    write_snapshot(tmp_path, 100, b"state at 100")
    path = write_snapshot(tmp_path, 250, b"state at 250")

    assert path == tmp_path / "snapshots" / "snapshot-000000000250.cxs"
    assert list_snapshots(tmp_path) == [100, 250]
    assert latest_snapshot(tmp_path) == (250, b"state at 250")
    assert [p.name for p in path.parent.iterdir() if p.suffix == ".tmp"] == []


def test_snapshot_file_format(tmp_path: Path) -> None:
    path = write_snapshot(tmp_path, 3, b"xyz")

    assert path.read_bytes() == b"CXSNAP01" + struct.pack("<QI", 3, zlib.crc32(b"xyz")) + b"xyz"


@pytest.mark.parametrize("damage", ["flip", "truncate", "truncate_header"])
def test_damaged_newest_snapshot_falls_back_to_older(tmp_path: Path, damage: str) -> None:
    write_snapshot(tmp_path, 100, b"state at 100")
    newest = write_snapshot(tmp_path, 250, b"state at 250")
    blob = bytearray(newest.read_bytes())
    if damage == "flip":
        blob[-1] ^= 0xFF
    elif damage == "truncate":
        del blob[-4:]
    else:
        del blob[10:]
    newest.write_bytes(bytes(blob))

    with capture_logs() as logs:
        assert latest_snapshot(tmp_path) == (100, b"state at 100")

    [event] = [e for e in logs if e["event"] == "journal.snapshot_skipped"]
    assert event["log_level"] == "warning" and event["seq"] == 250


def test_no_snapshots(tmp_path: Path) -> None:
    assert latest_snapshot(tmp_path) is None
    assert list_snapshots(tmp_path) == []
    (tmp_path / "snapshots").mkdir()
    assert latest_snapshot(tmp_path) is None


_names = st.text(max_size=6)
_commands: st.SearchStrategy[AnyCommand] = st.one_of(
    st.builds(
        NewOrder,
        account=_names,
        instrument=_names,
        client_order_id=_names,
        side=st.sampled_from(Side),
        order_type=st.sampled_from(OrderType),
        quantity=st.integers(0, 10**9),
        price=st.integers(0, 10**9),
        stp=st.none() | st.sampled_from(StpMode),
    ),
    st.builds(CancelOrder, account=_names, order_id=st.integers(0, 2**62)),
    st.builds(SetSession, session=st.sampled_from(Session)),
    st.builds(DepositCash, account=_names, amount=st.integers(-(2**62), 2**62)),
    st.builds(HaltMarket, reason=_names),
)


@settings(max_examples=150, deadline=None)
@given(
    commands=st.lists(_commands, max_size=12),
    gaps=st.lists(st.integers(1, 1_000), min_size=12, max_size=12),
    data=st.data(),
)
def test_any_truncation_reads_a_prefix(commands: list[AnyCommand], gaps: list[int], data: st.DataObject) -> None:
    seqs = [sum(gaps[: i + 1]) for i in range(len(commands))]
    records = [JournalRecord(seq=s, ts=T0 + s, command=c) for s, c in zip(seqs, commands, strict=True)]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        _write(directory, records)
        path = directory / JOURNAL_FILE
        ends = _record_ends(path.read_bytes())
        cut = data.draw(st.integers(0, path.stat().st_size), label="cut")
        os.truncate(path, cut)

        with capture_logs() as logs:
            read = list(read_journal(directory))

    assert read == records[: sum(end <= cut for end in ends)]
    at_boundary = cut in (0, len(JOURNAL_MAGIC), *ends)
    assert len(_torn_events(logs)) == (0 if at_boundary else 1)


def test_failed_fsync_makes_the_journal_refuse_further_appends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    with Journal.open(tmp_path) as journal:
        monkeypatch.setattr(os, "fsync", failing_fsync)
        with pytest.raises(OSError, match="Input/output"):
            journal.append(JournalRecord(seq=1, ts=T0, command=HaltMarket()))
        monkeypatch.undo()

        assert journal.last_seq == 0
        with pytest.raises(RuntimeError, match="failed append"):
            journal.append(JournalRecord(seq=2, ts=T0, command=HaltMarket()))


def test_sync_makes_what_was_appended_without_fsync_durable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    with Journal.open(tmp_path, fsync=False) as journal:
        for seq in (1, 2, 3):
            journal.append(JournalRecord(seq=seq, ts=T0, command=HaltMarket()))
        assert synced == []  # no fsync per append

        journal.sync()

        assert len(synced) == 2  # the file, then its directory (the entry of a file created without fsync)
        assert [r.seq for r in read_journal(tmp_path)] == [1, 2, 3]


def test_a_failed_sync_makes_the_journal_refuse_appends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    with Journal.open(tmp_path, fsync=False) as journal:
        journal.append(JournalRecord(seq=1, ts=T0, command=HaltMarket()))
        monkeypatch.setattr(os, "fsync", failing_fsync)
        with pytest.raises(OSError, match="Input/output"):
            journal.sync()
        monkeypatch.undo()

        with pytest.raises(RuntimeError, match="failed append"):
            journal.append(JournalRecord(seq=2, ts=T0, command=HaltMarket()))
        with pytest.raises(RuntimeError, match="failed append"):
            journal.sync()
