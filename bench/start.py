"""How long a warm node takes to start: ``carbonx serve --demo`` from launch to its "ready" line.

Warm means numba's on-disk cache already holds the compiled kernels (the first start after an
install or a kernel change compiles them and is timed apart, as "first"). Each start is a new
process on a fresh copy of ``config/`` and a fresh data directory, the same as ``bench.e2e``'s
node: interpreter start, imports, config, the demo's funding and first trading day journalled
with fsync, sockets bound, kernels loaded. The node is then stopped with SIGTERM and must exit 0.

    PYTHONPATH=. python -m bench.start [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.e2e_node import NodeUnderTest
from bench.e2e_wire import BenchError


def time_start(work: Path, timeout: float) -> float:
    """Seconds from launching a node in ``work`` to its "ready" line; the node is stopped after."""
    node = NodeUnderTest(work, fsync=True, max_batch=1_000)
    started = time.perf_counter()
    node.start(timeout)
    elapsed = time.perf_counter() - started
    status, _, stderr = node.stop(timeout)
    if status != 0:
        raise BenchError(f"the node exited with status {status} after starting; its stderr ends: {stderr[-300:]}")
    return elapsed


def measure(runs: int, timeout: float = 120.0) -> tuple[float, list[float]]:
    """The first start (which may compile the kernels) and ``runs`` warm starts, in seconds."""
    with tempfile.TemporaryDirectory(prefix="carbonx-start-") as tmp:
        first = time_start(Path(tmp) / "first", timeout)
        return first, [time_start(Path(tmp) / f"run{i}", timeout) for i in range(runs)]


def render(first: float, warm: list[float]) -> str:
    return (
        f"node start: warm median {statistics.median(warm):.2f} s, best {min(warm):.2f} s, worst {max(warm):.2f} s "
        f"over {len(warm)} starts (the first start, which may compile: {first:.2f} s)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.start", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="warm starts to time (default 5)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    try:
        first, warm = measure(args.runs)
    except BenchError as exc:
        print(f"bench.start: {exc}", file=sys.stderr)
        return 1
    print(render(first, warm))
    return 0


if __name__ == "__main__":
    sys.exit(main())
