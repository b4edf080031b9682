"""``carbonx quotes [INSTRUMENT ...]``: the live quote board of a running node."""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from typing import Any

from carbonx.config import load_config
from carbonx.errors import CarbonxError
from market_data.board import render
from market_data.subscriber import Subscriber

HELP = "show the live quote board (last, change, five levels per side) of a running node"
DESCRIPTION = """\
Subscribe to the node's public market data and show, per instrument, the last price and change
against the reference price, volume, turnover, open/high/low, the five best ask and bid levels
with quantity and order count, and the session and halt status. The state comes from the
snapshot service first, then from the live feed; gaps are recovered on their own.

On a terminal the board redraws in place until Ctrl-C. --once prints it once and exits, for
scripts. The endpoints default to [market_data] of the config's node.toml.
"""
CLEAR_HOME = "\x1b[H\x1b[2J"
REDRAW_S = 0.1  # at most ten redraws a second, however busy the feed


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "quotes", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("instruments", nargs="*", metavar="INSTRUMENT", help="instrument codes (default: all)")
    parser.add_argument("--config", default="config", metavar="DIR", help="config directory (default: config)")
    parser.add_argument("--endpoint", metavar="E", help="market-data PUB endpoint (default: from node.toml)")
    parser.add_argument("--snapshot-endpoint", metavar="E", help="snapshot service endpoint (default: from node.toml)")
    parser.add_argument("--once", action="store_true", help="print the board once and exit")
    parser.add_argument(
        "--timeout-ms",
        type=int,
        default=3000,
        metavar="N",
        help="how long to wait for the snapshot service (default: 3000)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.timeout_ms <= 0:
        raise CarbonxError(f"--timeout-ms must be > 0, got {args.timeout_ms}")
    endpoint, snapshot_endpoint = args.endpoint, args.snapshot_endpoint
    if endpoint is None or snapshot_endpoint is None:
        options = load_config(args.config).node.market_data
        endpoint = endpoint or options.endpoint
        snapshot_endpoint = snapshot_endpoint or options.snapshot_endpoint
    with Subscriber(
        endpoint,
        snapshot_endpoint,
        channels=("quote", "depth", "status"),
        snapshot_timeout_ms=args.timeout_ms,
    ) as subscriber:
        if not subscriber.wait_synced(args.timeout_ms):
            print(
                f"carbonx quotes: no answer from {snapshot_endpoint} within {args.timeout_ms} ms"
                " (is carbonx serve running?)",
                file=sys.stderr,
            )
            return 1
        instruments = _instruments(args.instruments, subscriber.instruments())
        if args.once:
            for line in render(subscriber, instruments, _width()):
                print(line)
            return 0
        return _follow(subscriber, instruments)


def _instruments(requested: list[str], known: list[str]) -> list[str]:
    unknown = [code for code in requested if code not in known]
    if unknown:
        raise CarbonxError(f"unknown instrument {unknown[0]}; known: {', '.join(known) or 'none'}")
    return requested or known


def _follow(subscriber: Subscriber, instruments: list[str]) -> int:
    """Redraw on every change until Ctrl-C: in place on a terminal, appended otherwise."""
    terminal = sys.stdout.isatty()
    try:
        _draw(subscriber, instruments, terminal)
        drawn_at, changed = time.monotonic(), False
        while True:
            wait_s = max(0.0, drawn_at + REDRAW_S - time.monotonic()) if changed else 1.0
            changed = bool(subscriber.poll(math.ceil(wait_s * 1000))) or changed
            if changed and time.monotonic() >= drawn_at + REDRAW_S:
                _draw(subscriber, instruments, terminal)
                drawn_at, changed = time.monotonic(), False
    except KeyboardInterrupt:
        if terminal:
            print()
        return 0


def _draw(subscriber: Subscriber, instruments: list[str], terminal: bool) -> None:
    lines = render(subscriber, instruments, _width())
    if terminal:
        sys.stdout.write(CLEAR_HOME + "\n".join(lines) + "\n")
    else:
        sys.stdout.write("\n".join(lines) + "\n\n")
    sys.stdout.flush()


def _width() -> int:
    return shutil.get_terminal_size((100, 24)).columns
