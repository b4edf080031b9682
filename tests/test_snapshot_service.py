"""The snapshot service against a hostile peer: every frame answered or dropped, nothing raised,
everything bounded (issue 12, items 1 and 7).

``answer`` is pure (payload, peer address, monotonic ns in; reply bytes out), so most tests need no
socket; the per-turn budget and the frame rules are tested through ``serve`` on a real ROUTER over
tcp loopback. Waits are for sockets, with deadlines, never sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import zmq
from structlog.testing import capture_logs

from carbonx.config import load_config
from carbonx.errors import ConfigError
from engine.messages.peek import read_request_id
from market_data import snapshot_service
from market_data.messages import (
    Snapshot,
    SnapshotError,
    SnapshotReply,
    SnapshotRequest,
    decode_snapshot_reply,
    encode,
)
from market_data.publisher import Publisher
from market_data.snapshot_service import (
    LOG_LINES_PER_PEER_S,
    LOG_LINES_PER_S,
    MAX_PEERS,
    SnapshotLimits,
    SnapshotService,
)
from tests.conftest import Market
from tests.node_process import make_config

pytestmark = pytest.mark.not_per_book  # the service reads the publisher, never the book

EPOCH = 1_700_000_000_000_000_000
S = 1_000_000_000  # ns
PEER = "192.0.2.1"
# The frame of issue 12: a SnapshotRequest with request_id 1 and a value nested 1,000 levels deep.
NESTED = b"\x83\xa4type\xafSnapshotRequest\xaarequest_id\x01\xa1x" + b"\x91" * 1_000 + b"\xc0"
WAIT_MS = 5_000


def service_for(market: Market, **limits: int) -> SnapshotService:
    publisher = Publisher(market.exchange, epoch=EPOCH)
    publisher.drain(0)
    return SnapshotService(None, publisher, SnapshotLimits(**limits))


def ask(service: SnapshotService, request: SnapshotRequest | bytes, peer: str = PEER, now: int = 0) -> SnapshotReply:
    payload = request if isinstance(request, bytes) else encode(request)
    return decode_snapshot_reply(service.answer(payload, peer, now))


def refused(reply: SnapshotReply) -> SnapshotError:
    assert isinstance(reply, SnapshotError), reply
    return reply


def trade(market: Market, service: SnapshotService) -> None:
    """A trade, its events handed to the service's publisher as the node hands them."""
    service.publisher.on_events(market.sell("A1", 10, 8000))
    service.publisher.on_events(market.buy("A2", 10, 8000))
    service.publisher.drain(0)


# ----------------------------------------------------------------------------- item 1: nothing raised


def test_a_request_nested_a_thousand_levels_deep_is_refused_with_its_request_id(market: Market) -> None:
    service = service_for(market)
    with pytest.raises(RecursionError):  # what killed the node: msgspec recurses into the value
        msgspec.msgpack.decode(NESTED)

    with capture_logs() as logs:
        error = refused(ask(service, NESTED))

    assert error.request_id == 1
    assert error.text.startswith("MALFORMED_REQUEST: RecursionError: maximum recursion depth exceeded")
    assert len(logs) == 1
    assert logs[0]["log_level"] == "warning" and logs[0]["peer"] == PEER and logs[0]["request_id"] == 1
    assert logs[0]["error_type"] == "RecursionError" and "recursion" in str(logs[0]["error"])
    assert isinstance(ask(service, SnapshotRequest(request_id=2)), Snapshot)  # and the next is answered


@pytest.mark.parametrize(
    ("request_bytes", "request_id"),
    [
        (b"\xc1garbage", 0),
        (b"", 0),
        (msgspec.msgpack.encode({"request_id": 5, "topics": "quote.X"}), 5),
        (msgspec.msgpack.encode({"type": "Quote", "request_id": 6}), 6),
        (msgspec.msgpack.encode({"topics": []}), 0),
        (msgspec.msgpack.encode([1, 2, 3]), 0),
        (msgspec.msgpack.encode({"type": "SnapshotRequest", "request_id": 7, "topics": [1.5]}), 7),
        (msgspec.msgpack.encode({"type": "SnapshotRequest", "request_id": "7"}), 0),
    ],
)
def test_a_malformed_request_gets_a_snapshot_error_with_its_request_id(
    market: Market, request_bytes: bytes, request_id: int
) -> None:
    error = refused(ask(service_for(market), request_bytes))
    assert error.request_id == request_id
    assert error.text.startswith("MALFORMED_REQUEST: ")


def test_a_failure_while_building_the_reply_is_answered_and_logged(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = service_for(market)

    def broken(name: str) -> bytes:
        raise KeyError(name)

    monkeypatch.setattr(service.publisher, "snapshot_item", broken)
    with capture_logs() as logs:
        error = refused(ask(service, SnapshotRequest(request_id=8, topics=["quote.SHEA2025"])))

    assert (error.request_id, error.text) == (8, "INTERNAL_ERROR: KeyError: 'quote.SHEA2025'")
    assert [(e["event"], e["error_type"]) for e in logs] == [("snapshot.failed", "KeyError")]


@pytest.mark.parametrize(
    ("payload", "request_id"),
    [
        (NESTED, 1),
        (b"\x83\xa4type\xafSnapshotRequest\xa1x" + b"\x91" * 5_000 + b"\xc0" + b"\xaarequest_id\x05", 5),
        (b"\x82\xd9\x0arequest_id\xcd\x01\x00\xa1x\xc0", 256),  # a str8 key, a uint16 id
        (b"\xde\x00\x01\xaarequest_id\xff", -1),  # map16, a negative fixint
        (b"\x81\xaarequest_id\xd3" + (-(2**40)).to_bytes(8, "big", signed=True), -(2**40)),
        (b"\x82\xa1x\xc7\x03\x01abc\xaarequest_id\x09", 9),  # an ext8 skipped
        (b"\x82\xa1x\xdd\xff\xff\xff\xff\xaarequest_id\x09", 0),  # an array claiming 4 billion values
        (b"\x81\xaarequest_id\xa1x", 0),  # not an int
        (b"\x81\xaarequest_id\xcd\x01", 0),  # truncated
        (b"\x91\x01", 0),  # not a map
        (b"\x82\xa1x\xc1\xaarequest_id\x09", 0),  # 0xc1 is not msgpack
        (b"", 0),
    ],
)
def test_the_request_id_is_read_without_recursion(payload: bytes, request_id: int) -> None:
    assert read_request_id(payload) == request_id


# ----------------------------------------------------------------------------- item 7: bounded replies


def test_a_topic_named_4000_times_is_answered_once(market: Market) -> None:
    service = service_for(market)
    trade(market, service)
    request = encode(SnapshotRequest(request_id=3, topics=["trade.SHEA2025"] * 4_000))
    assert 60_000 <= len(request) <= SnapshotLimits().max_request_bytes

    reply = service.answer(request, PEER, 0)

    snapshot = decode_snapshot_reply(reply)
    assert isinstance(snapshot, Snapshot) and snapshot.request_id == 3
    assert [(i.topic, i.seq, len(i.trades)) for i in snapshot.items] == [("trade.SHEA2025", 1, 1)]
    assert len(reply) < 1_000  # was 4,000 copies of the item


def test_topics_are_answered_once_each_in_the_order_first_named(market: Market) -> None:
    names = ["quote.CCER", "status.MARKET", "quote.CCER", "quote.NOPE", "status.MARKET"]
    snapshot = ask(service_for(market), SnapshotRequest(request_id=4, topics=names))
    assert isinstance(snapshot, Snapshot)
    assert [i.topic for i in snapshot.items] == ["quote.CCER", "status.MARKET", "quote.NOPE"]


def test_the_encoded_reply_is_the_snapshot_byte_for_byte(market: Market) -> None:
    service = service_for(market)
    trade(market, service)
    names = ["quote.SHEA2025", "trade.SHEA2025", "trade.CCER"]
    reply = service.answer(encode(SnapshotRequest(request_id=11, topics=names)), PEER, 0)
    assert reply == encode(service.publisher.snapshot(11, names))
    assert service.answer(encode(SnapshotRequest(request_id=12)), PEER, 0) == encode(service.publisher.snapshot(12))


def test_more_distinct_topics_than_the_cap_are_refused(market: Market) -> None:
    service = service_for(market, max_topics=3)
    three = ["quote.A", "quote.B", "quote.C"]
    assert isinstance(ask(service, SnapshotRequest(request_id=1, topics=three * 10)), Snapshot)

    error = refused(ask(service, SnapshotRequest(request_id=2, topics=[*three, "quote.D"])))

    assert (error.request_id, error.text) == (2, "TOO_MANY_TOPICS: topics=4, max_topics=3")
    every = ask(service, SnapshotRequest(request_id=3))  # [] is every topic the node has: never capped
    assert isinstance(every, Snapshot) and len(every.items) == 10


def test_a_reply_over_the_byte_cap_is_refused_not_cut(market: Market) -> None:
    service = service_for(market, max_reply_bytes=600)
    assert isinstance(ask(service, SnapshotRequest(request_id=1, topics=["quote.SHEA2025"])), Snapshot)

    error = refused(ask(service, SnapshotRequest(request_id=2)))

    assert error.request_id == 2
    assert error.text == "REPLY_TOO_LARGE: max_reply_bytes=600, topics=10 (ask for fewer topics)"


# ----------------------------------------------------------------------------- item 7: rate per peer


def test_a_peer_beyond_its_bucket_is_throttled_and_others_are_not(market: Market) -> None:
    service = service_for(market, requests_per_s=2, burst=3)
    for request_id in (1, 2, 3):
        assert isinstance(ask(service, SnapshotRequest(request_id=request_id), now=0), Snapshot)

    error = refused(ask(service, SnapshotRequest(request_id=4), now=0))

    assert (error.request_id, error.text) == (4, "THROTTLED: retry_after_ms=500, requests_per_s=2")
    assert isinstance(ask(service, SnapshotRequest(request_id=5), peer="192.0.2.2", now=0), Snapshot)
    # Half a second refills one token; a bad frame spends it like any other, so the next is throttled.
    assert refused(ask(service, NESTED, now=S // 2)).text.startswith("MALFORMED_REQUEST")
    assert refused(ask(service, SnapshotRequest(request_id=6), now=S // 2)).text.startswith("THROTTLED")
    assert isinstance(ask(service, SnapshotRequest(request_id=7), now=S), Snapshot)  # refilled: 2 a second
    assert (service.answered, service.refused) == (5, 3)


def test_the_peer_table_keeps_the_most_recently_seen(market: Market) -> None:
    service = service_for(market, requests_per_s=1, burst=1)
    assert isinstance(ask(service, SnapshotRequest(request_id=1), peer="first"), Snapshot)
    assert refused(ask(service, SnapshotRequest(request_id=2), peer="first")).text.startswith("THROTTLED")
    for index in range(MAX_PEERS + 10):
        ask(service, SnapshotRequest(request_id=3), peer=f"10.0.{index // 256}.{index % 256}")

    assert service.peers() == MAX_PEERS
    # Pushed out of the table, "first" starts again with a full bucket.
    assert isinstance(ask(service, SnapshotRequest(request_id=4), peer="first"), Snapshot)


def test_a_flood_logs_a_bounded_number_of_lines(market: Market) -> None:
    service = service_for(market, requests_per_s=1, burst=1)
    with capture_logs() as logs:
        for index in range(200):
            ask(service, SnapshotRequest(request_id=index), now=index * 1_000)  # 200 requests in 0.2 ms
        lines_in_the_first_second = len(logs)
        ask(service, b"\xc1", now=2 * S)  # a malformed request, a second later

    assert (service.answered, service.refused) == (1, 200)  # 199 throttled, then the malformed one
    assert lines_in_the_first_second == LOG_LINES_PER_PEER_S
    assert len(logs) == LOG_LINES_PER_PEER_S + 1
    assert logs[-1]["suppressed"] == 199 - LOG_LINES_PER_PEER_S  # the next line says how many were left out


def test_many_peers_together_log_a_bounded_number_of_lines(market: Market) -> None:
    service = service_for(market)
    with capture_logs() as logs:
        for index in range(3 * LOG_LINES_PER_S):
            ask(service, b"\xc1", peer=f"10.1.0.{index}", now=index)
    assert len(logs) == LOG_LINES_PER_S


# ----------------------------------------------------------------------------- serve: the socket


@pytest.fixture
def context() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield context
    context.destroy(linger=0)


class Served:
    """A ROUTER served by a SnapshotService, and DEALERs that ask it."""

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], market: Market, **limits: int) -> None:
        self.context = context
        self.router = context.socket(zmq.ROUTER)
        publisher = Publisher(market.exchange, epoch=EPOCH)
        publisher.drain(0)
        self.service = SnapshotService(self.router, publisher, SnapshotLimits(**limits))
        self.router.bind("tcp://127.0.0.1:*")
        self.endpoint = self.router.getsockopt_string(zmq.LAST_ENDPOINT)

    def dealer(self) -> zmq.Socket[bytes]:
        dealer = self.context.socket(zmq.DEALER)
        dealer.connect(self.endpoint)
        return dealer

    def serve_until(self, dealer: zmq.Socket[bytes], count: int) -> tuple[list[int], list[SnapshotReply]]:
        """Serve turn by turn until ``dealer`` has ``count`` replies: (frames handled per turn, replies)."""
        turns: list[int] = []
        replies: list[SnapshotReply] = []
        deadline = time.monotonic() + WAIT_MS / 1000
        while len(replies) < count:
            assert time.monotonic() < deadline, f"replies did not come: {replies}"
            if self.router.poll(50):  # level-triggered: ready while any request waits, served or not
                turns.append(self.service.serve(0))
            while dealer.poll(0):
                replies.append(decode_snapshot_reply(dealer.recv()))
        return turns, replies


def test_the_socket_limits_are_set(context: zmq.Context[zmq.Socket[bytes]], market: Market) -> None:
    served = Served(context, market, hwm=7, max_request_bytes=4_096)
    assert served.router.getsockopt(zmq.MAXMSGSIZE) == 4_096
    assert (served.router.getsockopt(zmq.SNDHWM), served.router.getsockopt(zmq.RCVHWM)) == (7, 7)


def test_a_turn_answers_at_most_its_requests_and_leaves_the_rest_queued(
    context: zmq.Context[zmq.Socket[bytes]], market: Market
) -> None:
    served = Served(context, market, requests_per_turn=3)
    dealer = served.dealer()
    for request_id in range(1, 8):
        dealer.send(encode(SnapshotRequest(request_id=request_id, topics=["status.MARKET"])))

    turns, replies = served.serve_until(dealer, 7)

    assert max(turns) <= 3 and sum(turns) == 7 and len(turns) >= 3
    assert [r.request_id for r in replies] == list(range(1, 8))  # in order, each once


def test_a_turn_stops_once_its_reply_bytes_are_spent(context: zmq.Context[zmq.Socket[bytes]], market: Market) -> None:
    served = Served(context, market, bytes_per_turn=1)
    dealer = served.dealer()
    for request_id in range(1, 4):
        dealer.send(encode(SnapshotRequest(request_id=request_id)))

    turns, replies = served.serve_until(dealer, 3)

    assert turns == [1, 1, 1]  # one reply per turn, always at least one
    assert all(isinstance(r, Snapshot) for r in replies)


def test_a_two_frame_request_is_dropped_and_the_next_answered(
    context: zmq.Context[zmq.Socket[bytes]], market: Market
) -> None:
    served = Served(context, market)
    dealer = served.dealer()
    dealer.send_multipart([b"", encode(SnapshotRequest(request_id=1))])  # what a REQ socket sends
    dealer.send(encode(SnapshotRequest(request_id=2)))

    with capture_logs() as logs:
        _, replies = served.serve_until(dealer, 1)

    assert [r.request_id for r in replies] == [2]
    assert served.service.dropped == 1
    assert [(e["event"], e["peer"]) for e in logs] == [("snapshot.dropped", "127.0.0.1")]


def test_a_request_over_the_size_limit_drops_its_connection_only(
    context: zmq.Context[zmq.Socket[bytes]], market: Market
) -> None:
    served = Served(context, market, max_request_bytes=1_024)
    big, small = served.dealer(), served.dealer()
    big.send(encode(SnapshotRequest(request_id=1, topics=["x" * 2_000])))
    small.send(encode(SnapshotRequest(request_id=2)))

    _, replies = served.serve_until(small, 1)

    assert [r.request_id for r in replies] == [2]
    assert not big.poll(0) and served.service.answered == 1


def test_serve_never_raises_on_a_peer_that_is_gone(
    context: zmq.Context[zmq.Socket[bytes]], market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = Served(context, market)
    gone = served.dealer()
    gone.send(encode(SnapshotRequest(request_id=1)))
    assert served.router.poll(WAIT_MS)

    def unreachable(*args: object, **kwargs: object) -> None:
        raise zmq.ZMQError(zmq.EHOSTUNREACH)

    monkeypatch.setattr(served.router, "send_multipart", unreachable)
    with capture_logs() as logs:
        assert served.service.serve(0) == 1

    assert served.service.dropped == 1
    assert [(e["event"], e["reason"]) for e in logs] == [("snapshot.reply_dropped", "peer gone")]


def test_the_nested_frame_over_a_socket_is_answered(context: zmq.Context[zmq.Socket[bytes]], market: Market) -> None:
    served = Served(context, market)
    dealer = served.dealer()
    dealer.send(NESTED)

    _, replies = served.serve_until(dealer, 1)

    assert refused(replies[0]).request_id == 1


def test_module_limits_are_what_the_docs_say() -> None:
    limits = SnapshotLimits()
    assert (limits.max_request_bytes, limits.max_topics, limits.max_reply_bytes) == (65_536, 256, 4_194_304)
    assert (limits.requests_per_s, limits.burst, limits.hwm) == (20, 40, 16)
    assert snapshot_service.LOG_LINES_PER_PEER_S <= snapshot_service.LOG_LINES_PER_S


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("snapshot_max_reply_bytes = 1000", "market_data.snapshot_max_reply_bytes: must be >= recent_trades x 256"),
        ("snapshot_max_request_bytes = 100", "market_data.snapshot_max_request_bytes: must be >= 1024, got 100"),
        ("snapshot_burst = 0", "market_data.snapshot_burst: must be > 0, got 0"),
        ("snapshot_hwm = -1", "market_data.snapshot_hwm: must be > 0, got -1"),
        ("send_hwm = 0", "market_data.send_hwm: must be > 0, got 0"),
    ],
)
def test_node_toml_snapshot_limits_are_checked(tmp_path: Path, line: str, problem: str) -> None:
    config = make_config(tmp_path)
    node_toml = config / "node.toml"
    node_toml.write_text(node_toml.read_text().replace("heartbeat_ms = 200\n", f"heartbeat_ms = 200\n{line}\n"))
    with pytest.raises(ConfigError, match=problem.replace("+", r"\+")):
        load_config(config)


def test_the_config_defaults_are_the_services() -> None:
    assert load_config(Path(__file__).resolve().parent.parent / "config").node.market_data.snapshot_limits() == (
        SnapshotLimits()
    )
