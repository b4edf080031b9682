"""The durability baseline of ``bench.e2e``: a bare loop that writes and fsyncs what arrived, nothing else.

The node acknowledges an order once its journal batch is written and fsynced. This loop does only
that, on the same disk (a file in the node's own data directory's file system), for orders
arriving on the latency phase's schedule (``rate`` a second, open loop): each turn it writes the
records of every order that has arrived since the last turn in one ``os.write`` and fsyncs, as the
node's journal does with a poll's batch. An order's latency is from its scheduled arrival to the
end of the fsync that made it durable. The node's order -> Ack p99 is compared with this p99:
what the node adds beyond durability.
"""

from __future__ import annotations

import os
import select
import time
from pathlib import Path

from bench.e2e_wire import Figures, percentiles


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
