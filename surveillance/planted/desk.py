"""The desk a planted day trades through: scripts in exchange-time order, the sequencer, what they read.

Everything that acts on the planted market is a script: a generator that yields ``Wait(at)`` to
sleep until an exchange time, or ``Send(commands)`` to submit a batch now and receive its events.
The desk runs the scripts in time order (the day's sessions, the honest flow, the auctions, each
injected pattern), stamps every batch with its exchange time through ``engine.recovery.Sequencer``
(journaled, then applied) and checks what came back: a command the exchange refuses stops the run
with the name of the script that sent it, unless the script said it meant to be refused.

Between its ``Send`` steps a script keeps the desk: a run of sends (a spoofer's orders, fill and
cancels seconds apart) is not interleaved with anybody else's. The desk also keeps what scripts
read besides the book: the live orders with their owners, and the day's traded tonnes.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections import Counter
from collections.abc import Generator, Sequence
from typing import NamedTuple
from zoneinfo import ZoneInfo

import msgspec

from engine.config import ExchangeConfig
from engine.exchange import Exchange
from engine.journal import Journal
from engine.messages import (
    AllocateAllowances,
    AmendOrder,
    AnnounceAuction,
    CancelOrder,
    Command,
    DepositCash,
    Event,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    RequestRejected,
    Side,
    TradeExecuted,
)
from engine.recovery import Sequencer
from engine.view import ExchangeView
from surveillance.planted.labels import PlantedCase

STEP_NS = 7_000_000  # exchange time between two batches of one script's turn: 7 ms


class PlantedError(RuntimeError):
    """A pattern (or the honest flow) could not be played as designed: names it and what went wrong."""


class Wait(NamedTuple):
    at: int  # exchange time, ns since the epoch


class Send(NamedTuple):
    commands: Sequence[Command]
    after: int = 0  # ns of exchange time that pass first (within the script's turn)
    refused: bool = False  # every command is meant to be refused (a prohibited account's)


Step = Wait | Send
Script = Generator[Step, list[list[Event]], list[PlantedCase]]


class LiveOrder(msgspec.Struct, gc=False):
    account: str
    instrument: str
    side: Side
    price: int
    leaves: int
    placed: int  # exchange time it was accepted


def exchange_time(day: dt.date, clock: dt.time, tz: ZoneInfo) -> int:
    return int(dt.datetime.combine(day, clock, tz).timestamp()) * 1_000_000_000


class Desk:
    def __init__(self, exchange: Exchange, journal: Journal, config: ExchangeConfig) -> None:
        self.view = ExchangeView(exchange)
        self.sequencer = Sequencer(exchange, journal, lambda: self.now)
        self.config = config
        self.tz = ZoneInfo(config.calendar.timezone)
        self.now = 0
        self.members = {a.id: a.member for a in config.accounts}
        self.regulator = next(m.id for m in config.members if m.kind == "regulator")
        self.ticks = {i.code: i.tick_fen for i in config.instruments}
        self.live: dict[int, LiveOrder] = {}
        self._requests: Counter[str] = Counter()
        self._client_ids = itertools.count(1)
        self.start_day()

    def start_day(self) -> None:
        self.volume: Counter[str] = Counter()  # instrument -> listing tonnes today
        self.traded: Counter[tuple[str, str]] = Counter()  # (account, instrument) -> tonnes bought and sold
        self.messages: Counter[tuple[str, str]] = Counter()  # (account, instrument) -> new, amend, cancel
        self.fills: Counter[tuple[str, str]] = Counter()
        self.trades: list[TradeExecuted] = []

    # ------------------------------------------------------------------ what scripts read
    def at(self, day: dt.date, clock: dt.time) -> int:
        return exchange_time(day, clock, self.tz)

    def client_id(self) -> str:
        return f"C{next(self._client_ids):08d}"

    def touch(self, instrument: str, side: Side) -> tuple[int, int] | None:
        """The best level of one side: (price, tonnes), or None when the side is empty."""
        levels = self.view.depth(instrument, side, 1)
        return (levels[0].price, levels[0].quantity) if levels else None

    def reference(self, instrument: str) -> int:
        return self.view.figures(instrument).reference_price

    def held(self, account: str, instrument: str) -> int:
        h = self.view.holding(account, instrument)
        return h.available + h.frozen + h.restricted + h.compliance

    # ------------------------------------------------------------------ running scripts
    def run(self, scripts: Sequence[tuple[str, Script]]) -> list[PlantedCase]:
        """Run ``scripts`` (named for errors) until every one has returned; the cases they planted."""
        order = itertools.count()
        queue: list[tuple[int, int, str, Script, bool]] = [(self.now, next(order), n, s, True) for n, s in scripts]
        heapq.heapify(queue)
        cases: list[PlantedCase] = []
        while queue:
            at, _, name, script, first = heapq.heappop(queue)
            self.now = max(self.now, at)
            reply: list[list[Event]] = []
            while True:
                try:
                    step = next(script) if first else script.send(reply)
                except StopIteration as done:
                    cases.extend(done.value)
                    break
                first = False
                if isinstance(step, Wait):
                    heapq.heappush(queue, (step.at, next(order), name, script, False))
                    break
                self.now += step.after
                reply = self.submit(step.commands, name, refused=step.refused)
                self.now += STEP_NS
        return cases

    def submit(self, commands: Sequence[Command], who: str, *, refused: bool = False) -> list[list[Event]]:
        origins = [self._origin(command) for command in commands]
        for command in commands:
            self._count_message(command)
        outcomes = self.sequencer.submit_batch(commands, origins, ts=self.now)
        for command, events in zip(commands, outcomes, strict=True):
            self._check(command, events, who, refused)
            self._observe(events)
        return list(outcomes)

    def _origin(self, command: Command) -> tuple[str, int]:
        """The member whose request it was (the regulator's for funding and announcements)."""
        if isinstance(command, DepositCash | AllocateAllowances | AnnounceAuction):
            member = self.regulator
        else:
            member = self.members.get(getattr(command, "account", ""), "")
        if not member:
            return ("", 0)
        self._requests[member] += 1
        return (member, self._requests[member])

    def _count_message(self, command: Command) -> None:
        if isinstance(command, NewOrder):
            self.messages[command.account, command.instrument] += 1
        elif isinstance(command, CancelOrder | AmendOrder) and command.order_id in self.live:
            self.messages[command.account, self.live[command.order_id].instrument] += 1

    @staticmethod
    def _check(command: Command, events: list[Event], who: str, refused: bool) -> None:
        rejects = [e for e in events if isinstance(e, OrderRejected | RequestRejected)]
        if rejects and not refused:
            raise PlantedError(f"{who}: the exchange refused {command!r}: {rejects[0].text}")
        if refused and not rejects:
            raise PlantedError(f"{who}: {type(command).__name__} was meant to be refused but was accepted")

    def _observe(self, events: list[Event]) -> None:
        live = self.live
        for event in events:
            kind = type(event)
            if kind is OrderAccepted:
                assert isinstance(event, OrderAccepted)
                live[event.order_id] = LiveOrder(
                    event.account, event.instrument, event.side, event.price, event.quantity, self.now
                )
            elif kind is TradeExecuted:
                assert isinstance(event, TradeExecuted)
                self._trade(event)
            elif kind is OrderCancelled:
                assert isinstance(event, OrderCancelled)
                live.pop(event.order_id, None)
            elif kind is OrderAmended:
                assert isinstance(event, OrderAmended)
                order = live[event.order_id]
                order.price, order.leaves = event.price, event.quantity

    def _trade(self, trade: TradeExecuted) -> None:
        for order_id, leaves in ((trade.buy_order_id, trade.buy_leaves), (trade.sell_order_id, trade.sell_leaves)):
            if leaves:
                self.live[order_id].leaves = leaves
            else:
                self.live.pop(order_id, None)
        code, quantity = trade.instrument, trade.quantity
        self.volume[code] += quantity
        for account in (trade.buy_account, trade.sell_account):
            self.traded[account, code] += quantity
            self.fills[account, code] += 1
        self.trades.append(trade)
