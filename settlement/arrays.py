"""The ledger over arrays: the balances the fast path's kernels read and write in place.

``ArrayLedger`` is a ``Ledger`` whose hot balances — per account available, frozen and today's
proceeds of cash, per (account, instrument) the four allowance buckets — live in numpy arrays
(``LedgerArrays``) that the fast book's kernels (``engine.listing.fast``) update directly, with no copy in
between. Everything else the ledger does (registry operations, statements, conservation, state)
is the ``Ledger`` code unchanged, reading and writing the same arrays through small row views
(``CashRow``, ``HoldingRow``) that behave like ``CashBalance`` and ``Holding``.

The day's trades, which the statements need, are kept as rows of integers in ``trades`` (accounts
and instruments by index) and turned into ``TradeRecord`` tuples only when read.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from settlement.ledger import CashBalance, Holding, Ledger, LedgerError, LedgerState
from settlement.statements import DayActivity, TradeRecord

# cash[account, K_*]
K_AVAIL, K_FROZEN, K_PROCEEDS, K_RELEASED = 0, 1, 2, 3
CASH_FIELDS = 4
# holdings[account, instrument, H_*]
H_AVAIL, H_FROZEN, H_RESTRICTED, H_COMPLIANCE = 0, 1, 2, 3
HOLDING_FIELDS = 4
# trades[row, T_*]: one row per trade of the day
T_ID, T_INSTR, T_PRICE, T_QTY, T_BUYER, T_SELLER, T_BUY_FEE, T_SELL_FEE = 0, 1, 2, 3, 4, 5, 6, 7
TRADE_FIELDS = 8

INT64_MAX = 2**63 - 1


class LedgerArrays:
    """The arrays themselves. ``trades`` grows (a new array); ``cash`` and ``holdings`` never move."""

    # Room for a day of a million trades from the start: zeroed pages cost nothing until touched,
    # while growing mid-day stops the kernel and copies every trade of the day so far.
    def __init__(self, accounts: int, instruments: int, trade_capacity: int = 1 << 20) -> None:
        self.cash = np.zeros((accounts, CASH_FIELDS), dtype=np.int64)
        self.holdings = np.zeros((accounts, instruments, HOLDING_FIELDS), dtype=np.int64)
        self.trades = np.zeros((trade_capacity, TRADE_FIELDS), dtype=np.int64)
        self.trade_count = 0

    def ensure_trade_room(self, rows: int) -> None:
        """Make room for ``rows`` more trades (doubling, so growth is amortised)."""
        needed = self.trade_count + rows
        if needed > self.trades.shape[0]:
            grown = np.zeros((max(needed, 2 * self.trades.shape[0]), TRADE_FIELDS), dtype=np.int64)
            grown[: self.trade_count] = self.trades[: self.trade_count]
            self.trades = grown


def _store(value: int) -> int:
    if not -INT64_MAX <= value <= INT64_MAX:
        raise LedgerError(f"balance {value} does not fit the ledger's 64-bit integers")
    return value


class CashRow:
    """One account's cash as a view on ``LedgerArrays.cash``; reads and writes like ``CashBalance``."""

    __slots__ = ("_row",)

    def __init__(self, row: np.ndarray) -> None:
        self._row = row

    @property
    def available(self) -> int:
        return int(self._row[K_AVAIL])

    @available.setter
    def available(self, value: int) -> None:
        self._row[K_AVAIL] = _store(value)

    @property
    def frozen(self) -> int:
        return int(self._row[K_FROZEN])

    @frozen.setter
    def frozen(self, value: int) -> None:
        self._row[K_FROZEN] = _store(value)

    @property
    def proceeds_today(self) -> int:
        return int(self._row[K_PROCEEDS])

    @proceeds_today.setter
    def proceeds_today(self, value: int) -> None:
        self._row[K_PROCEEDS] = _store(value)

    @property
    def total(self) -> int:
        return self.available + self.frozen

    def _fields(self) -> tuple[int, int, int]:
        return self.available, self.frozen, self.proceeds_today

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CashRow | CashBalance):
            return self._fields() == (other.available, other.frozen, other.proceeds_today)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like CashBalance

    def __repr__(self) -> str:
        return "CashRow(available={}, frozen={}, proceeds_today={})".format(*self._fields())

    @property
    def withdrawable(self) -> int:
        available = self.available
        return available - min(available, self.proceeds_today)


class HoldingRow:
    """One (account, instrument) holding as a view on ``LedgerArrays.holdings``; like ``Holding``."""

    __slots__ = ("_row",)

    def __init__(self, row: np.ndarray) -> None:
        self._row = row

    @property
    def available(self) -> int:
        return int(self._row[H_AVAIL])

    @available.setter
    def available(self, value: int) -> None:
        self._row[H_AVAIL] = _store(value)

    @property
    def frozen(self) -> int:
        return int(self._row[H_FROZEN])

    @frozen.setter
    def frozen(self, value: int) -> None:
        self._row[H_FROZEN] = _store(value)

    @property
    def restricted(self) -> int:
        return int(self._row[H_RESTRICTED])

    @restricted.setter
    def restricted(self, value: int) -> None:
        self._row[H_RESTRICTED] = _store(value)

    @property
    def compliance(self) -> int:
        return int(self._row[H_COMPLIANCE])

    @compliance.setter
    def compliance(self, value: int) -> None:
        self._row[H_COMPLIANCE] = _store(value)

    @property
    def total(self) -> int:
        return int(self._row.sum())

    def _fields(self) -> tuple[int, int, int, int]:
        available, frozen, restricted, compliance = self._row.tolist()
        return available, frozen, restricted, compliance

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HoldingRow | Holding):
            return self._fields() == (other.available, other.frozen, other.restricted, other.compliance)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like Holding

    def __repr__(self) -> str:
        return "HoldingRow(available={}, frozen={}, restricted={}, compliance={})".format(*self._fields())


class ArrayDayActivity(DayActivity):
    """``DayActivity`` whose trades and released cash are the arrays the kernels write."""

    def __init__(self, arrays: LedgerArrays, accounts: list[str], instruments: list[str]) -> None:
        self._arrays = arrays
        self._accounts = accounts
        self._instruments = instruments
        self._account_index = {a: i for i, a in enumerate(accounts)}
        self._instrument_index = {code: i for i, code in enumerate(instruments)}
        super().__init__()

    @property
    def trades(self) -> list[TradeRecord]:
        arrays, accounts, instruments = self._arrays, self._accounts, self._instruments
        return [
            (t, instruments[i], p, q, accounts[b], accounts[s], bf, sf)
            for t, i, p, q, b, s, bf, sf in arrays.trades[: arrays.trade_count].tolist()
        ]

    @trades.setter
    def trades(self, records: list[TradeRecord]) -> None:
        arrays = self._arrays
        arrays.trade_count = 0
        arrays.ensure_trade_room(len(records))
        for row, (t, instrument, p, q, buyer, seller, bf, sf) in enumerate(records):
            arrays.trades[row] = (
                t,
                self._instrument_index[instrument],
                p,
                q,
                self._account_index[buyer],
                self._account_index[seller],
                bf,
                sf,
            )
        arrays.trade_count = len(records)

    def add_trade(self, record: TradeRecord) -> None:
        arrays = self._arrays
        count = arrays.trade_count
        arrays.ensure_trade_room(1)
        t, instrument, p, q, buyer, seller, bf, sf = record
        arrays.trades[count] = (
            t,
            self._instrument_index[instrument],
            p,
            q,
            self._account_index[buyer],
            self._account_index[seller],
            bf,
            sf,
        )
        arrays.trade_count = count + 1

    @property
    def released(self) -> dict[str, int]:
        column = self._arrays.cash[:, K_RELEASED].tolist()
        return {self._accounts[i]: amount for i, amount in enumerate(column) if amount}

    @released.setter
    def released(self, amounts: dict[str, int]) -> None:
        column = self._arrays.cash[:, K_RELEASED]
        column[:] = 0
        for account, amount in amounts.items():
            column[self._account_index[account]] = _store(amount)


class ArrayLedger(Ledger):
    def __init__(self, accounts: Iterable[str], instruments: Iterable[str], fee_account: str) -> None:
        account_list, instrument_list = list(accounts), list(instruments)
        super().__init__(account_list, instrument_list, fee_account)
        self.account_names = account_list
        self.instrument_names = instrument_list
        self.account_index = {a: i for i, a in enumerate(account_list)}
        self.instrument_index = {code: i for i, code in enumerate(instrument_list)}
        self.arrays = LedgerArrays(len(account_list), len(instrument_list))
        self._attach_rows()
        self.day = ArrayDayActivity(self.arrays, account_list, instrument_list)

    def _attach_rows(self) -> None:
        cash, holdings = self.arrays.cash, self.arrays.holdings
        self._cash = {a: CashRow(cash[i]) for i, a in enumerate(self.account_names)}  # type: ignore[misc]
        self._holdings = {
            (a, code): HoldingRow(holdings[i, j])  # type: ignore[misc]
            for i, a in enumerate(self.account_names)
            for j, code in enumerate(self.instrument_names)
        }

    def holding(self, account: str, instrument: str) -> HoldingRow:  # type: ignore[override]
        holding = self._holdings.get((account, instrument))
        if holding is None:
            raise LedgerError(f"no holding of {account!r} in {instrument!r}: not a configured account and instrument")
        return holding  # type: ignore[return-value]

    def release_cash(self, account: str, amount: int) -> None:
        cash = self._cash[account]
        if amount > cash.frozen:
            raise LedgerError(f"release of {amount} fen exceeds frozen {cash.frozen} of {account}")
        cash.frozen -= amount
        cash.available += amount
        self.arrays.cash[self.account_index[account], K_RELEASED] += amount

    def settle_trade(
        self,
        *,
        trade_id: int,
        buyer: str,
        seller: str,
        instrument: str,
        price: int,
        quantity: int,
        buyer_fee: int,
        seller_fee: int,
    ) -> None:
        """``Ledger.settle_trade`` with the trade recorded as a row of the trade log."""
        value = price * quantity
        buyer_cash = self._cash[buyer]
        sell_holding = self.holding(seller, instrument)
        if value + buyer_fee > buyer_cash.frozen or quantity > sell_holding.frozen:
            raise LedgerError(f"trade of {quantity} t for {value} fen not covered by the freezes")
        buyer_cash.frozen -= value + buyer_fee
        seller_cash = self._cash[seller]
        seller_cash.available += value - seller_fee
        seller_cash.proceeds_today += value - seller_fee
        self._cash[self.fee_account].available += buyer_fee + seller_fee
        sell_holding.frozen -= quantity
        self.holding(buyer, instrument).restricted += quantity
        assert isinstance(self.day, ArrayDayActivity)
        self.day.add_trade((trade_id, instrument, price, quantity, buyer, seller, buyer_fee, seller_fee))

    def restore(self, state: LedgerState) -> None:
        """``Ledger.restore``, then the restored balances and day moved into the arrays."""
        super().restore(state)
        restored_cash, restored_holdings, restored_day = self._cash, self._holdings, self.day
        self.arrays.cash[:] = 0
        self.arrays.holdings[:] = 0
        self._attach_rows()
        for account, balance in restored_cash.items():
            row = self._cash[account]
            row.available, row.frozen, row.proceeds_today = balance.available, balance.frozen, balance.proceeds_today
        for key, holding in restored_holdings.items():
            if holding.total:
                target = self.holding(*key)
                target.available, target.frozen = holding.available, holding.frozen
                target.restricted, target.compliance = holding.restricted, holding.compliance
        day = ArrayDayActivity(self.arrays, self.account_names, self.instrument_names)
        day.opening_cash = restored_day.opening_cash
        day.opening_holdings = restored_day.opening_holdings
        day.trades = restored_day.trades
        day.movements = restored_day.movements
        day.released = restored_day.released
        day.released_restricted = restored_day.released_restricted
        self.day = day
