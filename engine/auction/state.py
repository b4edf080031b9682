"""The auctions' part of the state: the auctions, their bids, and the listing's daily history."""

from __future__ import annotations

import msgspec

from engine.auction.history import InstrumentHistory
from engine.messages.auction import AuctionCleared, AuctionStatus, AuctionTerms, BidAllocated

# An auction that can still change: it holds freezes, and counts against ``max_live_auctions`` (the
# regulator's) or ``max_live_applications`` (a member's one-way sale).
LIVE = frozenset({AuctionStatus.APPLIED, AuctionStatus.ANNOUNCED, AuctionStatus.OPEN, AuctionStatus.CLOSED})
# The mechanism's ``live_totals[(auction, account)]``: [live bids, their tonnes]; ``NO_BIDS`` for an
# account with none.
NO_BIDS = (0, 0)


class Bid(msgspec.Struct, kw_only=True, array_like=True):
    """One bid of an auction not yet cleared; ``frozen_*`` is what it holds frozen now.

    A withdrawn bid stays (``live`` false, nothing frozen) until its auction clears, so that its
    client bid id is not used twice and it counts against the auction's ``max_bids_per_auction``.
    """

    bid_id: int
    auction_id: int
    account: str
    client_bid_id: str
    price: int
    quantity: int
    time_rank: int
    frozen_cash: int = 0
    frozen_quantity: int = 0
    live: bool = True


class PublishedBid(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """One bid of a cleared auction as the results publish it: anonymised, with its allocation.

    ``bidder`` is the bidder's pseudonym in this auction: bidders are numbered 1, 2, ... in the
    order of their earliest live bid's time rank.
    """

    bidder: int
    time_rank: int
    price: int
    quantity: int
    allocated: int
    allocation_price: int  # what it pays (gets) per tonne; 0 when nothing is allocated


class Auction(msgspec.Struct, kw_only=True, array_like=True):
    auction_id: int
    status: AuctionStatus
    terms: AuctionTerms  # as resolved (an application's as applied until approved)
    applicant: str  # the one-way applicant; "" for an auction the regulator announced
    price_limit: int
    vwap: int
    bid_ceiling: int
    reference_price: int  # the instrument's previous close at the announcement
    frozen_cash: int = 0  # the auctioneer's freeze now
    frozen_quantity: int = 0
    next_rank: int = 1
    bids_received: int = 0
    results: AuctionCleared | None = None
    published: list[PublishedBid] = msgspec.field(default_factory=list)
    cancel_reason: str = ""
    # Each bid's outcome once cleared, by bid id: private to its bidder (and the regulator and
    # surveillance), kept with the results so a bidder can ask again after its report.
    allocations: list[BidAllocated] = msgspec.field(default_factory=list)
    # Its place among the finished auctions (1, 2, ...; 0: not finished): the oldest are forgotten first.
    finished: int = 0


class AuctionState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    auctions: list[Auction]  # by id, those still live and the last ``results_kept`` finished
    bids: list[Bid]  # bids of the live auctions, by id
    history: list[InstrumentHistory]
    next_auction_id: int
    next_bid_id: int
