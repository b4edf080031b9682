"""The market-data wire format: what the PUB socket and the snapshot service send.

Each published message is two ZeroMQ frames, ``[topic, payload]``. The topic is ASCII
``"<channel>.<INSTRUMENT>"`` (channels ``quote``, ``depth``, ``trade``, ``bulk``, ``status``,
``bulletin``); the market-wide status is ``status.MARKET``, an auction's topic is
``auction.<AUCTION_ID>`` and heartbeats are ``heartbeat``. The payload is one msgpack map whose
``type`` key names the message.

Two channels are streams, every message kept: ``trade`` (listing trades) and ``bulk`` (agreement
transfers, 协议转让, once executed). A bulk trade never sets a listing price; the day's bulk figures
travel in the quote and the bulletin, apart from the listing's. Market data is public: nothing of a
transfer before it executes (proposal, acceptance, rejection, cancel, expiry) and no account is ever
on it.

Auctions (issue 16: reserve sales, buybacks, one-way bidding) publish on ``auction.<AUCTION_ID>``
their notice (``AuctionNotice``: the announced terms), their state changes (``AuctionState``:
opened, closed, cancelled) and their results (``AuctionResults``). Sealed bids are private: no bid,
no bidder and no one-way seller is ever on market data. The snapshot service also answers
``AuctionsRequest`` (every auction it keeps, with its latest messages) and ``AuctionBidsRequest``
(a page of a cleared auction's anonymised bid list). ``BarsRequest`` gets the day's one-minute
bars (OHLCV) per instrument (``market_data.bars``), so a subscriber that joins mid-day can draw the
whole day.

Every channel message carries ``epoch`` (the node's start time in ns: a new value means the node
restarted and every topic's sequence began again), ``seq`` (per topic, from 1, consecutive: a jump
is a lost message) and ``ts`` (exchange time of the last event that caused it). Heartbeats carry
every topic's last ``seq`` so a subscriber notices a lost last message on a quiet topic.

Integers only: prices in fen per tonne, quantities in tonnes, money in fen, times in ns (UTC).
Compatibility: new fields go at the end with defaults; readers ignore keys they do not know; a
field is never renamed, reordered or retyped.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from engine.messages import AuctionKind, AuctionStatus, CancelCause, Pricing, Purpose, Session, Side, TieBreak
from market_data.bars import Bar

CHANNELS: tuple[str, ...] = ("quote", "depth", "trade", "bulk", "status", "bulletin", "auction")
AUCTION_CHANNEL = "auction"  # topics ``auction.<AUCTION_ID>``: per auction, not per instrument
# In a SnapshotRequest's topics, the channel alone stands for every auction topic the service keeps: a
# subscriber that follows some instruments does not know the auctions' ids before its snapshot.
ALL_AUCTIONS = AUCTION_CHANNEL + "."
STATE_CHANNELS: frozenset[str] = frozenset({"quote", "depth", "status", "bulletin"})  # latest value is the state
STREAM_CHANNELS: frozenset[str] = frozenset({"trade", "bulk"})  # every message counts; never conflated
MARKET = "MARKET"  # the instrument part of the market-wide status topic
HEARTBEAT_TOPIC = "heartbeat"
SILENT_AFTER_HEARTBEATS = 3  # a feed with nothing for this many heartbeat intervals is silent (PROTOCOL.md §6.3)


def topic(channel: str, instrument: str) -> str:
    return f"{channel}.{instrument}"


def auction_topic(auction_id: int) -> str:
    return topic(AUCTION_CHANNEL, str(auction_id))


def split_topic(name: str) -> tuple[str, str]:
    """``"quote.SHEA2025"`` -> ``("quote", "SHEA2025")``; a name without a dot has no instrument."""
    channel, _, instrument = name.partition(".")
    return channel, instrument


class MarketDataMessage(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every market-data payload (published, requested or replied)."""


class ChannelMessage(MarketDataMessage, frozen=True, kw_only=True):
    """A message of a sequenced topic."""

    epoch: int
    seq: int
    ts: int


class Quote(ChannelMessage, frozen=True, kw_only=True, tag=True):
    """Level 1 (即时行情): the day's figures and the best price on each side (0: that side is empty)."""

    instrument: str
    reference_price: int
    last: int  # 0 when nothing traded today
    change: int  # last − reference_price; 0 when nothing traded today
    open: int
    high: int
    low: int
    volume: int
    turnover: int
    trades: int
    bid: int
    bid_quantity: int
    ask: int
    ask_quantity: int
    # The day's price band (涨停价 / 跌停价): engine.rules.band_limits of reference_price, as the
    # engine checks every order against it. 0: not told (a node older than these fields).
    limit_up: int = 0
    limit_down: int = 0
    # Today's agreement transfers (bulk trades, topic ``bulk.<INSTRUMENT>``): counted apart from the
    # listing's volume, turnover and trades above, and never a price of the listing.
    bulk_volume: int = 0  # t
    bulk_turnover: int = 0  # fen
    bulk_trades: int = 0


class Level(msgspec.Struct, frozen=True, array_like=True):
    """One price level of the book: ``[price, quantity, orders]`` on the wire."""

    price: int
    quantity: int
    orders: int


class Depth(ChannelMessage, frozen=True, kw_only=True, tag=True):
    """The five best levels per side, best first, with quantity and order count."""

    instrument: str
    bids: list[Level]
    asks: list[Level]


class Trade(ChannelMessage, frozen=True, kw_only=True, tag=True):
    """One listing trade, tick by tick; it printed at the resting order's price."""

    instrument: str
    trade_id: int
    price: int
    quantity: int
    aggressor: Side


class BulkTrade(ChannelMessage, frozen=True, kw_only=True, tag=True):
    """One executed agreement transfer (协议转让), a bulk trade, on topic ``bulk.<INSTRUMENT>``.

    Anonymous like every market-data message: no account, no member, no fee. It is outside the
    listing: it sets no last, open, high, low or close, and moves no band.
    """

    instrument: str
    transfer_id: int
    price: int
    quantity: int


class InstrumentStatus(ChannelMessage, frozen=True, kw_only=True, tag=True):
    instrument: str
    halted: bool
    reason: str


class MarketStatus(ChannelMessage, frozen=True, kw_only=True, tag=True):
    """The market as a whole (topic ``status.MARKET``): the trading day, the session, a market halt."""

    trading_day: int  # YYYYMMDD; the open day, or the last one when none is open (0: never)
    session: Session
    halted: bool
    reason: str
    day_open: bool = False  # between StartOfDay and EndOfDay
    # The afternoon has closed (engine MarketState.sessions_over): session CLOSED is then the end of
    # the day's trading, no longer the wait before its morning; only EndOfDay remains.
    sessions_over: bool = False


class Bulletin(ChannelMessage, frozen=True, kw_only=True, tag=True):
    """The daily bulletin of one instrument, published at the end of the day."""

    trading_day: int
    instrument: str
    reference_price: int
    open: int
    high: int
    low: int
    last: int
    close: int  # the next day's reference price
    vwap: int
    volume: int
    turnover: int
    trades: int
    # Agreement transfers (bulk trades) of the day, apart from the listing's figures above.
    bulk_volume: int = 0  # t
    bulk_turnover: int = 0  # fen
    bulk_trades: int = 0


class MarketDataHeartbeat(MarketDataMessage, frozen=True, kw_only=True, tag=True):
    """Sent every ``heartbeat_ms``: each topic's last published ``seq``, and the interval itself.

    ``heartbeat_ms`` tells a subscriber how long a healthy feed may stay silent (0: a sender that
    does not say, an older node); the SDK calls a feed silent after ``SILENT_AFTER_HEARTBEATS``
    intervals without a message.
    """

    epoch: int
    ts: int
    seqs: dict[str, int]
    heartbeat_ms: int = 0


# ---------------------------------------------------------------------------------- auctions


class AuctionCap(msgspec.Struct, frozen=True, kw_only=True):
    """The most one account of ``kind`` may have bid at once: ``max_t`` tonnes, ``max_bp`` basis
    points of the volume, or the smaller of the two (0: that one does not apply)."""

    kind: str
    max_t: int = 0
    max_bp: int = 0


class AuctionNotice(ChannelMessage, frozen=True, kw_only=True, tag=True):
    """An auction announced (a one-way application approved): its terms as resolved, every default
    filled in, first on ``auction.<AUCTION_ID>``.

    ``auctioneer`` names the system account of a reserve sale (the reserve) or a buyback (the
    treasury); a one-way seller is a member's account and stays private: "" there.
    """

    auction_id: int
    kind: AuctionKind
    purpose: Purpose  # reserve sales; NONE otherwise
    instrument: str
    auctioneer: str
    volume: int  # t offered (a sale) or sought (a buyback); 0 for a budget-only buyback
    budget: int  # fen: a buyback's most money spent; 0: none
    price_limit: int  # fen/t: the floor of a sale, the ceiling of a buyback
    vwap: int  # fen/t: the VWAP the limit came from (0: a fixed price)
    vwap_k_bp: int  # the VWAP rule's k in basis points (0: a fixed price)
    vwap_from: int  # the VWAP window's first trading day, YYYYMMDD (0: a fixed price)
    vwap_to: int
    price_cap: int  # fen/t: caps a VWAP-derived limit (0: none)
    bid_ceiling: int  # fen/t: one-way bidding's highest bid (0: none)
    opens_at: int  # ns UTC: bidding opens
    closes_at: int
    cutoff_at: int  # ns UTC: the last moment bids may be entered, changed or withdrawn
    bid_lot_t: int
    pricing: Pricing
    tie_break: TieBreak
    eligible_kinds: list[str]  # account kinds that may bid
    caps: list[AuctionCap]
    cancel_if_undersubscribed: bool
    cancel_below_reference_bp: int  # 0: off
    seed_commitment: str  # SHA-256 of the seed, hex ("" for a time tie-break without one)
    name: str


class AuctionState(ChannelMessage, frozen=True, kw_only=True, tag=True):
    """An auction's state changed: bidding opened or closed, or the auction was cancelled before clearing."""

    auction_id: int
    instrument: str
    status: AuctionStatus  # OPEN, CLOSED or CANCELLED (CLEARED comes as ``AuctionResults``)
    reason: str = ""  # a cancellation's reason


class AuctionResults(ChannelMessage, frozen=True, kw_only=True, tag=True):
    """A cleared auction's public results: every field of the engine's ``AuctionCleared``. The
    anonymised bid list is served in pages by the snapshot service (``AuctionBidsRequest``)."""

    auction_id: int
    kind: AuctionKind
    instrument: str
    volume_offered: int  # t; 0 for a budget-only buyback
    budget: int  # fen
    price_limit: int  # fen/t
    bid_volume: int  # t
    bid_count: int  # bids at the close (the length of the anonymised bid list)
    bidders: int
    successful_bidders: int
    volume_sold: int  # t allocated (bought, for a buyback)
    clearing_price: int  # fen/t; 0: nothing sold (or cancelled)
    revenue: int  # fen: Σ price × quantity allocated (spent, for a buyback)
    bid_to_cover_bp: int
    min_bid: int  # fen/t
    median_bid: int
    max_bid: int
    covered_share_bp: int  # share of the volume sold won by covered entities
    hhi: int  # Herfindahl-Hirschman index of the allocations per bidder (0-10,000)
    cancelled: bool  # by its own cancellation rules
    cancel_cause: CancelCause
    reference_price: int  # fen/t: the previous close the cancellation test used (0: no such test)
    cancel_below_reference_bp: int
    seed_commitment: str
    seed: str  # the revealed seed, hex ("" for a time tie-break)
    fees: int  # fen: the fees charged on both sides


AuctionMessage = AuctionNotice | AuctionState | AuctionResults


class AuctionSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """What an auction's topic has said so far: its notice and its latest state change and results.

    ``seq`` is the topic's last seq; ``status`` follows from the messages (the notice: ANNOUNCED;
    a state change: its status; results: CLEARED, even when its rules cancelled it).
    """

    auction_id: int
    seq: int
    status: AuctionStatus
    notice: AuctionNotice
    state: AuctionState | None = None
    results: AuctionResults | None = None


def follow_auction(kept: AuctionSnapshot | None, message: AuctionMessage) -> AuctionSnapshot | None:
    """``kept`` after ``message`` (the next of its topic); None while the topic has no notice yet."""
    if isinstance(message, AuctionNotice):
        if kept is None:
            return AuctionSnapshot(
                auction_id=message.auction_id, seq=message.seq, status=AuctionStatus.ANNOUNCED, notice=message
            )
        return msgspec.structs.replace(kept, seq=message.seq, notice=message)
    if kept is None:
        return None
    if isinstance(message, AuctionState):
        return msgspec.structs.replace(kept, seq=message.seq, status=message.status, state=message)
    return msgspec.structs.replace(kept, seq=message.seq, status=AuctionStatus.CLEARED, results=message)


class AuctionBid(msgspec.Struct, frozen=True, array_like=True):
    """One bid of a cleared auction's anonymised list: ``[bidder, time_rank, price, quantity,
    allocated, allocation_price]`` on the wire. ``bidder`` is a pseudonym within the auction."""

    bidder: int
    time_rank: int
    price: int
    quantity: int
    allocated: int
    allocation_price: int  # fen/t paid (got); 0 when nothing was allocated


StateMessage = Quote | Depth | InstrumentStatus | MarketStatus | Bulletin
ChannelPayload = (
    Quote
    | Depth
    | Trade
    | BulkTrade
    | InstrumentStatus
    | MarketStatus
    | Bulletin
    | AuctionNotice
    | AuctionState
    | AuctionResults
)
Published = ChannelPayload | MarketDataHeartbeat


# ---------------------------------------------------------------------------------- snapshot service


class SnapshotRequest(MarketDataMessage, frozen=True, kw_only=True, tag=True):
    """Ask for the current state of ``topics`` (empty: every topic) with the ``seq`` it covers."""

    request_id: int
    topics: list[str] = msgspec.field(default_factory=list)


class TopicSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """One topic's state: ``latest`` for state channels, the most recent trades for stream topics.

    ``seq`` is the last seq the state covers (0: nothing published on the topic yet). ``trades``
    (trade topics) and ``bulk_trades`` (bulk topics) are oldest first and keep each message's own
    ``seq``, so a subscriber can fill a gap from them. Bulk trades have a field of their own, not
    ``trades``: a reader older than them decodes every item still (it ignores the unknown key).
    ``auction`` (auction topics) holds the auction's notice and latest state change and results,
    each with its own ``seq``; on other topics it is unset and not on the wire at all, so their
    items keep the bytes they had before auctions.
    """

    topic: str
    seq: int
    latest: StateMessage | None = None
    trades: list[Trade] = msgspec.field(default_factory=list)
    bulk_trades: list[BulkTrade] = msgspec.field(default_factory=list)
    auction: AuctionSnapshot | msgspec.UnsetType = msgspec.UNSET


class Snapshot(MarketDataMessage, frozen=True, kw_only=True, tag=True):
    request_id: int
    epoch: int
    items: list[TopicSnapshot]


class AuctionsRequest(MarketDataMessage, frozen=True, kw_only=True, tag=True):
    """Ask for the auctions the exchange keeps (announced, live, and the last finished ones)."""

    request_id: int
    auction_ids: list[int] = msgspec.field(default_factory=list)  # empty: every auction kept


class AuctionsReply(MarketDataMessage, frozen=True, kw_only=True, tag=True):
    request_id: int
    epoch: int
    auctions: list[AuctionSnapshot]  # by auction id


class AuctionBidsRequest(MarketDataMessage, frozen=True, kw_only=True, tag=True):
    """Ask for a page of a cleared auction's anonymised bid list, in time-rank order."""

    request_id: int
    auction_id: int
    offset: Annotated[int, msgspec.Meta(ge=0)] = 0
    limit: Annotated[int, msgspec.Meta(ge=0)] = 0  # 0, or more than the service's page size: its page size


class AuctionBidsReply(MarketDataMessage, frozen=True, kw_only=True, tag=True):
    request_id: int
    epoch: int
    auction_id: int
    offset: int
    total: int  # bids in the whole list
    bids: list[AuctionBid]


class BarsRequest(MarketDataMessage, frozen=True, kw_only=True, tag=True):
    """Ask for the day's one-minute bars of ``instruments`` (empty: every instrument)."""

    request_id: int
    instruments: list[str] = msgspec.field(default_factory=list)


class InstrumentBars(msgspec.Struct, frozen=True, kw_only=True):
    """One instrument's bars of the day, oldest first, covering its trades up to ``seq``, the last
    seq of its ``trade.<INSTRUMENT>`` topic they include: a live trade with a higher seq is newer."""

    instrument: str
    seq: int
    bars: list[Bar]


class BarsReply(MarketDataMessage, frozen=True, kw_only=True, tag=True):
    request_id: int
    epoch: int
    trading_day: int  # YYYYMMDD of the bars (0: no day started since the node's data began)
    items: list[InstrumentBars]


class SnapshotError(MarketDataMessage, frozen=True, kw_only=True, tag=True):
    """A refused request: ``text`` starts with a code (``MALFORMED_REQUEST``, ``THROTTLED``,
    ``TOO_MANY_TOPICS``, ``REPLY_TOO_LARGE``, ``UNKNOWN_AUCTION``, ``AUCTION_NOT_CLEARED``,
    ``UNKNOWN_INSTRUMENT``, ``INTERNAL_ERROR``) and adds ``key=value`` context. ``request_id`` is the
    request's whenever it can be read, else 0 (PROTOCOL.md §6.6)."""

    request_id: int
    text: str


ServiceRequest = SnapshotRequest | AuctionsRequest | AuctionBidsRequest | BarsRequest
SnapshotReply = Snapshot | SnapshotError | AuctionsReply | AuctionBidsReply | BarsReply

_WIDEST_INT = 2**64 - 1  # msgpack's widest integer: 9 bytes


def bids_page_size(max_reply_bytes: int) -> int:
    """The most bids an ``AuctionBidsReply`` may carry and still fit ``max_reply_bytes``, whatever
    its numbers: the reply's envelope and each bid counted at their widest (every integer 9 bytes,
    the bid array's header 5)."""
    widest_bid = len(_encoder.encode(AuctionBid(*[_WIDEST_INT] * len(AuctionBid.__struct_fields__))))
    widest = {name: _WIDEST_INT for name in ("request_id", "epoch", "auction_id", "offset", "total")}
    envelope = len(_encoder.encode(AuctionBidsReply(**widest, bids=[]))) - 1 + 5
    return max(1, (max_reply_bytes - envelope) // widest_bid)


class _RequestType(msgspec.Struct, frozen=True):
    type: str = "SnapshotRequest"  # a map without a type has always been read as a SnapshotRequest


_encoder = msgspec.msgpack.Encoder()
_published_decoder: msgspec.msgpack.Decoder[Published] = msgspec.msgpack.Decoder(Published)
_request_type_decoder = msgspec.msgpack.Decoder(_RequestType)
_request_decoder: msgspec.msgpack.Decoder[SnapshotRequest] = msgspec.msgpack.Decoder(SnapshotRequest)
_request_decoders: dict[str, msgspec.msgpack.Decoder[ServiceRequest]] = {
    "AuctionsRequest": msgspec.msgpack.Decoder(AuctionsRequest),
    "AuctionBidsRequest": msgspec.msgpack.Decoder(AuctionBidsRequest),
    "BarsRequest": msgspec.msgpack.Decoder(BarsRequest),
}
_reply_decoder: msgspec.msgpack.Decoder[SnapshotReply] = msgspec.msgpack.Decoder(SnapshotReply)


def encode(message: MarketDataMessage) -> bytes:
    return _encoder.encode(message)


def decode_channel_message(payload: bytes) -> Published:
    """A published payload (channel message or heartbeat); raises ``msgspec.DecodeError`` on garbage."""
    return _published_decoder.decode(payload)


def decode_snapshot_request(payload: bytes) -> ServiceRequest:
    """A request to the snapshot service; its ``type`` picks the decoder (none: a SnapshotRequest,
    and a type it does not know fails as a SnapshotRequest does)."""
    kind = _request_type_decoder.decode(payload).type
    return _request_decoders.get(kind, _request_decoder).decode(payload)


def decode_snapshot_reply(payload: bytes) -> SnapshotReply:
    return _reply_decoder.decode(payload)


def encode_topic_snapshot(item: TopicSnapshot) -> bytes:
    """One ``Snapshot.items`` element on its own: the snapshot service caches these per topic and seq."""
    return _encoder.encode(item)


def encode_auction(item: AuctionSnapshot) -> bytes:
    """One ``AuctionsReply.auctions`` element on its own: the snapshot service caches these per seq."""
    return _encoder.encode(item)
