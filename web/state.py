"""What the public web page shows, built from market data: the page's state and its changes.

Pure: market-data messages in (``market_data.messages``), JSON-ready values out, no sockets, no
clock. The bridge (``web.bridge``) feeds it from the subscriber SDK and hands the changes to the
browsers; docs/WEB.md describes every value (STATE and CHANGE).

- ``reset`` rebuilds everything from a synced subscriber (its first sync, or a new epoch after the
  node restarted): the page is told to replace what it holds.
- ``apply`` takes the messages one ``poll`` returned and says what changed, as CHANGE values.
- Each change bumps ``version``; a browser that joins gets the STATE at a version and only the
  changes after it, so nothing is shown twice and nothing is missed.

Times go to the browser in milliseconds (a JavaScript number holds them exactly; nanoseconds it
would round). Prices, quantities and money stay integers: fen per tonne, tonnes, fen. Bars cover
listing trades only; the day's trades, bulk trades and bars start empty when a new trading day
starts. Bars come from the snapshot service (``BarsRequest``) up to a trade seq; a live trade with
a higher seq is added to them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import msgspec

from engine.messages import AuctionKind, AuctionStatus
from market_data.bars import NS_PER_MINUTE, add_trade
from market_data.board import percent_change
from market_data.messages import (
    AuctionBid,
    AuctionNotice,
    AuctionResults,
    AuctionSnapshot,
    BarsReply,
    BulkTrade,
    Bulletin,
    ChannelPayload,
    Depth,
    InstrumentStatus,
    MarketStatus,
    Quote,
    Trade,
    follow_auction,
)

TRADES_KEPT = 50  # per instrument: the instrument page's last trades
BULK_KEPT = 1_000  # per instrument and day: a day's agreement transfers are few
AUCTIONS_KEPT = 200  # the newest auctions (by id); the snapshot service keeps fewer (results_kept)
_NS_PER_MS = 1_000_000

Json = dict[str, Any]


class FeedSource(Protocol):
    """What ``reset`` reads: ``market_data.subscriber.Subscriber`` is one."""

    def instruments(self) -> list[str]: ...
    def quote(self, instrument: str) -> Quote | None: ...
    def depth(self, instrument: str) -> Depth | None: ...
    def status(self, instrument: str) -> InstrumentStatus | None: ...
    def market_status(self) -> MarketStatus | None: ...
    def bulletin(self, instrument: str) -> Bulletin | None: ...
    def trades(self, instrument: str) -> list[Trade]: ...
    def bulk_trades(self, instrument: str) -> list[BulkTrade]: ...
    def auctions(self) -> list[AuctionSnapshot]: ...


# ---------------------------------------------------------------------------------- values


def ms(ns: int) -> int:
    return ns // _NS_PER_MS


def _name(value: Any) -> str:
    return str(value.name.lower())


def _fields(message: msgspec.Struct, drop: Iterable[str] = ("epoch", "seq", "ts")) -> Json:
    skip = frozenset(drop)
    return {name: getattr(message, name) for name in message.__struct_fields__ if name not in skip}


def quote_value(quote: Quote) -> Json:
    value = _fields(quote)
    value["change_pct"] = percent_change(quote.change, quote.reference_price) if quote.trades else "—"
    value["ts_ms"] = ms(quote.ts)
    return value


def depth_value(depth: Depth) -> Json:
    return {
        "instrument": depth.instrument,
        "bids": [[level.price, level.quantity, level.orders] for level in depth.bids],
        "asks": [[level.price, level.quantity, level.orders] for level in depth.asks],
    }


def status_value(status: InstrumentStatus) -> Json:
    return {"instrument": status.instrument, "halted": status.halted, "reason": status.reason}


def market_value(market: MarketStatus) -> Json:
    value = _fields(market)
    value["session"] = _name(market.session)
    value["ts_ms"] = ms(market.ts)
    return value


def trade_value(trade: Trade) -> Json:
    return {
        "trade_id": trade.trade_id,
        "ts_ms": ms(trade.ts),
        "price": trade.price,
        "quantity": trade.quantity,
        "aggressor": _name(trade.aggressor),
    }


def bulk_value(bulk: BulkTrade) -> Json:
    return {"transfer_id": bulk.transfer_id, "ts_ms": ms(bulk.ts), "price": bulk.price, "quantity": bulk.quantity}


def bulletin_value(bulletin: Bulletin) -> Json:
    return _fields(bulletin)


def bar_value(row: Sequence[int]) -> list[int]:
    """``[t_ms, open, high, low, close, volume, turnover]`` of a bar row (``market_data.bars`` order)."""
    return [ms(row[0]), *row[1:7]]


def notice_value(notice: AuctionNotice) -> Json:
    value = _fields(notice, ("epoch", "seq", "ts", "opens_at", "closes_at", "cutoff_at"))
    for name in ("kind", "purpose", "pricing", "tie_break"):
        value[name] = _name(getattr(notice, name))
    value["caps"] = [msgspec.structs.asdict(cap) for cap in notice.caps]
    value["opens_at_ms"] = ms(notice.opens_at)
    value["closes_at_ms"] = ms(notice.closes_at)
    value["cutoff_at_ms"] = ms(notice.cutoff_at)
    return value


def results_value(results: AuctionResults) -> Json:
    value = _fields(results, ("epoch", "seq", "ts", "auction_id", "kind", "instrument"))
    value["cancel_cause"] = _name(results.cancel_cause)
    value["ts_ms"] = ms(results.ts)
    return value


def auction_value(auction: AuctionSnapshot, curve: bool = False) -> Json:
    """``curve``: the website holds the cleared auction's bid list, so its curve and results file
    can be fetched (a moment after the results: the bridge asks for the bids when they arrive)."""
    state = auction.state
    return {
        "auction_id": auction.auction_id,
        "status": _name(auction.status),
        "notice": notice_value(auction.notice),
        "state_reason": state.reason if state is not None else "",
        "results": results_value(auction.results) if auction.results is not None else None,
        "curve": curve,
    }


def curve_value(auction: AuctionSnapshot, bids: Sequence[AuctionBid]) -> Json:
    """A cleared auction's anonymised demand curve (a sale: highest price first) or supply curve (a
    buyback: lowest first), bid by bid in the order they fill, earlier time rank first at a price."""
    sells = auction.notice.kind is not AuctionKind.BUYBACK
    ordered = sorted(bids, key=lambda b: (-b.price if sells else b.price, b.time_rank))
    steps, start = [], 0
    for bid in ordered:
        steps.append({"start": start, "quantity": bid.quantity, "price": bid.price, "allocated": bid.allocated})
        start += bid.quantity
    results = auction.results
    return {
        "auction_id": auction.auction_id,
        "kind": _name(auction.notice.kind),
        "side": "demand" if sells else "supply",
        "price_limit": auction.notice.price_limit,
        "clearing_price": results.clearing_price if results is not None else 0,
        "volume": auction.notice.volume,
        "steps": steps,
    }


# ---------------------------------------------------------------------------------- the page's state


class PageState:
    """Everything the public pages show, with a version that every change moves on."""

    def __init__(self) -> None:
        self.version = 0
        self.feed: Json = {"state": "connecting", "text": "正在连接行情 Connecting to market data…"}
        self.market: Json | None = None
        self.trading_day = 0
        self.instruments: list[str] = []
        self.quotes: dict[str, Json] = {}
        self.depth: dict[str, Json] = {}
        self.status: dict[str, Json] = {}
        self.trades: dict[str, deque[Json]] = {}
        self.bulk: dict[str, deque[Json]] = {}
        self.bars: dict[str, list[list[int]]] = {}  # instrument -> rows in market_data.bars order (ns minutes)
        self.bars_seq: dict[str, int] = {}  # instrument -> the trade seq the bars cover
        self.bulletins: dict[str, Json] = {}
        self.auctions: dict[int, AuctionSnapshot] = {}
        self.auction_bids: dict[int, list[AuctionBid]] = {}  # cleared auctions' anonymised bid lists

    # ------------------------------------------------------------------ whole
    def reset(self, source: FeedSource) -> None:
        """Everything again from a synced subscriber (bars come apart, ``set_bars``)."""
        self.version += 1
        market = source.market_status()
        self.market = market_value(market) if market is not None else None
        self.trading_day = market.trading_day if market is not None else 0
        self.instruments = list(source.instruments())
        self.quotes, self.depth, self.status, self.bulletins = {}, {}, {}, {}
        self.trades, self.bulk, self.bars, self.bars_seq = {}, {}, {}, {}
        for code in self.instruments:
            quote, depth, status, bulletin = (
                source.quote(code),
                source.depth(code),
                source.status(code),
                source.bulletin(code),
            )
            if quote is not None:
                self.quotes[code] = quote_value(quote)
            if depth is not None:
                self.depth[code] = depth_value(depth)
            if status is not None:
                self.status[code] = status_value(status)
            if bulletin is not None:
                self.bulletins[code] = bulletin_value(bulletin)
            # The recent trades held span days; the quote's day counts say how many are today's
            # (as market_data.board does): right on a demo day opened ahead of the calendar too.
            today, bulk_today = (quote.trades, quote.bulk_trades) if quote is not None else (0, 0)
            held = source.trades(code)[-today:] if today else []
            self.trades[code] = deque((trade_value(t) for t in held[-TRADES_KEPT:]), maxlen=TRADES_KEPT)
            bulk_held = source.bulk_trades(code)[-bulk_today:] if bulk_today else []
            self.bulk[code] = deque((bulk_value(b) for b in bulk_held), maxlen=BULK_KEPT)
        self.auctions = {a.auction_id: a for a in source.auctions()}
        self.auction_bids = {k: v for k, v in self.auction_bids.items() if k in self.auctions}

    def set_bars(self, reply: BarsReply) -> list[Json]:
        """The day's bars from the snapshot service: one ``bars`` change per instrument, which
        replaces what a page holds (bars it drew from live trades before the reply included).

        The reply is as new as anything the bridge has seen (the node answers after publishing), so
        a live trade at or below an instrument's ``seq`` is already in its bars. Another day's
        bars (the day rolled over between the question and the answer) change nothing: the bridge
        asks again when the page's day changes.
        """
        if self.trading_day and reply.trading_day and reply.trading_day != self.trading_day:
            return []
        changes: list[Json] = []
        for item in reply.items:
            if item.seq < self.bars_seq.get(item.instrument, 0):
                continue  # older than live trades already drawn (not expected; never go back)
            rows = [list(msgspec.structs.astuple(bar)) for bar in item.bars]
            self.bars[item.instrument] = rows
            self.bars_seq[item.instrument] = item.seq
            changes.append({"kind": "bars", "instrument": item.instrument, "bars": [bar_value(r) for r in rows]})
        if changes:
            self.version += 1
        return changes

    def set_feed(self, state: str, text: str) -> list[Json]:
        if self.feed == {"state": state, "text": text}:
            return []
        self.version += 1
        self.feed = {"state": state, "text": text}
        return [{"kind": "feed", "feed": self.feed}]

    def document(self) -> Json:
        """The STATE: everything at ``version``."""
        return {
            "version": self.version,
            "feed": self.feed,
            "market": self.market,
            "instruments": self.instruments,
            "quotes": self.quotes,
            "depth": self.depth,
            "status": self.status,
            "trades": {code: list(kept) for code, kept in self.trades.items()},
            "bulk": {code: list(kept) for code, kept in self.bulk.items()},
            "bars": {code: [bar_value(row) for row in rows] for code, rows in self.bars.items()},
            "bulletins": self.bulletins,
            "auctions": [auction_value(self.auctions[key], key in self.auction_bids) for key in sorted(self.auctions)],
        }

    # ------------------------------------------------------------------ changes
    def apply(self, messages: Iterable[ChannelPayload]) -> list[Json]:
        """The changes ``messages`` (in order, as the subscriber returned them) make."""
        changes: list[Json] = []
        for message in messages:
            change = self._apply(message)
            if change is not None:
                changes += change
        if changes:
            self.version += 1
        return changes

    def _apply(self, message: ChannelPayload) -> list[Json] | None:
        if isinstance(message, Quote):
            code = message.instrument
            self._know(code)
            value = self.quotes[code] = quote_value(message)
            return [{"kind": "quote", "quote": value}]
        if isinstance(message, Depth):
            value = self.depth[message.instrument] = depth_value(message)
            return [{"kind": "depth", "depth": value}]
        if isinstance(message, Trade):
            return self._on_trade(message)
        if isinstance(message, BulkTrade):
            value = bulk_value(message)
            self.bulk.setdefault(message.instrument, deque(maxlen=BULK_KEPT)).append(value)
            return [{"kind": "bulk", "instrument": message.instrument, "bulk": value}]
        if isinstance(message, InstrumentStatus):
            value = self.status[message.instrument] = status_value(message)
            return [{"kind": "status", "status": value}]
        if isinstance(message, MarketStatus):
            return self._on_market(message)
        if isinstance(message, Bulletin):
            value = self.bulletins[message.instrument] = bulletin_value(message)
            return [{"kind": "bulletin", "bulletin": value}]
        kept = follow_auction(self.auctions.get(message.auction_id), message)  # an auction's message
        if kept is None:
            return None
        self.auctions[message.auction_id] = kept
        for oldest in sorted(self.auctions)[: max(0, len(self.auctions) - AUCTIONS_KEPT)]:
            del self.auctions[oldest]
            self.auction_bids.pop(oldest, None)
        return [{"kind": "auction", "auction": auction_value(kept, message.auction_id in self.auction_bids)}]

    def _know(self, code: str) -> None:
        if code not in self.instruments:
            self.instruments.append(code)

    def _on_trade(self, trade: Trade) -> list[Json]:
        code = trade.instrument
        value = trade_value(trade)
        self.trades.setdefault(code, deque(maxlen=TRADES_KEPT)).append(value)
        changes: list[Json] = [{"kind": "trade", "instrument": code, "trade": value}]
        if trade.seq > self.bars_seq.get(code, 0):
            self.bars_seq[code] = trade.seq
            rows = self.bars.setdefault(code, [])
            minute = trade.ts - trade.ts % NS_PER_MINUTE
            if rows and rows[-1][0] >= minute:
                row = add_trade(rows[-1], minute, trade.price, trade.quantity)
            else:
                row = add_trade(None, minute, trade.price, trade.quantity)
                rows.append(row)
            changes.append({"kind": "bar", "instrument": code, "bar": bar_value(row)})
        return changes

    def _on_market(self, market: MarketStatus) -> list[Json]:
        changes: list[Json] = []
        if market.trading_day != self.trading_day and market.day_open:
            # A new trading day: yesterday's trades, bulk trades and bars are not today's.
            self.trading_day = market.trading_day
            for kept in (*self.trades.values(), *self.bulk.values()):
                kept.clear()
            self.bars.clear()
            changes.append({"kind": "day", "trading_day": market.trading_day})
        self.market = market_value(market)
        changes.append({"kind": "market", "market": self.market})
        return changes

    # ------------------------------------------------------------------ auctions
    def cleared_without_bids(self) -> list[int]:
        """Cleared auctions whose bid list the bridge has not fetched yet."""
        return [
            key
            for key, auction in sorted(self.auctions.items())
            if auction.status is AuctionStatus.CLEARED and key not in self.auction_bids
        ]

    def set_auction_bids(self, auction_id: int, bids: list[AuctionBid]) -> list[Json]:
        """A cleared auction's anonymised bid list, fetched by the bridge: the change that tells the
        page its curve and results file are ready."""
        auction = self.auctions.get(auction_id)
        if auction is None:
            return []
        self.auction_bids[auction_id] = bids
        self.version += 1
        return [{"kind": "auction", "auction": auction_value(auction, True)}]

    def curve(self, auction_id: int) -> Json | None:
        auction, bids = self.auctions.get(auction_id), self.auction_bids.get(auction_id)
        if auction is None or bids is None:
            return None
        return curve_value(auction, bids)
