"""The fixed layouts of the fast path's arrays: one integer column per field, int64 throughout.

The kernels (``engine.listing.fast.kernels``) and the Python boundary (``engine.listing.fast.listing``) index the
arrays with these names; numba reads module-level integers as compile-time constants, so a named
column costs nothing over a literal. Every value is an integer: prices in fen per tonne,
quantities in tonnes, money in fen. ``-1`` stands for "none" wherever a slot, offset or limit may
be absent.
"""

from __future__ import annotations

from engine.listing.fast.event_columns import (  # re-exported: every reader of records uses them
    E_CMD as E_CMD,
)
from engine.listing.fast.event_columns import (
    E_KIND as E_KIND,
)
from engine.listing.fast.event_columns import (
    EV_ACCEPTED as EV_ACCEPTED,
)
from engine.listing.fast.event_columns import (
    EV_ALL_CANCELLED as EV_ALL_CANCELLED,
)
from engine.listing.fast.event_columns import (
    EV_AMENDED as EV_AMENDED,
)
from engine.listing.fast.event_columns import (
    EV_CANCELLED as EV_CANCELLED,
)
from engine.listing.fast.event_columns import (
    EV_CONVERTED as EV_CONVERTED,
)
from engine.listing.fast.event_columns import (
    EV_ORDER_REJECTED as EV_ORDER_REJECTED,
)
from engine.listing.fast.event_columns import (
    EV_REQUEST_REJECTED as EV_REQUEST_REJECTED,
)
from engine.listing.fast.event_columns import (
    EV_TRADE as EV_TRADE,
)
from engine.listing.fast.event_columns import (
    EVENT_FIELDS as EVENT_FIELDS,
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

# ---------------------------------------------------------------- reason[REASON_*]: a reject in the making
# The kernels' scratch while they check a command: the reject code (0: none yet), then the integers
# of its context in the order ``engine.messages.reject.LISTING_CONTEXT`` declares for the code.
# A check writes the slots it fills, by plain assignment: the slots are zeroed at each command's
# start, and a helper that wrote all four, inlined into the check kernels, cost the kernel ~5% per
# command (measured on the standard flow; bench/RESULTS.md "Issue 14").
REASON_CODE, REASON_1, REASON_2, REASON_3 = 0, 1, 2, 3
REASON_FIELDS = 4

# ---------------------------------------------------------------- params[P_*]: counters and scalar rules
P_NEXT_ORDER = 0
P_NEXT_TRADE = 1
P_FREE_TOP = 2  # free order slots on the ``free`` stack
P_LIVE = 3  # resting orders in every book
P_ID_BASE = 4  # the order id at ``ids[0]``
P_OPEN = 5  # 1: a trading day is open and the session is continuous
P_SESSION = 6
P_MARKET_HALTED = 7
P_RATE = 8  # listing fee, parts per million
P_LEVELS = 9  # levels a best-five market order may reach
P_MIN_Q = 10
P_MAX_Q = 11
P_COID_MAX = 12
P_FEE_ACCT = 13
P_STOPPED = 14  # why the last kernel call stopped early (STOP_*), 0 when it ran to the end
P_TRADE_ROWS = 15  # the ledger's count of trade-log rows in use (``LedgerArrays.keep_trade_count_in``)
P_LOOK_AHEAD = 16  # resting orders from which ``run_batch`` prefetches for the commands ahead (``look_ahead``)
# A member's order list and mass cancel walk the order slots instead of the id index once the index
# holds this many times as many entries (``ladder.pick``)
P_IDS_PER_SLOT = 17
PARAM_FIELDS = 18

STOP_EVENTS, STOP_TRADES, STOP_SLOTS, STOP_IDS = 1, 2, 3, 4
STOP_PYTHON = 5  # the next command is not a fast-path command: the boundary applies it in Python

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
# Declared in engine.listing.fast.event_records from the event structs; the columns of each kind
# (``TRADE_BUY_LEAVES``) are in the generated engine.listing.fast.event_columns.
