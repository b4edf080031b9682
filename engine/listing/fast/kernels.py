"""The fast path's kernels: listing trading over arrays, a whole batch of commands per call.

``run_batch`` applies new orders, cancels, amends and mass cancels exactly as
``engine.listing.Listing`` does — the same checks in the same order, the same freezes, matching,
DvP moves, fees and events — and writes each event as one fixed-layout record
(``engine.listing.fast.layout``). The reference listing is the specification; the differential tests
hold the two to identical events and state hashes. The kernels read balances for their checks but
change them only through the ledger's numba form (``settlement.kernels``), as the reference book
does through its Python API.

Before each command the kernel makes sure the arrays have room for the worst case of that
command (an event and a trade per resting order); when they do not, it stops *between* commands,
says why in ``params[P_STOPPED]`` and returns how many it applied, and the boundary grows the
arrays and calls again from there. A command is therefore never half applied.
"""

from __future__ import annotations

import numpy as np

from engine.listing.fast import ladder
from engine.listing.fast.event_columns import (
    CANCELLED_ACCOUNT,
    CANCELLED_CANCELLED_QUANTITY,
    CANCELLED_INSTRUMENT,
    CANCELLED_ORDER_ID,
    CANCELLED_REASON,
    CANCELLED_RELEASED_CASH,
    CANCELLED_RELEASED_QUANTITY,
    CONVERTED_ACCOUNT,
    CONVERTED_INSTRUMENT,
    CONVERTED_ORDER_ID,
    CONVERTED_PRICE,
    CONVERTED_QUANTITY,
    CONVERTED_RELEASED_CASH,
    E_CMD,
    E_KIND,
    EV_CANCELLED,
    EV_CONVERTED,
    EV_TRADE,
    REJECT_CODE,
    REJECT_CONTEXT_1,
    REJECT_CONTEXT_2,
    REJECT_CONTEXT_3,
    TRADE_AGGRESSOR,
    TRADE_BUY_ACCOUNT,
    TRADE_BUY_FEE,
    TRADE_BUY_LEAVES,
    TRADE_BUY_ORDER_ID,
    TRADE_BUY_RELEASED_CASH,
    TRADE_INSTRUMENT,
    TRADE_PRICE,
    TRADE_QUANTITY,
    TRADE_SELL_ACCOUNT,
    TRADE_SELL_FEE,
    TRADE_SELL_LEAVES,
    TRADE_SELL_ORDER_ID,
    TRADE_TRADE_ID,
)
from engine.listing.fast.jit import inlined_kernel, kernel
from engine.listing.fast.layout import (
    B_ASK_BASE,
    B_BEST_ASK,
    B_BEST_BID,
    B_BID_BASE,
    B_HIGH,
    B_LAST,
    B_LO,
    B_LOW,
    B_OPEN,
    B_TICK,
    B_TRADES,
    B_TURNOVER,
    B_VOLUME,
    BUY,
    CANCEL_BOTH,
    CANCEL_INCOMING,
    FOK_UNFILLED,
    IOC_REMAINDER,
    L_HEAD,
    LIMIT,
    LIMIT_FOK,
    LIMIT_IOC,
    MARKET_FIVE_CANCEL,
    MARKET_FIVE_LIMIT,
    MARKET_REMAINDER,
    O_ACCT,
    O_FCASH,
    O_FILLED,
    O_FQTY,
    O_FREEZE,
    O_ID,
    O_INSTR,
    O_LEAVES,
    O_NEXT,
    O_PRICE,
    O_SIDE,
    O_STP,
    O_TVALUE,
    O_TYPE,
    P_FEE_ACCT,
    P_FREE_TOP,
    P_ID_BASE,
    P_LEVELS,
    P_LIVE,
    P_NEXT_TRADE,
    P_RATE,
    R_OPEN_BUYS,
    SELF_TRADE,
    SELL,
)
from settlement.kernels import fee_for, release_allowances, release_cash, settle_trade

FREED_TWICE = "an order slot freed when it was free already: the fast book is corrupt"

Arr = np.ndarray


@kernel
def cash_needed(orders: np.ndarray, slot: int, leaves: int, rate: int) -> int:
    """Cash a buy must keep frozen for ``leaves`` more tonnes: value at its freeze price plus fee."""
    if orders[slot, O_SIDE] == SELL:
        return 0
    value = orders[slot, O_FREEZE] * leaves
    traded = orders[slot, O_TVALUE]
    return value + fee_for(traded + value, rate) - fee_for(traded, rate)


@kernel
def emit(events: np.ndarray, count: np.ndarray, kind: int, cmd: int) -> int:
    """Start an event record; return its row. ``count[0]`` is the number of records written."""
    row = count[0]
    count[0] = row + 1
    events[row, E_KIND] = kind
    events[row, E_CMD] = cmd
    return row


@kernel
def reject(
    events: Arr, count: Arr, kind: int, cmd: int, code: int, context_1: int, context_2: int, context_3: int
) -> None:
    """A reject record (EV_ORDER_REJECTED or EV_REQUEST_REJECTED): its code and the integers of its context.

    ``engine.messages.reject.LISTING_CONTEXT`` says which integers each code carries, in order.
    """
    row = emit(events, count, kind, cmd)
    events[row, REJECT_CODE] = code
    events[row, REJECT_CONTEXT_1] = context_1
    events[row, REJECT_CONTEXT_2] = context_2
    events[row, REJECT_CONTEXT_3] = context_3


@kernel
def free_slot(orders: np.ndarray, ids: np.ndarray, free: np.ndarray, params: np.ndarray, slot: int) -> None:
    """The order is done: drop it from the id index and put its slot back on the free stack.

    A slot already free (or a full stack) is a defect that would hand one slot to two orders, or
    write past the stack's end: it raises instead (``FREED_TWICE``), and the command is blamed.
    """
    if orders[slot, O_ID] == 0 or params[P_FREE_TOP] >= free.shape[0]:
        raise RuntimeError(FREED_TWICE)
    index = orders[slot, O_ID] - params[P_ID_BASE]
    if 0 <= index < ids.shape[0] and ids[index] == slot:
        ids[index] = -1
    orders[slot, O_ID] = 0
    free[params[P_FREE_TOP]] = slot
    params[P_FREE_TOP] += 1


@kernel
def cancel(
    orders: Arr,
    cash: Arr,
    holdings: Arr,
    risk: Arr,
    events: Arr,
    params: Arr,
    count: Arr,
    cmd: int,
    slot: int,
    reason: int,
) -> None:
    """Release what the order still holds frozen and report it cancelled (it is off the book)."""
    account, instr = orders[slot, O_ACCT], orders[slot, O_INSTR]
    released_cash, released_quantity = orders[slot, O_FCASH], orders[slot, O_FQTY]
    if orders[slot, O_SIDE] == BUY:
        risk[account, instr, R_OPEN_BUYS] -= orders[slot, O_LEAVES]
    if released_cash:
        release_cash(cash, account, released_cash)
        orders[slot, O_FCASH] = 0
    if released_quantity:
        release_allowances(holdings, account, instr, released_quantity)
        orders[slot, O_FQTY] = 0
    row = emit(events, count, EV_CANCELLED, cmd)
    events[row, CANCELLED_ORDER_ID] = orders[slot, O_ID]
    events[row, CANCELLED_ACCOUNT] = account
    events[row, CANCELLED_INSTRUMENT] = instr
    events[row, CANCELLED_REASON] = reason
    events[row, CANCELLED_CANCELLED_QUANTITY] = orders[slot, O_LEAVES]
    events[row, CANCELLED_RELEASED_CASH] = released_cash
    events[row, CANCELLED_RELEASED_QUANTITY] = released_quantity
    orders[slot, O_LEAVES] = 0


@kernel
def fee_increment(orders: np.ndarray, slot: int, value: int, rate: int) -> int:
    before = orders[slot, O_TVALUE]
    orders[slot, O_TVALUE] = before + value
    return fee_for(before + value, rate) - fee_for(before, rate)


@inlined_kernel
def trade(
    orders: Arr,
    books: Arr,
    cash: Arr,
    holdings: Arr,
    risk: Arr,
    trades: Arr,
    trade_count: Arr,
    events: Arr,
    params: Arr,
    count: Arr,
    cmd: int,
    incoming: int,
    resting: int,
    quantity: int,
    price: int,
) -> None:
    """Settle one fill (both orders' leaves already reduced): DvP, fees, releases, figures, event."""
    instr = orders[incoming, O_INSTR]
    value = price * quantity
    rate = params[P_RATE]
    orders[incoming, O_FILLED] += quantity
    orders[resting, O_FILLED] += quantity
    if orders[incoming, O_TYPE] >= MARKET_FIVE_CANCEL:
        orders[incoming, O_PRICE] = price  # the last trade price, kept for a rest-to-limit conversion
    if orders[incoming, O_SIDE] == BUY:
        buy, sell = incoming, resting
    else:
        buy, sell = resting, incoming
    buyer, seller = orders[buy, O_ACCT], orders[sell, O_ACCT]
    buy_fee = fee_increment(orders, buy, value, rate)
    sell_fee = fee_increment(orders, sell, value, rate)
    trade_id = params[P_NEXT_TRADE]
    settle_trade(
        cash, holdings, trades, trade_count, params[P_FEE_ACCT], trade_id, buyer, seller, instr, price, quantity,
        buy_fee, sell_fee,
    )  # fmt: skip
    risk[buyer, instr, R_OPEN_BUYS] -= quantity
    orders[buy, O_FCASH] -= value + buy_fee
    orders[sell, O_FQTY] -= quantity
    buy_leaves = orders[buy, O_LEAVES]
    released = orders[buy, O_FCASH] - cash_needed(orders, buy, buy_leaves, rate)
    if released:
        release_cash(cash, buyer, released)
        orders[buy, O_FCASH] -= released
    if books[instr, B_TRADES] == 0:
        books[instr, B_OPEN] = price
        books[instr, B_HIGH] = price
        books[instr, B_LOW] = price
    else:
        books[instr, B_HIGH] = max(books[instr, B_HIGH], price)
        books[instr, B_LOW] = min(books[instr, B_LOW], price)
    books[instr, B_LAST] = price
    books[instr, B_VOLUME] += quantity
    books[instr, B_TURNOVER] += value
    books[instr, B_TRADES] += 1
    row = emit(events, count, EV_TRADE, cmd)
    events[row, TRADE_TRADE_ID] = trade_id
    events[row, TRADE_INSTRUMENT] = instr
    events[row, TRADE_PRICE] = price
    events[row, TRADE_QUANTITY] = quantity
    events[row, TRADE_AGGRESSOR] = orders[incoming, O_SIDE]
    events[row, TRADE_BUY_ORDER_ID] = orders[buy, O_ID]
    events[row, TRADE_SELL_ORDER_ID] = orders[sell, O_ID]
    events[row, TRADE_BUY_ACCOUNT] = buyer
    events[row, TRADE_SELL_ACCOUNT] = seller
    events[row, TRADE_BUY_FEE] = buy_fee
    events[row, TRADE_SELL_FEE] = sell_fee
    events[row, TRADE_BUY_LEAVES] = buy_leaves
    events[row, TRADE_SELL_LEAVES] = orders[sell, O_LEAVES]
    events[row, TRADE_BUY_RELEASED_CASH] = released
    params[P_NEXT_TRADE] = trade_id + 1


@inlined_kernel
def match(
    orders: Arr,
    levels: Arr,
    books: Arr,
    cash: Arr,
    holdings: Arr,
    risk: Arr,
    ids: Arr,
    free: Arr,
    trades: Arr,
    trade_count: Arr,
    events: Arr,
    params: Arr,
    count: Arr,
    cmd: int,
    slot: int,
    limit: int,
    max_levels: int,
) -> bool:
    """Match the incoming order against the opposite side; True when self-trade prevention stopped it.

    ``ReferenceBook.match`` and ``Listing._settle`` in one pass: best price first, FIFO within a
    price, a trade at the resting price, each fill settled as it happens.
    """
    instr = orders[slot, O_INSTR]
    side = orders[slot, O_SIDE]
    account, stp = orders[slot, O_ACCT], orders[slot, O_STP]
    lo, tick = books[instr, B_LO], books[instr, B_TICK]
    reached = 0
    # Each resting order it meets is taken off or ends the match, so a sound book lets it meet at most
    # the orders resting now; ``room`` made space for that many records. More means a level's list
    # has a cycle (a defect): it raises, and the command is blamed, instead of looping on and writing
    # past the records' end.
    budget, met = params[P_LIVE], 0
    while orders[slot, O_LEAVES] > 0:
        if side == BUY:
            offset, base = books[instr, B_BEST_ASK], books[instr, B_ASK_BASE]
        else:
            offset, base = books[instr, B_BEST_BID], books[instr, B_BID_BASE]
        if offset < 0:
            break
        price = lo + offset * tick
        if limit >= 0 and not ladder.acceptable(side, price, limit):
            break
        if 0 <= max_levels <= reached:
            break
        reached += 1
        resting = levels[base + offset, L_HEAD]
        while resting >= 0 and orders[slot, O_LEAVES] > 0:
            met += 1
            if met > budget:
                raise RuntimeError(ladder.CORRUPT_LEVEL)
            following = orders[resting, O_NEXT]
            if orders[resting, O_ACCT] == account:
                if stp == CANCEL_INCOMING:
                    return True
                ladder.unlink(orders, levels, books, instr, resting)
                params[P_LIVE] -= 1
                cancel(orders, cash, holdings, risk, events, params, count, cmd, resting, SELF_TRADE)
                free_slot(orders, ids, free, params, resting)
                if stp == CANCEL_BOTH:
                    return True
            else:
                quantity = min(orders[slot, O_LEAVES], orders[resting, O_LEAVES])
                orders[slot, O_LEAVES] -= quantity
                done = quantity == orders[resting, O_LEAVES]
                if done:
                    ladder.unlink(orders, levels, books, instr, resting)  # takes its leaves off the level
                    params[P_LIVE] -= 1
                    orders[resting, O_LEAVES] = 0
                else:
                    ladder.reduce(orders, levels, books, instr, resting, orders[resting, O_LEAVES] - quantity)
                trade(
                    orders,
                    books,
                    cash,
                    holdings,
                    risk,
                    trades,
                    trade_count,
                    events,
                    params,
                    count,
                    cmd,
                    slot,
                    resting,
                    quantity,
                    price,
                )
                if done:
                    free_slot(orders, ids, free, params, resting)
            resting = following
    return False


@inlined_kernel
def rest(orders: Arr, levels: Arr, books: Arr, params: Arr, slot: int) -> None:
    ladder.add(orders, levels, books, orders[slot, O_INSTR], slot)
    params[P_LIVE] += 1


@inlined_kernel
def execute(
    orders: Arr,
    levels: Arr,
    books: Arr,
    cash: Arr,
    holdings: Arr,
    risk: Arr,
    ids: Arr,
    free: Arr,
    trades: Arr,
    trade_count: Arr,
    events: Arr,
    params: Arr,
    count: Arr,
    cmd: int,
    slot: int,
) -> None:
    """Match an accepted (or re-priced) order, then rest, convert or cancel what is left."""
    kind = orders[slot, O_TYPE]
    instr = orders[slot, O_INSTR]
    market = kind >= MARKET_FIVE_CANCEL
    limit = -1 if market else orders[slot, O_PRICE]
    max_levels = params[P_LEVELS] if market else -1
    if (
        kind == LIMIT_FOK
        and ladder.fillable(orders, levels, books, instr, slot, limit, max_levels) < orders[slot, O_LEAVES]
    ):
        cancel(orders, cash, holdings, risk, events, params, count, cmd, slot, FOK_UNFILLED)
        free_slot(orders, ids, free, params, slot)
        return
    stopped = match(
        orders,
        levels,
        books,
        cash,
        holdings,
        risk,
        ids,
        free,
        trades,
        trade_count,
        events,
        params,
        count,
        cmd,
        slot,
        limit,
        max_levels,
    )
    if orders[slot, O_LEAVES] == 0:
        free_slot(orders, ids, free, params, slot)
        return
    if stopped:
        reason = SELF_TRADE
    elif kind == LIMIT:
        rest(orders, levels, books, params, slot)
        return
    elif kind == MARKET_FIVE_LIMIT:
        price = (
            orders[slot, O_PRICE] if orders[slot, O_FILLED] else ladder.best_price(books, instr, orders[slot, O_SIDE])
        )
        if price >= 0:
            convert(orders, levels, books, cash, events, params, count, cmd, slot, price)
            return
        reason = MARKET_REMAINDER
    elif kind == LIMIT_IOC:
        reason = IOC_REMAINDER
    elif kind == LIMIT_FOK:
        reason = FOK_UNFILLED
    else:
        reason = MARKET_REMAINDER
    cancel(orders, cash, holdings, risk, events, params, count, cmd, slot, reason)
    free_slot(orders, ids, free, params, slot)


@kernel
def convert(
    orders: Arr,
    levels: Arr,
    books: Arr,
    cash: Arr,
    events: Arr,
    params: Arr,
    count: Arr,
    cmd: int,
    slot: int,
    price: int,
) -> None:
    """A best-five rest-to-limit order's remainder rests as a limit order at ``price``."""
    orders[slot, O_PRICE] = price
    orders[slot, O_TYPE] = LIMIT
    released = 0
    if orders[slot, O_SIDE] == BUY:
        orders[slot, O_FREEZE] = price
        released = orders[slot, O_FCASH] - cash_needed(orders, slot, orders[slot, O_LEAVES], params[P_RATE])
        if released:
            release_cash(cash, orders[slot, O_ACCT], released)
            orders[slot, O_FCASH] -= released
    rest(orders, levels, books, params, slot)
    row = emit(events, count, EV_CONVERTED, cmd)
    events[row, CONVERTED_ORDER_ID] = orders[slot, O_ID]
    events[row, CONVERTED_ACCOUNT] = orders[slot, O_ACCT]
    events[row, CONVERTED_INSTRUMENT] = orders[slot, O_INSTR]
    events[row, CONVERTED_PRICE] = price
    events[row, CONVERTED_QUANTITY] = orders[slot, O_LEAVES]
    events[row, CONVERTED_RELEASED_CASH] = released
