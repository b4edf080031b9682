"""The reference order book: readable Python on sortedcontainers. It is the specification.

One book per instrument. Price-time priority: better price first, then earlier arrival at that
price. A trade prints at the resting order's price. The book only keeps and matches orders; rule
checks, freezes and settlement belong to the exchange (``engine.listing``), which turns each
``Fill`` and ``SelfTradeCancel`` the book returns into ledger moves and events.

Self-trade prevention (docs/RULES_COVERAGE.md "Listing trading"): an incoming order never trades with a resting
order of the same account. ``CANCEL_RESTING`` removes the resting order and matching goes on;
``CANCEL_INCOMING`` stops matching and the incoming rest is cancelled; ``CANCEL_BOTH`` does both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import msgspec
from sortedcontainers import SortedDict

from engine.listing.orders import Order
from engine.messages import Side, StpMode


# What ``match`` found, step by step: a fill, or a self-trade prevention cancel.
class Fill(msgspec.Struct, frozen=True, gc=False):
    resting: Order  # leaves already reduced by the book
    quantity: int
    price: int
    incoming_leaves: int  # the incoming order's open quantity right after this fill


class SelfTradeCancel(msgspec.Struct, frozen=True, gc=False):
    resting: Order | None  # the resting order removed, or None when only the incoming is cancelled
    stop: bool  # matching stopped: the incoming order's rest is to be cancelled


MatchStep = Fill | SelfTradeCancel


class DepthLevel(NamedTuple):
    price: int
    quantity: int
    orders: int


class Level:
    """One price level: a FIFO of orders (a dict keeps insertion order) and its total quantity."""

    __slots__ = ("orders", "price", "quantity")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: dict[int, Order] = {}
        self.quantity = 0


class BookInvariantError(AssertionError):
    """The book's internal structures disagree; raised only by ``validate_internal_state``."""


class ReferenceBook:
    def __init__(self, instrument: str) -> None:
        self.instrument = instrument
        # Keys sort best first on both sides: bids by negated price, asks by price.
        self._bids: SortedDict = SortedDict()
        self._asks: SortedDict = SortedDict()
        self._orders: dict[int, Order] = {}

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._orders)

    def get(self, order_id: int) -> Order | None:
        return self._orders.get(order_id)

    def best_bid(self) -> int | None:
        return self._bids.peekitem(0)[1].price if self._bids else None

    def best_ask(self) -> int | None:
        return self._asks.peekitem(0)[1].price if self._asks else None

    def best(self, side: Side) -> int | None:
        return self.best_bid() if side is Side.BUY else self.best_ask()

    def depth(self, side: Side, levels: int) -> list[DepthLevel]:
        ladder = self._bids if side is Side.BUY else self._asks
        return [DepthLevel(level.price, level.quantity, len(level.orders)) for level in ladder.values()[:levels]]

    def top(self, levels: int) -> tuple[list[DepthLevel], list[DepthLevel]]:
        return self.depth(Side.BUY, levels), self.depth(Side.SELL, levels)

    def orders(self) -> Iterator[Order]:
        """Every resting order in canonical order: bids best first, then asks best first, FIFO."""
        for ladder in (self._bids, self._asks):
            for level in ladder.values():
                yield from level.orders.values()

    # ------------------------------------------------------------------ changes
    def add(self, order: Order) -> None:
        """Rest an order at the back of its price level's queue."""
        ladder, key = self._ladder_key(order.side, order.price)
        level = ladder.get(key)
        if level is None:
            level = ladder[key] = Level(order.price)
        level.orders[order.order_id] = order
        level.quantity += order.leaves
        self._orders[order.order_id] = order

    def remove(self, order_id: int) -> Order:
        order = self._orders.pop(order_id)
        ladder, key = self._ladder_key(order.side, order.price)
        level = ladder[key]
        del level.orders[order_id]
        level.quantity -= order.leaves
        if not level.orders:
            del ladder[key]
        return order

    def reduce(self, order_id: int, leaves: int) -> None:
        """Lower a resting order's open quantity in place: it keeps its time priority."""
        order = self._orders[order_id]
        ladder, key = self._ladder_key(order.side, order.price)
        ladder[key].quantity -= order.leaves - leaves
        order.leaves = leaves

    # ------------------------------------------------------------------ matching
    def match(self, incoming: Order, limit: int | None, max_levels: int | None) -> list[MatchStep]:
        """Match ``incoming`` against the opposite side, best price first, FIFO within a price.

        ``limit`` bounds the prices it may trade at (None: any price); ``max_levels`` bounds how
        many opposite price levels it may reach (None: any number; 5 for best-five market orders).
        The incoming order is never rested here; its ``leaves`` is reduced by what traded.
        """
        steps: list[MatchStep] = []
        buying = incoming.side is Side.BUY
        ladder = self._asks if buying else self._bids
        levels_reached = 0
        while incoming.leaves and ladder:
            key, level = ladder.peekitem(0)
            # A buy may trade at asks up to its limit, a sell at bids down to it.
            if limit is not None and (level.price > limit if buying else level.price < limit):
                break
            if max_levels is not None and levels_reached >= max_levels:
                break
            levels_reached += 1
            if self._match_level(incoming, level, steps):
                return steps
            if not level.orders:
                del ladder[key]
        return steps

    def _match_level(self, incoming: Order, level: Level, steps: list[MatchStep]) -> bool:
        """Trade through one level's queue; True when self-trade prevention stopped the match."""
        account, price = incoming.account, level.price
        for resting in list(level.orders.values()):
            if not incoming.leaves:
                break
            if resting.account == account:
                if incoming.stp is StpMode.CANCEL_INCOMING:
                    steps.append(SelfTradeCancel(None, stop=True))
                    return True
                self._unlink(level, resting)
                stop = incoming.stp is StpMode.CANCEL_BOTH
                steps.append(SelfTradeCancel(resting, stop=stop))
                if stop:
                    if not level.orders:
                        ladder, key = self._ladder_key(resting.side, resting.price)
                        del ladder[key]
                    return True
                continue
            quantity = min(incoming.leaves, resting.leaves)
            incoming.leaves -= quantity
            resting.leaves -= quantity
            level.quantity -= quantity
            if not resting.leaves:
                del level.orders[resting.order_id]
                del self._orders[resting.order_id]
            steps.append(Fill(resting, quantity, price, incoming.leaves))
        return False

    def _unlink(self, level: Level, order: Order) -> None:
        del level.orders[order.order_id]
        del self._orders[order.order_id]
        level.quantity -= order.leaves

    def fillable(self, incoming: Order, limit: int | None, max_levels: int | None) -> int:
        """What ``match`` would fill for ``incoming`` right now, without changing anything.

        A fill-or-kill order is checked with this first, so a FOK that cannot fill completely
        leaves the book and its own account's resting orders untouched.
        """
        ladder = self._asks if incoming.side is Side.BUY else self._bids
        total = 0
        level: Level
        for levels_reached, level in enumerate(ladder.values()):
            if limit is not None and not _acceptable(incoming.side, level.price, limit):
                break
            if max_levels is not None and levels_reached >= max_levels:
                break
            for resting in level.orders.values():
                if resting.account == incoming.account:
                    if incoming.stp is StpMode.CANCEL_RESTING:
                        continue
                    return total
                total += resting.leaves
                if total >= incoming.leaves:
                    return incoming.leaves
        return total

    # ------------------------------------------------------------------ checking
    def validate_internal_state(self) -> None:
        """Walk every level against the order index; raise BookInvariantError on any mismatch."""
        seen = 0
        for side, ladder in ((Side.BUY, self._bids), (Side.SELL, self._asks)):
            for key, level in ladder.items():
                _check(level.orders, f"empty level {level.price} left on {side.name}")
                _check(key == (-level.price if side is Side.BUY else level.price), "level key/price")
                total = 0
                for order_id, order in level.orders.items():
                    _check(self._orders.get(order_id) is order, f"order {order_id} not indexed")
                    _check(order.side is side and order.price == level.price, f"order {order_id} misfiled")
                    _check(order.leaves > 0, f"order {order_id} rests with no quantity")
                    total += order.leaves
                    seen += 1
                _check(total == level.quantity, f"level {level.price} quantity {level.quantity} != {total}")
        _check(seen == len(self._orders), f"index holds {len(self._orders)} orders, levels {seen}")
        bid, ask = self.best_bid(), self.best_ask()
        _check(bid is None or ask is None or bid < ask, f"crossed book: bid {bid} >= ask {ask}")

    def _ladder_key(self, side: Side, price: int) -> tuple[SortedDict, int]:
        return (self._bids, -price) if side is Side.BUY else (self._asks, price)


def _acceptable(side: Side, resting_price: int, limit: int) -> bool:
    return resting_price <= limit if side is Side.BUY else resting_price >= limit


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise BookInvariantError(message)
