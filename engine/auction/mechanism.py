"""Sealed-bid auctions (docs/AUCTIONS.md): reserve sales, buybacks and one-way bidding, one mechanism.

An auction's life: announced by the regulator (a one-way sale: applied for by its seller, then
approved), opened, bids taken until the cut-off, closed, cleared. A ``time`` tie-break clears at
the close; ``pro_rata`` and ``random`` clear when the regulator reveals the seed it committed to.
The regulator may withdraw an auction before it clears; an applicant its own application.

Pre-funding: the auctioneer's side is frozen at the announcement (the reserve's tonnes; the
treasury's volume × ceiling or its budget) or, for one-way bidding, at the application (the
seller's tonnes). A bid freezes its full price × quantity plus the maximum fee (a buyback's offer:
its tonnes) when it is accepted; amending freezes or releases the difference.

Bids and their checks: ``engine.auction.bidding``. Clearing: ``engine.auction.clearing`` (the
rule) and ``engine.auction.settle`` (into the ledger). Terms: ``engine.auction.terms``.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from engine.auction.bidding import Bidding, refused
from engine.auction.clearing import needs_seed
from engine.auction.history import PriceHistory, figures_problem
from engine.auction.prng import commitment, parse_seed
from engine.auction.settle import Settlement
from engine.auction.state import LIVE, Auction, AuctionState, Bid
from engine.auction.terms import Resolved, TermsCheck
from engine.config import Account, Instrument
from engine.mechanism import Context, Handler, Mechanism, Rejection, rejected
from engine.messages import Command, Event, Reject
from engine.messages.auction import (
    AmendBid,
    AnnounceAuction,
    ApplyAuction,
    ApproveAuction,
    AuctionAnnounced,
    AuctionApplied,
    AuctionCancelled,
    AuctionClosed,
    AuctionKind,
    AuctionOpened,
    AuctionStatus,
    AuctionTerms,
    CancelAuction,
    ClearAuction,
    CloseAuction,
    DailyFiguresLoaded,
    DayFigures,
    LoadDailyFigures,
    OpenAuction,
    Purpose,
    SubmitBid,
    WithdrawBid,
)
from engine.risk import PositionLimits


class Auctions(Bidding, Mechanism):
    name = "auction"
    State = AuctionState

    def __init__(self, context: Context) -> None:
        config = context.config
        self.rules = config.auction
        self.ledger = context.ledger
        self.market = context.market
        self.listing = context.listing
        self.risk = PositionLimits(config, self.ledger)
        self.accounts: dict[str, Account] = {a.id: a for a in config.accounts}
        self.instruments: dict[str, Instrument] = {i.code: i for i in config.instruments}
        self.history = PriceHistory(list(self.instruments), self.rules.history_days)
        self.terms = TermsCheck(self.rules, self.instruments, self.accounts, self.history)
        treasury = next((a.id for a in config.accounts if a.kind == "treasury"), None)
        reserve = next((a.id for a in config.accounts if a.kind == "reserve"), None)
        auction_ppm, one_way_ppm = config.fees.auction_ppm, self.rules.one_way_fee_ppm
        self.fee_rates = {kind: one_way_ppm if kind is AuctionKind.ONE_WAY else auction_ppm for kind in AuctionKind}
        self.settlement = Settlement(
            self.ledger,
            fee_rate=self.fee_rates.__getitem__,
            account_kind=lambda account: self.accounts[account].kind,
            treasury=treasury,
            reserve=reserve,
            compliance_only=self._compliance_only,
        )
        self.auctions: dict[int, Auction] = {}
        self.bids: dict[int, Bid] = {}  # bids of live auctions, by id
        self.next_auction_id = 1
        self.next_bid_id = 1
        # Derived from ``bids`` (``_index``): per (auction, account) the live bids' count and tonnes, and
        # the ids of the bids it sent, withdrawn ones included, in order (``sent``: its own bids without a
        # walk of every bid, for the limit and for ``ListBids``); the (auction, account, client bid id)
        # triples used.
        self.live_totals: dict[tuple[int, str], list[int]] = {}
        self.sent: dict[tuple[int, str], list[int]] = {}
        self.buying: dict[tuple[str, str], int] = {}  # (account, instrument) -> tonnes its live bids may buy
        self.client_ids: set[tuple[int, str, str]] = set()

    # ------------------------------------------------------------------ the mechanism
    def handlers(self) -> Mapping[type[Command], Handler]:
        return {
            AnnounceAuction: self._announce,
            ApplyAuction: self._apply,
            ApproveAuction: self._approve,
            OpenAuction: self._open,
            CloseAuction: self._close,
            ClearAuction: self._clear,
            CancelAuction: self._cancel,
            SubmitBid: self._submit,
            AmendBid: self._amend,
            WithdrawBid: self._withdraw,
            LoadDailyFigures: self._load_figures,
        }

    def state(self) -> AuctionState:
        return AuctionState(
            auctions=[
                msgspec.structs.replace(a, published=list(a.published), allocations=list(a.allocations))
                for a in self.auctions.values()
            ],
            bids=[msgspec.structs.replace(b) for b in self.bids.values()],
            history=self.history.state(),
            next_auction_id=self.next_auction_id,
            next_bid_id=self.next_bid_id,
        )

    def restore(self, state: AuctionState) -> None:
        self.auctions = {
            a.auction_id: msgspec.structs.replace(a, published=list(a.published), allocations=list(a.allocations))
            for a in state.auctions
        }
        self.bids = {b.bid_id: msgspec.structs.replace(b) for b in state.bids}
        self.history.restore(state.history)
        self.next_auction_id = state.next_auction_id
        self.next_bid_id = state.next_bid_id
        self._index()

    def check(self) -> None:
        assert list(self.auctions) == sorted(self.auctions), "auctions out of order"
        assert list(self.bids) == sorted(self.bids), "bids out of order"
        totals, client_ids, buying = dict(self.live_totals), set(self.client_ids), dict(self.buying)
        sent = dict(self.sent)
        self._index()
        assert totals == self.live_totals and client_ids == self.client_ids, "bid indexes out of date"
        assert sent == self.sent, "the bids sent per account are out of date"
        assert buying == self.buying, "the tonnes bid to buy are out of date"
        self.history.check()
        for auction in self.auctions.values():
            assert auction.auction_id < self.next_auction_id
            if auction.status not in LIVE:
                assert not (auction.frozen_cash or auction.frozen_quantity), f"auction {auction.auction_id}: frozen"
        for bid in self.bids.values():
            auction = self.auctions[bid.auction_id]
            assert auction.status in LIVE and bid.bid_id < self.next_bid_id
            if bid.live:
                sells = auction.terms.kind is not AuctionKind.BUYBACK
                expected = (self._cash_needed(auction, bid.price, bid.quantity), 0) if sells else (0, bid.quantity)
                assert (bid.frozen_cash, bid.frozen_quantity) == expected, f"bid {bid.bid_id}: freeze"
            else:
                assert not (bid.frozen_cash or bid.frozen_quantity), f"bid {bid.bid_id}: withdrawn but frozen"
        for account, instrument, cash, quantity in self.open_freezes():
            assert self.ledger.cash(account).frozen >= cash, f"{account}: auction freeze above frozen cash"
            assert self.ledger.holding(account, instrument).frozen >= quantity, f"{account}: above frozen units"

    def end_of_day(self, trading_day: int, ts: int) -> list[Event]:
        """Keep the day's listing figures of every instrument (the listing has closed the day: its
        reference price is now today's close)."""
        for code in self.instruments:
            volume, turnover = self.listing.day_volume_turnover(code)
            close = self.listing.reference_price(code)
            self.history.record(
                code, DayFigures(trading_day=trading_day, volume=volume, turnover=turnover, close=close)
            )
        return []

    # ------------------------------------------------------------------ what the view reads
    def open_freezes(self) -> list[tuple[str, str, int, int]]:
        """(account, instrument, frozen cash, frozen tonnes) of every auctioneer and live bid."""
        freezes = [
            (a.terms.auctioneer, a.terms.instrument, a.frozen_cash, a.frozen_quantity)
            for a in self.auctions.values()
            if a.frozen_cash or a.frozen_quantity
        ]
        for bid in self.bids.values():
            if bid.live:
                instrument = self.auctions[bid.auction_id].terms.instrument
                freezes.append((bid.account, instrument, bid.frozen_cash, bid.frozen_quantity))
        return freezes

    def bids_of(self, auction: Auction) -> list[Bid]:
        """The live bids of a live auction, by id."""
        return [b for b in self.bids.values() if b.auction_id == auction.auction_id and b.live]

    # ------------------------------------------------------------------ the regulator's commands
    def _announce(self, cmd: AnnounceAuction, ts: int) -> list[Event]:
        try:
            self._check_room()
            resolved = self._resolve(cmd.terms, ts)
        except Rejection as no:
            return [refused(cmd, no, ts)]
        terms = resolved.terms
        auction = self._new_auction(resolved, AuctionStatus.ANNOUNCED, applicant="")
        if terms.kind is AuctionKind.BUYBACK:
            needed = terms.budget or terms.volume * resolved.price_limit
            if not self.ledger.freeze_cash(terms.auctioneer, needed):
                available = self.ledger.cash(terms.auctioneer).available
                return [rejected(cmd, Reject.INSUFFICIENT_FUNDS, ts, required=needed, available=available)]
            auction.frozen_cash = needed
        else:
            refusal = self._freeze_tonnes(cmd, terms.auctioneer, terms.instrument, terms.volume, ts)
            if refusal:
                return [refusal]
            auction.frozen_quantity = terms.volume
        self._add(auction)
        return [self._announced(auction, ts)]

    def _apply(self, cmd: ApplyAuction, ts: int) -> list[Event]:
        try:
            if cmd.terms.kind is not AuctionKind.ONE_WAY:
                raise Rejection(Reject.INVALID_AUCTION_TERMS, term="kind", reason="only_one_way_by_application")
            self._check_room(applicant=cmd.account)
            resolved = self._resolve(cmd.terms, ts, applicant=cmd.account)
        except Rejection as no:
            return [refused(cmd, no, ts)]
        terms = resolved.terms
        refusal = self._freeze_tonnes(cmd, cmd.account, terms.instrument, terms.volume, ts)
        if refusal:
            return [refusal]
        auction = self._new_auction(resolved, AuctionStatus.APPLIED, applicant=cmd.account)
        auction.frozen_quantity = terms.volume
        self._add(auction)
        return [
            AuctionApplied(
                ts_event=ts,
                auction_id=auction.auction_id,
                account=cmd.account,
                terms=terms,
                frozen_quantity=terms.volume,
            )
        ]

    def _approve(self, cmd: ApproveAuction, ts: int) -> list[Event]:
        try:
            auction = self._auction(cmd.auction_id, AuctionStatus.APPLIED)
            terms = auction.terms
            if cmd.seed_commitment:
                terms = msgspec.structs.replace(terms, seed_commitment=cmd.seed_commitment)
            resolved = self._resolve(terms, ts, applicant=auction.applicant, approving=True)
        except Rejection as no:
            return [refused(cmd, no, ts)]
        auction.terms, auction.price_limit, auction.vwap = resolved.terms, resolved.price_limit, resolved.vwap
        auction.bid_ceiling, auction.reference_price = resolved.bid_ceiling, resolved.reference_price
        auction.status = AuctionStatus.ANNOUNCED
        return [self._announced(auction, ts)]

    def _open(self, cmd: OpenAuction, ts: int) -> list[Event]:
        try:
            auction = self._auction(cmd.auction_id, AuctionStatus.ANNOUNCED)
        except Rejection as no:
            return [refused(cmd, no, ts)]
        auction.status = AuctionStatus.OPEN
        return [AuctionOpened(ts_event=ts, auction_id=auction.auction_id, instrument=auction.terms.instrument)]

    def _close(self, cmd: CloseAuction, ts: int) -> list[Event]:
        try:
            auction = self._auction(cmd.auction_id, AuctionStatus.OPEN)
        except Rejection as no:
            return [refused(cmd, no, ts)]
        auction.status = AuctionStatus.CLOSED
        bids = self.bids_of(auction)
        events: list[Event] = [
            AuctionClosed(
                ts_event=ts, auction_id=auction.auction_id, instrument=auction.terms.instrument, bids=len(bids)
            )
        ]
        if not needs_seed(auction.terms.tie_break):  # a time tie-break needs nothing more: it clears now
            events += self._settle(auction, None, "", ts)
        return events

    def _clear(self, cmd: ClearAuction, ts: int) -> list[Event]:
        try:
            auction = self._auction(cmd.auction_id, AuctionStatus.CLOSED)
            seed = self._revealed_seed(auction, cmd.seed)
        except Rejection as no:
            return [refused(cmd, no, ts)]
        return self._settle(auction, seed, seed.hex() if seed is not None else "", ts)  # published in lowercase

    def _cancel(self, cmd: CancelAuction, ts: int) -> list[Event]:
        try:
            auction = self.auctions.get(cmd.auction_id)
            if auction is None or (cmd.account and cmd.account != auction.applicant):
                raise Rejection(Reject.UNKNOWN_AUCTION, auction_id=cmd.auction_id)
            allowed = {AuctionStatus.APPLIED} if cmd.account else LIVE
            if auction.status not in allowed:
                raise Rejection(Reject.AUCTION_WRONG_STATUS, auction_id=cmd.auction_id, status=auction.status.name)
        except Rejection as no:
            return [refused(cmd, no, ts)]
        events: list[Event] = [self._release_bid(bid, ts) for bid in self.bids_of(auction)]
        terms = auction.terms
        cash, quantity = auction.frozen_cash, auction.frozen_quantity
        if cash:
            self.ledger.release_cash(terms.auctioneer, cash)
        if quantity:
            self.ledger.release_allowances(terms.auctioneer, terms.instrument, quantity)
        auction.frozen_cash = auction.frozen_quantity = 0
        auction.status = AuctionStatus.CANCELLED
        auction.cancel_reason = cmd.reason or (
            "withdrawn by the applicant" if cmd.account else "withdrawn by the regulator"
        )
        self._finish(auction)
        events.append(
            AuctionCancelled(
                ts_event=ts,
                auction_id=auction.auction_id,
                instrument=terms.instrument,
                auctioneer=terms.auctioneer,
                reason=auction.cancel_reason,
                released_cash=cash,
                released_quantity=quantity,
            )
        )
        return events

    def _load_figures(self, cmd: LoadDailyFigures, ts: int) -> list[Event]:
        instrument = self.instruments.get(cmd.instrument)
        if instrument is None:
            return [rejected(cmd, Reject.UNKNOWN_INSTRUMENT, ts, instrument=cmd.instrument)]
        problem = figures_problem(cmd.days, instrument.tick_fen, self.market.trading_day)
        if problem:
            return [rejected(cmd, Reject.INVALID_DAILY_FIGURES, ts, field=problem[0], reason=problem[1])]
        for day in cmd.days:
            self.history.record(cmd.instrument, day)
        return [
            DailyFiguresLoaded(
                ts_event=ts,
                instrument=cmd.instrument,
                days=len(cmd.days),
                first_day=cmd.days[0].trading_day,
                last_day=cmd.days[-1].trading_day,
            )
        ]

    # ------------------------------------------------------------------ checks
    def _check_room(self, applicant: str = "") -> None:
        """Room for one more live auction: the regulator's and members' applications are counted
        apart, so that applications never keep the regulator from announcing."""
        rules = self.rules
        live = [a for a in self.auctions.values() if a.status in LIVE and bool(a.applicant) == bool(applicant)]
        most = rules.max_live_applications if applicant else rules.max_live_auctions
        if len(live) >= most:
            raise Rejection(Reject.TOO_MANY_AUCTIONS, live=len(live), max=most)
        if applicant:
            own = sum(1 for a in live if a.applicant == applicant)
            if own >= rules.max_applications_per_account:
                raise Rejection(
                    Reject.TOO_MANY_AUCTIONS, account=applicant, live=own, max=rules.max_applications_per_account
                )

    def _resolve(self, terms: AuctionTerms, ts: int, *, applicant: str = "", approving: bool = False) -> Resolved:
        if terms.instrument not in self.instruments:
            raise Rejection(Reject.UNKNOWN_INSTRUMENT, instrument=terms.instrument)
        reference = self.listing.reference_price(terms.instrument)
        return self.terms.resolve(
            terms,
            reference_price=reference,
            closed=set(self.ledger.closed),
            ts=ts,
            applicant=applicant,
            approving=approving,
        )

    def _auction(self, auction_id: int, status: AuctionStatus) -> Auction:
        """The auction a regulator's command acts on, in the status the command needs."""
        auction = self.auctions.get(auction_id)
        if auction is None:
            raise Rejection(Reject.UNKNOWN_AUCTION, auction_id=auction_id)
        if auction.status is not status:
            raise Rejection(
                Reject.AUCTION_WRONG_STATUS, auction_id=auction_id, status=auction.status.name, needed=status.name
            )
        return auction

    def _revealed_seed(self, auction: Auction, seed_text: str) -> bytes | None:
        """The seed's bytes when it matches the commitment; None for a time tie-break given none."""
        committed = auction.terms.seed_commitment
        if not seed_text and not needs_seed(auction.terms.tie_break):
            return None
        seed = parse_seed(seed_text)
        if seed is None or commitment(seed) != committed:
            raise Rejection(Reject.SEED_MISMATCH, auction_id=auction.auction_id, commitment=committed or '""')
        return seed

    # ------------------------------------------------------------------ freezes and settlement
    def _settle(self, auction: Auction, seed: bytes | None, seed_text: str, ts: int) -> list[Event]:
        bids = self.bids_of(auction)
        reference = self.listing.reference_price(auction.terms.instrument)
        events = self.settlement.clear(auction, bids, seed, seed_text, reference, ts)
        self._finish(auction)
        return events

    def _compliance_only(self, auction: Auction) -> bool:
        terms = auction.terms
        return (
            terms.kind is AuctionKind.RESERVE_SALE
            and terms.purpose is Purpose.COMPLIANCE
            and (self.rules.compliance.compliance_only)
        )

    # ------------------------------------------------------------------ bookkeeping
    def _new_auction(self, resolved: Resolved, status: AuctionStatus, applicant: str) -> Auction:
        return Auction(
            auction_id=self.next_auction_id,
            status=status,
            terms=resolved.terms,
            applicant=applicant,
            price_limit=resolved.price_limit,
            vwap=resolved.vwap,
            bid_ceiling=resolved.bid_ceiling,
            reference_price=resolved.reference_price,
        )

    def _add(self, auction: Auction) -> None:
        self.auctions[auction.auction_id] = auction
        self.next_auction_id += 1

    def _finish(self, auction: Auction) -> None:
        """An auction cleared or was cancelled: its bids go (its results keep what is published), and
        only the last ``results_kept`` finished auctions are kept."""
        for bid_id in [b.bid_id for b in self.bids.values() if b.auction_id == auction.auction_id]:
            bid = self.bids.pop(bid_id)
            if bid.live:
                self._tally(auction, bid, -1)
            self.client_ids.discard((bid.auction_id, bid.account, bid.client_bid_id))
            self.live_totals.pop((bid.auction_id, bid.account), None)
            self.sent.pop((bid.auction_id, bid.account), None)
        done = [a for a in self.auctions.values() if a.status not in LIVE]
        auction.finished = 1 + max((a.finished for a in done), default=0)
        done.sort(key=lambda a: a.finished)
        for old in done[: max(0, len(done) - self.rules.results_kept)]:
            del self.auctions[old.auction_id]

    def _index(self) -> None:
        self.live_totals = {}
        self.sent = {}
        self.client_ids = set()
        self.buying = {}
        for bid in self.bids.values():
            self.client_ids.add((bid.auction_id, bid.account, bid.client_bid_id))
            self.live_totals.setdefault((bid.auction_id, bid.account), [0, 0])
            self.sent.setdefault((bid.auction_id, bid.account), []).append(bid.bid_id)
            if bid.live:
                self._tally(self.auctions[bid.auction_id], bid, +1)

    def _announced(self, auction: Auction, ts: int) -> AuctionAnnounced:
        return AuctionAnnounced(
            ts_event=ts,
            auction_id=auction.auction_id,
            terms=auction.terms,
            price_limit=auction.price_limit,
            vwap=auction.vwap,
            bid_ceiling=auction.bid_ceiling,
            frozen_cash=auction.frozen_cash,
            frozen_quantity=auction.frozen_quantity,
        )
