"""Registry operations (Decree 20 Art. 12-14, 21): the regulator's commands on accounts and their events.

Each is journaled like an order, and each refused one gets a ``RequestRejected`` with a stable code.
Quantities in tonnes, money in fen.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from engine.messages.base import Command, Event
from engine.messages.limits import MAX_SPLIT_PARTS, MAX_UNITS, AccountId, Amount, InstrumentCode, Quantity, Year
from settlement.statements import Units


class DepositCash(Command, frozen=True, kw_only=True, tag=True):
    account: AccountId
    amount: Amount  # fen


class AllocateAllowances(Command, frozen=True, kw_only=True, tag=True):
    """Issue allowances (or credits) of an instrument into an account (free allocation).

    ``compliance_only`` units go to the compliance-only bucket: they can be surrendered but never
    sold or transferred.
    """

    account: AccountId
    instrument: InstrumentCode
    quantity: Quantity
    compliance_only: bool = False


class WithdrawCash(Command, frozen=True, kw_only=True, tag=True):
    """Pay cash out of an account: at most its withdrawable cash (today's sale proceeds are not)."""

    account: AccountId
    amount: Amount  # fen


class SurrenderAllowances(Command, frozen=True, kw_only=True, tag=True):
    """Surrender (清缴) for a covered entity's verified emissions of a compliance year.

    Units are taken in this order: compliance-only allowances of the year's vintage, offsets
    (CCER, SHCER) up to the offset cap, then the year's allowances (available, then restricted).
    A surrender that cannot cover everything records the shortfall; a later surrender for the
    same year and the same verified emissions continues where it stopped.
    """

    account: AccountId
    compliance_year: Year
    verified_emissions: Quantity  # t CO2e


class CancelAllowances(Command, frozen=True, kw_only=True, tag=True):
    """Voluntary cancellation (自愿注销): the units leave circulation for good."""

    account: AccountId
    instrument: InstrumentCode
    quantity: Quantity


class CarryOverAllowances(Command, frozen=True, kw_only=True, tag=True):
    """Carry surplus units of an instrument over to the later vintage its configured rule names."""

    account: AccountId
    instrument: InstrumentCode
    quantity: Quantity


class MergeAccounts(Command, frozen=True, kw_only=True, tag=True):
    """Merger: everything ``account`` holds passes to ``successor``, and ``account`` is closed."""

    account: AccountId
    successor: AccountId


class SplitPart(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    account: AccountId
    cash: Amount = 0
    holdings: Annotated[list[Units], msgspec.Meta(max_length=MAX_UNITS)] = msgspec.field(default_factory=list)


class SplitAccount(Command, frozen=True, kw_only=True, tag=True):
    """Split: the given cash and units pass from ``account`` to each part's account."""

    account: AccountId
    parts: Annotated[list[SplitPart], msgspec.Meta(max_length=MAX_SPLIT_PARTS)]


# ----------------------------------------------------------------------------------------------
# Events


class CashDeposited(Event, frozen=True, kw_only=True, tag=True):
    account: str
    amount: int


class AllowancesAllocated(Event, frozen=True, kw_only=True, tag=True):
    account: str
    instrument: str
    quantity: int
    compliance_only: bool = False


class CashWithdrawn(Event, frozen=True, kw_only=True, tag=True):
    account: str
    amount: int


class AllowancesSurrendered(Event, frozen=True, kw_only=True, tag=True):
    """A surrender and the compliance record it leaves (cumulative over the year's surrenders)."""

    account: str
    compliance_year: int
    verified_emissions: int
    surrendered: list[Units]  # by this command
    covered: int  # t covered so far for the year
    offsets_used: int  # of which offsets (never above the cap)
    offset_cap: int
    shortfall: int  # verified emissions − covered
    complete: bool


class AllowancesCancelled(Event, frozen=True, kw_only=True, tag=True):
    account: str
    instrument: str
    quantity: int


class AllowancesCarriedOver(Event, frozen=True, kw_only=True, tag=True):
    account: str
    instrument: str
    to_instrument: str
    quantity: int


class AccountsMerged(Event, frozen=True, kw_only=True, tag=True):
    account: str
    successor: str
    cash: int
    holdings: list[Units]


class AccountSplit(Event, frozen=True, kw_only=True, tag=True):
    account: str
    parts: list[SplitPart]
