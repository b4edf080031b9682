"""Answers to the auction queries (docs/PROTOCOL.md §4.19): ``ListAuctions``, ``ListBids`` and the
pages of ``ListAuctionBids``, read through the engine's view.

What each sender may see (RULES.md §3, "nobody but the bidder and the regulator sees a bid"):
- an announced auction (its terms, state and results) is public, but for the seller of a one-way
  sale, a member's account, which only its own member sees (as on market data); a one-way
  application not yet approved is seen by its applicant's member, the regulator and surveillance
  alone. How many bids an auction holds is not told to members before it clears: the results
  publish the count;
- a bid, by its bidder's member, the regulator and surveillance;
- the anonymised bid list of a cleared auction (pseudonyms, no accounts) is public, in pages.
"""

from __future__ import annotations

import msgspec

from engine.messages import AuctionStatus
from engine.view import ExchangeView
from gateway.access import MemberAccess
from gateway.protocol import (
    AuctionBidsPage,
    AuctionInfo,
    AuctionList,
    BidInfo,
    BidList,
    ListAuctionBids,
    ListAuctions,
    ListBids,
    PublishedBidInfo,
    encoder,
)

_WIDEST = 2**64 - 1  # msgpack's widest integer (9 bytes): a page sized with it fits whatever it holds
_BID_BYTES = len(
    encoder.encode(
        PublishedBidInfo(
            bidder=_WIDEST,
            time_rank=_WIDEST,
            price=_WIDEST,
            quantity=_WIDEST,
            allocated=_WIDEST,
            allocation_price=_WIDEST,
        )
    )
)
# The page without its bids, every number at its widest, and the list's header at its widest (array 32
# takes 5 bytes where the empty list's takes 1).
_PAGE_BYTES = 4 + len(
    encoder.encode(AuctionBidsPage(request_id=_WIDEST, auction_id=_WIDEST, offset=_WIDEST, total=_WIDEST, bids=[]))
)


def page_size(max_frame_bytes: int) -> int:
    """The most published bids one ``AuctionBidsPage`` frame holds within ``max_frame_bytes`` (at least 1)."""
    return max(1, (max_frame_bytes - _PAGE_BYTES) // _BID_BYTES)


def auction_list(view: ExchangeView, access: MemberAccess, query: ListAuctions) -> AuctionList:
    """Every auction the sender may see, by auction id."""
    member = access.role == "member"
    own = frozenset(access.accounts)
    auctions: list[AuctionInfo] = []
    for record in view.auctions():
        if member and record.status is AuctionStatus.APPLIED and record.applicant not in own:
            continue  # another member's application: nothing says it exists
        info = AuctionInfo(**msgspec.structs.asdict(record))  # the same fields (a test holds them alike)
        if member and record.status is not AuctionStatus.CLEARED:
            # Sealed bids: how many there are is part of the results, not of the bidding.
            info = msgspec.structs.replace(info, bids=0, bids_received=0)
        if member and record.applicant and record.applicant not in own:
            # A one-way seller is a member's account: market data does not name it either.
            terms = msgspec.structs.replace(record.terms, auctioneer="")
            info = msgspec.structs.replace(info, terms=terms, applicant="")
        auctions.append(info)
    return AuctionList(request_id=query.request_id, auctions=auctions)


def bid_list(view: ExchangeView, access: MemberAccess, query: ListBids) -> BidList:
    """The bids of the account asked for (or of every account the sender may see), by bid id."""
    if query.account:
        accounts: list[str] | None = [query.account]
    elif access.role == "member":
        accounts = list(access.accounts)
    else:
        accounts = None  # every bidder
    records = view.bids(query.auction_id or None, accounts)
    allocations = view.allocations(query.auction_id, accounts) if query.auction_id else []
    bids = [BidInfo(**msgspec.structs.asdict(b)) for b in records]
    return BidList(request_id=query.request_id, bids=bids, allocations=allocations)


def auction_bids_page(view: ExchangeView, query: ListAuctionBids, max_frame_bytes: int) -> AuctionBidsPage:
    """A page of a cleared auction's anonymised bid list: at most ``query.limit`` bids (0: a full
    page) and never more than fit ``max_frame_bytes``. An auction that is unknown, not cleared, or
    no longer kept has an empty list (``total`` 0)."""
    record = view.auction(query.auction_id)
    total = record.published_bids if record is not None else 0
    size = page_size(max_frame_bytes)
    limit = min(query.limit, size) if query.limit else size
    found = view.published_bids(query.auction_id, query.offset, limit) if total else []
    return AuctionBidsPage(
        request_id=query.request_id,
        auction_id=query.auction_id,
        offset=query.offset,
        total=total,
        bids=[PublishedBidInfo(**msgspec.structs.asdict(b)) for b in found],
    )
