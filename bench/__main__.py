"""``python -m bench``: the standard flow through the peer, both books and the boundary, then the node.

The flow is generated first and timed on its own. Then, one after the other in this process
(``bench.books``): liquibook, the peer, on the same flow (``bench.peer``); the reference book,
``Exchange.apply`` one command at a time; the fast book's kernel, columnar command batches built
beforehand to columnar event records; and the boundary, command objects in and event objects out
through the fast book. That is one round; ``--rounds`` (3 by default) runs the round again, so that
each figure is taken at the best of its rounds and every ratio compares bests measured side by
side (on a shared machine one run's ratio moved from 12.8x to 23.4x within minutes). Every carbonx
figure is printed as a multiple of liquibook's, with its target where the issue set one. Each
run's traded volume must equal the flow's own expected volume, and no command may be rejected;
otherwise the run exits with status 1.

Then the node: five warm starts of ``carbonx serve --demo`` timed to "ready" (``bench.start``) and
``bench.e2e`` with its defaults (skip both with ``--no-e2e``). ``--scale`` runs the in-process
figures again at 10x the instruments (40) and the accounts (500 a side), and ``bench.e2e`` again
with ``--scale`` (40 instruments, ten accounts for each trader's one), and prints how each figure
changed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence

from bench import books, e2e, peer, start
from bench.e2e_wire import BenchError
from bench.flow import StandardFlow, standard_flow

TARGETS = {"kernel": 15.0, "boundary": 3.0}  # multiples of liquibook (issue 19)
SCALED_INSTRUMENTS, SCALED_ACCOUNTS = 40, 500
MAX_FALL = 0.20  # at scale, no figure may fall by more than this


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
        "--book",
        default="both",
        choices=("both", "reference", "fast"),
        help="carbonx figures to time: reference, fast (the kernel and the boundary) or both (default)",
    )
    parser.add_argument("--batch", type=int, default=65_536, help="commands per fast-path batch (default 65,536)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of the in-process figures, one figure after the other in each; a figure is its best round"
        " (default 3)",
    )
    parser.add_argument(
        "--cold-memory",
        action="store_true",
        help="fast book: load the kernels only, without running the flow once first (memory never touched)",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help=f"also run at {SCALED_INSTRUMENTS} instruments and {SCALED_ACCOUNTS} accounts a side; print the change",
    )
    parser.add_argument("--no-e2e", action="store_true", help="skip the node: bench.start and bench.e2e")
    return parser


def figures_of(book: str) -> list[str]:
    carbonx = {"both": ["reference", "kernel", "boundary"], "reference": ["reference"], "fast": ["kernel", "boundary"]}
    return ["liquibook", *carbonx[book]]


def report(figure: books.Figure, rounds: Sequence[float], peer_rate: float | None) -> None:
    """Print one figure, its best round, with its multiple of the peer's and its target."""
    count, elapsed = figure.commands, figure.seconds
    rate = f"{figure.rate:,.0f} commands/s ({elapsed / count * 1e9:,.0f} ns per command)"
    if peer_rate is None:
        versus = "the peer"
    else:
        ratio = figure.rate / peer_rate
        versus = f"{ratio:.2f}x liquibook"
        target = TARGETS.get(figure.name)
        if target is not None:
            versus += f" (target {target:g}x: {'met' if ratio >= target else 'short'})"
    print(f"{figure.name + ':':<11}{count:,} commands in {elapsed:.3f} s = {rate}; {versus}")
    if len(rounds) > 1:
        print(f"{'':<11}best of {len(rounds)} rounds: {', '.join(f'{seconds:.3f}' for seconds in rounds)} s")
    print(f"{'':<11}traded {figure.outcome.traded_volume:,} t in {figure.outcome.trades:,} trades")
    if figure.reading:
        total, own, reading = (
            elapsed / count * 1e9,
            (elapsed - figure.reading) / count * 1e9,
            figure.reading / count * 1e9,
        )
        print(f"{'':<11}of each command's {total:,.0f} ns: the kernel {own:,.0f}, reading its records {reading:,.0f}")


def failures(figure: books.Figure, flow: StandardFlow) -> list[str]:
    """What is wrong with one run's outcome: a rejected command, or a volume other than the flow's."""
    outcome, found = figure.outcome, []
    if outcome.rejected:
        found.append(f"FAIL: {figure.name}: {outcome.rejected:,} commands rejected {outcome.first_reject}".rstrip())
    if outcome.traded_volume != flow.expected_volume:
        expected = flow.expected_volume
        found.append(f"FAIL: {figure.name}: traded volume {outcome.traded_volume:,} t != the flow's {expected:,} t")
    return found


def run_all(args: argparse.Namespace, instruments: int, accounts: int) -> tuple[bool, dict[str, float]]:
    """Generate the flow at this scale and time every figure on it, round after round; (all correct, best
    rate by figure)."""
    started = time.perf_counter()
    flow = standard_flow(args.commands, args.seed, instruments=instruments, accounts=accounts)
    print(
        f"flow:      {args.commands:,} commands, seed {args.seed}, {instruments} instrument"
        f"{'s' if instruments > 1 else ''}, {accounts} accounts a side; generated in "
        f"{time.perf_counter() - started:.2f} s (not measured); expected volume {flow.expected_volume:,} t",
        flush=True,
    )
    names = figures_of(args.book)
    runs: dict[str, list[books.Figure]] = {name: [] for name in names}
    found: list[str] = []
    for round_ in range(1, args.rounds + 1):
        for name in names:
            figure = books.measure(name, flow, args.batch, warm_memory=not args.cold_memory)
            runs[name].append(figure)
            found += failures(figure, flow)
        if args.rounds > 1:
            took = ", ".join(f"{name} {runs[name][-1].seconds:.3f} s" for name in names)
            print(f"round {round_} of {args.rounds}: {took}", flush=True)
    rates: dict[str, float] = {}
    for name in names:
        best = min(runs[name], key=lambda figure: figure.seconds)
        report(best, [figure.seconds for figure in runs[name]], rates.get("liquibook"))
        rates[name] = best.rate
    for line in dict.fromkeys(found):  # one line for a failure every round repeats
        print(line)
    sys.stdout.flush()
    return not found, rates


def compare(standard: dict[str, float], scaled: dict[str, float]) -> str:
    """How each in-process figure changed at scale, in one line; no carbonx figure may fall by more than MAX_FALL."""
    changes = {name: scaled[name] / standard[name] - 1 for name in standard}
    worst = min(change for name, change in changes.items() if name != "liquibook")
    listed = ", ".join(f"{name} {change:+.0%}" for name, change in changes.items())
    verdict = "met" if worst >= -MAX_FALL else "short"
    return f"at scale:  {listed} (no carbonx figure may fall by more than {MAX_FALL:.0%}: {verdict})"


def compare_node(standard: dict[str, float], scaled: dict[str, float]) -> list[str]:
    """How the node's figures changed at scale: a rate may fall, a latency may rise, by at most MAX_FALL."""
    lines = ["node at scale:"]
    worst = 0.0
    for name, value in standard.items():
        change = scaled[name] / value - 1 if value else 0.0
        worse = -change if name.endswith("/s") else change  # fewer orders/s, or more µs
        worst = max(worst, worse)
        lines.append(f"  {name:<28}{value:>12,.0f} -> {scaled[name]:>12,.0f}  {change:+.0%}")
    verdict = "met" if worst <= MAX_FALL else "short"
    lines.append(f"  (no node figure may worsen by more than {MAX_FALL:.0%}: {verdict})")
    return lines


def ratios(rates: dict[str, float]) -> list[str]:
    """The in-process figures with a target, as multiples of liquibook's."""
    peer_rate = rates["liquibook"]
    lines = []
    for name, target in TARGETS.items():
        if name in rates:
            ratio = rates[name] / peer_rate
            lines.append(
                f"  {name} {ratio:.2f}x liquibook (target {target:g}x: {'met' if ratio >= target else 'short'})"
            )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.commands < 1 or args.batch < 1 or args.rounds < 1:
        print(
            f"bench: --commands, --batch and --rounds must be at least 1, got {args.commands}, {args.batch}"
            f" and {args.rounds}",
            file=sys.stderr,
        )
        return 2
    try:
        peer_version = peer.version()
    except Exception:
        print("bench: liquibook, the peer, is not installed: run `make install` (dev extra)", file=sys.stderr)
        return 2
    print(f"machine:   {machine()}")
    print(f"peer:      {peer_version} (C++ via SWIG), driven from a list of operations with a fill callback")
    ok, standard = run_all(args, 1, 50)
    summary = ratios(standard)
    if ok and args.scale:
        ok, scaled = run_all(args, SCALED_INSTRUMENTS, SCALED_ACCOUNTS)
        line = compare(standard, scaled)
        print(line)
        summary.append("  " + line)
    if not ok:
        return 1
    print("check:     traded volume equals the flow's expected volume; no command rejected")
    status = 0
    if not args.no_e2e:
        status = run_node(args, summary)
    print("\nsummary (the targets of issue 19; bench/RESULTS.md):")
    print("\n".join(summary))
    return status


def run_node(args: argparse.Namespace, summary: list[str]) -> int:
    """The node's start, ``bench.e2e`` and with ``--scale`` ``bench.e2e --scale``; their targets into ``summary``."""
    try:
        print(start.render(*start.measure(runs=5)), flush=True)
    except BenchError as exc:
        print(f"FAIL: node start: {exc}")
        return 1
    print("end to end (python -m bench.e2e):", flush=True)
    status, node = e2e.measure([])
    if node is not None:
        summary += e2e.against_targets(node)[1:]
    if status or not args.scale or node is None:
        return status
    print("\nend to end at scale (python -m bench.e2e --scale):", flush=True)
    status, scaled_node = e2e.measure(["--scale"])
    if scaled_node is not None:
        lines = compare_node(e2e.headline(node), e2e.headline(scaled_node))
        print("\n".join(lines))
        summary += ["  " + line for line in lines]
    return status


if __name__ == "__main__":
    sys.exit(main())
