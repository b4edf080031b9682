"""Ingest: the node's journal, replayed through the engine, into the surveillance store.

The journal is the complete and authoritative record, and the engine is deterministic, so replaying
it gives exactly the events the node produced. Ingest reads the journal read-only, without its lock,
while the node runs (``engine.journal.follow_journal``: up to the last complete record with a valid
CRC), and is incremental and idempotent:

- the store's ``meta`` remembers the last journal seq ingested and the byte offset to go on from
  (after its record, or the start of its batch record when more of the batch follows it);
- the store directory keeps the replayed engine's state at that seq (``ingest-state.cxs``), so the
  next ingest applies only the new records;
- rows go in with the ``meta`` update in one transaction per chunk, so an ingest interrupted at any
  point leaves a store that the next one completes; rows of records the store already holds are
  never written twice (a lost or older state file only means replaying more, not writing more).

A store belongs to one journal: its first record and recorded config identify it, and a store built
from another journal is refused with one line (use another ``--store``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import msgspec

from engine.config import ExchangeConfig
from engine.exchange import Exchange
from engine.journal import JOURNAL_FILE, JournalCorrupt, JournalRecord, follow_journal
from engine.recovery import REPLAY_BATCH, DataDirError, recorded_config
from surveillance.rows import Rows
from surveillance.settings import SurveillanceError
from surveillance.store import Store
from surveillance.tracker import Tracker, TrackerState

STATE_FILE = "ingest-state.cxs"
CHUNK_RECORDS = 50_000  # records per store transaction: bounded memory, and progress kept as it goes


class IngestState(msgspec.Struct, kw_only=True):
    seq: int
    offset: int
    exchange: bytes  # Exchange.snapshot() at seq
    tracker: TrackerState


class IngestResult(msgspec.Struct, kw_only=True):
    records: int  # journal records applied by this ingest
    events: int  # the events they caused
    stored_records: int  # of them, the ones new to the store (the rest were replayed to rebuild state)
    last_seq: int
    days: list[int]  # trading days with new activity (the ones to run the rules on)


def journal_identity(data_dir: Path, config: ExchangeConfig) -> str | None:
    """What ties a store to its journal: the first record and the config it was written under (None:
    the journal has no record yet, so nothing to tie to)."""
    first = next(follow_journal(data_dir), None)
    if first is None:
        return None
    digest = hashlib.sha256(msgspec.json.encode(config))
    digest.update(msgspec.msgpack.encode(first[0]))
    return digest.hexdigest()[:32]


def _record_digest(record: JournalRecord) -> str:
    return hashlib.sha256(msgspec.msgpack.encode(record)).hexdigest()[:32]


def _same_journal(data_dir: Path, store: Store, identity: str | None) -> bool:
    """Whether the store was built from this journal: the same first record, and the last record it
    stored still there, the same, at the same place (two journals of one simulated day share a
    first record; a journal replaced by a shorter one would otherwise be read from mid-record)."""
    if store.meta("imported_from"):
        return False  # an imported store has no journal position to go on from
    known = store.meta("journal")
    if not known:
        return True  # a new store, or one that has seen only an empty journal
    if known != identity:
        return False
    start, digest = int(store.meta("last_record_start", "0")), store.meta("last_record_digest")
    seq = int(store.meta("last_seq", "0"))
    if not seq or not digest:
        return True
    try:
        found = next(follow_journal(data_dir, start, seq - 1), None)
    except JournalCorrupt:
        return False
    return found is not None and found[0].seq == seq and _record_digest(found[0]) == digest


def open_data_dir(data_dir: Path) -> ExchangeConfig:
    """The config a data directory's journal was written under; one line if it is not a data directory."""
    if not data_dir.is_dir():
        raise SurveillanceError(f"{data_dir}: data directory not found")
    if not (data_dir / JOURNAL_FILE).is_file():
        raise SurveillanceError(f"{data_dir}: not a carbonx data directory (no {JOURNAL_FILE})")
    try:
        return recorded_config(data_dir)
    except DataDirError as exc:
        raise SurveillanceError(str(exc)) from None


class Ingestor:
    """An ingest that can go on: the replayed engine and the journal position stay in memory between
    ``catch_up`` calls (``surveil watch`` calls it each time the drop copy says there is more)."""

    def __init__(self, data_dir: Path, store: Store, store_dir: Path | None = None) -> None:
        config = open_data_dir(data_dir)
        identity = journal_identity(data_dir, config)
        if not _same_journal(data_dir, store, identity):
            source = "imported from an export" if store.meta("imported_from") else "built from another journal"
            raise SurveillanceError(
                f"{store.path or 'the store'}: {source}, not {data_dir}'s; ingest into another --store"
            )
        self.data_dir, self.store, self.store_dir = data_dir, store, store_dir
        self.stored_seq = int(store.meta("last_seq", "0"))
        state = _load_state(store_dir, self.stored_seq)
        self.exchange = Exchange(config)
        if state is not None:
            try:
                self.exchange = Exchange.from_snapshot(config, state.exchange)
            except (msgspec.DecodeError, ValueError):
                state = None  # saved by a version with another state layout: replay from the start
        self.tracker = Tracker(state.tracker if state is not None else None)
        self.rows = Rows(self.tracker, config)
        self.offset, self.seq = (state.offset, state.seq) if state is not None else (0, 0)
        self.unsaved = False
        self.last_start = int(store.meta("last_record_start", "0"))  # where the last stored record begins
        self.last_digest = store.meta("last_record_digest")
        with store.transaction():
            if identity is not None:
                store.set_meta("journal", identity)
            store.set_meta("data_dir", str(data_dir.resolve()))
            # The exchange's clock, for rules that look at session times (marking the close).
            store.set_meta("timezone", config.calendar.timezone)
            store.set_meta("afternoon_close", config.calendar.sessions.afternoon_close.isoformat())
            _write_reference(store, config)

    def catch_up(self) -> IngestResult:
        """Apply and store every complete journal record after the last one read; what was new."""
        rows, events_before = self.rows, self.rows.events
        applied = stored = since_flush = 0
        days: set[int] = set()
        pending: list[tuple[JournalRecord, int]] = []
        try:
            for record, end in follow_journal(self.data_dir, self.offset, self.seq):
                pending.append((record, end))
                if len(pending) < REPLAY_BATCH:
                    continue
                new = self._apply(pending)
                applied, stored, since_flush = applied + len(pending), stored + new, since_flush + new
                pending = []
                if since_flush >= CHUNK_RECORDS:  # only new records count, so seq > stored_seq here
                    days |= self._flush()
                    since_flush = 0
            if pending:
                stored += self._apply(pending)
                applied += len(pending)
        except JournalCorrupt as exc:
            raise SurveillanceError(str(exc)) from None
        if applied:
            days |= self._flush()
            self.unsaved = True
        return IngestResult(
            records=applied,
            events=rows.events - events_before,
            stored_records=stored,
            last_seq=self.stored_seq,
            days=sorted(days),
        )

    def save(self) -> None:
        """Keep the replayed state with the store, so the next ingest starts from here."""
        if self.unsaved and self.store_dir is not None:
            state = IngestState(
                seq=self.seq, offset=self.offset, exchange=self.exchange.snapshot(), tracker=self.tracker.state
            )
            _save_state(self.store_dir, state)
        self.unsaved = False

    def _apply(self, records: Sequence[tuple[JournalRecord, int]]) -> int:
        """Replay ``records``; rows for those the store lacks. How many were new to the store."""
        new = _apply(self.exchange, self.rows, records, self.stored_seq)
        last, end = records[-1]
        self.last_start = records[-2][1] if len(records) > 1 else self.offset
        self.seq, self.offset = last.seq, end
        if last.seq > self.stored_seq:
            self.last_digest = _record_digest(last)
        return new

    def _flush(self) -> set[int]:
        if self.seq > self.stored_seq:
            self.stored_seq = self.seq
        position = {
            "last_seq": str(self.stored_seq),
            "journal_offset": str(self.offset),
            "last_record_start": str(self.last_start),
            "last_record_digest": self.last_digest,
        }
        return _flush(self.store, self.rows, position)


def ingest(data_dir: Path, store: Store, store_dir: Path | None = None) -> IngestResult:
    """Bring ``store`` up to the journal's last complete record; what was new."""
    ingestor = Ingestor(data_dir, store, store_dir)
    result = ingestor.catch_up()
    ingestor.save()
    return result


def _apply(exchange: Exchange, rows: Rows, records: Sequence[tuple[JournalRecord, int]], stored_seq: int) -> int:
    """Replay ``records``; rows for those the store lacks. How many were new to the store."""
    commands = [r.command for r, _ in records]
    batch = exchange.command_batch(commands, [r.ts for r, _ in records])
    outcomes = exchange.apply_batch(batch).all_events()
    new = 0
    for (record, _end), events in zip(records, outcomes, strict=True):
        rows.add(record.seq, record.ts, record.origin, record.command, events)
        if record.seq <= stored_seq:
            rows.take()  # already stored: replayed only to rebuild the state
            rows.touched_days.clear()
        else:
            new += 1
    return new


def _flush(store: Store, rows: Rows, position: dict[str, str]) -> set[int]:
    """Write the rows so far with the journal position they reach, in one transaction; the days they touched."""
    tables = rows.take()
    touched, rows.touched_days = rows.touched_days, set()
    with store.transaction():
        day_rows = tables.pop("days")
        if day_rows:
            store.con.execute("DELETE FROM days WHERE day IN (SELECT unnest(?))", [[r[0] for r in day_rows]])
            store.insert("days", day_rows)
        for table, table_rows in tables.items():
            store.insert(table, table_rows)
        for key, value in position.items():
            store.set_meta(key, value)
    return {day for day in touched if day}


def _write_reference(store: Store, config: ExchangeConfig) -> None:
    """Members, accounts (with groups and limits) and instruments, as the recorded config has them."""
    risk = config.risk
    for table in ("members", "accounts", "instruments"):
        store.con.execute(f"DELETE FROM {table}")
    store.insert("members", [(m.id, m.name, str(m.kind)) for m in config.members])
    store.insert(
        "accounts",
        [
            (a.id, a.member, str(a.kind), a.name, a.prohibited, a.owner_group,
             risk.position_limit_t.get(a.kind, 0), risk.large_holder_t.get(a.kind, 0))
            for a in config.accounts
        ],
    )  # fmt: skip
    store.insert(
        "instruments",
        [(i.code, str(i.kind), i.tick_fen, i.lot_t, i.reference_price_fen) for i in config.instruments],
    )


def _load_state(store_dir: Path | None, stored_seq: int) -> IngestState | None:
    """The saved replay state, if there is one the store can continue from."""
    if store_dir is None or not stored_seq:
        return None
    try:
        state = msgspec.msgpack.decode((store_dir / STATE_FILE).read_bytes(), type=IngestState)
    except (OSError, msgspec.DecodeError):
        return None  # replay from the start: slower, same rows
    return state if state.seq <= stored_seq else None


def _save_state(store_dir: Path, state: IngestState) -> None:
    fd, tmp = tempfile.mkstemp(dir=store_dir, prefix=f".{STATE_FILE}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(msgspec.msgpack.encode(state))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, store_dir / STATE_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
