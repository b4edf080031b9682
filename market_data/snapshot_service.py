"""The snapshot service (PROTOCOL.md §6.6): the market-data state on request, on a public ROUTER.

The socket has no authentication, so everything here is sized for a hostile peer:

- **Nothing a frame does leaves the handler.** Any exception met while handling one frame — a
  request nested a thousand levels deep makes msgspec raise ``RecursionError`` — becomes a
  ``SnapshotError`` that echoes the ``request_id`` whenever it can be read (``engine.messages.peek``
  reads it without recursion), and one log line naming the exception's type and message.
- **Bounded input.** ZeroMQ drops a connection whose frame exceeds ``max_request_bytes``
  (``ZMQ_MAXMSGSIZE``) before the frame is read into memory; each connection queues at most
  ``hwm`` requests (``ZMQ_RCVHWM``) and ``hwm`` replies (``ZMQ_SNDHWM``).
- **Bounded output.** Topics are deduplicated (a name asked for twice is answered once), at most
  ``max_topics`` distinct names are answered, and a reply that would exceed ``max_reply_bytes`` is
  refused, not cut: a client never mistakes part of the state for all of it, and the items are
  counted as they are built, so a refusal costs at most the limit's worth of work.
- **Rate per peer.** A peer is the address the frame came from (ZeroMQ's ``Peer-Address``, the
  IP), not the connection: a client may open any number of connections. Each peer has a token
  bucket of ``burst`` requests refilled at ``requests_per_s``; a request beyond it is refused with
  ``THROTTLED`` and a ``retry_after_ms``. The table keeps the ``MAX_PEERS`` most recently seen
  peers; one pushed out starts again with a full bucket.
- **A budget per turn.** ``serve`` answers at most ``requests_per_turn`` frames and stops once
  ``bytes_per_turn`` of replies went out (at least one frame per turn). What is left waits in the
  socket: ZeroMQ's poll reports the socket readable as long as a frame is queued, so the node's
  next turn comes at once and serves it, after order entry had its turn. The node needs no timer
  for it. ROUTER reads its connections in turn (fair queueing), so one flooding connection delays
  another client's request by a few turns at most.
- **Bounded logging.** A peer gets at most ``LOG_LINES_PER_PEER_S`` lines a second and the service
  at most ``LOG_LINES_PER_S``; the next line a peer gets says how many of its lines were left out
  (``suppressed``). A flood of requests is not a flood of log lines.

Replies are built from the publisher's encoded items (``Publisher.snapshot_item``, cached per topic
and seq), so answering the same state again costs a copy, not an encoding.

Auctions (issue 16): an ``AuctionsRequest`` is answered with every auction the exchange keeps
(``ExchangeView.auctions``), each with what its topic has published (``Publisher.auction_item``),
never an application not yet approved. An ``AuctionBidsRequest`` gets one page of a cleared
auction's anonymised bid list with the list's ``total``; a page holds at most ``bids_page`` bids,
computed from ``max_reply_bytes`` and the widest encoding of a bid (``bids_page_size``), so every
page fits the reply limit whatever its numbers. A request naming ``auction.`` among its topics gets
every auction topic.

Bars (issue 18): a ``BarsRequest`` gets the day's one-minute bars of the instruments it names
(none: every instrument), each with the seq of its trade topic they cover (``market_data.bars``).
A day holds at most 1,440 bars per instrument; a reply beyond ``max_reply_bytes`` is refused.
"""

from __future__ import annotations

import msgspec
import structlog
import zmq

from engine.messages import AuctionStatus
from engine.messages.peek import read_request_id
from market_data.auction_feed import auction_bid
from market_data.messages import (
    ALL_AUCTIONS,
    AuctionBidsReply,
    AuctionBidsRequest,
    AuctionsRequest,
    BarsReply,
    BarsRequest,
    ServiceRequest,
    SnapshotError,
    SnapshotRequest,
    bids_page_size,
    decode_snapshot_request,
    encode,
)
from market_data.publisher import Publisher
from market_data.snapshot_limits import SnapshotLimits

_log = structlog.get_logger("carbonx.market_data")

_NS_PER_S = 1_000_000_000
_NS_PER_MS = 1_000_000
_NOBLOCK = int(zmq.NOBLOCK)
MAX_PEERS = 4_096  # peers whose buckets are kept (the most recently seen)
LOG_LINES_PER_PEER_S = 5
LOG_LINES_PER_S = 50
_MAX_TEXT = 200  # characters of an exception's message quoted in a SnapshotError


class _EncodedSnapshot(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="Snapshot"):
    """``messages.Snapshot`` with its items already encoded: the same bytes on the wire."""

    request_id: int
    epoch: int
    items: list[msgspec.Raw]


class _EncodedAuctions(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="AuctionsReply"):
    """``messages.AuctionsReply`` with its auctions already encoded: the same bytes on the wire."""

    request_id: int
    epoch: int
    auctions: list[msgspec.Raw]


class _Refusal(Exception):
    """A request the service will not answer with a snapshot: ``text`` goes into the SnapshotError."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class _Peer:
    """What the service remembers of one address: its token bucket and its log allowance."""

    __slots__ = ("credit", "log_lines", "log_window", "suppressed", "updated")

    def __init__(self, credit: int, now: int) -> None:
        self.credit = credit  # nano-requests: integers only, like gateway.session.TokenBucket
        self.updated = now
        self.log_window = now  # start of the current one-second log window
        self.log_lines = 0
        self.suppressed = 0  # lines not logged since this peer's last logged line


class SnapshotService:
    def __init__(self, socket: zmq.Socket[bytes] | None, publisher: Publisher, limits: SnapshotLimits) -> None:
        """Take the ROUTER socket before it is bound: its size and queue limits are set here.

        ``socket`` None: no socket to serve, only ``answer`` (tests, readers in the same process).
        """
        self.socket = socket
        self.publisher = publisher
        self.limits = limits
        self.bids_page = bids_page_size(limits.max_reply_bytes)  # bids per AuctionBidsReply, at most
        if socket is not None:
            socket.setsockopt(zmq.MAXMSGSIZE, limits.max_request_bytes)
            socket.setsockopt(zmq.SNDHWM, limits.hwm)
            socket.setsockopt(zmq.RCVHWM, limits.hwm)
            # A reply to a peer that has gone, or whose queue is full, raises (and is logged): not lost unseen.
            socket.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._peers: dict[str, _Peer] = {}
        self._log_window = 0
        self._log_lines = 0
        self.answered = 0  # requests answered with a Snapshot
        self.refused = 0  # requests answered with a SnapshotError
        self.dropped = 0  # frames left unanswered (not one frame, or the reply could not be queued)

    # ------------------------------------------------------------------ the socket
    def serve(self, now: int) -> int:
        """Answer the requests waiting, within this turn's budget; return how many frames were read.

        Never raises: a frame's failure is answered and logged, a socket error ends the turn.
        """
        limits, socket = self.limits, self.socket
        handled = sent = 0
        while socket is not None and handled < limits.requests_per_turn and sent < limits.bytes_per_turn:
            try:
                frames = socket.recv_multipart(_NOBLOCK, copy=False)
            except zmq.Again:
                break
            except zmq.ZMQError as exc:
                _log.warning("snapshot.receive_failed", error_type=type(exc).__name__, error=str(exc))
                break
            handled += 1
            try:
                sent += self._serve_frames(socket, frames, now)
            except Exception as exc:  # a bug outside ``answer``: the frame is lost, the node is not
                self.dropped += 1
                _log.warning("snapshot.frame_failed", error_type=type(exc).__name__, error=_quote(exc))
        return handled

    def _serve_frames(self, socket: zmq.Socket[bytes], frames: list[zmq.Frame], now: int) -> int:
        """One received message: answer it (the bytes sent) or drop it (0)."""
        address = _peer_address(frames[-1])
        if len(frames) != 2:
            # A REQ socket's empty delimiter makes two frames: PROTOCOL.md §1.1 says it is dropped.
            peer = self._peer(address, now)
            self._take(peer, now)  # a flood of wrong frames is a flood all the same
            self.dropped += 1
            self._note(peer, address, now, "snapshot.dropped", reason=f"{len(frames) - 1} frames; one expected")
            return 0
        reply = self.answer(frames[1].bytes, address, now)
        try:
            socket.send_multipart([frames[0], reply], _NOBLOCK)
        except zmq.ZMQError as exc:
            self.dropped += 1
            reason = "peer's queue full" if isinstance(exc, zmq.Again) else "peer gone"
            self._note(self._peer(address, now), address, now, "snapshot.reply_dropped", reason=reason)
            return 0
        return len(reply)

    # ------------------------------------------------------------------ one request
    def answer(self, payload: bytes, address: str, now: int) -> bytes:
        """The reply to one request from ``address`` at ``now`` (ns, monotonic).

        Raises nothing a request can cause (only a failing logger could, and ``serve`` catches even that).
        """
        peer = self._peer(address, now)
        allowed, wait_ns = self._take(peer, now)
        request_id = 0
        try:
            try:
                request = decode_snapshot_request(payload)
            except Exception as exc:  # RecursionError included: msgspec recurses into nested values
                request_id = read_request_id(payload)
                self._note(peer, address, now, "snapshot.refused", request_id=request_id, **_error(exc))
                return self._refuse(request_id, f"MALFORMED_REQUEST: {type(exc).__name__}: {_quote(exc)}")
            request_id = request.request_id
            if not allowed:
                retry_ms = -(-wait_ns // _NS_PER_MS)
                raise _Refusal(f"THROTTLED: retry_after_ms={retry_ms}, requests_per_s={self.limits.requests_per_s}")
            reply = self._reply(request)
        except _Refusal as refusal:
            self._note(peer, address, now, "snapshot.refused", request_id=request_id, text=refusal.text)
            return self._refuse(request_id, refusal.text)
        except Exception as exc:  # a bug met by one request must not stop the node
            self._note(peer, address, now, "snapshot.failed", request_id=request_id, **_error(exc))
            return self._refuse(request_id, f"INTERNAL_ERROR: {type(exc).__name__}: {_quote(exc)}")
        self.answered += 1
        return reply

    def _reply(self, request: ServiceRequest) -> bytes:
        if isinstance(request, AuctionsRequest):
            return self._auctions(request)
        if isinstance(request, AuctionBidsRequest):
            return self._auction_bids(request)
        if isinstance(request, BarsRequest):
            return self._bars(request)
        return self._snapshot(request)

    def _snapshot(self, request: SnapshotRequest) -> bytes:
        limits, publisher = self.limits, self.publisher
        # Deduplicated, in the order first named: a name repeated 4,000 times is one item.
        names = list(dict.fromkeys(request.topics)) if request.topics else publisher.topics()
        if len(names) > limits.max_topics and request.topics:
            raise _Refusal(f"TOO_MANY_TOPICS: topics={len(names)}, max_topics={limits.max_topics}")
        if ALL_AUCTIONS in names:
            at = names.index(ALL_AUCTIONS)
            names = list(dict.fromkeys([*names[:at], *publisher.auction_topics(), *names[at + 1 :]]))
        items: list[msgspec.Raw] = []
        size = 0
        for name in names:
            item = publisher.snapshot_item(name)
            size += len(item)
            if size > limits.max_reply_bytes:
                text = f"REPLY_TOO_LARGE: max_reply_bytes={limits.max_reply_bytes}, topics={len(names)}"
                raise _Refusal(text + " (ask for fewer topics)")
            items.append(msgspec.Raw(item))
        return _encoder.encode(_EncodedSnapshot(request_id=request.request_id, epoch=publisher.epoch, items=items))

    def _auctions(self, request: AuctionsRequest) -> bytes:
        limits, publisher = self.limits, self.publisher
        wanted = frozenset(request.auction_ids)
        auctions: list[msgspec.Raw] = []
        size = 0
        for record in publisher.view.auctions():
            # An application not yet approved is private to its applicant and the regulator.
            if record.status is AuctionStatus.APPLIED or (wanted and record.auction_id not in wanted):
                continue
            item = publisher.auction_item(record.auction_id)
            if item is None:
                continue
            size += len(item)
            if size > limits.max_reply_bytes:
                text = f"REPLY_TOO_LARGE: max_reply_bytes={limits.max_reply_bytes}, auctions={len(auctions) + 1}"
                raise _Refusal(text + " (ask for fewer auction_ids)")
            auctions.append(msgspec.Raw(item))
        return _encoder.encode(
            _EncodedAuctions(request_id=request.request_id, epoch=publisher.epoch, auctions=auctions)
        )

    def _auction_bids(self, request: AuctionBidsRequest) -> bytes:
        view, auction_id = self.publisher.view, request.auction_id
        record = view.auction(auction_id)
        if record is None or record.status is AuctionStatus.APPLIED:  # an application: private
            raise _Refusal(f"UNKNOWN_AUCTION: auction_id={auction_id}")
        if record.status is not AuctionStatus.CLEARED:
            raise _Refusal(f"AUCTION_NOT_CLEARED: auction_id={auction_id}, status={record.status.name}")
        limit = min(request.limit or self.bids_page, self.bids_page)
        page = view.published_bids(auction_id, request.offset, limit)
        reply = encode(
            AuctionBidsReply(
                request_id=request.request_id,
                epoch=self.publisher.epoch,
                auction_id=auction_id,
                offset=request.offset,
                total=record.published_bids,
                bids=[auction_bid(bid) for bid in page],
            )
        )
        if len(reply) > self.limits.max_reply_bytes:  # a limit below one widest bid's page (bids_page is 1)
            raise _Refusal(f"REPLY_TOO_LARGE: max_reply_bytes={self.limits.max_reply_bytes}, bids={len(page)}")
        return reply

    def _bars(self, request: BarsRequest) -> bytes:
        limits, publisher = self.limits, self.publisher
        known = publisher.instruments()
        codes = list(dict.fromkeys(request.instruments)) if request.instruments else known
        if len(codes) > limits.max_topics and request.instruments:  # [] (every instrument): the reply's size decides
            raise _Refusal(f"TOO_MANY_TOPICS: instruments={len(codes)}, max_topics={limits.max_topics}")
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise _Refusal(f"UNKNOWN_INSTRUMENT: instrument={unknown[0][:40]!r}")
        reply = encode(
            BarsReply(
                request_id=request.request_id,
                epoch=publisher.epoch,
                trading_day=publisher.bars.trading_day,
                items=[publisher.instrument_bars(code) for code in codes],
            )
        )
        if len(reply) > limits.max_reply_bytes:
            text = f"REPLY_TOO_LARGE: max_reply_bytes={limits.max_reply_bytes}, instruments={len(codes)}"
            raise _Refusal(text + " (ask for fewer instruments)")
        return reply

    def _refuse(self, request_id: int, text: str) -> bytes:
        self.refused += 1
        return encode(SnapshotError(request_id=request_id, text=text))

    # ------------------------------------------------------------------ peers
    def _peer(self, address: str, now: int) -> _Peer:
        """The peer's state, most recently seen last; the least recently seen goes beyond ``MAX_PEERS``."""
        peers = self._peers
        peer = peers.pop(address, None)
        if peer is None:
            peer = _Peer(self.limits.burst * _NS_PER_S, now)
            if len(peers) >= MAX_PEERS:
                del peers[next(iter(peers))]
        peers[address] = peer
        return peer

    def _take(self, peer: _Peer, now: int) -> tuple[bool, int]:
        """Take one request from the peer's bucket: (allowed, ns until one would be)."""
        rate, full = self.limits.requests_per_s, self.limits.burst * _NS_PER_S
        peer.credit = min(full, peer.credit + max(0, now - peer.updated) * rate)
        peer.updated = now
        if peer.credit >= _NS_PER_S:
            peer.credit -= _NS_PER_S
            return True, 0
        return False, -(-(_NS_PER_S - peer.credit) // rate)

    def _note(self, peer: _Peer, address: str, now: int, event: str, **fields: object) -> None:
        """Log one line about a peer's request, unless its (or the service's) lines this second are used up."""
        if now - peer.log_window >= _NS_PER_S:
            peer.log_window, peer.log_lines = now, 0
        if now - self._log_window >= _NS_PER_S:
            self._log_window, self._log_lines = now, 0
        if peer.log_lines >= LOG_LINES_PER_PEER_S or self._log_lines >= LOG_LINES_PER_S:
            peer.suppressed += 1
            return
        peer.log_lines += 1
        self._log_lines += 1
        suppressed, peer.suppressed = peer.suppressed, 0
        if suppressed:
            fields["suppressed"] = suppressed
        _log.warning(event, peer=address, **fields)

    def peers(self) -> int:
        """How many peers the service remembers (at most ``MAX_PEERS``)."""
        return len(self._peers)


_encoder = msgspec.msgpack.Encoder()


def _peer_address(frame: zmq.Frame) -> str:
    """The IP the frame came from; "" where the transport has none (ipc, inproc): one shared peer."""
    try:
        return str(frame.get("Peer-Address"))
    except zmq.ZMQError:
        return ""


def _quote(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:_MAX_TEXT]


def _error(exc: BaseException) -> dict[str, object]:
    return {"error_type": type(exc).__name__, "error": _quote(exc)}


# ---------------------------------------------------------------------------------- request_id
