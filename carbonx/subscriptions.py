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

import zmq

_POLLIN = int(zmq.POLLIN)
_NOBLOCK = int(zmq.NOBLOCK)
_SUBSCRIBE, _UNSUBSCRIBE = b"\x01", b"\x00"


class Subscriptions:
    def __init__(self, socket: zmq.Socket[bytes]) -> None:
        self.socket = socket
        self.prefixes: set[bytes] = set()
        self._wanted: dict[str, bool] = {}  # topic -> whether a prefix covers it, until the prefixes change

    def refresh(self) -> None:
        """Read every (un)subscription waiting; call it right before sending."""
        socket = self.socket
        while cast(int, socket.get(zmq.EVENTS)) & _POLLIN:
            message = socket.recv(_NOBLOCK)
            kind, prefix = message[:1], message[1:]
            if kind == _SUBSCRIBE:
                self.prefixes.add(prefix)
            elif kind == _UNSUBSCRIBE:
                self.prefixes.discard(prefix)
            else:
                continue  # not a subscription (an XSUB peer may send anything): nothing to filter on
            self._wanted.clear()

    def wants(self, topic: str) -> bool:
        """Whether a subscriber would receive a message on ``topic`` (as of the last ``refresh``)."""
        wanted = self._wanted.get(topic)
        if wanted is None:
            encoded = topic.encode()
            wanted = self._wanted[topic] = any(encoded.startswith(prefix) for prefix in self.prefixes)
        return wanted
