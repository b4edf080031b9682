"""The fast path's command kernels and ``run_batch``, the one call that applies a batch.

Each function mirrors its counterpart in ``engine.listing.Listing`` step for step (the checks in
the same order, so the first failing check decides the reject code, as in the reference).
"""

from __future__ import annotations

from engine.listing.fast import ladder
from engine.listing.fast.ahead import look_ahead
from engine.listing.fast.checks import (
    AMEND_NO_CHANGE,
    DUPLICATE_CLIENT_ORDER_ID,
    INSUFFICIENT_FUNDS,
    INSUFFICIENT_HOLDINGS,
    INVALID_CLIENT_ORDER_ID,
    INVALID_PRICE,
    UNKNOWN_ACCOUNT,
    UNKNOWN_INSTRUMENT,
    UNKNOWN_ORDER,
    check_open,
    check_position,
    check_price,
    check_quantity,
)
from engine.listing.fast.event_columns import (
    ACCEPTED_ACCOUNT,
    ACCEPTED_CLIENT_ORDER_ID,
    ACCEPTED_FROZEN_CASH,
    ACCEPTED_FROZEN_QUANTITY,
    ACCEPTED_INSTRUMENT,
    ACCEPTED_ORDER_ID,
    ACCEPTED_ORDER_TYPE,
    ACCEPTED_PRICE,
    ACCEPTED_QUANTITY,
    ACCEPTED_SIDE,
    ALL_CANCELLED_CANCELLED,
    ALL_CANCELLED_REASON,
    AMENDED_ACCOUNT,
    AMENDED_FROZEN_CASH_CHANGE,
    AMENDED_FROZEN_QUANTITY_CHANGE,
    AMENDED_INSTRUMENT,
    AMENDED_ORDER_ID,
    AMENDED_PRICE,
    AMENDED_PRIORITY_KEPT,
    AMENDED_QUANTITY,
    EV_ACCEPTED,
    EV_ALL_CANCELLED,
    EV_AMENDED,
    EV_ORDER_REJECTED,
    EV_REQUEST_REJECTED,
)
from engine.listing.fast.jit import inlined_kernel, kernel
from engine.listing.fast.kernels import (
    Arr,
    cancel,
    cash_needed,
    emit,
    execute,
    free_slot,
    reject,
)
from engine.listing.fast.layout import (
    ALL_INSTRUMENTS,
    B_ASK_BASE,
    B_BEST_ASK,
    B_BEST_BID,
    B_BID_BASE,
    B_UPPER,
    BUY,
    CMD_AMEND,
    CMD_CANCEL,
    CMD_CANCEL_ALL,
    CMD_NEW,
    CMD_PYTHON,
    DISCONNECT,
    EXPIRED,
    L_HEAD,
    MARKET_FIVE_CANCEL,
    O_ACCT,
    O_COID,
    O_FCASH,
    O_FILLED,
    O_FQTY,
    O_FREEZE,
    O_ID,
    O_INSTR,
    O_LEAVES,
    O_PRICE,
    O_SIDE,
    O_STP,
    O_TVALUE,
    O_TYPE,
    P_COID_MAX,
    P_FREE_TOP,
    P_ID_BASE,
    P_IDS_PER_SLOT,
    P_LIVE,
    P_LOOK_AHEAD,
    P_NEXT_ORDER,
    P_RATE,
    P_STOPPED,
    P_TRADE_ROWS,
    R_OPEN_BUYS,
    REASON_1,
    REASON_2,
    REASON_3,
    REASON_CODE,
    SELL,
    STOP_EVENTS,
    STOP_IDS,
    STOP_PYTHON,
    STOP_SLOTS,
    STOP_TRADES,
    USER,
    X_ACCT,
    X_COID,
    X_COID_LEN,
    X_FLAG,
    X_INSTR,
    X_KIND,
    X_ORDER_ID,
    X_PRICE,
    X_QTY,
    X_SIDE,
    X_STP,
    X_TYPE,
)
from settlement.arrays import H_AVAIL, K_AVAIL
from settlement.kernels import fee_for, freeze_allowances, freeze_cash, release_allowances, release_cash


@inlined_kernel
def new_order(
    cmds: Arr, i: int, orders: Arr, levels: Arr, books: Arr, cash: Arr, holdings: Arr, risk: Arr, account_codes: Arr,
    ids: Arr, free: Arr, coids: Arr, trades: Arr, trade_count: Arr, events: Arr, params: Arr, count: Arr, reason: Arr,
) -> None:  # fmt: skip
    account, instr = cmds[X_ACCT, i], cmds[X_INSTR, i]
    freeze_price = needed = 0
    side, kind = cmds[X_SIDE, i], cmds[X_TYPE, i]
    quantity, price = cmds[X_QTY, i], cmds[X_PRICE, i]
    market = kind >= MARKET_FIVE_CANCEL
    clear(reason)
    if account < 0:
        reason[REASON_CODE] = UNKNOWN_ACCOUNT
    elif account_codes[account]:
        reason[REASON_CODE] = account_codes[account]  # prohibited, closed, or a kind that cannot trade
    elif instr < 0:
        reason[REASON_CODE] = UNKNOWN_INSTRUMENT
    elif cmds[X_COID_LEN, i] == 0 or cmds[X_COID_LEN, i] > params[P_COID_MAX]:
        reason[REASON_CODE], reason[REASON_1], reason[REASON_2] = (
            INVALID_CLIENT_ORDER_ID,
            cmds[X_COID_LEN, i],
            params[P_COID_MAX],
        )
    elif coids[cmds[X_COID, i]]:
        reason[REASON_CODE] = DUPLICATE_CLIENT_ORDER_ID
    elif check_open(books, params, instr, reason) and check_quantity(books, params, instr, quantity, quantity, reason):
        if market:
            if price != 0:
                reason[REASON_CODE], reason[REASON_1], reason[REASON_2] = INVALID_PRICE, price, kind
        else:
            check_price(books, instr, price, reason)
    if reason[REASON_CODE] == 0:
        # the freezes (Listing._freeze)
        if side == BUY:
            if check_position(holdings, risk, account, instr, quantity, reason):
                freeze_price = books[instr, B_UPPER] if market else price
                value = freeze_price * quantity
                needed = value + fee_for(value, params[P_RATE])
                if freeze_cash(cash, account, needed):
                    risk[account, instr, R_OPEN_BUYS] += quantity
                else:
                    reason[REASON_CODE], reason[REASON_1], reason[REASON_2] = (
                        INSUFFICIENT_FUNDS,
                        needed,
                        cash[account, K_AVAIL],
                    )
        elif not freeze_allowances(holdings, account, instr, quantity):
            reason[REASON_CODE], reason[REASON_1], reason[REASON_2] = (
                INSUFFICIENT_HOLDINGS,
                quantity,
                holdings[account, instr, H_AVAIL],
            )
    if reason[REASON_CODE]:
        reject(
            events,
            count,
            EV_ORDER_REJECTED,
            i,
            reason[REASON_CODE],
            reason[REASON_1],
            reason[REASON_2],
            reason[REASON_3],
        )
        return
    top = params[P_FREE_TOP] - 1
    params[P_FREE_TOP] = top
    slot = free[top]
    order_id = params[P_NEXT_ORDER]
    params[P_NEXT_ORDER] = order_id + 1
    ids[order_id - params[P_ID_BASE]] = slot
    coids[cmds[X_COID, i]] = 1
    orders[slot, O_ID] = order_id
    orders[slot, O_ACCT] = account
    orders[slot, O_INSTR] = instr
    orders[slot, O_SIDE] = side
    orders[slot, O_TYPE] = kind
    orders[slot, O_PRICE] = price
    orders[slot, O_LEAVES] = quantity
    orders[slot, O_STP] = cmds[X_STP, i]
    orders[slot, O_FREEZE] = freeze_price if side == BUY else 0
    orders[slot, O_FILLED] = 0
    orders[slot, O_FCASH] = needed if side == BUY else 0
    orders[slot, O_FQTY] = 0 if side == BUY else quantity
    orders[slot, O_TVALUE] = 0
    orders[slot, O_COID] = cmds[X_COID, i]
    row = emit(events, count, EV_ACCEPTED, i)
    events[row, ACCEPTED_ORDER_ID] = order_id
    events[row, ACCEPTED_ACCOUNT] = account
    events[row, ACCEPTED_INSTRUMENT] = instr
    events[row, ACCEPTED_CLIENT_ORDER_ID] = cmds[X_COID, i]
    events[row, ACCEPTED_SIDE] = side
    events[row, ACCEPTED_ORDER_TYPE] = kind
    events[row, ACCEPTED_PRICE] = price
    events[row, ACCEPTED_QUANTITY] = quantity
    events[row, ACCEPTED_FROZEN_CASH] = orders[slot, O_FCASH]
    events[row, ACCEPTED_FROZEN_QUANTITY] = orders[slot, O_FQTY]
    execute(orders, levels, books, cash, holdings, risk, ids, free, trades, trade_count, events, params, count, i, slot)


@kernel
def clear(reason: Arr) -> None:
    """Zero the four integers of a reject's scratch (``reason[:] = 0`` compiles to a call to memset)."""
    reason[REASON_CODE] = 0
    reason[REASON_1] = 0
    reason[REASON_2] = 0
    reason[REASON_3] = 0


@kernel
def find(orders: Arr, ids: Arr, params: Arr, order_id: int, account: int) -> int:
    """The slot of the account's open order ``order_id``, or -1 (another account's order is unknown too)."""
    index = order_id - params[P_ID_BASE]
    if index < 0 or order_id >= params[P_NEXT_ORDER] or index >= ids.shape[0]:
        return -1
    slot = ids[index]
    if slot < 0 or orders[slot, O_ACCT] != account:
        return -1
    return slot


@inlined_kernel
def take_off(orders: Arr, levels: Arr, books: Arr, params: Arr, slot: int) -> None:
    ladder.unlink(orders, levels, books, orders[slot, O_INSTR], slot)
    params[P_LIVE] -= 1


@inlined_kernel
def cancel_order(
    cmds: Arr, i: int, orders: Arr, levels: Arr, books: Arr, cash: Arr, holdings: Arr, risk: Arr, ids: Arr,
    free: Arr, events: Arr, params: Arr, count: Arr,
) -> None:  # fmt: skip
    # Cancels are accepted in every session and while halted (docs/RULES_COVERAGE.md "Listing trading").
    slot = find(orders, ids, params, cmds[X_ORDER_ID, i], cmds[X_ACCT, i])
    if slot < 0:
        reject(events, count, EV_REQUEST_REJECTED, i, UNKNOWN_ORDER, 0, 0, 0)
        return
    take_off(orders, levels, books, params, slot)
    cancel(orders, cash, holdings, risk, events, params, count, i, slot, USER)
    free_slot(orders, ids, free, params, slot)


@kernel
def cancel_all(
    i: int, account: int, named: int, lost_session: int, orders: Arr, levels: Arr, books: Arr, cash: Arr,
    holdings: Arr, risk: Arr, ids: Arr, free: Arr, picked: Arr, events: Arr, params: Arr, count: Arr,
) -> None:  # fmt: skip
    """Mass cancel: every open order of the account (on one instrument, or all), instrument by
    instrument, oldest first in each, as the reference does.

    One walk (``ladder.pick``: of the id index, or of the order slots on a day of many orders) picks
    the account's orders into ``picked`` (scratch, a slot per order slot), oldest first; they are then
    cancelled instrument by instrument. Walking the index once per instrument cost a mass cancel of
    every instrument 15-20 ms with 40 instruments, which a member could ask for hundreds of times a
    second (bench/RESULTS.md, issue 19, ninth session).

    It takes the command's fields rather than the batch, like ``amend_order``: compiled once for
    either layout of the batch (numba specialises a kernel on each array layout it is passed).
    """
    if account < 0:
        reject(events, count, EV_REQUEST_REJECTED, i, UNKNOWN_ACCOUNT, 0, 0, 0)
        return
    if named == -1:
        reject(events, count, EV_REQUEST_REJECTED, i, UNKNOWN_INSTRUMENT, 0, 0, 0)
        return
    reason = DISCONNECT if lost_session else USER
    issued = params[P_NEXT_ORDER] - params[P_ID_BASE]
    per_slot = params[P_IDS_PER_SLOT]
    found = ladder.pick(orders, ids, issued, per_slot, account, named, picked[:0], picked[:0], picked)  # oldest first
    for instr in range(books.shape[0]):
        if named != ALL_INSTRUMENTS and instr != named:
            continue
        for j in range(found):
            slot = picked[j]
            if orders[slot, O_INSTR] == instr:
                take_off(orders, levels, books, params, slot)
                cancel(orders, cash, holdings, risk, events, params, count, i, slot, reason)
                free_slot(orders, ids, free, params, slot)
    cancelled = found
    row = emit(events, count, EV_ALL_CANCELLED, i)  # its account and instrument: the command's
    events[row, ALL_CANCELLED_CANCELLED] = cancelled
    events[row, ALL_CANCELLED_REASON] = reason


@kernel
def amend_order(
    i: int, order_id: int, sender: int, price: int, quantity: int, orders: Arr, levels: Arr, books: Arr, cash: Arr,
    holdings: Arr, risk: Arr, ids: Arr, free: Arr, trades: Arr, trade_count: Arr, events: Arr, params: Arr, count: Arr,
    reason: Arr,
) -> None:  # fmt: skip
    slot = find(orders, ids, params, order_id, sender)
    if slot < 0:
        reject(events, count, EV_REQUEST_REJECTED, i, UNKNOWN_ORDER, 0, 0, 0)
        return
    account, instr, leaves = orders[slot, O_ACCT], orders[slot, O_INSTR], orders[slot, O_LEAVES]
    clear(reason)
    if (
        check_open(books, params, instr, reason)
        and check_quantity(books, params, instr, quantity, orders[slot, O_FILLED] + quantity, reason)
        and check_price(books, instr, price, reason)
        and price == orders[slot, O_PRICE]
        and quantity == leaves
    ):
        reason[REASON_CODE], reason[REASON_1], reason[REASON_2] = AMEND_NO_CHANGE, price, quantity
    cash_before, quantity_before = orders[slot, O_FCASH], orders[slot, O_FQTY]
    if reason[REASON_CODE] == 0:
        refreeze(orders, cash, holdings, risk, params, slot, price, quantity, reason)
    if reason[REASON_CODE]:
        reject(
            events,
            count,
            EV_REQUEST_REJECTED,
            i,
            reason[REASON_CODE],
            reason[REASON_1],
            reason[REASON_2],
            reason[REASON_3],
        )
        return
    kept = price == orders[slot, O_PRICE] and quantity < leaves
    if kept:
        ladder.reduce(orders, levels, books, instr, slot, quantity)
    else:
        # Losing priority: off the book and back in as an incoming limit order.
        take_off(orders, levels, books, params, slot)
        orders[slot, O_PRICE] = price
        orders[slot, O_LEAVES] = quantity
    row = emit(events, count, EV_AMENDED, i)
    events[row, AMENDED_ORDER_ID] = order_id
    events[row, AMENDED_ACCOUNT] = account
    events[row, AMENDED_INSTRUMENT] = instr
    events[row, AMENDED_PRICE] = orders[slot, O_PRICE]
    events[row, AMENDED_QUANTITY] = orders[slot, O_LEAVES]
    events[row, AMENDED_PRIORITY_KEPT] = 1 if kept else 0
    events[row, AMENDED_FROZEN_CASH_CHANGE] = orders[slot, O_FCASH] - cash_before
    events[row, AMENDED_FROZEN_QUANTITY_CHANGE] = orders[slot, O_FQTY] - quantity_before
    if not kept:
        execute(
            orders, levels, books, cash, holdings, risk, ids, free, trades, trade_count, events, params, count, i, slot
        )  # fmt: skip


@kernel
def refreeze(
    orders: Arr, cash: Arr, holdings: Arr, risk: Arr, params: Arr, slot: int, price: int, quantity: int, reason: Arr
) -> None:
    """Adjust the order's freeze to the amended price and quantity; fill ``reason`` if funds fall short."""
    account, instr = orders[slot, O_ACCT], orders[slot, O_INSTR]
    if orders[slot, O_SIDE] != BUY:
        extra = quantity - orders[slot, O_FQTY]
        if extra > 0 and not freeze_allowances(holdings, account, instr, extra):
            reason[REASON_CODE], reason[REASON_1], reason[REASON_2] = (
                INSUFFICIENT_HOLDINGS,
                extra,
                holdings[account, instr, H_AVAIL],
            )
            return
        if extra < 0:
            release_allowances(holdings, account, instr, -extra)
        orders[slot, O_FQTY] = quantity
        return
    leaves = orders[slot, O_LEAVES]
    if quantity > leaves and not check_position(holdings, risk, account, instr, quantity - leaves, reason):
        return
    old_freeze_price = orders[slot, O_FREEZE]
    orders[slot, O_FREEZE] = price
    extra = cash_needed(orders, slot, quantity, params[P_RATE]) - orders[slot, O_FCASH]
    if extra > 0 and not freeze_cash(cash, account, extra):
        orders[slot, O_FREEZE] = old_freeze_price
        reason[REASON_CODE], reason[REASON_1], reason[REASON_2] = INSUFFICIENT_FUNDS, extra, cash[account, K_AVAIL]
        return
    if extra < 0:
        release_cash(cash, account, -extra)
    orders[slot, O_FCASH] += extra
    risk[account, instr, R_OPEN_BUYS] += quantity - leaves


@kernel
def room(cmds: Arr, i: int, ids: Arr, trades: Arr, trade_count: Arr, events: Arr, params: Arr, count: Arr) -> int:
    """0 when the arrays can take command ``i`` in the worst case, else the STOP_* reason."""
    live = params[P_LIVE]
    if count[0] + live + 4 > events.shape[0]:
        return STOP_EVENTS
    if trade_count[0] + live + 1 > trades.shape[0]:
        return STOP_TRADES
    if cmds[X_KIND, i] == CMD_NEW:
        if params[P_FREE_TOP] < 1:
            return STOP_SLOTS
        if params[P_NEXT_ORDER] - params[P_ID_BASE] >= ids.shape[0]:
            return STOP_IDS
    return 0


@kernel
def run_batch(
    cmds: Arr, start: int, orders: Arr, levels: Arr, books: Arr, cash: Arr, holdings: Arr, risk: Arr,
    account_codes: Arr, ids: Arr, free: Arr, picked: Arr, coids: Arr, trades: Arr, events: Arr, params: Arr,
    count: Arr, first_event: Arr, reason: Arr,
) -> int:  # fmt: skip
    """Apply commands ``start`` on; return the index of the first command not applied.

    ``cmds`` is the batch transposed, one row per field (``cmds[X_KIND, i]``): the boundary keeps
    a Fortran-order (commands, fields) batch and passes its ``.T``, a C-order view, so that every
    batch, one command or many, has the layout numba compiled ``run_batch`` for (a one-row
    Fortran-order array counts as C-order and would cost a second compile of ~11 s).

    ``first_event[i]`` is set to the first event record of command ``i`` (``count[0]`` holds the
    records written so far; ``reason`` is four integers of scratch, ``picked`` one per order slot
    for a mass cancel). Stops early, between two
    commands, when the arrays lack room or at a command the kernels do not apply (``CMD_PYTHON``),
    saying which in ``params[P_STOPPED]``.

    The ledger's count of trade-log rows is ``params[P_TRADE_ROWS]``, handed to the ledger's moves as a
    one-element view of ``params`` (``settlement.arrays.LedgerArrays.keep_trade_count_in`` says why).
    """
    trade_count = params[P_TRADE_ROWS : P_TRADE_ROWS + 1]
    params[P_STOPPED] = 0
    n = cmds.shape[1]
    for i in range(start, n):
        first_event[i] = count[0]
        kind = cmds[X_KIND, i]
        if kind == CMD_PYTHON:
            params[P_STOPPED] = STOP_PYTHON
            return i
        stop = room(cmds, i, ids, trades, trade_count, events, params, count)
        if stop:
            params[P_STOPPED] = stop
            return i
        if params[P_LIVE] >= params[P_LOOK_AHEAD]:
            look_ahead(cmds, i, n, orders, levels, books, cash, holdings, risk, ids, params)
        if kind == CMD_NEW:
            new_order(
                cmds, i, orders, levels, books, cash, holdings, risk, account_codes, ids, free, coids, trades,
                trade_count, events, params, count, reason,
            )  # fmt: skip
        elif kind == CMD_CANCEL:
            cancel_order(cmds, i, orders, levels, books, cash, holdings, risk, ids, free, events, params, count)
        elif kind == CMD_AMEND:
            amend_order(
                i, cmds[X_ORDER_ID, i], cmds[X_ACCT, i], cmds[X_PRICE, i], cmds[X_QTY, i], orders, levels, books,
                cash, holdings, risk, ids, free, trades, trade_count, events, params, count, reason,
            )  # fmt: skip
        elif kind == CMD_CANCEL_ALL:
            cancel_all(
                i, cmds[X_ACCT, i], cmds[X_INSTR, i], cmds[X_FLAG, i], orders, levels, books, cash, holdings, risk,
                ids, free, picked, events, params, count,
            )  # fmt: skip
    first_event[n] = count[0]
    return n


@kernel
def expire_all(
    orders: Arr, levels: Arr, books: Arr, cash: Arr, holdings: Arr, risk: Arr, ids: Arr, free: Arr, events: Arr,
    params: Arr, count: Arr,
) -> None:  # fmt: skip
    """End of day: every resting order expires, instrument by instrument in canonical order.

    The books are empty afterwards, so the id index starts again at the next order id.
    """
    for instr in range(books.shape[0]):
        for side in (BUY, SELL):
            best = B_BEST_BID if side == BUY else B_BEST_ASK
            base = books[instr, B_BID_BASE] if side == BUY else books[instr, B_ASK_BASE]
            while books[instr, best] >= 0:  # the head of the best level: canonical order
                slot = levels[base + books[instr, best], L_HEAD]
                take_off(orders, levels, books, params, slot)
                cancel(orders, cash, holdings, risk, events, params, count, -1, slot, EXPIRED)
                free_slot(orders, ids, free, params, slot)
    params[P_ID_BASE] = params[P_NEXT_ORDER]
    ids[:] = -1
