"""Agreement transfer (协议转让): bulk bilateral trades, proposed to a named counterparty and settled
at once when it accepts (``Transfers``; docs/RULES_COVERAGE.md "Agreement transfer")."""

from engine.transfer.mechanism import Proposal, Transfers, TransferState

__all__ = ["Proposal", "TransferState", "Transfers"]
