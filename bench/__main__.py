"""``python -m bench``: the standard flow through both books, then the end-to-end benchmark.

The flow is generated first and timed on its own. The reference book is timed over
``Exchange.apply`` one command at a time (with the runner reading each command's events for
trades and rejects). The fast book is timed from a columnar command batch to a columnar event
batch: ``Exchange.apply_batch`` over batches of ``--batch`` commands built beforehand
(``Exchange.command_batch``, not timed), counting trades and rejects from the event records
without decoding them. Each book's traded volume must equal the flow's own expected volume, and
no command may be rejected; otherwise the run exits with status 1. Then the node: five warm
starts of ``carbonx serve --demo`` timed to "ready" (``bench.start``) and ``bench.e2e`` with its
defaults (skip both with ``--no-e2e``).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from collections.abc import Sequence

from bench import e2e, start
from bench.e2e_wire import BenchError
from bench.flow import FlowOutcome, StandardFlow, apply_flow, make_exchange, standard_flow
from engine.listing import BOOK_KINDS
from engine.listing.fast.event_columns import E_KIND, EV_ORDER_REJECTED, EV_REQUEST_REJECTED, EV_TRADE, TRADE_QUANTITY


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs, {cpu_model()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--commands", type=int, default=1_000_000, help="measured commands (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the flow (default 1)")
    parser.add_argument(
        "--book", default="both", choices=("both", *BOOK_KINDS), help="order book to time (default both)"
    )
    parser.add_argument("--batch", type=int, default=65_536, help="commands per fast-path batch (default 65,536)")
    parser.add_argument(
        "--cold-memory",
        action="store_true",
        help="fast book: load the kernels only, without running the flow once first (memory never touched)",
    )
    parser.add_argument("--no-e2e", action="store_true", help="skip the node: bench.start and bench.e2e")
    return parser


def run_reference(flow: StandardFlow) -> tuple[float, FlowOutcome]:
    exchange = make_exchange(flow, book="reference")
    started = time.perf_counter()
    outcome = apply_flow(exchange, flow.commands, flow.first_ts)
    return time.perf_counter() - started, outcome


def run_fast(flow: StandardFlow, batch_size: int, warm_memory: bool = True) -> tuple[float, FlowOutcome]:
    exchange = make_exchange(flow, book="fast")
    ts = list(range(flow.first_ts, flow.first_ts + len(flow.commands)))
    batches = [
        exchange.command_batch(flow.commands[i : i + batch_size], ts[i : i + batch_size])
        for i in range(0, len(flow.commands), batch_size)
    ]
    # Outside the measured time, the same flow through another exchange, which is then dropped: it
    # loads the compiled kernels (from numba's cache) and gives this process the memory the timed
    # run will use. Memory a process has not used before costs page faults and zeroing at first
    # touch, and dearly on this VM (writing a first 64 MiB of np.zeros took 125 ms, the next 64 MiB,
    # reusing it, 9 ms): a node pays that once as its arrays fill, and a timed run on fresh arrays
    # would pay it all inside the measurement (--cold-memory shows it: ~176 instead of ~95 ns).
    # --cold-memory: 64 commands, enough to load the kernels.
    warm, warm_count = make_exchange(flow, book="fast"), len(flow.commands) if warm_memory else 64
    for i in range(0, warm_count, batch_size):
        end = min(i + batch_size, warm_count)
        warm.apply_batch(warm.command_batch(flow.commands[i:end], ts[i:end]))
    del warm
    gc.collect()  # the exchange holds reference cycles: free its arrays now
    volume = trades = rejected = 0
    started = time.perf_counter()
    for batch in batches:
        records = exchange.apply_batch(batch).records
        assert records is not None
        kinds = records[:, E_KIND]
        fills = kinds == EV_TRADE
        volume += int(records[fills, TRADE_QUANTITY].sum())
        trades += int(fills.sum())
        rejected += int(((kinds == EV_ORDER_REJECTED) | (kinds == EV_REQUEST_REJECTED)).sum())
    elapsed = time.perf_counter() - started
    return elapsed, FlowOutcome(traded_volume=volume, trades=trades, rejected=rejected, first_reject="")


def report(name: str, flow: StandardFlow, elapsed: float, outcome: FlowOutcome) -> bool:
    count = len(flow.commands)
    rate = f"{count / elapsed:,.0f} commands/s ({elapsed / count * 1e9:,.0f} ns per command)"
    print(f"{name + ':':<11}{count:,} commands in {elapsed:.3f} s = {rate}")
    print(f"{'':<11}traded {outcome.traded_volume:,} t in {outcome.trades:,} trades")
    ok = True
    if outcome.rejected:
        print(f"FAIL: {name}: {outcome.rejected:,} commands rejected {outcome.first_reject}".rstrip())
        ok = False
    if outcome.traded_volume != flow.expected_volume:
        print(f"FAIL: {name}: traded volume {outcome.traded_volume:,} t != the flow's {flow.expected_volume:,} t")
        ok = False
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.commands < 1 or args.batch < 1:
        print(
            f"bench: --commands and --batch must be at least 1, got {args.commands} and {args.batch}", file=sys.stderr
        )
        return 2
    print(f"machine:   {machine()}")
    print(f"flow:      standard, {args.commands:,} commands, seed {args.seed}")
    started = time.perf_counter()
    flow = standard_flow(args.commands, args.seed)
    print(
        f"generated: {time.perf_counter() - started:.2f} s (not measured); expected volume {flow.expected_volume:,} t"
    )
    ok = True
    if args.book in ("both", "reference"):
        ok &= report("reference", flow, *run_reference(flow))
    if args.book in ("both", "fast"):
        ok &= report("fast", flow, *run_fast(flow, args.batch, warm_memory=not args.cold_memory))
    if not ok:
        return 1
    print("check:     traded volume equals the flow's expected volume; no command rejected")
    if args.no_e2e:
        return 0
    try:
        print(start.render(*start.measure(runs=5)), flush=True)
    except BenchError as exc:
        print(f"FAIL: node start: {exc}")
        return 1
    print("end to end (python -m bench.e2e):", flush=True)
    return e2e.main([])


if __name__ == "__main__":
    sys.exit(main())
