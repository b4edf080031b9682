"""What the subscribers of one of the node's XPUB sockets (market data, drop copy) asked for.

An XPUB is a PUB that passes its subscribers' (un)subscriptions up as messages: ``\\x01`` + topic
prefix to subscribe, ``\\x00`` + prefix to unsubscribe. Without ``ZMQ_XPUB_VERBOSE`` it passes each
prefix's first subscription and its last unsubscription (a subscriber that disconnects unsubscribes
from everything), so the set of prefixes read is the set libzmq filters on. The node asks it before
sending, and a message no subscriber would receive is not built, encoded or sent: a PUB would have
dropped it, so what every subscriber receives is unchanged.
"""

from __future__ import annotations

from typing import cast

import structlog
import zmq

_POLLIN = int(zmq.POLLIN)
_NOBLOCK = int(zmq.NOBLOCK)
_SUBSCRIBE, _UNSUBSCRIBE = b"\x01", b"\x00"


MAX_PREFIXES = 10_000  # distinct prefixes remembered; the node publishes a few dozen topics


class Subscriptions:
    """The prefixes subscribed to, at most ``MAX_PREFIXES`` of them: subscribers are not authenticated
    (market data), so a subscriber sending ever new prefixes must not grow the node's memory. Past the
    cap the node builds every message again, as a PUB would have it, and says so once."""

    def __init__(self, socket: zmq.Socket[bytes], max_prefixes: int = MAX_PREFIXES) -> None:
        self.socket = socket
        self.prefixes: set[bytes] = set()
        self.max_prefixes = max_prefixes
        self.saturated = False  # more prefixes than remembered: everything is wanted from now on
        self._wanted: dict[str, bool] = {}  # topic -> whether a prefix covers it, until the prefixes change

    def refresh(self) -> None:
        """Read every (un)subscription waiting; call it right before sending."""
        socket = self.socket
        while cast(int, socket.get(zmq.EVENTS)) & _POLLIN:
            message = socket.recv(_NOBLOCK)
            kind, prefix = message[:1], message[1:]
            if kind == _SUBSCRIBE:
                if len(self.prefixes) >= self.max_prefixes and prefix not in self.prefixes:
                    if not self.saturated:
                        structlog.get_logger("carbonx.node").warning(
                            "subscriptions.saturated", prefixes=len(self.prefixes), building="every message"
                        )
                    self.saturated = True
                    continue
                self.prefixes.add(prefix)
            elif kind == _UNSUBSCRIBE:
                self.prefixes.discard(prefix)
            else:
                continue  # not a subscription (an XSUB peer may send anything): nothing to filter on
            self._wanted.clear()

    def wants(self, topic: str) -> bool:
        """Whether a subscriber would receive a message on ``topic`` (as of the last ``refresh``)."""
        if self.saturated:
            return True
        wanted = self._wanted.get(topic)
        if wanted is None:
            encoded = topic.encode()
            wanted = self._wanted[topic] = any(encoded.startswith(prefix) for prefix in self.prefixes)
        return wanted
