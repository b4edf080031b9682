"""The durable command journal and the snapshot store (docs/ARCHITECTURE.md "Persistence and recovery").

Journal file ``<directory>/journal.cxj``, all integers little-endian::

    header   8 bytes  b"CXJRNL01"
    record   4 bytes  payload length n (n > 0)
             4 bytes  CRC32 of the payload (zlib.crc32)
             n bytes  payload: one command, or a batch of commands (engine.journal_format)

Commands are appended before the engine applies them, one write and one fsync per batch (group
commit), seqs strictly increasing: a lone command as a record of its own, more as batch records,
each holding every command's seq (the first and a count). Readers see one ``JournalRecord`` per
command either way, so journals written before batch records existed read as they always did.

A crash mid-write can leave a torn last record: an incomplete length header, a payload shorter
than its length, or a record failing its CRC (or of length 0) followed only by zero bytes (file
systems may extend a file before its data lands). A torn tail is dropped with the warning
``journal.torn_record_dropped``, and ``Journal.open`` truncates it so later appends are clean (a
batch record is whole or dropped whole, like the write it came in). A bad record with other data
after it is damage, not a torn write: it raises ``JournalCorrupt``, as do a bad header, a
CRC-valid record that does not decode and seqs that do not increase. A file that is a strict
prefix of the header (a crash while creating it) reads as empty.

The open journal holds an exclusive ``flock`` on its file: one writer per data directory. Every
process that writes a data directory (the node, ``carbonx simulate``, ``carbonx registry`` offline)
takes it for the whole of its writing, and ``journal_locked`` asks without taking it for long. After
each write the journal checks that its file is still the one at its path (same device and inode,
not unlinked): a journal deleted or replaced under a running node (by hand, or by a tool that
ignored the lock) would otherwise take acknowledged commands into a file nobody will read again.
Then the append raises ``JournalReplaced`` (an ``OSError``), so the batch is never acknowledged.

Snapshot file ``<directory>/snapshots/snapshot-{seq:012d}.cxs``, written atomically::

    8 bytes  b"CXSNAP01",  8 bytes seq,  4 bytes CRC32 of the payload,  then the payload

The snapshot covers every command up to and including ``seq``; recovery loads the newest
snapshot that validates and replays ``read_journal(directory, after_seq=seq)``. Companions
(``<kind>-{seq:012d}.cxs``, the node's execution reports) share the format and the seq. A writer
keeps the newest few (``prune_snapshots``) and, holding the lock at start, removes the temporary
files a killed writer left (``remove_stale_temporaries``).
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self, cast

import msgspec
import structlog

from engine.journal_format import (  # JournalRecord: most of the code imports it from here
    BadBatch,
    JournalBatch,
    decode_payload,
    encode_commands,
    encode_record,
    expand,
)
from engine.journal_format import JournalRecord as JournalRecord
from engine.messages import AnyCommand
from engine.messages.limits import is_bound_violation

JOURNAL_FILE = "journal.cxj"
JOURNAL_MAGIC = b"CXJRNL01"
SNAPSHOT_DIR = "snapshots"
SNAPSHOT_MAGIC = b"CXSNAP01"

_RECORD_HEADER = struct.Struct("<II")  # payload length, CRC32
_SNAPSHOT_HEADER = struct.Struct("<8sQI")  # magic, seq, CRC32
_SNAPSHOT_NAME = re.compile(r"snapshot-(\d+)\.cxs")
_SNAPSHOT_FAMILY = re.compile(r"([a-z]+)-(\d+)\.cxs")  # a snapshot or one of its companions
_TEMPORARY = re.compile(r"\..+\.tmp")  # write_snapshot's temporary files
_CHUNK = 1 << 20


class JournalLocked(RuntimeError):
    """Another process (a running node, or a tool) holds the journal open for writing."""


class JournalReplaced(OSError):
    """The journal's file was deleted or replaced while open: what is appended now reaches no one."""


class JournalCorrupt(Exception):
    """The journal is damaged other than by a torn tail; recovery must stop rather than guess."""

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        super().__init__(f"{path}: corrupt journal at byte offset {offset}: {reason}")
        self.path = path
        self.offset = offset


def _warn(event: str, path: Path, **context: object) -> None:
    # Looked up per call: a logger cached at import would escape structlog.testing.capture_logs.
    structlog.get_logger("carbonx.journal").warning(event, path=str(path), **context)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _only_zeros_follow(f: BinaryIO, remaining: int) -> bool:
    while remaining > 0 and (chunk := f.read(min(_CHUNK, remaining))):
        if chunk.count(0) != len(chunk):
            return False
        remaining -= len(chunk)
    return True


def _scan(
    path: Path, f: BinaryIO, *, start: int = 0, last_seq: int = 0, tail: bool = False
) -> Iterator[tuple[JournalRecord, int]]:
    """Yield each command's record with the offset to resume from after it; stop at a torn tail,
    raise on damage.

    The offset is where the record ends, for a record of one command and for the last command of a
    batch record. For the other commands of a batch it is where the batch begins: reading again
    from there with ``last_seq`` set to the command's seq skips the commands before it and goes on
    with the next. So ``start`` is an offset a previous scan yielded, the commands before it (and
    in its batch, up to ``last_seq``) having been read. ``tail``: the journal is being written by a
    running node, so an incomplete last record is the write in progress, not a torn one: stop there
    without a warning.
    """
    size = os.fstat(f.fileno()).st_size  # a concurrent writer's later bytes are not looked at
    header = f.read(len(JOURNAL_MAGIC))
    if header != JOURNAL_MAGIC:
        if size < len(JOURNAL_MAGIC) and JOURNAL_MAGIC.startswith(header):
            if size and not tail:
                _warn("journal.torn_record_dropped", path, offset=0, reason="incomplete file header")
            return
        raise JournalCorrupt(path, 0, "bad header")
    offset, beyond_bounds = len(JOURNAL_MAGIC), 0
    if start > offset:
        if start > size:
            raise JournalCorrupt(path, start, f"the journal is shorter ({size} bytes) than where reading stopped")
        f.seek(start)
        offset = start
    first = True  # the record at ``start``: a batch there may hold commands already read

    def torn(reason: str) -> None:
        if not tail:
            _warn("journal.torn_record_dropped", path, offset=offset, reason=reason)

    while offset < size:
        if size - offset < _RECORD_HEADER.size:
            torn("incomplete length header")
            return
        length, crc = _RECORD_HEADER.unpack(f.read(_RECORD_HEADER.size))
        end = offset + _RECORD_HEADER.size + length
        if end > size:
            torn("payload shorter than length")
            return
        payload = f.read(length)
        if length == 0 or zlib.crc32(payload) != crc:
            reason = "zero length" if length == 0 else "crc mismatch"
            if _only_zeros_follow(f, size - end):
                torn(reason)
                return
            raise JournalCorrupt(path, offset, f"{reason} with data after the record")
        try:
            decoded = decode_payload(payload)
        except msgspec.ValidationError as exc:
            decoded = _beyond_bounds(path, offset, payload, exc, warned=beyond_bounds)
            beyond_bounds += 1
        except msgspec.DecodeError as exc:
            raise JournalCorrupt(path, offset, f"undecodable record: {exc}") from exc
        if type(decoded) is JournalRecord:
            if decoded.seq <= last_seq:
                raise JournalCorrupt(path, offset, f"seq {decoded.seq} does not follow seq {last_seq}")
            last_seq, offset, first = decoded.seq, end, False
            yield decoded, end
            continue
        records = _expanded(path, offset, cast(JournalBatch, decoded))
        skip = last_seq - records[0].seq + 1 if first and records[0].seq <= last_seq < records[-1].seq else 0
        if records[skip].seq <= last_seq:
            raise JournalCorrupt(path, offset, f"seq {records[skip].seq} does not follow seq {last_seq}")
        batch_start, last = offset, len(records) - 1
        last_seq, offset, first = records[-1].seq, end, False
        for index in range(skip, len(records)):
            yield records[index], end if index == last else batch_start


def _expanded(path: Path, offset: int, batch: JournalBatch) -> list[JournalRecord]:
    try:
        return expand(batch)
    except BadBatch as exc:
        raise JournalCorrupt(path, offset, f"undecodable record: {exc}") from None


def _beyond_bounds(
    path: Path, offset: int, payload: bytes, error: msgspec.ValidationError, *, warned: int
) -> JournalRecord | JournalBatch:
    """A record whose command breaks a field bound that did not exist when it was journaled.

    It was applied then, so it must be applied now, exactly as it was (engine.messages.limits:
    bounds are part of the format; a record that breaks one was written before it). Read without
    the bounds; anything else wrong with it is damage.
    """
    if not is_bound_violation(str(error)):
        raise JournalCorrupt(path, offset, f"undecodable record: {error}") from error
    try:
        decoded = decode_payload(payload, checked=False)
    except msgspec.DecodeError as exc:
        raise JournalCorrupt(path, offset, f"undecodable record: {exc}") from exc
    if not warned:  # one line per read of the journal, not one per record
        seq = decoded.seq if isinstance(decoded, JournalRecord) else decoded.first_seq
        _warn("journal.record_beyond_bounds", path, offset=offset, seq=seq, bound=str(error))
    return decoded


def follow_journal(directory: Path, start: int = 0, last_seq: int = 0) -> Iterator[tuple[JournalRecord, int]]:
    """Read a journal a running node may be writing, read-only and without its lock: each command's
    record, from complete records with a valid CRC, from byte offset ``start`` (0: the beginning;
    else an offset an earlier call yielded with the record of seq ``last_seq``), with the offset to
    resume from after it (``_scan``). An incomplete last record is the node's write in progress:
    reading stops before it, quietly."""
    path = directory / JOURNAL_FILE
    with path.open("rb") as f:
        yield from _scan(path, f, start=start, last_seq=last_seq, tail=True)


def read_journal(directory: Path, after_seq: int = 0) -> Iterator[JournalRecord]:
    """The records with ``seq > after_seq`` in order; stops at a torn tail without touching the file."""
    path = directory / JOURNAL_FILE
    with path.open("rb") as f:
        for record, _end in _scan(path, f):
            if record.seq > after_seq:
                yield record


class Journal:
    """The open journal of one exchange node; holds an exclusive lock on the file until closed."""

    def __init__(self, path: Path, fd: int, last_seq: int, fsync: bool) -> None:
        self.path = path
        self._fd = fd
        self._last_seq = last_seq
        self._fsync = fsync
        self._failure: BaseException | None = None
        self._where = path.absolute()  # checked after each write: still this file?

    @classmethod
    def open(cls, directory: Path, fsync: bool = True, *, discard: bool = False) -> Journal:
        """Open (creating it if needed) and lock the journal of ``directory``; ``JournalLocked`` if held.

        ``discard``: once the lock is held, drop every record (the file keeps its inode, so the lock
        stays on the file at the path): how a tool replaces a data directory's journal without
        ever deleting one that a running node holds.
        """
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / JOURNAL_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise JournalLocked(f"{path}: journal is already open for writing") from exc
            last_seq, good_end = 0, len(JOURNAL_MAGIC)
            if not discard:
                with os.fdopen(fd, "rb", closefd=False) as f:
                    for record, end in _scan(path, f):
                        last_seq, good_end = record.seq, end
            size = -1 if discard else os.fstat(fd).st_size
            if size < good_end:  # new, or torn while being created: (re)write the header
                os.ftruncate(fd, 0)
                _write_all(fd, JOURNAL_MAGIC)
            elif size > good_end:
                os.ftruncate(fd, good_end)
            if size != good_end and fsync:
                os.fsync(fd)
                _fsync_dir(directory)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, last_seq, fsync)

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def append_batch(self, records: Sequence[JournalRecord]) -> None:
        """Append the records in one write and one fsync; durable when this returns."""
        self._check_usable()
        previous = self._last_seq
        for record in records:
            if record.seq <= previous:
                raise ValueError(f"seq {record.seq} must be greater than {previous}")
            previous = record.seq
        if not records:
            return
        self._write([encode_record(record) for record in records], previous)

    def append_commands(self, ts: int, commands: Sequence[AnyCommand], origins: Sequence[tuple[str, int]]) -> None:
        """Append ``commands`` as the records after the last one, all at exchange time ``ts``, each with
        its (origin, request id): one write and one fsync, durable when this returns.

        More than one command goes into batch records (engine.journal_format): one msgpack encoding
        per batch instead of one record per command (the sequencer's hot path).
        """
        self._check_usable()
        if not commands:
            return
        first = self._last_seq + 1
        self._write(encode_commands(first, ts, commands, origins), first + len(commands) - 1)

    def _write(self, payloads: list[bytes], last_seq: int) -> None:
        chunks: list[bytes] = []
        pack, crc32 = _RECORD_HEADER.pack, zlib.crc32
        for payload in payloads:
            chunks += (pack(len(payload), crc32(payload)), payload)
        try:
            _write_all(self._fd, b"".join(chunks))  # unbuffered: nothing left to flush
            if self._fsync:
                os.fsync(self._fd)
            self.check_file()
        except BaseException as exc:
            # After a failed write or fsync the tail on disk is unknown (part of the batch may be
            # there); only a reopen, which drops a torn tail, can say what is durable.
            self._failure = exc
            raise
        self._last_seq = last_seq

    def sync(self) -> None:
        """Make every record appended so far durable (one fsync), for a journal opened without fsync.

        An offline writer that answers nobody before its end (``carbonx simulate``) appends without
        a fsync per batch and syncs once before it writes what depends on the journal being durable.
        A failed fsync leaves the journal unusable, as a failed append does.
        """
        self._check_usable()
        try:
            os.fsync(self._fd)
            _fsync_dir(self.path.parent)  # the file's entry too, if it was created without a fsync
        except BaseException as exc:
            self._failure = exc
            raise

    def check_file(self) -> None:
        """Raise ``JournalReplaced`` unless the open file is still the journal at its path.

        Two system calls (about a microsecond): the open file's inode and link count, and what the
        path names now. Unlinked (``rm``), renamed away or replaced by another file: all the same.
        """
        opened = os.fstat(self._fd)
        try:
            current: os.stat_result | None = os.stat(self._where)
        except FileNotFoundError:
            current = None
        if opened.st_nlink == 0 or current is None:
            problem = "deleted"
        elif (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
            problem = f"replaced by another file (inode {current.st_ino}, opened {opened.st_ino})"
        else:
            return
        raise JournalReplaced(f"{self.path}: the journal file was {problem} while open")

    def _check_usable(self) -> None:
        if self._fd < 0:
            raise ValueError(f"{self.path}: journal is closed")
        if self._failure is not None:
            raise RuntimeError(f"{self.path}: journal unusable after a failed append") from self._failure

    def append(self, record: JournalRecord) -> None:
        self.append_batch([record])

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # releases the lock
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def journal_locked(directory: Path) -> bool:
    """Whether a process holds the journal's lock (a running node, a tool writing); creates nothing.

    The file is opened read-only and the lock tried and released at once: asking writes nothing.
    """
    try:
        fd = os.open(directory / JOURNAL_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the lock if it was taken
    return False


def _snapshot_files(directory: Path) -> list[tuple[int, Path]]:
    folder = directory / SNAPSHOT_DIR
    if not folder.is_dir():
        return []
    found = [(m, p) for p in folder.iterdir() if (m := _SNAPSHOT_NAME.fullmatch(p.name))]
    return sorted((int(m.group(1)), p) for m, p in found)


def list_snapshots(directory: Path) -> list[int]:
    return [seq for seq, _path in _snapshot_files(directory)]


def write_snapshot(directory: Path, seq: int, payload: bytes, kind: str = "snapshot") -> Path:
    """Write the snapshot covering ``seq`` atomically: it is either absent or complete.

    ``kind`` other than "snapshot" writes a companion file in the same format (the node keeps its
    execution reports as ``reports-<seq>.cxs`` beside the state covering the same seq).
    """
    if seq < 0:
        raise ValueError(f"snapshot seq must not be negative: {seq}")
    folder = directory / SNAPSHOT_DIR
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        _fsync_dir(directory)
    path = folder / f"{kind}-{seq:012d}.cxs"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_SNAPSHOT_HEADER.pack(SNAPSHOT_MAGIC, seq, zlib.crc32(payload)))
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    return path


def _snapshot_fault(blob: bytes, seq: int) -> str | None:
    if len(blob) < _SNAPSHOT_HEADER.size:
        return "truncated header"
    magic, header_seq, crc = _SNAPSHOT_HEADER.unpack_from(blob)
    if magic != SNAPSHOT_MAGIC:
        return "bad magic"
    if header_seq != seq:
        return f"header seq {header_seq} differs from the file name"
    if zlib.crc32(memoryview(blob)[_SNAPSHOT_HEADER.size :]) != crc:
        return "crc mismatch (truncated or damaged)"
    return None


def valid_snapshots(directory: Path) -> Iterator[tuple[int, bytes]]:
    """Snapshots that validate, newest first, as ``(seq, payload)``; damaged ones are skipped with a warning."""
    for seq, path in reversed(_snapshot_files(directory)):
        blob = path.read_bytes()
        fault = _snapshot_fault(blob, seq)
        if fault is None:
            yield seq, blob[_SNAPSHOT_HEADER.size :]
        else:
            _warn("journal.snapshot_skipped", path, seq=seq, reason=fault)


def read_companion(directory: Path, seq: int, kind: str) -> bytes | None:
    """The payload of the ``kind`` companion of snapshot ``seq``; None when absent or damaged."""
    path = directory / SNAPSHOT_DIR / f"{kind}-{seq:012d}.cxs"
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    fault = _snapshot_fault(blob, seq)
    if fault is not None:
        _warn("journal.snapshot_skipped", path, seq=seq, reason=fault)
        return None
    return blob[_SNAPSHOT_HEADER.size :]


def prune_snapshots(directory: Path, keep: int, written: int, companions: Sequence[str] = ()) -> list[Path]:
    """Keep the newest ``keep`` snapshots with their companions; remove every other snapshot file.

    A seq counts when its snapshot and each of ``companions`` exist (what the node can start from);
    ``written``, the seq a caller has just written, is always kept. Every other file of the family
    (older snapshots, their companions, a companion a killed stop left without its snapshot) is
    removed. Call it only after writing ``written`` and while holding the journal's lock. Returns
    the removed files.
    """
    if keep < 1:
        raise ValueError(f"keep at least one snapshot, not {keep}")
    folder = directory / SNAPSHOT_DIR
    if not folder.is_dir():
        return []
    kinds_by_seq: dict[int, dict[str, Path]] = {}
    for path in folder.iterdir():
        if found := _SNAPSHOT_FAMILY.fullmatch(path.name):
            kinds_by_seq.setdefault(int(found.group(2)), {})[found.group(1)] = path
    complete = sorted(
        seq for seq, kinds in kinds_by_seq.items() if "snapshot" in kinds and all(k in kinds for k in companions)
    )
    kept = {written, *complete[-keep:]}
    removed = sorted(path for seq, kinds in kinds_by_seq.items() if seq not in kept for path in kinds.values())
    for path in removed:
        path.unlink(missing_ok=True)
    if removed:
        _fsync_dir(folder)
    return removed


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Remove the temporary files of snapshots a killed writer never finished; the removed files.

    Only while holding the journal's lock: then no one else can be writing one.
    """
    folder = directory / SNAPSHOT_DIR
    if not folder.is_dir():
        return []
    stale = sorted(path for path in folder.iterdir() if _TEMPORARY.fullmatch(path.name))
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        _fsync_dir(folder)
    return stale


def latest_snapshot(directory: Path) -> tuple[int, bytes] | None:
    """The newest snapshot that validates as ``(seq, payload)``; damaged ones are skipped with a warning."""
    return next(valid_snapshots(directory), None)
