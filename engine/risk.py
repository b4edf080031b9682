"""Risk control (RULES.md "Risk control"): position limits and the large-holder report.

A position is what an account holds of one instrument in every bucket (available, frozen,
restricted, compliance-only) plus what its open buy orders may still bring in. A buy that could
take the position over the account's limit is rejected ``POSITION_LIMIT``; at the end of day every
holding above the large-holder threshold is reported. Both thresholds come per account kind from
config; a covered entity's own free allocation of the instrument is added to both.
"""

from __future__ import annotations

from engine.config import Account, ExchangeConfig
from engine.messages import Reject
from settlement.ledger import Ledger

RejectReason = tuple[Reject, dict[str, object]]


class PositionLimits:
    def __init__(self, config: ExchangeConfig, ledger: Ledger) -> None:
        self.risk = config.risk
        self.ledger = ledger
        self.accounts: dict[str, Account] = {a.id: a for a in config.accounts}

    def _allocation(self, account: Account, instrument: str) -> int:
        if account.kind not in self.risk.allocation_kinds:
            return 0
        return self.ledger.allocated.get((account.id, instrument), 0)

    def limit(self, account_id: str, instrument: str) -> int | None:
        """The account's position limit in the instrument; None when its kind has none."""
        account = self.accounts[account_id]
        base = self.risk.position_limit_t.get(account.kind)
        return None if base is None else base + self._allocation(account, instrument)

    def large_holder_threshold(self, account_id: str, instrument: str) -> int | None:
        account = self.accounts[account_id]
        base = self.risk.large_holder_t.get(account.kind)
        return None if base is None else base + self._allocation(account, instrument)

    def check_buy(
        self, account: str, instrument: str, quantity: int, open_buys: dict[tuple[str, str], int]
    ) -> RejectReason | None:
        """Refuse a buy of ``quantity`` more tonnes that could take the position over the limit."""
        limit = self.limit(account, instrument)
        if limit is None:
            return None
        position = self.ledger.holding(account, instrument).total + open_buys.get((account, instrument), 0)
        if position + quantity > limit:
            return Reject.POSITION_LIMIT, {"position": position, "quantity": quantity, "limit": limit}
        return None
