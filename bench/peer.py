"""The peer: liquibook on the standard flow, the figure every carbonx figure is printed against.

liquibook (github.com/enewhuis/liquibook) is a price-time order book in C++; the ``liquibook``
package on PyPI wraps it with SWIG. It is the fastest correct matching engine we found that a
Python program can drive, so ``python -m bench`` runs it on the same flow, in the same process
and run as carbonx's books, and prints each carbonx figure as a multiple of it.

The harness is what a Python user of liquibook writes, and the least of it:
- the flow becomes a list of plain operations first, not timed (as carbonx's command columns are
  built before its kernel is timed): an add is (book, is_buy, price, quantity, conditions), a
  cancel is (book, order number). A market order of the flow (a limit IOC at the band's edge) is
  an add with liquibook's immediate-or-cancel condition;
- the timed loop makes each add's ``SimpleOrder`` and adds it to its instrument's
  ``DepthOrderBook``, or cancels the order an earlier add made;
- one Python callback, ``on_fill``, adds up the tonnes and the trades. liquibook's order listener
  declares its other callbacks pure virtual, so they are defined too, empty: liquibook calls
  ``on_accept`` for every add and ``on_cancel`` for every cancel and IOC remainder.

liquibook does no funding, fees, price bands, position limits, self-trade prevention or events
for a ledger: it matches. Its traded volume must still equal the flow's own (its book model is
price-time too), which shows both harnesses did the same matching; otherwise the run fails.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

from bench.flow import FlowOutcome, StandardFlow
from engine.messages import CancelOrder, NewOrder, OrderType, Side

ADD, CANCEL = 0, 1


class PeerMissing(RuntimeError):
    """liquibook is not installed (it is a bench-only dependency, in the dev extra)."""


@dataclass(frozen=True)
class PeerFlow:
    """The flow as liquibook operations: (ADD, book, is_buy, price, quantity, conditions) or (CANCEL, book, order)."""

    operations: list[tuple[int, ...]]
    books: int


def operations(flow: StandardFlow) -> PeerFlow:
    """The flow's commands as liquibook operations; orders are numbered in the order the flow adds them."""
    try:
        import liquibook
    except ImportError as exc:
        raise PeerMissing("liquibook is not installed: run `make install` (it is in the dev extra)") from exc
    codes = {instrument.code: index for index, instrument in enumerate(flow.config.instruments)}
    ioc, plain = liquibook.oc_immediate_or_cancel, liquibook.oc_no_conditions
    ops: list[tuple[int, ...]] = []
    book_of: list[int] = []  # order number (the flow's order id - 1) -> its book
    for cmd in flow.commands:
        if type(cmd) is NewOrder:
            book = codes[cmd.instrument]
            book_of.append(book)
            conditions = ioc if cmd.order_type is OrderType.LIMIT_IOC else plain
            ops.append((ADD, book, cmd.side is Side.BUY, cmd.price, cmd.quantity, conditions))
        elif type(cmd) is CancelOrder:
            ops.append((CANCEL, book_of[cmd.order_id - 1], cmd.order_id - 1))
        else:
            raise ValueError(f"the peer takes new orders and cancels only, not {type(cmd).__name__}")
    return PeerFlow(operations=ops, books=len(codes))


def run(peer: PeerFlow) -> tuple[float, FlowOutcome]:
    """Time liquibook over the operations: seconds taken, and the tonnes and trades its fills add up to."""
    import liquibook

    class Fills(liquibook.OrderListener):  # type: ignore[misc]  # liquibook has no type hints
        def __init__(self) -> None:
            liquibook.OrderListener.__init__(self)
            self.volume = 0
            self.trades = 0

        def on_fill(self, passive: object, aggressive: object, quantity: int, cost: int) -> None:
            self.volume += quantity
            self.trades += 1

        def on_accept(self, order: object) -> None:
            pass

        def on_reject(self, order: object, reason: str) -> None:
            pass

        def on_cancel(self, order: object) -> None:
            pass

        def on_cancel_reject(self, order: object, reason: str) -> None:
            pass

        def on_replace(self, order: object, size_delta: int, new_price: int) -> None:
            pass

        def on_replace_reject(self, order: object, reason: str) -> None:
            pass

    fills = Fills()
    books = []
    for index in range(peer.books):
        book = liquibook.DepthOrderBook()
        book.set_symbol(f"B{index}")
        book.set_order_listener(fills)
        books.append(book)
    order = liquibook.SimpleOrder
    orders: list[object] = []
    keep = orders.append
    gc.collect()  # as before each carbonx figure: no garbage of the set-up left to collect
    started = time.perf_counter()
    for op in peer.operations:
        if op[0] == ADD:
            placed = order(op[2], op[3], op[4])
            keep(placed)  # liquibook holds a pointer to a resting order: it must stay alive
            books[op[1]].add(placed, op[5])
        else:
            books[op[1]].cancel(orders[op[2]])
    elapsed = time.perf_counter() - started
    return elapsed, FlowOutcome(traded_volume=fills.volume, trades=fills.trades, rejected=0, first_reject="")


def version() -> str:
    from importlib.metadata import version as installed

    return f"liquibook {installed('liquibook')}"
