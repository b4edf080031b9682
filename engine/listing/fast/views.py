"""The read side of the fast listing: one instrument's book and the day's client order ids.

``FastBook`` shows an instrument's orders as ``engine.listing.book.ReferenceBook`` does, and
``ClientOrderIds`` the (account, client order id) pairs used today as the reference listing's set
does, both straight from ``FastListing``'s arrays; neither changes anything but the ids' flags.
``from_rows`` turns order rows into ``Order``s or snapshot ``OrderRecord``s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

import numpy as np

from engine.listing.book import DepthLevel
from engine.listing.fast import ladder
from engine.listing.fast.events import ORDER_TYPES, SIDES, STP_MODES, Names
from engine.listing.fast.layout import B_LIVE, O_COID, O_ID
from engine.listing.orders import Order
from engine.messages import Side

# A ``DepthLevel`` from a [price, quantity, orders] row: ``tuple.__new__`` takes the row as it is, in
# ~60% of the time the named tuple's own constructor takes to unpack it (176 against 270-390 ns
# here); the market data publisher builds ten after each batch for each instrument it touched.
_level = tuple.__new__
T = TypeVar("T")


class FastListing(Protocol):
    """What the views read of ``engine.listing.fast.listing.FastListing``."""

    names: Names
    coids: np.ndarray
    coid_keys: dict[tuple[int, str], int]
    compact_due: bool
    book_rows: np.ndarray
    levels: np.ndarray
    orders: np.ndarray

    def find_order(self, order_id: int) -> Order | None: ...
    def orders_at(self, slots: list[int]) -> list[Order]: ...
    def check(self) -> None: ...


class ClientOrderIds:
    """The (account, client order id) pairs used today: interned keys with a used flag per key."""

    def __init__(self, listing: FastListing) -> None:
        self._listing = listing

    def __iter__(self) -> Iterator[tuple[str, str]]:
        listing = self._listing
        used = np.flatnonzero(listing.coids[: len(listing.names.client_order_ids)])
        return iter([listing.names.client_order_ids[k] for k in used.tolist()])

    def __len__(self) -> int:
        return int(self._listing.coids.sum())

    def __contains__(self, pair: object) -> bool:
        key = self._listing.coid_keys.get(pair)  # type: ignore[call-overload]
        return key is not None and bool(self._listing.coids[key])

    def clear(self) -> None:
        """Forget every id (the end of day). The keys stay valid until the next batch runs, since
        commands later in the batch being applied were encoded with them; ``run`` then compacts."""
        listing = self._listing
        listing.coids[:] = 0
        listing.compact_due = True


class FastBook:
    """One instrument's book as ``engine.listing.book.ReferenceBook`` shows it (read side)."""

    def __init__(self, listing: FastListing, instr: int, code: str) -> None:
        self._listing = listing
        self._instr = instr
        self.instrument = code

    def __len__(self) -> int:
        return int(self._listing.book_rows[self._instr, B_LIVE])

    def get(self, order_id: int) -> Order | None:
        order = self._listing.find_order(order_id)
        return order if order is not None and order.instrument == self.instrument else None

    def best(self, side: Side) -> int | None:
        price = int(ladder.best_price(self._listing.book_rows, self._instr, int(side)))
        return None if price < 0 else price

    def best_bid(self) -> int | None:
        return self.best(Side.BUY)

    def best_ask(self) -> int | None:
        return self.best(Side.SELL)

    def depth(self, side: Side, levels: int) -> list[DepthLevel]:
        rows = ladder.depth(self._listing.levels, self._listing.book_rows, self._instr, int(side), levels)
        return [_level(DepthLevel, row) for row in rows.tolist()]

    def top(self, levels: int) -> tuple[list[DepthLevel], list[DepthLevel]]:
        rows, bids = ladder.top(self._listing.levels, self._listing.book_rows, self._instr, levels)
        both = [_level(DepthLevel, row) for row in rows.tolist()]
        return both[:bids], both[bids:]

    def orders(self) -> Iterator[Order]:
        """Every resting order in canonical order: bids best first, then asks best first, FIFO."""
        listing = self._listing
        slots = ladder.canonical(listing.orders, listing.levels, listing.book_rows, self._instr)
        return iter(listing.orders_at(slots.tolist()))

    def validate_internal_state(self) -> None:
        self._listing.check()


def from_rows(orders: np.ndarray, names: Names, slots: list[int], make: Callable[..., T]) -> list[T]:
    """The orders in ``slots`` as ``make`` objects: ``Order`` or ``OrderRecord``, which take the same
    fields (one numpy read for all; names and enums by lookup, not call)."""
    accounts, instruments, coids = names.accounts, names.instruments, names.client_order_ids
    return [
        make(
            order_id=oid,
            account=accounts[acct],
            instrument=instruments[instr],
            client_order_id=coids[coid][1],
            side=SIDES[side],
            order_type=ORDER_TYPES[kind],
            price=price,
            leaves=leaves,
            stp=STP_MODES[stp],
            freeze_price=freeze,
            filled=filled,
            frozen_cash=fcash,
            frozen_quantity=fqty,
            traded_value=tvalue,
        )
        for (oid, acct, instr, side, kind, price, leaves, stp, freeze, filled, fcash, fqty, tvalue, coid) in (
            orders[slots, O_ID : O_COID + 1].tolist()
        )
    ]
