"""The wire side of ``python -m bench.e2e``: the bench's market, a raw logged-on session, requests, percentiles.

Also the baseline (measurement 1): a pyzmq DEALER-ROUTER echo, with and without CURVE, that shows
what transport and Python cost before any exchange. Nothing here starts or knows the node.
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import random
import select
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import msgspec
import zmq

from carbonx.errors import CarbonxError
from engine.messages import AnyCommand, NewOrder, OrderRejected, OrderType, Side
from gateway.keys import load_member_secret, load_server_public
from gateway.protocol import (
    ExecutionReport,
    Logon,
    LogonAccepted,
    Logout,
    Refused,
    Reports,
    ServerMessage,
    Submit,
    SubmitBatch,
    WireMessage,
    encoder,
    server_decoder,
)

INSTRUMENT = "SHEA2025"  # reference price 80.00, band 72.00-88.00
# One side per account, so self-trade prevention never fires: even positions buy, odd positions sell.
TRADERS = (("M001", "A001"), ("M002", "A002"), ("M003", "A003"), ("M101", "A101"), ("M102", "A104"))
BUY_PRICES, SELL_PRICES = (7990, 8005), (7995, 8010)  # 79.90-80.05 and 79.95-80.10 overlap: some orders trade
MAX_QUANTITY = 5  # t per throughput order
MAKER_PRICE, TAKER_PRICE = 8020, 8030  # latency: above every bid the throughput phase leaves resting
MAKER_ORDER = 1_000  # t per resting sell of the latency phase
FIRST_RID = 2  # request id 1 is the logon
PERCENTILES = (("p50", 500), ("p90", 900), ("p99", 990), ("p99.9", 999))  # per mille: exact integer ranks
Figures = dict[str, Any]  # one measurement, as printed and as written by --json
Stamped = list[tuple[int, list[bytes]]]  # (perf_counter_ns when received, the message's frames)
Context = zmq.Context[zmq.Socket[bytes]]


class BenchError(CarbonxError):
    """The bench cannot run, or its figures would be wrong: one line saying what and where."""


# ------------------------------------------------------------------------------------ wire helpers
class _Event(msgspec.Struct):
    type: str = ""
    trade_id: int = 0
    aggressor: bool = False


class _Message(msgspec.Struct):
    type: str = ""
    request_id: int = 0
    event: _Event | None = None


class _Frame(msgspec.Struct):
    """The few fields the hot loops read of a gateway frame; msgspec skips the rest unread.

    A ``Reports`` frame (a session logged on with ``batch_reports``) holds ``reports`` and ``acks``.
    """

    type: str = ""
    request_id: int = 0
    event: _Event | None = None
    reports: list[_Message] = []
    acks: list[_Message] = []

    def messages(self) -> list[_Message]:
        """The frame as the messages it carries: a ``Reports`` frame's reports, then its acks."""
        if self.type == "Reports":
            return self.reports + self.acks
        return [_Message(self.type, self.request_id, self.event)]


light_decoder = msgspec.msgpack.Decoder(_Frame)


class WireSession:
    """A raw DEALER logged on as one member: what ``MemberClient`` does, minus waiting for each answer."""

    def __init__(self, context: Context, endpoint: str, keys: Path, member: str, batch_reports: bool = False) -> None:
        self.member = member
        public, secret = load_member_secret(keys, member)
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.CURVE_SERVERKEY, load_server_public(keys))
        self.socket.setsockopt(zmq.CURVE_PUBLICKEY, public)
        self.socket.setsockopt(zmq.CURVE_SECRETKEY, secret)
        self.socket.setsockopt(zmq.RCVHWM, 0)  # the bench must never drop a report on its own side
        self.socket.connect(endpoint)
        # The longest heartbeat the gateway grants: the bench sends nothing while it waits between phases.
        logon = Logon(request_id=1, member=member, heartbeat_ms=60_000, batch_reports=batch_reports)
        answer, _ = self.request(logon, 10.0)
        if not isinstance(answer, LogonAccepted):
            raise BenchError(f"{endpoint}: logon as {member} answered {answer!r}")

    def request(self, message: WireMessage, timeout_s: float) -> tuple[ServerMessage, list[ExecutionReport]]:
        """Send, then wait for the answer with the message's request id; also the reports seen meanwhile."""
        rid: int = getattr(message, "request_id", 0)
        self.socket.send(encoder.encode(message))
        deadline = time.monotonic() + timeout_s
        reports: list[ExecutionReport] = []
        while time.monotonic() < deadline and self.socket.poll(max(1, int((deadline - time.monotonic()) * 1e3))):
            for answer in unpacked(server_decoder.decode(self.socket.recv())):
                if isinstance(answer, ExecutionReport):
                    reports.append(answer)
                elif getattr(answer, "request_id", None) == rid:
                    return answer, reports
        raise BenchError(f"{self.member}: no answer to request {rid} within {timeout_s:.0f} s")

    def close(self) -> None:
        """Log out and wait for the answer, so that no reply is left addressed to a closed socket."""
        self.request(Logout(request_id=1), 10.0)
        self.socket.close(linger=1_000)


def unpacked(message: ServerMessage) -> list[ServerMessage]:
    """A ``Reports`` frame as the reports and acks it carries; any other message as itself."""
    if isinstance(message, Reports):
        return [*message.reports, *message.acks]
    return [message]


def problem_of(frame: bytes) -> str | None:
    """A refusal or an engine reject, in full; None for anything else."""
    for message in unpacked(server_decoder.decode(frame)):
        if isinstance(message, Refused):
            return f"Refused {message.code.name}: {message.text}"
        if isinstance(message, ExecutionReport) and isinstance(message.event, OrderRejected):
            return f"OrderRejected {message.event.code.name}: {message.event.text}"
    return None


# ``--scale``: 40 instruments (SHEA2025 and 39 more at the same price) and ten accounts for each
# trader's one, each throughput client spreading its orders over them in turn.
SCALE_INSTRUMENTS = (INSTRUMENT, *(f"BENCH{i:02d}" for i in range(1, 40)))
SCALE_ACCOUNTS = 10


def scaled_accounts(account: str, scale: bool) -> tuple[str, ...]:
    """The accounts a trader's orders go to: its own, and at scale nine more of its member's (A001X1...)."""
    return (account, *(f"{account}X{k}" for k in range(1, SCALE_ACCOUNTS))) if scale else (account,)


def limit_orders(
    account: str, count: int, seed: int, tag: str, quantity: int = 0, price: int = 0, scale: bool = False
) -> list[AnyCommand]:
    """Limit orders (sells from odd-positioned accounts); without a fixed size and price, seeded draws.

    At ``scale`` the orders go round the trader's accounts and the instruments in turn.
    """
    side = Side.BUY if [a for _, a in TRADERS].index(account) % 2 == 0 else Side.SELL
    rng, (low, high) = random.Random(seed), BUY_PRICES if side is Side.BUY else SELL_PRICES
    accounts = scaled_accounts(account, scale)
    instruments = SCALE_INSTRUMENTS if scale else (INSTRUMENT,)
    return [
        NewOrder(
            account=accounts[n % len(accounts)],
            instrument=instruments[n % len(instruments)],
            client_order_id=f"{tag}-{n}",
            side=side,
            order_type=OrderType.LIMIT,
            quantity=quantity or rng.randint(1, MAX_QUANTITY),
            price=price or rng.randint(low, high),
        )
        for n in range(count)
    ]


def request_frames(orders: list[AnyCommand], batch: int) -> list[tuple[bytes, int]]:
    """Encoded requests, request ids from FIRST_RID, each with the number of orders it carries."""
    if batch == 1:
        return [(encoder.encode(Submit(request_id=FIRST_RID + k, command=o)), 1) for k, o in enumerate(orders)]
    chunks = [orders[i : i + batch] for i in range(0, len(orders), batch)]
    return [(encoder.encode(SubmitBatch(request_id=FIRST_RID + k, commands=c)), len(c)) for k, c in enumerate(chunks)]


def percentiles(values_ns: Sequence[int]) -> dict[str, int]:
    """Nearest-rank percentiles and the maximum, in whole microseconds (all 0 for no values)."""
    ordered = sorted(values_ns) or [0]
    picked = {name: ordered[max(0, -(-q * len(ordered) // 1_000) - 1)] for name, q in PERCENTILES}
    return {name: (ns + 500) // 1_000 for name, ns in (picked | {"max": ordered[-1]}).items()}


def readable(sock: zmq.Socket[bytes]) -> bool:
    # ZMQ_FD only signals a change: ZMQ_EVENTS must be read after every operation, before waiting on it.
    return bool(cast(int, sock.get(zmq.EVENTS)) & zmq.POLLIN)


def drain(sock: zmq.Socket[bytes], into: Stamped) -> None:
    """Receive every message ready now, each stamped on arrival: the stamp is what latency is measured to."""
    while readable(sock):
        parts = sock.recv_multipart()
        into.append((time.perf_counter_ns(), parts))


# ------------------------------------------------------------------------------------ 1. baseline
def _echo_server(curve: bool, secret: bytes, endpoints: Any) -> None:
    """The other process of the baseline: a ROUTER sending every message straight back."""
    context: Context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    if curve:  # no ZAP handler: libzmq lets any client key in, so the cost measured is the encryption
        router.setsockopt(zmq.CURVE_SERVER, 1)
        router.setsockopt(zmq.CURVE_SECRETKEY, secret)
    router.bind("tcp://127.0.0.1:*")
    endpoints.put(router.getsockopt_string(zmq.LAST_ENDPOINT))
    while (parts := router.recv_multipart())[1]:  # an empty frame from the client: stop
        router.send_multipart(parts)
    context.destroy(linger=0)


def run_baseline(curve: bool, size: int, args: argparse.Namespace) -> Figures:
    """Sequential round trips, ``window`` messages kept in flight, and (CURVE) round trips paced at each rate."""
    server_public, server_secret = zmq.curve_keypair()
    spawn = multiprocessing.get_context("spawn")  # no zmq context may cross a fork
    endpoints = spawn.Queue()
    server = spawn.Process(target=_echo_server, args=(curve, server_secret, endpoints), daemon=True)
    server.start()
    context: Context = zmq.Context()
    try:
        dealer = context.socket(zmq.DEALER)
        if curve:
            public, secret = zmq.curve_keypair()
            for option, key in ((zmq.CURVE_SERVERKEY, server_public), (zmq.CURVE_PUBLICKEY, public)):
                dealer.setsockopt(option, key)
            dealer.setsockopt(zmq.CURVE_SECRETKEY, secret)
        dealer.setsockopt(zmq.RCVTIMEO, int(args.timeout * 1_000))
        dealer.connect(endpoints.get(timeout=args.timeout))
        message, trips = b"x" * size, args.round_trips
        _paced(dealer, message, 0, min(1_000, trips))  # the handshake and a warm path
        started = time.perf_counter_ns()
        times = _paced(dealer, message, 0, trips)
        sequential_ns = time.perf_counter_ns() - started
        started = time.perf_counter_ns()
        for k in range(trips + args.window):
            if k >= args.window:
                dealer.recv()
            if k < trips:
                dealer.send(message)
        pipelined_ns = time.perf_counter_ns() - started
        rates = args.rates if curve else []
        paced = [percentiles(_paced(dealer, message, r, min(trips, round(r * args.latency_seconds)))) for r in rates]
        dealer.send(b"")
        server.join(args.timeout)
    except (zmq.Again, queue.Empty):
        raise BenchError(f"the baseline echo server ({'CURVE' if curve else 'plain'}) did not answer") from None
    finally:
        context.destroy(linger=0)
        if server.is_alive():
            server.terminate()
    return {
        "curve": curve,
        "bytes": size,
        "round_trips": trips,
        "round_trips_per_s": round(trips * 1e9 / sequential_ns),
        "round_trip_us": percentiles(times),
        "window": args.window,
        "pipelined_per_s": round(trips * 1e9 / pipelined_ns),
        "paced_us": dict(zip(map(str, rates), paced, strict=True)),
    }


def _paced(dealer: zmq.Socket[bytes], message: bytes, rate: int, count: int) -> list[int]:
    """Round trips one at a time; at ``rate`` per second (0: back to back) they wait as the latency phase does.

    Between paced round trips the processes sleep, and waking them is part of every latency figure.
    """
    interval, times = 1_000_000_000 // rate if rate else 0, [0] * count
    start = time.perf_counter_ns()
    for k in range(count):
        if (wait_ns := start + k * interval - time.perf_counter_ns()) > 0:
            select.select([], [], [], wait_ns / 1e9)
        sent = time.perf_counter_ns()
        dealer.send(message)
        dealer.recv()
        times[k] = time.perf_counter_ns() - sent
    return times
