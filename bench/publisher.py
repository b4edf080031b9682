"""What market data costs the node: ``Publisher.on_batch`` and ``drain`` over the standard flow.

The exchange (fast book) applies the standard flow in journal batches of ``--batch`` commands, as
the node does; only the publisher's two calls are timed: ``on_batch`` (trades, bulk trades, status,
auctions, the day's bars) and ``drain`` (quotes and depth computed, every message encoded). The
exchange's own time is left out (``python -m bench`` measures it).

    PYTHONPATH=. python -m bench.publisher [--commands 200000] [--batch 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence

from bench.flow import make_exchange, standard_flow
from engine.messages import TradeExecuted
from market_data.publisher import Publisher


def measure(commands: int, batch: int, seed: int) -> tuple[float, float, int]:
    """Seconds in ``on_batch`` and in ``drain`` for one pass of the flow, and the trades published."""
    flow = standard_flow(commands, seed)
    exchange = make_exchange(flow, book="fast")
    stamps = list(range(flow.first_ts, flow.first_ts + len(flow.commands)))
    publisher = Publisher(exchange, epoch=1)
    publisher.drain(0)
    in_batch = in_drain = 0.0
    trades = 0
    for start in range(0, len(flow.commands), batch):
        chunk = exchange.command_batch(flow.commands[start : start + batch], stamps[start : start + batch])
        outcomes = exchange.apply_batch(chunk).all_events()
        trades += sum(isinstance(event, TradeExecuted) for events in outcomes for event in events)
        began = time.perf_counter()
        publisher.on_batch(outcomes)
        drained = time.perf_counter()
        publisher.drain(start)
        in_batch += drained - began
        in_drain += time.perf_counter() - drained
    return in_batch, in_drain, trades


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.publisher", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commands", type=int, default=200_000, help="commands of the standard flow (default 200000)")
    parser.add_argument("--batch", type=int, default=1_000, help="commands per journal batch (default 1000)")
    parser.add_argument("--runs", type=int, default=3, help="passes, each on a fresh exchange (default 3)")
    parser.add_argument("--seed", type=int, default=7, help="the flow's seed (default 7)")
    args = parser.parse_args(argv)
    for name in ("commands", "batch", "runs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    totals = []
    for run in range(1, args.runs + 1):
        in_batch, in_drain, trades = measure(args.commands, args.batch, args.seed)
        total = in_batch + in_drain
        totals.append(total)
        print(
            f"run {run}: {total * 1e9 / args.commands:,.0f} ns/command "
            f"(on_batch {in_batch * 1e3:,.1f} ms, drain {in_drain * 1e3:,.1f} ms; "
            f"{args.commands:,} commands, {trades:,} trades)"
        )
    print(f"median: {statistics.median(totals) * 1e9 / args.commands:,.0f} ns/command")
    return 0


if __name__ == "__main__":
    sys.exit(main())
