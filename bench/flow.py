"""The standard benchmark flow, defined here, and its own book model.

One instrument at a reference price of 80.00 (band 72.00-88.00 with the default ±10%). Per command:
while more than 1,000 orders rest, 40% of commands cancel a uniformly chosen live order; every
other command is a new order on a random side, drawn from the mix 45 passive limit (mid ∓ 1 +
floor(Exp(mean 8)) ticks), 10 aggressive limit (crossing mid by 0-5 ticks) and 5 market (a limit
IOC at the band edge, carbonx's market order with a guaranteed reach), as weights out of 60.
Quantities are 10-990 t in steps of 10 and prices are clamped to the band.

To know the mid, the best prices and which orders rest, the generator keeps its own book:
``FlowBook``, a few plain integer structures written independently of ``engine.listing.book``. The volume
it traded is the flow's expected value, which the engine's TradeExecuted events must add up to.

The generator predicts the engine's order ids (1, 2, 3... for accepted orders) so it can cancel
them; that holds because no order is ever rejected: buys come only from the B accounts and sells
only from the S accounts (self-trade prevention never fires), and each account is funded for the
largest possible order on every command of the flow. The randomness (``random.Random(seed)``)
lives here, outside the engine, which stays deterministic.

The scaled flow (``standard_flow(..., instruments=k, accounts=m)``) runs the same process on ``k``
instruments at once, all at 80.00: each command first draws its instrument uniformly (the one draw
the standard flow does not make), then does what the standard flow does on that instrument's own
book, with its own 1,000 resting orders before cancels start. ``m`` buying and ``m`` selling
accounts (50 each by default). With one instrument and 50 accounts it is the standard flow, command
for command.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from engine.config import Account, ExchangeConfig, Instrument, Member, RiskLimits
from engine.exchange import Exchange
from engine.messages import (
    AllocateAllowances,
    CancelOrder,
    Command,
    DepositCash,
    NewOrder,
    OrderRejected,
    OrderType,
    RequestRejected,
    Session,
    SetSession,
    Side,
    StartOfDay,
    TradeExecuted,
)
from engine.prices import band_limits
from settlement.ledger import fee_for

INSTRUMENT = "SHEA2025"
REFERENCE_PRICE = 8000  # fen/t: 80.00, also the mid when a side of the book is empty
TICK = 1  # fen
TRADING_DAY = 20261123  # a Monday
FEE_ACCOUNT = "EXCHANGE-FEES"
ACCOUNTS_PER_SIDE = 50
BUYERS = tuple(f"B{i:03d}" for i in range(ACCOUNTS_PER_SIDE))
SELLERS = tuple(f"S{i:03d}" for i in range(ACCOUNTS_PER_SIDE))

MAX_RESTING = 1_000  # above this many resting orders, commands may be cancels
CANCEL_SHARE = 0.4
# The new-order mix: the standard flow's 45% / 10% / 5% used as weights out of 60.
PASSIVE_WEIGHT, AGGRESSIVE_WEIGHT, MARKET_WEIGHT = 45, 10, 5
PASSIVE_MEAN_TICKS = 8
MAX_CROSS_TICKS = 5
QUANTITY_STEP = 10
MAX_QUANTITY = 990


@dataclass(frozen=True)
class StandardFlow:
    """A generated flow: the market it runs on, its setup, the measured commands, the expected outcome."""

    config: ExchangeConfig
    setup: list[Command]  # start of day, funding, the morning session: applied before measuring
    commands: list[Command]  # the measured flow
    expected_volume: int  # tonnes traded, per the flow's own book
    expected_resting: int  # orders resting after the last command, per the flow's own book

    @property
    def first_ts(self) -> int:
        """Exchange time of the first measured command: one ns tick per command after the setup."""
        return len(self.setup) + 1


@dataclass(frozen=True)
class FlowOutcome:
    """What the engine did with a run of commands, read from its events."""

    traded_volume: int
    trades: int
    rejected: int
    first_reject: str  # the first reject's text, "" when none


def instrument_codes(count: int) -> tuple[str, ...]:
    """The flow's instruments: SHEA2025 first, then SHEA2026, SHEA2027..."""
    return (INSTRUMENT, *(f"SHEA{2025 + i}" for i in range(1, count)))


def account_ids(count: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The buying and the selling accounts: B000, B001... and S000, S001..."""
    width = max(3, len(str(count - 1)))
    return tuple(f"B{i:0{width}d}" for i in range(count)), tuple(f"S{i:0{width}d}" for i in range(count))


def standard_config(instruments: int = 1, accounts: int = ACCOUNTS_PER_SIDE) -> ExchangeConfig:
    """The benchmark market: allowances at 80.00, a buying member and a selling member."""
    buyers, sellers = account_ids(accounts)
    return ExchangeConfig(
        instruments=[
            Instrument(code=code, name=f"Shanghai allowance {code[4:]}", kind="allowance", reference_price_fen=8000)
            for code in instrument_codes(instruments)
        ],
        members=[
            Member(id="EXCH", name="the exchange", kind="exchange"),
            Member(id="MB", name="buying member", kind="comprehensive"),
            Member(id="MS", name="selling member", kind="comprehensive"),
        ],
        accounts=[
            Account(id=FEE_ACCOUNT, member="EXCH", kind="exchange_fees"),
            *(Account(id=a, member="MB", kind="institution") for a in buyers),
            *(Account(id=a, member="MS", kind="institution") for a in sellers),
        ],
        # A handful of accounts carry the whole flow and buy tens of millions of tonnes in a day, far
        # above any real position limit. The limit stays on, so every buy still pays for the check,
        # but out of reach, so the flow's every command is accepted as the module docstring states it.
        risk=RiskLimits(position_limit_t={"institution": 10**15}, large_holder_t={"institution": 10**15}),
    )


def setup_commands(config: ExchangeConfig, n: int) -> list[Command]:
    """Open the day, fund every account for ``n`` commands of the largest order, open the morning.

    A buy freezes at most its value at the band's upper limit plus the fee on it, and a sell its
    quantity, so funding each account for that on every command means no order is ever refused.
    """
    upper = band_limits(REFERENCE_PRICE, config.listing.band_bp, TICK)[1]
    largest_value = upper * MAX_QUANTITY
    cash = max(n, 1) * (largest_value + fee_for(largest_value, config.fees.listing_ppm))
    allowances = max(n, 1) * MAX_QUANTITY
    kinds = {account.id: account.kind for account in config.accounts}
    buyers = [a for a in kinds if a.startswith("B") and kinds[a] == "institution"]
    sellers = [a for a in kinds if a.startswith("S") and kinds[a] == "institution"]
    return [
        StartOfDay(trading_day=TRADING_DAY),
        *(DepositCash(account=a, amount=cash) for a in buyers),
        *(
            AllocateAllowances(account=a, instrument=instrument.code, quantity=allowances)
            for a in sellers
            for instrument in config.instruments
        ),
        SetSession(session=Session.MORNING),
    ]


class _Level:
    """One price of the flow's book: a FIFO of order ids (cancelled ones swept lazily) and how many live."""

    __slots__ = ("live", "queue")

    def __init__(self) -> None:
        self.queue: deque[int] = deque()
        self.live = 0


class FlowBook:
    """The flow's own price-time book, independent of ``engine.listing.book``: it judges the engine's volume.

    It keeps only what the generator needs: the live order ids (in a list, so a uniform choice and a
    removal are O(1)), the best prices (heaps of price keys, stale keys dropped when they surface)
    and the volume traded. Trades print at the resting price; matching only needs quantities.
    """

    def __init__(self) -> None:
        self.traded = 0
        self._leaves: dict[int, int] = {}
        self._where: dict[int, tuple[Side, int, str]] = {}  # order id -> side, price, account
        self._levels: dict[Side, dict[int, _Level]] = {Side.BUY: {}, Side.SELL: {}}
        self._keys: dict[Side, list[int]] = {Side.BUY: [], Side.SELL: []}  # bids keyed -price, asks price
        self._live: list[int] = []
        self._slot: dict[int, int] = {}  # order id -> index in _live

    def __len__(self) -> int:
        return len(self._live)

    def live_order(self, index: int) -> int:
        return self._live[index]

    def account_of(self, order_id: int) -> str:
        return self._where[order_id][2]

    def best(self, side: Side) -> int | None:
        keys, levels = self._keys[side], self._levels[side]
        sign = -1 if side is Side.BUY else 1
        while keys:
            price = keys[0] * sign
            if price in levels:
                return price
            heapq.heappop(keys)
        return None

    def mid(self) -> int:
        bid, ask = self.best(Side.BUY), self.best(Side.SELL)
        if bid is None or ask is None:
            return REFERENCE_PRICE
        return (bid + ask) // (2 * TICK) * TICK

    def submit(self, order_id: int, account: str, side: Side, price: int, quantity: int, rests: bool) -> int:
        """Match an incoming order, rest what is left if ``rests``; return the tonnes it traded."""
        contra = Side.SELL if side is Side.BUY else Side.BUY
        levels = self._levels[contra]
        left = quantity
        while left:
            best = self.best(contra)
            if best is None or (best > price if side is Side.BUY else best < price):
                break
            level = levels[best]
            while left and level.live:
                resting_id = level.queue[0]
                resting = self._leaves.get(resting_id)
                if resting is None:  # cancelled earlier; swept now
                    level.queue.popleft()
                    continue
                fill = min(left, resting)
                left -= fill
                if fill == resting:
                    level.queue.popleft()
                    level.live -= 1
                    self._forget(resting_id)
                else:
                    self._leaves[resting_id] = resting - fill
            if not level.live:
                del levels[best]
        self.traded += quantity - left
        if left and rests:
            self._rest(order_id, account, side, price, left)
        return quantity - left

    def cancel(self, order_id: int) -> None:
        side, price, _ = self._where[order_id]
        self._forget(order_id)
        levels = self._levels[side]
        level = levels[price]
        level.live -= 1
        if not level.live:
            del levels[price]

    def _rest(self, order_id: int, account: str, side: Side, price: int, quantity: int) -> None:
        levels = self._levels[side]
        level = levels.get(price)
        if level is None:
            level = levels[price] = _Level()
            heapq.heappush(self._keys[side], -price if side is Side.BUY else price)
        level.queue.append(order_id)
        level.live += 1
        self._leaves[order_id] = quantity
        self._where[order_id] = (side, price, account)
        self._slot[order_id] = len(self._live)
        self._live.append(order_id)

    def _forget(self, order_id: int) -> None:
        del self._leaves[order_id]
        del self._where[order_id]
        index = self._slot.pop(order_id)
        last = self._live.pop()
        if last != order_id:
            self._live[index] = last
            self._slot[last] = index


def standard_flow(n: int, seed: int, instruments: int = 1, accounts: int = ACCOUNTS_PER_SIDE) -> StandardFlow:
    """Generate ``n`` commands of the standard flow from ``seed``; the same arguments give the same flow.

    ``instruments`` and ``accounts`` (per side) scale the market: see the module docstring.
    """
    if n < 0 or instruments < 1 or accounts < 1:
        raise ValueError(f"n must be at least 0 and the rest at least 1, got {n}, {instruments}, {accounts}")
    rng = random.Random(seed)
    config = standard_config(instruments, accounts)
    codes = instrument_codes(instruments)
    buyers, sellers = account_ids(accounts)
    lower, upper = band_limits(REFERENCE_PRICE, config.listing.band_bp, TICK)
    books = [FlowBook() for _ in codes]
    commands: list[Command] = []
    order_id = 0
    for _ in range(n):
        which = rng.randrange(instruments) if instruments > 1 else 0
        book, instrument = books[which], codes[which]
        if len(book) > MAX_RESTING and rng.random() < CANCEL_SHARE:
            victim = book.live_order(rng.randrange(len(book)))
            commands.append(CancelOrder(account=book.account_of(victim), order_id=victim))
            book.cancel(victim)
            continue
        order_id += 1
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        toward = 1 if side is Side.BUY else -1  # a buy crosses upwards, a sell downwards
        mix = rng.random() * (PASSIVE_WEIGHT + AGGRESSIVE_WEIGHT + MARKET_WEIGHT)
        order_type = OrderType.LIMIT
        if mix < PASSIVE_WEIGHT:
            ticks = 1 + int(rng.expovariate(1 / PASSIVE_MEAN_TICKS))
            price = book.mid() - toward * ticks * TICK
        elif mix < PASSIVE_WEIGHT + AGGRESSIVE_WEIGHT:
            price = book.mid() + toward * rng.randint(0, MAX_CROSS_TICKS) * TICK
        else:
            order_type = OrderType.LIMIT_IOC
            price = upper if side is Side.BUY else lower
        price = min(max(price, lower), upper)
        quantity = rng.randrange(QUANTITY_STEP, MAX_QUANTITY + 1, QUANTITY_STEP)
        account = rng.choice(buyers if side is Side.BUY else sellers)
        commands.append(
            NewOrder(
                account=account,
                instrument=instrument,
                client_order_id=f"F{order_id}",
                side=side,
                order_type=order_type,
                quantity=quantity,
                price=price,
            )
        )
        book.submit(order_id, account, side, price, quantity, rests=order_type is OrderType.LIMIT)
    return StandardFlow(
        config=config,
        setup=setup_commands(config, n),
        commands=commands,
        expected_volume=sum(book.traded for book in books),
        expected_resting=sum(len(book) for book in books),
    )


def make_exchange(flow: StandardFlow, book: str = "reference") -> Exchange:
    """A fresh exchange on the flow's market with its setup applied: ready for ``flow.commands``."""
    exchange = Exchange(flow.config, book=book)
    for ts, command in enumerate(flow.setup, start=1):
        for event in exchange.apply(command, ts):
            if isinstance(event, RequestRejected):
                raise RuntimeError(f"setup command {type(command).__name__} rejected: {event.text}")
    return exchange


def apply_flow(exchange: Exchange, commands: Sequence[Command], first_ts: int) -> FlowOutcome:
    """Apply ``commands`` one by one at exchange times from ``first_ts``; add up trades and rejects."""
    apply = exchange.apply
    volume = trades = rejected = 0
    first_reject = ""
    ts = first_ts
    for command in commands:
        for event in apply(command, ts):
            if isinstance(event, TradeExecuted):
                volume += event.quantity
                trades += 1
            elif isinstance(event, (OrderRejected, RequestRejected)):
                rejected += 1
                first_reject = first_reject or f"ts={ts} {event.text}"
        ts += 1
    return FlowOutcome(traded_volume=volume, trades=trades, rejected=rejected, first_reject=first_reject)
