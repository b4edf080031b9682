"""The honest flow of the planted market: what surveillance must stay quiet on.

Every honest account has a typical order size (10-1,000 t, by its kind) and is funded on the first
day (cash, and allowances of both instruments). Each trading day, each member takes one side per
instrument, and so do the owner groups its accounts belong to: members joined by a declared group
form one block, so accounts of one member or one group never meet each other, never round-trip and
never cycle. Orders are limit orders near a fair value that drifts a tick at a time and comes back
to the day's anchor; most sit at or near the touch, so they trade. Some are cancelled or amended.

Quiet by construction: an account's planned tonnes per day and instrument are capped (its share of
the day's volume stays small), an account whose orders keep missing crosses the spread with its next
one (its order-to-trade ratio stays low), smaller accounts send more orders than larger ones but
less volume. The messages of a day follow the intraday shape of a listing market: busier in the
first quarter hour and busiest in the last ten minutes before the close.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterable, Iterator, Sequence

import msgspec

from engine.config import TRADING_ACCOUNT_KINDS, ExchangeConfig, SessionTimes
from engine.messages import AllocateAllowances, AmendOrder, CancelOrder, Command, DepositCash, NewOrder, OrderType, Side
from surveillance.planted.config import Cast
from surveillance.planted.desk import Desk, Script, Send, Wait

CANCEL_SHARE, AMEND_SHARE = 0.12, 0.08
INSTRUMENT_WEIGHTS = (3, 2)  # the allowance draws 60% of the messages, the offset 40%
AGGRESSIVE_SHARE, AT_FAIR_SHARE = 0.35, 0.10
PASSIVE_MEAN_TICKS = 6  # a passive order waits 1 + an exponential number of ticks behind fair
SIZE_BY_KIND = {"covered_entity": (100, 1000), "institution": (50, 1000), "individual": (10, 200)}
CASH_BY_KIND = {"covered_entity": 2_000_000_000, "institution": 3_000_000_000, "individual": 200_000_000}
HOLDINGS_BY_KIND = {  # thousands of tonnes allocated, per instrument kind: (low, high)
    "covered_entity": {"allowance": (60, 200), "ccer": (10, 40)},
    "institution": {"allowance": (20, 60), "ccer": (10, 40)},
    "individual": {"allowance": (2, 10), "ccer": (2, 10)},
}
BUDGET_MULTIPLE = 1.6  # an account plans at most this multiple of the mean account's tonnes a day
MISSING_AFTER = 8  # messages, after which an account whose fills are under a fifth crosses the spread
FEE_ROOM = 1.002  # a buy's cash check: value, the listing fee, and a little room for rounding


class Trader(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    member: str
    kind: str
    group: str
    typical: int  # t
    weight: float  # how often it sends orders: smaller accounts more often
    block: int  # members joined by owner groups: one side per instrument and day


class Fair:
    """A fair value per instrument: ±1 tick now and then, pulled back towards the day's anchor."""

    def __init__(self, anchor: int, tick: int) -> None:
        self.anchor, self.value, self.tick = anchor, anchor, tick

    def step(self, rng: random.Random) -> int:
        if rng.random() < 0.2:
            pull = (self.value - self.anchor) / (24 * self.tick)
            self.value += self.tick if rng.random() < 0.5 - pull else -self.tick
        return self.value


class HonestFlow:
    def __init__(self, config: ExchangeConfig, cast: Cast, seed: int, orders_per_day: int) -> None:
        self.config = config
        self.rng = random.Random(f"{seed}:honest")
        self.orders_per_day = orders_per_day
        self.instruments = config.instruments
        self.fee_ppm = config.fees.listing_ppm
        self.traders = self._traders(cast)
        self.by_account = {t.account: t for t in self.traders}
        self.cum_weights = list(_running_sum(t.weight for t in self.traders))

    def _traders(self, cast: Cast) -> list[Trader]:
        rng, skip = self.rng, cast.manipulators
        honest = [a for a in self.config.accounts if a.kind in TRADING_ACCOUNT_KINDS and not a.prohibited]
        honest = [a for a in honest if a.id not in skip]
        blocks = _blocks([(a.member, a.owner_group) for a in honest])
        traders = []
        for account, block in zip(honest, blocks, strict=True):
            low, high = SIZE_BY_KIND[account.kind]
            typical = round(math.exp(rng.uniform(math.log(low), math.log(high))))
            traders.append(
                Trader(
                    account=account.id,
                    member=account.member,
                    kind=account.kind,
                    group=account.owner_group,
                    typical=typical,
                    weight=typical**-0.4,
                    block=block,
                )
            )
        return traders

    def funding(self) -> list[Command]:
        """Each honest account's cash and allowances, deposited and allocated at the first day's start."""
        rng = self.rng
        commands: list[Command] = []
        for trader in self.traders:
            commands.append(DepositCash(account=trader.account, amount=CASH_BY_KIND[trader.kind]))
            for instrument in self.instruments:
                low, high = HOLDINGS_BY_KIND[trader.kind][instrument.kind]
                quantity = rng.randint(low, high) * 1000
                commands.append(
                    AllocateAllowances(account=trader.account, instrument=instrument.code, quantity=quantity)
                )
        return commands

    # ------------------------------------------------------------------ a trading day
    def day(self, desk: Desk, day: dt.date) -> Script:
        """The day's honest messages, each at its time in the sessions."""
        rng = self.rng
        codes = [i.code for i in self.instruments]
        sides = {code: self._sides() for code in codes}
        fair = {
            i.code: Fair(desk.reference(i.code) + rng.randint(-4, 4) * i.tick_fen, i.tick_fen) for i in self.instruments
        }
        budgets = self._budgets()
        planned: dict[tuple[str, str], int] = {}
        for at, code in self._schedule(desk, day, codes):
            yield Wait(at)
            value = fair[code].step(rng)
            command = self._message(desk, code, value, sides[code], budgets[code], planned)
            if command is not None:
                yield Send([command])
        return []

    def _schedule(self, desk: Desk, day: dt.date, codes: Sequence[str]) -> list[tuple[int, str]]:
        """Message times over the sessions' minutes, weighted by the intraday shape, with their instrument."""
        rng = self.rng
        minutes = list(_session_minutes(self.config.calendar.sessions))
        weights = [_intensity(minute, self.config.calendar.sessions) for minute in minutes]
        picked = rng.choices(minutes, weights, k=self.orders_per_day)
        times = sorted(desk.at(day, minute) + rng.randrange(1_000_000_000, 59_000_000_000) for minute in picked)
        return [(at, rng.choices(codes, INSTRUMENT_WEIGHTS[: len(codes)])[0]) for at in times]

    def _sides(self) -> dict[int, Side]:
        """Each block's side: blocks in a random order, each to the side with less expected volume so far."""
        rng = self.rng
        volume: dict[int, float] = {}
        for trader in self.traders:
            volume[trader.block] = volume.get(trader.block, 0.0) + trader.weight * trader.typical
        blocks = sorted(volume, key=lambda _: rng.random())
        totals = {Side.BUY: 0.0, Side.SELL: 0.0}
        sides: dict[int, Side] = {}
        for block in blocks:
            side = Side.BUY if totals[Side.BUY] <= totals[Side.SELL] else Side.SELL
            sides[block] = side
            totals[side] += volume[block]
        return sides

    def _budgets(self) -> dict[str, int]:
        """Per instrument, the tonnes one account may plan in a day: a multiple of the mean account's."""
        weights = INSTRUMENT_WEIGHTS[: len(self.instruments)]
        total_weight = sum(t.weight for t in self.traders)
        mean_size = sum(t.weight * t.typical for t in self.traders) / total_weight
        budgets = {}
        for instrument, weight in zip(self.instruments, weights, strict=True):
            orders = self.orders_per_day * weight / sum(weights) * (1 - CANCEL_SHARE - AMEND_SHARE)
            budgets[instrument.code] = int(BUDGET_MULTIPLE * orders * mean_size / len(self.traders))
        return budgets

    def _message(
        self,
        desk: Desk,
        code: str,
        fair: int,
        sides: dict[int, Side],
        budget: int,
        planned: dict[tuple[str, str], int],
    ) -> Command | None:
        roll = self.rng.random()
        if roll < CANCEL_SHARE + AMEND_SHARE:
            order_id = self._resting_order(desk, code)
            if order_id is not None:
                return self._cancel_or_amend(desk, order_id, fair, amend=roll >= CANCEL_SHARE)
        return self._new_order(desk, code, fair, sides, budget, planned)

    def _resting_order(self, desk: Desk, code: str) -> int | None:
        """An honest order resting for a minute or more whose owner has not sent many messages today."""
        since = desk.now - 60_000_000_000
        honest, messages = self.by_account, desk.messages
        candidates = [
            order_id
            for order_id, order in desk.live.items()
            if order.instrument == code
            and order.placed <= since
            and order.account in honest
            and messages[order.account, code] < MISSING_AFTER
        ]
        return self.rng.choice(candidates) if candidates else None

    def _cancel_or_amend(self, desk: Desk, order_id: int, fair: int, *, amend: bool) -> Command:
        order = desk.live[order_id]
        if not amend:
            return CancelOrder(account=order.account, order_id=order_id)
        tick = desk.ticks[order.instrument]
        sign = -1 if order.side is Side.BUY else 1
        price = fair + sign * self.rng.randint(0, 2) * tick
        if price != order.price:
            if order.side is Side.BUY and not self._affordable(desk, order.account, price, order.leaves):
                return CancelOrder(account=order.account, order_id=order_id)
            return AmendOrder(account=order.account, order_id=order_id, price=price, quantity=order.leaves)
        half = order.leaves // 2 // 10 * 10
        if half:
            return AmendOrder(account=order.account, order_id=order_id, price=order.price, quantity=half)
        return CancelOrder(account=order.account, order_id=order_id)

    def _new_order(
        self,
        desk: Desk,
        code: str,
        fair: int,
        sides: dict[int, Side],
        budget: int,
        planned: dict[tuple[str, str], int],
    ) -> NewOrder | None:
        rng, tick = self.rng, desk.ticks[code]
        lower, upper = desk.view.band(code)
        for _ in range(10):  # an account over its budget or out of means passes the turn to another
            trader = rng.choices(self.traders, cum_weights=self.cum_weights)[0]
            key = (trader.account, code)
            side = sides[trader.block]
            quantity = max(10, int(round(trader.typical * rng.uniform(0.5, 1.5), -1)))
            if planned.get(key, 0) + quantity > budget:
                continue
            ticks = self._ticks_behind(desk, key)
            price = min(max(fair + (ticks if side is Side.SELL else -ticks) * tick, lower), upper)
            if side is Side.SELL:
                quantity = min(quantity, desk.view.holding(trader.account, code).available) // 10 * 10
            elif not self._affordable(desk, trader.account, price, quantity):
                continue
            if quantity <= 0:
                continue
            planned[key] = planned.get(key, 0) + quantity
            return NewOrder(
                account=trader.account,
                instrument=code,
                client_order_id=desk.client_id(),
                side=side,
                order_type=OrderType.LIMIT,
                quantity=quantity,
                price=price,
            )
        return None

    def _ticks_behind(self, desk: Desk, key: tuple[str, str]) -> int:
        """How far behind fair the order waits (negative: it crosses fair to trade now)."""
        rng = self.rng
        messages = desk.messages[key]
        if messages >= MISSING_AFTER and desk.fills[key] * 5 < messages:
            return -3
        roll = rng.random()
        if roll < AGGRESSIVE_SHARE:
            return -rng.randint(1, 3)
        if roll < AGGRESSIVE_SHARE + AT_FAIR_SHARE:
            return 0
        return 1 + min(int(rng.expovariate(1 / PASSIVE_MEAN_TICKS)), 30)

    def _affordable(self, desk: Desk, account: str, price: int, quantity: int) -> bool:
        return price * quantity * FEE_ROOM + 2 <= desk.view.cash(account).available


# ---------------------------------------------------------------------------------------------- helpers


def _blocks(accounts: Sequence[tuple[str, str]]) -> list[int]:
    """For each (member, owner group), the block it belongs to: members joined through shared groups."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    for member, group in accounts:
        if group:
            parent[root("member:" + member)] = root("group:" + group)
    roots = [root("member:" + member) for member, _ in accounts]
    numbers = {key: index for index, key in enumerate(dict.fromkeys(roots))}
    return [numbers[key] for key in roots]


def _running_sum(values: Iterable[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def _session_minutes(sessions: SessionTimes) -> Iterator[dt.time]:
    for start, end in (
        (sessions.morning_open, sessions.morning_close),
        (sessions.afternoon_open, sessions.afternoon_close),
    ):
        minute = dt.datetime.combine(dt.date(2000, 1, 1), start)
        stop = dt.datetime.combine(dt.date(2000, 1, 1), end)
        while minute < stop:
            yield minute.time()
            minute += dt.timedelta(minutes=1)


def _intensity(minute: dt.time, sessions: SessionTimes) -> int:
    """The intraday shape: twice as busy in the opening quarter hour, four times in the last ten minutes."""
    of_day = minute.hour * 60 + minute.minute
    morning = sessions.morning_open.hour * 60 + sessions.morning_open.minute
    close = sessions.afternoon_close.hour * 60 + sessions.afternoon_close.minute
    if close - of_day <= 10:
        return 4
    return 2 if 0 <= of_day - morning < 15 else 1
