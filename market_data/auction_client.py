"""The auctions half of the subscriber SDK (issue 16): follow ``auction.<ID>``, ask for the rest.

``Subscriber`` (``market_data.subscriber``) mixes this in. With the ``auction`` channel (a
default), it follows every auction's topic, whichever instruments it follows: auctions are few,
and their ids are not known in advance. ``auction(id)`` and ``auctions()`` are what the feed has
said (the notice, the latest state change, the results), kept up to date through gaps and
restarts like any state topic.

Two requests go to the snapshot service on a DEALER of their own, one at a time, each waiting up
to ``snapshot_timeout_ms``: ``fetch_auctions`` (every auction the exchange keeps) and
``fetch_auction_bids`` (a page of a cleared auction's anonymised bid list; ``fetch_all_auction_bids``
pages through it), and ``fetch_bars`` (the day's one-minute bars, ``market_data.bars``). A refusal
or no answer raises ``MarketDataError`` with one line.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from typing import TypeVar

import msgspec
import zmq

from market_data.messages import (
    AuctionBid,
    AuctionBidsReply,
    AuctionBidsRequest,
    AuctionMessage,
    AuctionSnapshot,
    AuctionsReply,
    AuctionsRequest,
    BarsReply,
    BarsRequest,
    ChannelPayload,
    SnapshotError,
    SnapshotReply,
    decode_snapshot_reply,
    encode,
    follow_auction,
)
from market_data.snapshot_client import MarketDataError

_request_ids = itertools.count(1)
R = TypeVar("R", AuctionsReply, AuctionBidsReply, BarsReply)


class AuctionFollower:
    """Auctions for ``Subscriber``: what the feed said of them, and the snapshot service's answers."""

    snapshot_endpoint: str
    snapshot_timeout_ms: int
    _context: zmq.Context[zmq.Socket[bytes]]
    _auctions: dict[int, AuctionSnapshot]  # by auction id

    # ------------------------------------------------------------------ what the feed said
    def auction(self, auction_id: int) -> AuctionSnapshot | None:
        """The auction's notice, latest state change and results as received (None: not heard of)."""
        return self._auctions.get(auction_id)

    def auctions(self) -> list[AuctionSnapshot]:
        """Every auction heard of, by id."""
        return [self._auctions[auction_id] for auction_id in sorted(self._auctions)]

    def _follow_auction(self, message: AuctionMessage) -> None:
        kept = follow_auction(self._auctions.get(message.auction_id), message)
        if kept is not None:
            self._auctions[message.auction_id] = kept

    def _apply_auction_item(self, item: AuctionSnapshot, last: int, out: list[ChannelPayload]) -> None:
        """A snapshot of an auction's topic: it becomes what is known of the auction, and its
        messages newer than ``last`` are delivered in seq order."""
        self._auctions[item.auction_id] = item
        messages = [m for m in (item.notice, item.state, item.results) if m is not None and m.seq > last]
        out.extend(sorted(messages, key=lambda m: m.seq))

    # ------------------------------------------------------------------ the snapshot service
    def fetch_auctions(self, auction_ids: Sequence[int] = ()) -> list[AuctionSnapshot]:
        """The auctions the exchange keeps (``auction_ids``: only those), by id, from the snapshot service."""
        request = AuctionsRequest(request_id=next(_request_ids), auction_ids=list(auction_ids))
        return self._ask(request, AuctionsReply).auctions

    def fetch_auction_bids(self, auction_id: int, offset: int = 0, limit: int = 0) -> AuctionBidsReply:
        """One page of a cleared auction's anonymised bid list from ``offset`` (``limit`` 0: the
        service's page size, which also caps a larger ``limit``)."""
        request = AuctionBidsRequest(request_id=next(_request_ids), auction_id=auction_id, offset=offset, limit=limit)
        return self._ask(request, AuctionBidsReply)

    def fetch_all_auction_bids(self, auction_id: int) -> list[AuctionBid]:
        """A cleared auction's whole anonymised bid list, page by page, in time-rank order."""
        bids: list[AuctionBid] = []
        while True:
            page = self.fetch_auction_bids(auction_id, offset=len(bids))
            bids += page.bids
            if len(bids) >= page.total or not page.bids:
                break
        if len(bids) != page.total:  # a cleared auction's list never changes: a short list is a fault
            raise MarketDataError(f"auction {auction_id}: {len(bids)} bids received of {page.total}")
        return bids

    def fetch_bars(self, instruments: Sequence[str] = ()) -> BarsReply:
        """The day's one-minute bars of ``instruments`` (empty: every one) from the snapshot service,
        each with the seq of its trade topic they cover (``market_data.bars``)."""
        request = BarsRequest(request_id=next(_request_ids), instruments=list(instruments))
        return self._ask(request, BarsReply)

    def _ask(self, request: AuctionsRequest | AuctionBidsRequest | BarsRequest, expected: type[R]) -> R:
        """Send one request on a fresh DEALER and wait for its answer, of type ``expected``."""
        dealer = self._context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        try:
            dealer.connect(self.snapshot_endpoint)
            dealer.send(encode(request))
            deadline = time.monotonic() + self.snapshot_timeout_ms / 1000
            reply: SnapshotReply | None = None
            while reply is None or reply.request_id != request.request_id:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not dealer.poll(max(1, math.ceil(remaining * 1000))):
                    raise MarketDataError(
                        f"the snapshot service did not answer within {self.snapshot_timeout_ms} ms "
                        f"({self.snapshot_endpoint})"
                    )
                try:
                    reply = decode_snapshot_reply(dealer.recv())
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise MarketDataError(f"malformed reply from the snapshot service: {exc}") from None
        finally:
            dealer.close(linger=0)
        if isinstance(reply, SnapshotError):
            raise MarketDataError(f"the snapshot service refused: {reply.text}")
        if not isinstance(reply, expected):
            raise MarketDataError(f"the snapshot service answered {type(reply).__name__}, not {expected.__name__}")
        return reply
