"""One connection cannot fill a turn of the node (issue 12, item 8).

The ROUTER reads its connections in turn, a message each; the node ends a turn as soon as one
connection has sent ``turn_frames_per_connection`` frames. Here a stand-in for the ROUTER hands the
node frames the way libzmq's fair queue does, so the test can count what one turn reads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from carbonx.config import load_config
from carbonx.node import Node
from gateway.protocol import Heartbeat, Logon, encoder
from tests.node_process import make_config


class _Frame:
    def __init__(self, data: bytes, member: str, connection: int, more: bool = False) -> None:
        self.bytes, self._properties = data, {"User-Id": member, "X-Connection": str(connection), zmq.SRCFD: connection}
        self.more = more

    def get(self, name: object) -> object:
        return self._properties[name]


class FairQueue:
    """Frames per connection, handed out one connection at a time, as libzmq's fair queue does."""

    def __init__(self) -> None:
        self.queues: dict[bytes, deque[list[_Frame]]] = {}
        self.reading: list[_Frame] = []  # the rest of the message whose first part was read

    def add(self, routing_id: bytes, member: str, connection: int, frames: list[bytes]) -> None:
        queue = self.queues.setdefault(routing_id, deque())
        queue.extend([_Frame(routing_id, member, connection, more=True), _Frame(f, member, connection)] for f in frames)

    def recv(self, flags: int = 0, copy: bool = True) -> bytes | _Frame:
        """A part of a message, as a ROUTER gives them: the routing id first, then the others."""
        if not self.reading:
            self.reading = self._next_message()
        part = self.reading.pop(0)
        return part.bytes if copy else part

    def _next_message(self) -> list[_Frame]:
        for routing_id in list(self.queues):
            queue = self.queues.pop(routing_id)
            if queue:
                parts = queue.popleft()
                self.queues[routing_id] = queue  # to the back of the line
                return parts
        raise zmq.Again()

    def waiting(self, routing_id: bytes) -> int:
        return len(self.queues.get(routing_id, ()))


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    node = Node(load_config(make_config(tmp_path)), tmp_path / "var")
    yield node
    node.state.close()


def test_a_flooding_connection_ends_the_turn_and_the_others_are_read_in_it(node: Node) -> None:
    budget = node.options.gateway.turn_frames_per_connection
    router = FairQueue()
    router.add(b"flood", "M001", 1, [encoder.encode(Logon(request_id=0, member="M001"))])
    router.add(b"flood", "M001", 1, [encoder.encode(Heartbeat())] * 10_000)
    router.add(b"victim", "M002", 2, [encoder.encode(Logon(request_id=7, member="M002"))])
    node.order_entry = router  # type: ignore[assignment]

    node._drain_order_entry(node.monotonic())

    assert router.waiting(b"victim") == 0  # read in the first turn
    assert b"victim" in node.gateway.sessions
    assert router.waiting(b"flood") == 10_001 - budget  # the flood waits in its own queue


def test_every_socket_of_the_node_has_its_queues_bounded(tmp_path: Path) -> None:
    node = Node(load_config(make_config(tmp_path / "c")), tmp_path / "var")
    node.bind()
    try:
        gateway = node.options.gateway
        order_entry = node.order_entry
        # In bytes, through libzmq's unit (frames): 128 MiB of frames of at most 128 KiB each.
        assert order_entry.getsockopt(zmq.MAXMSGSIZE) == 2 * gateway.max_frame_bytes
        frames = gateway.inbound_queue_bytes // (2 * gateway.max_frame_bytes)
        assert order_entry.getsockopt(zmq.RCVHWM) == frames == 1024
        assert order_entry.getsockopt(zmq.SNDHWM) == gateway.outbound_queue_frames
        for socket in (node.drop_copy, node.md_pub, node.snapshot, node.zap_socket):
            assert 0 < socket.getsockopt(zmq.SNDHWM) <= 1_000_000
            assert 0 < socket.getsockopt(zmq.RCVHWM) <= 100_000
        assert node.order_entry_monitor.getsockopt(zmq.RCVHWM) > 0
    finally:
        node.close()
