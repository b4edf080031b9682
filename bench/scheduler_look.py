"""``python -m bench.scheduler_look``: what the node's loop pays each turn to ask the scheduler.

Every turn of ``Node.step`` asks the scheduler whether the calendar or an auction has a command due
(``Node._scheduled``), and before it waits, how long it may sleep (``Node._wait_ms``, which asks
the scheduler for its next moment). ``bench.e2e`` and ``bench.node_turns`` run the node with the
scheduler "manual" (``--demo``), so their figures leave this out; a node on the default
``config/`` runs it in "calendar" mode. This builds such a node on a copy of ``config/``, its clock
held at ``--at`` (a trading day's morning by default, the day opened and the morning session on),
and times both calls, as a turn makes them, with nothing due. Figures: bench/RESULTS.md (issue 19).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog

from bench.e2e_node import NODE_TOML, REPO
from carbonx.config import load_config
from carbonx.node import Node

SHANGHAI = ZoneInfo("Asia/Shanghai")
TRADING_MORNING = "2026-11-23T10:15"  # a Monday: a trading day of the default calendar


def measure(at: dt.datetime, turns: int) -> dict[str, float]:
    """µs a turn for ``_scheduled`` and ``_wait_ms`` with nothing due, and the market's state at ``at``."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    clock_ns = int(at.timestamp()) * 1_000_000_000
    try:
        with tempfile.TemporaryDirectory(prefix="carbonx-scheduler-look-") as work:
            config = Path(work) / "config"
            shutil.copytree(REPO / "config", config)
            toml = NODE_TOML.format(fsync="false", ports=[0, 0, 0, 0], max_batch=1_000)
            (config / "node.toml").write_text(toml.replace('mode = "manual"', 'mode = "calendar"'))
            node = Node(load_config(config), Path(work) / "var", clock=lambda: clock_ns)
            try:
                while work_due := node._scheduled():  # bring the day to where the calendar says, then time
                    node._sequence(work_due)
                figures = {"day_open": float(node.exchange.market.day_open)}
                for name, call in (("scheduled", node._scheduled), ("wait_ms", node._wait_ms)):
                    started = time.perf_counter_ns()
                    for _ in range(turns):
                        call()
                    figures[name] = (time.perf_counter_ns() - started) / turns / 1_000
                return figures
            finally:
                node.state.close()
    finally:
        structlog.reset_defaults()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scheduler_look", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--at", default=TRADING_MORNING, help=f"Shanghai time the node's clock is held at (default {TRADING_MORNING})"
    )
    parser.add_argument("--turns", type=int, default=5_000, help="turns timed (default 5000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is printed (default 3)")
    args = parser.parse_args(argv)
    try:
        at = dt.datetime.fromisoformat(args.at).replace(tzinfo=SHANGHAI)
    except ValueError:
        parser.error(f"--at: {args.at!r} is not a time like {TRADING_MORNING}")
    runs = [measure(at, args.turns) for _ in range(args.repeat)]
    best = {name: min(run[name] for run in runs) for name in ("scheduled", "wait_ms")}
    state = "a trading day open" if runs[0]["day_open"] else "no trading day open"
    print(f"scheduler look: calendar mode, the clock held at {at:%Y-%m-%d %H:%M} Shanghai ({state}), nothing due")
    print(f"  Node._scheduled  {best['scheduled']:6.1f} µs a turn (best of {args.repeat})")
    print(f"  Node._wait_ms    {best['wait_ms']:6.1f} µs a turn")
    print(f"  a turn in all    {best['scheduled'] + best['wait_ms']:6.1f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
