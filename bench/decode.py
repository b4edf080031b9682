"""What turning a batch's event records into events costs: ``EventBatch.all_events`` on the fast book.

The standard flow is applied in batches of each ``--batch`` size and every batch is kept
(``EventBatch.keep``); then, untimed work aside, each batch's events are read two ways, in turn,
``--rounds`` times: at once (``engine.listing.fast.bulk``, what ``all_events`` does from
``BULK_FROM`` commands) and command by command (the one-record decoders, what it does below).
Each figure is its best round, in ns a command. The crossover is where ``BULK_FROM`` belongs
(engine/batch.py); run it in two trees to compare two commits. Figures: bench/RESULTS.md (issue 19).

    PYTHONPATH=. python -m bench.decode [--commands 30000] [--batch 8 16 20 32 64 1024] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Sequence

from bench.flow import make_exchange, standard_flow
from engine import batch as batches


def measure(commands: int, size: int, rounds: int, seed: int) -> tuple[float, float]:
    """(at once, command by command): the best round's ns a command over the flow in batches of ``size``."""
    flow = standard_flow(commands, seed)
    exchange = make_exchange(flow, book="fast")
    stamps = list(range(flow.first_ts, flow.first_ts + len(flow.commands)))
    kept = [
        exchange.apply_batch(exchange.command_batch(flow.commands[i : i + size], stamps[i : i + size])).keep()
        for i in range(0, len(flow.commands), size)
    ]
    best = {"bulk": float("inf"), "each": float("inf")}
    bulk_from = batches.BULK_FROM
    # As the node runs: what earlier turns left alive frozen, the youngest generation collected rarely.
    threshold = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, *threshold[1:])
    try:
        for _ in range(rounds):
            for way, threshold_from in (("bulk", 1), ("each", len(flow.commands) + 1)):
                batches.BULK_FROM = threshold_from
                began = time.perf_counter_ns()
                for batch in kept:
                    for events in batch.all_events():
                        del events
                best[way] = min(best[way], (time.perf_counter_ns() - began) / len(flow.commands))
    finally:
        batches.BULK_FROM = bulk_from
        gc.set_threshold(*threshold)
        gc.unfreeze()
    return best["bulk"], best["each"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.decode", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commands", type=int, default=30_000, help="commands of the standard flow (default 30000)")
    parser.add_argument(
        "--batch",
        type=int,
        nargs="+",
        default=[8, 16, 20, 32, 64, 1024],
        help="batch sizes (default 8 16 20 32 64 1024)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds; each figure is its best (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.commands < 1 or args.rounds < 1 or min(args.batch) < 1:
        parser.error("--commands, --rounds and every --batch must be at least 1")
    print(f"decoding: the standard flow's {args.commands:,} commands, best of {args.rounds} rounds, ns a command")
    print(f"  all_events decodes a batch at once from BULK_FROM = {batches.BULK_FROM} commands")
    for size in args.batch:
        bulk, each = measure(args.commands, size, args.rounds, args.seed)
        faster = "at once" if bulk < each else "command by command"
        print(f"  batches of {size:>6,}: at once {bulk:7,.0f}, command by command {each:7,.0f}  ({faster})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
