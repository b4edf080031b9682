"""The snapshot service and market data in the node (issue 12, items 1, 6 and 7, and the heartbeat
interval on the wire): the node as a real subprocess over tcp loopback, attacked the way the issue
describes, and the node in process for the socket options it sets from node.toml.

Waits are for messages or process events with deadlines, never sleeps.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from carbonx.config import load_config
from carbonx.node import Node
from engine.messages import OrderAccepted, Side
from gateway.client import MemberClient
from market_data.messages import (
    MarketDataHeartbeat,
    Snapshot,
    SnapshotError,
    SnapshotReply,
    SnapshotRequest,
    decode_channel_message,
    decode_snapshot_reply,
    encode,
)
from market_data.snapshot_service import LOG_LINES_PER_PEER_S
from market_data.subscriber import Subscriber
from tests.node_process import NodeProcess, make_config

pytestmark = pytest.mark.not_per_book  # the snapshot service never reads the book

WAIT_MS = 10_000
# The frame of issue 12: a SnapshotRequest with request_id 1 and a value nested 1,000 levels deep.
NESTED = b"\x83\xa4type\xafSnapshotRequest\xaarequest_id\x01\xa1x" + b"\x91" * 1_000 + b"\xc0"
FLOODER = "127.0.0.2"  # loopback too, but another peer address than the test's other clients


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    root = tmp_path_factory.mktemp("snapshot-node")
    process = NodeProcess(make_config(root), root / "var").start()
    yield process
    assert process.stop() == 0, process.stderr()


@pytest.fixture
def context() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield context
    context.destroy(linger=0)


def ask(context: zmq.Context[zmq.Socket[bytes]], endpoint: str, payload: bytes) -> tuple[bytes, SnapshotReply]:
    """One request on a fresh DEALER: the reply's bytes and what they decode to."""
    dealer = context.socket(zmq.DEALER)
    try:
        dealer.connect(endpoint)
        dealer.send(payload)
        assert dealer.poll(WAIT_MS), "no reply from the snapshot service"
        reply = dealer.recv()
        return reply, decode_snapshot_reply(reply)
    finally:
        dealer.close(linger=0)


@pytest.mark.e2e
def test_the_nested_frame_is_refused_and_the_node_lives_on(
    node: NodeProcess, context: zmq.Context[zmq.Socket[bytes]]
) -> None:
    _, reply = ask(context, node.endpoints["snapshot"], NESTED)

    assert isinstance(reply, SnapshotError) and reply.request_id == 1
    assert reply.text.startswith("MALFORMED_REQUEST: RecursionError")
    assert node.process is not None and node.process.poll() is None
    _, after = ask(context, node.endpoints["snapshot"], encode(SnapshotRequest(request_id=2)))
    assert isinstance(after, Snapshot) and after.request_id == 2


@pytest.mark.e2e
def test_a_topic_named_4000_times_is_answered_with_one_item(
    node: NodeProcess, context: zmq.Context[zmq.Socket[bytes]]
) -> None:
    request = encode(SnapshotRequest(request_id=3, topics=["trade.SHEA2025"] * 4_000))
    assert 60_000 <= len(request) <= 65_536

    raw, reply = ask(context, node.endpoints["snapshot"], request)

    assert isinstance(reply, Snapshot) and [item.topic for item in reply.items] == ["trade.SHEA2025"]
    assert len(raw) < len(request)  # was 4,000 copies: 429 MB with a day's trades


@pytest.mark.e2e
def test_the_heartbeat_tells_its_interval(node: NodeProcess, context: zmq.Context[zmq.Socket[bytes]]) -> None:
    sub = context.socket(zmq.SUB)
    try:
        sub.connect(node.endpoints["market data"])
        sub.setsockopt(zmq.SUBSCRIBE, b"heartbeat")
        assert sub.poll(WAIT_MS)
        beat = decode_channel_message(sub.recv_multipart()[1])
    finally:
        sub.close(linger=0)
    assert isinstance(beat, MarketDataHeartbeat) and beat.heartbeat_ms == 200  # tests/node_process.py's node.toml


class Flood(threading.Thread):
    """Full-snapshot requests from ``FLOODER`` on several connections, as fast as the node takes them."""

    def __init__(self, endpoint: str, connections: int = 4) -> None:
        super().__init__(daemon=True)
        self.source = f"tcp://{FLOODER}:0;{endpoint.removeprefix('tcp://')}"
        self.connections = connections
        self.done = threading.Event()
        self.refused = threading.Event()  # the first THROTTLED came back
        self.answered = self.throttled = self.other = 0

    def run(self) -> None:
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        poller = zmq.Poller()
        dealers = []
        for _ in range(self.connections):
            dealer = context.socket(zmq.DEALER)
            dealer.connect(self.source)
            poller.register(dealer, zmq.POLLIN)
            dealers.append(dealer)
        request_id = 0
        try:
            while not self.done.is_set():
                for dealer in dealers:
                    request_id += 1
                    with contextlib.suppress(zmq.Again):  # its queue is full: the node is not reading it yet
                        dealer.send(encode(SnapshotRequest(request_id=request_id)), zmq.NOBLOCK)
                for dealer, _ in poller.poll(10):
                    while dealer.poll(0):
                        self._count(decode_snapshot_reply(dealer.recv()))
        finally:
            context.destroy(linger=0)

    def _count(self, reply: SnapshotReply) -> None:
        if isinstance(reply, Snapshot):
            self.answered += 1
        elif reply.text.startswith("THROTTLED"):
            self.throttled += 1
            self.refused.set()
        else:
            self.other += 1


@pytest.mark.e2e
def test_a_flood_from_one_peer_is_throttled_while_order_entry_and_other_peers_are_served(tmp_path: Path) -> None:
    node = NodeProcess(make_config(tmp_path), tmp_path / "var").start()
    flood = Flood(node.endpoints["snapshot"])
    started = time.monotonic()
    try:
        flood.start()
        assert flood.refused.wait(WAIT_MS / 1000), "the flood was never throttled"
        throttled_before = flood.throttled
        with MemberClient.from_keys(node.order_entry, "M001", node.keys_dir, timeout_ms=WAIT_MS) as member:
            order = member.new_order("A001", "SHEA2025", Side.BUY, 10, 7300)
        throttled_at_ack = flood.throttled
        with Subscriber(node.endpoints["market data"], node.endpoints["snapshot"]) as md:  # from 127.0.0.1
            assert md.wait_synced(WAIT_MS)
    finally:
        flood.done.set()
        flood.join(WAIT_MS / 1000)
        elapsed = time.monotonic() - started
        status = node.stop()
    stderr = node.stderr()

    assert status == 0, stderr
    assert order.refused is None and any(isinstance(e, OrderAccepted) for e in order.events)
    assert throttled_at_ack > throttled_before  # refused all the while the member logged on and ordered
    assert flood.answered >= 1 and flood.other == 0
    # One peer's flood, a few lines a second: the refusals are counted, not each logged.
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    flooder = [line for line in lines if line.get("peer") == FLOODER]
    assert 1 <= len(flooder) <= LOG_LINES_PER_PEER_S * (math.ceil(elapsed) + 1) < flood.throttled, (
        len(flooder),
        elapsed,
        flood.throttled,
    )


# ----------------------------------------------------------------------------- the node in process


def test_the_node_sets_the_market_data_socket_limits_from_node_toml(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    node_toml = config / "node.toml"
    limits = "send_hwm = 1234\nsnapshot_hwm = 5\nsnapshot_max_request_bytes = 2048\n"
    node_toml.write_text(node_toml.read_text().replace("heartbeat_ms = 200\n", "heartbeat_ms = 200\n" + limits))
    node = Node(load_config(config), tmp_path / "var")
    try:
        node.bind()
        assert node.md_pub.getsockopt(zmq.SNDHWM) == 1234
        assert node.md_pub.getsockopt(zmq.RCVHWM) > 0 and node.md_pub.getsockopt(zmq.MAXMSGSIZE) > 0  # not unbounded
        snapshot = node.snapshot
        assert (snapshot.getsockopt(zmq.SNDHWM), snapshot.getsockopt(zmq.RCVHWM)) == (5, 5)
        assert snapshot.getsockopt(zmq.MAXMSGSIZE) == 2048
        assert node.publisher.heartbeat_ms == 200
    finally:
        node.close()


def test_a_turn_of_the_node_answers_a_snapshot_request(tmp_path: Path) -> None:
    node = Node(load_config(make_config(tmp_path)), tmp_path / "var")
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        endpoints = node.bind()
        dealer = context.socket(zmq.DEALER)
        dealer.connect(endpoints.snapshot)
        dealer.send(NESTED)
        dealer.send(encode(SnapshotRequest(request_id=2, topics=["status.MARKET"])))
        replies: list[SnapshotReply] = []
        deadline = time.monotonic() + WAIT_MS / 1000
        while len(replies) < 2:
            assert time.monotonic() < deadline, f"replies: {replies}"
            node.step(50)
            while dealer.poll(0):
                replies.append(decode_snapshot_reply(dealer.recv()))
        assert isinstance(replies[0], SnapshotError) and replies[0].request_id == 1
        assert isinstance(replies[1], Snapshot) and [i.topic for i in replies[1].items] == ["status.MARKET"]
        dealer.close(linger=0)
    finally:
        context.destroy(linger=0)
        node.close()
