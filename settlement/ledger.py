"""The ledger: cash and allowance balances of every account, freezes, DvP transfers and fees.

Full pre-funding (RULES.md "Pre-funding, settlement and the registry"): a buy freezes cash, a sell
freezes allowances, before the order may rest or trade; a trade then moves both legs in one ledger
transaction (delivery versus payment) and charges each side its fee to the exchange's fee account.
No short selling, no credit, no overdraft: every debit comes from a freeze made beforehand, and a
freeze is refused when the available balance does not cover it.

Buckets per account:
- cash: ``available`` (usable for buying), ``frozen`` (held by open buy orders);
  ``proceeds_today`` is the part of ``available`` that came from today's sales: usable for buying at
  once, withdrawable only from the next trading day.
- allowances per instrument: ``available`` (sellable), ``frozen`` (held by open sell orders),
  ``restricted`` (bought today; sellable from the next trading day — same-day resale is forbidden).

Money in fen, quantities in tonnes, rates in parts per million; all integers.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

PPM = 1_000_000


def fee_for(value: int, rate_ppm: int) -> int:
    """The fee on a traded value: ``value × rate``, rounded half-up to the fen (value ≥ 0)."""
    return (value * rate_ppm + PPM // 2) // PPM


class CashBalance(msgspec.Struct, kw_only=True):
    available: int = 0
    frozen: int = 0
    proceeds_today: int = 0

    @property
    def total(self) -> int:
        return self.available + self.frozen

    @property
    def withdrawable(self) -> int:
        return self.available - min(self.available, self.proceeds_today)


class Holding(msgspec.Struct, kw_only=True):
    available: int = 0
    frozen: int = 0
    restricted: int = 0

    @property
    def total(self) -> int:
        return self.available + self.frozen + self.restricted


class LedgerState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """The ledger in canonical (sorted) order, for snapshots and the state hash."""

    cash: list[tuple[str, int, int, int]]  # account, available, frozen, proceeds_today
    holdings: list[tuple[str, str, int, int, int]]  # account, instrument, available, frozen, restricted
    deposited: int
    issued: list[tuple[str, int]]  # instrument, quantity


class LedgerError(Exception):
    """An internal invariant broke (a debit without its freeze). Never caused by a client."""


class Ledger:
    def __init__(self, accounts: Iterable[str], instruments: Iterable[str], fee_account: str) -> None:
        self._cash: dict[str, CashBalance] = {a: CashBalance() for a in accounts}
        self._instruments = tuple(instruments)
        self._holdings: dict[tuple[str, str], Holding] = {}
        self.fee_account = fee_account
        self.deposited = 0
        self.issued: dict[str, int] = dict.fromkeys(self._instruments, 0)
        if fee_account not in self._cash:
            raise LedgerError(f"fee account {fee_account!r} is not an account")

    # ------------------------------------------------------------------ reading
    def has_account(self, account: str) -> bool:
        return account in self._cash

    def cash(self, account: str) -> CashBalance:
        return self._cash[account]

    def holding(self, account: str, instrument: str) -> Holding:
        key = (account, instrument)
        holding = self._holdings.get(key)
        if holding is None:
            holding = self._holdings[key] = Holding()
        return holding

    def total_cash(self) -> int:
        return sum(c.total for c in self._cash.values())

    def total_holdings(self, instrument: str) -> int:
        return sum(h.total for (_, i), h in self._holdings.items() if i == instrument)

    # ------------------------------------------------------------------ registry
    def deposit(self, account: str, amount: int) -> None:
        self._cash[account].available += amount
        self.deposited += amount

    def allocate(self, account: str, instrument: str, quantity: int) -> None:
        self.holding(account, instrument).available += quantity
        self.issued[instrument] += quantity

    # ------------------------------------------------------------------ freezes
    def freeze_cash(self, account: str, amount: int) -> bool:
        cash = self._cash[account]
        if amount > cash.available:
            return False
        cash.available -= amount
        cash.frozen += amount
        return True

    def release_cash(self, account: str, amount: int) -> None:
        cash = self._cash[account]
        if amount > cash.frozen:
            raise LedgerError(f"release of {amount} fen exceeds frozen {cash.frozen} of {account}")
        cash.frozen -= amount
        cash.available += amount

    def freeze_allowances(self, account: str, instrument: str, quantity: int) -> bool:
        holding = self.holding(account, instrument)
        if quantity > holding.available:
            return False
        holding.available -= quantity
        holding.frozen += quantity
        return True

    def release_allowances(self, account: str, instrument: str, quantity: int) -> None:
        holding = self.holding(account, instrument)
        if quantity > holding.frozen:
            raise LedgerError(f"release of {quantity} t exceeds frozen {holding.frozen} of {account}")
        holding.frozen -= quantity
        holding.available += quantity

    # ------------------------------------------------------------------ DvP
    def settle_trade(
        self,
        *,
        buyer: str,
        seller: str,
        instrument: str,
        quantity: int,
        value: int,
        buyer_fee: int,
        seller_fee: int,
    ) -> None:
        """Move both legs of one trade and both fees in one transaction.

        The buyer pays value + fee out of its frozen cash; the seller delivers out of its frozen
        allowances and receives value − fee; the allowances land in the buyer's restricted bucket
        until the next trading day; both fees go to the fee account.
        """
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

    # ------------------------------------------------------------------ end of day
    def end_of_day(self) -> None:
        """Lift the same-day resale restriction and make today's sale proceeds withdrawable."""
        for holding in self._holdings.values():
            holding.available += holding.restricted
            holding.restricted = 0
        for cash in self._cash.values():
            cash.proceeds_today = 0

    # ------------------------------------------------------------------ state
    def state(self) -> LedgerState:
        return LedgerState(
            cash=[(a, c.available, c.frozen, c.proceeds_today) for a, c in sorted(self._cash.items())],
            holdings=[
                (a, i, h.available, h.frozen, h.restricted) for (a, i), h in sorted(self._holdings.items()) if h.total
            ],
            deposited=self.deposited,
            issued=sorted(self.issued.items()),
        )

    def restore(self, state: LedgerState) -> None:
        for account, available, frozen, proceeds in state.cash:
            self._cash[account] = CashBalance(available=available, frozen=frozen, proceeds_today=proceeds)
        self._holdings = {
            (a, i): Holding(available=av, frozen=fr, restricted=re) for a, i, av, fr, re in state.holdings
        }
        self.deposited = state.deposited
        self.issued.update(dict(state.issued))
