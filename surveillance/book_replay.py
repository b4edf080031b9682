"""The order book at any moment, rebuilt by replaying the journal up to it.

The engine is deterministic, so the state after journal seq N is exactly the state the node had
after applying seq N: every resting order, in its place in the queue, with its account. A moment is
a seq or an exchange time (the state after the last command stamped at or before it). The replay
starts from the newest valid snapshot of the data directory at or before the moment, and reads the
journal read-only, so it works beside a running node.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from engine.exchange import Exchange
from engine.journal import JournalCorrupt, JournalRecord, follow_journal, valid_snapshots
from engine.messages import Side
from engine.recovery import REPLAY_BATCH
from engine.view import ExchangeView, RestingOrder
from surveillance.ingest import open_data_dir
from surveillance.settings import SurveillanceError


class BookAt(msgspec.Struct, frozen=True, kw_only=True):
    instrument: str
    seq: int  # the last journal seq applied (0: before the first)
    ts: int  # its exchange time (0: none)
    trading_day: int
    bids: list[RestingOrder]  # best price first, then time priority
    asks: list[RestingOrder]
    snapshot_seq: int  # where the replay started (0: the empty exchange)
    replayed: int  # journal records applied after it


def book_at(data_dir: Path, instrument: str, *, seq: int | None = None, ts: int | None = None) -> BookAt:
    """The book of ``instrument`` after journal seq ``seq``, or as it stood at exchange time ``ts``."""
    if (seq is None) == (ts is None):
        raise ValueError("give exactly one of seq and ts")
    config = open_data_dir(data_dir)
    if instrument not in {i.code for i in config.instruments}:
        listed = ", ".join(i.code for i in config.instruments)
        raise SurveillanceError(f"{instrument}: not an instrument of {data_dir} (listed: {listed})")
    if seq is not None and seq < 0:
        raise SurveillanceError(f"--seq {seq}: must not be negative")
    exchange, start_seq = Exchange(config), 0
    for snapshot_seq, blob in valid_snapshots(data_dir):
        # A snapshot is usable only at or before the moment; for a time, its own time is unknown
        # until the journal is read, so a time-based replay starts from the beginning.
        if seq is not None and snapshot_seq <= seq:
            try:
                exchange, start_seq = Exchange.from_snapshot(config, blob), snapshot_seq
            except (msgspec.DecodeError, ValueError):
                continue
            break
    last_seq, last_ts, replayed = start_seq, 0, 0
    pending: list[JournalRecord] = []
    try:
        for record, _end in follow_journal(data_dir):
            if record.seq <= start_seq:
                last_ts = record.ts
                continue
            if (seq is not None and record.seq > seq) or (ts is not None and record.ts > ts):
                break
            pending.append(record)
            last_seq, last_ts = record.seq, record.ts
            if len(pending) == REPLAY_BATCH:
                _apply(exchange, pending)
                replayed, pending = replayed + len(pending), []
    except JournalCorrupt as exc:
        raise SurveillanceError(str(exc)) from None
    _apply(exchange, pending)
    replayed += len(pending)
    if seq is not None and seq > last_seq:
        raise SurveillanceError(f"--seq {seq}: the journal ends at seq {last_seq}")
    view = ExchangeView(exchange)
    orders = view.book(instrument)
    return BookAt(
        instrument=instrument,
        seq=last_seq,
        ts=last_ts,
        trading_day=view.market().trading_day,
        bids=[o for o in orders if o.side is Side.BUY],
        asks=[o for o in orders if o.side is Side.SELL],
        snapshot_seq=start_seq,
        replayed=replayed,
    )


def _apply(exchange: Exchange, records: list[JournalRecord]) -> None:
    if records:
        batch = exchange.command_batch([r.command for r in records], [r.ts for r in records])
        exchange.apply_batch(batch)
