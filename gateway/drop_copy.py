"""The drop-copy client: every engine event, live, for surveillance (docs/PROTOCOL.md §4.15).

A SUB socket over CURVE with a surveillance member's key pair, subscribed to ``dropcopy``. Each
message is one event with the journal seq of the command that caused it. ``DropCopy.seq`` counts
every event, so a jump is a loss: the client counts the events it missed (``missed``) and says
where (``gaps``), for a consumer that fills them from the journal or by a resend.

A SUB socket never says why nothing arrives; the client watches its connection (a ZeroMQ socket
monitor) and keeps in ``problem`` what it last saw go wrong: the node refused the key (not a
surveillance member's), or the endpoint does not answer. ``problem`` is None once connected.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

import msgspec
import zmq
from zmq.utils.monitor import recv_monitor_message

from gateway.keys import load_member_secret, load_server_public
from gateway.protocol import DropCopy, drop_copy_decoder

TOPIC = b"dropcopy"
_MAX_FRAME = 1 << 20  # a DropCopy is one event: far below this; a larger frame is not the node's
_WATCHED = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_CONNECT_RETRIED
)


class DropCopyClient:
    def __init__(
        self,
        endpoint: str,
        server_public: bytes,
        public: bytes,
        secret: bytes,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        self._own_context = context is None
        self.context = context or zmq.Context()
        socket = self.context.socket(zmq.SUB)
        socket.curve_serverkey = server_public
        socket.curve_publickey = public
        socket.curve_secretkey = secret
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.MAXMSGSIZE, _MAX_FRAME)
        socket.setsockopt(zmq.SUBSCRIBE, TOPIC)
        self.monitor = socket.get_monitor_socket(_WATCHED)
        socket.connect(endpoint)
        self.socket = socket
        self.endpoint = endpoint
        self.connected = False
        self.problem: str | None = None
        self.last_seq = 0  # the last DropCopy.seq received (0: none yet)
        self.missed = 0  # events lost to gaps since connecting
        self.gaps: list[tuple[int, int]] = []  # (first, last) DropCopy.seq ranges missed, the newest few
        self.undecodable = 0  # frames that were not a DropCopy (ignored)

    @classmethod
    def from_keys(
        cls, endpoint: str, member: str, keys_dir: Path, context: zmq.Context[zmq.Socket[bytes]] | None = None
    ) -> DropCopyClient:
        """Connect as ``member`` with its ``<member>.key_secret`` and the node's ``server.key``."""
        public, secret = load_member_secret(keys_dir, member)
        return cls(endpoint, load_server_public(keys_dir), public, secret, context)

    def receive(self, timeout_ms: int, limit: int = 10_000) -> list[DropCopy]:
        """The events that arrive within ``timeout_ms`` (returns as soon as some have), at most ``limit``."""
        copies: list[DropCopy] = []
        ready = self.socket.poll(timeout_ms)
        self._watch_connection()
        if not ready:
            return copies
        while len(copies) < limit:
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(frames) != 2 or frames[0] != TOPIC:
                self.undecodable += 1
                continue
            try:
                copy = drop_copy_decoder.decode(frames[1])
            except msgspec.DecodeError:
                self.undecodable += 1
                continue
            self._count(copy.seq)
            copies.append(copy)
        return copies

    def _watch_connection(self) -> None:
        while self.monitor.poll(0):
            event = recv_monitor_message(self.monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.connected, self.problem = True, None
            elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self.connected = False
                self.problem = f"{self.endpoint}: the node refused this key on the drop copy (surveillance keys only)"
            elif event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                self.connected = False
                self.problem = f"{self.endpoint}: not a carbonx drop copy (the CURVE handshake failed)"
            elif event == zmq.EVENT_CONNECT_RETRIED and not self.connected:
                self.problem = f"{self.endpoint}: no answer (is the node running?); retrying"

    def _count(self, seq: int) -> None:
        if self.last_seq and seq > self.last_seq + 1:
            self.missed += seq - self.last_seq - 1
            self.gaps = [*self.gaps[-99:], (self.last_seq + 1, seq - 1)]
        self.last_seq = max(self.last_seq, seq)

    def close(self) -> None:
        self.socket.disable_monitor()
        self.monitor.close(0)
        self.socket.close(0)
        if self._own_context:
            self.context.term()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
