"""Commands and events of agreement transfer (协议转让): bulk bilateral trades.

A member proposes a transfer to a named counterparty account (``ProposeTransfer``: its own side,
the instrument, the price and the quantity); the counterparty accepts or rejects it; the proposer
may cancel it while it is open. The exchange numbers each proposal (``transfer_id``); an accepted
one settles at once as one bulk trade (``TransferExecuted``). Proposals still open expire when the
afternoon session closes, or at the latest at the end of day (``TransferExpired``).

Every event names both parties: a proposal is seen by the two of them, the regulator and
surveillance, and nobody else. Only an executed transfer is published, on market data's bulk
channel. docs/RULES_COVERAGE.md "Agreement transfer".
"""

from __future__ import annotations

from enum import IntEnum

from engine.messages.base import Command, Event, Side
from engine.messages.limits import AccountId, ClientOrderId, InstrumentCode, OrderId, Price, Quantity


class TransferStatus(IntEnum):
    OPEN = 1  # proposed, waiting for the counterparty
    EXECUTED = 2  # accepted and settled
    REJECTED = 3  # the counterparty said no
    CANCELLED = 4  # the proposer withdrew it
    EXPIRED = 5  # still open when the session closed or the day ended


class ProposeTransfer(Command, frozen=True, kw_only=True, tag=True):
    """Propose a bulk trade to ``counterparty``; ``side`` is the proposer's own (BUY: it buys)."""

    account: AccountId  # the proposer's account
    client_proposal_id: ClientOrderId  # the proposer's own id, unique per account and day
    side: Side
    counterparty: AccountId
    instrument: InstrumentCode
    price: Price  # fen/t
    quantity: Quantity  # tonnes


class AcceptTransfer(Command, frozen=True, kw_only=True, tag=True):
    """The counterparty agrees: its side is checked and frozen, and the trade settles at once."""

    account: AccountId  # the counterparty's account
    transfer_id: OrderId


class RejectTransfer(Command, frozen=True, kw_only=True, tag=True):
    """The counterparty declines: the proposal closes and the proposer's freeze is released."""

    account: AccountId  # the counterparty's account
    transfer_id: OrderId


class CancelTransfer(Command, frozen=True, kw_only=True, tag=True):
    """The proposer withdraws an open proposal; its freeze is released."""

    account: AccountId  # the proposer's account
    transfer_id: OrderId


class TransferProposed(Event, frozen=True, kw_only=True, tag=True):
    transfer_id: int
    account: str  # the proposer's account
    client_proposal_id: str
    side: Side  # the proposer's side
    counterparty: str
    instrument: str
    price: int
    quantity: int
    frozen_cash: int  # a buying proposer: value + the maximum fee
    frozen_quantity: int  # a selling proposer: the tonnes


class TransferAccepted(Event, frozen=True, kw_only=True, tag=True):
    """The counterparty accepted and its side is frozen; ``TransferExecuted`` follows at once."""

    transfer_id: int
    account: str  # the counterparty's account
    proposer: str
    instrument: str
    frozen_cash: int
    frozen_quantity: int


class TransferRejected(Event, frozen=True, kw_only=True, tag=True):
    """The counterparty declined the proposal; the proposer's freeze is released."""

    transfer_id: int
    account: str  # the counterparty's account
    proposer: str
    instrument: str
    released_cash: int  # released to the proposer
    released_quantity: int


class TransferCancelled(Event, frozen=True, kw_only=True, tag=True):
    transfer_id: int
    account: str  # the proposer's account
    counterparty: str
    instrument: str
    released_cash: int
    released_quantity: int


class TransferExpired(Event, frozen=True, kw_only=True, tag=True):
    """An open proposal expired (the session closed, or the day ended); the proposer's freeze is released."""

    transfer_id: int
    account: str  # the proposer's account
    counterparty: str
    instrument: str
    released_cash: int
    released_quantity: int


class TransferExecuted(Event, frozen=True, kw_only=True, tag=True):
    """The bulk trade: settled delivery versus payment, each side paying the agreement fee.

    Outside the listing's figures: it sets no open, high, low, last or close, and no band.
    """

    transfer_id: int
    instrument: str
    price: int
    quantity: int
    buy_account: str
    sell_account: str
    buy_fee: int
    sell_fee: int
    proposer_side: Side
