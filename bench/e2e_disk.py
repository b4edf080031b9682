"""The durability baseline of ``bench.e2e``: a bare loop that writes and fsyncs what arrived, nothing else.

The node acknowledges an order once its journal batch is written and fsynced. This loop does only
that, on the same disk (a file in the node's own data directory's file system), for orders
arriving on the latency phase's schedule (``rate`` a second, open loop): each turn it writes the
records of every order that has arrived since the last turn in one ``os.write`` and fsyncs, as the
node's journal does with a poll's batch. An order's latency is from its scheduled arrival to the
end of the fsync that made it durable. The node's order -> Ack p99 is compared with this p99:
what the node adds beyond durability.

The floor of that ratio is ``run_durable_echo``: a CURVE echo in another process that, like the
loop, writes and fsyncs each turn's arrivals, and only then answers them. Nothing but the transport
and the disk is between an order and its answer there: a node that added nothing to them would
score its ratio. Each of the three is measured at its own moment, and the disk's moments differ
(a stall in one window moves that figure alone), so compare the ratios over several runs.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import select
import time
from pathlib import Path
from typing import Any, cast

import zmq

from bench.e2e_wire import BenchError, Context, Figures, Stamped, drain, percentiles, readable


def run_fsync_loop(directory: Path, rate: int, seconds: float, record_bytes: int) -> Figures:
    """Write and fsync ``record_bytes`` per order arriving at ``rate``/s for ``seconds``; the latency figures."""
    total = max(1, round(rate * seconds))
    interval = 1_000_000_000 // rate
    record = b"\x00" * record_bytes
    path = directory / "fsync-baseline.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    latencies: list[int] = []
    writes = 0
    try:
        start = time.perf_counter_ns() + 10_000_000
        done = 0
        while done < total:
            wait_ns = start + done * interval - time.perf_counter_ns()
            if wait_ns > 0:
                select.select([], [], [], wait_ns / 1e9)
            now = time.perf_counter_ns()
            arrived = min(total, (now - start) // interval + 1)
            os.write(fd, record * (arrived - done))
            os.fsync(fd)
            durable = time.perf_counter_ns()
            latencies += [durable - (start + k * interval) for k in range(done, arrived)]
            done, writes = arrived, writes + 1
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return {"rate": rate, "orders": total, "writes": writes, "record_bytes": record_bytes, "us": percentiles(latencies)}


# ------------------------------------------------------------------------------------ the floor
def _durable_echo(secret: bytes, directory: str, record_bytes: int, endpoints: Any) -> None:
    """The other process of the floor: a CURVE ROUTER that makes what arrived durable, then answers it.

    Each turn it takes every message waiting, writes ``record_bytes`` for each in one ``os.write``,
    fsyncs, and sends each straight back: the node's turn with nothing between the wire and the disk.
    An empty message from the client ends it.
    """
    path = Path(directory) / "durable-echo.bin"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as exc:
        endpoints.put(f"{path}: {exc.strerror}")  # not an endpoint: the client says it in one line
        return
    context: Context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.CURVE_SERVER, 1)
    router.setsockopt(zmq.CURVE_SECRETKEY, secret)
    router.bind("tcp://127.0.0.1:*")
    endpoints.put(router.getsockopt_string(zmq.LAST_ENDPOINT))
    record = b"\x00" * record_bytes
    try:
        while True:
            waiting = [router.recv_multipart()]
            while readable(router):
                waiting.append(router.recv_multipart())
            orders = [parts for parts in waiting if parts[1]]
            os.write(fd, record * len(orders))
            os.fsync(fd)
            for parts in orders:
                router.send_multipart(parts)
            if len(orders) < len(waiting):
                return
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
        context.destroy(linger=0)


def run_durable_echo(
    directory: Path, rate: int, seconds: float, frame_bytes: int, record_bytes: int, timeout: float
) -> Figures:
    """Order-sized frames sent ``rate`` a second, open loop, to ``_durable_echo``: each one's answer time.

    Measured as the node's latency phase is, from sending each frame to its answer arriving, on the
    same disk as the node's journal: what CURVE and the fsync alone cost an order, so its p99 over
    the write+fsync loop's is the floor of target 5's ratio.
    """
    server_public, server_secret = zmq.curve_keypair()
    spawn = multiprocessing.get_context("spawn")  # no zmq context may cross a fork
    endpoints = spawn.Queue()
    server = spawn.Process(target=_durable_echo, args=(server_secret, str(directory), record_bytes, endpoints))
    server.daemon = True
    server.start()
    context: Context = zmq.Context()
    try:
        dealer = context.socket(zmq.DEALER)
        public, secret = zmq.curve_keypair()
        for option, key in ((zmq.CURVE_SERVERKEY, server_public), (zmq.CURVE_PUBLICKEY, public)):
            dealer.setsockopt(option, key)
        dealer.setsockopt(zmq.CURVE_SECRETKEY, secret)
        dealer.setsockopt(zmq.RCVTIMEO, int(timeout * 1_000))
        endpoint = endpoints.get(timeout=timeout)
        if not endpoint.startswith("tcp://"):
            raise BenchError(f"the durable echo cannot write its file: {endpoint}")
        dealer.connect(endpoint)
        total = max(1, round(rate * seconds))
        frames = [k.to_bytes(8, "little") + b"x" * max(0, frame_bytes - 8) for k in range(total)]
        for frame in frames[: min(100, total)]:  # the handshake and a warm path
            dealer.send(frame)
            dealer.recv()
        gc.disable()  # the bench's own pauses would show up as the floor
        try:
            sent_at, answered = _open_loop_echo(dealer, frames, rate, timeout)
        finally:
            gc.enable()
        dealer.send(b"")
        server.join(timeout)
    except (zmq.Again, queue.Empty):
        raise BenchError("the durable echo server did not answer") from None
    finally:
        context.destroy(linger=0)
        if server.is_alive():
            server.terminate()
    latencies = [at - sent_at[int.from_bytes(parts[0][:8], "little")] for at, parts in answered]
    return {"rate": rate, "orders": total, "record_bytes": record_bytes, "us": percentiles(latencies)}


def _open_loop_echo(
    dealer: zmq.Socket[bytes], frames: list[bytes], rate: int, timeout: float
) -> tuple[list[int], Stamped]:
    """Send on a fixed schedule whatever the answers do; stamp every answer on arrival."""
    interval, total = 1_000_000_000 // rate, len(frames)
    sent_at = [0] * total
    answered: Stamped = []
    fd = cast(int, dealer.get(zmq.FD))
    start = time.perf_counter_ns() + 10_000_000
    deadline = start + int((total / rate + timeout) * 1e9)
    sent = 0
    while len(answered) < total:
        now = time.perf_counter_ns()
        while sent < total and now >= start + sent * interval:
            dealer.send(frames[sent])
            sent_at[sent] = now = time.perf_counter_ns()
            sent += 1
        drain(dealer, answered)
        now = time.perf_counter_ns()
        if now > deadline:
            raise BenchError(f"the durable echo at {rate}/s: {len(answered)} answers of {total} by the deadline")
        wait_ns = start + sent * interval - now if sent < total else 50_000_000
        select.select([fd], [], [], max(0, wait_ns) / 1e9)
    return sent_at, answered
