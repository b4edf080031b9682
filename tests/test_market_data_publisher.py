"""The market-data publisher: a real Exchange in, exact sequenced messages out.

Drives the exchange through the conftest ``Market`` and asserts the messages the publisher hands
the node: depth and quote after a resting order, trade then quote after a trade, status topics,
sequence numbers, nothing for nothing, conflation, heartbeats, and the state the snapshot service
answers from (its limits and refusals: tests/test_snapshot_service.py).
"""

from __future__ import annotations

import msgspec
import pytest

from engine.messages import (
    Command,
    EndOfDay,
    Event,
    HaltInstrument,
    HaltMarket,
    ResumeInstrument,
    Session,
    SetSession,
    Side,
    StartOfDay,
)
from market_data.messages import (
    Bulletin,
    ChannelPayload,
    Depth,
    InstrumentStatus,
    Level,
    MarketDataHeartbeat,
    MarketStatus,
    Quote,
    Snapshot,
    SnapshotRequest,
    TopicSnapshot,
    Trade,
    decode_channel_message,
    decode_snapshot_reply,
    encode,
    encode_topic_snapshot,
)
from market_data.publisher import Publisher
from market_data.snapshot_limits import SnapshotLimits
from market_data.snapshot_service import SnapshotService
from tests.conftest import DAY1, DAY2, Market

EPOCH = 1_700_000_000_000_000_000


class Wire:
    """A publisher fed the way the node feeds it: each command's events, right after that command.

    Without conflation each command here is a batch of its own, drained after it, as the node does
    with a batch of one; with conflation the test drains at the times it chooses.
    """

    def __init__(self, market: Market, **options: int) -> None:
        self.publisher = Publisher(market.exchange, epoch=EPOCH, **options)
        self.sent: list[tuple[str, ChannelPayload]] = []
        send = market.send
        per_command = "conflate_ns" not in options  # given (even 0): the test drains when it chooses

        def send_and_publish(command: Command) -> list[Event]:
            events = send(command)
            self.publisher.on_events(events)
            if per_command:
                self.sent += drained(self.publisher, 0)
            return events

        market.send = send_and_publish  # type: ignore[method-assign]

    def publish(self, now: int = 0) -> list[tuple[str, ChannelPayload]]:
        out, self.sent = self.sent, []
        return out + drained(self.publisher, now)


def drained(publisher: Publisher, now: int) -> list[tuple[str, ChannelPayload]]:
    out = []
    for name, payload in publisher.drain(now):
        message = decode_channel_message(payload)
        assert not isinstance(message, MarketDataHeartbeat)
        out.append((name.decode(), message))
    return out


def started(market: Market, **options: int) -> Wire:
    wire = Wire(market, **options)
    wire.publish()
    return wire


def quote(seq: int, ts: int, **figures: int) -> Quote:
    fields = {
        "reference_price": 8000,
        "last": 0,
        "change": 0,
        "open": 0,
        "high": 0,
        "low": 0,
        "volume": 0,
        "turnover": 0,
        "trades": 0,
        "bid": 0,
        "bid_quantity": 0,
        "ask": 0,
        "ask_quantity": 0,
        "limit_up": 8800,  # the band of the reference price 80.00: ±10%, engine.rules.band_limits
        "limit_down": 7200,
    }
    fields.update(figures)
    return Quote(epoch=EPOCH, seq=seq, ts=ts, instrument="SHEA2025", **fields)


def depth(seq: int, ts: int, bids: list[Level], asks: list[Level]) -> Depth:
    return Depth(epoch=EPOCH, seq=seq, ts=ts, instrument="SHEA2025", bids=bids, asks=asks)


@pytest.mark.per_book
def test_start_publishes_status_quote_and_depth_of_everything(market: Market) -> None:
    publisher = Publisher(market.exchange, epoch=EPOCH, ts=42)
    out = drained(publisher, 0)
    assert [name for name, _ in out] == [
        "status.MARKET",
        *(f"{channel}.{code}" for code in ("SHEA2025", "CCER", "T5") for channel in ("status", "quote", "depth")),
    ]
    assert {(m.seq, m.ts, m.epoch) for _, m in out} == {(1, 42, EPOCH)}
    assert out[0][1] == MarketStatus(
        epoch=EPOCH, seq=1, ts=42, trading_day=DAY1, session=Session.MORNING, halted=False, reason="", day_open=True
    )
    assert out[2][1] == quote(1, 42)
    assert out[3][1] == depth(1, 42, [], [])
    assert publisher.drain(1) == []


@pytest.mark.per_book
def test_resting_orders_change_depth_and_best_bid(market: Market) -> None:
    wire = started(market)
    market.buy("A1", 100, 7990)
    assert wire.publish() == [
        ("quote.SHEA2025", quote(2, market.ts, bid=7990, bid_quantity=100)),
        ("depth.SHEA2025", depth(2, market.ts, [Level(7990, 100, 1)], [])),
    ]
    market.buy("A2", 50, 7990)
    ts_same_price = market.ts
    market.buy("A3", 10, 7980)  # below the best bid: depth changes, the quote does not
    ts_second_level = market.ts
    market.sell("A4", 30, 8050)
    ts_ask = market.ts
    bids = [Level(7990, 150, 2), Level(7980, 10, 1)]
    assert wire.publish() == [
        ("quote.SHEA2025", quote(3, ts_same_price, bid=7990, bid_quantity=150)),
        ("depth.SHEA2025", depth(3, ts_same_price, [Level(7990, 150, 2)], [])),
        ("depth.SHEA2025", depth(4, ts_second_level, bids, [])),
        ("quote.SHEA2025", quote(4, ts_ask, bid=7990, bid_quantity=150, ask=8050, ask_quantity=30)),
        ("depth.SHEA2025", depth(5, ts_ask, bids, [Level(8050, 30, 1)])),
    ]


@pytest.mark.per_book
def test_depth_shows_five_levels_best_first(market: Market) -> None:
    wire = started(market)
    for i in range(7):
        market.sell("A1", 10 + i, 8010 + i)
    out = wire.publish()
    # Only the first ask changes the quote; the sixth and seventh are beyond the five levels.
    assert [(name, m.seq) for name, m in out] == [
        ("quote.SHEA2025", 2),
        *(("depth.SHEA2025", seq) for seq in range(2, 7)),
    ]
    assert out[-1][1] == depth(6, market.ts - 2, [], [Level(8010 + i, 10 + i, 1) for i in range(5)])


@pytest.mark.per_book
def test_trade_publishes_trade_then_quote_with_last_change_and_volume(market: Market) -> None:
    wire = started(market)
    market.sell("A1", 100, 8012)
    wire.publish()
    market.buy("A2", 40, 8020)
    ts = market.ts
    assert wire.publish() == [
        (
            "trade.SHEA2025",
            Trade(
                epoch=EPOCH,
                seq=1,
                ts=ts,
                instrument="SHEA2025",
                trade_id=1,
                price=8012,
                quantity=40,
                aggressor=Side.BUY,
            ),
        ),
        (
            "quote.SHEA2025",
            quote(
                3,
                ts,
                last=8012,
                change=12,
                open=8012,
                high=8012,
                low=8012,
                volume=40,
                turnover=8012 * 40,
                trades=1,
                ask=8012,
                ask_quantity=60,
            ),
        ),
        ("depth.SHEA2025", depth(3, ts, [], [Level(8012, 60, 1)])),
    ]


@pytest.mark.per_book
def test_one_command_with_several_trades_publishes_each_trade_then_one_quote(market: Market) -> None:
    wire = started(market)
    market.sell("A1", 10, 8000)
    market.sell("A2", 10, 8001)
    wire.publish()
    market.buy("A3", 20, 8001)
    out = wire.publish()
    assert [(name, m.seq) for name, m in out] == [
        ("trade.SHEA2025", 1),
        ("trade.SHEA2025", 2),
        ("quote.SHEA2025", 3),
        ("depth.SHEA2025", 4),
    ]
    assert [(m.price, m.quantity) for _, m in out[:2] if isinstance(m, Trade)] == [(8000, 10), (8001, 10)]
    last_quote = out[2][1]
    assert isinstance(last_quote, Quote)
    assert (last_quote.last, last_quote.change, last_quote.volume, last_quote.trades) == (8001, 1, 20, 2)


def test_halts_and_sessions_go_out_on_status_topics(market: Market) -> None:
    wire = started(market)
    market.send(HaltInstrument(instrument="SHEA2025", reason="technical"))
    assert wire.publish() == [
        (
            "status.SHEA2025",
            InstrumentStatus(epoch=EPOCH, seq=2, ts=market.ts, instrument="SHEA2025", halted=True, reason="technical"),
        )
    ]
    market.send(ResumeInstrument(instrument="SHEA2025"))
    market.send(HaltMarket(reason="drill"))
    market.send(SetSession(session=Session.LUNCH_BREAK))
    out = wire.publish()
    status = MarketStatus(
        epoch=EPOCH, seq=0, ts=0, trading_day=DAY1, session=Session.MORNING, halted=False, reason="", day_open=True
    )
    assert out == [
        (
            "status.SHEA2025",
            InstrumentStatus(epoch=EPOCH, seq=3, ts=market.ts - 2, instrument="SHEA2025", halted=False, reason=""),
        ),
        ("status.MARKET", msgspec.structs.replace(status, seq=2, ts=market.ts - 1, halted=True, reason="drill")),
        (
            "status.MARKET",
            msgspec.structs.replace(
                status, seq=3, ts=market.ts, halted=True, reason="drill", session=Session.LUNCH_BREAK
            ),
        ),
    ]


@pytest.mark.per_book
def test_end_of_day_publishes_bulletins_and_a_closed_day(market: Market) -> None:
    wire = started(market)
    market.sell("A1", 100, 8010)
    market.buy("A2", 100, 8010)
    market.buy("A3", 5, 7900)  # rests, and expires at the close
    wire.publish()
    for session in (Session.LUNCH_BREAK, Session.AFTERNOON, Session.CLOSED):
        market.send(SetSession(session=session))
    closes = [m for name, m in wire.publish() if name == "status.MARKET"]
    # Only the close after the afternoon says the day's sessions are over: CLOSED alone cannot.
    assert [(m.session, m.sessions_over) for m in closes if isinstance(m, MarketStatus)] == [
        (Session.LUNCH_BREAK, False),
        (Session.AFTERNOON, False),
        (Session.CLOSED, True),
    ]
    restarted = drained(Publisher(market.exchange, epoch=EPOCH), 0)[0][1]  # a node started now says so too
    assert isinstance(restarted, MarketStatus) and restarted.sessions_over
    market.send(EndOfDay(trading_day=DAY1))
    out = wire.publish()
    ts = market.ts
    bulletins = [m for name, m in out if name == "bulletin.SHEA2025"]
    assert bulletins == [
        Bulletin(
            epoch=EPOCH,
            seq=1,
            ts=ts,
            trading_day=DAY1,
            instrument="SHEA2025",
            reference_price=8000,
            open=8010,
            high=8010,
            low=8010,
            last=8010,
            close=8010,
            vwap=8010,
            volume=100,
            turnover=801_000,
            trades=1,
        )
    ]
    assert [name for name, _ in out if name.startswith("bulletin.")] == [
        "bulletin.SHEA2025",
        "bulletin.CCER",
        "bulletin.T5",
    ]
    market_status = [m for name, m in out if name == "status.MARKET"]
    assert len(market_status) == 1 and isinstance(market_status[0], MarketStatus)
    assert (market_status[0].day_open, market_status[0].session) == (False, Session.CLOSED)
    # The expired bid leaves the book: depth and quote of SHEA2025 follow.
    assert ("depth.SHEA2025", depth(5, ts, [], [])) in out
    market.send(StartOfDay(trading_day=DAY2))
    out = wire.publish()
    assert out[0][0] == "status.MARKET"
    opened = out[0][1]
    assert isinstance(opened, MarketStatus)
    assert (opened.day_open, opened.session, opened.sessions_over) == (True, Session.CLOSED, False)
    # The close is the new reference price, and the band moves with it: 80.10 ± 10% is 72.09 - 88.11,
    # the very band the engine checks orders against.
    assert ("quote.SHEA2025", quote(6, market.ts, reference_price=8010, limit_up=8811, limit_down=7209)) in out
    assert market.exchange.listing.band("SHEA2025") == (7209, 8811)


@pytest.mark.per_book
def test_unchanged_state_publishes_nothing(market: Market) -> None:
    wire = started(market)
    market.buy("A1", 10, 9999)  # outside the band: rejected, nothing changes
    market.send(HaltInstrument(instrument="NOPE"))  # unknown instrument: rejected
    assert wire.publish() == []
    market.buy("A1", 10, 7990)
    wire.publish()
    market.sell("A2", 10, 8900)  # rejected (out of band) on an instrument with orders
    assert wire.publish() == []
    assert wire.publisher.next_due_ns(0) is None


@pytest.mark.per_book
def test_seqs_are_consecutive_per_topic_and_heartbeat_tells_them(market: Market) -> None:
    wire = Wire(market)
    out = wire.publish()
    for i in range(60):
        instrument = ("SHEA2025", "CCER")[i % 2]
        market.sell("A1", 10 + i % 7, 8000 + i % 5, instrument=instrument)
        market.buy("A2", 5 + i % 11, 7998 + i % 6, instrument=instrument)
        out += wire.publish()
    seqs: dict[str, list[int]] = {}
    for name, message in out:
        seqs.setdefault(name, []).append(message.seq)
    assert any(name.startswith("trade.") for name in seqs)
    for name, numbers in seqs.items():
        assert numbers == list(range(1, len(numbers) + 1)), name
    name, payload = wire.publisher.heartbeat(123)
    beat = decode_channel_message(payload)
    assert name == b"heartbeat"
    assert beat == MarketDataHeartbeat(epoch=EPOCH, ts=123, seqs={n: s[-1] for n, s in seqs.items()})


@pytest.mark.per_book
def test_heartbeat_tells_only_what_was_drained(market: Market) -> None:
    wire = started(market, conflate_ns=0)
    market.buy("A1", 10, 7990)
    beat = decode_channel_message(wire.publisher.heartbeat(1)[1])
    assert isinstance(beat, MarketDataHeartbeat)
    assert beat.seqs["quote.SHEA2025"] == 1  # seq 2 is queued, not sent: no subscriber could have it yet
    assert wire.publisher.next_due_ns(5) == 5


@pytest.mark.per_book
def test_conflation_publishes_at_most_once_per_interval_and_never_loses_the_last_state(market: Market) -> None:
    wire = started(market, conflate_ns=1_000)
    market.buy("A1", 10, 7990)
    assert wire.publisher.next_due_ns(0) == 0  # never sent since the start: due at once
    out = wire.publish(100)  # never sent before: at once
    assert [(n, m.seq) for n, m in out] == [("quote.SHEA2025", 2), ("depth.SHEA2025", 2)]
    market.buy("A2", 20, 7990)
    assert wire.publish(200) == []
    assert wire.publisher.next_due_ns(200) == 1_100
    market.buy("A3", 30, 7995)
    market.sell("A4", 5, 7995)  # a trade: goes out at once, conflation or not
    out = wire.publish(600)
    assert [(n, m.seq) for n, m in out] == [("trade.SHEA2025", 1)]
    assert drained(wire.publisher, 1_099) == []
    out = drained(wire.publisher, 1_100)
    assert out == [
        (
            "quote.SHEA2025",
            quote(
                3,
                market.ts,
                bid=7995,
                bid_quantity=25,
                last=7995,
                change=-5,
                open=7995,
                high=7995,
                low=7995,
                volume=5,
                turnover=7995 * 5,
                trades=1,
            ),
        ),
        ("depth.SHEA2025", depth(3, market.ts, [Level(7995, 25, 1), Level(7990, 30, 2)], [])),
    ]
    assert wire.publisher.next_due_ns(1_100) is None


@pytest.mark.per_book
def test_conflation_drops_a_change_that_was_undone_within_the_interval(market: Market) -> None:
    wire = started(market, conflate_ns=1_000)
    market.buy("A1", 10, 7990)
    wire.publish(0)
    events = market.buy("A2", 20, 7980)
    order_id = events[0].order_id  # type: ignore[attr-defined]
    market.cancel("A2", order_id)
    assert wire.publish(10) == []
    assert drained(wire.publisher, 1_000) == []
    assert wire.publisher.next_due_ns(1_000) is None


def snapshot(publisher: Publisher, request: SnapshotRequest) -> Snapshot:
    """What the snapshot service answers from this publisher's state."""
    reply = decode_snapshot_reply(SnapshotService(None, publisher, SnapshotLimits()).answer(encode(request), "", 0))
    assert isinstance(reply, Snapshot), reply
    return reply


@pytest.mark.per_book
def test_snapshot_reply_covers_the_seqs_and_keeps_recent_trades(market: Market) -> None:
    wire = started(market, recent_trades=2)
    market.sell("A1", 100, 8000)
    for _ in range(3):
        market.buy("A2", 10, 8000)
    published = wire.publish()
    reply = snapshot(wire.publisher, SnapshotRequest(request_id=9))
    assert (reply.request_id, reply.epoch) == (9, EPOCH)
    items = {item.topic: item for item in reply.items}
    assert list(items) == wire.publisher.topics()
    last: dict[str, ChannelPayload] = {name: message for name, message in published}
    for name in ("quote.SHEA2025", "depth.SHEA2025"):
        assert items[name].seq == last[name].seq == 5
        assert items[name].latest == last[name]
    assert items["status.CCER"].seq == 1 and items["status.CCER"].latest is not None
    trades = items["trade.SHEA2025"]
    assert trades.seq == 3 and trades.latest is None
    assert [(t.seq, t.trade_id) for t in trades.trades] == [(2, 2), (3, 3)]
    assert reply == wire.publisher.snapshot(9)  # the encoded items are the publisher's state, byte for byte

    reply = snapshot(wire.publisher, SnapshotRequest(request_id=10, topics=["trade.CCER", "quote.SHEA2025"]))
    assert [(i.topic, i.seq, i.latest is None, i.trades) for i in reply.items] == [
        ("trade.CCER", 0, True, []),
        ("quote.SHEA2025", 5, False, []),
    ]


@pytest.mark.per_book
def test_a_topic_is_encoded_once_per_seq_for_the_snapshot_service(market: Market) -> None:
    wire = started(market)
    market.sell("A1", 10, 8000)
    market.buy("A2", 10, 8000)
    wire.publish()
    first = wire.publisher.snapshot_item("trade.SHEA2025")
    assert wire.publisher.snapshot_item("trade.SHEA2025") is first  # unchanged: the cached bytes
    market.sell("A1", 10, 8000)
    market.buy("A2", 10, 8000)
    wire.publish()
    again = wire.publisher.snapshot_item("trade.SHEA2025")
    assert again != first and again == encode_topic_snapshot(wire.publisher.snapshot(0, ["trade.SHEA2025"]).items[0])
    unknown = [wire.publisher.snapshot_item(f"quote.X{i}") for i in range(3)]
    assert unknown[0] == encode_topic_snapshot(TopicSnapshot(topic="quote.X0", seq=0))
    assert not any(name.startswith("quote.X") for name in wire.publisher._items)  # unknown names are not kept


def test_the_heartbeat_tells_its_interval(market: Market) -> None:
    publisher = Publisher(market.exchange, epoch=EPOCH, heartbeat_ms=250)
    beat = decode_channel_message(publisher.heartbeat(7)[1])
    assert isinstance(beat, MarketDataHeartbeat) and (beat.ts, beat.heartbeat_ms) == (7, 250)
