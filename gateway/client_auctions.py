"""The SDK's auction requests (docs/PROTOCOL.md §4.19), mixed into ``MemberClient`` (blocking) and
``AsyncMemberClient`` (asyncio): the same names and arguments on both.

The regulator announces reserve sales and buybacks, approves one-way applications, opens, closes,
clears and cancels auctions, and loads the listing figures of past days; a member bids, amends and
withdraws its bids, applies for a one-way sale and withdraws its application. Each command returns
the ``Result`` of ``submit``: the engine's verdict is among ``result.events`` (``AuctionAnnounced``
with the auction id, ``BidAccepted`` with the bid id, or a ``RequestRejected``).

    terms = AuctionTerms(kind=AuctionKind.RESERVE_SALE, purpose=Purpose.MARKET_SUPPLY, ...)
    announced = regulator.announce_auction(terms)
    bid = member.submit_bid("A001", auction_id=1, price=4800, quantity=1_000)
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import TypeVar

from engine.messages import (
    AmendBid,
    AnnounceAuction,
    ApplyAuction,
    ApproveAuction,
    AuctionTerms,
    BidAllocated,
    CancelAuction,
    ClearAuction,
    CloseAuction,
    Command,
    DayFigures,
    LoadDailyFigures,
    OpenAuction,
    WithdrawBid,
)
from gateway.client_commands import submit_bid_command
from gateway.client_core import Result
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
    WireMessage,
)

T = TypeVar("T", bound=WireMessage)


class AuctionRequests:
    """Auction requests of the blocking client (``submit`` and ``_ask`` are ``MemberClient``'s)."""

    @abstractmethod
    def submit(self, command: Command) -> Result:
        """``MemberClient.submit``: send one command and wait for its result."""

    @abstractmethod
    def _ask(self, make: Callable[[int], WireMessage], kind: type[T]) -> T:
        """``MemberClient._ask``: send a query and wait for its answer of type ``kind``."""

    # ------------------------------------------------------------------ the regulator
    def announce_auction(self, terms: AuctionTerms) -> Result:
        """Announce a reserve sale or a buyback; ``AuctionAnnounced`` carries the id and resolved terms."""
        return self.submit(AnnounceAuction(terms=terms))

    def approve_auction(self, auction_id: int, seed_commitment: str = "") -> Result:
        """Approve a one-way application (with the commitment to the seed a random tie-break needs)."""
        return self.submit(ApproveAuction(auction_id=auction_id, seed_commitment=seed_commitment))

    def open_auction(self, auction_id: int) -> Result:
        return self.submit(OpenAuction(auction_id=auction_id))

    def close_auction(self, auction_id: int) -> Result:
        """Close bidding; an auction with a ``time`` tie-break clears at once (``AuctionCleared``)."""
        return self.submit(CloseAuction(auction_id=auction_id))

    def clear_auction(self, auction_id: int, seed: str = "") -> Result:
        """Clear a closed auction, revealing the seed whose SHA-256 its announcement carried."""
        return self.submit(ClearAuction(auction_id=auction_id, seed=seed))

    def cancel_auction(self, auction_id: int, account: str = "", reason: str = "") -> Result:
        """The regulator withdraws an auction (``account`` ""); an applicant its own application."""
        return self.submit(CancelAuction(auction_id=auction_id, account=account, reason=reason))

    def load_daily_figures(self, instrument: str, days: list[DayFigures]) -> Result:
        """Load the listing figures of days before go-live, for VWAP price rules."""
        return self.submit(LoadDailyFigures(instrument=instrument, days=days))

    # ------------------------------------------------------------------ members
    def apply_auction(self, account: str, terms: AuctionTerms) -> Result:
        """Apply to sell by one-way bidding from ``account`` (``terms.auctioneer``); its tonnes are frozen."""
        return self.submit(ApplyAuction(account=account, terms=terms))

    def submit_bid(
        self, account: str, auction_id: int, price: int, quantity: int, client_bid_id: str | None = None
    ) -> Result:
        """A sealed bid (an offer, in a buyback); a random client bid id when none is given.
        ``BidAccepted`` carries the bid id."""
        return self.submit(submit_bid_command(account, auction_id, price, quantity, client_bid_id))

    def amend_bid(self, account: str, bid_id: int, price: int, quantity: int) -> Result:
        return self.submit(AmendBid(account=account, bid_id=bid_id, price=price, quantity=quantity))

    def withdraw_bid(self, account: str, bid_id: int) -> Result:
        return self.submit(WithdrawBid(account=account, bid_id=bid_id))

    # ------------------------------------------------------------------ queries
    def list_auctions(self) -> list[AuctionInfo]:
        """The auctions the caller may see (announced ones, and its own applications), by id."""
        return self._ask(lambda rid: ListAuctions(request_id=rid), AuctionList).auctions

    def list_bids(self, auction_id: int = 0, account: str = "") -> list[BidInfo]:
        """Bids of auctions not yet cleared: the caller's own (the regulator: anybody's); 0: every auction."""
        return self._ask(lambda rid: ListBids(request_id=rid, auction_id=auction_id, account=account), BidList).bids

    def allocations(self, auction_id: int, account: str = "") -> list[BidAllocated]:
        """A cleared auction's outcome of the caller's bids (the regulator: anybody's), as its
        ``BidAllocated`` reports told it, while the exchange keeps the auction."""
        ask = lambda rid: ListBids(request_id=rid, auction_id=auction_id, account=account)  # noqa: E731
        return self._ask(ask, BidList).allocations

    def auction_bids_page(self, auction_id: int, offset: int = 0, limit: int = 0) -> AuctionBidsPage:
        """A page of a cleared auction's anonymised bid list (``limit`` 0: as many as a page holds)."""
        query = ListAuctionBids
        return self._ask(
            lambda rid: query(request_id=rid, auction_id=auction_id, offset=offset, limit=limit), AuctionBidsPage
        )

    def auction_bids(self, auction_id: int) -> list[PublishedBidInfo]:
        """A cleared auction's whole anonymised bid list, page after page (each page costs a token)."""
        bids: list[PublishedBidInfo] = []
        while True:
            page = self.auction_bids_page(auction_id, offset=len(bids))
            bids += page.bids
            if not page.bids or len(bids) >= page.total:
                return bids


class AsyncAuctionRequests:
    """The same requests for ``AsyncMemberClient``, awaited."""

    @abstractmethod
    async def submit(self, command: Command) -> Result:
        """``AsyncMemberClient.submit``."""

    @abstractmethod
    async def _ask(self, make: Callable[[int], WireMessage], kind: type[T]) -> T:
        """``AsyncMemberClient._ask``."""

    async def announce_auction(self, terms: AuctionTerms) -> Result:
        return await self.submit(AnnounceAuction(terms=terms))

    async def approve_auction(self, auction_id: int, seed_commitment: str = "") -> Result:
        return await self.submit(ApproveAuction(auction_id=auction_id, seed_commitment=seed_commitment))

    async def open_auction(self, auction_id: int) -> Result:
        return await self.submit(OpenAuction(auction_id=auction_id))

    async def close_auction(self, auction_id: int) -> Result:
        return await self.submit(CloseAuction(auction_id=auction_id))

    async def clear_auction(self, auction_id: int, seed: str = "") -> Result:
        return await self.submit(ClearAuction(auction_id=auction_id, seed=seed))

    async def cancel_auction(self, auction_id: int, account: str = "", reason: str = "") -> Result:
        return await self.submit(CancelAuction(auction_id=auction_id, account=account, reason=reason))

    async def load_daily_figures(self, instrument: str, days: list[DayFigures]) -> Result:
        return await self.submit(LoadDailyFigures(instrument=instrument, days=days))

    async def apply_auction(self, account: str, terms: AuctionTerms) -> Result:
        return await self.submit(ApplyAuction(account=account, terms=terms))

    async def submit_bid(
        self, account: str, auction_id: int, price: int, quantity: int, client_bid_id: str | None = None
    ) -> Result:
        return await self.submit(submit_bid_command(account, auction_id, price, quantity, client_bid_id))

    async def amend_bid(self, account: str, bid_id: int, price: int, quantity: int) -> Result:
        return await self.submit(AmendBid(account=account, bid_id=bid_id, price=price, quantity=quantity))

    async def withdraw_bid(self, account: str, bid_id: int) -> Result:
        return await self.submit(WithdrawBid(account=account, bid_id=bid_id))

    async def list_auctions(self) -> list[AuctionInfo]:
        return (await self._ask(lambda rid: ListAuctions(request_id=rid), AuctionList)).auctions

    async def list_bids(self, auction_id: int = 0, account: str = "") -> list[BidInfo]:
        answer = await self._ask(lambda rid: ListBids(request_id=rid, auction_id=auction_id, account=account), BidList)
        return answer.bids

    async def allocations(self, auction_id: int, account: str = "") -> list[BidAllocated]:
        answer = await self._ask(lambda rid: ListBids(request_id=rid, auction_id=auction_id, account=account), BidList)
        return answer.allocations

    async def auction_bids_page(self, auction_id: int, offset: int = 0, limit: int = 0) -> AuctionBidsPage:
        query = ListAuctionBids
        return await self._ask(
            lambda rid: query(request_id=rid, auction_id=auction_id, offset=offset, limit=limit), AuctionBidsPage
        )

    async def auction_bids(self, auction_id: int) -> list[PublishedBidInfo]:
        bids: list[PublishedBidInfo] = []
        while True:
            page = await self.auction_bids_page(auction_id, offset=len(bids))
            bids += page.bids
            if not page.bids or len(bids) >= page.total:
                return bids
