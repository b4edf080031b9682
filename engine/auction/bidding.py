"""Bids of the sealed-bid auctions: submit, amend and withdraw, with their checks and freezes.

A bid's checks, in this order, each failure a reject naming the limit: the auction (known to the
bidder: UNKNOWN_AUCTION; open: AUCTION_NOT_OPEN; before the cut-off: AUCTION_CUTOFF_PASSED), halts,
the bidder (eligible kind, not the auctioneer: BIDDER_NOT_ELIGIBLE; not prohibited:
PROHIBITED_PARTICIPANT), its client bid id (INVALID_BID_ID, DUPLICATE_BID_ID), the number of bids
(TOO_MANY_BIDS), lot, price, tick, the price limit (BID_BELOW_FLOOR, BID_ABOVE_CEILING), the
account's cap over its live bids (BID_CAP_EXCEEDED), a buyer's position limit (POSITION_LIMIT),
and its funds (INSUFFICIENT_FUNDS; a buyback's offer: INSUFFICIENT_HOLDINGS).

A bid in a sale freezes its full price × quantity plus the maximum fee; an offer in a buyback its
tonnes. Amending freezes or releases the difference: a lower quantity at the same price keeps the
bid's time rank, anything else takes a new one, as a listing order's priority does.
"""

from __future__ import annotations

from engine.auction.state import NO_BIDS, Auction, Bid
from engine.auction.terms import cap_for
from engine.config import TRADING_ACCOUNT_KINDS, Account, AuctionRules, Instrument
from engine.mechanism import ListingView, Market, Rejection, rejected
from engine.messages import Command, Event, Reject, RequestRejected
from engine.messages.auction import (
    AmendBid,
    AuctionKind,
    AuctionStatus,
    BidAccepted,
    BidAmended,
    BidWithdrawn,
    SubmitBid,
    WithdrawBid,
)
from engine.risk import PositionLimits
from settlement.ledger import Ledger, fee_for


class Bidding:
    """The bid handlers of ``engine.auction.Auctions``, over the state it keeps."""

    rules: AuctionRules
    ledger: Ledger
    market: Market
    listing: ListingView
    risk: PositionLimits
    accounts: dict[str, Account]
    instruments: dict[str, Instrument]
    auctions: dict[int, Auction]
    bids: dict[int, Bid]
    next_bid_id: int
    live_totals: dict[tuple[int, str], list[int]]
    sent: dict[tuple[int, str], list[int]]
    buying: dict[tuple[str, str], int]
    client_ids: set[tuple[int, str, str]]
    fee_rates: dict[AuctionKind, int]  # per side, by kind of auction

    def _submit(self, cmd: SubmitBid, ts: int) -> list[Event]:
        try:
            auction = self._biddable(cmd.auction_id, cmd.account, ts)
            self._check_bidder(auction, cmd.account)
            self._check_client_bid_id(auction, cmd)
            self._check_bid(auction, cmd.account, cmd.price, cmd.quantity, already=0)
        except Rejection as no:
            return [refused(cmd, no, ts)]
        bid = Bid(
            bid_id=self.next_bid_id,
            auction_id=auction.auction_id,
            account=cmd.account,
            client_bid_id=cmd.client_bid_id,
            price=cmd.price,
            quantity=cmd.quantity,
            time_rank=auction.next_rank,
        )
        refusal = self._freeze_bid(cmd, auction, bid, bid.price, bid.quantity, ts)
        if refusal:
            return [refusal]
        self.next_bid_id += 1
        auction.next_rank += 1
        auction.bids_received += 1
        self.bids[bid.bid_id] = bid
        self.client_ids.add((auction.auction_id, cmd.account, cmd.client_bid_id))
        self._tally(auction, bid, +1)
        self.sent.setdefault((auction.auction_id, cmd.account), []).append(bid.bid_id)
        return [
            BidAccepted(
                ts_event=ts,
                bid_id=bid.bid_id,
                auction_id=auction.auction_id,
                account=bid.account,
                client_bid_id=bid.client_bid_id,
                price=bid.price,
                quantity=bid.quantity,
                time_rank=bid.time_rank,
                frozen_cash=bid.frozen_cash,
                frozen_quantity=bid.frozen_quantity,
            )
        ]

    def _amend(self, cmd: AmendBid, ts: int) -> list[Event]:
        try:
            bid = self._own_bid(cmd.bid_id, cmd.account)
            auction = self._biddable(bid.auction_id, cmd.account, ts)
            if (cmd.price, cmd.quantity) == (bid.price, bid.quantity):
                raise Rejection(Reject.AMEND_NO_CHANGE, price=cmd.price, quantity=cmd.quantity)
            self._check_bid(auction, cmd.account, cmd.price, cmd.quantity, already=bid.quantity)
        except Rejection as no:
            return [refused(cmd, no, ts)]
        refusal = self._freeze_bid(cmd, auction, bid, cmd.price, cmd.quantity, ts)
        if refusal:
            return [refusal]
        # As a listing order: a lower quantity at the same price keeps its place in time; a new
        # price or more tonnes take a new one.
        if not (cmd.price == bid.price and cmd.quantity < bid.quantity):
            bid.time_rank = auction.next_rank
            auction.next_rank += 1
        self._tally(auction, bid, -1)
        bid.price, bid.quantity = cmd.price, cmd.quantity
        self._tally(auction, bid, +1)
        return [
            BidAmended(
                ts_event=ts,
                bid_id=bid.bid_id,
                auction_id=auction.auction_id,
                account=bid.account,
                price=bid.price,
                quantity=bid.quantity,
                time_rank=bid.time_rank,
                frozen_cash=bid.frozen_cash,
                frozen_quantity=bid.frozen_quantity,
            )
        ]

    def _withdraw(self, cmd: WithdrawBid, ts: int) -> list[Event]:
        try:
            bid = self._own_bid(cmd.bid_id, cmd.account)
            self._biddable(bid.auction_id, cmd.account, ts, withdrawing=True)
        except Rejection as no:
            return [refused(cmd, no, ts)]
        return [self._release_bid(bid, ts)]

    def _release_bid(self, bid: Bid, ts: int) -> BidWithdrawn:
        """A live bid leaves: its freeze is released (withdrawn by its bidder, or its auction cancelled)."""
        auction = self.auctions[bid.auction_id]
        cash, quantity = bid.frozen_cash, bid.frozen_quantity
        if cash:
            self.ledger.release_cash(bid.account, cash)
        if quantity:
            self.ledger.release_allowances(bid.account, auction.terms.instrument, quantity)
        bid.frozen_cash = bid.frozen_quantity = 0
        bid.live = False
        self._tally(auction, bid, -1)
        return BidWithdrawn(
            ts_event=ts,
            bid_id=bid.bid_id,
            auction_id=bid.auction_id,
            account=bid.account,
            released_cash=cash,
            released_quantity=quantity,
        )

    def _tally(self, auction: Auction, bid: Bid, sign: int) -> None:
        """Count a live bid in (``sign`` +1) or out (-1) of the indexes the checks read: per auction and
        account its live bids and their tonnes (the cap, the number of bids), and per account and
        instrument the tonnes its live bids may buy (the position limit), so that no check walks
        every bid."""
        totals = self.live_totals.setdefault((bid.auction_id, bid.account), [0, 0])
        totals[0] += sign
        totals[1] += sign * bid.quantity
        if auction.terms.kind is not AuctionKind.BUYBACK:
            key = (bid.account, auction.terms.instrument)
            left = self.buying.get(key, 0) + sign * bid.quantity
            if left:
                self.buying[key] = left
            else:
                del self.buying[key]

    def _biddable(self, auction_id: int, account: str, ts: int, *, withdrawing: bool = False) -> Auction:
        """The auction a bidder acts on: open, before its cut-off, neither market nor instrument halted
        (a withdrawal goes through a halt, as a cancel does on the listing).

        An application is known to its applicant alone: to anybody else it is UNKNOWN_AUCTION.
        """
        auction = self.auctions.get(auction_id)
        if auction is None or (auction.status is AuctionStatus.APPLIED and account != auction.applicant):
            raise Rejection(Reject.UNKNOWN_AUCTION, auction_id=auction_id)
        if auction.status is not AuctionStatus.OPEN:
            raise Rejection(Reject.AUCTION_NOT_OPEN, auction_id=auction_id, status=auction.status.name)
        if ts >= auction.terms.cutoff_at:
            raise Rejection(Reject.AUCTION_CUTOFF_PASSED, auction_id=auction_id, cutoff_at=auction.terms.cutoff_at)
        if withdrawing:
            return auction
        if self.market.halted:
            raise Rejection(Reject.MARKET_HALTED)
        if auction.terms.instrument in self.market.instrument_halts:
            raise Rejection(Reject.INSTRUMENT_HALTED, instrument=auction.terms.instrument)
        return auction

    def _check_bidder(self, auction: Auction, account_id: str) -> None:
        account = self.accounts.get(account_id)
        terms = auction.terms
        if account is None:
            reason = "unknown"
        elif account_id in self.ledger.closed:
            reason = "closed"
        elif account_id == terms.auctioneer:
            reason = "auctioneer"
        elif account.kind not in TRADING_ACCOUNT_KINDS or account.kind not in (terms.eligible_kinds or ()):
            reason = account.kind
        else:
            if account.prohibited:
                raise Rejection(Reject.PROHIBITED_PARTICIPANT, account=account_id)
            return
        raise Rejection(Reject.BIDDER_NOT_ELIGIBLE, account=account_id, reason=reason)

    def _check_client_bid_id(self, auction: Auction, cmd: SubmitBid) -> None:
        most = self.rules.client_bid_id_max_length
        if not cmd.client_bid_id or len(cmd.client_bid_id) > most:
            raise Rejection(Reject.INVALID_BID_ID, length=len(cmd.client_bid_id), max=most)
        if (auction.auction_id, cmd.account, cmd.client_bid_id) in self.client_ids:
            raise Rejection(Reject.DUPLICATE_BID_ID, client_bid_id=cmd.client_bid_id)
        live = self.live_totals.get((auction.auction_id, cmd.account), NO_BIDS)[0]
        sent = len(self.sent.get((auction.auction_id, cmd.account), ()))
        if live >= self.rules.max_bids_per_account:
            raise Rejection(Reject.TOO_MANY_BIDS, account=cmd.account, max=self.rules.max_bids_per_account)
        most_sent = self.rules.max_bids_sent_per_account
        if most_sent and sent >= most_sent:
            raise Rejection(Reject.TOO_MANY_BIDS, account=cmd.account, sent=sent, max=most_sent)
        if auction.bids_received >= self.rules.max_bids_per_auction:
            raise Rejection(Reject.TOO_MANY_BIDS, auction_id=auction.auction_id, max=self.rules.max_bids_per_auction)

    def _check_bid(self, auction: Auction, account: str, price: int, quantity: int, *, already: int) -> None:
        """Lot, price, limit, cap and position of a bid (``already``: tonnes of the bid it replaces)."""
        terms = auction.terms
        lot, tick = terms.bid_lot_t, self.instruments[terms.instrument].tick_fen
        if quantity <= 0 or quantity % lot:
            raise Rejection(Reject.INVALID_LOT, quantity=quantity, lot=lot)
        if price <= 0:
            raise Rejection(Reject.INVALID_PRICE, price=price)
        if price % tick:
            raise Rejection(Reject.INVALID_TICK, price=price, tick=tick)
        if terms.kind is AuctionKind.BUYBACK:
            if price > auction.price_limit:
                raise Rejection(Reject.BID_ABOVE_CEILING, price=price, ceiling=auction.price_limit)
        else:
            if price < auction.price_limit:
                raise Rejection(Reject.BID_BELOW_FLOOR, price=price, floor=auction.price_limit)
            if auction.bid_ceiling and price > auction.bid_ceiling:
                raise Rejection(Reject.BID_ABOVE_CEILING, price=price, ceiling=auction.bid_ceiling)
        live = self.live_totals.get((auction.auction_id, account), NO_BIDS)[1] - already
        cap = cap_for(terms, self.accounts[account].kind)
        if cap is not None and live + quantity > cap:
            raise Rejection(Reject.BID_CAP_EXCEEDED, account=account, live=live, quantity=quantity, cap=cap)
        if terms.kind is not AuctionKind.BUYBACK:
            self._check_position(account, terms.instrument, quantity - already)

    def _check_position(self, account: str, instrument: str, quantity: int) -> None:
        """A buyer's holdings, open listing buys and live bids to buy, plus ``quantity``, within its limit."""
        limit = self.risk.limit(account, instrument)
        if limit is None:
            return
        position = self.ledger.total_held((account, instrument)) + self.listing.open_buy_quantity(account, instrument)
        position += self.buying.get((account, instrument), 0)
        if position + quantity > limit:
            raise Rejection(Reject.POSITION_LIMIT, position=position, quantity=quantity, limit=limit)

    def _own_bid(self, bid_id: int, account: str) -> Bid:
        """A live bid of ``account``; anybody else's (or none) is UNKNOWN_BID, so nothing tells it exists."""
        bid = self.bids.get(bid_id)
        if bid is None or bid.account != account or not bid.live:
            raise Rejection(Reject.UNKNOWN_BID, bid_id=bid_id)
        return bid

    def _fee_ppm(self, auction: Auction) -> int:
        return self.fee_rates[auction.terms.kind]

    def _cash_needed(self, auction: Auction, price: int, quantity: int) -> int:
        """A buying bid's freeze: its value plus the fee on it."""
        value = price * quantity
        return value + fee_for(value, self._fee_ppm(auction))

    def _freeze_bid(
        self, cmd: Command, auction: Auction, bid: Bid, price: int, quantity: int, ts: int
    ) -> RequestRejected | None:
        """Freeze (or release) the difference between what ``bid`` holds and what ``price`` × ``quantity`` needs."""
        ledger, account = self.ledger, bid.account
        if auction.terms.kind is AuctionKind.BUYBACK:
            more = quantity - bid.frozen_quantity
            if more > 0:
                refusal = self._freeze_tonnes(cmd, account, auction.terms.instrument, more, ts)
                if refusal:
                    return refusal
            elif more < 0:
                ledger.release_allowances(account, auction.terms.instrument, -more)
            bid.frozen_quantity = quantity
            return None
        needed = self._cash_needed(auction, price, quantity)
        more = needed - bid.frozen_cash
        if more > 0 and not ledger.freeze_cash(account, more):
            return auction_rejected(
                cmd, Reject.INSUFFICIENT_FUNDS, ts, required=more, available=ledger.cash(account).available
            )
        if more < 0:
            ledger.release_cash(account, -more)
        bid.frozen_cash = needed
        return None

    def _freeze_tonnes(
        self, cmd: Command, account: str, instrument: str, quantity: int, ts: int
    ) -> RequestRejected | None:
        if self.ledger.freeze_allowances(account, instrument, quantity):
            return None
        available = self.ledger.holding(account, instrument).available
        return auction_rejected(
            cmd, Reject.INSUFFICIENT_HOLDINGS, ts, instrument=instrument, required=quantity, available=available
        )


def auction_rejected(cmd: Command, code: Reject, ts: int, **context: object) -> RequestRejected:
    """The reject of an auction command: one that names an auction or a bid names it first."""
    for key in ("bid_id", "auction_id"):
        value = getattr(cmd, key, None)
        if value is not None and key not in context:
            context = {key: value, **context}
            break
    return rejected(cmd, code, ts, **context)


def refused(cmd: Command, no: Rejection, ts: int) -> RequestRejected:
    return auction_rejected(cmd, no.code, ts, **no.context)
