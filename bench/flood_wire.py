"""The flooder of ``python -m bench.flood``: the flood kinds of issue 12, their frames, and the flooding process.

Each flood runs in a process of its own (the victim's timings must not share a GIL with it), on raw
pyzmq sockets with frames encoded before the flood starts: a frame that must differ from the last
(a new client order id) is a template with a fixed-width counter patched in. The process sends at
its target rate, never faster and never in a burst to catch up (a flood the sockets cannot take is
counted as ``behind``), and reports the rate it reached: one Python process, on a machine whose
CPUs it shares with the node, may not reach 40,000 frames/s, and the figures say so.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import msgspec
import zmq

from bench.e2e_wire import INSTRUMENT, BenchError, Context
from engine.messages import NewOrder, OrderType, Reject, Side
from gateway.keys import load_member_secret, load_server_public
from gateway.protocol import Heartbeat, Logon, LogonAccepted, ResendRequest, Submit, encoder, server_decoder
from market_data.messages import SnapshotRequest
from market_data.messages import encode as encode_market_data

FLOODER, FLOODER_ACCOUNT = "M002", "A002"  # the flooding member; the victim is another member
FLOOD_PRICE = 7_200  # the band's floor: the flooder's IOC buys never meet the victim's orders at 80.00
_COUNTER = b"#" * 12  # the place in a template where each frame's number goes
_NOBLOCK = int(zmq.NOBLOCK)
_POLLIN = int(zmq.POLLIN)
FrameSource = Callable[[int], bytes]  # the n-th frame of a flood
_BEHIND_S = 0.1  # a flood more than this far behind its schedule drops the rest rather than bursting


@dataclass(frozen=True)
class Kind:
    name: str
    letter: str  # the letter for it
    what: str
    socket: str  # "order entry" or "snapshot"
    logon: bool  # the flooder logs on before it floods
    reads: bool  # the flooder reads what the node sends back (unless told otherwise)
    rate: int  # default frames/s; 0: --rate


KINDS = {
    k.name: k
    for k in (
        Kind("throttle", "a", "Submit(NewOrder IOC) beyond the throttle", "order entry", True, True, 0),
        Kind("not-logged-on", "f", "Submit frames, never logged on (NOT_LOGGED_ON)", "order entry", False, True, 0),
        Kind("logon-heartbeat", "f", "Logon and Heartbeat frames, alternately", "order entry", False, True, 0),
        Kind("long-id", "b", "NewOrder with a 60,000-character client order id", "order entry", True, True, 500),
        Kind("big-frames", "d", "20 KB Submit frames (client order id padding)", "order entry", True, True, 0),
        Kind("resend", "c", "ResendRequest of the whole report stream, unread", "order entry", True, False, 25),
        Kind("logon-resend", "c", "Logon with resend_from=1 (no token), unread", "order entry", False, False, 25),
        Kind("snapshot", "e", "unauthenticated 60 KB SnapshotRequest, unread", "snapshot", False, False, 25),
    )
}


@dataclass
class FloodSpec:
    """What one flooding process is to do; it fills ``figures`` and sends the spec back."""

    kind: str
    endpoint: str
    keys: str
    rate: int
    seconds: float  # the longest it floods: the bench stops it when the victim's phase ends
    connections: int
    reads: bool
    frame_bytes: int
    long_id_chars: int
    snapshot_topics: int
    timeout: float
    figures: dict[str, Any] = field(default_factory=dict)


def frame_source(spec: FloodSpec) -> FrameSource:
    """The ``n``-th frame of the flood, for every ``n``; cheap enough to call 40,000 times a second."""
    kind = spec.kind
    if kind in ("throttle", "not-logged-on"):
        return _numbered(_order(_COUNTER.decode()))
    if kind == "long-id":
        return _numbered(_order(_COUNTER.decode() + "x" * (spec.long_id_chars - len(_COUNTER))))
    if kind == "big-frames":
        padding = spec.frame_bytes - len(_order(""))
        while len(frame := _order(_COUNTER.decode() + "x" * max(0, padding - len(_COUNTER)))) != spec.frame_bytes:
            padding += spec.frame_bytes - len(frame)  # the str header grows with the string: settle it
            if padding < len(_COUNTER):
                raise BenchError(f"--frame-bytes {spec.frame_bytes} is smaller than an order frame")
        return _numbered(frame)
    if kind == "resend":
        return _cycle([encoder.encode(ResendRequest(request_id=2, from_seq=1))])
    if kind == "logon-resend":
        return _cycle([encoder.encode(Logon(request_id=1, member=FLOODER, heartbeat_ms=60_000, resend_from=1))])
    if kind == "logon-heartbeat":
        logon = encoder.encode(Logon(request_id=1, member=FLOODER, heartbeat_ms=60_000))
        return _cycle([logon, encoder.encode(Heartbeat())])
    if kind == "snapshot":
        request = SnapshotRequest(request_id=1, topics=[f"trade.{INSTRUMENT}"] * spec.snapshot_topics)
        return _cycle([encode_market_data(request)])
    raise BenchError(f"unknown flood kind {kind!r}")


def _order(client_order_id: str) -> bytes:
    order = NewOrder(
        account=FLOODER_ACCOUNT,
        instrument=INSTRUMENT,
        client_order_id=client_order_id,
        side=Side.BUY,
        order_type=OrderType.LIMIT_IOC,
        quantity=1,
        price=FLOOD_PRICE,
    )
    return encoder.encode(Submit(request_id=2, command=order))


def _numbered(template: bytes) -> FrameSource:
    head, tail = template.split(_COUNTER, 1)
    return lambda n: head + b"%012d" % n + tail


def _cycle(frames: list[bytes]) -> FrameSource:
    return lambda n: frames[n % len(frames)]


# ------------------------------------------------------------------------------------ the process
class _Reply(msgspec.Struct):
    type: str = ""
    code: int = 0


_reply_decoder = msgspec.msgpack.Decoder(_Reply)


def flood_process(spec: FloodSpec, ready: Any, go: Any, stop: Any, results: Any) -> None:
    """Connect (and log on), say ready, wait for go, flood until stopped; send the spec back with figures."""
    context: Context = zmq.Context()
    sockets: list[zmq.Socket[bytes]] = []
    said_ready = False
    try:
        kind = KINDS[spec.kind]
        for _ in range(spec.connections):
            sockets.append(_connect(context, spec, kind))
            if kind.logon:
                spec.figures["reports_in_stream"] = _logon(sockets[-1], spec.timeout)
        frame = frame_source(spec)
        spec.figures["frame_bytes"] = len(frame(0))
        ready.put(None)
        said_ready = True
        if not go.wait(spec.timeout):
            raise BenchError(f"{spec.kind}: no go within {spec.timeout:.0f} s")
        spec.figures |= _flood(sockets, frame, spec, stop)
    except Exception as exc:  # reported by the parent: a traceback in a child process would be lost
        spec.figures["problem"] = f"{spec.kind}: {exc}"
        if not said_ready:
            ready.put(str(exc))
    finally:
        results.put(spec)
        for sock in sockets:
            sock.close(linger=0)  # what the node queued for a flooder that never read is dropped with it
        context.destroy(linger=0)


def _connect(context: Context, spec: FloodSpec, kind: Kind) -> zmq.Socket[bytes]:
    """A DEALER; one that never reads takes one reply off the wire, so the rest stays queued at the node."""
    sock = context.socket(zmq.DEALER)
    if not spec.reads:
        sock.setsockopt(zmq.RCVHWM, 1)
    if kind.socket == "order entry":
        public, secret = load_member_secret(Path(spec.keys), FLOODER)
        sock.setsockopt(zmq.CURVE_SERVERKEY, load_server_public(Path(spec.keys)))
        sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
    sock.connect(spec.endpoint)
    return sock


def _logon(sock: zmq.Socket[bytes], timeout: float) -> int:
    """Log on as the flooder; the number of its newest report (what a whole resend sends again)."""
    sock.send(encoder.encode(Logon(request_id=1, member=FLOODER, heartbeat_ms=60_000)))
    deadline = time.monotonic() + timeout
    while sock.poll(max(1, int((deadline - time.monotonic()) * 1_000))):
        answer = server_decoder.decode(sock.recv())
        if isinstance(answer, LogonAccepted):
            return answer.last_report_seq
        if getattr(answer, "request_id", 0) == 1:
            raise BenchError(f"the flooder's logon was answered {answer!r}")
        if time.monotonic() > deadline:
            break
    raise BenchError(f"the flooder's logon had no answer within {timeout:.0f} s")


def _flood(sockets: list[zmq.Socket[bytes]], frame: FrameSource, spec: FloodSpec, stop: Any) -> dict[str, Any]:
    """Send ``frame(n)`` on a fixed schedule, round robin over the sockets, until stopped."""
    sends = [s.send for s in sockets]
    count, rate, most_behind = len(sockets), spec.rate, max(1, int(spec.rate * _BEHIND_S))
    received: Counter[str] = Counter()
    sent = behind = 0
    cpu = time.process_time()
    start = time.perf_counter()
    end, next_check = start + spec.seconds, start
    while (now := time.perf_counter()) < end:
        if now >= next_check:  # a multiprocessing Event costs a system call: look every 5 ms
            if stop.is_set():
                break
            next_check = now + 0.005
        due = int((now - start) * rate) - sent - behind
        if due > most_behind:
            behind += due - most_behind
            due = most_behind
        done = 0
        while done < due:
            try:
                sends[sent % count](frame(sent), _NOBLOCK)
            except zmq.Again:  # the sockets take no more: the node, or the link, is not keeping up
                break
            sent += 1
            done += 1
        if spec.reads:
            _drain(sockets, received)
        if done < due:
            time.sleep(0.000_5)
        else:
            time.sleep(min(0.002, max(0.0, (sent + behind + 1) / rate - (time.perf_counter() - start))))
    seconds = time.perf_counter() - start
    if spec.reads:
        _drain(sockets, received)
    return {
        "sent": sent,
        "seconds": round(seconds, 3),
        "sent_per_s": round(sent / max(seconds, 1e-9)),
        "behind": behind,
        "received": dict(received.most_common()),
        "cpu_s": round(time.process_time() - cpu, 3),
        "flooder_rss_kb": _own_rss_kb(),
    }


def _own_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _drain(sockets: list[zmq.Socket[bytes]], received: Counter[str], most: int = 10_000) -> None:
    """Read what is waiting (at most ``most`` frames), counted by type and, for a ``Refused``, by code."""
    got = 0
    for sock in sockets:
        while got < most and cast(int, sock.get(zmq.EVENTS)) & _POLLIN:
            got += 1
            try:
                reply = _reply_decoder.decode(sock.recv(_NOBLOCK))
            except msgspec.DecodeError:
                received["unreadable"] += 1
                continue
            if reply.type == "Refused":
                received[f"Refused {_code_name(reply.code)}"] += 1
            else:
                received[reply.type] += 1


def _code_name(code: int) -> str:
    try:
        return Reject(code).name
    except ValueError:
        return str(code)
