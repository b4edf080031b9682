"""The market-data publisher: engine events and the exchange's state in, sequenced messages out.

Pure: no sockets and no clock. The node calls ``on_batch`` after each applied batch, then
``drain(now)`` and sends what it returns on its XPUB socket; it sends ``heartbeat(now)`` every
``heartbeat_ms``. The snapshot service (``market_data.snapshot_service``) answers requests from
what the publisher keeps: ``topics()``, ``epoch`` and ``snapshot_item(topic)``.

What goes out (real-time quotes: reform plan §6, Decree 20 Art. 31; the wire: docs/PROTOCOL.md §6):
- trades, bulk trades, status changes and bulletins at the next ``drain``, in event order;
- an executed agreement transfer (``TransferExecuted``) as a ``BulkTrade`` on ``bulk.<INSTRUMENT>``,
  with neither account nor fee. The day's bulk volume, turnover and count go into the quote, apart
  from the listing's figures, which a transfer never changes. Nothing else of a transfer is
  published: proposals, acceptances, rejections, cancels and expiries are private to its parties;
- quote and depth of an instrument whenever an event touched it and the value changed (seq and ts
  are not part of the value). With ``conflate_ns`` > 0 each quote and depth topic goes out at most
  once per interval, and the latest value is never lost: it leaves when the interval ends
  (``next_due_ns`` tells the node how long it may sleep);
- an auction's notice, state changes and results on ``auction.<AUCTION_ID>``, in event order and
  never conflated (``market_data.auction_feed``: nothing of a bid, a bidder or a one-way seller).
  The publisher keeps each auction's latest messages for as long as the exchange keeps the
  auction, for the snapshot service (``auction_item``), and forgets the topic after.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence

import msgspec

from engine.exchange import Exchange
from engine.messages import (
    AuctionAnnounced,
    DailyBulletin,
    Event,
    InstrumentStatusChanged,
    MarketStatusChanged,
    Session,
    SessionChanged,
    TradeExecuted,
    TradingDayEnded,
    TradingDayStarted,
    TransferExecuted,
    TransferStatus,
)
from engine.view import DepthLevel, ExchangeView
from market_data import auction_feed
from market_data.bars import DayBars
from market_data.messages import (
    AUCTION_CHANNEL,
    HEARTBEAT_TOPIC,
    MARKET,
    AuctionMessage,
    AuctionSnapshot,
    BulkTrade,
    Bulletin,
    Depth,
    InstrumentBars,
    InstrumentStatus,
    Level,
    MarketDataHeartbeat,
    MarketDataMessage,
    MarketStatus,
    Quote,
    Snapshot,
    StateMessage,
    TopicSnapshot,
    Trade,
    auction_topic,
    encode,
    encode_auction,
    encode_topic_snapshot,
    follow_auction,
    split_topic,
    topic,
)

# Events that change the whole market: every instrument's quote is looked at again after them.
_DAY_EVENTS = (TradingDayStarted, SessionChanged, MarketStatusChanged, TradingDayEnded)
# Events that publish a status or a bulletin, or change the whole market.
_STATUS_EVENTS = frozenset({InstrumentStatusChanged, DailyBulletin, *_DAY_EVENTS})
Top = tuple[list[DepthLevel], list[DepthLevel]]  # an instrument's best levels: (bids, asks), best first
_NO_BULK = (0, 0, 0)  # an instrument's bulk figures of the day: (volume t, turnover fen, trades)
_AUCTION_EVENTS = auction_feed.AUCTION_EVENTS
# What ``on_batch`` publishes besides trades: bulk trades, status and auction events.
_PUBLISHED_RARELY: frozenset[type] = frozenset({TransferExecuted, *_STATUS_EVENTS, *_AUCTION_EVENTS})


class Publisher:
    def __init__(
        self,
        exchange: Exchange,
        *,
        epoch: int,
        conflate_ns: int = 0,
        recent_trades: int = 1000,
        levels: int = 5,
        ts: int = 0,
        heartbeat_ms: int = 0,
        bars: DayBars | None = None,
    ) -> None:
        """``epoch``: the node's start time (ns). ``ts``: exchange time of the state at start.
        ``heartbeat_ms``: the node's heartbeat interval, told in every heartbeat (0: not told).
        ``bars``: the day's one-minute bars so far (the node keeps them across restarts); the
        publisher adds every trade to them, for the snapshot service's ``BarsRequest``.

        The status of the market and of every instrument and every instrument's quote and depth
        are queued at once, so the first ``drain`` publishes the whole state.
        """
        self.view = ExchangeView(exchange)
        self.epoch = epoch
        self.conflate_ns = conflate_ns
        self.recent_trades = recent_trades
        self.levels = levels
        self.heartbeat_ms = heartbeat_ms
        self.bars = DayBars() if bars is None else bars
        self._bar_trades: list[TradeExecuted] = []  # the batch's listing trades, for the bars at its end
        self._instruments = set(self.view.instruments())
        self._state_topics = {code: (topic("quote", code), topic("depth", code)) for code in self._instruments}
        self._trade_topics = {code: topic("trade", code) for code in self._instruments}
        self._bulk_topics = {code: topic("bulk", code) for code in self._instruments}
        self._seqs: dict[str, int] = {}  # topic -> last seq assigned
        self._sent_seqs: dict[str, int] = {}  # topic -> last seq handed out by drain (heartbeats tell these)
        self._latest: dict[str, StateMessage] = {}  # state topics: the last message, for the snapshot service
        self._values: dict[str, StateMessage] = {}  # the same with seq and ts zeroed: the change test
        self._trades: dict[str, deque[Trade]] = {}  # trade topics: the most recent trades, oldest first
        self._bulk_trades: dict[str, deque[BulkTrade]] = {}  # bulk topics: the same for bulk trades
        # Each instrument's bulk figures of the day, for its quote: the transfers executed so far
        # today (a node started mid-day finds them in the exchange), reset when a day starts.
        self._bulk_day: dict[str, tuple[int, int, int]] = self._executed_today()
        # Published topics -> (seq, encoded TopicSnapshot): a topic's item changes only with its seq, so a
        # burst of snapshot requests encodes each topic once, not once per request.
        self._items: dict[str, tuple[int, bytes]] = {}
        # Topic, seq, message: encoded by ``drain``, and only for the topics someone subscribes to.
        self._outbox: list[tuple[str, int, MarketDataMessage]] = []
        self._pending: dict[str, int] = {}  # conflation: quote/depth topic -> ts of the last event touching it
        self._last_sent_ns: dict[str, int] = {}  # conflation: quote/depth topic -> when it last went out
        # Auction topics -> what each has said so far (only announced auctions: an application is private).
        self._auctions: dict[str, AuctionSnapshot] = {}
        self._auction_items: dict[str, tuple[int, bytes]] = {}  # encoded ``_auctions`` entries, per seq
        self._auctions_finished = False  # an auction ended: the exchange may have forgotten an old one
        self._market_status = self._initial_market_status()
        self._publish(topic("status", MARKET), self._market_status, ts)
        for code in self.view.instruments():
            figures = self.view.figures(code)
            status = InstrumentStatus(
                epoch=epoch, seq=0, ts=0, instrument=code, halted=figures.halted, reason=figures.halt_reason
            )
            self._publish(topic("status", code), status, ts)
            top = self._top(code)
            self._publish(topic("quote", code), self._quote(code, top), ts)
            self._publish(topic("depth", code), self._depth(code, top), ts)
        for record in self.view.auctions():
            for message in auction_feed.published_so_far(epoch, record):
                self._publish_auction(message, ts)

    # ------------------------------------------------------------------ input
    def on_events(self, events: Sequence[Event]) -> None:
        """Take the events of one applied command, in order."""
        self.on_batch((events,))

    def on_batch(self, outcomes: Iterable[Sequence[Event]]) -> None:
        """Take the events of several applied commands (a journal batch), in order."""
        touched: dict[str, int] = {}
        instruments = self._instruments
        for events in outcomes:
            for event in events:
                # By exact type: nearly every event is an order's or a trade, and one look at its
                # type costs less than a chain of ``isinstance`` tests.
                kind = type(event)
                if kind is TradeExecuted:
                    self._on_trade(event)  # type: ignore[arg-type]  # its type, just checked
                elif kind in _PUBLISHED_RARELY:
                    if kind is TransferExecuted:
                        self._on_bulk_trade(event)  # type: ignore[arg-type]  # its type, just checked
                    elif kind in _STATUS_EVENTS:
                        self._on_status(event, touched)
                    else:
                        self._on_auction(event)
                instrument = getattr(event, "instrument", None)
                if instrument in instruments:
                    touched[instrument] = event.ts_event
        # Quote and depth are computed when they go out (``drain``): once per batch of commands, and
        # with conflation at most once per interval, never per command.
        if self._bar_trades:
            self.bars.on_trades(self._bar_trades)
            self._bar_trades.clear()
        pending, state_topics = self._pending, self._state_topics
        for code, ts in touched.items():
            quote, depth = state_topics[code]
            pending[quote] = ts
            pending[depth] = ts

    def _on_status(self, event: Event, touched: dict[str, int]) -> None:
        ts = event.ts_event
        if isinstance(event, InstrumentStatusChanged):
            status = InstrumentStatus(
                epoch=self.epoch, seq=0, ts=0, instrument=event.instrument, halted=event.halted, reason=event.reason
            )
            self._publish(topic("status", event.instrument), status, ts)
        elif isinstance(event, DailyBulletin):
            self._publish(topic("bulletin", event.instrument), self._bulletin(event), ts)
            market = self.view.market()
            # The bulletin of the day just ended (the node hands it again after a restart, when the
            # day's transfers are gone from the exchange): its bulk figures are the quote's until the
            # next day starts, as the listing's figures stay.
            if not market.day_open and market.trading_day == event.trading_day:
                self._bulk_day[event.instrument] = (event.bulk_volume, event.bulk_turnover, event.bulk_trades)
        elif isinstance(event, TradingDayStarted):
            self._bulk_day.clear()
            self.bars.on_trades(self._bar_trades)  # the day before's, in its bars before they go
            self._bar_trades.clear()
            self.bars.start_day(event.trading_day)
        if isinstance(event, _DAY_EVENTS):
            self._on_market_event(event)
            touched.update(dict.fromkeys(self.view.instruments(), ts))

    def _on_trade(self, event: TradeExecuted) -> None:
        name = self._trade_topics.get(event.instrument) or topic("trade", event.instrument)
        seq = self._next_seq(name)
        trade = Trade(
            epoch=self.epoch,
            seq=seq,
            ts=event.ts_event,
            instrument=event.instrument,
            trade_id=event.trade_id,
            price=event.price,
            quantity=event.quantity,
            aggressor=event.aggressor,
        )
        kept = self._trades.get(name)
        if kept is None:  # not ``setdefault``: its default, a new deque, would be built for every trade
            kept = self._trades[name] = deque(maxlen=self.recent_trades)
        kept.append(trade)
        self._outbox.append((name, seq, trade))
        self._bar_trades.append(event)  # to the bars at the end of the batch (or before a new day)

    def _on_bulk_trade(self, event: TransferExecuted) -> None:
        """An executed transfer: a bulk trade on its own topic, and the day's bulk figures (the quote's)."""
        code = event.instrument
        name = self._bulk_topics.get(code) or topic("bulk", code)
        seq = self._next_seq(name)
        bulk = BulkTrade(
            epoch=self.epoch,
            seq=seq,
            ts=event.ts_event,
            instrument=code,
            transfer_id=event.transfer_id,
            price=event.price,
            quantity=event.quantity,
        )
        self._bulk_trades.setdefault(name, deque(maxlen=self.recent_trades)).append(bulk)
        self._outbox.append((name, seq, bulk))
        volume, turnover, trades = self._bulk_day.get(code, _NO_BULK)
        self._bulk_day[code] = (volume + event.quantity, turnover + event.price * event.quantity, trades + 1)

    def _on_auction(self, event: Event) -> None:
        """A public auction event: its message on the auction's topic. An auction never announced
        (a one-way application withdrawn or refused) has no topic and publishes nothing."""
        assert isinstance(event, auction_feed.PublicAuctionEvent)  # _AUCTION_EVENTS
        if not isinstance(event, AuctionAnnounced) and auction_topic(event.auction_id) not in self._auctions:
            return
        self._publish_auction(auction_feed.message_of(self.epoch, event), event.ts_event)
        if isinstance(event, auction_feed.FINISHING_EVENTS):
            self._auctions_finished = True

    def _publish_auction(self, value: AuctionMessage, ts: int) -> None:
        name = auction_topic(value.auction_id)
        seq = self._next_seq(name)
        message = msgspec.structs.replace(value, epoch=self.epoch, seq=seq, ts=ts)
        kept = follow_auction(self._auctions.get(name), message)
        if kept is not None:
            self._auctions[name] = kept
        self._outbox.append((name, seq, message))

    def _forget_finished_auctions(self) -> None:
        """Drop the topics of the auctions the exchange no longer keeps (config ``results_kept``):
        their last messages have gone out; nothing of them is in a snapshot or a heartbeat after."""
        self._auctions_finished = False
        kept = {auction_topic(record.auction_id) for record in self.view.auctions()}
        for name in [name for name in self._auctions if name not in kept]:
            for table in (self._auctions, self._auction_items, self._items, self._seqs, self._sent_seqs):
                table.pop(name, None)

    def _executed_today(self) -> dict[str, tuple[int, int, int]]:
        """The bulk figures of the transfers the exchange executed today (before this publisher began)."""
        figures: dict[str, tuple[int, int, int]] = {}
        for record in self.view.transfers():
            if record.status is TransferStatus.EXECUTED:
                volume, turnover, trades = figures.get(record.instrument, _NO_BULK)
                value = record.price * record.quantity
                figures[record.instrument] = (volume + record.quantity, turnover + value, trades + 1)
        return figures

    def _on_market_event(self, event: Event) -> None:
        """Follow the market status event by event, so each message says what that event changed."""
        status = self._market_status
        if isinstance(event, TradingDayStarted):
            status = msgspec.structs.replace(
                status, trading_day=event.trading_day, session=Session.CLOSED, day_open=True, sessions_over=False
            )
        elif isinstance(event, SessionChanged):
            # The engine moves to CLOSED only from the afternoon: then the day's sessions are over.
            over = status.sessions_over or event.session is Session.CLOSED
            status = msgspec.structs.replace(
                status, trading_day=event.trading_day, session=event.session, sessions_over=over
            )
        elif isinstance(event, MarketStatusChanged):
            status = msgspec.structs.replace(status, halted=event.halted, reason=event.reason)
        elif isinstance(event, TradingDayEnded):
            status = msgspec.structs.replace(status, trading_day=event.trading_day, day_open=False)
        self._market_status = status
        self._publish(topic("status", MARKET), status, event.ts_event)

    # ------------------------------------------------------------------ output
    def drain(self, now_ns: int, wanted: Callable[[str], bool] | None = None) -> list[tuple[bytes, bytes]]:
        """The ``(topic, payload)`` frames to send now, in order.

        ``wanted(topic)`` False: nobody subscribes to the topic, so its message is not even encoded (a
        PUB socket would drop it). It counts as sent all the same: seqs and heartbeats do not change.
        """
        if self._pending:
            self._publish_due(now_ns)
        out, self._outbox = self._outbox, []
        sent = self._sent_seqs
        for name, seq, _ in out:
            sent[name] = seq
        frames = [(name.encode(), encode(message)) for name, _, message in out if wanted is None or wanted(name)]
        if self._auctions_finished:
            self._forget_finished_auctions()
        return frames

    def next_due_ns(self, now_ns: int) -> int | None:
        """When ``drain`` next has something to send (``now_ns`` if already), or None: nothing pending."""
        if self._outbox:
            return now_ns
        if not self._pending:
            return None
        return max(min(self._due_ns(name) for name in self._pending), now_ns)

    def heartbeat(self, now_ns: int) -> tuple[bytes, bytes]:
        """Every topic's last sent seq: a subscriber that misses a topic's last message sees it here."""
        beat = MarketDataHeartbeat(
            epoch=self.epoch, ts=now_ns, seqs=dict(self._sent_seqs), heartbeat_ms=self.heartbeat_ms
        )
        return HEARTBEAT_TOPIC.encode(), encode(beat)

    def topics(self) -> list[str]:
        """Every topic published so far, in the order each first appeared."""
        return list(self._seqs)

    def snapshot_item(self, name: str) -> bytes:
        """One topic's ``TopicSnapshot``, encoded: what the snapshot service puts in ``Snapshot.items``.

        Encoded once per topic and seq. A topic never published (seq 0: the name can be anything a
        client sent) is encoded every time and never kept, so unknown names cannot grow the cache.
        """
        seq = self._seqs.get(name, 0)
        if seq == 0:
            return encode_topic_snapshot(TopicSnapshot(topic=name, seq=0))
        cached = self._items.get(name)
        if cached is not None and cached[0] == seq:
            return cached[1]
        encoded = encode_topic_snapshot(self._item(name))
        self._items[name] = (seq, encoded)
        return encoded

    def auction_topics(self) -> list[str]:
        """The topics of the auctions kept (announced, live, and the last finished), oldest first."""
        return list(self._auctions)

    def auction_item(self, auction_id: int) -> bytes | None:
        """An auction's ``AuctionSnapshot``, encoded once per seq (None: no such public auction)."""
        name = auction_topic(auction_id)
        kept = self._auctions.get(name)
        if kept is None:
            return None
        cached = self._auction_items.get(name)
        if cached is None or cached[0] != kept.seq:
            cached = self._auction_items[name] = (kept.seq, encode_auction(kept))
        return cached[1]

    def instrument_bars(self, code: str) -> InstrumentBars:
        """An instrument's bars of the day, with the seq of its trade topic they cover."""
        name = self._trade_topics.get(code) or topic("trade", code)
        return InstrumentBars(instrument=code, seq=self._seqs.get(name, 0), bars=self.bars.bars(code))

    def instruments(self) -> tuple[str, ...]:
        return self.view.instruments()

    def snapshot(self, request_id: int, topics: Iterable[str] = ()) -> Snapshot:
        """The decoded form of a snapshot of ``topics`` (empty: every topic), for readers in process."""
        names = list(topics) or self.topics()
        return Snapshot(request_id=request_id, epoch=self.epoch, items=[self._item(n) for n in names])

    # ------------------------------------------------------------------ internals
    def _item(self, name: str) -> TopicSnapshot:
        seq = self._seqs.get(name, 0)
        channel = split_topic(name)[0]
        if channel == "trade":
            return TopicSnapshot(topic=name, seq=seq, trades=list(self._trades.get(name, ())))
        if channel == "bulk":
            return TopicSnapshot(topic=name, seq=seq, bulk_trades=list(self._bulk_trades.get(name, ())))
        if channel == AUCTION_CHANNEL:
            return TopicSnapshot(topic=name, seq=seq, auction=self._auctions.get(name, msgspec.UNSET))
        return TopicSnapshot(topic=name, seq=seq, latest=self._latest.get(name))

    def _next_seq(self, name: str) -> int:
        seq = self._seqs.get(name, 0) + 1
        self._seqs[name] = seq
        return seq

    def _publish(self, name: str, value: StateMessage, ts: int) -> None:
        """Queue a state message: its value is kept (seq and ts zeroed) for the change test."""
        seq = self._next_seq(name)
        message: StateMessage = msgspec.structs.replace(value, epoch=self.epoch, seq=seq, ts=ts)
        self._latest[name] = message
        self._values[name] = msgspec.structs.replace(value, seq=0, ts=0)
        self._outbox.append((name, seq, message))

    def _publish_value(self, name: str, ts: int, tops: dict[str, Top]) -> bool:
        """Recompute a quote or depth topic from the exchange; queue it only if its value changed.

        ``tops``: each instrument's best levels as this drain has looked them up (``_top``): its
        quote and its depth read one look, not one each.
        """
        channel, code = split_topic(name)
        top = tops.get(code)
        if top is None:
            top = tops[code] = self._top(code)
        value: Quote | Depth = self._quote(code, top) if channel == "quote" else self._depth(code, top)
        if self._values.get(name) == value:
            return False
        self._publish(name, value, ts)
        return True

    def _due_ns(self, name: str) -> int:
        """When a conflated topic may go out again: one interval after it last did (0: at once)."""
        last = self._last_sent_ns.get(name)
        return 0 if last is None else last + self.conflate_ns

    def _publish_due(self, now_ns: int) -> None:
        """Conflation: publish the quote and depth topics whose interval is over; keep the others pending."""
        still: dict[str, int] = {}
        tops: dict[str, Top] = {}
        for name, ts in self._pending.items():
            if now_ns < self._due_ns(name):
                still[name] = ts
            elif self._publish_value(name, ts, tops):
                self._last_sent_ns[name] = now_ns
        self._pending = still

    def _top(self, code: str) -> Top:
        """The instrument's best levels, both sides at once: as many as the depth shows, one at least."""
        return self.view.top(code, max(self.levels, 1))

    def _quote(self, code: str, top: Top) -> Quote:
        figures = self.view.figures(code)
        bid, ask = top
        limit_down, limit_up = self.view.band(code)
        bulk_volume, bulk_turnover, bulk_trades = self._bulk_day.get(code, _NO_BULK)
        return Quote(
            epoch=self.epoch,
            seq=0,
            ts=0,
            instrument=code,
            reference_price=figures.reference_price,
            last=figures.last,
            change=figures.last - figures.reference_price if figures.trades else 0,
            open=figures.open,
            high=figures.high,
            low=figures.low,
            volume=figures.volume,
            turnover=figures.turnover,
            trades=figures.trades,
            bid=bid[0].price if bid else 0,
            bid_quantity=bid[0].quantity if bid else 0,
            ask=ask[0].price if ask else 0,
            ask_quantity=ask[0].quantity if ask else 0,
            limit_up=limit_up,
            limit_down=limit_down,
            bulk_volume=bulk_volume,
            bulk_turnover=bulk_turnover,
            bulk_trades=bulk_trades,
        )

    def _depth(self, code: str, top: Top) -> Depth:
        bids, asks = ([Level(*d) for d in side[: self.levels]] for side in top)
        return Depth(epoch=self.epoch, seq=0, ts=0, instrument=code, bids=bids, asks=asks)

    def _bulletin(self, event: DailyBulletin) -> Bulletin:
        return Bulletin(
            epoch=self.epoch,
            seq=0,
            ts=0,
            trading_day=event.trading_day,
            instrument=event.instrument,
            reference_price=event.reference_price,
            open=event.open,
            high=event.high,
            low=event.low,
            last=event.last,
            close=event.close,
            vwap=event.vwap,
            volume=event.volume,
            turnover=event.turnover,
            trades=event.trades,
            bulk_volume=event.bulk_volume,
            bulk_turnover=event.bulk_turnover,
            bulk_trades=event.bulk_trades,
        )

    def _initial_market_status(self) -> MarketStatus:
        market = self.view.market()
        return MarketStatus(
            epoch=self.epoch,
            seq=0,
            ts=0,
            trading_day=market.trading_day,
            session=market.session,
            halted=market.halted,
            reason=market.halt_reason,
            day_open=market.day_open,
            sessions_over=market.sessions_over,
        )
