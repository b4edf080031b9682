"""The order book on its own, both kinds: priority, limits, depth of a sweep, self-trade prevention,
reduce/remove, ``fillable``, depth, and the invariant checker; then a seeded model-based state machine
that compares every match with a plain-list model and keeps ``validate_internal_state`` passing.

Each case runs on the reference book (``engine.listing.book.ReferenceBook``) and on the fast book's
ladder (``engine.listing.fast.ladder``, through ``tests.ladder_book.LadderBook``), so a ladder that
keeps the wrong priority, totals, best prices or links fails here, next to the specification.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from engine.listing import BOOK_KINDS
from engine.listing.book import BookInvariantError, DepthLevel, Fill, MatchStep, ReferenceBook, SelfTradeCancel
from engine.listing.fast import kernels, ladder
from engine.listing.fast.layout import (
    B_BEST_BID,
    B_LIVE,
    L_COUNT,
    L_HEAD,
    O_ID,
    O_LEAVES,
    O_NEXT,
    O_PREV,
    O_PRICE,
    O_SIDE,
    ORDER_FIELDS,
    P_FREE_TOP,
    P_ID_BASE,
    PARAM_FIELDS,
)
from engine.listing.fast.layout import BUY as FAST_BUY
from engine.listing.orders import Order
from engine.messages import OrderType, Side, StpMode
from tests.ladder_book import ID_BASE, INSTR, LadderBook

BUY, SELL = Side.BUY, Side.SELL
Book = ReferenceBook | LadderBook
NewBook = Callable[[], Book]
BOOKS: dict[str, Callable[[str], Book]] = {"reference": ReferenceBook, "fast": LadderBook}


@pytest.fixture(params=BOOK_KINDS)
def new_book(request: pytest.FixtureRequest) -> NewBook:
    """An empty SHEA2025 book of the kind under test (the test runs once per kind)."""
    make = BOOKS[request.param]
    return lambda: make("SHEA2025")


def make_order(
    order_id: int,
    side: Side,
    price: int,
    leaves: int,
    account: str = "A1",
    stp: StpMode = StpMode.CANCEL_RESTING,
) -> Order:
    return Order(
        order_id=order_id,
        account=account,
        instrument="SHEA2025",
        client_order_id=f"c{order_id}",
        side=side,
        order_type=OrderType.LIMIT,
        price=price,
        leaves=leaves,
        stp=stp,
    )


def book_with(new_book: NewBook, *orders: Order) -> Book:
    book = new_book()
    for order in orders:
        book.add(order)
    book.validate_internal_state()
    return book


def resting(book: Book) -> list[tuple[int, int]]:
    """(order id, leaves) of every resting order in canonical order."""
    return [(order.order_id, order.leaves) for order in book.orders()]


def filled(steps: list[MatchStep]) -> int:
    return sum(step.quantity for step in steps if isinstance(step, Fill))


# ------------------------------------------------------------------------------------------ priority


def test_asks_match_best_price_first_across_levels(new_book: NewBook) -> None:
    a1 = make_order(1, SELL, 8020, 10, "A2")
    a2 = make_order(2, SELL, 8000, 10, "A2")
    a3 = make_order(3, SELL, 8010, 10, "A3")
    book = book_with(new_book, a1, a2, a3)
    incoming = make_order(9, BUY, 8020, 30)

    steps = book.match(incoming, limit=8020, max_levels=None)

    assert steps == [Fill(a2, 10, 8000, 20), Fill(a3, 10, 8010, 10), Fill(a1, 10, 8020, 0)]
    assert incoming.leaves == 0
    assert len(book) == 0
    assert book.best_ask() is None


def test_bids_match_best_price_first_across_levels(new_book: NewBook) -> None:
    b1 = make_order(1, BUY, 7980, 10, "A2")
    b2 = make_order(2, BUY, 7995, 10, "A2")
    b3 = make_order(3, BUY, 7990, 10, "A3")
    book = book_with(new_book, b1, b2, b3)
    incoming = make_order(9, SELL, 7900, 25)

    steps = book.match(incoming, limit=7900, max_levels=None)

    assert steps == [Fill(b2, 10, 7995, 15), Fill(b3, 10, 7990, 5), Fill(b1, 5, 7980, 0)]
    assert resting(book) == [(1, 5)]
    assert book.depth(BUY, 5) == [DepthLevel(7980, 5, 1)]


def test_fifo_within_a_level(new_book: NewBook) -> None:
    first = make_order(1, SELL, 8000, 10, "A2")
    second = make_order(2, SELL, 8000, 10, "A3")
    third = make_order(3, SELL, 8000, 10, "A4")
    book = book_with(new_book, first, second, third)
    incoming = make_order(9, BUY, 8000, 25)

    steps = book.match(incoming, limit=8000, max_levels=None)

    assert steps == [Fill(first, 10, 8000, 15), Fill(second, 10, 8000, 5), Fill(third, 5, 8000, 0)]
    assert resting(book) == [(3, 5)]
    assert book.depth(SELL, 5) == [DepthLevel(8000, 5, 1)]


def test_trade_prints_at_the_resting_price(new_book: NewBook) -> None:
    ask = make_order(1, SELL, 7900, 10, "A2")
    book = book_with(new_book, ask)
    incoming = make_order(9, BUY, 8100, 10)

    steps = book.match(incoming, limit=8100, max_levels=None)

    assert steps == [Fill(ask, 10, 7900, 0)]


def test_match_stops_at_the_limit_price(new_book: NewBook) -> None:
    near = make_order(1, SELL, 8000, 10, "A2")
    far = make_order(2, SELL, 8001, 10, "A2")
    book = book_with(new_book, near, far)
    incoming = make_order(9, BUY, 8000, 30)

    steps = book.match(incoming, limit=8000, max_levels=None)

    assert steps == [Fill(near, 10, 8000, 20)]
    assert incoming.leaves == 20
    assert resting(book) == [(2, 10)]


def test_match_reaches_at_most_max_levels(new_book: NewBook) -> None:
    asks = [make_order(i, SELL, 8000 + i, 10, "A2") for i in range(1, 8)]
    book = book_with(new_book, *asks)
    incoming = make_order(9, BUY, 0, 100)

    steps = book.match(incoming, limit=None, max_levels=5)

    assert steps == [Fill(asks[i], 10, 8001 + i, 90 - 10 * i) for i in range(5)]
    assert incoming.leaves == 50
    assert book.depth(SELL, 10) == [DepthLevel(8006, 10, 1), DepthLevel(8007, 10, 1)]


def test_match_with_no_limit_and_no_level_cap_sweeps_the_side(new_book: NewBook) -> None:
    asks = [make_order(i, SELL, 8000 + 100 * i, 10, "A2") for i in range(1, 8)]
    book = book_with(new_book, *asks)
    incoming = make_order(9, BUY, 0, 100)

    steps = book.match(incoming, limit=None, max_levels=None)

    assert filled(steps) == 70
    assert incoming.leaves == 30
    assert len(book) == 0


def test_match_never_rests_the_incoming_order(new_book: NewBook) -> None:
    book = book_with(new_book, make_order(1, SELL, 8100, 10, "A2"))
    incoming = make_order(9, BUY, 8000, 10)

    steps = book.match(incoming, limit=8000, max_levels=None)

    assert steps == []
    assert book.get(9) is None
    assert book.best_bid() is None
    assert incoming.leaves == 10


# ------------------------------------------------------------------------------------------ self-trade prevention


def test_stp_cancel_resting_removes_the_own_order_and_matching_continues(new_book: NewBook) -> None:
    own = make_order(1, SELL, 8000, 10, "A1")
    other = make_order(2, SELL, 8000, 10, "A2")
    book = book_with(new_book, own, other)
    incoming = make_order(9, BUY, 8000, 10, "A1", StpMode.CANCEL_RESTING)

    steps = book.match(incoming, limit=8000, max_levels=None)

    assert steps == [SelfTradeCancel(own, stop=False), Fill(other, 10, 8000, 0)]
    assert own.leaves == 10  # the book leaves the cancelled order's quantity for the exchange to release
    assert book.get(1) is None
    assert len(book) == 0


def test_stp_cancel_incoming_stops_without_removing_the_resting_order(new_book: NewBook) -> None:
    other = make_order(1, SELL, 8000, 5, "A2")
    own = make_order(2, SELL, 8000, 10, "A1")
    behind = make_order(3, SELL, 8000, 10, "A3")
    book = book_with(new_book, other, own, behind)
    incoming = make_order(9, BUY, 8000, 20, "A1", StpMode.CANCEL_INCOMING)

    steps = book.match(incoming, limit=8000, max_levels=None)

    assert steps == [Fill(other, 5, 8000, 15), SelfTradeCancel(None, stop=True)]
    assert incoming.leaves == 15
    assert resting(book) == [(2, 10), (3, 10)]
    assert book.depth(SELL, 5) == [DepthLevel(8000, 20, 2)]


def test_stp_cancel_both_removes_the_resting_order_and_stops(new_book: NewBook) -> None:
    own = make_order(1, SELL, 8000, 10, "A1")
    other = make_order(2, SELL, 8000, 10, "A2")
    book = book_with(new_book, own, other)
    incoming = make_order(9, BUY, 8000, 10, "A1", StpMode.CANCEL_BOTH)

    steps = book.match(incoming, limit=8000, max_levels=None)

    assert steps == [SelfTradeCancel(own, stop=True)]
    assert incoming.leaves == 10
    assert resting(book) == [(2, 10)]


def test_stp_cancel_both_on_the_last_order_of_a_level_deletes_the_level(new_book: NewBook) -> None:
    own = make_order(1, SELL, 8000, 10, "A1")
    other = make_order(2, SELL, 8010, 10, "A2")
    book = book_with(new_book, own, other)
    incoming = make_order(9, BUY, 8010, 10, "A1", StpMode.CANCEL_BOTH)

    steps = book.match(incoming, limit=8010, max_levels=None)

    assert steps == [SelfTradeCancel(own, stop=True)]
    assert book.depth(SELL, 5) == [DepthLevel(8010, 10, 1)]
    book.validate_internal_state()


def test_stp_cancel_resting_of_a_whole_level_deletes_it(new_book: NewBook) -> None:
    own1 = make_order(1, SELL, 8000, 10, "A1")
    own2 = make_order(2, SELL, 8000, 10, "A1")
    other = make_order(3, SELL, 8010, 10, "A2")
    book = book_with(new_book, own1, own2, other)
    incoming = make_order(9, BUY, 8000, 10, "A1")

    steps = book.match(incoming, limit=8000, max_levels=None)

    assert steps == [SelfTradeCancel(own1, stop=False), SelfTradeCancel(own2, stop=False)]
    assert incoming.leaves == 10
    assert book.depth(SELL, 5) == [DepthLevel(8010, 10, 1)]
    book.validate_internal_state()


# ------------------------------------------------------------------------------------------ reduce and remove


def test_reduce_keeps_time_priority_and_level_quantity(new_book: NewBook) -> None:
    first = make_order(1, SELL, 8000, 10, "A2")
    second = make_order(2, SELL, 8000, 10, "A3")
    book = book_with(new_book, first, second)

    book.reduce(1, 4)

    assert resting(book) == [(1, 4), (2, 10)]
    assert book.depth(SELL, 5) == [DepthLevel(8000, 14, 2)]
    book.validate_internal_state()
    incoming = make_order(9, BUY, 8000, 4)
    assert book.match(incoming, limit=8000, max_levels=None) == [Fill(first, 4, 8000, 0)]


def test_remove_of_the_last_order_deletes_the_level(new_book: NewBook) -> None:
    book = book_with(new_book, make_order(1, BUY, 7990, 10), make_order(2, BUY, 7980, 10))

    removed = book.remove(1)

    assert removed.order_id == 1
    assert book.best_bid() == 7980
    assert book.depth(BUY, 5) == [DepthLevel(7980, 10, 1)]
    book.validate_internal_state()


def test_remove_from_the_middle_of_a_level_keeps_the_others_in_order(new_book: NewBook) -> None:
    book = book_with(new_book, make_order(1, BUY, 7990, 10), make_order(2, BUY, 7990, 20), make_order(3, BUY, 7990, 30))

    book.remove(2)

    assert resting(book) == [(1, 10), (3, 30)]
    assert book.depth(BUY, 5) == [DepthLevel(7990, 40, 2)]
    book.validate_internal_state()


def test_remove_of_a_partly_filled_order_subtracts_its_open_quantity(new_book: NewBook) -> None:
    ask = make_order(1, SELL, 8000, 10, "A2")
    book = book_with(new_book, ask, make_order(2, SELL, 8000, 10, "A3"))
    book.match(make_order(9, BUY, 8000, 4), limit=8000, max_levels=None)

    book.remove(1)

    assert book.depth(SELL, 5) == [DepthLevel(8000, 10, 1)]
    book.validate_internal_state()


def test_remove_of_an_unknown_order_raises_key_error(new_book: NewBook) -> None:
    book = book_with(new_book, make_order(1, BUY, 7990, 10))

    with pytest.raises(KeyError):
        book.remove(2)
    assert resting(book) == [(1, 10)]


# ------------------------------------------------------------------------------------------ depth and reading


def test_depth_lists_levels_best_first_with_quantity_and_order_count(new_book: NewBook) -> None:
    book = book_with(
        new_book,
        make_order(1, BUY, 7990, 10),
        make_order(2, BUY, 7995, 5),
        make_order(3, BUY, 7990, 7),
        make_order(4, BUY, 7980, 1),
        make_order(5, SELL, 8010, 3, "A2"),
        make_order(6, SELL, 8005, 4, "A2"),
        make_order(7, SELL, 8010, 6, "A3"),
    )

    assert book.depth(BUY, 5) == [DepthLevel(7995, 5, 1), DepthLevel(7990, 17, 2), DepthLevel(7980, 1, 1)]
    assert book.depth(BUY, 2) == [DepthLevel(7995, 5, 1), DepthLevel(7990, 17, 2)]
    assert book.depth(SELL, 5) == [DepthLevel(8005, 4, 1), DepthLevel(8010, 9, 2)]
    assert book.top(5) == (book.depth(BUY, 5), book.depth(SELL, 5))  # both sides in one look
    assert book.top(2) == (book.depth(BUY, 2), book.depth(SELL, 2))
    assert (book.best_bid(), book.best_ask()) == (7995, 8005)
    assert (book.best(BUY), book.best(SELL)) == (7995, 8005)
    assert resting(book) == [(2, 5), (1, 10), (3, 7), (4, 1), (6, 4), (5, 3), (7, 6)]
    assert len(book) == 7


def test_top_takes_as_many_levels_of_each_side_as_asked_whatever_the_other_side_holds(new_book: NewBook) -> None:
    book = book_with(
        new_book,
        make_order(1, BUY, 7990, 10),
        *(make_order(2 + i, SELL, 8005 + i, 1 + i, "A2") for i in range(4)),
    )

    bid, asks = [DepthLevel(7990, 10, 1)], [DepthLevel(8005 + i, 1 + i, 1) for i in range(4)]
    assert book.top(2) == (bid, asks[:2])  # the bids leave room the asks may not take
    assert book.top(4) == (bid, asks)
    assert book.top(1) == (bid, asks[:1])
    book.remove(1)
    assert book.top(3) == ([], asks[:3])


def test_empty_book_reads_empty(new_book: NewBook) -> None:
    book = new_book()

    assert (book.best_bid(), book.best_ask(), len(book)) == (None, None, 0)
    assert book.depth(BUY, 5) == book.depth(SELL, 5) == []
    assert book.top(5) == ([], [])
    assert list(book.orders()) == []
    book.validate_internal_state()


def test_a_fast_ladder_on_a_five_fen_tick_finds_each_price_level() -> None:
    # The ladder divides by the tick to find a level (one fen needs no division): T5's 5-fen tick.
    book = LadderBook("T5", low=7000, high=9000, tick=5)
    far, near = make_order(1, SELL, 7785, 10, "A2"), make_order(2, SELL, 7780, 10, "A2")
    for order in (far, near, make_order(3, BUY, 7775, 10), make_order(4, BUY, 7765, 5)):
        book.add(order)
    book.validate_internal_state()

    assert (book.best_bid(), book.best_ask()) == (7775, 7780)
    assert book.depth(SELL, 5) == [DepthLevel(7780, 10, 1), DepthLevel(7785, 10, 1)]
    assert book.match(make_order(9, BUY, 7785, 15, "A3"), 7785, None) == [
        Fill(near, 10, 7780, 5),
        Fill(far, 5, 7785, 0),
    ]
    book.remove(3)
    assert (book.best_bid(), book.best_ask(), resting(book)) == (7765, 7785, [(4, 5), (1, 5)])
    book.validate_internal_state()


# ------------------------------------------------------------------------------------------ fillable


Scenario = Callable[[NewBook], tuple[Book, Order]]


def _fillable_scenarios() -> list[tuple[str, Scenario, int | None, int | None]]:
    def plain(new_book: NewBook) -> tuple[Book, Order]:
        book = book_with(new_book, make_order(1, SELL, 8000, 10, "A2"), make_order(2, SELL, 8010, 10, "A3"))
        return book, make_order(9, BUY, 8010, 25)

    def levels(new_book: NewBook) -> tuple[Book, Order]:
        book = book_with(new_book, *[make_order(i, SELL, 8000 + i, 10, "A2") for i in range(1, 8)])
        return book, make_order(9, BUY, 0, 100)

    def own(stp: StpMode) -> Scenario:
        def build(new_book: NewBook) -> tuple[Book, Order]:
            book = book_with(
                new_book,
                make_order(1, SELL, 8000, 10, "A2"),
                make_order(2, SELL, 8000, 10, "A1"),
                make_order(3, SELL, 8010, 10, "A3"),
            )
            return book, make_order(9, BUY, 8010, 30, "A1", stp)

        return build

    def own_level(stp: StpMode) -> Scenario:
        def build(new_book: NewBook) -> tuple[Book, Order]:
            orders = [make_order(i, SELL, 8000 + i, 10, "A1" if i == 2 else "A2") for i in range(1, 8)]
            return book_with(new_book, *orders), make_order(9, BUY, 0, 100, "A1", stp)

        return build

    return [
        ("plain", plain, 8010, None),
        ("limit_cuts", plain, 8000, None),
        ("five_levels", levels, None, 5),
        *[(f"own_{stp.name}", own(stp), 8010, None) for stp in StpMode],
        *[(f"own_level_{stp.name}", own_level(stp), None, 5) for stp in StpMode],
    ]


@pytest.mark.parametrize(
    ("build", "limit", "max_levels"),
    [pytest.param(build, limit, levels, id=name) for name, build, limit, levels in _fillable_scenarios()],
)
def test_fillable_is_what_match_fills(
    new_book: NewBook, build: Scenario, limit: int | None, max_levels: int | None
) -> None:
    book, incoming = build(new_book)
    before = resting(book)

    fillable = book.fillable(incoming, limit, max_levels)

    assert resting(book) == before  # fillable changes nothing
    assert min(fillable, incoming.leaves) == filled(book.match(incoming, limit, max_levels))


def test_fillable_counts_what_an_order_can_fill_when_it_covers_the_order(new_book: NewBook) -> None:
    book = book_with(new_book, make_order(1, SELL, 8000, 10, "A2"))
    incoming = make_order(9, BUY, 8000, 10)

    assert book.fillable(incoming, 8000, None) == 10


def test_fillable_never_exceeds_the_incoming_quantity(new_book: NewBook) -> None:
    book = book_with(new_book, make_order(1, SELL, 8000, 30, "A2"))
    incoming = make_order(9, BUY, 8000, 10)

    assert book.fillable(incoming, 8000, None) == filled(book.match(incoming, 8000, None)) == 10


def test_fillable_for_fok_does_not_cancel_own_resting_orders(new_book: NewBook) -> None:
    own = make_order(1, SELL, 8000, 10, "A1")
    book = book_with(new_book, own, make_order(2, SELL, 8000, 5, "A2"))
    incoming = make_order(9, BUY, 8000, 10, "A1", StpMode.CANCEL_RESTING)

    assert book.fillable(incoming, 8000, None) == 5
    assert book.get(1) is own
    assert resting(book) == [(1, 10), (2, 5)]


# ------------------------------------------------------------------------------------------ invariant checker


def _corrupt_leaves(book: ReferenceBook) -> None:
    order = book.get(1)
    assert order is not None
    order.leaves = 3  # behind the book's back: the level total no longer agrees


def _corrupt_zero_leaves(book: ReferenceBook) -> None:
    first, second = book.get(1), book.get(2)
    assert first is not None and second is not None
    second.leaves += first.leaves  # the level total still agrees, the order rests with nothing
    first.leaves = 0


def _corrupt_index(book: ReferenceBook) -> None:
    del book._orders[2]


def _corrupt_extra_index(book: ReferenceBook) -> None:
    book._orders[99] = make_order(99, BUY, 7000, 1)


def _corrupt_price(book: ReferenceBook) -> None:
    order = book.get(1)
    assert order is not None
    order.price = 7000


def _corrupt_side(book: ReferenceBook) -> None:
    order = book.get(3)
    assert order is not None
    order.side = BUY


def _corrupt_empty_level(book: ReferenceBook) -> None:
    level = book._asks.peekitem(0)[1]
    level.orders.clear()
    level.quantity = 0
    book._orders.pop(3)


def _corrupt_crossed(book: ReferenceBook) -> None:
    book.add(make_order(4, BUY, 8100, 1, "A4"))


def _corrupt_replaced_order(book: ReferenceBook) -> None:
    book._orders[1] = make_order(1, BUY, 7990, 10)  # same id, another object


def three_orders(new_book: NewBook) -> Book:
    return book_with(
        new_book, make_order(1, BUY, 7990, 10), make_order(2, BUY, 7990, 10, "A2"), make_order(3, SELL, 8000, 10, "A3")
    )


@pytest.mark.parametrize(
    "corrupt",
    [
        _corrupt_leaves,
        _corrupt_zero_leaves,
        _corrupt_index,
        _corrupt_extra_index,
        _corrupt_price,
        _corrupt_side,
        _corrupt_empty_level,
        _corrupt_crossed,
        _corrupt_replaced_order,
    ],
)
def test_validate_internal_state_catches_a_corrupted_reference_book(corrupt: Callable[[ReferenceBook], None]) -> None:
    book = three_orders(lambda: ReferenceBook("SHEA2025"))
    assert isinstance(book, ReferenceBook)

    corrupt(book)

    with pytest.raises(BookInvariantError):
        book.validate_internal_state()


def _slot(book: LadderBook, order_id: int) -> int:
    return int(book.ids[order_id - ID_BASE])


def _level_of(book: LadderBook, order_id: int) -> int:
    """The ``levels`` row whose queue starts with the order."""
    (row,) = np.flatnonzero(book.levels[:, L_HEAD] == _slot(book, order_id))
    return int(row)


def _fast_level_count(book: LadderBook) -> None:
    book.levels[_level_of(book, 1), L_COUNT] = 3


def _fast_lost_head(book: LadderBook) -> None:
    book.levels[_level_of(book, 1), L_HEAD] = -1  # the level's orders can no longer be reached


def _fast_leaves(book: LadderBook) -> None:
    book.order_rows[_slot(book, 1), O_LEAVES] = 3  # behind the ladder's back: the level total no longer agrees


def _fast_zero_leaves(book: LadderBook) -> None:
    first, second = _slot(book, 1), _slot(book, 2)
    book.order_rows[second, O_LEAVES] += book.order_rows[first, O_LEAVES]  # the level total still agrees
    book.order_rows[first, O_LEAVES] = 0


def _fast_price(book: LadderBook) -> None:
    book.order_rows[_slot(book, 1), O_PRICE] = 7000


def _fast_side(book: LadderBook) -> None:
    book.order_rows[_slot(book, 3), O_SIDE] = FAST_BUY


def _fast_back_link(book: LadderBook) -> None:
    book.order_rows[_slot(book, 2), O_PREV] = -1


def _fast_index_missing(book: LadderBook) -> None:
    book.ids[2 - ID_BASE] = -1


def _fast_index_swapped(book: LadderBook) -> None:
    book.ids[[1 - ID_BASE, 2 - ID_BASE]] = book.ids[[2 - ID_BASE, 1 - ID_BASE]]


def _fast_best_bid(book: LadderBook) -> None:
    book.book_rows[INSTR, B_BEST_BID] -= 1


def _fast_crossed(book: LadderBook) -> None:
    book.add(make_order(4, BUY, 8100, 1, "A4"))


def _fast_live_count(book: LadderBook) -> None:
    book.book_rows[INSTR, B_LIVE] += 1


def _fast_cycle(book: LadderBook) -> None:
    book.order_rows[_slot(book, 2), O_NEXT] = _slot(book, 1)  # the level's list no longer ends


@pytest.mark.parametrize(
    ("corrupt", "code"),  # and the code ``ladder.check`` names it with
    [
        (_fast_level_count, 1),
        (_fast_lost_head, 1),
        (_fast_leaves, 2),
        (_fast_zero_leaves, 3),
        (_fast_price, 3),
        (_fast_side, 3),
        (_fast_back_link, 3),
        (_fast_cycle, 3),  # found by the back links, so the check itself cannot loop
        (_fast_index_missing, 4),
        (_fast_index_swapped, 4),
        (_fast_best_bid, 5),
        (_fast_crossed, 6),
        (_fast_live_count, 7),
    ],
)
def test_validate_internal_state_catches_a_corrupted_fast_ladder(
    corrupt: Callable[[LadderBook], None], code: int
) -> None:
    book = three_orders(lambda: LadderBook("SHEA2025"))
    assert isinstance(book, LadderBook)

    corrupt(book)

    with pytest.raises(BookInvariantError, match=f"invariant {code} broken"):
        book.validate_internal_state()


def test_a_level_whose_list_does_not_end_raises_where_a_kernel_walks_it() -> None:
    """A cycle (a defect) raises in the kernels that walk a level, instead of looping for ever or
    writing past the end of an array: ``canonical`` (snapshots, views) and ``fillable`` (a FOK order)."""
    book = three_orders(lambda: LadderBook("SHEA2025"))
    assert isinstance(book, LadderBook)
    sound = ladder.canonical(book.order_rows, book.levels, book.book_rows, INSTR).tolist()
    assert sound == [_slot(book, 1), _slot(book, 2), _slot(book, 3)]

    _fast_cycle(book)

    with pytest.raises(RuntimeError, match="order list does not end"):
        ladder.canonical(book.order_rows, book.levels, book.book_rows, INSTR)
    incoming = book._write(make_order(9, SELL, 7990, 10**6, "A9"))  # in a slot, not resting: as matching sees it
    with pytest.raises(RuntimeError, match="order list does not end"):
        ladder.fillable(book.order_rows, book.levels, book.book_rows, INSTR, incoming, 7990, -1)


def test_freeing_a_free_order_slot_raises_instead_of_handing_it_to_two_orders() -> None:
    orders = np.zeros((4, ORDER_FIELDS), dtype=np.int64)
    ids, free, params = (
        np.full(8, -1, dtype=np.int64),
        np.zeros(4, dtype=np.int64),
        np.zeros(PARAM_FIELDS, dtype=np.int64),
    )
    params[P_FREE_TOP], params[P_ID_BASE] = 3, 1  # slot 3 is taken by order 5, slots 0-2 are free
    orders[3, O_ID], ids[5 - 1] = 5, 3

    kernels.free_slot(orders, ids, free, params, 3)

    assert (params[P_FREE_TOP], free[3], orders[3, O_ID], ids[5 - 1]) == (4, 3, 0, -1)
    with pytest.raises(RuntimeError, match="freed when it was free already"):
        kernels.free_slot(orders, ids, free, params, 3)  # a second time: once more on the stack would be one too many
    params[P_FREE_TOP] = 2
    with pytest.raises(RuntimeError, match="freed when it was free already"):
        kernels.free_slot(orders, ids, free, params, 1)  # never taken
    assert params[P_FREE_TOP] == 2


# ------------------------------------------------------------------------------------------ model-based


class ModelOrder:
    """The model's view of a resting order: a plain record, matched by sorting a list."""

    __slots__ = ("account", "leaves", "order_id", "price", "seq", "side")

    def __init__(self, order_id: int, side: Side, price: int, leaves: int, account: str, seq: int) -> None:
        self.order_id, self.side, self.price = order_id, side, price
        self.leaves, self.account, self.seq = leaves, account, seq


Step = tuple[str, int | None, int, int, int]  # kind, resting id, quantity, price, incoming leaves or stop


def model_match(
    model: dict[int, ModelOrder],
    side: Side,
    account: str,
    leaves: int,
    stp: StpMode,
    limit: int | None,
    max_levels: int | None,
) -> list[Step]:
    """Price-time priority by sorting; self-trade prevention as the module docstring states it."""
    opposite = sorted(
        (o for o in model.values() if o.side is not side),
        key=lambda o: (o.price if side is BUY else -o.price, o.seq),
    )
    steps: list[Step] = []
    for levels, (price, group) in enumerate(itertools.groupby(opposite, key=lambda o: o.price)):
        if not leaves:
            break
        if limit is not None and (price > limit if side is BUY else price < limit):
            break
        if max_levels is not None and levels >= max_levels:
            break
        for order in group:
            if not leaves:
                break
            if order.account == account:
                if stp is StpMode.CANCEL_INCOMING:
                    return [*steps, ("stp", None, 0, 0, 1)]
                del model[order.order_id]
                steps.append(("stp", order.order_id, 0, 0, int(stp is StpMode.CANCEL_BOTH)))
                if stp is StpMode.CANCEL_BOTH:
                    return steps
                continue
            quantity = min(leaves, order.leaves)
            leaves -= quantity
            order.leaves -= quantity
            if not order.leaves:
                del model[order.order_id]
            steps.append(("fill", order.order_id, quantity, price, leaves))
    return steps


def as_model_steps(steps: list[MatchStep]) -> list[Step]:
    out: list[Step] = []
    for step in steps:
        if isinstance(step, Fill):
            out.append(("fill", step.resting.order_id, step.quantity, step.price, step.incoming_leaves))
        else:
            resting_id = None if step.resting is None else step.resting.order_id
            out.append(("stp", resting_id, 0, 0, int(step.stop)))
    return out


PRICES = st.integers(min_value=7990, max_value=8010)
QUANTITIES = st.integers(min_value=1, max_value=40)
ACCOUNTS = st.sampled_from(["A1", "A2", "A3"])
SIDES = st.sampled_from([BUY, SELL])
STP_MODES = st.sampled_from(list(StpMode))


class BookMachine(RuleBasedStateMachine):
    """Random limit orders (matched, then rested), market sweeps, cancels and reductions."""

    make_book: Callable[[str], Book] = ReferenceBook

    def __init__(self) -> None:
        super().__init__()
        self.book = self.make_book("SHEA2025")
        self.model: dict[int, ModelOrder] = {}
        self.ids = itertools.count(1)

    @initialize()
    def start(self) -> None:
        self.book.validate_internal_state()

    def _incoming(
        self, side: Side, price: int, quantity: int, account: str, stp: StpMode, limit: int | None, levels: int | None
    ) -> tuple[Order, bool]:
        order = make_order(next(self.ids), side, price, quantity, account, stp)
        snapshot = {i: (o.leaves, o.account, o.price) for i, o in self.model.items()}
        fillable = self.book.fillable(order, limit, levels)
        assert {i: (o.leaves, o.account, o.price) for i, o in self.model.items()} == snapshot
        expected = model_match(self.model, side, account, quantity, stp, limit, levels)
        steps = self.book.match(order, limit, levels)
        assert as_model_steps(steps) == expected
        assert min(fillable, quantity) == filled(steps)
        assert order.leaves == quantity - filled(steps)
        stopped = any(isinstance(step, SelfTradeCancel) and step.stop for step in steps)
        return order, stopped

    @rule(side=SIDES, price=PRICES, quantity=QUANTITIES, account=ACCOUNTS, stp=STP_MODES)
    def limit_order(self, side: Side, price: int, quantity: int, account: str, stp: StpMode) -> None:
        order, stopped = self._incoming(side, price, quantity, account, stp, price, None)
        if order.leaves and not stopped:
            self.book.add(order)
            self.model[order.order_id] = ModelOrder(order.order_id, side, price, order.leaves, account, order.order_id)

    @rule(
        side=SIDES,
        quantity=st.integers(min_value=1, max_value=200),
        account=ACCOUNTS,
        stp=STP_MODES,
        levels=st.integers(min_value=1, max_value=6),
    )
    def market_sweep(self, side: Side, quantity: int, account: str, stp: StpMode, levels: int) -> None:
        self._incoming(side, 0, quantity, account, stp, None, levels)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.model)))

        removed = self.book.remove(order_id)

        assert removed.order_id == order_id
        del self.model[order_id]

    @precondition(lambda self: any(o.leaves > 1 for o in self.model.values()))
    @rule(data=st.data())
    def reduce(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(sorted(i for i, o in self.model.items() if o.leaves > 1)))
        leaves = data.draw(st.integers(min_value=1, max_value=self.model[order_id].leaves - 1))

        self.book.reduce(order_id, leaves)

        self.model[order_id].leaves = leaves

    @invariant()
    def book_is_valid_and_uncrossed(self) -> None:
        self.book.validate_internal_state()
        bid, ask = self.book.best_bid(), self.book.best_ask()
        assert bid is None or ask is None or bid < ask

    @invariant()
    def book_agrees_with_the_model(self) -> None:
        canonical = sorted(self.model.values(), key=lambda o: (o.side, -o.price if o.side is BUY else o.price, o.seq))
        assert resting(self.book) == [(o.order_id, o.leaves) for o in canonical]
        for side in (BUY, SELL):
            levels: dict[int, list[int]] = {}
            for o in canonical:
                if o.side is side:
                    levels.setdefault(o.price, []).append(o.leaves)
            expected = [DepthLevel(price, sum(q), len(q)) for price, q in levels.items()]
            assert self.book.depth(side, 100) == expected
            assert self.book.top(3)[side is SELL] == expected[:3]


class FastBookMachine(BookMachine):
    make_book = LadderBook


TestBookMachine = BookMachine.TestCase
TestBookMachine.settings = settings(TestBookMachine.settings, stateful_step_count=40)
TestFastBookMachine = FastBookMachine.TestCase
TestFastBookMachine.settings = settings(TestFastBookMachine.settings, stateful_step_count=40)


@given(ids=st.lists(st.integers(1, 10**12), unique=True, max_size=60), data=st.data())
def test_sort_by_id_orders_any_slots_by_their_orders_ids_in_place(ids: list[int], data: st.DataObject) -> None:
    """``ladder.sort_by_id``: the mass cancel's and the order list's order once the slots were walked."""
    orders = np.zeros((len(ids) + 3, ORDER_FIELDS), dtype=np.int64)
    slots = np.array(data.draw(st.permutations(range(len(ids)))), dtype=np.int64)
    orders[slots, O_ID] = ids
    scratch = np.concatenate([slots, np.array([-7, -7], dtype=np.int64)])  # past ``n``: left alone

    ladder.sort_by_id(orders, scratch, len(ids))

    assert orders[scratch[: len(ids)], O_ID].tolist() == sorted(ids)
    assert sorted(scratch[: len(ids)].tolist()) == sorted(slots.tolist()) and scratch[len(ids) :].tolist() == [-7, -7]
