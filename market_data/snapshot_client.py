"""The subscriber's side of the snapshot service (PROTOCOL.md §6.6): one request at a time on a
DEALER socket, its deadline, and when to ask again.

What to ask for and what to do with the answer are the subscriber's (``market_data.subscriber``);
this is the socket and the timing. A request not answered within ``timeout_ms`` is given up on and
its socket closed (it may still hold the request in its queue): the next request goes on a fresh
one. After a request given up on, refused or not sent, none is sent before ``retry_at``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import NamedTuple

import msgspec
import structlog
import zmq

from market_data.messages import SnapshotReply, SnapshotRequest, decode_snapshot_reply, encode

log = structlog.get_logger("carbonx.market_data")


class MarketDataError(Exception):
    """An endpoint a subscriber cannot use, or a request the snapshot service did not answer;
    ``str()`` is one line (the command line prints it so)."""


class Request(NamedTuple):
    request_id: int
    topics: frozenset[str]  # empty for a full sync
    full: bool
    deadline: float  # time.monotonic()


class SnapshotClient:
    def __init__(
        self, context: zmq.Context[zmq.Socket[bytes]], poller: zmq.Poller, endpoint: str, timeout_ms: int
    ) -> None:
        """Nothing is connected until the first request; ``poller`` is the subscriber's, so one wait covers both."""
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self._context = context
        self._poller = poller
        self._dealer: zmq.Socket[bytes] | None = None
        self._request_ids = itertools.count(1)
        self.in_flight: Request | None = None
        self.retry_at = 0.0  # time.monotonic() before which no request is sent
        self.timeouts = 0  # requests given up on

    def may_send(self) -> bool:
        return self.in_flight is None and time.monotonic() >= self.retry_at

    def send(self, topics: list[str], *, full: bool) -> bool:
        """Ask for ``topics`` ([]: every topic); False when the socket would not take the request."""
        request_id = next(self._request_ids)
        dealer = self._open()
        try:
            dealer.send(encode(SnapshotRequest(request_id=request_id, topics=topics)), zmq.NOBLOCK)
        except zmq.Again:
            log.warning("snapshot request not sent", endpoint=self.endpoint)
            self.close()
            self.back_off()
            return False
        deadline = time.monotonic() + self.timeout_ms / 1000
        self.in_flight = Request(request_id, frozenset(topics), full, deadline)
        return True

    def abandon(self) -> None:
        """Forget the request in flight: its answer, if it comes, is ignored."""
        self.in_flight = None

    def answer(
        self, ready: dict[zmq.Socket[bytes], int], malformed: Callable[[str, str], None]
    ) -> tuple[Request, SnapshotReply] | None:
        """The reply to the request in flight among what the socket holds, when ``ready`` (the poll's
        result) names it; replies to requests given up on are dropped, garbage goes to ``malformed``."""
        dealer = self._dealer
        if dealer is None or dealer not in ready:
            return None
        answered = None
        while True:
            try:
                frames = dealer.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return answered
            try:
                reply = decode_snapshot_reply(frames[-1])
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                malformed("snapshot reply", str(exc))
                continue
            request = self.in_flight
            if request is not None and reply.request_id == request.request_id:
                self.in_flight = None
                answered = (request, reply)

    def expired(self) -> Request | None:
        """The request in flight once its deadline has passed, given up on (counted, logged, its socket closed)."""
        request = self.in_flight
        if request is None or time.monotonic() < request.deadline:
            return None
        self.timeouts += 1
        # Info, not warning: the caller sees ``synced`` and ``snapshot_timeouts`` and decides (the
        # quotes command prints its own one line); a refused request is a real fault.
        log.info(
            "snapshot service did not answer",
            endpoint=self.endpoint,
            timeout_ms=self.timeout_ms,
            request_id=request.request_id,
        )
        self.in_flight = None
        self.close()  # a fresh socket next time: the old one may still hold the request in its queue
        self.back_off()
        return request

    def back_off(self) -> None:
        """Ask again on the subscriber's next poll, or within this one after another timeout's worth of waiting."""
        self.retry_at = time.monotonic() + self.timeout_ms / 1000

    def close(self) -> None:
        if self._dealer is not None:
            self._poller.unregister(self._dealer)
            self._dealer.close(linger=0)
            self._dealer = None

    def _open(self) -> zmq.Socket[bytes]:
        if self._dealer is None:
            dealer = self._context.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(self.endpoint)
            self._poller.register(dealer, zmq.POLLIN)
            self._dealer = dealer
        return self._dealer
