"""What the node rebuilds at start and saves at stop: the exchange, its execution reports, the database.

Start-up takes the journal's lock (one node per data directory), loads the newest snapshot whose
execution reports were saved beside it (``reports-<seq>.cxs``), and replays the journal after it
through the engine, the report book and — for each end of day — the statements database. So a
node killed at any instant restarts with every acknowledged command applied, every member's
report numbering intact and the database complete.

The data directory is the node's alone while it runs (the journal's lock, taken before anything
in it is written). At start the node removes the temporary snapshot files a killed stop left; each
snapshot it writes is followed by pruning to the newest ``snapshots_keep`` (node.toml), each with
its reports companion. A snapshot is written only while the journal is still the file the node
opened: into a directory whose journal was deleted or replaced, it would pair this state with
another journal at the next start.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import structlog

from carbonx.config import LoadedConfig
from carbonx.data_dir import DataDirUnavailable
from carbonx.scheduler import day_to_open
from carbonx.simulation import funding_commands
from carbonx.statements_db import DB_FILE, StatementStore
from engine.config import Calendar
from engine.exchange import Exchange
from engine.journal import (
    Journal,
    JournalLocked,
    JournalRecord,
    JournalReplaced,
    prune_snapshots,
    read_companion,
    remove_stale_temporaries,
    write_snapshot,
)
from engine.market_day import MarketState
from engine.market_day.calendar import day_from_int, day_to_int
from engine.messages import (
    Command,
    DailyBulletin,
    EndOfDay,
    Event,
    OrderRejected,
    Reject,
    RequestRejected,
    Session,
    SetSession,
    StartOfDay,
)
from engine.recovery import Sequencer, record_config, recover
from gateway.reports import ReportBook
from market_data.bars import DayBars

REPORTS_KIND = "reports"
BARS_KIND = "bars"  # the day's one-minute bars (market_data.bars), saved beside each snapshot
_log = structlog.get_logger("carbonx.node")


class NodeState:
    def __init__(self, loaded: LoadedConfig, data_dir: Path, journal: Journal, clock: Callable[[], int]) -> None:
        self.loaded = loaded
        self.data_dir = data_dir
        self.journal = journal
        self.reports = ReportBook(loaded.access)
        self.bars = DayBars()  # market data's one-minute bars of the day, kept across restarts
        self.replayed = 0
        self.snapshot_seq = 0
        self.exchange = self._recover()
        self.sequencer = Sequencer(self.exchange, journal, clock)
        self._snapshot_seq = self.snapshot_seq

    def _recover(self) -> Exchange:
        config, book = self.loaded.exchange, self.loaded.node.engine.book
        end_of_day: list[Event] = []
        failed: list[tuple[Command, int]] = []  # commands the replay met an internal failure on, with their seq

        def accept(seq: int) -> bool:
            blob = read_companion(self.data_dir, seq, REPORTS_KIND)
            if blob is None:
                return False
            try:
                self.reports.restore(blob)
            except msgspec.DecodeError:
                return False
            self._restore_bars(seq)
            return True

        def project(record: JournalRecord, events: list[Event]) -> None:
            self.reports.route(record.origin, record.request_id, record.command, events, record.seq)
            self.bars.on_events(events)
            if isinstance(record.command, EndOfDay):
                end_of_day.extend(events)
            if any(isinstance(e, OrderRejected | RequestRejected) and e.code == Reject.INTERNAL_ERROR for e in events):
                failed.append((record.command, record.seq))

        recovered = recover(self.data_dir, config, book, on_events=project, accept_snapshot=accept)
        if (
            recovered.snapshot_seq != self.reports.journal_seq
            and recovered.snapshot_seq == 0
            and self.reports.journal_seq
        ):
            # A companion was accepted but its snapshot could not be read: start both from nothing.
            self.reports = ReportBook(self.loaded.access)
            self.bars.clear()
            end_of_day.clear()
            failed.clear()
            recovered = recover(self.data_dir, config, book, use_snapshots=False, on_events=project)
        if end_of_day:
            with StatementStore.open(self.data_dir / DB_FILE) as store:
                store.record(end_of_day)
        self.replayed, self.snapshot_seq = recovered.replayed, recovered.snapshot_seq
        _log_replayed_failures(recovered.exchange, failed)
        _log.info(
            "node.recovered",
            data_dir=str(self.data_dir),
            snapshot_seq=recovered.snapshot_seq,
            replayed=recovered.replayed,
            last_seq=recovered.last_seq,
        )
        return recovered.exchange

    def _restore_bars(self, seq: int) -> None:
        """The bars saved with the snapshot at ``seq``. A data directory from before bars were
        saved (or a damaged file) starts them empty: they are market data, not state, so the
        snapshot is used all the same and the chart shows the day from the journal's trades on."""
        blob = read_companion(self.data_dir, seq, BARS_KIND)
        self.bars.clear()
        if blob is None:
            return
        try:
            self.bars.restore(blob)
        except (msgspec.DecodeError, msgspec.ValidationError):
            _log.warning("bars.unreadable", data_dir=str(self.data_dir), seq=seq)

    def latest_bulletin(self) -> list[DailyBulletin]:
        """The bulletin of the last recorded end of day (none before the first), for market data to
        hold again after a restart, as the node held it before."""
        db = self.data_dir / DB_FILE
        if not db.is_file():
            return []
        with StatementStore.open(db) as store:
            day = store.latest_trading_day()
            return [] if day is None else store.bulletins(day)

    def end_of_day(self, events: Sequence[Event]) -> None:
        """After an EndOfDay is durable: the statements database, then a snapshot covering it."""
        with StatementStore.open(self.data_dir / DB_FILE) as store:
            store.record(events)
        self.snapshot()
        # Between trading days nobody waits on the node: the time for a full collection of what the
        # loop froze during the day (carbonx.node), then freeze what survives again.
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def snapshot(self) -> Path | None:
        """The state and the execution reports at the journal's last seq (None: nothing new).

        Then the older snapshots beyond ``snapshots_keep`` go, with their companions. Raises
        ``JournalReplaced`` (after one critical log line) and writes nothing when the journal is no
        longer the file the node opened.
        """
        seq = self.journal.last_seq
        if seq == self._snapshot_seq:
            return None
        try:
            self.journal.check_file()
        except JournalReplaced as exc:
            _log.critical("snapshot.refused", data_dir=str(self.data_dir), seq=seq, error=str(exc))
            raise
        self.reports.journal_seq = seq
        write_snapshot(self.data_dir, seq, self.reports.encode(), kind=REPORTS_KIND)
        write_snapshot(self.data_dir, seq, self.bars.encode(), kind=BARS_KIND)
        path = write_snapshot(self.data_dir, seq, self.exchange.snapshot())
        self._snapshot_seq = seq
        # Bars files go with their seq's snapshot; a seq without one still counts (it starts with none).
        keep = self.loaded.node.snapshots_keep
        removed = prune_snapshots(self.data_dir, keep, written=seq, companions=(REPORTS_KIND,))
        if removed:
            _log.info("snapshots.pruned", data_dir=str(self.data_dir), seq=seq, keep=keep, removed=len(removed))
        return path

    def demo_commands(self, now_ns: int) -> list[Command]:
        """Funding for a new demo journal, then whatever opens a trading session now."""
        commands: list[Command] = []
        if self.journal.last_seq == 0:
            commands += funding_commands(self.exchange.config)
        calendar = self.exchange.config.calendar
        today = dt.datetime.fromtimestamp(now_ns / 1e9, tz=ZoneInfo(calendar.timezone)).date()
        commands += demo_opening(self.exchange.market, calendar, today)
        return commands

    def close(self) -> None:
        self.journal.close()


def _log_replayed_failures(exchange: Exchange, failed: list[tuple[Command, int]]) -> None:
    """A warning per internal failure the replay met again (``Exchange.take_failures``).

    A warning, not critical: the node logged it critical when it happened, and the replay only
    rebuilds its outcome (the reject, the halt until the regulator resumes), so a restart does not
    raise the alarm again; the line still carries the traceback. Draining the failures here also
    keeps the node's first batch from logging them as its own.
    """
    for failure in exchange.take_failures():
        seq = next((s for c, s in failed if c is failure.command), None)
        _log.warning(
            "recovery.internal_error_replayed",
            command=type(failure.command).__name__,
            journal_seq=seq,
            exception=type(failure.exception).__name__,
            conservation_ok=failure.conservation_ok,
            exc_info=failure.exception,
        )


def demo_opening(market: MarketState, calendar: Calendar, today: dt.date) -> list[Command]:
    """The commands that open a continuous session now, whatever the clock says (demo mode)."""
    commands: list[Command] = []
    day_open, session = market.day_open, market.session
    if day_open and market.sessions_over:
        commands.append(EndOfDay(trading_day=market.trading_day))
        day_open = False
    if not day_open:
        last = day_from_int(market.trading_day) if market.trading_day else None
        day = day_to_open(calendar, today, last)  # the rule of the regulator's start-of-day
        commands.append(StartOfDay(trading_day=day_to_int(day)))
        session = Session.CLOSED
    if session is Session.CLOSED:
        commands.append(SetSession(session=Session.MORNING))
    elif session is Session.LUNCH_BREAK:
        commands.append(SetSession(session=Session.AFTERNOON))
    return commands


def open_node_state(loaded: LoadedConfig, data_dir: Path, clock: Callable[[], int]) -> NodeState:
    """Lock the data directory (its journal), then write in it: the config record, the clean-up, recovery."""
    try:
        journal = Journal.open(data_dir, fsync=loaded.node.fsync)
    except JournalLocked:
        raise DataDirUnavailable(f"{data_dir}: in use by another carbonx process (journal locked)") from None
    try:
        record_config(data_dir, loaded.exchange)
        stale = remove_stale_temporaries(data_dir)
        if stale:
            _log.warning("snapshots.stale_removed", data_dir=str(data_dir), files=[p.name for p in stale])
        return NodeState(loaded, data_dir, journal, clock)
    except BaseException:
        journal.close()
        raise
