"""The fast book's ladder: dense price levels over the band, each a FIFO of order slots.

Per instrument and side, ``levels`` holds one row per tick between the ladder's lowest price and
its highest (the day's band), so finding a price's level is one subtraction and one division.
A level's orders are an intrusive doubly linked list threaded through ``orders[:, O_NEXT/O_PREV]``:
appending at the tail and unlinking anywhere are O(1) and need no allocation. The best offset of
each side is kept in ``books``; when the best level empties, the next one is found by scanning
towards worse prices, which near the mid of a live book is a few rows.

These functions only keep the ladder; the rules, freezes and settlement are in
``engine.listing.fast.kernels``. They mirror ``engine.listing.book.ReferenceBook``, which is the specification.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.listing.fast.jit import inlined_kernel, kernel
from engine.listing.fast.layout import (
    ALL_INSTRUMENTS,
    B_ASK_BASE,
    B_BEST_ASK,
    B_BEST_BID,
    B_BID_BASE,
    B_LIVE,
    B_LO,
    B_N,
    B_TICK,
    BUY,
    CANCEL_RESTING,
    L_COUNT,
    L_HEAD,
    L_QTY,
    L_TAIL,
    O_ACCT,
    O_ID,
    O_INSTR,
    O_LEAVES,
    O_NEXT,
    O_PREV,
    O_PRICE,
    O_SIDE,
    O_STP,
)

# What a kernel raises when a level's order list does not end where a sound book's would: a cycle
# left by a defect. Raised, the command that met it is blamed (an INTERNAL_ERROR reject and a halt)
# instead of the kernel looping for ever or writing past the end of an array (numba checks no bounds).
CORRUPT_LEVEL = "a price level's order list does not end: the fast book is corrupt"
Arr = np.ndarray
CORRUPT_INDEX = "the id index names more resting orders than there are: the fast book is corrupt"


@inlined_kernel
def price_offset(books: np.ndarray, instr: int, price: int) -> int:
    """The ladder offset of ``price`` (a valid price: on the tick and in the band).

    A tick of one fen needs no division; a hardware division costs more than the rest of a ladder
    step, and this runs for every order that rests, trades or leaves the book.
    """
    tick = books[instr, B_TICK]
    if tick == 1:
        return price - books[instr, B_LO]
    return (price - books[instr, B_LO]) // tick


@inlined_kernel
def level_row(books: np.ndarray, instr: int, side: int, price: int) -> int:
    """The ``levels`` row of ``price`` on ``side`` of the instrument's ladder."""
    offset = price_offset(books, instr, price)
    if side == BUY:
        return books[instr, B_BID_BASE] + offset
    return books[instr, B_ASK_BASE] + offset


@kernel
def best_price(books: np.ndarray, instr: int, side: int) -> int:
    """The best price on ``side``, or -1 when the side is empty."""
    offset = books[instr, B_BEST_BID] if side == BUY else books[instr, B_BEST_ASK]
    if offset < 0:
        return -1
    return books[instr, B_LO] + offset * books[instr, B_TICK]


@inlined_kernel
def add(orders: np.ndarray, levels: np.ndarray, books: np.ndarray, instr: int, slot: int) -> None:
    """Rest an order at the back of its price level's queue."""
    side = orders[slot, O_SIDE]
    offset = price_offset(books, instr, orders[slot, O_PRICE])
    row = (books[instr, B_BID_BASE] if side == BUY else books[instr, B_ASK_BASE]) + offset
    tail = levels[row, L_TAIL]
    orders[slot, O_PREV] = tail
    orders[slot, O_NEXT] = -1
    if tail < 0:
        levels[row, L_HEAD] = slot
    else:
        orders[tail, O_NEXT] = slot
    levels[row, L_TAIL] = slot
    levels[row, L_QTY] += orders[slot, O_LEAVES]
    levels[row, L_COUNT] += 1
    books[instr, B_LIVE] += 1
    if side == BUY:
        if offset > books[instr, B_BEST_BID]:
            books[instr, B_BEST_BID] = offset
    elif books[instr, B_BEST_ASK] < 0 or offset < books[instr, B_BEST_ASK]:
        books[instr, B_BEST_ASK] = offset


@inlined_kernel
def unlink(orders: np.ndarray, levels: np.ndarray, books: np.ndarray, instr: int, slot: int) -> None:
    """Take an order out of its level (with its open quantity); move the best price if it emptied."""
    side = orders[slot, O_SIDE]
    offset = price_offset(books, instr, orders[slot, O_PRICE])
    row = (books[instr, B_BID_BASE] if side == BUY else books[instr, B_ASK_BASE]) + offset
    prev, nxt = orders[slot, O_PREV], orders[slot, O_NEXT]
    if prev < 0:
        levels[row, L_HEAD] = nxt
    else:
        orders[prev, O_NEXT] = nxt
    if nxt < 0:
        levels[row, L_TAIL] = prev
    else:
        orders[nxt, O_PREV] = prev
    levels[row, L_QTY] -= orders[slot, O_LEAVES]
    levels[row, L_COUNT] -= 1
    books[instr, B_LIVE] -= 1
    if levels[row, L_COUNT] == 0:
        if side == BUY and offset == books[instr, B_BEST_BID]:
            base = books[instr, B_BID_BASE]
            while offset >= 0 and levels[base + offset, L_COUNT] == 0:
                offset -= 1
            books[instr, B_BEST_BID] = offset
        elif side != BUY and offset == books[instr, B_BEST_ASK]:
            base, n = books[instr, B_ASK_BASE], books[instr, B_N]
            while offset < n and levels[base + offset, L_COUNT] == 0:
                offset += 1
            books[instr, B_BEST_ASK] = offset if offset < n else -1


@inlined_kernel
def reduce(orders: np.ndarray, levels: np.ndarray, books: np.ndarray, instr: int, slot: int, leaves: int) -> None:
    """Lower a resting order's open quantity in place: it keeps its time priority."""
    row = level_row(books, instr, orders[slot, O_SIDE], orders[slot, O_PRICE])
    levels[row, L_QTY] -= orders[slot, O_LEAVES] - leaves
    orders[slot, O_LEAVES] = leaves


@kernel
def acceptable(side: int, resting_price: int, limit: int) -> bool:
    return resting_price <= limit if side == BUY else resting_price >= limit


@kernel
def fillable(
    orders: np.ndarray, levels: np.ndarray, books: np.ndarray, instr: int, slot: int, limit: int, max_levels: int
) -> int:
    """What matching would fill for the incoming order in ``slot`` now, changing nothing.

    ``limit`` < 0: any price; ``max_levels`` < 0: any number of levels. Mirrors
    ``ReferenceBook.fillable``: an order of the same account is skipped under cancel-resting and
    ends the count under the other two modes.
    """
    side = orders[slot, O_SIDE]
    want = orders[slot, O_LEAVES]
    account, stp = orders[slot, O_ACCT], orders[slot, O_STP]
    lo, tick, n = books[instr, B_LO], books[instr, B_TICK], books[instr, B_N]
    total = met = 0
    reached = 0
    if side == BUY:
        offset, step, base = books[instr, B_BEST_ASK], 1, books[instr, B_ASK_BASE]
    else:
        offset, step, base = books[instr, B_BEST_BID], -1, books[instr, B_BID_BASE]
    if offset < 0:
        return 0
    while 0 <= offset < n:
        row = base + offset
        if levels[row, L_COUNT]:
            if limit >= 0 and not acceptable(side, lo + offset * tick, limit):
                break
            if 0 <= max_levels <= reached:
                break
            reached += 1
            resting = levels[row, L_HEAD]
            while resting >= 0:
                met += 1
                if met > orders.shape[0]:
                    raise RuntimeError(CORRUPT_LEVEL)
                if orders[resting, O_ACCT] == account:
                    if stp != CANCEL_RESTING:
                        return total
                else:
                    total += orders[resting, O_LEAVES]
                    if total >= want:
                        return want
                resting = orders[resting, O_NEXT]
        offset += step
    return total


@inlined_kernel
def side_levels(levels: np.ndarray, books: np.ndarray, instr: int, side: int, out: np.ndarray, start: int) -> int:
    """The side's best levels into ``out`` from row ``start`` to its end: (price, quantity, orders); how many."""
    lo, tick, n = books[instr, B_LO], books[instr, B_TICK], books[instr, B_N]
    if side == BUY:
        offset, step, base = books[instr, B_BEST_BID], -1, books[instr, B_BID_BASE]
    else:
        offset, step, base = books[instr, B_BEST_ASK], 1, books[instr, B_ASK_BASE]
    found = start
    while found < out.shape[0] and 0 <= offset < n:
        row = base + offset
        if levels[row, L_COUNT]:
            out[found, 0] = lo + offset * tick
            out[found, 1] = levels[row, L_QTY]
            out[found, 2] = levels[row, L_COUNT]
            found += 1
        offset += step
    return found - start


@njit(cache=True)
def depth(levels: np.ndarray, books: np.ndarray, instr: int, side: int, count: int) -> np.ndarray:
    """The best ``count`` levels of a side: rows of (price, quantity, orders)."""
    out = np.zeros((count, 3), dtype=np.int64)
    return out[: side_levels(levels, books, instr, side, out, 0)]


@njit(cache=True)
def top(levels: np.ndarray, books: np.ndarray, instr: int, count: int) -> tuple[np.ndarray, int]:
    """The best ``count`` levels of both sides in one call: the bids' rows, then the asks'; how many bids.

    What the quote and the depth of market data read after each batch: one call where four cost
    four times numba's ~1 µs of dispatch (bench/RESULTS.md, issue 19).
    """
    out = np.zeros((2 * count, 3), dtype=np.int64)
    bids = side_levels(levels, books, instr, BUY, out[:count], 0)
    asks = side_levels(levels, books, instr, BUY + 1, out[: bids + count], bids)
    return out[: bids + asks], bids


@njit(cache=True)
def canonical(orders: np.ndarray, levels: np.ndarray, books: np.ndarray, instr: int) -> np.ndarray:
    """Every resting slot of the instrument: bids best first, then asks best first, FIFO in a level."""
    out = np.empty(books[instr, B_LIVE], dtype=np.int64)
    found = 0
    n = books[instr, B_N]
    for side in (BUY, BUY + 1):
        if side == BUY:
            offset, step, base = books[instr, B_BEST_BID], -1, books[instr, B_BID_BASE]
        else:
            offset, step, base = books[instr, B_BEST_ASK], 1, books[instr, B_ASK_BASE]
        if offset < 0:
            continue
        while 0 <= offset < n:
            slot = levels[base + offset, L_HEAD]
            while slot >= 0:
                if found == out.shape[0]:
                    raise RuntimeError(CORRUPT_LEVEL)
                out[found] = slot
                found += 1
                slot = orders[slot, O_NEXT]
            offset += step
    return out[:found]


# Where walking the slots (a row read each, then a sort) costs less than walking the id index (an
# entry each, and a row read for each resting order): the id index holding this many entries per
# slot (``params[P_IDS_PER_SLOT]``). Measured with 65,536 slots and 40,000 resting orders
# (bench/RESULTS.md, issue 19, tenth session): the slots take 0.2 ms, and 4 ms when one account
# holds all 40,000 (the sort); the id index 1.5-2 ms at a million entries. Past 16 per slot, an
# account with few orders gains 7x and one with all of them loses at most 2x.
IDS_PER_SLOT = 16


@njit(cache=True)
def open_slots(
    orders: np.ndarray,
    ids: np.ndarray,
    issued: int,
    ids_per_slot: int,
    accounts: np.ndarray,
    instruments: np.ndarray,
    out: np.ndarray,
) -> int:
    """The resting orders of the ``accounts`` (a flag per account index) on the ``instruments`` (a flag per
    instrument index) into ``out``, in order id order; how many (``pick``, with every flagged pair)."""
    return pick(orders, ids, issued, ids_per_slot, -1, ALL_INSTRUMENTS, accounts, instruments, out)


@kernel
def pick(
    orders: Arr, ids: Arr, issued: int, ids_per_slot: int, account: int, instr: int, accounts: Arr,
    instruments: Arr, out: Arr,
) -> int:  # fmt: skip
    """The resting orders of ``account`` (or, when it is -1, of the ``accounts`` flagged, a flag per
    account index) on ``instr`` (or every instrument, ``ALL_INSTRUMENTS``, of the ``instruments``
    flagged) into ``out``, in order id order; how many. ``out`` holds one per resting order: more
    would be a corrupt index, and raises. No allocation: a mass cancel calls it inside a batch.

    It walks the id index (``issued`` entries, every order of the day, already in id order) or, once
    that holds more than ``ids_per_slot`` (``params[P_IDS_PER_SLOT]``) entries per slot, the order
    slots (a row with an id is a resting order), and then sorts what it found by id. The id index
    grows with the day's orders, the slots only with the most orders resting at once, so a member's
    order list or mass cancel costs no more on a day of millions of orders than the slots allow
    (bench/RESULTS.md, issue 19, tenth session).
    """
    by_slots = issued > ids_per_slot * orders.shape[0]
    found = 0
    for k in range(orders.shape[0] if by_slots else min(issued, ids.shape[0])):
        slot = k if by_slots else ids[k]
        if slot < 0 or orders[slot, O_ID] == 0:
            continue
        a, j = orders[slot, O_ACCT], orders[slot, O_INSTR]
        if account >= 0:
            if a != account or (instr != ALL_INSTRUMENTS and j != instr):
                continue
        elif not (0 <= a < accounts.shape[0] and 0 <= j < instruments.shape[0] and accounts[a] and instruments[j]):
            continue
        if found == out.shape[0]:
            raise RuntimeError(CORRUPT_INDEX)
        out[found] = slot
        found += 1
    if by_slots:
        sort_by_id(orders, out, found)
    return found


@kernel
def sort_by_id(orders: Arr, slots: Arr, n: int) -> None:
    """Sort ``slots[:n]`` by their orders' ids, in place, without allocating (a heapsort).

    Each slot is packed with its order's id into one integer first (the id above the slot's bits),
    so the sort compares neighbouring integers instead of reading an order row per comparison: with
    40,000 slots that is several times quicker. An id too large to pack (none an exchange issues)
    makes it compare the rows instead.
    """
    bits = 1
    while (1 << bits) < orders.shape[0]:
        bits += 1
    packable = True
    for j in range(n):
        if orders[slots[j], O_ID] >= (1 << (62 - bits)):
            packable = False
    if packable:
        for j in range(n):
            slots[j] = (orders[slots[j], O_ID] << bits) | slots[j]
    for start in range(n // 2 - 1, -1, -1):
        _sift(orders, slots, start, n, packable)
    for end in range(n - 1, 0, -1):
        slots[0], slots[end] = slots[end], slots[0]
        _sift(orders, slots, 0, end, packable)
    if packable:
        mask = (1 << bits) - 1
        for j in range(n):
            slots[j] &= mask


@inlined_kernel
def _sift(orders: Arr, slots: Arr, root: int, end: int, packed: bool) -> None:
    while 2 * root + 1 < end:
        child = 2 * root + 1
        if child + 1 < end and _key(orders, slots[child + 1], packed) > _key(orders, slots[child], packed):
            child += 1
        if _key(orders, slots[root], packed) >= _key(orders, slots[child], packed):
            return
        slots[root], slots[child] = slots[child], slots[root]
        root = child


@inlined_kernel
def _key(orders: Arr, value: int, packed: bool) -> int:
    return value if packed else orders[value, O_ID]


@njit(cache=True)
def check(orders: np.ndarray, levels: np.ndarray, books: np.ndarray, ids: np.ndarray, id_base: int) -> int:
    """Walk every ladder against the order rows and the id index; 0 when they agree, else a code.

    1 a level's count, 2 its quantity, 3 a misfiled or empty order, 4 the id index, 5 the best
    offset, 6 a crossed book, 7 the live count. A debug and test aid, never on the hot path.
    """
    for instr in range(books.shape[0]):
        n = books[instr, B_N]
        live = 0
        for side in (BUY, BUY + 1):
            base = books[instr, B_BID_BASE] if side == BUY else books[instr, B_ASK_BASE]
            best = -1
            for offset in range(n):
                row = base + offset
                count = quantity = 0
                slot = levels[row, L_HEAD]
                prev = -1
                while slot >= 0:
                    price = books[instr, B_LO] + offset * books[instr, B_TICK]
                    if orders[slot, O_SIDE] != side or orders[slot, O_PRICE] != price or orders[slot, O_LEAVES] <= 0:
                        return 3
                    if orders[slot, O_PREV] != prev:
                        return 3
                    oid = orders[slot, O_ID] - id_base
                    if oid < 0 or oid >= ids.shape[0] or ids[oid] != slot:
                        return 4
                    count += 1
                    quantity += orders[slot, O_LEAVES]
                    prev = slot
                    slot = orders[slot, O_NEXT]
                if levels[row, L_TAIL] != prev or levels[row, L_COUNT] != count:
                    return 1
                if levels[row, L_QTY] != quantity:
                    return 2
                if count and (side == BUY or best < 0):
                    best = offset  # bids: the highest level with orders; asks: the lowest
                live += count
            if side == BUY and best != books[instr, B_BEST_BID]:
                return 5
            if side != BUY and best != books[instr, B_BEST_ASK]:
                return 5
        if 0 <= books[instr, B_BEST_ASK] <= books[instr, B_BEST_BID]:
            return 6
        if live != books[instr, B_LIVE]:
            return 7
    return 0


@njit(cache=True)
def add_all(orders: np.ndarray, levels: np.ndarray, books: np.ndarray, slots: np.ndarray) -> None:
    """Rest every slot in the given order (a ladder rebuilt from canonical order keeps FIFO)."""
    for slot in slots:
        add(orders, levels, books, orders[slot, O_INSTR], slot)
