"""What ingest remembers between events: the best prices each order met, open proposals, the day.

The engine's events say what happened to an order, not what the book looked like when it arrived;
the layering rule needs that (an order "away from the best"). ``Tracker`` keeps each instrument's
resting orders and price levels as the events move them, so an accepted order's row can carry the
best bid and ask it met. It also remembers open transfer proposals (later events name only the
transfer id) and auction terms, and the trading day in force. It is saved with the ingest state, so
an incremental ingest continues exactly where the previous one stopped.
"""

from __future__ import annotations

import msgspec


class RestingOrder(msgspec.Struct, array_like=True, gc=False):
    """An order resting on the book as the events left it; ``side`` 1 buy, 2 sell (engine.messages.Side)."""

    instrument: str
    side: int
    price: int
    leaves: int


class Proposal(msgspec.Struct, frozen=True, array_like=True, gc=False):
    proposer: str
    counterparty: str
    instrument: str
    side: str
    price: int
    quantity: int


class AuctionTermsSeen(msgspec.Struct, frozen=True, array_like=True, gc=False):
    kind: str
    instrument: str
    auctioneer: str
    volume: int
    budget: int
    price_limit: int


class DayRow(msgspec.Struct, array_like=True, gc=False):
    day: int
    first_seq: int
    start_ts: int
    last_seq: int
    end_ts: int
    ended: bool


class TrackerState(msgspec.Struct, kw_only=True):
    orders: dict[int, RestingOrder] = {}
    proposals: dict[int, Proposal] = {}
    auctions: dict[int, AuctionTermsSeen] = {}
    day: DayRow | None = None
    allocated: dict[str, int] = {}  # "account instrument" -> free allocation so far (t)


class _Side:
    """One side of a book as open tonnes per price, with its best price kept as it changes.

    Most changes leave the best alone; when the best level empties, the new best is the highest
    bid (lowest ask) left: a scan of the levels, which only that case pays.
    """

    __slots__ = ("best", "buy", "levels")

    def __init__(self, buy: bool) -> None:
        self.levels: dict[int, int] = {}
        self.best = 0
        self.buy = buy

    def add(self, price: int, tonnes: int) -> None:
        levels = self.levels
        total = levels.get(price, 0) + tonnes
        if total > 0:
            levels[price] = total
            best = self.best
            if not best or (price > best if self.buy else price < best):
                self.best = price
        else:
            levels.pop(price, None)
            if price == self.best:
                self.best = (max(levels) if self.buy else min(levels)) if levels else 0


class Tracker:
    def __init__(self, state: TrackerState | None = None) -> None:
        self.state = state or TrackerState()
        self.orders = self.state.orders
        self.sides: dict[str, tuple[_Side, _Side]] = {}  # instrument -> (bids, asks)
        for order in self.orders.values():
            self._side(order).add(order.price, order.leaves)

    # ------------------------------------------------------------------ the book
    def best(self, instrument: str) -> tuple[int, int]:
        """The best bid and ask resting now (0: that side is empty)."""
        sides = self.sides.get(instrument)
        return (sides[0].best, sides[1].best) if sides is not None else (0, 0)

    def rest(self, order_id: int, instrument: str, side: int, price: int, leaves: int) -> None:
        if price <= 0 or leaves <= 0:
            return  # a market order rests only once converted to a limit order
        order = RestingOrder(instrument, side, price, leaves)
        self.orders[order_id] = order
        self._side(order).add(price, leaves)

    def reduce(self, order_id: int, leaves: int) -> None:
        order = self.orders.get(order_id)
        if order is None:
            return
        # The order rests, so its instrument's sides exist: (bids, asks) indexed by side - 1 (BUY 1, SELL 2).
        self.sides[order.instrument][order.side - 1].add(order.price, leaves - order.leaves)
        if leaves <= 0:
            del self.orders[order_id]
        else:
            order.leaves = leaves

    def move(self, order_id: int, price: int, leaves: int) -> None:
        order = self.orders.pop(order_id, None)
        if order is None:
            return
        self.sides[order.instrument][order.side - 1].add(order.price, -order.leaves)
        self.rest(order_id, order.instrument, order.side, price, leaves)

    def _side(self, order: RestingOrder) -> _Side:
        sides = self.sides.get(order.instrument)
        if sides is None:
            sides = self.sides[order.instrument] = (_Side(buy=True), _Side(buy=False))
        return sides[order.side - 1]

    # ------------------------------------------------------------------ the day
    @property
    def day(self) -> int:
        return self.state.day.day if self.state.day is not None else 0
