"""The ledger: cash and allowance balances of every account, freezes, DvP transfers and fees.

Full pre-funding (docs/RULES_COVERAGE.md "Pre-funding and settlement"): a buy freezes cash, a sell
freezes allowances, before the order may rest or trade; a trade then moves both legs in one ledger
transaction (delivery versus payment) and charges each side its fee to the exchange's fee account.
No short selling, no credit, no overdraft: every debit comes from a freeze made beforehand, and a
freeze is refused when the available balance does not cover it.

Buckets per account:
- cash: ``available`` (usable for buying), ``frozen`` (held by open buy orders);
  ``proceeds_today`` is the part of ``available`` that came from today's sales: usable for buying at
  once, withdrawable only from the next trading day.
- allowances per instrument: ``available`` (sellable), ``frozen`` (held by open sell orders),
  ``restricted`` (bought today; sellable from the next trading day — same-day resale is forbidden),
  ``compliance`` (compliance-only units: they can be surrendered, never sold or transferred).

One ledger, two forms. The balances live in numpy arrays (``settlement.arrays``) and change in one
place, this package: ``Ledger`` is the Python API every mechanism uses, whichever book trades (the
registry, the end of day, the reference book), written as the readable specification; beside it,
``settlement.kernels`` holds the same moves in numba, which the fast book's kernels inline for the
order path. tests/test_ledger_forms.py holds the two to identical arrays. Callers read balances
as ``CashBalance`` and ``Holding`` values, copies that nothing writes back.

Registry operations (allocation, surrender, cancellation, carry-over, merger, split) change the
totals the conservation check holds the balances to (docs/RULES_COVERAGE.md "End of day, the registry
and risk control"): for each instrument
Σ holdings = issued − surrendered − cancelled, and Σ cash = deposited − withdrawn. Every movement
that changes an account's total is also recorded in ``day`` for the end-of-day statements. Value
enters the ledger only there, and each such total is kept within 64 bits, so no balance, which is
never negative, can leave the arrays' integers in either form.

Money in fen, quantities in tonnes, rates in parts per million; all integers.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet

import msgspec
import numpy as np

from settlement.arrays import (
    H_AVAIL,
    H_COMPLIANCE,
    H_FROZEN,
    H_RESTRICTED,
    K_AVAIL,
    K_FROZEN,
    K_PROCEEDS,
    K_RELEASED,
    METHOD_LISTING,
    T_BUY_FEE,
    T_BUYER,
    T_ID,
    T_INSTR,
    T_PRICE,
    T_QTY,
    T_SELL_FEE,
    T_SELLER,
    LedgerArrays,
)
from settlement.statements import AccountDay, ConservationMismatch, DayActivity, DayActivityState

PPM = 1_000_000
HALF_PPM = PPM // 2
INT64_MAX = 2**63 - 1
BUCKETS = {"available": H_AVAIL, "frozen": H_FROZEN, "restricted": H_RESTRICTED, "compliance": H_COMPLIANCE}


def fee_for(value: int, rate_ppm: int) -> int:
    """The fee on a traded value: ``value × rate``, rounded half-up to the fen (value ≥ 0)."""
    return (value * rate_ppm + HALF_PPM) // PPM


class CashBalance(msgspec.Struct, frozen=True, kw_only=True):
    """One account's cash as read: a copy (the ledger's methods are the only way to change it)."""

    available: int = 0
    frozen: int = 0
    proceeds_today: int = 0

    @property
    def total(self) -> int:
        return self.available + self.frozen

    @property
    def withdrawable(self) -> int:
        return self.available - min(self.available, self.proceeds_today)


class Holding(msgspec.Struct, frozen=True, kw_only=True):
    """One account's holding of one instrument as read, every bucket: a copy, like ``CashBalance``."""

    available: int = 0
    frozen: int = 0
    restricted: int = 0
    compliance: int = 0

    @property
    def total(self) -> int:
        return self.available + self.frozen + self.restricted + self.compliance


def _cash_balance(row: list[int]) -> CashBalance:
    return CashBalance(available=row[K_AVAIL], frozen=row[K_FROZEN], proceeds_today=row[K_PROCEEDS])


def _holding(row: list[int]) -> Holding:
    return Holding(
        available=row[H_AVAIL], frozen=row[H_FROZEN], restricted=row[H_RESTRICTED], compliance=row[H_COMPLIANCE]
    )


class LedgerState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """The ledger in canonical (sorted) order, for snapshots and the state hash."""

    cash: list[tuple[str, int, int, int]]  # account, available, frozen, proceeds_today
    holdings: list[
        tuple[str, str, int, int, int, int]
    ]  # account, instrument, available, frozen, restricted, compliance
    deposited: int
    withdrawn: int
    issued: list[tuple[str, int]]  # instrument, quantity
    surrendered: list[tuple[str, int]]
    cancelled: list[tuple[str, int]]
    allocated: list[tuple[str, str, int]]  # account, instrument, free allocation received
    closed: list[str]  # accounts merged into a successor
    day: DayActivityState


class LedgerError(Exception):
    """An internal invariant broke (a debit without its freeze). Never caused by a client."""


class Ledger:
    """Every account's balances over ``LedgerArrays``, rows in the order of ``accounts`` and ``instruments``."""

    def __init__(self, accounts: Iterable[str], instruments: Iterable[str], fee_account: str) -> None:
        self.account_names = list(accounts)
        self.instrument_names = list(instruments)
        self.account_index = {a: i for i, a in enumerate(self.account_names)}
        self.instrument_index = {code: j for j, code in enumerate(self.instrument_names)}
        if fee_account not in self.account_index:
            raise LedgerError(f"fee account {fee_account!r} is not an account")
        self.fee_account = fee_account
        self.arrays = LedgerArrays(len(self.account_names), len(self.instrument_names))
        self.deposited = 0
        self.withdrawn = 0
        self.issued: dict[str, int] = dict.fromkeys(self.instrument_names, 0)
        self.surrendered: dict[str, int] = dict.fromkeys(self.instrument_names, 0)
        self.cancelled: dict[str, int] = dict.fromkeys(self.instrument_names, 0)
        self.allocated: dict[tuple[str, str], int] = {}
        self._closed: set[str] = set()
        self.day = DayActivity(self.arrays, self.account_names, self.instrument_names)

    def _row(self, account: str, instrument: str) -> tuple[int, int]:
        """The holdings row of (account, instrument), by index."""
        a, j = self.account_index.get(account), self.instrument_index.get(instrument)
        if a is None or j is None:
            raise LedgerError(f"no holding of {account!r} in {instrument!r}: not a configured account and instrument")
        return a, j

    # ------------------------------------------------------------------ reading
    def cash(self, account: str) -> CashBalance:
        return _cash_balance(self.arrays.cash[self.account_index[account]].tolist())

    def holding(self, account: str, instrument: str) -> Holding:
        return _holding(self.arrays.holdings[self._row(account, instrument)].tolist())

    def total_held(self, key: tuple[str, str]) -> int:
        """What an (account, instrument) holds in every bucket; 0 for a name the ledger does not know."""
        a, j = self.account_index.get(key[0]), self.instrument_index.get(key[1])
        return 0 if a is None or j is None else int(self.arrays.holdings[a, j].sum())

    def total_cash(self) -> int:
        return int(self.arrays.cash[:, K_AVAIL].sum() + self.arrays.cash[:, K_FROZEN].sum())

    def total_holdings(self, instrument: str) -> int:
        return int(self.arrays.holdings[:, self.instrument_index[instrument]].sum())

    def accounts(self) -> list[str]:
        return sorted(self.account_names)

    def holdings(self) -> list[tuple[tuple[str, str], Holding]]:
        """Every (account, instrument) holding, empty ones too, in that order."""
        return sorted(
            ((account, instrument), _holding(row))
            for account, rows in zip(self.account_names, self.arrays.holdings.tolist(), strict=True)
            for instrument, row in zip(self.instrument_names, rows, strict=True)
        )

    def holdings_of(self, account: str) -> list[tuple[str, Holding]]:
        """The account's non-empty holdings, in instrument order."""
        rows = self.arrays.holdings[self.account_index[account]].tolist()
        return sorted(
            (instrument, _holding(row)) for instrument, row in zip(self.instrument_names, rows, strict=True) if sum(row)
        )

    @property
    def closed(self) -> AbstractSet[str]:
        """Accounts merged into a successor (``close_account``): they neither trade nor take registry operations."""
        return self._closed

    # ------------------------------------------------------------------ registry
    def deposit(self, account: str, amount: int) -> None:
        self._admit(self.deposited - self.withdrawn, amount, "CASH")
        self.arrays.cash[self.account_index[account], K_AVAIL] += amount
        self.deposited += amount
        self.day.move(account, "", "deposits", amount)

    def withdraw(self, account: str, amount: int) -> None:
        withdrawable = self.cash(account).withdrawable
        if amount > withdrawable:
            raise LedgerError(f"withdrawal of {amount} fen exceeds withdrawable {withdrawable} of {account}")
        self.arrays.cash[self.account_index[account], K_AVAIL] -= amount
        self.withdrawn += amount
        self.day.move(account, "", "withdrawals", amount)

    def allocate(self, account: str, instrument: str, quantity: int, compliance_only: bool = False) -> None:
        a, j = self._row(account, instrument)
        self._admit(self._outstanding(instrument), quantity, instrument)
        self.arrays.holdings[a, j, H_COMPLIANCE if compliance_only else H_AVAIL] += quantity
        self.issued[instrument] += quantity
        key = (account, instrument)
        self.allocated[key] = self.allocated.get(key, 0) + quantity
        self.day.move(account, instrument, "allocated", quantity)

    def surrender(self, account: str, instrument: str, bucket: str, quantity: int) -> None:
        """Retire ``quantity`` from one bucket (``available``, ``restricted`` or ``compliance``)."""
        self._debit(account, instrument, bucket, quantity)
        self.surrendered[instrument] += quantity
        self.day.move(account, instrument, "surrendered", quantity)

    def cancel(self, account: str, instrument: str, quantity: int) -> None:
        """Voluntary cancellation (自愿注销) out of the available bucket."""
        self._debit(account, instrument, "available", quantity)
        self.cancelled[instrument] += quantity
        self.day.move(account, instrument, "cancelled", quantity)

    def carry_over(self, account: str, instrument: str, to_instrument: str, quantity: int) -> None:
        """The registry cancels the old vintage's units and issues as many of the new vintage."""
        a, j = self._row(account, to_instrument)
        self._admit(self._outstanding(to_instrument), quantity, to_instrument)
        self._debit(account, instrument, "available", quantity)
        self.cancelled[instrument] += quantity
        self.arrays.holdings[a, j, H_AVAIL] += quantity
        self.issued[to_instrument] += quantity
        self.day.move(account, instrument, "carried_out", quantity)
        self.day.move(account, to_instrument, "carried_in", quantity)

    def transfer(self, account: str, to: str, cash: int, units: Iterable[tuple[str, str, int]]) -> None:
        """Merger or split: move cash and (instrument, bucket, quantity) units between two accounts.

        The units keep their bucket, so restricted and compliance-only units stay so.
        """
        balances, source, target = self.arrays.cash, self.account_index[account], self.account_index[to]
        available, proceeds = int(balances[source, K_AVAIL]), int(balances[source, K_PROCEEDS])
        if cash > available:
            raise LedgerError(f"transfer of {cash} fen exceeds available {available} of {account}")
        balances[source, K_AVAIL] -= cash
        balances[source, K_PROCEEDS] -= min(proceeds, cash)
        balances[target, K_AVAIL] += cash
        if cash:
            self.day.move(account, "", "transferred_out", cash)
            self.day.move(to, "", "transferred_in", cash)
        for instrument, bucket, quantity in units:
            self._debit(account, instrument, bucket, quantity)
            t, j = self._row(to, instrument)
            self.arrays.holdings[t, j, BUCKETS[bucket]] += quantity
            self.day.move(account, instrument, "transferred_out", quantity)
            self.day.move(to, instrument, "transferred_in", quantity)

    def pass_allocation(self, account: str, successor: str) -> None:
        """A merger passes the free allocation (and with it the position limit) to the successor."""
        for (holder, instrument), quantity in sorted(self.allocated.items()):
            if holder == account:
                key = (successor, instrument)
                self.allocated[key] = self.allocated.get(key, 0) + quantity

    def close_account(self, account: str) -> None:
        """A merger closes the merged account, once ``transfer`` has emptied it."""
        a = self.account_index[account]
        if self.arrays.cash[a, K_AVAIL] or self.arrays.cash[a, K_FROZEN] or self.arrays.holdings[a].any():
            raise LedgerError(f"account {account} still holds cash or allowances: it cannot close")
        self._closed.add(account)

    def _debit(self, account: str, instrument: str, bucket: str, quantity: int) -> None:
        a, j = self._row(account, instrument)
        held = int(self.arrays.holdings[a, j, BUCKETS[bucket]])
        if quantity > held:
            raise LedgerError(f"debit of {quantity} t exceeds {bucket} {held} of {account} in {instrument}")
        self.arrays.holdings[a, j, BUCKETS[bucket]] = held - quantity

    def _outstanding(self, instrument: str) -> int:
        return self.issued[instrument] - self.surrendered[instrument] - self.cancelled[instrument]

    @staticmethod
    def _admit(outstanding: int, amount: int, asset: str) -> None:
        """Refuse value entering the ledger if the asset's total would leave 64 bits (see the module doc)."""
        if outstanding + amount > INT64_MAX:
            raise LedgerError(f"{asset}: a total of {outstanding + amount} does not fit the ledger's 64-bit integers")

    # ------------------------------------------------------------------ freezes
    def freeze_cash(self, account: str, amount: int) -> bool:
        """Hold ``amount`` for a buy; False (nothing moved) when the available cash does not cover it."""
        cash, a = self.arrays.cash, self.account_index[account]
        if amount > cash[a, K_AVAIL]:
            return False
        cash[a, K_AVAIL] -= amount
        cash[a, K_FROZEN] += amount
        return True

    def release_cash(self, account: str, amount: int) -> None:
        """Give back ``amount`` of the frozen cash; the statements show the day's releases."""
        cash, a = self.arrays.cash, self.account_index[account]
        if amount > cash[a, K_FROZEN]:
            raise LedgerError(f"release of {amount} fen exceeds frozen {cash[a, K_FROZEN]} of {account}")
        cash[a, K_FROZEN] -= amount
        cash[a, K_AVAIL] += amount
        cash[a, K_RELEASED] += amount

    def freeze_allowances(self, account: str, instrument: str, quantity: int) -> bool:
        """Hold ``quantity`` for a sell; False (nothing moved) when the available units do not cover it."""
        holdings, (a, j) = self.arrays.holdings, self._row(account, instrument)
        if quantity > holdings[a, j, H_AVAIL]:
            return False
        holdings[a, j, H_AVAIL] -= quantity
        holdings[a, j, H_FROZEN] += quantity
        return True

    def release_allowances(self, account: str, instrument: str, quantity: int) -> None:
        holdings, (a, j) = self.arrays.holdings, self._row(account, instrument)
        if quantity > holdings[a, j, H_FROZEN]:
            raise LedgerError(f"release of {quantity} t exceeds frozen {holdings[a, j, H_FROZEN]} of {account}")
        holdings[a, j, H_FROZEN] -= quantity
        holdings[a, j, H_AVAIL] += quantity

    # ------------------------------------------------------------------ DvP
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
        method: int = METHOD_LISTING,
        compliance_only: bool = False,
    ) -> None:
        """Move both legs of one trade and both fees in one transaction, and log the trade.

        The buyer pays value + fee out of its frozen cash; the seller delivers out of its frozen
        allowances and receives value − fee; the allowances land in the buyer's restricted bucket
        until the next trading day (``compliance_only``: in its compliance-only bucket, for good,
        as a compliance auction's allowances are); both fees go to the fee account. The trade log's row, with
        the trading method (``settlement.arrays.METHOD_*``), is the record the statements read.
        """
        cash, holdings = self.arrays.cash, self.arrays.holdings
        b, j = self._row(buyer, instrument)
        s, fees = self.account_index[seller], self.account_index[self.fee_account]
        value = price * quantity
        if value + buyer_fee > cash[b, K_FROZEN] or quantity > holdings[s, j, H_FROZEN]:
            raise LedgerError(f"trade of {quantity} t for {value} fen not covered by the freezes")
        cash[b, K_FROZEN] -= value + buyer_fee
        proceeds = value - seller_fee
        cash[s, K_AVAIL] += proceeds
        cash[s, K_PROCEEDS] += proceeds
        cash[fees, K_AVAIL] += buyer_fee + seller_fee
        holdings[s, j, H_FROZEN] -= quantity
        holdings[b, j, H_COMPLIANCE if compliance_only else H_RESTRICTED] += quantity
        self.arrays.ensure_trade_room(1)
        trades, row = self.arrays.trades, int(self.arrays.trade_count[0])
        trades[row, T_ID], trades[row, T_INSTR], trades[row, T_PRICE], trades[row, T_QTY] = trade_id, j, price, quantity
        trades[row, T_BUYER], trades[row, T_SELLER] = b, s
        trades[row, T_BUY_FEE], trades[row, T_SELL_FEE] = buyer_fee, seller_fee
        self.arrays.trade_methods[row] = method
        self.arrays.trade_count[0] = row + 1

    def day_totals(self, method: int) -> dict[str, tuple[int, int, int]]:
        """The day's trades of one method per instrument: (volume, turnover, trades); traded ones only."""
        count = int(self.arrays.trade_count[0])
        rows = self.arrays.trades[:count][self.arrays.trade_methods[:count] == method]
        totals: dict[str, tuple[int, int, int]] = {}
        for j, price, quantity in rows[:, [T_INSTR, T_PRICE, T_QTY]].tolist():
            code = self.instrument_names[j]
            volume, turnover, count = totals.get(code, (0, 0, 0))
            totals[code] = (volume + quantity, turnover + price * quantity, count + 1)
        return totals

    # ------------------------------------------------------------------ end of day
    def end_of_day(self) -> None:
        """Lift the same-day resale restriction and make today's sale proceeds withdrawable."""
        holdings = self.arrays.holdings
        for a, j in np.argwhere(holdings[:, :, H_RESTRICTED]).tolist():
            key = (self.account_names[a], self.instrument_names[j])
            self.day.released_restricted[key] = int(holdings[a, j, H_RESTRICTED])
        holdings[:, :, H_AVAIL] += holdings[:, :, H_RESTRICTED]
        holdings[:, :, H_RESTRICTED] = 0
        self.arrays.cash[:, K_PROCEEDS] = 0

    def statements(self) -> list[AccountDay]:
        """The statements since the last end of day (call after ``end_of_day``)."""
        cash = {a: (c.total, c.frozen, c.withdrawable) for a, c in self._cash_balances()}
        holdings = {key: (h.total, h.compliance) for key, h in self.holdings()}
        return self.day.statements(cash, holdings, self.fee_account)

    def start_next_statements(self) -> None:
        self.day.start_next(
            {a: c.total for a, c in self._cash_balances()},
            {key: h.total for key, h in self.holdings()},
        )

    def _cash_balances(self) -> list[tuple[str, CashBalance]]:
        return [
            (account, _cash_balance(row))
            for account, row in zip(self.account_names, self.arrays.cash.tolist(), strict=True)
        ]

    def conservation(self) -> list[ConservationMismatch]:
        """Every asset whose balances do not add up to what the registry issued and retired."""
        mismatches = []
        for instrument in self.instrument_names:
            expected, actual = self._outstanding(instrument), self.total_holdings(instrument)
            if actual != expected:
                mismatches.append(
                    ConservationMismatch(
                        asset=instrument, expected=expected, actual=actual, difference=actual - expected
                    )
                )
        expected, actual = self.deposited - self.withdrawn, self.total_cash()
        if actual != expected:
            mismatches.append(
                ConservationMismatch(asset="CASH", expected=expected, actual=actual, difference=actual - expected)
            )
        return mismatches

    # ------------------------------------------------------------------ state
    def state(self) -> LedgerState:
        return LedgerState(
            cash=sorted((a, c.available, c.frozen, c.proceeds_today) for a, c in self._cash_balances()),
            holdings=[
                (a, i, h.available, h.frozen, h.restricted, h.compliance) for (a, i), h in self.holdings() if h.total
            ],
            deposited=self.deposited,
            withdrawn=self.withdrawn,
            issued=sorted(self.issued.items()),
            surrendered=sorted(self.surrendered.items()),
            cancelled=sorted(self.cancelled.items()),
            allocated=[(a, i, q) for (a, i), q in sorted(self.allocated.items())],
            closed=sorted(self._closed),
            day=self.day.state(),
        )

    def restore(self, state: LedgerState) -> None:
        """Put back the ledger of a snapshot (on a ledger of the same accounts and instruments)."""
        cash, holdings = self.arrays.cash, self.arrays.holdings
        cash[:] = 0
        holdings[:] = 0
        for account, available, frozen, proceeds in state.cash:
            a = self.account_index[account]
            cash[a, K_AVAIL], cash[a, K_FROZEN], cash[a, K_PROCEEDS] = available, frozen, proceeds
        for account, instrument, available, frozen, restricted, compliance in state.holdings:
            a, j = self._row(account, instrument)
            holdings[a, j, H_AVAIL], holdings[a, j, H_FROZEN] = available, frozen
            holdings[a, j, H_RESTRICTED], holdings[a, j, H_COMPLIANCE] = restricted, compliance
        self.deposited = state.deposited
        self.withdrawn = state.withdrawn
        self.issued.update(dict(state.issued))
        self.surrendered.update(dict(state.surrendered))
        self.cancelled.update(dict(state.cancelled))
        self.allocated = {(a, i): q for a, i, q in state.allocated}
        self._closed = set(state.closed)
        self.day.restore(state.day)
