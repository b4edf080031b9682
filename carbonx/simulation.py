"""A seeded simulated trading day: members trade through the engine in process, journaled.

Free allocation and deposits at the start, the morning and afternoon sessions with a random but
reproducible order flow from every trading account of the config (``carbonx.member_flow``: funded
orders at prices inside the band), the close and the end of day — statements, member settlement,
large holders and the conservation check, written to the data directory's SQLite database — then a
snapshot. The journal it leaves reproduces the same state hash under ``carbonx replay``.

The randomness and the clock live here, outside the engine: the flow is drawn from a seeded
``random.Random`` and the exchange times come from the trading day's session times, so the same
seed, config and date give the same journal, events and hash on every run.

A simulation writes its own data directory (``SIMULATION_DATA_DIR``, not the node's ``var``), and
writes it only while holding its journal's lock, taken before anything is deleted: a directory a
running node holds is refused with one line and left exactly as it was (``--overwrite`` included).
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

from carbonx.member_flow import MAX_ORDER_BY_KIND, AccountQuery, MemberFlow, draw_order
from carbonx.statements_db import DB_FILE, StatementStore
from engine.config import TRADING_ACCOUNT_KINDS, ExchangeConfig
from engine.exchange import Exchange
from engine.journal import JOURNAL_FILE, SNAPSHOT_DIR, Journal, JournalLocked, journal_locked
from engine.market_day.calendar import day_to_int
from engine.messages import (
    AccountStatement,
    AllocateAllowances,
    AllowancesAllocated,
    AmendOrder,
    CancelOrder,
    CashDeposited,
    Command,
    ConservationChecked,
    ConservationMismatch,
    DailyBulletin,
    DepositCash,
    EndOfDay,
    Event,
    LargeHolderReported,
    NewOrder,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    RequestRejected,
    Session,
    SetSession,
    Side,
    StartOfDay,
    TradeExecuted,
    TradingDayEnded,
)
from engine.recovery import CONFIG_FILE, Sequencer, record_config
from engine.view import ExchangeView

# Opening funds per account kind (fen) and allowances per instrument kind (t): demo figures.
CASH_BY_KIND = {"covered_entity": 3_000_000_000, "institution": 5_000_000_000, "individual": 1_000_000_000}
HOLDINGS_BY_KIND = {
    "covered_entity": {"allowance": 300_000, "ccer": 100_000, "shcer": 100_000},
    "institution": {"allowance": 200_000, "ccer": 200_000, "shcer": 200_000},
    "individual": {"allowance": 20_000, "ccer": 20_000, "shcer": 20_000},
}


class SimulationResult(msgspec.Struct, kw_only=True):
    trading_day: dt.date
    data_dir: Path
    commands: int
    accounts: int
    orders_accepted: int
    rejects: dict[str, int]
    trades: int
    expired: int
    fees_collected: int
    bulletins: list[DailyBulletin]
    state_hash: str
    deposited: int  # fen, at the start
    allocated: int  # t, free allocation at the start
    statements: int  # account statements written
    large_holders: int
    conservation: list[ConservationMismatch]  # empty: every unit and fen accounted for
    database: Path


class SimulationError(Exception):
    """The simulation cannot start (e.g. its data directory holds something else); one line."""


# The default data directory of `carbonx simulate`: its own, so a simulation never meets a node's `var`.
SIMULATION_DATA_DIR = "var-simulate"
# What a carbonx data directory holds besides its journal: the files --overwrite removes (the
# journal itself is emptied in place, under its lock).
DATA_FILES = (CONFIG_FILE, DB_FILE, DB_FILE + "-wal", DB_FILE + "-shm")


def _in_use(directory: Path) -> SimulationError:
    return SimulationError(f"{directory}: in use by a running carbonx node (journal locked); nothing changed")


def prepare_data_dir(directory: Path, overwrite: bool, fsync: bool = True) -> Journal:
    """Check the directory, take its journal's lock, and only then clear it: the journal, locked and empty.

    Refused, with nothing changed: a directory whose journal another process holds (a running
    node); one with carbonx files but no recorded config (not ours to judge); one that holds a
    journal, unless ``overwrite``. With ``overwrite`` the journal is emptied in place (it stays the
    locked file) and the config record, database and snapshots are removed; other files stay.
    """
    if journal_locked(directory):
        raise _in_use(directory)
    existing = directory.exists() and any(directory.iterdir())
    has_config = (directory / CONFIG_FILE).exists()
    if existing and not has_config and any((directory / name).exists() for name in (JOURNAL_FILE, DB_FILE)):
        raise SimulationError(f"{directory}: holds carbonx files without {CONFIG_FILE}; refusing to touch it")
    if has_config and not overwrite:
        raise SimulationError(f"{directory}: already holds a journal; pass --overwrite to replace it")
    try:
        journal = Journal.open(directory, fsync=fsync, discard=has_config)
    except JournalLocked:  # a node started since the look above
        raise _in_use(directory) from None
    if journal.last_seq:  # another simulation wrote it since the look above
        journal.close()
        raise SimulationError(f"{directory}: already holds a journal; pass --overwrite to replace it")
    if has_config:
        shutil.rmtree(directory / SNAPSHOT_DIR, ignore_errors=True)
        for name in DATA_FILES:
            (directory / name).unlink(missing_ok=True)
    return journal


class _Clock:
    """Exchange time for the simulated day: each command a little after the previous one."""

    def __init__(self, day: dt.date, tz: ZoneInfo) -> None:
        self.day, self.tz = day, tz
        self.now = 0

    def at(self, time: dt.time) -> None:
        self.now = int(dt.datetime.combine(self.day, time, self.tz).timestamp()) * 1_000_000_000

    def __call__(self) -> int:
        self.now += 7_000_000  # 7 ms apart: deterministic, and the session stays within its hours
        return self.now


class OrderFlow:
    """An unchecked order flow: a drifting fair value per instrument and live order ids.

    It sends whatever it draws, funded or not, so many of its orders are rejected: the replay tests
    use it for a journal full of rejects. ``carbonx simulate`` sends ``carbonx.member_flow.MemberFlow``,
    the flow members' own systems would send.
    """

    def __init__(self, config: ExchangeConfig, rng: random.Random) -> None:
        self.rng = rng
        self.accounts = [a for a in config.accounts if a.kind in TRADING_ACCOUNT_KINDS and not a.prohibited]
        self.instruments = config.instruments
        self.fair = {i.code: i.reference_price_fen for i in config.instruments}
        self.live: dict[int, NewOrder] = {}
        self.count = 0

    def next_command(self, bands: dict[str, tuple[int, int]]) -> Command:
        rng = self.rng
        roll = rng.random()
        if self.live and roll < 0.15:
            order_id = rng.choice(sorted(self.live))
            return CancelOrder(account=self.live[order_id].account, order_id=order_id)
        if self.live and roll < 0.20:
            order_id = rng.choice(sorted(self.live))
            old = self.live[order_id]
            lower, upper = bands[old.instrument]
            price = min(max(old.price + rng.randint(-3, 3), lower), upper)
            return AmendOrder(account=old.account, order_id=order_id, price=price, quantity=rng.randrange(10, 1010, 10))
        return self._new_order(bands)

    def _new_order(self, bands: dict[str, tuple[int, int]]) -> NewOrder:
        rng = self.rng
        instrument, fair, side, order_type = draw_order(rng, self.instruments, self.fair, bands)
        code, tick = instrument.code, instrument.tick_fen
        lower, upper = bands[code]
        price = 0
        if not order_type.is_market:
            sign = -1 if side is Side.BUY else 1
            ticks = -rng.randint(0, 4) if rng.random() < 0.25 else 1 + int(rng.expovariate(1 / 6))
            price = min(max(fair + sign * ticks * tick, lower), upper) // tick * tick
        self.count += 1
        account = rng.choice(self.accounts)
        return NewOrder(
            account=account.id,
            instrument=code,
            client_order_id=f"SIM-{self.count:06d}",
            side=side,
            order_type=order_type,
            quantity=rng.randrange(10, MAX_ORDER_BY_KIND[account.kind] + 10, 10) * instrument.lot_t,
            price=price,
        )

    def observe(self, command: Command, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, OrderAccepted) and isinstance(command, NewOrder):
                self.live[event.order_id] = command
            elif isinstance(event, TradeExecuted):
                for order_id, leaves in (
                    (event.buy_order_id, event.buy_leaves),
                    (event.sell_order_id, event.sell_leaves),
                ):
                    if not leaves:
                        self.live.pop(order_id, None)
            elif isinstance(event, OrderCancelled):
                self.live.pop(event.order_id, None)


def funding_commands(config: ExchangeConfig) -> list[Command]:
    commands: list[Command] = []
    for account in config.accounts:
        if account.kind not in TRADING_ACCOUNT_KINDS or account.prohibited:
            continue
        commands.append(DepositCash(account=account.id, amount=CASH_BY_KIND[account.kind]))
        for instrument in config.instruments:
            quantity = HOLDINGS_BY_KIND[account.kind][instrument.kind]
            commands.append(AllocateAllowances(account=account.id, instrument=instrument.code, quantity=quantity))
    return commands


def run_simulation(
    config: ExchangeConfig,
    data_dir: Path,
    *,
    seed: int,
    orders: int,
    trading_day: dt.date,
    overwrite: bool = False,
    fsync: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Simulate the day; ``progress(done, orders)`` is told of the order-entry commands now and then."""
    if not config.calendar.is_trading_day(trading_day):
        raise SimulationError(f"{trading_day} is not a trading day of the calendar (weekend or holiday)")
    clock = _Clock(trading_day, ZoneInfo(config.calendar.timezone))
    rng = random.Random(seed)
    exchange = Exchange(config)
    view = ExchangeView(exchange)
    flow = MemberFlow(config, rng, AccountQuery(view), orders)
    every = max(orders // 100, 1)
    events: list[Event] = []
    sessions = config.calendar.sessions
    # Nobody is answered before the day ends, so the journal is made durable once, before the
    # database that projects it (a fsync per command was ~80% of a simulated day's time).
    with prepare_data_dir(data_dir, overwrite, fsync=False) as journal:
        record_config(data_dir, config)
        sequencer = Sequencer(exchange, journal, clock)
        clock.at(dt.time(9, 0))
        for batch in ([StartOfDay(trading_day=day_to_int(trading_day))], funding_commands(config)):
            for out in sequencer.submit_batch(batch):
                events.extend(out)
        for start, session, share in (
            (sessions.morning_open, Session.MORNING, orders // 2),
            (sessions.afternoon_open, Session.AFTERNOON, orders - orders // 2),
        ):
            clock.at(start)
            if session is Session.AFTERNOON:
                events.extend(sequencer.submit(SetSession(session=Session.LUNCH_BREAK)))
            events.extend(sequencer.submit(SetSession(session=session)))
            bands = {code: view.band(code) for code in view.instruments()}
            for _ in range(share):
                command = flow.next_command(bands)
                out = sequencer.submit(command)
                flow.observe(command, out)
                events.extend(out)
                if progress is not None and flow.sent % every == 0:
                    progress(flow.sent, orders)
        clock.at(sessions.afternoon_close)
        events.extend(sequencer.submit(SetSession(session=Session.CLOSED)))
        end_of_day = sequencer.submit(EndOfDay(trading_day=day_to_int(trading_day)))
        events.extend(end_of_day)
        if fsync:
            journal.sync()
        # The database is a projection of the journal: written after the EndOfDay is durable and
        # before the snapshot, so a snapshot never covers an end of day the database lacks.
        with StatementStore.open(data_dir / DB_FILE) as store:
            store.record(end_of_day)
        sequencer.snapshot()
        last_seq = journal.last_seq
    return _summarise(events, data_dir, trading_day, last_seq, exchange.state_hash(), len(flow.accounts))


def _summarise(
    events: list[Event],
    data_dir: Path,
    trading_day: dt.date,
    last_seq: int,
    state_hash: str,
    accounts: int,
) -> SimulationResult:
    rejects: Counter[str] = Counter()
    for event in events:
        if isinstance(event, OrderRejected | RequestRejected):
            rejects[event.code.name] += 1
    ended = [e for e in events if isinstance(e, TradingDayEnded)][-1]
    checked = [e for e in events if isinstance(e, ConservationChecked)][-1]
    return SimulationResult(
        trading_day=trading_day,
        data_dir=data_dir,
        commands=last_seq,
        accounts=accounts,
        orders_accepted=sum(isinstance(e, OrderAccepted) for e in events),
        rejects=dict(sorted(rejects.items())),
        trades=sum(isinstance(e, TradeExecuted) for e in events),
        expired=ended.expired_orders,
        fees_collected=ended.fees_collected,
        bulletins=[e for e in events if isinstance(e, DailyBulletin)],
        state_hash=state_hash,
        deposited=sum(e.amount for e in events if isinstance(e, CashDeposited)),
        allocated=sum(e.quantity for e in events if isinstance(e, AllowancesAllocated)),
        statements=sum(isinstance(e, AccountStatement) for e in events),
        large_holders=sum(isinstance(e, LargeHolderReported) for e in events),
        conservation=checked.mismatches,
        database=data_dir / DB_FILE,
    )
