"""The market-data wire format: what the PUB socket and the snapshot service send.

Each published message is two ZeroMQ frames, ``[topic, payload]``. The topic is ASCII
``"<channel>.<INSTRUMENT>"`` (channels ``quote``, ``depth``, ``trade``, ``bulk``, ``status``,
``bulletin``); the market-wide status is ``status.MARKET`` and heartbeats are ``heartbeat``. The
payload is one msgpack map whose ``type`` key names the message.

Two channels are streams, every message kept: ``trade`` (listing trades) and ``bulk`` (agreement
transfers, 协议转让, once executed). A bulk trade never sets a listing price; the day's bulk figures
travel in the quote and the bulletin, apart from the listing's. Market data is public: nothing of a
transfer before it executes (proposal, acceptance, rejection, cancel, expiry) and no account is ever
on it.

Every channel message carries ``epoch`` (the node's start time in ns: a new value means the node
restarted and every topic's sequence began again), ``seq`` (per topic, from 1, consecutive: a jump
is a lost message) and ``ts`` (exchange time of the last event that caused it). Heartbeats carry
every topic's last ``seq`` so a subscriber notices a lost last message on a quiet topic.

Integers only: prices in fen per tonne, quantities in tonnes, money in fen, times in ns (UTC).
Compatibility: new fields go at the end with defaults; readers ignore keys they do not know; a
field is never renamed, reordered or retyped.
"""

from __future__ import annotations

import msgspec

from engine.messages import Session, Side

CHANNELS: tuple[str, ...] = ("quote", "depth", "trade", "bulk", "status", "bulletin")
STATE_CHANNELS: frozenset[str] = frozenset({"quote", "depth", "status", "bulletin"})  # latest value is the state
STREAM_CHANNELS: frozenset[str] = frozenset({"trade", "bulk"})  # every message counts; never conflated
MARKET = "MARKET"  # the instrument part of the market-wide status topic
HEARTBEAT_TOPIC = "heartbeat"
SILENT_AFTER_HEARTBEATS = 3  # a feed with nothing for this many heartbeat intervals is silent (PROTOCOL.md §6.3)


def topic(channel: str, instrument: str) -> str:
    return f"{channel}.{instrument}"


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


StateMessage = Quote | Depth | InstrumentStatus | MarketStatus | Bulletin
ChannelPayload = Quote | Depth | Trade | BulkTrade | InstrumentStatus | MarketStatus | Bulletin
Published = Quote | Depth | Trade | BulkTrade | InstrumentStatus | MarketStatus | Bulletin | MarketDataHeartbeat


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
    """

    topic: str
    seq: int
    latest: StateMessage | None = None
    trades: list[Trade] = msgspec.field(default_factory=list)
    bulk_trades: list[BulkTrade] = msgspec.field(default_factory=list)


class Snapshot(MarketDataMessage, frozen=True, kw_only=True, tag=True):
    request_id: int
    epoch: int
    items: list[TopicSnapshot]


class SnapshotError(MarketDataMessage, frozen=True, kw_only=True, tag=True):
    """A refused request: ``text`` starts with a code (``MALFORMED_REQUEST``, ``THROTTLED``,
    ``TOO_MANY_TOPICS``, ``REPLY_TOO_LARGE``, ``INTERNAL_ERROR``) and adds ``key=value`` context.
    ``request_id`` is the request's whenever it can be read, else 0 (PROTOCOL.md §6.6)."""

    request_id: int
    text: str


SnapshotReply = Snapshot | SnapshotError

_encoder = msgspec.msgpack.Encoder()
_published_decoder: msgspec.msgpack.Decoder[Published] = msgspec.msgpack.Decoder(Published)
_request_decoder: msgspec.msgpack.Decoder[SnapshotRequest] = msgspec.msgpack.Decoder(SnapshotRequest)
_reply_decoder: msgspec.msgpack.Decoder[SnapshotReply] = msgspec.msgpack.Decoder(SnapshotReply)


def encode(message: MarketDataMessage) -> bytes:
    return _encoder.encode(message)


def decode_channel_message(payload: bytes) -> Published:
    """A published payload (channel message or heartbeat); raises ``msgspec.DecodeError`` on garbage."""
    return _published_decoder.decode(payload)


def decode_snapshot_request(payload: bytes) -> SnapshotRequest:
    return _request_decoder.decode(payload)


def decode_snapshot_reply(payload: bytes) -> SnapshotReply:
    return _reply_decoder.decode(payload)


def encode_topic_snapshot(item: TopicSnapshot) -> bytes:
    """One ``Snapshot.items`` element on its own: the snapshot service caches these per topic and seq."""
    return _encoder.encode(item)
