"""The subscriber SDK over TCP loopback: join from a snapshot, recover gaps, survive restarts.

A tiny node runs in a thread: a PUB and a snapshot ROUTER bound to ephemeral ports, a Publisher
fed by the test's Market (under a lock), the node's SnapshotService, heartbeats every 20 ms.
``discard`` drops chosen messages as if lost on the wire. Nothing sleeps: every wait polls a
socket with a deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import msgspec
import pytest
import zmq
from structlog.testing import capture_logs

from engine.messages import Command, Event, HaltInstrument, Side
from market_data.messages import (
    ChannelPayload,
    Depth,
    InstrumentStatus,
    MarketStatus,
    Quote,
    Snapshot,
    SnapshotRequest,
    Trade,
    decode_snapshot_reply,
)
from market_data.publisher import Publisher
from market_data.snapshot_limits import SnapshotLimits
from market_data.snapshot_service import SnapshotService
from market_data.subscriber import Subscriber
from tests.conftest import Market

EPOCH = 1_700_000_000_000_000_000
HEARTBEAT_MS = 20
HEARTBEAT_S = HEARTBEAT_MS / 1000
WAIT_S = 5.0  # a generous deadline: the waits end as soon as the condition holds


class Node:
    """The parts of the node market data needs: PUB, snapshot ROUTER, a Publisher, heartbeats."""

    def __init__(self, market: Market, *, recent_trades: int = 1000) -> None:
        self.market = market
        self.lock = threading.Lock()
        self.publisher = Publisher(market.exchange, epoch=EPOCH, recent_trades=recent_trades, heartbeat_ms=HEARTBEAT_MS)
        self.answering = threading.Event()
        self.answering.set()
        self.publishing = threading.Event()  # cleared: the PUB sends nothing, heartbeats included
        self.publishing.set()
        self.requests: list[SnapshotRequest | bytes] = []
        self.raw: list[list[bytes]] = []  # frames to publish as they are (malformed on purpose)
        self._stop = threading.Event()
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.pub = self.context.socket(zmq.PUB)
        self.pub.bind("tcp://127.0.0.1:*")
        self.endpoint = self.pub.getsockopt_string(zmq.LAST_ENDPOINT)
        self.router = self.context.socket(zmq.ROUTER)
        self.service = SnapshotService(self.router, self.publisher, SnapshotLimits())
        self.router.bind("tcp://127.0.0.1:*")
        self.snapshot_endpoint = self.router.getsockopt_string(zmq.LAST_ENDPOINT)
        send = market.send

        def send_and_publish(command: Command) -> list[Event]:
            events = send(command)
            self.publisher.on_events(events)
            return events

        market.send = send_and_publish  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def act(self, action: Callable[[Market], object]) -> None:
        """Change the market as the node's engine would: under the lock, events to the publisher."""
        with self.lock:
            action(self.market)

    def restart(self, epoch: int) -> None:
        """A new node process over the same exchange state: sequences begin again under a new epoch."""
        with self.lock:
            self.publisher = Publisher(self.market.exchange, epoch=epoch, heartbeat_ms=HEARTBEAT_MS)
            self.service.publisher = self.publisher

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        next_beat = 0.0
        while not self._stop.is_set():
            ready = dict(poller.poll(5))
            # As in the node: what the engine did is published before a snapshot request is answered,
            # so a snapshot never lags the messages already sent.
            with self.lock:
                out = self.publisher.drain(time.monotonic_ns())
                beat = self.publisher.heartbeat(time.monotonic_ns()) if time.monotonic() >= next_beat else None
                raw, self.raw = self.raw, []
            if self.publishing.is_set():
                for frames_out in [*raw, *([topic, payload] for topic, payload in out)]:
                    self.pub.send_multipart(frames_out)
                if beat is not None:
                    self.pub.send_multipart(list(beat))
            if beat is not None:
                next_beat = time.monotonic() + HEARTBEAT_S
            if ready and self.answering.is_set():
                with self.lock:
                    self.service.serve(time.monotonic_ns())
            elif ready:  # not answering: the request is read and left unanswered
                self.requests.append(self.router.recv_multipart()[-1])
        self.pub.close(linger=0)
        self.router.close(linger=0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=WAIT_S)
        self.context.term()


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[dict[str, object]]]:
    """Every test captures the SDK's log lines: asserted where they matter, never written to a
    stream an earlier test may have closed (structlog caches its logger on first use)."""
    with capture_logs() as entries:
        yield entries


@pytest.fixture
def node(market: Market) -> Iterator[Node]:
    running = Node(market)
    yield running
    running.close()


def subscriber(node: Node, **options: object) -> Subscriber:
    return Subscriber(node.endpoint, node.snapshot_endpoint, **options)  # type: ignore[arg-type]


def poll_until(sub: Subscriber, done: Callable[[list[ChannelPayload]], bool]) -> list[ChannelPayload]:
    got: list[ChannelPayload] = []
    deadline = time.monotonic() + WAIT_S
    while not done(got):
        assert time.monotonic() < deadline, f"timed out; received {got}"
        got += sub.poll(50)
    return got


def joined(sub: Subscriber) -> list[ChannelPayload]:
    """Synced, and live messages flowing (a heartbeat came through): past the slow-joiner window."""
    return poll_until(sub, lambda _: sub.synced and sub.heartbeats > 0)


def trades_of(messages: list[ChannelPayload]) -> list[int]:
    return [m.trade_id for m in messages if isinstance(m, Trade)]


def published(node: Node, name: str) -> object:
    """What the node's snapshot service holds for one topic (its latest message)."""
    with node.lock:
        return node.publisher.snapshot(1, [name]).items[0].latest


def trade(market: Market, quantity: int = 10, price: int = 8000) -> None:
    market.sell("A1", quantity, price)
    market.buy("A2", quantity, price)


@pytest.mark.per_book
def test_joins_from_the_snapshot_then_follows_the_live_feed(node: Node) -> None:
    node.act(lambda m: (m.buy("A3", 70, 7990), trade(m), trade(m, 5, 8001)))
    with subscriber(node) as sub:
        first = joined(sub)
        assert sub.epoch == EPOCH and sub.instruments() == ["SHEA2025", "CCER", "T5"]
        assert sub.quote("SHEA2025") == published(node, "quote.SHEA2025")
        assert sub.depth("SHEA2025") == published(node, "depth.SHEA2025")
        assert sub.market_status() == published(node, "status.MARKET")
        assert isinstance(sub.status("CCER"), InstrumentStatus)
        # Joining delivers the current state, not the day's trade history; that is kept for trades().
        assert trades_of(first) == [] and [t.trade_id for t in sub.trades("SHEA2025")] == [1, 2]
        assert {type(m) for m in first} == {Quote, Depth, InstrumentStatus, MarketStatus}

        node.act(lambda m: m.sell("A4", 20, 7990))
        live = poll_until(sub, lambda got: any(isinstance(m, Depth) for m in got))
        assert [type(m) for m in live] == [Trade, Quote, Depth]
        assert isinstance(live[0], Trade) and (live[0].seq, live[0].trade_id, live[0].aggressor) == (3, 3, Side.SELL)
        quote = sub.quote("SHEA2025")
        assert quote is not None and (quote.last, quote.bid, quote.bid_quantity, quote.volume) == (7990, 7990, 50, 35)
        assert (sub.gaps_detected, sub.recoveries, sub.unrecoverable_trades) == (0, 0, 0)


@pytest.mark.per_book
def test_follows_only_the_instruments_asked_for(node: Node) -> None:
    with subscriber(node, instruments=["CCER"]) as sub:
        first = joined(sub)
        assert {m.instrument for m in first if not isinstance(m, MarketStatus)} == {"CCER"}
        assert sub.market_status() is not None and sub.quote("SHEA2025") is None
        node.act(lambda m: (trade(m), m.buy("A1", 10, 8400, instrument="CCER")))
        live = poll_until(sub, lambda got: any(isinstance(m, Depth) for m in got))
        assert {m.instrument for m in live if not isinstance(m, MarketStatus)} == {"CCER"}


@pytest.mark.per_book
def test_a_lost_trade_and_quote_are_recovered_from_the_snapshot_service(node: Node) -> None:
    lost = {("trade.SHEA2025", 2), ("quote.SHEA2025", 3)}
    with subscriber(node, discard=lambda name, seq: (name, seq) in lost) as sub:
        joined(sub)
        for _ in range(3):
            node.act(trade)
        got = poll_until(
            sub, lambda got: len(trades_of(got)) == 3 and sub.quote("SHEA2025") == published(node, "quote.SHEA2025")
        )
        assert trades_of(got) == [1, 2, 3]  # each once, in order, the lost one filled in from the snapshot
        assert sub.gaps_detected >= 1 and sub.recoveries >= 1 and sub.unrecoverable_trades == 0
        assert [t.trade_id for t in sub.trades("SHEA2025")] == [1, 2, 3]


def test_a_lost_last_message_on_a_quiet_topic_is_noticed_by_the_heartbeat(node: Node) -> None:
    with subscriber(node, discard=lambda name, seq: name == "status.SHEA2025" and seq == 2) as sub:
        joined(sub)
        node.act(lambda m: m.send(HaltInstrument(instrument="SHEA2025", reason="technical")))
        got = poll_until(sub, lambda got: any(isinstance(m, InstrumentStatus) for m in got))
        status = sub.status("SHEA2025")
        assert status is not None and (status.halted, status.reason, status.seq) == (True, "technical", 2)
        assert (sub.gaps_detected, sub.recoveries) == (1, 1)
        assert got == [status]


@pytest.mark.per_book
def test_trades_older_than_the_service_keeps_are_counted_and_logged(
    market: Market, logs: list[dict[str, object]]
) -> None:
    node = Node(market, recent_trades=1)
    try:
        with subscriber(node, discard=lambda name, seq: name == "trade.SHEA2025" and seq in (1, 2)) as sub:
            joined(sub)
            for _ in range(3):
                node.act(trade)
            got = poll_until(sub, lambda got: 3 in trades_of(got))
            assert trades_of(got) == [3]
            assert sub.unrecoverable_trades == 2
            warning = [e for e in logs if str(e["event"]).startswith("trades lost")]
            assert len(warning) == 1 and warning[0]["log_level"] == "warning"
            assert (warning[0]["topic"], warning[0]["from_seq"], warning[0]["to_seq"]) == ("trade.SHEA2025", 1, 2)
            # It carries on from the snapshot: the next trade is delivered normally.
            node.act(trade)
            assert trades_of(poll_until(sub, lambda got: bool(trades_of(got)))) == [4]
    finally:
        node.close()


@pytest.mark.per_book
def test_an_epoch_change_resyncs_everything(node: Node) -> None:
    node.act(lambda m: m.buy("A3", 70, 7990))
    with subscriber(node) as sub:
        joined(sub)
        node.act(trade)
        poll_until(sub, lambda got: bool(trades_of(got)))
        node.restart(EPOCH + 1)
        poll_until(sub, lambda _: sub.epoch == EPOCH + 1 and sub.synced)
        assert (sub.epoch_changes, sub.recoveries) == (1, 1)
        assert sub.quote("SHEA2025") == published(node, "quote.SHEA2025")
        node.act(trade)
        got = poll_until(sub, lambda got: bool(trades_of(got)))
        new_trades = [m for m in got if isinstance(m, Trade)]
        assert [(t.epoch, t.seq, t.trade_id) for t in new_trades] == [(EPOCH + 1, 1, 2)]


def test_a_silent_snapshot_service_never_hangs_and_is_asked_again_on_a_fresh_socket(node: Node) -> None:
    node.answering.clear()
    with subscriber(node, snapshot_timeout_ms=100) as sub:
        started = time.monotonic()
        assert sub.poll(300) == []
        assert sub.poll(0) == []
        assert time.monotonic() - started < 1.0
        assert not sub.synced and sub.snapshot_timeouts >= 1
        node.answering.set()
        assert sub.wait_synced(int(WAIT_S * 1000))
        assert sub.quote("SHEA2025") == published(node, "quote.SHEA2025")
        assert len(node.requests) >= 2  # asked again after the timeout, and left unanswered


def test_nothing_listening_for_snapshots_returns_within_the_timeout(node: Node) -> None:
    with Subscriber(node.endpoint, "tcp://127.0.0.1:1", snapshot_timeout_ms=50) as sub:
        started = time.monotonic()
        assert not sub.wait_synced(200)
        assert time.monotonic() - started < 1.0
    assert sub.closed


@pytest.mark.per_book
def test_malformed_live_messages_are_counted_and_skipped(node: Node, logs: list[dict[str, object]]) -> None:
    with subscriber(node) as sub:
        joined(sub)
        with node.lock:
            node.raw += [[b"quote.SHEA2025", b"\xc1not msgpack"], [b"quote.SHEA2025"]]
        node.act(lambda m: m.buy("A1", 10, 7990))
        got = poll_until(sub, lambda got: any(isinstance(m, Depth) for m in got))
        assert sub.malformed == 2 and sub.gaps_detected == 0
        assert [type(m) for m in got] == [Quote, Depth]
        assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["malformed market data"] * 2


def test_poll_returns_once_synced_even_when_the_channels_have_nothing_to_say(node: Node) -> None:
    # No end of day yet: no bulletin topic exists. The first poll must not wait out its timeout.
    with subscriber(node, channels=["bulletin"]) as sub:
        started = time.monotonic()
        assert sub.poll(60_000) == []
        assert sub.synced and time.monotonic() - started < 30
        assert sub.instruments() == [] and sub.bulletin("SHEA2025") is None


def test_unknown_channel_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown market-data channel 'quotes'"):
        Subscriber("tcp://127.0.0.1:1", "tcp://127.0.0.1:2", channels=["quotes"])


def test_snapshot_request_is_plain_msgpack(node: Node) -> None:
    """A client in another language can ask by hand: a map with request_id and topics."""
    dealer = node.context.socket(zmq.DEALER)
    try:
        dealer.connect(node.snapshot_endpoint)
        dealer.send(msgspec.msgpack.encode({"type": "SnapshotRequest", "request_id": 3, "topics": ["status.MARKET"]}))
        assert dealer.poll(int(WAIT_S * 1000))
        reply = decode_snapshot_reply(dealer.recv())
        assert isinstance(reply, Snapshot) and reply.request_id == 3
        assert [(i.topic, i.seq) for i in reply.items] == [("status.MARKET", 1)]
    finally:
        dealer.close(linger=0)


def test_a_silent_feed_is_noticed_from_the_heartbeat_interval_and_its_return_too(
    node: Node, logs: list[dict[str, object]]
) -> None:
    with subscriber(node) as sub:
        joined(sub)
        assert not sub.feed_silent
        node.publishing.clear()  # the node goes quiet: no message, no heartbeat
        poll_until(sub, lambda _: sub.feed_silent)
        assert sub.silences == 1
        silent = [e for e in logs if e["event"] == "market data feed silent"]
        assert len(silent) == 1 and silent[0]["heartbeat_ms"] == HEARTBEAT_MS
        assert int(str(silent[0]["silent_ms"])) >= 3 * HEARTBEAT_MS

        node.publishing.set()
        poll_until(sub, lambda _: not sub.feed_silent)
        assert sub.silences == 1 and sub.synced  # ("resumed" is an info line: not asserted, the level may hide it)
