"""Agreement transfer (协议转让): bulk bilateral trades (docs/RULES_COVERAGE.md "Agreement transfer").

One party proposes a trade to a named counterparty account (its side, the instrument, price and
quantity); the counterparty accepts or rejects it; the proposer may cancel it while it is open.

- Checks, in this order, each failure a reject with its code and ``key=value`` context: the
  proposer's account (known, open, a trading kind: TRANSFER_ACCOUNT_NOT_ELIGIBLE; not prohibited:
  TRANSFER_PARTY_PROHIBITED), its client proposal id, its proposals of the day (at most
  ``max_proposals_per_day``: TOO_MANY_PROPOSALS), the counterparty (not the same account,
  eligible, not prohibited), the instrument, the hours (the configured sessions, the afternoon by
  default: TRANSFER_OUTSIDE_HOURS) and halts, the quantity (at least the minimum:
  TRANSFER_TOO_SMALL; on the lot), the price (on the tick; within ± the band of the reference
  price, rounded inward to the tick, below the free-price quantity: TRANSFER_PRICE_OUT_OF_BAND), and
  the buyer's position limit when the proposer buys (TRANSFER_POSITION_LIMIT).
- Pre-funding: the proposer's side is frozen at the proposal (a seller's tonnes; a buyer's value
  plus the maximum agreement fee). At acceptance both parties are checked again, the buyer's
  position limit too, and the counterparty's side is frozen; one it cannot fund is rejected
  (INSUFFICIENT_FUNDS / INSUFFICIENT_HOLDINGS) and the proposal stays open. Then the trade settles
  delivery versus payment at once through the ledger, each side paying the agreement fee, and the
  bought tonnes are restricted until the next trading day as for any trade.
- A reject by the counterparty, a cancel by the proposer and expiry release the proposer's freeze.
  Proposals still open expire when the last transfer session of the day ends (the afternoon's
  close by default), or at the latest at the end of day.
- Outside the listing: a transfer sets no listing figure (open, high, low, last, close, band); the
  ledger records it as a bulk trade (``METHOD_TRANSFER``) for the bulletin and the statements.

Privacy is the gateway's: every event here names both parties, and only they, the regulator and
surveillance see it; market data publishes an executed transfer alone, on its bulk channel.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import msgspec

from engine.config import TRADING_ACCOUNT_KINDS, Account, Instrument
from engine.mechanism import Context, Handler, Mechanism, Rejection, rejected
from engine.messages import (
    AcceptTransfer,
    CancelTransfer,
    Command,
    Event,
    ProposeTransfer,
    Reject,
    RejectTransfer,
    RequestRejected,
    Session,
    Side,
    TransferAccepted,
    TransferCancelled,
    TransferExecuted,
    TransferExpired,
    TransferProposed,
    TransferRejected,
    TransferStatus,
)
from engine.prices import band_limits
from engine.risk import PositionLimits
from settlement.arrays import METHOD_TRANSFER
from settlement.ledger import fee_for

_SESSIONS = {"morning": Session.MORNING, "afternoon": Session.AFTERNOON}


class Proposal(msgspec.Struct, kw_only=True, array_like=True):
    """One proposal of the day, open or closed; ``frozen_*`` is what the proposer has frozen now."""

    transfer_id: int
    proposer: str
    client_proposal_id: str
    side: Side  # the proposer's
    counterparty: str
    instrument: str
    price: int
    quantity: int
    status: TransferStatus = TransferStatus.OPEN
    frozen_cash: int = 0
    frozen_quantity: int = 0

    @property
    def buyer(self) -> str:
        return self.proposer if self.side is Side.BUY else self.counterparty

    @property
    def seller(self) -> str:
        return self.counterparty if self.side is Side.BUY else self.proposer


class TransferState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """The transfers' part of the state: the day's proposals by id, and the next id."""

    proposals: list[Proposal]
    next_transfer_id: int


class Transfers(Mechanism):
    name = "transfer"
    State = TransferState

    def __init__(self, context: Context) -> None:
        config = context.config
        self.rules = config.transfer
        self.rate_ppm = config.fees.agreement_ppm
        self.ledger = context.ledger
        self.market = context.market
        self.listing = context.listing
        self.risk = PositionLimits(config, self.ledger)
        self.accounts: dict[str, Account] = {a.id: a for a in config.accounts}
        self.instruments: dict[str, Instrument] = {i.code: i for i in config.instruments}
        self.sessions = frozenset(_SESSIONS[name] for name in self.rules.sessions)
        self.last_session = max(self.sessions)  # sessions come in the order of their values
        self.proposals: dict[int, Proposal] = {}  # today's, by transfer id (ascending)
        self.client_ids: set[tuple[str, str]] = set()  # (proposer, client proposal id) used today
        self.proposed: dict[str, int] = {}  # proposals made today per proposer (from ``proposals``)
        self.next_transfer_id = 1

    # ------------------------------------------------------------------ the mechanism
    def handlers(self) -> Mapping[type[Command], Handler]:
        return {
            ProposeTransfer: self._propose,
            AcceptTransfer: self._accept,
            RejectTransfer: self._reject,
            CancelTransfer: self._cancel,
        }

    def state(self) -> TransferState:
        return TransferState(
            proposals=[msgspec.structs.replace(p) for p in self.proposals.values()],
            next_transfer_id=self.next_transfer_id,
        )

    def restore(self, state: TransferState) -> None:
        self.proposals = {p.transfer_id: msgspec.structs.replace(p) for p in state.proposals}
        self.client_ids = {(p.proposer, p.client_proposal_id) for p in state.proposals}
        self.proposed = dict(Counter(p.proposer for p in state.proposals))
        self.next_transfer_id = state.next_transfer_id

    def check(self) -> None:
        ids = list(self.proposals)
        assert ids == sorted(ids) and all(i < self.next_transfer_id for i in ids), "transfer ids out of order"
        assert self.client_ids == {(p.proposer, p.client_proposal_id) for p in self.proposals.values()}
        assert self.proposed == dict(Counter(p.proposer for p in self.proposals.values()))
        for p in self.proposals.values():
            if p.status is TransferStatus.OPEN:
                expected = (self._cash_needed(p), 0) if p.side is Side.BUY else (0, p.quantity)
                assert (p.frozen_cash, p.frozen_quantity) == expected, f"transfer {p.transfer_id}: freeze"
            else:
                assert not (p.frozen_cash or p.frozen_quantity), f"transfer {p.transfer_id}: closed but frozen"
        for account, instrument, cash, quantity in self.open_freezes():
            assert self.ledger.cash(account).frozen >= cash, f"{account}: transfer freeze above frozen cash"
            assert self.ledger.holding(account, instrument).frozen >= quantity, f"{account}: above frozen units"

    def session_changed(self, session: Session, ts: int) -> list[Event]:
        """The last transfer session of the day has ended (the afternoon's close by default): every
        proposal still open expires, since none could be accepted before the end of day."""
        over = session is Session.CLOSED or session > self.last_session
        return self._expire_all(ts) if over else []

    def end_of_day(self, trading_day: int, ts: int) -> list[Event]:
        """What is still open expires (a day closed without its sessions), and the day's proposals go."""
        events = self._expire_all(ts)
        self.proposals = {}
        self.client_ids = set()
        self.proposed = {}
        return events

    # ------------------------------------------------------------------ what the view reads
    def open_freezes(self) -> list[tuple[str, str, int, int]]:
        """(proposer, instrument, frozen cash, frozen tonnes) of every open proposal, by id."""
        return [
            (p.proposer, p.instrument, p.frozen_cash, p.frozen_quantity)
            for p in self.proposals.values()
            if p.status is TransferStatus.OPEN
        ]

    # ------------------------------------------------------------------ commands
    def _propose(self, cmd: ProposeTransfer, ts: int) -> list[Event]:
        try:
            proposal = self._check_proposal(cmd)
        except Rejection as no:
            return [self._refused(cmd, no, ts)]
        if proposal.side is Side.BUY:
            proposal.frozen_cash = needed = self._cash_needed(proposal)
            if not self.ledger.freeze_cash(cmd.account, needed):
                available = self.ledger.cash(cmd.account).available
                return [_rejected(cmd, Reject.INSUFFICIENT_FUNDS, ts, required=needed, available=available)]
        else:
            proposal.frozen_quantity = cmd.quantity
            if not self.ledger.freeze_allowances(cmd.account, cmd.instrument, cmd.quantity):
                available = self.ledger.holding(cmd.account, cmd.instrument).available
                return [
                    _rejected(
                        cmd,
                        Reject.INSUFFICIENT_HOLDINGS,
                        ts,
                        instrument=cmd.instrument,
                        required=cmd.quantity,
                        available=available,
                    )
                ]
        self.proposals[proposal.transfer_id] = proposal
        self.client_ids.add((cmd.account, cmd.client_proposal_id))
        self.proposed[cmd.account] = self.proposed.get(cmd.account, 0) + 1
        self.next_transfer_id += 1
        return [
            TransferProposed(
                ts_event=ts,
                transfer_id=proposal.transfer_id,
                account=cmd.account,
                client_proposal_id=cmd.client_proposal_id,
                side=cmd.side,
                counterparty=cmd.counterparty,
                instrument=cmd.instrument,
                price=cmd.price,
                quantity=cmd.quantity,
                frozen_cash=proposal.frozen_cash,
                frozen_quantity=proposal.frozen_quantity,
            )
        ]

    def _accept(self, cmd: AcceptTransfer, ts: int) -> list[Event]:
        try:
            proposal = self._open_proposal(cmd.transfer_id, cmd.account, counterparty=True)
            self._check_party(proposal.proposer, "proposer")
            self._check_party(proposal.counterparty, "counterparty")
            self._check_open(proposal.instrument)
            if proposal.side is Side.SELL:  # the accepting counterparty buys
                self._check_position(proposal.buyer, proposal.instrument, proposal.quantity)
            else:  # the proposer buys: its own open proposal is already counted
                self._check_position(proposal.buyer, proposal.instrument, 0)
        except Rejection as no:
            return [self._refused(cmd, no, ts)]
        ledger, account, instrument = self.ledger, cmd.account, proposal.instrument
        value = proposal.price * proposal.quantity
        fee = fee_for(value, self.rate_ppm)
        frozen_cash = frozen_quantity = 0
        if proposal.side is Side.SELL:
            frozen_cash = value + fee
            if not ledger.freeze_cash(account, frozen_cash):
                available = ledger.cash(account).available
                return [_rejected(cmd, Reject.INSUFFICIENT_FUNDS, ts, required=frozen_cash, available=available)]
        else:
            frozen_quantity = proposal.quantity
            if not ledger.freeze_allowances(account, instrument, frozen_quantity):
                available = ledger.holding(account, instrument).available
                return [
                    _rejected(
                        cmd,
                        Reject.INSUFFICIENT_HOLDINGS,
                        ts,
                        instrument=instrument,
                        required=frozen_quantity,
                        available=available,
                    )
                ]
        ledger.settle_trade(
            trade_id=proposal.transfer_id,
            buyer=proposal.buyer,
            seller=proposal.seller,
            instrument=instrument,
            price=proposal.price,
            quantity=proposal.quantity,
            buyer_fee=fee,
            seller_fee=fee,
            method=METHOD_TRANSFER,
        )
        proposal.status = TransferStatus.EXECUTED
        proposal.frozen_cash = proposal.frozen_quantity = 0
        return [
            TransferAccepted(
                ts_event=ts,
                transfer_id=proposal.transfer_id,
                account=account,
                proposer=proposal.proposer,
                instrument=instrument,
                frozen_cash=frozen_cash,
                frozen_quantity=frozen_quantity,
            ),
            TransferExecuted(
                ts_event=ts,
                transfer_id=proposal.transfer_id,
                instrument=instrument,
                price=proposal.price,
                quantity=proposal.quantity,
                buy_account=proposal.buyer,
                sell_account=proposal.seller,
                buy_fee=fee,
                sell_fee=fee,
                proposer_side=proposal.side,
            ),
        ]

    def _reject(self, cmd: RejectTransfer, ts: int) -> list[Event]:
        return self._close_by(cmd, ts, TransferStatus.REJECTED)

    def _cancel(self, cmd: CancelTransfer, ts: int) -> list[Event]:
        return self._close_by(cmd, ts, TransferStatus.CANCELLED)

    def _close_by(self, cmd: RejectTransfer | CancelTransfer, ts: int, status: TransferStatus) -> list[Event]:
        """The counterparty rejects (REJECTED) or the proposer cancels (CANCELLED) an open proposal."""
        try:
            proposal = self._open_proposal(cmd.transfer_id, cmd.account, counterparty=status is TransferStatus.REJECTED)
        except Rejection as no:
            return [self._refused(cmd, no, ts)]
        return [self._close(proposal, status, ts)]

    def _expire_all(self, ts: int) -> list[Event]:
        return [
            self._close(proposal, TransferStatus.EXPIRED, ts)
            for proposal in self.proposals.values()
            if proposal.status is TransferStatus.OPEN
        ]

    # ------------------------------------------------------------------ checks
    def _check_proposal(self, cmd: ProposeTransfer) -> Proposal:
        """The proposal ``cmd`` makes, once every check passed (raises ``Rejection``)."""
        self._check_party(cmd.account, "proposer")
        max_length = self.rules.client_proposal_id_max_length
        if not cmd.client_proposal_id or len(cmd.client_proposal_id) > max_length:
            raise Rejection(Reject.INVALID_PROPOSAL_ID, length=len(cmd.client_proposal_id), max=max_length)
        if (cmd.account, cmd.client_proposal_id) in self.client_ids:
            raise Rejection(Reject.DUPLICATE_PROPOSAL_ID, client_proposal_id=cmd.client_proposal_id)
        most = self.rules.max_proposals_per_day
        if self.proposed.get(cmd.account, 0) >= most:
            raise Rejection(Reject.TOO_MANY_PROPOSALS, account=cmd.account, max=most)
        if cmd.counterparty == cmd.account:
            raise Rejection(Reject.TRANSFER_SAME_ACCOUNT, account=cmd.account)
        self._check_party(cmd.counterparty, "counterparty")
        instrument = self.instruments.get(cmd.instrument)
        if instrument is None:
            raise Rejection(Reject.UNKNOWN_INSTRUMENT, instrument=cmd.instrument)
        self._check_open(instrument.code)
        rules = self.rules
        if cmd.quantity < rules.min_quantity_t:
            raise Rejection(Reject.TRANSFER_TOO_SMALL, quantity=cmd.quantity, min=rules.min_quantity_t)
        if cmd.quantity % instrument.lot_t:
            raise Rejection(Reject.INVALID_LOT, quantity=cmd.quantity, lot=instrument.lot_t)
        if cmd.price <= 0:
            raise Rejection(Reject.INVALID_PRICE, price=cmd.price)
        if cmd.price % instrument.tick_fen:
            raise Rejection(Reject.INVALID_TICK, price=cmd.price, tick=instrument.tick_fen)
        if cmd.quantity < rules.free_price_from_t:
            lower, upper = self.band(instrument)
            if not lower <= cmd.price <= upper:
                raise Rejection(Reject.TRANSFER_PRICE_OUT_OF_BAND, price=cmd.price, lower=lower, upper=upper)
        if cmd.side is Side.BUY:
            self._check_position(cmd.account, cmd.instrument, cmd.quantity)
        return Proposal(
            transfer_id=self.next_transfer_id,
            proposer=cmd.account,
            client_proposal_id=cmd.client_proposal_id,
            side=cmd.side,
            counterparty=cmd.counterparty,
            instrument=cmd.instrument,
            price=cmd.price,
            quantity=cmd.quantity,
        )

    def band(self, instrument: Instrument) -> tuple[int, int]:
        """The transfer band today: ± ``band_bp`` of the reference price, rounded inward to the tick."""
        reference = self.listing.reference_price(instrument.code)
        return band_limits(reference, self.rules.band_bp, instrument.tick_fen)

    def _check_party(self, account_id: str, role: str) -> None:
        account = self.accounts.get(account_id)
        if account is None or account_id in self.ledger.closed or account.kind not in TRADING_ACCOUNT_KINDS:
            reason = "unknown" if account is None else "closed" if account_id in self.ledger.closed else account.kind
            raise Rejection(Reject.TRANSFER_ACCOUNT_NOT_ELIGIBLE, role=role, account=account_id, reason=reason)
        if account.prohibited:
            raise Rejection(Reject.TRANSFER_PARTY_PROHIBITED, role=role, account=account_id)

    def _check_open(self, instrument: str) -> None:
        """Transfers are open: a configured session of an open day, the market and instrument not halted."""
        market = self.market
        if not market.day_open or market.session not in self.sessions:
            hours = ",".join(session.name for session in sorted(self.sessions))
            raise Rejection(Reject.TRANSFER_OUTSIDE_HOURS, session=market.session.name, hours=hours)
        if market.halted:
            raise Rejection(Reject.MARKET_HALTED)
        if instrument in market.instrument_halts:
            raise Rejection(Reject.INSTRUMENT_HALTED, instrument=instrument)

    def _check_position(self, buyer: str, instrument: str, quantity: int) -> None:
        """The buyer's position, with its open listing buys and open transfer buys, plus ``quantity``."""
        limit = self.risk.limit(buyer, instrument)
        if limit is None:
            return
        pending = sum(
            p.quantity
            for p in self.proposals.values()
            if p.status is TransferStatus.OPEN
            and p.side is Side.BUY
            and p.proposer == buyer
            and p.instrument == instrument
        )
        position = (
            self.ledger.total_held((buyer, instrument)) + self.listing.open_buy_quantity(buyer, instrument) + pending
        )
        if position + quantity > limit:
            raise Rejection(
                Reject.TRANSFER_POSITION_LIMIT, account=buyer, position=position, quantity=quantity, limit=limit
            )

    def _open_proposal(self, transfer_id: int, account: str, *, counterparty: bool) -> Proposal:
        """The open proposal ``account`` may act on as its counterparty (accept, reject) or proposer (cancel).

        A proposal the account is no party to is UNKNOWN_TRANSFER, as one that does not exist:
        nothing tells a third member that it exists.
        """
        proposal = self.proposals.get(transfer_id)
        if proposal is None or account not in (proposal.proposer, proposal.counterparty):
            raise Rejection(Reject.UNKNOWN_TRANSFER, transfer_id=transfer_id)
        if counterparty and account != proposal.counterparty:
            raise Rejection(Reject.NOT_TRANSFER_COUNTERPARTY, transfer_id=transfer_id)
        if not counterparty and account != proposal.proposer:
            raise Rejection(Reject.NOT_TRANSFER_PROPOSER, transfer_id=transfer_id)
        if proposal.status is not TransferStatus.OPEN:
            raise Rejection(Reject.TRANSFER_NOT_OPEN, transfer_id=transfer_id, status=proposal.status.name)
        return proposal

    # ------------------------------------------------------------------ freezes
    def _cash_needed(self, proposal: Proposal) -> int:
        """A buyer's freeze: the value plus the agreement fee on it (the fee is exact: one trade)."""
        value = proposal.price * proposal.quantity
        return value + fee_for(value, self.rate_ppm)

    def _close(self, proposal: Proposal, status: TransferStatus, ts: int) -> Event:
        """Close an open proposal without a trade (rejected, cancelled or expired): the proposer's
        freeze is released, and the event says so."""
        cash, quantity = proposal.frozen_cash, proposal.frozen_quantity
        if cash:
            self.ledger.release_cash(proposal.proposer, cash)
        if quantity:
            self.ledger.release_allowances(proposal.proposer, proposal.instrument, quantity)
        proposal.status = status
        proposal.frozen_cash = proposal.frozen_quantity = 0
        if status is TransferStatus.REJECTED:
            return TransferRejected(
                ts_event=ts,
                transfer_id=proposal.transfer_id,
                account=proposal.counterparty,
                proposer=proposal.proposer,
                instrument=proposal.instrument,
                released_cash=cash,
                released_quantity=quantity,
            )
        closed = TransferCancelled if status is TransferStatus.CANCELLED else TransferExpired
        return closed(
            ts_event=ts,
            transfer_id=proposal.transfer_id,
            account=proposal.proposer,
            counterparty=proposal.counterparty,
            instrument=proposal.instrument,
            released_cash=cash,
            released_quantity=quantity,
        )

    @staticmethod
    def _refused(cmd: Command, no: Rejection, ts: int) -> RequestRejected:
        return _rejected(cmd, no.code, ts, **no.context)


def _rejected(cmd: Command, code: Reject, ts: int, **context: object) -> RequestRejected:
    """The reject of a transfer command: one that acts on a proposal names it first (``transfer_id=``),
    so that a member reading its reports knows which proposal was refused whatever the reason."""
    transfer_id = getattr(cmd, "transfer_id", None)
    if transfer_id is not None and "transfer_id" not in context:
        context = {"transfer_id": transfer_id, **context}
    return rejected(cmd, code, ts, **context)
