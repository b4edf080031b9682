"""Risk control: position limits and the large-holder report.

docs/RULES_COVERAGE.md "End of day, the registry and risk control".

A position is what an account holds of one instrument in every bucket (available, frozen,
restricted, compliance-only) plus what its open buy orders may still bring in. A buy that could
take the position over the account's limit is rejected ``POSITION_LIMIT``; at the end of day every
holding above the large-holder threshold is reported. Both thresholds come per account kind from
config; a covered entity's own free allocation of the instrument is added to both.
"""

from __future__ import annotations

from engine.config import ExchangeConfig
from engine.messages import Reject
from settlement.ledger import Ledger

RejectReason = tuple[Reject, dict[str, object]]


class PositionLimits:
    def __init__(self, config: ExchangeConfig, ledger: Ledger) -> None:
        risk = config.risk
        self.ledger = ledger
        # Per account, resolved once: the checks run on every buy order.
        self._limits: dict[str, int | None] = {a.id: risk.position_limit_t.get(a.kind) for a in config.accounts}
        self._thresholds: dict[str, int | None] = {a.id: risk.large_holder_t.get(a.kind) for a in config.accounts}
        self._add_allocation = frozenset(a.id for a in config.accounts if a.kind in risk.allocation_kinds)

    def _plus_allocation(self, base: int | None, account: str, instrument: str) -> int | None:
        if base is None or account not in self._add_allocation:
            return base
        return base + self.ledger.allocated.get((account, instrument), 0)

    def limit(self, account: str, instrument: str) -> int | None:
        """The account's position limit in the instrument; None when its kind has none."""
        return self._plus_allocation(self._limits[account], account, instrument)

    def large_holder_threshold(self, account: str, instrument: str) -> int | None:
        return self._plus_allocation(self._thresholds[account], account, instrument)

    def check_buy(
        self, account: str, instrument: str, quantity: int, open_buys: dict[tuple[str, str], int]
    ) -> RejectReason | None:
        """Refuse a buy of ``quantity`` more tonnes that could take the position over the limit."""
        # ``limit()``, unrolled: this runs on every buy, and most accounts have no allocation to add.
        limit = self._limits[account]
        if limit is None:
            return None
        key = (account, instrument)
        if account in self._add_allocation:
            limit += self.ledger.allocated.get(key, 0)
        position = self.ledger.total_held(key) + open_buys.get(key, 0)
        if position + quantity > limit:
            return Reject.POSITION_LIMIT, {"position": position, "quantity": quantity, "limit": limit}
        return None
