"""``python -m bench``: run the standard flow through a fresh exchange and report commands per second.

The flow is generated first and timed on its own; only ``Exchange.apply`` over the measured commands
(with the runner reading each command's events for trades and rejects) is inside the measured time.
The traded volume must equal the flow's own expected volume, and no command may be rejected;
otherwise the run exits with status 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence

from bench.flow import apply_flow, make_exchange, standard_flow
from engine.listing import BOOK_KINDS


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
        "--book", default="reference", choices=sorted(BOOK_KINDS), help="order book (default reference)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.commands < 1:
        print(f"bench: --commands must be at least 1, got {args.commands}", file=sys.stderr)
        return 2
    print(f"machine:   {machine()}")
    print(f"flow:      standard, {args.commands:,} commands, seed {args.seed}, {args.book} book")

    started = time.perf_counter()
    flow = standard_flow(args.commands, args.seed)
    generated = time.perf_counter() - started
    print(f"generated: {generated:.2f} s (not measured); expected volume {flow.expected_volume:,} t")

    exchange = make_exchange(flow, book=args.book)
    started = time.perf_counter()
    outcome = apply_flow(exchange, flow.commands, flow.first_ts)
    elapsed = time.perf_counter() - started

    rate = len(flow.commands) / elapsed
    print(f"applied:   {len(flow.commands):,} commands in {elapsed:.2f} s")
    print(f"rate:      {rate:,.0f} commands/s ({elapsed / len(flow.commands) * 1e6:.1f} µs per command)")
    print(f"traded:    {outcome.traded_volume:,} t in {outcome.trades:,} trades")
    failed = False
    if outcome.rejected:
        print(f"FAIL: {outcome.rejected:,} commands rejected; first: {outcome.first_reject}")
        failed = True
    if outcome.traded_volume != flow.expected_volume:
        print(f"FAIL: traded volume {outcome.traded_volume:,} t != the flow's expected {flow.expected_volume:,} t")
        failed = True
    if failed:
        return 1
    print("check:     traded volume equals the flow's expected volume; no command rejected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
