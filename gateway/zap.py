"""The ZAP handler (ZeroMQ RFC 27, ZAP 1.0): which CURVE keys may connect to which server socket.

libzmq runs the CURVE handshake of a server socket in its I/O thread and, before letting the peer
in, asks the ZAP handler bound at ``inproc://zeromq.zap.01`` in the same context: "domain D, address
A, mechanism CURVE, client public key K — may it?" The node answers from its single-threaded poll
loop (``serve_one`` when the handler socket is readable), so no thread and no lock is needed; libzmq
holds the connection until the reply arrives.

An accepted peer gets the member id as its ZAP user id: every frame it sends then carries it as the
``User-Id`` message property (``frame.get("User-Id")`` after ``recv_multipart(copy=False)``), which is
how the gateway knows who sent a frame without trusting anything the frame says. It also gets a
number of its own, the ``X-Connection`` property (ZAP metadata, RFC 27): the gateway binds a session
to the connection that logged on, not to a routing id another connection may take over
(gateway.connections).

Domains (a server socket names its domain with the ``zap_domain`` option): ``gateway`` for order
entry, open to every member with a key; ``dropcopy`` for the drop copy, open to surveillance-role
members only (docs/ARCHITECTURE.md "Ports and keys").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import structlog
import zmq
from zmq.utils import z85

from gateway.access import MemberAccess
from gateway.errors import GatewayError

ZAP_ENDPOINT = "inproc://zeromq.zap.01"  # fixed by RFC 27: libzmq connects here
ZAP_VERSION = b"1.0"
GATEWAY_DOMAIN = "gateway"
DROPCOPY_DOMAIN = "dropcopy"

CONNECTION_PROPERTY = b"X-Connection"  # the property every frame of an admitted connection carries

ACCEPTED = b"200"
REFUSED = b"400"
INTERNAL_ERROR = b"500"

_REQUEST_FRAMES = 6  # version, request id, domain, address, identity, mechanism; then credentials
_CURVE_KEY_BYTES = 32
# Distinct refusals remembered so that each is logged once; a client retrying with a bad key every
# reconnect interval would otherwise write ten lines a second. Bounded against a key-spraying peer.
_REMEMBERED_REFUSALS = 4_096
_HANDSHAKES_QUEUED = 10_000


def access_domains(access: Iterable[MemberAccess]) -> dict[str, dict[bytes, str]]:
    """The node's two domains from members.toml: every member with a key may enter order entry;
    only surveillance-role members may receive the drop copy."""
    gateway: dict[bytes, str] = {}
    dropcopy: dict[bytes, str] = {}
    for entry in access:
        if not entry.public_key:
            continue  # no key: the member cannot log on (docs/CONFIG.md)
        key = entry.public_key.encode("ascii")
        gateway[key] = entry.member
        if entry.role == "surveillance":
            dropcopy[key] = entry.member
    return {GATEWAY_DOMAIN: gateway, DROPCOPY_DOMAIN: dropcopy}


class ZapHandler:
    """Answers ZAP requests for CURVE connections from a table of domain → {Z85 public key → member}."""

    def __init__(self, domains: Mapping[str, Mapping[bytes, str]]) -> None:
        self._domains = {domain: dict(keys) for domain, keys in domains.items()}
        self._logged: set[tuple[str, str, str]] = set()
        self.refusals = 0  # every refusal, logged or not: for the node's health figures
        self.admitted = 0  # connections let in: the last one's number is its X-Connection property

    def handle(self, frames: list[bytes]) -> list[bytes]:
        """One ZAP request (without its envelope) → its reply frames; [] to drop a request that has
        no request id to answer. Never raises: an exception here would stop the node's poll loop."""
        try:
            return self._answer(frames)
        except Exception:  # a bug must refuse the peer, not take the exchange down
            structlog.get_logger("carbonx.gateway").exception("gateway.zap_failed")
            return _reply(frames[1], INTERNAL_ERROR, b"internal error") if len(frames) >= 2 else []

    def bind(self, context: zmq.Context[zmq.Socket[bytes]]) -> zmq.Socket[bytes]:
        """The handler socket, bound at ZAP_ENDPOINT. Bind it before binding any CURVE server socket
        of ``context``: a handshake that finds no handler is let in unauthenticated by libzmq.

        A ROUTER that speaks REP's envelope rather than a REP: a REP socket must answer every request
        before it may read the next, so it could not drop one it cannot answer."""
        socket = context.socket(zmq.ROUTER)
        socket.linger = 0
        # One request per handshake, from libzmq itself: bounded like every socket of the node.
        socket.setsockopt(zmq.SNDHWM, _HANDSHAKES_QUEUED)
        socket.setsockopt(zmq.RCVHWM, _HANDSHAKES_QUEUED)
        try:
            socket.bind(ZAP_ENDPOINT)
        except zmq.ZMQError as exc:
            socket.close()
            raise GatewayError(
                f"{ZAP_ENDPOINT}: cannot bind the ZAP handler: {exc} (one handler per context)"
            ) from None
        return socket

    def serve_one(self, socket: zmq.Socket[bytes]) -> None:
        """Answer one pending request on the socket from ``bind``; nothing to do if none is waiting."""
        try:
            frames = socket.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return
        # [routing id, b"", request...]: the empty frame closes the envelope, as with REQ/REP.
        if b"" not in frames:
            structlog.get_logger("carbonx.gateway").warning("gateway.zap_malformed", problem="no envelope")
            return
        split = frames.index(b"") + 1
        reply = self.handle(frames[split:])
        if reply:
            socket.send_multipart(frames[:split] + reply)

    # ------------------------------------------------------------------------------------ answering

    def _answer(self, frames: list[bytes]) -> list[bytes]:
        if len(frames) < 2:
            structlog.get_logger("carbonx.gateway").warning("gateway.zap_malformed", problem="no request id")
            return []
        version, request_id = frames[0], frames[1]
        if version != ZAP_VERSION:
            return _malformed(request_id, "unsupported ZAP version")
        if len(frames) < _REQUEST_FRAMES:
            return _malformed(request_id, "malformed ZAP request")
        domain = frames[2].decode("utf-8", "replace")
        address = frames[3].decode("utf-8", "replace")
        mechanism, credentials = frames[5], frames[6:]
        is_curve_key = mechanism == b"CURVE" and len(credentials) == 1 and len(credentials[0]) == _CURVE_KEY_BYTES
        public_key = z85.encode(credentials[0]).decode("ascii") if is_curve_key else ""
        if mechanism == b"CURVE" and not is_curve_key:
            return _malformed(request_id, "malformed CURVE credentials")

        keys = self._domains.get(domain)
        if keys is None:
            return self._refuse(request_id, "unknown domain", domain, address, public_key)
        if mechanism != b"CURVE":
            return self._refuse(request_id, "CURVE only", domain, address, public_key)
        member = keys.get(public_key.encode("ascii"))
        if member is None:
            return self._refuse(request_id, "unknown key", domain, address, public_key)
        self.admitted += 1
        return _reply(
            request_id, ACCEPTED, b"OK", member.encode("utf-8"), _metadata(CONNECTION_PROPERTY, self.admitted)
        )

    def _refuse(self, request_id: bytes, reason: str, domain: str, address: str, public_key: str) -> list[bytes]:
        self.refusals += 1
        seen = (domain, reason, public_key)
        if seen not in self._logged:
            if len(self._logged) >= _REMEMBERED_REFUSALS:
                self._logged.clear()  # forgetting means logging again, never logging less
            self._logged.add(seen)
            structlog.get_logger("carbonx.gateway").warning(
                "gateway.key_refused", reason=reason, domain=domain, address=address, public_key=public_key
            )
        return _reply(request_id, REFUSED, reason.encode("utf-8"))


def _malformed(request_id: bytes, problem: str) -> list[bytes]:
    """libzmq and this handler disagree on the protocol: 500, and a line for the operator."""
    structlog.get_logger("carbonx.gateway").warning("gateway.zap_malformed", problem=problem)
    return _reply(request_id, INTERNAL_ERROR, problem.encode("ascii"))


def _reply(request_id: bytes, status: bytes, text: bytes, user_id: bytes = b"", metadata: bytes = b"") -> list[bytes]:
    """version, request id, status code, status text, user id, metadata."""
    return [ZAP_VERSION, request_id, status, text, user_id, metadata]


def _metadata(name: bytes, number: int) -> bytes:
    """One ZMTP property (RFC 23's metadata layout, which ZAP replies use): name, then value, each sized."""
    value = str(number).encode("ascii")
    return bytes([len(name)]) + name + len(value).to_bytes(4, "big") + value
