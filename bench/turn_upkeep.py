"""``python -m bench.turn_upkeep``: what every turn of the node's loop pays, whatever its work.

Each turn of ``Node.step`` asks the scheduler whether the calendar or an auction has a command due
(``Node._scheduled``), lets the gateway send heartbeats and lose silent sessions (``Gateway.tick``),
and before it waits asks both how long it may sleep (``Node._wait_ms``). ``bench.e2e`` and
``bench.node_turns`` run four sessions and the scheduler "manual" (``--demo``), so their figures
leave most of this out; a node on the default ``config/`` runs the scheduler in "calendar" mode, and
an exchange has a session or two per member.

This builds such a node on a copy of ``config/``, its clock held at ``--at`` (a trading day's
morning by default: the day opened, the morning session on), logs on ``--sessions`` sessions of the
demo traders (30 s heartbeats), and times the three calls as a turn makes them, with nothing due.
At a turn per order (a quiet market) this is paid per order. Figures: bench/RESULTS.md (issue 19).
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
from bench.e2e_wire import TRADERS
from carbonx.config import load_config
from carbonx.node import Node
from gateway.protocol import Logon, encoder

SHANGHAI = ZoneInfo("Asia/Shanghai")
TRADING_MORNING = "2026-11-23T10:15"  # a Monday: a trading day of the default calendar
CALLS = ("scheduled", "tick", "wait_ms")


def measure(at: dt.datetime, sessions: int, turns: int) -> dict[str, float]:
    """µs a turn of each call in ``CALLS`` with nothing due, and whether a trading day is open at ``at``."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    clock_ns = int(at.timestamp()) * 1_000_000_000
    try:
        with tempfile.TemporaryDirectory(prefix="carbonx-turn-upkeep-") as work:
            config = Path(work) / "config"
            shutil.copytree(REPO / "config", config)
            toml = NODE_TOML.format(fsync="false", ports=[0, 0, 0, 0], max_batch=1_000)
            (config / "node.toml").write_text(toml.replace('mode = "manual"', 'mode = "calendar"'))
            node = Node(load_config(config), Path(work) / "var", clock=lambda: clock_ns)
            try:
                return _time_calls(node, sessions, turns)
            finally:
                node.state.close()
    finally:
        structlog.reset_defaults()


def _time_calls(node: Node, sessions: int, turns: int) -> dict[str, float]:
    while due := node._scheduled():  # bring the day to where the calendar says
        node._sequence(due)
    gateway, now = node.gateway, node.monotonic()
    for i in range(sessions):
        member = TRADERS[i % len(TRADERS)][0]
        logon = encoder.encode(Logon(request_id=0, member=member, heartbeat_ms=30_000))
        gateway.receive(f"session-{i}".encode(), [logon], member, now, i + 1, i + 100)
    gateway.take_outbox()
    gateway.tick(now)
    figures = {"day_open": float(node.exchange.market.day_open), "sessions": float(len(gateway.sessions))}
    for name, call in (("scheduled", node._scheduled), ("tick", lambda: gateway.tick(now)), ("wait_ms", node._wait_ms)):
        started = time.perf_counter_ns()
        for _ in range(turns):
            call()
        figures[name] = (time.perf_counter_ns() - started) / turns / 1_000
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.turn_upkeep", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--at", default=TRADING_MORNING, help=f"Shanghai time the node's clock is held at (default {TRADING_MORNING})"
    )
    parser.add_argument(
        "--sessions", type=int, nargs="+", default=[4, 200, 500], help="sessions logged on (default 4 200 500)"
    )
    parser.add_argument("--turns", type=int, default=2_000, help="turns timed (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is printed (default 3)")
    args = parser.parse_args(argv)
    try:
        at = dt.datetime.fromisoformat(args.at).replace(tzinfo=SHANGHAI)
    except ValueError:
        parser.error(f"--at: {args.at!r} is not a time like {TRADING_MORNING}")
    if any(count < 0 for count in args.sessions):
        parser.error("--sessions: a count of sessions is 0 or more")
    print(f"turn upkeep: calendar mode, the clock held at {at:%Y-%m-%d %H:%M} Shanghai, nothing due (µs a turn)")
    print(f"  {'sessions':>8}  {'_scheduled':>10}  {'tick':>8}  {'_wait_ms':>8}  {'a turn':>8}")
    for count in args.sessions:
        runs = [measure(at, count, args.turns) for _ in range(args.repeat)]
        best = {name: min(run[name] for run in runs) for name in CALLS}
        state = "a trading day open" if runs[0]["day_open"] else "no trading day open"
        print(
            f"  {int(runs[0]['sessions']):>8,}  {best['scheduled']:>10.1f}  {best['tick']:>8.1f}"
            f"  {best['wait_ms']:>8.1f}  {sum(best.values()):>8.1f}   ({state}; best of {args.repeat})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
