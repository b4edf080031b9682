"""The fast book's ladder (``engine.listing.fast.ladder``) behind ``ReferenceBook``'s interface, for tests/test_book.py.

One instrument's ladder in the arrays ``FastListing`` keeps (``engine.listing.fast.layout``): the
order rows, a bid and an ask ladder of dense price levels, the book row with the best offsets and
the live count, and the order-id index. Every answer is read from those arrays through the ladder's
own functions (``add``, ``unlink``, ``reduce``, ``fillable``, ``depth``, ``top``, ``canonical``, ``best_price``,
``check``), so a ladder that is wrong fails the cases the reference book passes.

``match`` walks the ladder the way ``engine.listing.fast.kernels.match`` does (best offset, level
head, ``O_NEXT`` links; ``unlink`` or ``reduce`` per fill), without the settlement that kernel does
on each fill; the kernel's walk with its settlement is held to the reference book by the
differential and per-book tests. The test's ``Order`` objects are kept by id, so the steps name
them as the reference book's steps do; their ``leaves`` are written back from the arrays.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from engine.listing.book import BookInvariantError, DepthLevel, Fill, MatchStep, SelfTradeCancel
from engine.listing.fast import ladder
from engine.listing.fast.layout import (
    B_ASK_BASE,
    B_BEST_ASK,
    B_BEST_BID,
    B_BID_BASE,
    B_LIVE,
    B_LO,
    B_N,
    B_TICK,
    BOOK_FIELDS,
    BUY,
    CANCEL_BOTH,
    CANCEL_INCOMING,
    L_HEAD,
    L_TAIL,
    LEVEL_FIELDS,
    O_ACCT,
    O_ID,
    O_LEAVES,
    O_NEXT,
    O_PRICE,
    O_SIDE,
    O_STP,
    O_TYPE,
    ORDER_FIELDS,
)
from engine.listing.orders import Order
from engine.messages import Side

INSTR = 0  # the one instrument's row in ``books``
ID_BASE = 1  # the order id at ``ids[0]``


class LadderBook:
    """One instrument's fast ladder over prices ``low``..``high`` (inclusive) on ``tick``."""

    def __init__(self, instrument: str, low: int = 7000, high: int = 9000, tick: int = 1, capacity: int = 16) -> None:
        self.instrument = instrument
        n = (high - low) // tick + 1
        self.order_rows = np.zeros((capacity, ORDER_FIELDS), dtype=np.int64)
        self.levels = np.zeros((2 * n, LEVEL_FIELDS), dtype=np.int64)
        self.levels[:, L_HEAD] = self.levels[:, L_TAIL] = -1
        self.book_rows = np.zeros((1, BOOK_FIELDS), dtype=np.int64)
        row = self.book_rows[INSTR]
        row[B_LO], row[B_TICK], row[B_N], row[B_BID_BASE], row[B_ASK_BASE] = low, tick, n, 0, n
        row[B_BEST_BID] = row[B_BEST_ASK] = -1
        self.ids = np.full(capacity, -1, dtype=np.int64)
        self._free = list(range(capacity - 1, -1, -1))
        self._objects: dict[int, Order] = {}
        self._accounts: dict[str, int] = {}

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return int(self.book_rows[INSTR, B_LIVE])

    def get(self, order_id: int) -> Order | None:
        slot = self._slot(order_id)
        return None if slot < 0 else self._synced(slot)

    def best(self, side: Side) -> int | None:
        price = int(ladder.best_price(self.book_rows, INSTR, int(side)))
        return None if price < 0 else price

    def best_bid(self) -> int | None:
        return self.best(Side.BUY)

    def best_ask(self) -> int | None:
        return self.best(Side.SELL)

    def depth(self, side: Side, levels: int) -> list[DepthLevel]:
        rows = ladder.depth(self.levels, self.book_rows, INSTR, int(side), levels)
        return [DepthLevel(price, quantity, count) for price, quantity, count in rows.tolist()]

    def top(self, levels: int) -> tuple[list[DepthLevel], list[DepthLevel]]:
        rows, bids = ladder.top(self.levels, self.book_rows, INSTR, levels)
        both = [DepthLevel(price, quantity, count) for price, quantity, count in rows.tolist()]
        return both[:bids], both[bids:]

    def orders(self) -> Iterator[Order]:
        """Every resting order in canonical order, as ``ladder.canonical`` walks the levels."""
        for slot in ladder.canonical(self.order_rows, self.levels, self.book_rows, INSTR).tolist():
            yield self._synced(slot)

    # ------------------------------------------------------------------ changes
    def add(self, order: Order) -> None:
        slot = self._write(order)
        index = order.order_id - ID_BASE
        while index >= self.ids.shape[0]:
            self.ids = np.concatenate([self.ids, np.full_like(self.ids, -1)])
        self.ids[index] = slot
        self._objects[order.order_id] = order
        ladder.add(self.order_rows, self.levels, self.book_rows, INSTR, slot)

    def remove(self, order_id: int) -> Order:
        slot = self._slot(order_id)
        if slot < 0:
            raise KeyError(order_id)
        order = self._synced(slot)
        self._take_off(slot)
        return order

    def reduce(self, order_id: int, leaves: int) -> None:
        slot = self._slot(order_id)
        if slot < 0:
            raise KeyError(order_id)
        ladder.reduce(self.order_rows, self.levels, self.book_rows, INSTR, slot, leaves)
        self._synced(slot)

    # ------------------------------------------------------------------ matching
    def match(self, incoming: Order, limit: int | None, max_levels: int | None) -> list[MatchStep]:
        """``ReferenceBook.match`` on the ladder: the walk of ``kernels.match``, fills unsettled."""
        orders, levels, books = self.order_rows, self.levels, self.book_rows
        slot = self._write(incoming)  # not on the ladder and not in the id index: it never rests here
        side, account, stp = (int(v) for v in orders[slot, [O_SIDE, O_ACCT, O_STP]])
        steps: list[MatchStep] = []
        reached = 0
        try:
            while orders[slot, O_LEAVES] > 0:
                if side == BUY:
                    offset, base = books[INSTR, B_BEST_ASK], books[INSTR, B_ASK_BASE]
                else:
                    offset, base = books[INSTR, B_BEST_BID], books[INSTR, B_BID_BASE]
                if offset < 0:
                    break
                price = int(books[INSTR, B_LO] + offset * books[INSTR, B_TICK])
                if limit is not None and not ladder.acceptable(side, price, limit):
                    break
                if max_levels is not None and reached >= max_levels:
                    break
                reached += 1
                resting = int(levels[base + offset, L_HEAD])
                if resting < 0:  # the kernel would loop here for ever; a test had better fail
                    raise BookInvariantError(f"the best offset {offset} points at an empty level")
                while resting >= 0 and orders[slot, O_LEAVES] > 0:
                    following = int(orders[resting, O_NEXT])
                    order = self._synced(resting)
                    if orders[resting, O_ACCT] == account:
                        if stp == CANCEL_INCOMING:
                            steps.append(SelfTradeCancel(None, stop=True))
                            return steps
                        self._take_off(resting)  # its leaves stay on the order, for the exchange to release
                        steps.append(SelfTradeCancel(order, stop=stp == CANCEL_BOTH))
                        if stp == CANCEL_BOTH:
                            return steps
                    else:
                        quantity = int(min(orders[slot, O_LEAVES], orders[resting, O_LEAVES]))
                        orders[slot, O_LEAVES] -= quantity
                        if quantity == orders[resting, O_LEAVES]:
                            self._take_off(resting)
                            order.leaves = 0
                        else:
                            ladder.reduce(
                                orders, levels, books, INSTR, resting, int(orders[resting, O_LEAVES]) - quantity
                            )
                            self._synced(resting)
                        steps.append(Fill(order, quantity, price, int(orders[slot, O_LEAVES])))
                    resting = following
            return steps
        finally:
            incoming.leaves = int(orders[slot, O_LEAVES])
            self._release(slot)

    def fillable(self, incoming: Order, limit: int | None, max_levels: int | None) -> int:
        slot = self._write(incoming)
        try:
            return int(
                ladder.fillable(
                    self.order_rows,
                    self.levels,
                    self.book_rows,
                    INSTR,
                    slot,
                    -1 if limit is None else limit,
                    -1 if max_levels is None else max_levels,
                )
            )
        finally:
            self._release(slot)

    # ------------------------------------------------------------------ checking
    def validate_internal_state(self) -> None:
        code = int(ladder.check(self.order_rows, self.levels, self.book_rows, self.ids, ID_BASE))
        if code:
            raise BookInvariantError(f"fast ladder invariant {code} broken (engine.listing.fast.ladder.check)")

    # ------------------------------------------------------------------ slots
    def _slot(self, order_id: int) -> int:
        index = order_id - ID_BASE
        return int(self.ids[index]) if 0 <= index < self.ids.shape[0] else -1

    def _synced(self, slot: int) -> Order:
        """The caller's order in ``slot``, its ``leaves`` as the ladder holds them."""
        order = self._objects[int(self.order_rows[slot, O_ID])]
        order.leaves = int(self.order_rows[slot, O_LEAVES])
        return order

    def _write(self, order: Order) -> int:
        if not self._free:
            size = self.order_rows.shape[0]
            self.order_rows = np.concatenate([self.order_rows, np.zeros_like(self.order_rows)])
            self._free = list(range(2 * size - 1, size - 1, -1))
        slot = self._free.pop()
        row = self.order_rows[slot]
        row[:] = 0
        row[O_ID], row[O_ACCT], row[O_SIDE], row[O_TYPE] = (
            order.order_id, self._accounts.setdefault(order.account, len(self._accounts)), order.side, order.order_type
        )  # fmt: skip
        row[O_PRICE], row[O_LEAVES], row[O_STP] = order.price, order.leaves, order.stp
        return slot

    def _take_off(self, slot: int) -> None:
        """Unlink a resting order from its level and forget it."""
        ladder.unlink(self.order_rows, self.levels, self.book_rows, INSTR, slot)
        self._objects.pop(int(self.order_rows[slot, O_ID]))
        self._release(slot)

    def _release(self, slot: int) -> None:
        index = int(self.order_rows[slot, O_ID]) - ID_BASE
        if 0 <= index < self.ids.shape[0] and self.ids[index] == slot:
            self.ids[index] = -1
        self.order_rows[slot] = 0
        self._free.append(slot)
