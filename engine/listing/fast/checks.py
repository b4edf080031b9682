"""The checks a new order or an amend passes before it may change anything, over the arrays.

Each mirrors one of ``engine.listing.reference.Listing``'s (named in its docstring): it returns True
when the command passes, and otherwise fills ``reason`` (code and up to three context values, the
``REASON_*`` columns) and returns False. ``engine.listing.fast.commands`` calls them in the
reference's order, so that a command failing two checks is rejected for the same one on both books.
"""

from __future__ import annotations

import numpy as np

from engine.listing.fast.jit import inlined_kernel, kernel
from engine.listing.fast.layout import (
    B_HALTED,
    B_LOT,
    B_LOWER,
    B_TICK,
    B_UPPER,
    P_MARKET_HALTED,
    P_MAX_Q,
    P_MIN_Q,
    P_OPEN,
    P_SESSION,
    R_LIMIT,
    R_OPEN_BUYS,
    REASON_1,
    REASON_2,
    REASON_3,
    REASON_CODE,
)
from engine.messages.reject import Reject
from settlement.arrays import H_AVAIL, H_COMPLIANCE, H_FROZEN, H_RESTRICTED

# Reject codes as plain integers: numba freezes module-level ints into the compiled code.
UNKNOWN_ACCOUNT = int(Reject.UNKNOWN_ACCOUNT)
UNKNOWN_INSTRUMENT = int(Reject.UNKNOWN_INSTRUMENT)
MARKET_CLOSED = int(Reject.MARKET_CLOSED)
MARKET_HALTED = int(Reject.MARKET_HALTED)
INSTRUMENT_HALTED = int(Reject.INSTRUMENT_HALTED)
PRICE_OUT_OF_BAND = int(Reject.PRICE_OUT_OF_BAND)
INVALID_TICK = int(Reject.INVALID_TICK)
INVALID_LOT = int(Reject.INVALID_LOT)
QUANTITY_OUT_OF_RANGE = int(Reject.QUANTITY_OUT_OF_RANGE)
INVALID_PRICE = int(Reject.INVALID_PRICE)
DUPLICATE_CLIENT_ORDER_ID = int(Reject.DUPLICATE_CLIENT_ORDER_ID)
INVALID_CLIENT_ORDER_ID = int(Reject.INVALID_CLIENT_ORDER_ID)
INSUFFICIENT_FUNDS = int(Reject.INSUFFICIENT_FUNDS)
INSUFFICIENT_HOLDINGS = int(Reject.INSUFFICIENT_HOLDINGS)
POSITION_LIMIT = int(Reject.POSITION_LIMIT)
UNKNOWN_ORDER = int(Reject.UNKNOWN_ORDER)
AMEND_NO_CHANGE = int(Reject.AMEND_NO_CHANGE)

Arr = np.ndarray


@kernel
def check_open(books: np.ndarray, params: np.ndarray, instr: int, reason: np.ndarray) -> bool:
    """Listing._check_trading_open: fills ``reason`` (code, c1, c2, c3) and returns False if closed."""
    if not params[P_OPEN]:
        reason[REASON_CODE], reason[REASON_1] = MARKET_CLOSED, params[P_SESSION]
        return False
    if params[P_MARKET_HALTED]:
        reason[REASON_CODE] = MARKET_HALTED
        return False
    if books[instr, B_HALTED]:
        reason[REASON_CODE], reason[REASON_1] = INSTRUMENT_HALTED, instr
        return False
    return True


@kernel
def check_quantity(books: Arr, params: Arr, instr: int, quantity: int, total: int, reason: Arr) -> bool:
    if not params[P_MIN_Q] <= quantity <= params[P_MAX_Q] or total > params[P_MAX_Q]:
        reason[REASON_CODE], reason[REASON_1], reason[REASON_2], reason[REASON_3] = (
            QUANTITY_OUT_OF_RANGE,
            total,
            params[P_MIN_Q],
            params[P_MAX_Q],
        )
        return False
    lot = books[instr, B_LOT]
    if lot != 1 and quantity % lot:  # a lot of one needs no division
        reason[REASON_CODE], reason[REASON_1], reason[REASON_2] = INVALID_LOT, quantity, books[instr, B_LOT]
        return False
    return True


@inlined_kernel
def check_price(books: np.ndarray, instr: int, price: int, reason: np.ndarray) -> bool:
    if price <= 0:
        reason[REASON_CODE], reason[REASON_1] = INVALID_PRICE, price
        return False
    tick = books[instr, B_TICK]
    if tick != 1 and price % tick:
        reason[REASON_CODE], reason[REASON_1], reason[REASON_2] = INVALID_TICK, price, books[instr, B_TICK]
        return False
    if not books[instr, B_LOWER] <= price <= books[instr, B_UPPER]:
        reason[REASON_CODE], reason[REASON_1], reason[REASON_2], reason[REASON_3] = (
            PRICE_OUT_OF_BAND,
            price,
            books[instr, B_LOWER],
            books[instr, B_UPPER],
        )
        return False
    return True


@kernel
def check_position(holdings: Arr, risk: Arr, account: int, instr: int, quantity: int, reason: Arr) -> bool:
    """engine.risk.PositionLimits.check_buy: a buy may not take the position over the limit."""
    limit = risk[account, instr, R_LIMIT]
    if limit < 0:
        return True
    position = (
        holdings[account, instr, H_AVAIL]
        + holdings[account, instr, H_FROZEN]
        + holdings[account, instr, H_RESTRICTED]
        + holdings[account, instr, H_COMPLIANCE]
        + risk[account, instr, R_OPEN_BUYS]
    )
    if position + quantity > limit:
        reason[REASON_CODE], reason[REASON_1], reason[REASON_2], reason[REASON_3] = (
            POSITION_LIMIT,
            position,
            quantity,
            limit,
        )
        return False
    return True
