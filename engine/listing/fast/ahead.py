"""Prefetching for the commands ahead: ``run_batch`` calls ``look_ahead`` while it applies a command.

The loads a command will need are started a few commands before it runs, so the cache misses of a
large book overlap the work in between instead of following one another (bench/RESULTS.md, issue
19, "Eighth session"). Everything here reads the state and writes nothing: a hint that turns out
useless costs time, never a value (``tests/test_differential.py`` runs the kernel with it on from
the first resting order and compares events and state with the reference).
"""

from __future__ import annotations

from engine.listing.fast.jit import inlined_kernel
from engine.listing.fast.kernels import Arr
from engine.listing.fast.layout import (
    B_ASK_BASE,
    B_BEST_ASK,
    B_BEST_BID,
    B_BID_BASE,
    B_LO,
    B_TICK,
    BUY,
    CMD_CANCEL,
    CMD_NEW,
    L_HEAD,
    O_ACCT,
    O_ID,
    O_INSTR,
    O_NEXT,
    O_PREV,
    O_PRICE,
    O_SIDE,
    P_ID_BASE,
    X_ACCT,
    X_INSTR,
    X_KIND,
    X_ORDER_ID,
    X_PRICE,
    X_SIDE,
)
from engine.listing.fast.prefetch import prefetch

# How many commands ahead ``look_ahead`` starts the loads of a command, in three steps, each using
# what the step before brought in: a cancel's id-index entry, then its order's row, then what that
# row points to (its neighbours in the level, its level, its account's rows); a new order's at the
# last step (the head of the level it would trade with, its own level, its account's rows).
AHEAD_FIRST, AHEAD_ROW, AHEAD_LINKS = 6, 4, 2
# Resting orders from which ``run_batch`` looks ahead (``params[P_LOOK_AHEAD]``, set from this):
# below it the orders' rows (128 bytes each, 1 MiB in all) stay in a core's caches here and the
# hints only cost (~15 ns a command on the standard flow's 1,000 resting orders).
LOOK_AHEAD_FROM = 8_192


@inlined_kernel
def look_ahead(
    cmds: Arr, i: int, n: int, orders: Arr, levels: Arr, books: Arr, cash: Arr, holdings: Arr, risk: Arr, ids: Arr,
    params: Arr,
) -> None:  # fmt: skip
    """Start loading what the commands ``AHEAD_*`` after command ``i`` will read, while ``i`` runs.

    With 40 instruments and 40,000 resting orders, the rows a command reads are mostly not in the
    caches, and each depends on the one before (the id index gives the row, the row its
    neighbours): a command waited for three or four misses in a row. Started a few commands ahead,
    those misses overlap the work in between (bench/RESULTS.md, issue 19, "Eighth session").
    Only hints (``engine.listing.fast.prefetch``): the state may change before those commands run,
    which costs a wasted hint, never a wrong value. Every index is checked before it is read.
    """
    k = i + AHEAD_FIRST
    if k < n:
        kind = cmds[X_KIND, k]
        if kind == CMD_CANCEL:
            index = cmds[X_ORDER_ID, k] - params[P_ID_BASE]
            if 0 <= index < ids.shape[0]:
                prefetch(ids, index)
    k = i + AHEAD_ROW
    if k < n:
        slot = -1
        kind = cmds[X_KIND, k]
        if kind == CMD_CANCEL:
            slot = slot_of(ids, params, cmds[X_ORDER_ID, k])
        if 0 <= slot < orders.shape[0]:
            prefetch(orders, slot, 0)
            prefetch(orders, slot, 8)
    k = i + AHEAD_LINKS
    if k < n:
        kind = cmds[X_KIND, k]
        if kind == CMD_CANCEL:
            slot = slot_of(ids, params, cmds[X_ORDER_ID, k])
            if 0 <= slot < orders.shape[0] and orders[slot, O_ID] != 0:
                for linked in (orders[slot, O_PREV], orders[slot, O_NEXT]):
                    if 0 <= linked < orders.shape[0]:
                        prefetch(orders, linked, O_NEXT)
                instr = orders[slot, O_INSTR]
                account_rows(orders[slot, O_ACCT], instr, cash, holdings, risk)
                if 0 <= instr < books.shape[0]:
                    level_of(levels, books, instr, orders[slot, O_SIDE], orders[slot, O_PRICE])
        elif kind == CMD_NEW:
            instr = cmds[X_INSTR, k]
            head = head_against(levels, books, instr, cmds[X_SIDE, k])
            if 0 <= head < orders.shape[0]:
                prefetch(orders, head, 0)
                prefetch(orders, head, 8)
            account_rows(cmds[X_ACCT, k], instr, cash, holdings, risk)
            if 0 <= instr < books.shape[0]:
                level_of(levels, books, instr, cmds[X_SIDE, k], cmds[X_PRICE, k])


@inlined_kernel
def slot_of(ids: Arr, params: Arr, order_id: int) -> int:
    """The slot the id index gives for ``order_id``, or -1 (unchecked otherwise: a hint's target)."""
    index = order_id - params[P_ID_BASE]
    if 0 <= index < ids.shape[0]:
        return ids[index]
    return -1


@inlined_kernel
def head_against(levels: Arr, books: Arr, instr: int, side: int) -> int:
    """The first order an incoming order on ``side`` would meet (the head of the best opposite level), or -1."""
    if not 0 <= instr < books.shape[0]:
        return -1
    if side == BUY:
        row, offset = books[instr, B_ASK_BASE] + books[instr, B_BEST_ASK], books[instr, B_BEST_ASK]
    else:
        row, offset = books[instr, B_BID_BASE] + books[instr, B_BEST_BID], books[instr, B_BEST_BID]
    if offset < 0 or not 0 <= row < levels.shape[0]:
        return -1
    return levels[row, L_HEAD]


@inlined_kernel
def account_rows(account: int, instr: int, cash: Arr, holdings: Arr, risk: Arr) -> None:
    """Prefetch the account's cash row and its holding and risk rows of the instrument."""
    if 0 <= account < cash.shape[0] and 0 <= instr < holdings.shape[1]:
        prefetch(cash, account, 0)
        prefetch(holdings, account, instr, 0)
        prefetch(risk, account, instr, 0)


@inlined_kernel
def level_of(levels: Arr, books: Arr, instr: int, side: int, price: int) -> None:
    """Prefetch the level row of ``price`` on ``side`` (nothing for a price off the ladder)."""
    offset = price - books[instr, B_LO]
    if books[instr, B_TICK] > 1:
        offset //= books[instr, B_TICK]
    row = offset + (books[instr, B_BID_BASE] if side == BUY else books[instr, B_ASK_BASE])
    if offset >= 0 and 0 <= row < levels.shape[0]:
        prefetch(levels, row, 0)
