"""What market data makes of an auction (issue 16): its public events as messages on ``auction.<ID>``.

Public, per auction topic and in event order: the notice (``AuctionAnnounced``), the state changes
(``AuctionOpened``, ``AuctionClosed``, ``AuctionCancelled``) and the results (``AuctionCleared``).
Nothing else of an auction is public: a one-way application (``AuctionApplied``, and its
withdrawal or refusal, an ``AuctionCancelled`` of an auction never announced) and every bid event
(``BidAccepted``, ``BidAmended``, ``BidWithdrawn``, ``BidAllocated``) belong to their parties,
the regulator and surveillance. A one-way seller is a member's account: its notice names no
auctioneer (RULES.md "Auction details common to §3-§5": market data shows no bidder and no party).

Messages are built with seq and ts 0; the publisher numbers and stamps them.
"""

from __future__ import annotations

from engine.messages import (
    AuctionAnnounced,
    AuctionCancelled,
    AuctionCleared,
    AuctionClosed,
    AuctionKind,
    AuctionOpened,
    AuctionStatus,
    AuctionTerms,
)
from engine.view import AuctionRecord, PublishedBid
from market_data.messages import AuctionBid, AuctionCap, AuctionMessage, AuctionNotice, AuctionResults, AuctionState

PublicAuctionEvent = AuctionAnnounced | AuctionOpened | AuctionClosed | AuctionCancelled | AuctionCleared
AUCTION_EVENTS: frozenset[type] = frozenset(PublicAuctionEvent.__args__)
# The events that end an auction: the exchange may then forget its oldest finished one.
FINISHING_EVENTS = (AuctionCancelled, AuctionCleared)
# Auctioneers that are system accounts, published by name; a one-way seller is a member's and is not.
_PUBLIC_AUCTIONEER = frozenset({AuctionKind.RESERVE_SALE, AuctionKind.BUYBACK})
_RESULT_FIELDS = tuple(name for name in AuctionResults.__struct_fields__ if name not in ("epoch", "seq", "ts"))


def notice(
    epoch: int, auction_id: int, terms: AuctionTerms, price_limit: int, vwap: int, bid_ceiling: int
) -> AuctionNotice:
    """The notice of an announced auction, from its resolved terms (every default filled in)."""
    return AuctionNotice(
        epoch=epoch,
        seq=0,
        ts=0,
        auction_id=auction_id,
        kind=terms.kind,
        purpose=terms.purpose,
        instrument=terms.instrument,
        auctioneer=terms.auctioneer if terms.kind in _PUBLIC_AUCTIONEER else "",
        volume=terms.volume,
        budget=terms.budget,
        price_limit=price_limit,
        vwap=vwap,
        vwap_k_bp=terms.vwap_k_bp,  # resolved: 0 for a fixed price
        vwap_from=terms.vwap_from,
        vwap_to=terms.vwap_to,
        price_cap=terms.price_cap,
        bid_ceiling=bid_ceiling,
        opens_at=terms.opens_at,
        closes_at=terms.closes_at,
        cutoff_at=terms.cutoff_at,
        bid_lot_t=terms.bid_lot_t,
        pricing=terms.pricing,
        tie_break=terms.tie_break,
        eligible_kinds=list(terms.eligible_kinds or ()),
        caps=[AuctionCap(kind=cap.kind, max_t=cap.max_t, max_bp=cap.max_bp) for cap in terms.caps or ()],
        cancel_if_undersubscribed=terms.cancel_if_undersubscribed,
        cancel_below_reference_bp=terms.cancel_below_reference_bp,
        seed_commitment=terms.seed_commitment,
        name=terms.name,
    )


def state(epoch: int, auction_id: int, instrument: str, status: AuctionStatus, reason: str = "") -> AuctionState:
    return AuctionState(
        epoch=epoch, seq=0, ts=0, auction_id=auction_id, instrument=instrument, status=status, reason=reason
    )


def results(epoch: int, cleared: AuctionCleared) -> AuctionResults:
    """Every field of ``AuctionCleared`` (all public), under the same names."""
    fields = {name: getattr(cleared, name) for name in _RESULT_FIELDS}
    return AuctionResults(epoch=epoch, seq=0, ts=0, **fields)


def message_of(epoch: int, event: PublicAuctionEvent) -> AuctionMessage:
    """The message one public auction event becomes."""
    if isinstance(event, AuctionAnnounced):
        return notice(epoch, event.auction_id, event.terms, event.price_limit, event.vwap, event.bid_ceiling)
    if isinstance(event, AuctionCleared):
        return results(epoch, event)
    if isinstance(event, AuctionOpened):
        return state(epoch, event.auction_id, event.instrument, AuctionStatus.OPEN)
    if isinstance(event, AuctionClosed):
        return state(epoch, event.auction_id, event.instrument, AuctionStatus.CLOSED)
    return state(epoch, event.auction_id, event.instrument, AuctionStatus.CANCELLED, event.reason)


# What a state the exchange holds says happened on the topic: a cleared auction had closed first.
_STATE_SO_FAR = {
    AuctionStatus.OPEN: AuctionStatus.OPEN,
    AuctionStatus.CLOSED: AuctionStatus.CLOSED,
    AuctionStatus.CLEARED: AuctionStatus.CLOSED,
    AuctionStatus.CANCELLED: AuctionStatus.CANCELLED,
}


def published_so_far(epoch: int, record: AuctionRecord) -> list[AuctionMessage]:
    """What a publisher starting over the exchange's state publishes of an auction it keeps: its
    notice, the state it is in, its results. Nothing of an application not yet approved."""
    if record.status is AuctionStatus.APPLIED:
        return []
    terms = record.terms
    messages: list[AuctionMessage] = [
        notice(epoch, record.auction_id, terms, record.price_limit, record.vwap, record.bid_ceiling)
    ]
    status = _STATE_SO_FAR.get(record.status)
    if status is not None:
        reason = record.cancel_reason if status is AuctionStatus.CANCELLED else ""
        messages.append(state(epoch, record.auction_id, terms.instrument, status, reason))
    if record.results is not None:
        messages.append(results(epoch, record.results))
    return messages


def auction_bid(bid: PublishedBid) -> AuctionBid:
    return AuctionBid(
        bidder=bid.bidder,
        time_rank=bid.time_rank,
        price=bid.price,
        quantity=bid.quantity,
        allocated=bid.allocated,
        allocation_price=bid.allocation_price,
    )
