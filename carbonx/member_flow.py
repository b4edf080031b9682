"""The order flow of ``carbonx simulate``: what members' own trading systems would send.

A member does not send an order its account cannot pay for: before each order it looks at what
its account query answers (available cash, sellable allowances) and sizes the order to fit, and
it spreads what it holds over the day rather than selling out in the first hour (bought
allowances are sellable only the next trading day: docs/RULES_COVERAGE.md "Pre-funding and
settlement"). Prices follow a fair value per instrument that drifts a tick at a time inside the
day's band. Cancels and amends name orders
the member knows to be open, from its execution reports, which reach it a few commands after the
exchange sent them: a cancel or amend sent while the fill that ended its order was on its way is
refused, as on any real market. Those races are the only rejects this flow means to cause
(``EXPECTED_REJECTS`` says why each happens); ``carbonx simulate`` prints them by code.

The randomness is a seeded ``random.Random`` and the account query reads the exchange's view
(``engine.view``) between commands, so the same seed, config and date give the same commands, hence the same
journal and state hash. ``carbonx.simulation.OrderFlow`` is the older, unchecked flow (orders
whatever the balances) that replay tests use to journal rejects too.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from engine.config import TRADING_ACCOUNT_KINDS, ExchangeConfig, Instrument
from engine.messages import (
    AmendOrder,
    CancelOrder,
    Command,
    Event,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderConvertedToLimit,
    OrderType,
    Side,
    TradeExecuted,
)
from engine.view import ExchangeView
from settlement.ledger import fee_for

# Shares of the order-entry commands: cancels and amends of known open orders; the rest are new orders.
CANCEL_SHARE = 0.12
AMEND_SHARE = 0.06
ORDER_TYPES = (
    (OrderType.LIMIT, 70),
    (OrderType.LIMIT_IOC, 8),
    (OrderType.LIMIT_FOK, 4),
    (OrderType.MARKET_FIVE_CANCEL, 10),
    (OrderType.MARKET_FIVE_LIMIT, 8),
)
_TYPES = [t for t, _ in ORDER_TYPES]
_TYPE_WEIGHTS = [w for _, w in ORDER_TYPES]
# Largest order (t, before the lot) per account kind: individuals trade smaller tickets.
MAX_ORDER_BY_KIND = {"covered_entity": 2_000, "institution": 2_000, "individual": 500}


def draw_order(
    rng: random.Random, instruments: Sequence[Instrument], fair: dict[str, int], bands: dict[str, tuple[int, int]]
) -> tuple[Instrument, int, Side, OrderType]:
    """The next order's instrument, its fair value (a tick's drift, kept inside the band; ``fair``
    is updated), side and type: what both simulated flows draw first, in this order."""
    instrument = rng.choice(instruments)
    code, tick = instrument.code, instrument.tick_fen
    lower, upper = bands[code]
    value = fair[code] = min(max(fair[code] + rng.choice((-tick, 0, 0, tick)), lower), upper)
    side = rng.choice((Side.BUY, Side.SELL))
    (order_type,) = rng.choices(_TYPES, weights=_TYPE_WEIGHTS)
    return instrument, value, side, order_type


# One order may use this many times the account's even share of what it has left for the rest of
# the day (cash for its buys, an instrument's sellable units for its sells): not every order fills.
PACE = 2
# Commands between the exchange sending an execution report and the member acting on it.
REPORT_DELAY = 3
PPM = 1_000_000

# The rejects this flow causes on purpose: races between a member's request and a fill whose report
# had not reached it yet, which a real market has too.
RACES_HEADLINE = "all races with fills not yet reported to the member"
EXPECTED_REJECTS = {
    "UNKNOWN_ORDER": "a cancel or amend of an order that had just filled",
    "AMEND_NO_CHANGE": "an amend to the quantity a fill had just left",
    "INSUFFICIENT_HOLDINGS": "an amend of a sell a fill had just shrunk, back up",
    "INSUFFICIENT_FUNDS": "an amend of a buy a fill had just shrunk, back up",
}


class AccountQuery:
    """What a member's account query answers, read from the exchange's view between commands."""

    def __init__(self, view: ExchangeView) -> None:
        self.view = view

    def cash(self, account: str) -> int:
        """Available cash (fen): what a buy may freeze."""
        return self.view.cash(account).available

    def sellable(self, account: str, instrument: str) -> int:
        """Available allowances (t): not frozen, not bought today, not compliance-only."""
        return self.view.holding(account, instrument).available


@dataclass
class KnownOrder:
    """An open order as its member knows it from the reports it has received."""

    account: str
    instrument: str
    side: Side
    price: int
    leaves: int


class MemberFlow:
    """The simulated members' order entry: ``next_command`` to send, ``observe`` what came back."""

    def __init__(self, config: ExchangeConfig, rng: random.Random, query: AccountQuery, commands: int) -> None:
        self.rng = rng
        self.query = query
        self.accounts = [a for a in config.accounts if a.kind in TRADING_ACCOUNT_KINDS and not a.prohibited]
        self.kinds = {a.id: a.kind for a in self.accounts}
        self.instruments = config.instruments
        self.fee_ppm = config.fees.listing_ppm
        self.fair = {i.code: i.reference_price_fen for i in config.instruments}
        self.commands, self.sent, self.count = commands, 0, 0
        self.known: dict[int, KnownOrder] = {}
        self.in_flight: deque[tuple[int, list[Event]]] = deque()  # (delivered after command n, reports)

    # ------------------------------------------------------------------ what to send
    def next_command(self, bands: dict[str, tuple[int, int]]) -> Command:
        roll = self.rng.random()
        if self.known and roll < CANCEL_SHARE:
            order_id = self.rng.choice(sorted(self.known))
            return CancelOrder(account=self.known[order_id].account, order_id=order_id)
        if self.known and roll < CANCEL_SHARE + AMEND_SHARE:
            return self._amend(bands)
        return self._new_order(bands)

    def _new_order(self, bands: dict[str, tuple[int, int]]) -> Command:
        rng = self.rng
        instrument, fair, side, order_type = draw_order(rng, self.instruments, self.fair, bands)
        code, tick = instrument.code, instrument.tick_fen
        upper = bands[code][1]  # a market buy freezes against the band's upper limit
        size = rng.random()  # the ticket: 10 t up to the account kind's largest, in steps of 10 t
        # The first account (from a random start) that can afford the order on either side sends it.
        start = rng.randrange(len(self.accounts))
        for account in self.accounts[start:] + self.accounts[:start]:
            wanted = 10 * (1 + int(size * MAX_ORDER_BY_KIND[account.kind] // 10)) * instrument.lot_t
            for this_side in (side, Side.SELL if side is Side.BUY else Side.BUY):
                price = 0 if order_type.is_market else self._limit_price(this_side, fair, instrument, bands)
                freeze_price = upper if order_type.is_market else price
                quantity = self._affordable(account.id, instrument, this_side, freeze_price, wanted)
                if quantity:
                    self.count += 1
                    return NewOrder(
                        account=account.id,
                        instrument=code,
                        client_order_id=f"SIM-{self.count:06d}",
                        side=this_side,
                        order_type=order_type,
                        quantity=quantity,
                        price=price,
                    )
        # No account can pay for any order: what a member does then is take an order down, and
        # with none open it sends the order anyway, to be refused (shown among the rejects).
        if self.known:
            order_id = min(self.known)
            return CancelOrder(account=self.known[order_id].account, order_id=order_id)
        self.count += 1
        return NewOrder(
            account=self.accounts[start].id,
            instrument=code,
            client_order_id=f"SIM-{self.count:06d}",
            side=side,
            order_type=OrderType.LIMIT,
            quantity=instrument.lot_t,
            price=fair // tick * tick,
        )

    def _limit_price(self, side: Side, fair: int, instrument: Instrument, bands: dict[str, tuple[int, int]]) -> int:
        """Passive most of the time (1 + an exponential number of ticks behind fair), else crossing it."""
        rng, tick = self.rng, instrument.tick_fen
        lower, upper = bands[instrument.code]
        sign = -1 if side is Side.BUY else 1
        ticks = -rng.randint(0, 4) if rng.random() < 0.25 else 1 + int(rng.expovariate(1 / 6))
        return min(max(fair + sign * ticks * tick, lower), upper) // tick * tick

    def _affordable(self, account: str, instrument: Instrument, side: Side, freeze_price: int, wanted: int) -> int:
        """The largest quantity up to ``wanted`` the account can pay for and keeps its pace with; 0: none."""
        lot = instrument.lot_t
        remaining = max(self.commands - self.sent, 1) * (1 - CANCEL_SHARE - AMEND_SHARE) / 2  # this side's orders
        if side is Side.SELL:
            sellable = self.query.sellable(account, instrument.code)
            share = remaining / (len(self.accounts) * len(self.instruments))
            quantity = min(wanted, sellable, max(int(PACE * sellable / max(share, 1)), lot))
            return quantity // lot * lot
        cash = self.query.cash(account)
        share = remaining / len(self.accounts)
        budget = min(cash, max(int(PACE * cash / max(share, 1)), freeze_price * lot * 2))
        quantity = min(wanted, budget * PPM // (freeze_price * (PPM + self.fee_ppm))) // lot * lot
        while quantity and freeze_price * quantity + fee_for(freeze_price * quantity, self.fee_ppm) > cash:
            quantity -= lot  # the fee rounds half up: at most a lot or two too many
        return quantity

    def _amend(self, bands: dict[str, tuple[int, int]]) -> Command:
        """Reprice towards the fair value, or take half the quantity down (keeps time priority)."""
        rng = self.rng
        order_id = rng.choice(sorted(self.known))
        order = self.known[order_id]
        instrument = next(i for i in self.instruments if i.code == order.instrument)
        lot = instrument.lot_t
        price = self._limit_price(order.side, self.fair[order.instrument], instrument, bands)
        # What the amend freezes more: the price difference on the open quantity, its fee, and a fen or
        # two for the fee's rounding.
        extra_cash = (price - order.price) * order.leaves * (PPM + self.fee_ppm) // PPM + 2
        affordable = order.side is Side.SELL or extra_cash <= 0 or extra_cash <= self.query.cash(order.account)
        if rng.random() < 0.5 and price != order.price and affordable:
            return AmendOrder(account=order.account, order_id=order_id, price=price, quantity=order.leaves)
        half = order.leaves // 2 // lot * lot
        if half:
            return AmendOrder(account=order.account, order_id=order_id, price=order.price, quantity=half)
        return CancelOrder(account=order.account, order_id=order_id)

    # ------------------------------------------------------------------ what came back
    def observe(self, command: Command, events: list[Event]) -> None:
        """The command's reports, which reach the member ``REPORT_DELAY`` commands later."""
        self.sent += 1
        self.in_flight.append((self.sent + REPORT_DELAY, events))
        while self.in_flight and self.in_flight[0][0] <= self.sent:
            self._receive(self.in_flight.popleft()[1])

    def _receive(self, events: list[Event]) -> None:
        known = self.known
        for event in events:
            if isinstance(event, OrderAccepted):
                known[event.order_id] = KnownOrder(
                    event.account, event.instrument, event.side, event.price, event.quantity
                )
            elif isinstance(event, TradeExecuted):
                for order_id, leaves in (
                    (event.buy_order_id, event.buy_leaves),
                    (event.sell_order_id, event.sell_leaves),
                ):
                    order = known.get(order_id)
                    if order is not None and leaves:
                        order.leaves = leaves
                    elif order is not None:
                        del known[order_id]
            elif isinstance(event, OrderCancelled):
                known.pop(event.order_id, None)
            elif isinstance(event, OrderAmended | OrderConvertedToLimit) and event.order_id in known:
                known[event.order_id].price, known[event.order_id].leaves = event.price, event.quantity
