"""A rich command flow for the differential tests: every order type and rule path, days on end.

The flow watches the reference exchange's events (``observe``) to know which orders rest, so most
cancels and amends hit a live order of its owner; the rest hit filled ones, other accounts' and ids
never given out.
It covers every order type and self-trade prevention mode, amends that keep and lose priority,
mass cancels, halts and resumes of an instrument and of the market, the sessions of the day
(orders refused outside them), band edges and off-tick prices, lots, quantity limits, bad and
repeated client order ids, unknown and barred accounts, position limits, insufficient funds and
holdings, registry deposits and allocations, and end of day into the next (new reference prices,
so new bands).

``Pick`` hides where the choices come from: ``random.Random`` for the long seeded flows,
hypothesis' ``data.draw`` for the shrinking ones, so both drive the same generator.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import TypeVar

from hypothesis import strategies as st

from engine.config import ExchangeConfig, RiskLimits
from engine.exchange import Exchange
from engine.market_day.calendar import day_from_int, day_to_int
from engine.messages import (
    AllocateAllowances,
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    Command,
    DailyBulletin,
    DepositCash,
    EndOfDay,
    Event,
    HaltInstrument,
    HaltMarket,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderConvertedToLimit,
    OrderType,
    ResumeInstrument,
    ResumeMarket,
    Session,
    SetSession,
    Side,
    StartOfDay,
    StpMode,
    TradeExecuted,
    WithdrawCash,
)
from engine.prices import band_limits
from tests.conftest import DAY1, market_config

T = TypeVar("T")

TRADERS = ("A1", "A2", "A3", "A4")
ODD_ACCOUNTS = ("STAFF", "RESERVE", "EXCHANGE-FEES", "NOBODY")
INSTRUMENTS = {"SHEA2025": (8000, 1, 1), "CCER": (8500, 1, 1), "T5": (7775, 5, 10)}  # reference, tick, lot
# Tight enough that position limits bite: A1 (a covered entity) may hold 2,000 t more than its allocation.
RISK = RiskLimits(position_limit_t={"covered_entity": 2_000, "institution": 60_000, "individual": 58_000})
# What each trader is funded with at the start: A3 and A4 run short of cash and allowances.
FUNDING = {"A1": (50_000_000, 3_000), "A2": (400_000_000, 50_000), "A3": (8_000_000, 1_500), "A4": (3_000_000, 800)}


def differential_config() -> ExchangeConfig:
    return market_config(risk=RISK)


class Pick:
    """Choices from a seeded ``random.Random`` or from hypothesis' ``data.draw``."""

    def __init__(self, rng: random.Random | None = None, data: st.DataObject | None = None) -> None:
        self._rng, self._data = rng, data

    def int(self, low: int, high: int) -> int:
        if self._data is not None:
            return self._data.draw(st.integers(low, high))
        assert self._rng is not None
        return self._rng.randint(low, high)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.int(0, len(options) - 1)]

    def chance(self, percent: int) -> bool:
        return self.int(0, 99) < percent


class Flow:
    """The generator's view: the day, the session, what it sent, and the orders it saw rest."""

    def __init__(self, pick: Pick) -> None:
        self.pick = pick
        self.day = DAY1
        self.session = Session.CLOSED
        self.orders_sent = 0
        self.coids: list[tuple[str, str]] = []
        self.references = {code: ref for code, (ref, _, _) in INSTRUMENTS.items()}
        self.live: list[tuple[int, str]] = []  # (order id, account), in no order
        self._where: dict[int, int] = {}  # order id -> its index in ``live``
        self.shown: dict[int, tuple[int, int]] = {}  # order id -> (price, open quantity) as last reported

    def observe(self, events: Sequence[Event]) -> None:
        """Follow the orders that rest, from the events the last command caused."""
        for event in events:
            if isinstance(event, OrderAccepted):
                self._where[event.order_id] = len(self.live)
                self.live.append((event.order_id, event.account))
                self.shown[event.order_id] = (event.price, event.quantity)
            elif isinstance(event, OrderAmended | OrderConvertedToLimit):
                self.shown[event.order_id] = (event.price, event.quantity)
            elif isinstance(event, OrderCancelled):
                self._forget(event.order_id)
            elif isinstance(event, TradeExecuted):
                for order_id, leaves in (
                    (event.buy_order_id, event.buy_leaves),
                    (event.sell_order_id, event.sell_leaves),
                ):
                    if order_id in self.shown:
                        self.shown[order_id] = (self.shown[order_id][0], leaves)
                if not event.buy_leaves:
                    self._forget(event.buy_order_id)
                if not event.sell_leaves:
                    self._forget(event.sell_order_id)
            elif isinstance(event, DailyBulletin):
                self.references[event.instrument] = event.close

    def _forget(self, order_id: int) -> None:
        index = self._where.pop(order_id, None)
        self.shown.pop(order_id, None)
        if index is not None:
            last = self.live.pop()
            if last[0] != order_id:
                self.live[index] = last
                self._where[last[0]] = index

    def opening(self) -> list[Command]:
        commands: list[Command] = [StartOfDay(trading_day=self.day)]
        for account, (cash, tonnes) in FUNDING.items():
            commands.append(DepositCash(account=account, amount=cash))
            for code in INSTRUMENTS:
                commands.append(AllocateAllowances(account=account, instrument=code, quantity=tonnes))
        commands.append(SetSession(session=Session.MORNING))
        self.session = Session.MORNING
        return commands

    def commands(self, count: int, session_every: int = 2_500) -> Iterator[Command]:
        """``count`` commands after the opening; the session moves on about every ``session_every``."""
        for _ in range(count):
            # Break and night are short, so most orders meet an open market.
            every = session_every if self.session.is_continuous else max(1, session_every // 20)
            if self.pick.int(1, every) == 1:
                yield from self.next_session()
            else:
                yield self.one()

    def next_session(self) -> list[Command]:
        order = [Session.MORNING, Session.LUNCH_BREAK, Session.AFTERNOON, Session.CLOSED]
        if self.session is Session.CLOSED:
            day = day_from_int(self.day)
            assert day is not None
            ended = self.day
            self.day = day_to_int(market_config().calendar.next_trading_day(day))
            self.session = Session.MORNING
            self.coids.clear()
            return [EndOfDay(trading_day=ended), StartOfDay(trading_day=self.day), SetSession(session=Session.MORNING)]
        self.session = order[order.index(self.session) + 1]
        return [SetSession(session=self.session)]

    def one(self) -> Command:
        roll = self.pick.int(0, 999)
        if roll < 640:
            return self.new_order()
        if roll < 760:
            account, order_id = self.target()
            return CancelOrder(account=account, order_id=order_id)
        if roll < 880:
            return self.amend()
        if roll < 890:
            return CancelAllOrders(
                account=self.account(),
                instrument=self.pick.choice(("", "", "SHEA2025", "T5", "NOPE")),
                on_disconnect=self.pick.chance(30),
            )
        if roll < 905:  # halts are short: most of these resume
            code = self.pick.choice((*INSTRUMENTS, "NOPE"))
            if self.pick.chance(15):
                return HaltInstrument(instrument=code, reason=self.pick.choice(("", "drill", "news flow")))
            return ResumeInstrument(instrument=code)
        if roll < 915:
            return HaltMarket(reason="drill") if self.pick.chance(15) else ResumeMarket()
        if roll < 960:
            return DepositCash(account=self.pick.choice(TRADERS), amount=self.pick.int(1, 1_500_000))
        if roll < 990:
            return AllocateAllowances(
                account=self.pick.choice(TRADERS),
                instrument=self.pick.choice(tuple(INSTRUMENTS)),
                quantity=self.pick.int(1, 400),
            )
        return WithdrawCash(account=self.pick.choice(TRADERS), amount=self.pick.int(1, 2_000_000))

    def account(self) -> str:
        return self.pick.choice(ODD_ACCOUNTS) if self.pick.chance(3) else self.pick.choice(TRADERS)

    def target(self) -> tuple[str, int]:
        """An (account, order id) to cancel or amend: mostly a resting order of its owner."""
        if self.live and self.pick.chance(85):
            order_id, owner = self.pick.choice(self.live)
            return (owner if self.pick.chance(92) else self.account()), order_id
        if self.pick.chance(20):
            return self.account(), self.pick.choice((0, -1, self.orders_sent + 50, 2**40))
        return self.account(), self.pick.int(max(1, self.orders_sent // 2 - 150), self.orders_sent // 2 + 2)

    def price(self, code: str) -> int:
        reference, tick, _ = INSTRUMENTS[code]
        lower, upper = band_limits(self.references.get(code, reference), 1000, tick)
        roll = self.pick.int(0, 99)
        if roll < 4:
            return self.pick.choice((lower, upper, lower - tick, upper + tick, 0, -tick, lower + 1))
        middle = self.references.get(code, reference)
        return max(tick, middle // tick * tick + self.pick.int(-40, 40) * tick)

    def quantity(self, lot: int) -> int:
        roll = self.pick.int(0, 99)
        if roll < 3:
            return self.pick.choice((0, -10, 99_999, 100_000, 7, 2**50))
        return self.pick.int(1, 60) * 10 if lot > 1 else self.pick.int(1, 600)

    def new_order(self) -> NewOrder:
        pick = self.pick
        code = pick.choice((*INSTRUMENTS, "NOPE")) if pick.chance(2) else pick.choice(tuple(INSTRUMENTS))
        kind = pick.choice(tuple(OrderType))
        account = self.account()
        roll = pick.int(0, 99)
        if roll < 2 and self.coids:
            account, coid = pick.choice(self.coids)  # a repeat: a duplicate unless it was refused
        elif roll < 4:
            coid = pick.choice(("", "x" * 37, "ok id with spaces", 'quote"d'))
        else:
            coid = f"c{self.orders_sent}"
        self.coids.append((account, coid))
        self.orders_sent += 1
        price = 0 if kind in (OrderType.MARKET_FIVE_CANCEL, OrderType.MARKET_FIVE_LIMIT) else None
        if price is None or pick.chance(2):
            price = self.price(code) if code in INSTRUMENTS else 8000
        return NewOrder(
            account=account,
            instrument=code,
            client_order_id=coid,
            side=pick.choice((Side.BUY, Side.SELL)),
            order_type=kind,
            quantity=self.quantity(INSTRUMENTS.get(code, (0, 1, 1))[2]),
            price=price,
            stp=pick.choice((None, None, *StpMode)),
        )

    def amend(self) -> AmendOrder:
        code = self.pick.choice(tuple(INSTRUMENTS))
        account, order_id = self.target()
        price, leaves = self.shown.get(order_id, (0, 0))
        roll = self.pick.int(0, 99)
        if leaves and roll < 6:  # no change at all: refused
            return AmendOrder(account=account, order_id=order_id, price=price, quantity=leaves)
        if leaves > 1 and roll < 20:  # less at the same price: keeps its place
            return AmendOrder(account=account, order_id=order_id, price=price, quantity=self.pick.int(1, leaves - 1))
        return AmendOrder(
            account=account,
            order_id=order_id,
            price=self.price(code),
            quantity=self.quantity(INSTRUMENTS[code][2]),
        )


def reference_run(flow: Flow, count: int, session_every: int = 2_500) -> tuple[list[Command], list[list[Event]]]:
    """Generate ``count`` commands (after the opening) against a reference exchange: the commands
    and the events the reference gave for each, at exchange times 1, 2, 3..."""
    reference = Exchange(differential_config(), "reference")
    commands: list[Command] = []
    events: list[list[Event]] = []
    for command in flow.opening():
        commands.append(command)
        events.append(reference.apply(command, len(commands)))
    for command in flow.commands(count, session_every):
        commands.append(command)
        caused = reference.apply(command, len(commands))
        events.append(caused)
        flow.observe(caused)
    return commands, events


def seeded_flow(seed: int, count: int) -> tuple[list[Command], list[list[Event]]]:
    return reference_run(Flow(Pick(rng=random.Random(seed))), count)
