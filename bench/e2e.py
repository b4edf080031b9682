"""``python -m bench.e2e``: the end-to-end benchmark of a running exchange node, over tcp loopback.

It starts ``carbonx serve --demo`` as a real subprocess on a copy of ``config/`` (free ports, a
throttle no client reaches, scheduler "manual", fsync as chosen) and measures, in one run:

1. baseline: a pyzmq DEALER-ROUTER echo between two processes, with and without CURVE, carrying
   frames the size of a ``Submit(NewOrder)``: what transport and Python cost before any exchange;
2. throughput: N client processes, each logged on as its own demo member (buyers and sellers whose
   prices overlap, so some orders trade), each keeping W requests in flight: (a) one ``Submit`` per
   order, (b) ``SubmitBatch`` of B orders. Only orders whose ``Ack`` arrived are counted;
3. latency at fixed rates, open loop: each order is a 1 t buy that trades at once against sells
   placed first; order -> ``Ack``, and order -> its ``Trade`` on market data (the first market-data
   message it causes: the publisher queues a trade before the quote it changes), matched through
   the ``Fill``'s ``trade_id``.

The run fails (exit status 1) when anything was refused or rejected, an answer is missing, or the
node's last journal seq is not the one the requests sent imply. Figures: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import multiprocessing
import os
import platform
import queue
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import msgspec
import zmq

from carbonx.errors import CarbonxError
from engine.messages import AllocateAllowances, AnyCommand, DepositCash, NewOrder, OrderRejected, OrderType, Side
from gateway.keys import load_member_secret, load_server_public
from gateway.protocol import (
    Ack,
    ExecutionReport,
    Fill,
    Logon,
    LogonAccepted,
    Logout,
    Refused,
    ServerMessage,
    Submit,
    SubmitBatch,
    WireMessage,
    encoder,
    server_decoder,
)
from market_data.messages import Trade, decode_channel_message

REPO = Path(__file__).resolve().parent.parent
INSTRUMENT = "SHEA2025"  # reference price 80.00, band 72.00-88.00
# One side per account, so self-trade prevention never fires: even positions buy, odd positions sell.
TRADERS = (("M001", "A001"), ("M002", "A002"), ("M003", "A003"), ("M101", "A101"), ("M102", "A104"))
BUY_PRICES, SELL_PRICES = (7990, 8005), (7995, 8010)  # 79.90-80.05 and 79.95-80.10 overlap: some orders trade
MAX_QUANTITY = 5  # t per throughput order
MAKER_PRICE, TAKER_PRICE = 8020, 8030  # latency: above every bid the throughput phase leaves resting
MAKER_ORDER = 1_000  # t per resting sell of the latency phase
FIRST_RID = 2  # request id 1 is the logon
CASH_PER_T = 9_000  # fen deposited per tonne a buyer may buy: above any bench price plus fees
BUYER_LIMIT_T = 700_000  # t bought per account: the demo position limit (1,000,000 t) less demo holdings
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


class _Frame(msgspec.Struct):
    """The few fields the hot loops read of a gateway frame; msgspec skips the rest unread."""

    type: str = ""
    request_id: int = 0
    event: _Event | None = None


_light = msgspec.msgpack.Decoder(_Frame)


class WireSession:
    """A raw DEALER logged on as one member: what ``MemberClient`` does, minus waiting for each answer."""

    def __init__(self, context: Context, endpoint: str, keys: Path, member: str) -> None:
        self.member = member
        public, secret = load_member_secret(keys, member)
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.CURVE_SERVERKEY, load_server_public(keys))
        self.socket.setsockopt(zmq.CURVE_PUBLICKEY, public)
        self.socket.setsockopt(zmq.CURVE_SECRETKEY, secret)
        self.socket.setsockopt(zmq.RCVHWM, 0)  # the bench must never drop a report on its own side
        self.socket.connect(endpoint)
        # The longest heartbeat the gateway grants: the bench sends nothing while it waits between phases.
        answer, _ = self.request(Logon(request_id=1, member=member, heartbeat_ms=60_000), 10.0)
        if not isinstance(answer, LogonAccepted):
            raise BenchError(f"{endpoint}: logon as {member} answered {answer!r}")

    def request(self, message: WireMessage, timeout_s: float) -> tuple[ServerMessage, list[ExecutionReport]]:
        """Send, then wait for the answer with the message's request id; also the reports seen meanwhile."""
        rid: int = getattr(message, "request_id", 0)
        self.socket.send(encoder.encode(message))
        deadline = time.monotonic() + timeout_s
        reports: list[ExecutionReport] = []
        while time.monotonic() < deadline and self.socket.poll(max(1, int((deadline - time.monotonic()) * 1e3))):
            answer = server_decoder.decode(self.socket.recv())
            if isinstance(answer, ExecutionReport):
                reports.append(answer)
            elif getattr(answer, "request_id", None) == rid:
                return answer, reports
        raise BenchError(f"{self.member}: no answer to request {rid} within {timeout_s:.0f} s")

    def close(self) -> None:
        """Log out and wait for the answer, so that no reply is left addressed to a closed socket."""
        self.request(Logout(request_id=1), 10.0)
        self.socket.close(linger=1_000)


def _problem(frame: bytes) -> str | None:
    """A refusal or an engine reject, in full; None for anything else."""
    message = server_decoder.decode(frame)
    if isinstance(message, Refused):
        return f"Refused {message.code.name}: {message.text}"
    if isinstance(message, ExecutionReport) and isinstance(message.event, OrderRejected):
        return f"OrderRejected {message.event.code.name}: {message.event.text}"
    return None


def _orders(account: str, count: int, seed: int, tag: str, quantity: int = 0, price: int = 0) -> list[AnyCommand]:
    """Limit orders (sells from odd-positioned accounts); without a fixed size and price, seeded draws."""
    side = Side.BUY if [a for _, a in TRADERS].index(account) % 2 == 0 else Side.SELL
    rng, (low, high) = random.Random(seed), BUY_PRICES if side is Side.BUY else SELL_PRICES
    return [
        NewOrder(
            account=account,
            instrument=INSTRUMENT,
            client_order_id=f"{tag}-{n}",
            side=side,
            order_type=OrderType.LIMIT,
            quantity=quantity or rng.randint(1, MAX_QUANTITY),
            price=price or rng.randint(low, high),
        )
        for n in range(count)
    ]


def _frames(orders: list[AnyCommand], batch: int) -> list[tuple[bytes, int]]:
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


# ------------------------------------------------------------------------------------ 2. throughput
@dataclass
class ClientRun:
    """One client process of the throughput phase: what it is to send, then what it saw."""

    index: int
    endpoint: str
    keys: str
    orders: int
    batch: int
    window: int
    seed: int
    timeout_s: float
    started_ns: int = 0
    ended_ns: int = 0
    requests: int = 0
    acks: int = 0
    acked_orders: int = 0
    trades: int = 0  # fills in which this client's order took liquidity: each trade has exactly one
    problems: list[str] = field(default_factory=list)


def _throughput_client(run: ClientRun, ready: Any, go: Any, results: Any) -> None:
    """One client process: log on, encode every request, wait for the start, keep ``window`` in flight."""
    context: Context = zmq.Context()
    member, account = TRADERS[run.index]
    try:
        session = WireSession(context, run.endpoint, Path(run.keys), member)
        tag = f"{'s' if run.batch == 1 else 'b'}{run.index}"
        frames = _frames(_orders(account, run.orders, run.seed, tag), run.batch)
        ready.put(None)
        go.wait(run.timeout_s)
        gc.disable()  # a collection in the client would stall the pipeline: the client is not under test
        _pipeline(session.socket, frames, run)
        session.close()
    except Exception as exc:  # reported by the parent: a traceback in a child process would be lost
        run.problems.append(f"{member}: {exc}")
        ready.put(str(exc))
    finally:
        results.put(run)
        context.destroy(linger=1_000)


def _pipeline(sock: zmq.Socket[bytes], frames: list[tuple[bytes, int]], run: ClientRun) -> None:
    sent = answered = 0
    run.requests = len(frames)
    run.started_ns = time.perf_counter_ns()
    while answered < len(frames):
        while sent - answered < run.window and sent < len(frames):
            sock.send(frames[sent][0])
            sent += 1
        if not sock.poll(int(run.timeout_s * 1_000)):
            raise BenchError(f"no answer within {run.timeout_s:.0f} s; {answered}/{len(frames)} answered")
        while _readable(sock):
            raw = sock.recv()
            frame = _light.decode(raw)
            event = frame.event.type if frame.event else ""
            if frame.type in ("Ack", "Refused"):
                answered += 1
            if frame.type == "Ack":
                run.acks += 1
                run.acked_orders += frames[frame.request_id - FIRST_RID][1]
            elif frame.type == "Refused" or event in ("OrderRejected", "RequestRejected"):
                run.problems.append(_problem(raw) or frame.type)
            elif event == "Fill" and frame.event is not None and frame.event.aggressor:
                run.trades += 1
    run.ended_ns = time.perf_counter_ns()


def run_throughput(endpoint: str, keys: Path, args: argparse.Namespace, batch: int) -> Figures:
    spawn = multiprocessing.get_context("spawn")
    ready, results, go = spawn.Queue(), spawn.Queue(), spawn.Event()
    runs = [
        ClientRun(i, endpoint, str(keys), args.orders, batch, args.window, args.seed * 1_000 + i, args.timeout)
        for i in range(args.clients)
    ]
    clients = [spawn.Process(target=_throughput_client, args=(r, ready, go, results), daemon=True) for r in runs]
    for client in clients:
        client.start()
    try:
        for _ in clients:
            if (failed := ready.get(timeout=args.timeout)) is not None:
                raise BenchError(f"a client could not start: {failed}")
        go.set()
        outs: list[ClientRun] = [results.get(timeout=args.timeout * 2) for _ in clients]
    except queue.Empty:
        raise BenchError(f"a client process gave no sign within {args.timeout:.0f} s") from None
    finally:
        for client in clients:
            client.join(10)
            if client.is_alive():
                client.terminate()
    seconds = max(1e-9, (max(o.ended_ns for o in outs) - min(o.started_ns for o in outs)) / 1e9)
    acks, acked = sum(o.acks for o in outs), sum(o.acked_orders for o in outs)
    return {
        "batch": batch,
        "clients": len(outs),
        "window": args.window,
        "requests": sum(o.requests for o in outs),
        "orders": args.orders * len(outs),
        "acks": acks,
        "acked_orders": acked,
        "seconds": round(seconds, 3),
        "orders_per_s": round(acked / seconds),
        "acks_per_s": round(acks / seconds),
        "trades": sum(o.trades for o in outs),
        "problems": [p for o in outs for p in o.problems],
    }


# ------------------------------------------------------------------------------------ 3. latency
def _readable(sock: zmq.Socket[bytes]) -> bool:
    # ZMQ_FD only signals a change: ZMQ_EVENTS must be read after every operation, before waiting on it.
    return bool(cast(int, sock.get(zmq.EVENTS)) & zmq.POLLIN)


def _drain(sock: zmq.Socket[bytes], into: Stamped) -> None:
    while _readable(sock):
        parts = sock.recv_multipart()
        into.append((time.perf_counter_ns(), parts))


def run_latency(endpoints: dict[str, str], keys: Path, rate: int, seconds: float, run: int, timeout: float) -> Figures:
    """Resting sells first, then 1 t buys that trade at once, sent ``rate`` per second for ``seconds``."""
    count = max(1, round(rate * seconds))
    context: Context = zmq.Context()
    try:
        (taker_id, taker_account), (maker_id, maker_account) = TRADERS[:2]
        taker = WireSession(context, endpoints["order entry"], keys, taker_id)
        maker = WireSession(context, endpoints["order entry"], keys, maker_id)
        sub = context.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 0)
        for prefix in (f"trade.{INSTRUMENT}", f"quote.{INSTRUMENT}", "heartbeat"):
            sub.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        sub.connect(endpoints["market data"])
        if not sub.poll(int(timeout * 1_000)):  # a heartbeat: the subscription is in place
            raise BenchError(f"{endpoints['market data']}: no market data within {timeout:.0f} s")
        resting = math.ceil(count / MAKER_ORDER)
        sells = _orders(maker_account, resting, 0, f"m{run}", MAKER_ORDER, MAKER_PRICE)
        answer, reports = maker.request(SubmitBatch(request_id=FIRST_RID, commands=sells), timeout)
        if not isinstance(answer, Ack) or any(isinstance(r.event, OrderRejected) for r in reports):
            raise BenchError(f"the resting sells were not accepted: {answer!r}")
        frames = [frame for frame, _ in _frames(_orders(taker_account, count, 0, f"t{run}", 1, TAKER_PRICE), 1)]
        gc.disable()  # the bench's own pauses would show up as the node's latency
        try:
            sent_at, lag, received, market = _open_loop((taker.socket, sub, maker.socket), frames, rate, timeout)
        finally:
            gc.enable()
        taker.close()
        maker.close()
        figures = _latency_figures(sent_at, received, market)
        return {"rate": rate, "orders": count, "resting_sells": resting, "send_lag_us": percentiles(lag), **figures}
    finally:
        context.destroy(linger=1_000)


def _open_loop(
    sockets: tuple[zmq.Socket[bytes], ...], frames: list[bytes], rate: int, timeout: float
) -> tuple[list[int], list[int], Stamped, Stamped]:
    """Send on a fixed schedule whatever the answers do (open loop); timestamp every message received."""
    taker, sub, maker = sockets
    interval, total = 1_000_000_000 // rate, len(frames)
    sent_at, lag = [0] * total, [0] * total
    received: Stamped = []
    market: Stamped = []
    fills: Stamped = []  # the maker's, read only so they do not pile up
    fds = [cast(int, s.get(zmq.FD)) for s in sockets]
    start = time.perf_counter_ns() + 10_000_000
    deadline = start + int((total / rate + timeout) * 1e9)
    sent = answers = trades = 0
    while answers < total or trades < total:
        now = time.perf_counter_ns()
        while sent < total and now >= start + sent * interval:
            taker.send(frames[sent])
            sent_at[sent] = now = time.perf_counter_ns()
            lag[sent] = now - (start + sent * interval)
            sent += 1
        seen = len(received), len(market)
        _drain(taker, received)
        _drain(sub, market)
        _drain(maker, fills)
        answers += sum(1 for _, (raw,) in received[seen[0] :] if _light.decode(raw).type in ("Ack", "Refused"))
        trades += sum(1 for _, parts in market[seen[1] :] if parts[0].startswith(b"trade."))
        now = time.perf_counter_ns()
        if now > deadline:
            raise BenchError(f"latency at {rate}/s: {answers} answers, {trades} trades of {total} by the deadline")
        wait_ns = start + sent * interval - now if sent < total else 50_000_000
        select.select(fds, [], [], max(0, wait_ns) / 1e9)
    return sent_at, lag, received, market


def _latency_figures(sent_at: list[int], received: Stamped, market: Stamped) -> Figures:
    """Match each order to its Ack (by request id) and to its Trade on market data (by the Fill's trade id)."""
    ack_at: dict[int, int] = {}
    trades_of: dict[int, list[int]] = {}
    problems: list[str] = []
    for at, (raw,) in received:
        message = server_decoder.decode(raw)
        if isinstance(message, Ack):
            ack_at[message.request_id - FIRST_RID] = at
        elif isinstance(message, ExecutionReport) and isinstance(message.event, Fill) and message.request_id:
            trades_of.setdefault(message.request_id - FIRST_RID, []).append(message.event.trade_id)
        problems += filter(None, [_problem(raw)])
    printed: dict[int, int] = {}
    for at, (topic, payload) in market:
        trade = decode_channel_message(payload) if topic.startswith(b"trade.") else None
        if isinstance(trade, Trade):
            printed.setdefault(trade.trade_id, at)
    once = [k for k in range(len(sent_at)) if len(trades_of.get(k, ())) == 1]
    seen = [k for k in once if trades_of[k][0] in printed]
    if len(once) != len(sent_at):
        problems.append(f"{len(sent_at) - len(once)} orders did not trade exactly once")
    if len(seen) != len(once):
        problems.append(f"{len(once) - len(seen)} trades never seen on market data")
    return {
        "acks": len(ack_at),
        "trades_seen": len(seen),
        "ack_us": percentiles([ack_at[k] - sent_at[k] for k in ack_at]),
        "trade_us": percentiles([printed[trades_of[k][0]] - sent_at[k] for k in seen]),
        "problems": problems,
    }


# ------------------------------------------------------------------------------------ the node
NODE_TOML = """\
data_dir = "var"
fsync = {fsync}

[gateway]
endpoint = "tcp://127.0.0.1:{ports[0]}"
drop_copy_endpoint = "tcp://127.0.0.1:{ports[1]}"
throttle_per_s = 10_000_000
throttle_burst = 10_000_000
max_batch = {max_batch}
max_frame_bytes = 1_048_576

[market_data]
endpoint = "tcp://127.0.0.1:{ports[2]}"
snapshot_endpoint = "tcp://127.0.0.1:{ports[3]}"
heartbeat_ms = 200

[scheduler]
mode = "manual"
"""
_ENDPOINT = re.compile(r"^\s+(order entry|market data)\s+(\S+)")
_SEQ = re.compile(r"journal seq ([\d,]+)")


def free_ports(count: int) -> list[int]:
    """Ports the kernel hands to sockets bound to port 0, all held at once so that they differ."""
    held = [socket.socket() for _ in range(count)]
    for s in held:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in held]
    for s in held:
        s.close()
    return ports


class NodeUnderTest:
    """``carbonx serve --demo`` on a copy of config/ in ``work``, as a real subprocess."""

    def __init__(self, work: Path, fsync: bool, max_batch: int) -> None:
        self.config, self.data_dir, self.stderr_path = work / "config", work / "var", work / "node.stderr"
        shutil.copytree(REPO / "config", self.config)
        toml = NODE_TOML.format(fsync=str(fsync).lower(), ports=free_ports(4), max_batch=max(1_000, max_batch))
        (self.config / "node.toml").write_text(toml)
        self.endpoints: dict[str, str] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.first_seq = 0

    def start(self, timeout: float) -> None:
        """Start, read stdout up to the line starting with "ready", note the endpoints and the journal seq."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        command = [sys.executable, "-m", "carbonx", "serve", "--demo", "--config", str(self.config)]
        with open(self.stderr_path, "wb") as stderr:  # a file, not a pipe: nobody reads it while the node runs
            command += ["--data-dir", str(self.data_dir)]
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=REPO)
        assert self.process.stdout is not None
        deadline, banner = time.monotonic() + timeout, b""
        while not re.search(rb"(^|\n)ready", banner):
            if not select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise BenchError(f"the node printed no 'ready' within {timeout:.0f} s; {self._stderr_tail()}")
            chunk = os.read(self.process.stdout.fileno(), 65_536)
            if not chunk:
                raise BenchError(f"the node exited before it was ready; {self._stderr_tail()}")
            banner += chunk
        for line in banner.decode().splitlines():
            if found := _ENDPOINT.match(line):
                self.endpoints[found[1]] = found[2]
            if line.startswith("carbonx node:") and (seq := _SEQ.search(line)):
                self.first_seq = int(seq[1].replace(",", ""))

    def cpu_seconds(self) -> float:
        """User and system CPU time the node has used so far (/proc/<pid>/stat, fields 14 and 15)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def timed(self, phase: Callable[..., Figures], *args: Any) -> Figures:
        """Run one phase; add the node's CPU time during it, so per-order cost is not hidden by the clients."""
        before = self.cpu_seconds()
        figures = phase(*args)
        return figures | {"node_cpu_s": round(self.cpu_seconds() - before, 3)}

    def _stderr_tail(self) -> str:
        return "its stderr ends: " + _tail(self.stderr_path.read_text(errors="replace"))

    def stop(self, timeout: float) -> tuple[int, int, str]:
        """SIGTERM, then wait: (exit status, last journal seq, the node's stderr)."""
        if self.process is None:
            return -1, -1, ""
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait(timeout)
        stderr = self.stderr_path.read_text(errors="replace")
        found = re.search(r"stopped cleanly at journal seq ([\d,]+)", stderr)
        return status, int(found[1].replace(",", "")) if found else -1, stderr


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def tonnes_needed(args: argparse.Namespace) -> dict[str, int]:
    """The most each account can buy or sell in the run: throughput orders at full size, then latency."""
    needs = {account: 2 * args.orders * MAX_QUANTITY for _, account in TRADERS[: args.clients]}
    for rate in args.rates:
        count = max(1, round(rate * args.latency_seconds))
        needs[TRADERS[0][1]] += count
        needs[TRADERS[1][1]] += math.ceil(count / MAKER_ORDER) * MAKER_ORDER
    return needs


def top_up(endpoint: str, keys: Path, needs: dict[str, int], timeout: float) -> int:
    """As the regulator, give each seller the allowances and each buyer the cash the run may need.

    The demo funding covers the default run; the top-up lets a longer one go through unrefused. It is
    journaled like any command; the number of commands is returned.
    """
    commands: list[AnyCommand] = [
        AllocateAllowances(account=a, instrument=INSTRUMENT, quantity=needs[a])
        if i % 2
        else DepositCash(account=a, amount=needs[a] * CASH_PER_T)
        for i, (_, a) in enumerate(TRADERS)
        if a in needs
    ]
    context: Context = zmq.Context()
    try:
        regulator = WireSession(context, endpoint, keys, "REGULATOR")
        answer, reports = regulator.request(SubmitBatch(request_id=FIRST_RID, commands=commands), timeout)
        regulator.close()
    finally:
        context.destroy(linger=1_000)
    if not isinstance(answer, Ack) or any(type(r.event).__name__.endswith("Rejected") for r in reports):
        raise BenchError(f"the regulator's top-up was not applied: {answer!r}")
    return len(commands)


# ------------------------------------------------------------------------------------ the run
def machine() -> Figures:
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": models[0] if models else platform.processor() or "unknown",
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "zmq": f"pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}",
    }


def filesystem(path: Path) -> str:
    """The type of the file system holding ``path``: fsync costs what that file system makes it cost."""
    resolved = str(path.resolve())
    mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    inside = [(len(p), kind) for p, kind in mounts if resolved == p or resolved.startswith(p.rstrip("/") + "/")]
    return max(inside)[1] if inside else "unknown"


def run(args: argparse.Namespace) -> Figures:
    size = len(_frames(_orders(TRADERS[0][1], 1, 0, f"s0-{args.orders}"), 1)[0][0])
    results: Figures = {"machine": machine(), "fsync": args.fsync, "parameters": vars(args)}
    results["baseline"] = [run_baseline(curve, size, args) for curve in (True, False)]
    with tempfile.TemporaryDirectory(prefix="carbonx-e2e-", dir=args.work_dir) as work:
        node = NodeUnderTest(Path(work), args.fsync, args.batch)
        results["machine"]["filesystem"] = filesystem(Path(work))
        try:
            node.start(args.timeout)
            entry, keys = node.endpoints["order entry"], node.config / "demo-keys"
            topped = top_up(entry, keys, tonnes_needed(args), args.timeout)
            results["throughput"] = [node.timed(run_throughput, entry, keys, args, b) for b in (1, args.batch)]
            results["latency"] = [
                node.timed(run_latency, node.endpoints, keys, rate, args.latency_seconds, n, args.timeout)
                for n, rate in enumerate(args.rates)
            ]
        except BaseException as exc:
            status, _, stderr = node.stop(args.timeout)  # never leave the node running
            if isinstance(exc, BenchError) and status != 0:  # the node's own failure is the story
                raise BenchError(f"{exc}; the node exited with status {status}: {_tail(stderr)}") from None
            raise
        status, last_seq, stderr = node.stop(args.timeout)
    orders = sum(t["orders"] for t in results["throughput"])
    orders += sum(f["orders"] + f["resting_sells"] for f in results["latency"])
    expected = node.first_seq + topped + orders
    results["journal"] = {"at_ready": node.first_seq, "top_up": topped, "orders": orders, "expected": expected}
    results["journal"] |= {"last_seq": last_seq, "exit_status": status}
    problems = [p for phase in ("throughput", "latency") for f in results[phase] for p in f["problems"]]
    for t in results["throughput"]:
        if t["acks"] != t["requests"] or t["acked_orders"] != t["orders"]:
            problems.append(f"batch {t['batch']}: {t['acks']}/{t['requests']} acks, {t['acked_orders']}/{t['orders']}")
    for f in results["latency"]:
        if f["acks"] != f["orders"]:
            problems.append(f"latency at {f['rate']}/s: {f['acks']}/{f['orders']} acks")
    if last_seq != expected:
        problems.append(f"the node's last journal seq is {last_seq}, not the {expected} the requests imply")
    if status != 0:
        problems.append(f"the node exited with status {status}")
    dropped = [line for line in stderr.splitlines() if "send_dropped" in line and "queue full" in line]
    if dropped:
        problems.append(f"the node dropped {len(dropped)} replies: a client's queue was full")
    results["problems"] = problems
    return results


def _row(label: str, *cells: object) -> str:
    return f"  {label:<24}" + "".join(f"{c:>10,}" if isinstance(c, int) else f"{c!s:>10}" for c in cells)


def render(r: Figures) -> str:
    m, j, base, t = r["machine"], r["journal"], r["baseline"][0], r["throughput"][0]
    lines = [
        f"machine:  nproc {m['nproc']}, {m['cpu']}, {m['system']}, {m['python']}, {m['zmq']}",
        f"node:     carbonx serve --demo, fsync {'on' if r['fsync'] else 'off'} (data directory on {m['filesystem']})",
        f"\n1. baseline: pyzmq DEALER-ROUTER echo, tcp loopback, two processes, {base['bytes']}-byte frames",
        _row("round trips", "per s", "p50 µs", "p90", "p99", "p99.9", "max"),
    ]
    for b in r["baseline"]:
        name = "CURVE" if b["curve"] else "plain"
        lines.append(_row(f"{name} back to back", b["round_trips_per_s"], *b["round_trip_us"].values()))
        lines.append(_row(f"{name} {b['window']} in flight", b["pipelined_per_s"]))
        lines += [_row(f"{name} paced {int(rate):,}/s", "", *us.values()) for rate, us in b["paced_us"].items()]
    lines += [f"\n2. throughput: {t['clients']} client processes, {t['window']} requests in flight each"]
    lines.append(_row("", "requests", "orders", "seconds", "orders/s", "acks/s", "trades", "node CPU", "µs/order"))
    for t in r["throughput"]:
        cells = (t["acks"], t["acked_orders"], f"{t['seconds']:.2f}", t["orders_per_s"], t["acks_per_s"], t["trades"])
        cpu = (f"{t['node_cpu_s'] / t['seconds']:.0%}", round(t["node_cpu_s"] * 1e6 / max(1, t["acked_orders"])))
        lines.append(_row("single orders" if t["batch"] == 1 else f"batches of {t['batch']}", *cells, *cpu))
    lines += [
        "\n3. latency: open loop, from sending each order",
        _row("", "orders", "p50 µs", "p90", "p99", "p99.9", "max"),
    ]
    for f in r["latency"]:
        lines.append(_row(f"{f['rate']:,}/s order -> Ack", f["orders"], *f["ack_us"].values()))
        lines.append(_row(f"{f['rate']:,}/s order -> md Trade", f["trades_seen"], *f["trade_us"].values()))
        lines.append(_row(f"{f['rate']:,}/s send lag", "", *f["send_lag_us"].values()))
    lines.append(
        f"\njournal:  seq {j['at_ready']:,} at ready + {j['top_up']} top-up + {j['orders']:,} orders"
        f" = {j['expected']:,}; the node stopped at seq {j['last_seq']:,}, exit status {j['exit_status']}"
    )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--clients", type=int, default=4, help=f"client processes, 2-{len(TRADERS)} (default 4)")
    add("--window", type=int, default=64, help="requests in flight per client (default 64)")
    add("--batch", type=int, default=50, help="orders per SubmitBatch (default 50)")
    add("--orders", type=int, default=20_000, help="orders per client in each throughput mode (default 20000)")
    add("--rates", type=int, nargs="+", default=[500, 2_000], help="latency rates, orders/s (default 500 2000)")
    add("--latency-seconds", type=float, default=5.0, help="seconds at each latency rate (default 5)")
    add("--round-trips", type=int, default=20_000, help="baseline round trips (default 20000)")
    add("--fsync", action=argparse.BooleanOptionalAction, default=True, help="the node fsyncs its journal (default)")
    add("--seed", type=int, default=1, help="seed of the throughput orders (default 1)")
    add("--timeout", type=float, default=60.0, help="seconds to wait for any one answer or step (default 60)")
    add("--work-dir", type=Path, help="make the node's temporary directory here (default: the system's)")
    add("--json", type=Path, metavar="FILE", help="also write every figure to FILE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("window", "batch", "orders", "round_trips", "latency_seconds", "timeout"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if not 2 <= args.clients <= len(TRADERS) or min(args.rates) <= 0:
        parser.error(f"--clients must be 2-{len(TRADERS)} and every rate positive")
    bought = max(t for a, t in tonnes_needed(args).items() if a in {a for _, a in TRADERS[::2]})
    if bought > BUYER_LIMIT_T:
        parser.error(f"a buyer could buy {bought:,} t, over {BUYER_LIMIT_T:,} t (the position limit): lower --orders")
    try:
        results = run(args)
    except CarbonxError as exc:
        print(f"bench.e2e: {exc}", file=sys.stderr)
        return 1
    print(render(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    for problem in results["problems"][:20]:
        print(f"FAIL: {problem}")
    if results["problems"]:
        return 1
    print("check:    every request acknowledged; nothing refused or rejected; journal seq as expected")
    return 0


if __name__ == "__main__":
    # Through the package module, so that the spawned client processes import the very same functions.
    from bench.e2e import main as package_main

    sys.exit(package_main())
