"""The fixed layouts of the fast path's arrays: one integer column per field, int64 throughout.

The kernels (``engine.listing.fast.kernels``) and the Python boundary (``engine.listing.fast.listing``) index the
arrays with these names; numba reads module-level integers as compile-time constants, so a named
column costs nothing over a literal. Every value is an integer: prices in fen per tonne,
quantities in tonnes, money in fen. ``-1`` stands for "none" wherever a slot, offset or limit may
be absent.
"""

from __future__ import annotations

from settlement.arrays import (  # re-exported: the kernels index the ledger's arrays with them
    CASH_FIELDS as CASH_FIELDS,
)
from settlement.arrays import (
    H_AVAIL as H_AVAIL,
)
from settlement.arrays import (
    H_COMPLIANCE as H_COMPLIANCE,
)
from settlement.arrays import (
    H_FROZEN as H_FROZEN,
)
from settlement.arrays import (
    H_RESTRICTED as H_RESTRICTED,
)
from settlement.arrays import (
    HOLDING_FIELDS as HOLDING_FIELDS,
)
from settlement.arrays import (
    K_AVAIL as K_AVAIL,
)
from settlement.arrays import (
    K_FROZEN as K_FROZEN,
)
from settlement.arrays import (
    K_PROCEEDS as K_PROCEEDS,
)
from settlement.arrays import (
    K_RELEASED as K_RELEASED,
)
from settlement.arrays import (
    T_BUY_FEE as T_BUY_FEE,
)
from settlement.arrays import (
    T_BUYER as T_BUYER,
)
from settlement.arrays import (
    T_ID as T_ID,
)
from settlement.arrays import (
    T_INSTR as T_INSTR,
)
from settlement.arrays import (
    T_PRICE as T_PRICE,
)
from settlement.arrays import (
    T_QTY as T_QTY,
)
from settlement.arrays import (
    T_SELL_FEE as T_SELL_FEE,
)
from settlement.arrays import (
    T_SELLER as T_SELLER,
)
from settlement.arrays import (
    TRADE_FIELDS as TRADE_FIELDS,
)

# ---------------------------------------------------------------- enums as the kernels see them
BUY, SELL = 1, 2  # engine.messages.Side
LIMIT, LIMIT_IOC, LIMIT_FOK, MARKET_FIVE_CANCEL, MARKET_FIVE_LIMIT = 1, 2, 3, 4, 5  # OrderType
CANCEL_RESTING, CANCEL_INCOMING, CANCEL_BOTH = 1, 2, 3  # StpMode
# CancelReason
USER, IOC_REMAINDER, FOK_UNFILLED, MARKET_REMAINDER, SELF_TRADE, EXPIRED, DISCONNECT = 1, 2, 3, 4, 5, 6, 7

# ---------------------------------------------------------------- orders[slot, O_*]: one row per order slot
O_ID = 0  # order id (0: the slot is free)
O_ACCT = 1  # account index (config order)
O_INSTR = 2  # instrument index (config order)
O_SIDE = 3
O_TYPE = 4
O_PRICE = 5  # limit price; a market order's last trade price once it traded (0 before)
O_LEAVES = 6
O_STP = 7
O_FREEZE = 8  # the price a buy's cash is frozen at
O_FILLED = 9
O_FCASH = 10  # cash the order holds frozen
O_FQTY = 11  # allowances the order holds frozen
O_TVALUE = 12  # cumulative traded value, which the order's fees are computed on
O_COID = 13  # the interned (account, client order id) key
O_NEXT = 14  # the next order at the same price level (FIFO), or -1
O_PREV = 15
ORDER_FIELDS = 16

# ---------------------------------------------------------------- levels[index, L_*]: one row per price level
L_HEAD = 0  # first (oldest) order slot, or -1
L_TAIL = 1
L_QTY = 2  # open quantity resting at the level
L_COUNT = 3  # orders resting at the level
LEVEL_FIELDS = 4

# ---------------------------------------------------------------- books[instrument, B_*]
B_LO = 0  # price of ladder offset 0
B_TICK = 1
B_N = 2  # price levels per side
B_BID_BASE = 3  # row of the bid ladder's offset 0 in ``levels``
B_ASK_BASE = 4
B_BEST_BID = 5  # offset of the best bid level, or -1
B_BEST_ASK = 6
B_LOWER = 7  # the day's band
B_UPPER = 8
B_HALTED = 9
B_LOT = 10
B_LIVE = 11  # resting orders
B_OPEN = 12  # the day's figures (engine.listing.daily.InstrumentDay)
B_HIGH = 13
B_LOW = 14
B_LAST = 15
B_VOLUME = 16
B_TURNOVER = 17
B_TRADES = 18
BOOK_FIELDS = 19

# ---------------------------------------------------------------- params[P_*]: counters and scalar rules
P_NEXT_ORDER = 0
P_NEXT_TRADE = 1
P_FEES_TODAY = 2
P_FREE_TOP = 3  # free order slots on the ``free`` stack
P_LIVE = 4  # resting orders in every book
P_ID_BASE = 5  # the order id at ``ids[0]``
P_TRADES_N = 6  # rows used in the trade log
P_OPEN = 7  # 1: a trading day is open and the session is continuous
P_SESSION = 8
P_MARKET_HALTED = 9
P_RATE = 10  # listing fee, parts per million
P_LEVELS = 11  # levels a best-five market order may reach
P_MIN_Q = 12
P_MAX_Q = 13
P_COID_MAX = 14
P_FEE_ACCT = 15
P_STOPPED = 16  # why the last kernel call stopped early (STOP_*), 0 when it ran to the end
PARAM_FIELDS = 17

STOP_EVENTS, STOP_TRADES, STOP_SLOTS, STOP_IDS = 1, 2, 3, 4
STOP_PYTHON = 5  # the next command is not a fast-path command: the boundary applies it in Python

# ---------------------------------------------------------------- balances (settlement owns their layout)
# cash[account, K_*], holdings[account, instrument, H_*], the trade log[row, T_*]

R_LIMIT, R_OPEN_BUYS = 0, 1  # risk[account, instrument, R_*]: position limit (-1: none), open buys
RISK_FIELDS = 2

# ---------------------------------------------------------------- commands[i, X_*]: the columnar command batch
X_KIND = 0
X_TS = 1
X_ACCT = 2  # -1: unknown account
X_INSTR = 3  # -1: unknown instrument; for CANCEL_ALL also -2: every instrument
X_COID = 4  # interned client order id key (-1 when the account or the id is invalid)
X_COID_LEN = 5
X_SIDE = 6
X_TYPE = 7
X_PRICE = 8
X_QTY = 9
X_STP = 10
X_ORDER_ID = 11
X_FLAG = 12  # CANCEL_ALL: 1 when sent for a lost session
COMMAND_FIELDS = 13

CMD_PYTHON, CMD_NEW, CMD_CANCEL, CMD_AMEND, CMD_CANCEL_ALL = 0, 1, 2, 3, 4  # CMD_PYTHON: any other command
ALL_INSTRUMENTS = -2

# ---------------------------------------------------------------- events[j, E_*]: the fixed-layout event records
E_KIND = 0
E_CMD = 1  # index of the command in its batch (-1: an end-of-day expiry)
E_F = 2  # first field; a record kind uses E_F .. E_F + 13
EVENT_FIELDS = 16

EV_ACCEPTED = 1  # order_id, account, instrument, side, type, price, quantity, frozen_cash, frozen_quantity
EV_ORDER_REJECTED = 2  # code, context 1..3
EV_REQUEST_REJECTED = 3  # code, context 1..3
EV_TRADE = 4  # trade_id, instrument, price, quantity, aggressor, buy_order, sell_order, buy_account,
#               sell_account, buy_fee, sell_fee, buy_leaves, sell_leaves, buy_released_cash
EV_CANCELLED = 5  # order_id, account, instrument, reason, quantity, released_cash, released_quantity
EV_AMENDED = 6  # order_id, account, instrument, price, quantity, priority_kept, cash_change, quantity_change
EV_CONVERTED = 7  # order_id, account, instrument, price, quantity, released_cash
EV_ALL_CANCELLED = 8  # account, instrument (-2: all), cancelled, reason
