"""Which auction events a report book routes how (gateway/reports.py; docs/PROTOCOL.md §4.7, §4.19).

Bids are sealed (RULES.md §3: nobody but the bidder and the regulator sees a bid): a bid's events
and a one-way application go to the bidder's (applicant's) member, every regulator and
surveillance, never to another member. An auction's notices and state changes are public through
market data; as execution reports they go to every regulator and to the member of the auctioneer's
account, so a one-way seller follows its own auction. ``AuctionOpened``, ``AuctionClosed`` and
``AuctionCleared`` do not name the auctioneer: ``Auctioneers`` remembers it from the announcement.
"""

from __future__ import annotations

from engine.messages import (
    AuctionAnnounced,
    AuctionApplied,
    AuctionCancelled,
    AuctionCleared,
    AuctionClosed,
    AuctionOpened,
    AuctionSettled,
    BidAccepted,
    BidAllocated,
    BidAmended,
    BidWithdrawn,
    DailyFiguresLoaded,
    Event,
)

# ``AuctionSettled`` is the auctioneer's own side of the clearing: its member alone, as a bid is the bidder's.
BID_EVENTS = (AuctionApplied, BidAccepted, BidAmended, BidWithdrawn, BidAllocated, AuctionSettled)
AUCTION_NOTICES = (AuctionAnnounced, AuctionOpened, AuctionClosed, AuctionCancelled, AuctionCleared, DailyFiguresLoaded)
AUCTION_EVENTS = (*BID_EVENTS, *AUCTION_NOTICES)


class Auctioneers:
    """Each live auction's auctioneer account, learnt from ``AuctionAnnounced`` (or ``AuctionApplied``)
    and forgotten when the auction clears or is cancelled: as many entries as live auctions.

    It is part of the report book's saved state, so a replay from a snapshot routes alike."""

    def __init__(self) -> None:
        self.by_auction: dict[int, str] = {}

    def of(self, event: Event) -> str:
        """The auctioneer's account of an auction event ("" for none), keeping the record up to date."""
        if isinstance(event, AuctionAnnounced):
            self.by_auction[event.auction_id] = event.terms.auctioneer
            return event.terms.auctioneer
        if isinstance(event, AuctionApplied):
            self.by_auction[event.auction_id] = event.account  # the applicant is the seller
            return event.account
        if isinstance(event, AuctionCancelled):
            self.by_auction.pop(event.auction_id, None)
            return event.auctioneer
        if isinstance(event, AuctionCleared):
            return self.by_auction.pop(event.auction_id, "")
        if isinstance(event, AuctionOpened | AuctionClosed):
            return self.by_auction.get(event.auction_id, "")
        return ""  # a bid (its bidder's member sees it, not the auctioneer's), or DailyFiguresLoaded
