"""``carbonx serve``: run the exchange node until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import faulthandler
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from carbonx.cli.commands import help_of
from carbonx.config import load_config
from carbonx.data_dir import writable_data_dir
from carbonx.kernel_progress import compile_progress
from carbonx.node import Node
from engine.listing import DEFAULT_BOOK
from engine.listing.fast.warm import kernels_cached, load_kernels
from engine.market_day.calendar import day_from_int
from gateway.keys import demo_secret_files

HELP = help_of("serve")
DESCRIPTION = """\
Run the exchange node on a config directory: the order gateway (ZeroMQ ROUTER with CURVE keys),
market data (PUB, plus a snapshot service), the drop copy for surveillance (PUB with CURVE), and
the scheduler that opens and closes the trading day from calendar.toml in Asia/Shanghai time.

The node resumes from its data directory: the newest snapshot, then the journal after it; every
command is journaled (fsync per batch) before it is applied or answered. SIGINT (Ctrl-C) or
SIGTERM stop intake, answer what was received, write a snapshot and exit with status 0. SIGUSR1
writes the stack of each of the node's threads to stderr and changes nothing: what a node that
seems stuck is doing (kill -USR1 <pid>).

--demo, for trying the exchange at once: a new data directory gets the demo funding (cash and
allowances for every demo account), and a trading day is opened immediately with its morning
session, whatever the clock says. No scheduler runs in demo mode: the day stays open until the
regulator closes it (carbonx regulator session close, then end-of-day), and a day the regulator
ended stays ended until carbonx regulator start-of-day opens the next (or a restart of the demo
node does).

--web starts the public website (`carbonx web`: live quotes, bulletins, bulk trades, auction
results) as a process of its own beside the node, prints its URL, and stops it when the node stops.

The data directory is created when missing; one that is a file or cannot be written is refused
with one line before anything starts.
"""
EPILOG = """\
examples:
  carbonx serve --demo --web            what `make run` does: the node and its website
  carbonx serve --config /etc/carbonx --data-dir /srv/carbonx
then, in another terminal:
  carbonx quotes SHEA2025
  carbonx order new --member M001 buy SHEA2025 100 80.00
Endpoints and the keys directory are in node.toml ([gateway], [market_data]); docs/PROTOCOL.md is
the wire protocol; `carbonx keys generate` makes new keys.
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "serve", help=HELP, description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="config", metavar="DIR", help="config directory (default: config)")
    parser.add_argument(
        "--data-dir", type=Path, default=None, metavar="DIR", help="data directory (default: node.toml data_dir, var)"
    )
    parser.add_argument("--demo", action="store_true", help="fund demo accounts and open a session at once")
    parser.add_argument(
        "--web",
        action="store_true",
        help="start the public website beside the node (carbonx web, node.toml [web]) and stop it with the node",
    )
    parser.set_defaults(run=run)


def member_keys_line(keys_dir: Path) -> str:
    """Where the members' keys are, and a warning when the node's keys are the published demo pairs."""
    line = f"  member keys   {keys_dir}/<MEMBER>.key_secret"
    if demo_secret_files(keys_dir):
        line += (
            "   (DEMO keys, published with the code: before real use, `carbonx keys generate --force`,"
            " or --config DIR of your own)"
        )
    return line


def _start_web(args: argparse.Namespace, data_dir: Path) -> subprocess.Popen[bytes]:
    """``carbonx web`` on the same config and data directory, a process of its own: a website that
    fails (its port taken) says so in one line and leaves the node running."""
    command = [sys.executable, "-m", "carbonx", "web", "--config", str(args.config), "--data-dir", str(data_dir)]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL)


def _stop_web(website: subprocess.Popen[bytes]) -> None:
    if website.poll() is None:
        website.send_signal(signal.SIGTERM)
        try:
            website.wait(timeout=5)
        except subprocess.TimeoutExpired:
            website.kill()
            website.wait()


def run(args: argparse.Namespace) -> int:
    loaded = load_config(args.config)
    data_dir: Path = args.data_dir or Path(loaded.node.data_dir)
    writable_data_dir(data_dir)
    if (loaded.node.engine.book or DEFAULT_BOOK) == "fast":
        with compile_progress(sys.stdout, cached=kernels_cached()):
            load_kernels(loaded.exchange)  # before replay and before "ready": no order waits for a compile
    node = Node(loaded, data_dir, demo=args.demo)
    try:
        endpoints = node.bind()
        opened = node.open_for_demo() if args.demo else []
    except BaseException:
        node.close()
        raise
    market = node.exchange.market
    keys = loaded.keys_dir
    lines = [
        f"carbonx node: data directory {data_dir} (journal seq {node.state.journal.last_seq:,}, "
        f"{node.state.replayed:,} replayed after snapshot {node.state.snapshot_seq:,})",
        f"  order entry   {endpoints.order_entry}   CURVE; server public key {keys / 'server.key'}",
        f"  market data   {endpoints.market_data}   snapshot service {endpoints.snapshot}",
        f"  drop copy     {endpoints.drop_copy}   CURVE; surveillance keys only",
        member_keys_line(keys),
    ]
    if args.demo:
        day = day_from_int(market.trading_day)
        funded = sum(1 for c in opened if type(c).__name__ == "DepositCash")
        lines.append(
            f"  demo          trading day {day} open, session {market.session.name}"
            + (f"; funded {funded} demo accounts" if funded else "")
            + " (the clock is not followed in demo mode)"
        )
        lines += [
            "try, in another terminal:",
            "  .venv/bin/carbonx quotes",
            "  .venv/bin/carbonx order new --member M002 sell SHEA2025 100 80.00",
            "  .venv/bin/carbonx order new --member M001 buy SHEA2025 100 80.00",
            "  .venv/bin/carbonx fills --member M002",
            "  .venv/bin/carbonx regulator session close; .venv/bin/carbonx regulator end-of-day",
        ]
    website = _start_web(args, data_dir) if args.web else None
    if website is not None:
        web = loaded.node.web
        lines.append(
            f"  website       http://{web.host}:{web.port}/   public quotes, bulletins, auctions (carbonx web)"
        )
    lines.append("ready; Ctrl-C stops (intake stops, replies flushed, snapshot written)")

    def stop(signum: int, frame: FrameType | None) -> None:
        node.request_stop()

    # Before "ready": a supervisor may send SIGTERM as soon as it reads it, and must get a clean stop.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    # Written by the signal handler itself, not between bytecodes: it answers even when the loop is stuck.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    print("\n".join(lines), flush=True)
    try:
        node.run()
    finally:
        if website is not None:
            _stop_web(website)
    print(f"carbonx node stopped cleanly at journal seq {node.state.journal.last_seq:,}", file=sys.stderr)
    return 0
