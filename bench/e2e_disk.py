"""The durability baseline of ``bench.e2e``: a bare loop that writes and fsyncs what arrived, nothing else.

The node acknowledges an order once its journal batch is written and fsynced. This loop does only
that, on the same disk (a file in the node's own data directory's file system), for orders
arriving on the latency phase's schedule (``rate`` a second, open loop): each turn it writes the
records of every order that has arrived since the last turn in one ``os.write`` and fsyncs, as the
node's journal does with a poll's batch. An order's latency is from its scheduled arrival to the
end of the fsync that made it durable. The node's order -> Ack p99 is compared with this p99:
what the node adds beyond durability.

``ahead=True`` runs the same loop the way the journal writes (engine.journal, ``RESERVE``): into zeros
written ahead of the records, with fdatasync, so that a sync writes metadata (the file's new size)
only once per ``RESERVE`` bytes. Printed beside the issue's baseline, it says how much of the node's latency the
journal's way of writing took off, and what the node adds beyond that.
"""

from __future__ import annotations

import os
import select
import time
from pathlib import Path

from bench.e2e_wire import Figures, percentiles
from engine.journal import RESERVE


def run_fsync_loop(directory: Path, rate: int, seconds: float, record_bytes: int, *, ahead: bool = False) -> Figures:
    """Write and fsync ``record_bytes`` per order arriving at ``rate``/s for ``seconds``; the latency figures.
    ``ahead``: into zeros written ahead, with fdatasync, as the journal writes."""
    total = max(1, round(rate * seconds))
    interval = 1_000_000_000 // rate
    record = b"\x01" * record_bytes
    path = directory / "fsync-baseline.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    latencies: list[int] = []
    writes = end = size = 0
    sync = getattr(os, "fdatasync", os.fsync) if ahead else os.fsync
    try:
        start = time.perf_counter_ns() + 10_000_000
        done = 0
        while done < total:
            wait_ns = start + done * interval - time.perf_counter_ns()
            if wait_ns > 0:
                select.select([], [], [], wait_ns / 1e9)
            now = time.perf_counter_ns()
            arrived = min(total, (now - start) // interval + 1)
            data = record * (arrived - done)
            if ahead and end + len(data) > size:
                size = end + len(data) + RESERVE
                data += bytes(RESERVE)
            os.pwrite(fd, data, end)
            end += (arrived - done) * record_bytes
            sync(fd)
            durable = time.perf_counter_ns()
            latencies += [durable - (start + k * interval) for k in range(done, arrived)]
            done, writes = arrived, writes + 1
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return {
        "rate": rate,
        "orders": total,
        "writes": writes,
        "record_bytes": record_bytes,
        "ahead": ahead,
        "us": percentiles(latencies),
    }
