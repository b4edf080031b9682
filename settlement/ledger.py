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

Registry operations (allocation, surrender, cancellation, carry-over, merger, split) change the
totals the conservation check holds the balances to (docs/RULES_COVERAGE.md "End of day, the registry
and risk control"): for each instrument
Σ holdings = issued − surrendered − cancelled, and Σ cash = deposited − withdrawn. Every movement
that changes an account's total is also recorded in ``day`` for the end-of-day statements.

Money in fen, quantities in tonnes, rates in parts per million; all integers.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from settlement.statements import AccountDay, ConservationMismatch, DayActivity, DayActivityState

PPM = 1_000_000
HALF_PPM = PPM // 2


def fee_for(value: int, rate_ppm: int) -> int:
    """The fee on a traded value: ``value × rate``, rounded half-up to the fen (value ≥ 0)."""
    return (value * rate_ppm + HALF_PPM) // PPM


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
    compliance: int = 0

    @property
    def total(self) -> int:
        return self.available + self.frozen + self.restricted + self.compliance


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
    def __init__(self, accounts: Iterable[str], instruments: Iterable[str], fee_account: str) -> None:
        self._cash: dict[str, CashBalance] = {a: CashBalance() for a in accounts}
        self._instruments = tuple(instruments)
        self._holdings: dict[tuple[str, str], Holding] = {}
        self.fee_account = fee_account
        self.deposited = 0
        self.withdrawn = 0
        self.issued: dict[str, int] = dict.fromkeys(self._instruments, 0)
        self.surrendered: dict[str, int] = dict.fromkeys(self._instruments, 0)
        self.cancelled: dict[str, int] = dict.fromkeys(self._instruments, 0)
        self.allocated: dict[tuple[str, str], int] = {}
        self.closed: set[str] = set()
        self.day = DayActivity()
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

    def total_held(self, key: tuple[str, str]) -> int:
        """What an (account, instrument) holds in every bucket; reads without creating a holding."""
        holding = self._holdings.get(key)
        return 0 if holding is None else holding.total

    def total_cash(self) -> int:
        return sum(c.total for c in self._cash.values())

    def total_holdings(self, instrument: str) -> int:
        return sum(h.total for (_, i), h in self._holdings.items() if i == instrument)

    def accounts(self) -> list[str]:
        return sorted(self._cash)

    def holdings(self) -> list[tuple[tuple[str, str], Holding]]:
        """Every (account, instrument) holding, in that order."""
        return sorted(self._holdings.items())

    def holdings_of(self, account: str) -> list[tuple[str, Holding]]:
        """The account's non-empty holdings, in instrument order."""
        return [(i, h) for (a, i), h in sorted(self._holdings.items()) if a == account and h.total]

    # ------------------------------------------------------------------ registry
    def deposit(self, account: str, amount: int) -> None:
        self._cash[account].available += amount
        self.deposited += amount
        self.day.move(account, "", "deposits", amount)

    def withdraw(self, account: str, amount: int) -> None:
        cash = self._cash[account]
        if amount > cash.withdrawable:
            raise LedgerError(f"withdrawal of {amount} fen exceeds withdrawable {cash.withdrawable} of {account}")
        cash.available -= amount
        self.withdrawn += amount
        self.day.move(account, "", "withdrawals", amount)

    def allocate(self, account: str, instrument: str, quantity: int, compliance_only: bool = False) -> None:
        holding = self.holding(account, instrument)
        if compliance_only:
            holding.compliance += quantity
        else:
            holding.available += quantity
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
        self._debit(account, instrument, "available", quantity)
        self.cancelled[instrument] += quantity
        self.holding(account, to_instrument).available += quantity
        self.issued[to_instrument] += quantity
        self.day.move(account, instrument, "carried_out", quantity)
        self.day.move(account, to_instrument, "carried_in", quantity)

    def transfer(self, account: str, to: str, cash: int, units: Iterable[tuple[str, str, int]]) -> None:
        """Merger or split: move cash and (instrument, bucket, quantity) units between two accounts.

        The units keep their bucket, so restricted and compliance-only units stay so.
        """
        source = self._cash[account]
        if cash > source.available:
            raise LedgerError(f"transfer of {cash} fen exceeds available {source.available} of {account}")
        source.available -= cash
        source.proceeds_today -= min(source.proceeds_today, cash)
        self._cash[to].available += cash
        if cash:
            self.day.move(account, "", "transferred_out", cash)
            self.day.move(to, "", "transferred_in", cash)
        for instrument, bucket, quantity in units:
            self._debit(account, instrument, bucket, quantity)
            target = self.holding(to, instrument)
            setattr(target, bucket, getattr(target, bucket) + quantity)
            self.day.move(account, instrument, "transferred_out", quantity)
            self.day.move(to, instrument, "transferred_in", quantity)

    def pass_allocation(self, account: str, successor: str) -> None:
        """A merger passes the free allocation (and with it the position limit) to the successor."""
        for (holder, instrument), quantity in sorted(self.allocated.items()):
            if holder == account:
                key = (successor, instrument)
                self.allocated[key] = self.allocated.get(key, 0) + quantity

    def _debit(self, account: str, instrument: str, bucket: str, quantity: int) -> None:
        holding = self.holding(account, instrument)
        held = getattr(holding, bucket)
        if quantity > held:
            raise LedgerError(f"debit of {quantity} t exceeds {bucket} {held} of {account} in {instrument}")
        setattr(holding, bucket, held - quantity)

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
        released = self.day.released
        released[account] = released.get(account, 0) + amount

    def freeze_allowances(self, account: str, instrument: str, quantity: int) -> bool:
        # The order path reads the dict first and calls ``holding()`` (which creates a missing
        # holding) only when it has to: a method call per order is measurable here.
        holding = self._holdings.get((account, instrument)) or self.holding(account, instrument)
        if quantity > holding.available:
            return False
        holding.available -= quantity
        holding.frozen += quantity
        return True

    def release_allowances(self, account: str, instrument: str, quantity: int) -> None:
        holding = self._holdings.get((account, instrument)) or self.holding(account, instrument)
        if quantity > holding.frozen:
            raise LedgerError(f"release of {quantity} t exceeds frozen {holding.frozen} of {account}")
        holding.frozen -= quantity
        holding.available += quantity

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
    ) -> None:
        """Move both legs of one trade and both fees in one transaction.

        The buyer pays value + fee out of its frozen cash; the seller delivers out of its frozen
        allowances and receives value − fee; the allowances land in the buyer's restricted bucket
        until the next trading day; both fees go to the fee account.
        """
        value = price * quantity
        cash, holdings = self._cash, self._holdings
        buyer_cash = cash[buyer]
        sell_holding = holdings.get((seller, instrument)) or self.holding(seller, instrument)
        if value + buyer_fee > buyer_cash.frozen or quantity > sell_holding.frozen:
            raise LedgerError(f"trade of {quantity} t for {value} fen not covered by the freezes")
        buyer_cash.frozen -= value + buyer_fee
        seller_cash = cash[seller]
        proceeds = value - seller_fee
        seller_cash.available += proceeds
        seller_cash.proceeds_today += proceeds
        cash[self.fee_account].available += buyer_fee + seller_fee
        sell_holding.frozen -= quantity
        buy_holding = holdings.get((buyer, instrument)) or self.holding(buyer, instrument)
        buy_holding.restricted += quantity
        self.day.trades.append((trade_id, instrument, price, quantity, buyer, seller, buyer_fee, seller_fee))

    # ------------------------------------------------------------------ end of day
    def end_of_day(self) -> None:
        """Lift the same-day resale restriction and make today's sale proceeds withdrawable."""
        for key, holding in self._holdings.items():
            if holding.restricted:
                self.day.released_restricted[key] = holding.restricted
                holding.available += holding.restricted
                holding.restricted = 0
        for cash in self._cash.values():
            cash.proceeds_today = 0

    def statements(self) -> list[AccountDay]:
        """The statements since the last end of day (call after ``end_of_day``)."""
        cash = {a: (c.total, c.frozen, c.withdrawable) for a, c in self._cash.items()}
        holdings = {k: (h.total, h.compliance) for k, h in self._holdings.items()}
        return self.day.statements(cash, holdings, self.fee_account)

    def start_next_statements(self) -> None:
        self.day.start_next(
            {a: c.total for a, c in self._cash.items()},
            {k: h.total for k, h in self._holdings.items()},
        )

    def conservation(self) -> list[ConservationMismatch]:
        """Every asset whose balances do not add up to what the registry issued and retired."""
        mismatches = []
        for instrument in self._instruments:
            expected = self.issued[instrument] - self.surrendered[instrument] - self.cancelled[instrument]
            actual = self.total_holdings(instrument)
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
            cash=[(a, c.available, c.frozen, c.proceeds_today) for a, c in sorted(self._cash.items())],
            holdings=[
                (a, i, h.available, h.frozen, h.restricted, h.compliance)
                for (a, i), h in sorted(self._holdings.items())
                if h.total
            ],
            deposited=self.deposited,
            withdrawn=self.withdrawn,
            issued=sorted(self.issued.items()),
            surrendered=sorted(self.surrendered.items()),
            cancelled=sorted(self.cancelled.items()),
            allocated=[(a, i, q) for (a, i), q in sorted(self.allocated.items())],
            closed=sorted(self.closed),
            day=self.day.state(),
        )

    def restore(self, state: LedgerState) -> None:
        for account, available, frozen, proceeds in state.cash:
            self._cash[account] = CashBalance(available=available, frozen=frozen, proceeds_today=proceeds)
        self._holdings = {
            (a, i): Holding(available=av, frozen=fr, restricted=re, compliance=co)
            for a, i, av, fr, re, co in state.holdings
        }
        self.deposited = state.deposited
        self.withdrawn = state.withdrawn
        self.issued.update(dict(state.issued))
        self.surrendered.update(dict(state.surrendered))
        self.cancelled.update(dict(state.cancelled))
        self.allocated = {(a, i): q for a, i, q in state.allocated}
        self.closed = set(state.closed)
        self.day = DayActivity.restore(state.day)
