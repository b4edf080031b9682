"""The ledger's arrays: every balance of every account, in one fixed layout of 64-bit integers.

Nothing else holds a balance. Both forms of the ledger read and write these arrays in place: the
Python API (``settlement.ledger.Ledger``: the registry, the end of day, the reference book) and
its numba form (``settlement.kernels``, inlined into the fast book's kernels). Accounts and
instruments are rows by index, in config order (``Ledger.account_index``, ``instrument_index``).

The day's trades, which the statements need, are rows of integers in the trade log ``trades``
(accounts and instruments by index), turned into ``TradeRecord`` tuples only when read
(``settlement.statements.DayActivity``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    pass

# cash[account, K_*]
K_AVAIL = 0  # usable for buying (``proceeds_today`` is part of it)
K_FROZEN = 1  # held by open buy orders
K_PROCEEDS = 2  # today's sale proceeds: withdrawable from the next trading day
K_RELEASED = 3  # cash freezes released since the last end of day (the statements show it)
CASH_FIELDS = 4
# holdings[account, instrument, H_*]
H_AVAIL = 0  # sellable
H_FROZEN = 1  # held by open sell orders
H_RESTRICTED = 2  # bought today: sellable from the next trading day
H_COMPLIANCE = 3  # compliance-only: surrendered, never sold or transferred
HOLDING_FIELDS = 4
# trades[row, T_*]: the trade log, one row per trade since the last end of day
T_ID, T_INSTR, T_PRICE, T_QTY, T_BUYER, T_SELLER, T_BUY_FEE, T_SELL_FEE = 0, 1, 2, 3, 4, 5, 6, 7
TRADE_FIELDS = 8
# trading methods, as ``trade_methods`` and the statements record them
METHOD_LISTING = 0  # listing trading (the fast book's kernels leave ``trade_methods`` at 0)
METHOD_TRANSFER = 1  # agreement transfer: a bulk trade
METHOD_AUCTION = 2  # a sealed-bid auction's allocation (reserve sale, buyback, one-way bidding)


class LedgerArrays:
    """The arrays themselves. ``trades`` grows (a new array); ``cash`` and ``holdings`` never move.

    ``trade_methods[row]`` is the trading method of the trade log's row (``METHOD_*``), written by
    the Python ledger alone; the rows not in use hold 0 (``METHOD_LISTING``), so the fast book's
    kernels, which write listing trades only, never touch it. Apart from ``trades`` because a
    ninth column made each row straddle two cache lines: a sixth more time in the kernel.

    ``trade_count`` (one element) is the number of rows of ``trades`` in use: an array, so that a
    kernel counts the rows it writes in place and nothing copies the count in and out around it.
    """

    # Room for a day of a million trades from the start: zeroed pages cost nothing until touched,
    # while growing mid-day stops the kernel and copies every trade of the day so far.
    def __init__(self, accounts: int, instruments: int, trade_capacity: int = 1 << 20) -> None:
        self.cash = np.zeros((accounts, CASH_FIELDS), dtype=np.int64)
        self.holdings = np.zeros((accounts, instruments, HOLDING_FIELDS), dtype=np.int64)
        self.trades = np.zeros((trade_capacity, TRADE_FIELDS), dtype=np.int64)
        self.trade_methods = np.zeros(trade_capacity, dtype=np.int64)
        self.trade_count = np.zeros(1, dtype=np.int64)

    def keep_trade_count_in(self, cell: np.ndarray) -> None:
        """Keep the count of trade rows in ``cell`` (one int64 of a caller's array) from now on.

        The fast book's kernels then address it from the array that holds their own counters. As an
        array of its own, passed beside the others, it cost about a tenth of the kernel's time per
        command: the compiler must assume that a store to any argument array may change it, and
        that a store to it may change any of them, so it reloads both around every trade.
        """
        cell[0] = self.trade_count[0]
        self.trade_count = cell

    def ensure_trade_room(self, rows: int) -> None:
        """Make room for ``rows`` more trades (doubling, so growth is amortised)."""
        used = int(self.trade_count[0])
        if used + rows > self.trades.shape[0]:
            grown = np.zeros((max(used + rows, 2 * self.trades.shape[0]), TRADE_FIELDS), dtype=np.int64)
            grown[:used] = self.trades[:used]
            self.trades = grown
        if used + rows > self.trade_methods.shape[0]:
            methods = np.zeros(max(used + rows, 2 * self.trade_methods.shape[0]), dtype=np.int64)
            methods[:used] = self.trade_methods[:used]
            self.trade_methods = methods
