"""The ledger's numba form: the balance moves the fast book's kernels make, over the ledger's arrays.

Each function is the twin of the ``settlement.ledger.Ledger`` method of the same name, which is
the specification: the same moves on the same arrays (``settlement.arrays``), with accounts and
instruments by index instead of by name. tests/test_ledger_forms.py applies random sequences of
operations through both forms and requires identical arrays and identical answers.

What the twins do not share is the checking. A release or a trade here moves what its caller
says: the fast book releases only what an order holds frozen and settles only what both orders'
freezes cover, as the reference book does, and its ``room`` check leaves a free row in the trade
log before every trade. The Python form checks each of these and raises ``LedgerError`` on a
broken one; here a check would cost on every order for a case the rules already exclude.

All are inlined into their callers (``inlined_kernel``): they run for every order, and a call would
cost more than the move (``settlement.jit``).
"""

from __future__ import annotations

import numpy as np

from settlement.arrays import (
    H_AVAIL,
    H_FROZEN,
    H_RESTRICTED,
    K_AVAIL,
    K_FROZEN,
    K_PROCEEDS,
    K_RELEASED,
    T_BUY_FEE,
    T_BUYER,
    T_ID,
    T_INSTR,
    T_PRICE,
    T_QTY,
    T_SELL_FEE,
    T_SELLER,
)
from settlement.jit import inlined_kernel, kernel
from settlement.limits import FEE_PRODUCT_MAX as FEE_PRODUCT_MAX
from settlement.limits import PPM as PPM


@kernel
def fee_for(value: int, rate_ppm: int) -> int:
    """``settlement.ledger.fee_for``: value × rate, half-up to the fen, for ``value × rate <= FEE_PRODUCT_MAX``."""
    return (value * rate_ppm + PPM // 2) // PPM


Arr = np.ndarray


@inlined_kernel
def freeze_cash(cash: Arr, account: int, amount: int) -> bool:
    """``Ledger.freeze_cash``: hold ``amount`` for a buy; False (nothing moved) if available is short."""
    if amount > cash[account, K_AVAIL]:
        return False
    cash[account, K_AVAIL] -= amount
    cash[account, K_FROZEN] += amount
    return True


@inlined_kernel
def release_cash(cash: Arr, account: int, amount: int) -> None:
    """``Ledger.release_cash``: give back ``amount`` of the frozen cash, counted for the statements."""
    cash[account, K_FROZEN] -= amount
    cash[account, K_AVAIL] += amount
    cash[account, K_RELEASED] += amount


@inlined_kernel
def freeze_allowances(holdings: Arr, account: int, instrument: int, quantity: int) -> bool:
    """``Ledger.freeze_allowances``: hold ``quantity`` for a sell; False if available is short."""
    if quantity > holdings[account, instrument, H_AVAIL]:
        return False
    holdings[account, instrument, H_AVAIL] -= quantity
    holdings[account, instrument, H_FROZEN] += quantity
    return True


@inlined_kernel
def release_allowances(holdings: Arr, account: int, instrument: int, quantity: int) -> None:
    """``Ledger.release_allowances``: give back ``quantity`` of the frozen allowances."""
    holdings[account, instrument, H_FROZEN] -= quantity
    holdings[account, instrument, H_AVAIL] += quantity


@inlined_kernel
def settle_trade(
    cash: Arr,
    holdings: Arr,
    trades: Arr,
    trade_count: Arr,
    fee_account: int,
    trade_id: int,
    buyer: int,
    seller: int,
    instrument: int,
    price: int,
    quantity: int,
    buyer_fee: int,
    seller_fee: int,
) -> None:
    """``Ledger.settle_trade``: both legs and both fees of one trade (DvP), and its row in the trade log."""
    value = price * quantity
    cash[buyer, K_FROZEN] -= value + buyer_fee
    proceeds = value - seller_fee
    cash[seller, K_AVAIL] += proceeds
    cash[seller, K_PROCEEDS] += proceeds
    cash[fee_account, K_AVAIL] += buyer_fee + seller_fee
    holdings[seller, instrument, H_FROZEN] -= quantity
    holdings[buyer, instrument, H_RESTRICTED] += quantity
    row = trade_count[0]
    trade_count[0] = row + 1
    trades[row, T_ID] = trade_id
    trades[row, T_INSTR] = instrument
    trades[row, T_PRICE] = price
    trades[row, T_QTY] = quantity
    trades[row, T_BUYER] = buyer
    trades[row, T_SELLER] = seller
    trades[row, T_BUY_FEE] = buyer_fee
    trades[row, T_SELL_FEE] = seller_fee
