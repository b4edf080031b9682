"""Who may send which command (docs/PROTOCOL.md §4.14 "Roles"), checked before anything is sequenced.

- ``member``: orders, cancels, amends and mass cancels, agreement transfers (propose, accept,
  reject, cancel), auction bids (submit, amend, withdraw) and one-way applications (apply, and
  withdraw its own: ``CancelAuction`` naming its account), on its own accounts only. An account of
  another member is refused exactly like an account that does not exist (UNKNOWN_ACCOUNT), and
  another member's order id is the engine's UNKNOWN_ORDER (a transfer id it is no party to,
  UNKNOWN_TRANSFER; a bid id, UNKNOWN_BID; an application, UNKNOWN_AUCTION): nothing says the other
  exists. A proposal's ``counterparty`` is another member's account by design: only ``account`` is
  checked. A ``CancelAuction`` without an account is the regulator's: NOT_AUTHORISED.
- ``regulator``: halts and resumes, the trading day's session commands, registry operations (and
  ``RecordRegistryFile``, the record of a registry file that leads its batch), cancels of any
  account's orders and transfer proposals (an emergency power), and the auctions' own commands
  (announce, approve, open, close, clear, cancel with ``account`` "", load daily figures); it does
  not trade, and bids for nobody.
- ``surveillance``: read-only; every command is NOT_AUTHORISED.
"""

from __future__ import annotations

from collections.abc import Container, Sequence

from engine.messages import (
    AcceptTransfer,
    AllocateAllowances,
    AmendBid,
    AmendOrder,
    AnnounceAuction,
    ApplyAuction,
    ApproveAuction,
    CancelAllOrders,
    CancelAllowances,
    CancelAuction,
    CancelOrder,
    CancelTransfer,
    CarryOverAllowances,
    ClearAuction,
    CloseAuction,
    Command,
    DepositCash,
    EndOfDay,
    HaltInstrument,
    HaltMarket,
    LoadDailyFigures,
    MergeAccounts,
    NewOrder,
    OpenAuction,
    ProposeTransfer,
    RecordRegistryFile,
    Reject,
    RejectTransfer,
    ResumeInstrument,
    ResumeMarket,
    SetSession,
    SplitAccount,
    StartOfDay,
    SubmitBid,
    SurrenderAllowances,
    WithdrawBid,
    WithdrawCash,
)
from gateway.access import MemberAccess

MEMBER_COMMANDS: tuple[type[Command], ...] = (
    NewOrder,
    CancelOrder,
    AmendOrder,
    CancelAllOrders,
    ProposeTransfer,
    AcceptTransfer,
    RejectTransfer,
    CancelTransfer,
    SubmitBid,
    AmendBid,
    WithdrawBid,
    ApplyAuction,
    CancelAuction,  # an applicant withdrawing its own application (``account`` set)
)
REGULATOR_COMMANDS: tuple[type[Command], ...] = (
    HaltInstrument,
    ResumeInstrument,
    HaltMarket,
    ResumeMarket,
    StartOfDay,
    SetSession,
    EndOfDay,
    DepositCash,
    AllocateAllowances,
    WithdrawCash,
    SurrenderAllowances,
    CancelAllowances,
    CarryOverAllowances,
    MergeAccounts,
    SplitAccount,
    CancelOrder,
    CancelAllOrders,
    CancelTransfer,
    RecordRegistryFile,
    AnnounceAuction,
    ApproveAuction,
    OpenAuction,
    CloseAuction,
    ClearAuction,
    CancelAuction,  # any auction, with ``account`` ""
    LoadDailyFigures,
)

Problem = tuple[Reject, dict[str, object]]
# What a member sends most: one account each, no flag to look at (CancelAllOrders has on_disconnect).
_PLAIN_MEMBER_COMMANDS: frozenset[type] = frozenset({NewOrder, CancelOrder, AmendOrder})


def authorise_all(
    access: MemberAccess, commands: Sequence[Command], accounts: Container[str]
) -> tuple[int, Problem] | None:
    """None when ``access`` may send every command; else the first refused one's index and refusal.

    ``accounts``: the member's own accounts (``access.accounts``) in a form quick to look up.
    """
    if access.role == "member":
        for index, command in enumerate(commands):
            if type(command) not in _PLAIN_MEMBER_COMMANDS or getattr(command, "account", "") not in accounts:
                problem = authorise(access, command)
                if problem is not None:
                    return index, problem
        return None
    for index, command in enumerate(commands):
        problem = authorise(access, command)
        if problem is not None:
            return index, problem
    return None


def authorise(access: MemberAccess, command: Command) -> Problem | None:
    """None when ``access`` may send ``command``; else the refusal's code and context."""
    kind = type(command).__name__
    if access.role == "member":
        if not isinstance(command, MEMBER_COMMANDS):
            return Reject.NOT_AUTHORISED, {"command": kind, "role": access.role}
        if isinstance(command, CancelAllOrders) and command.on_disconnect:
            return Reject.NOT_AUTHORISED, {"command": kind, "on_disconnect": True}
        if isinstance(command, CancelAuction) and not command.account:
            # Withdrawing an auction is the regulator's; a member withdraws only its own application.
            return Reject.NOT_AUTHORISED, {"command": kind, "role": access.role}
        account: str = getattr(command, "account", "")
        if account not in access.accounts:
            return Reject.UNKNOWN_ACCOUNT, {"account": account}
        return None
    if access.role == "regulator" and isinstance(command, REGULATOR_COMMANDS):
        return None
    return Reject.NOT_AUTHORISED, {"command": kind, "role": access.role}


def may_see(access: MemberAccess, account: str) -> bool:
    """Queries: a member sees its own accounts; the regulator and surveillance see every account."""
    return access.role != "member" or account in access.accounts
