"""``carbonx replay DIR``: rebuild the exchange from a data directory and print its state hash."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from carbonx.cli.commands import help_of
from carbonx.cli.display import cny, price, table
from carbonx.data_dir import readable_data_dir, unreadable
from engine.market_day.calendar import day_from_int
from engine.recovery import Recovered, recorded_config, recover
from engine.view import ExchangeView

HELP = help_of("replay")
DESCRIPTION = """\
Rebuild the exchange from a data directory: load the newest valid snapshot, replay every journal
record after it (a torn last record is dropped with a warning), and print the state hash with a
summary of the market. The config used is the one recorded in the data directory with its
journal. Two replays of the same directory, or a replay and the run that wrote it, print the
same hash; --no-snapshot replays the whole journal from an empty state to check that too.

A replay only reads: it writes nothing in the directory. A path that is missing, a file, or a
directory without a journal (journal.cxj) ends with one line saying so.
"""
EPILOG = """\
examples:
  carbonx replay var                    the node's data directory (node.toml data_dir)
  carbonx replay var-simulate --no-snapshot
"""


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "replay",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "directory", type=Path, metavar="DIR", help="a carbonx data directory (journal.cxj, snapshots/)"
    )
    parser.add_argument(
        "--no-snapshot",
        action="store_true",
        help="ignore snapshots and replay the whole journal from the start",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    readable_data_dir(directory)
    try:
        config = recorded_config(directory)
        recovered = recover(directory, config, use_snapshots=not args.no_snapshot)
    except OSError as exc:
        raise unreadable(directory, exc) from None
    for line in report(directory, recovered):
        print(line)
    return 0


def report(directory: Path, recovered: Recovered) -> list[str]:
    exchange = recovered.exchange
    view = ExchangeView(exchange)
    market = view.market()
    day = day_from_int(market.trading_day) if market.trading_day else None
    status = "open" if market.day_open else "closed"
    source = f"snapshot at seq {recovered.snapshot_seq:,} + " if recovered.snapshot_seq else ""
    lines = [
        f"carbonx replay: {directory}",
        f"replayed           {source}{recovered.replayed:,} journal records (last seq {recovered.last_seq:,})",
        f"trading day        {day or 'none yet'} ({status}; session {market.session.name}"
        + ("; market HALTED" if market.halted else "")
        + ")",
        "",
    ]
    rows = []
    for code in view.instruments():
        figures = view.figures(code)
        rows.append(
            [
                code + (" (halted)" if figures.halted else ""),
                cny(figures.reference_price),
                price(figures.last),
                f"{figures.volume:,}",
                f"{figures.trades:,}",
                f"{view.resting(code):,}",
            ]
        )
    lines += table(["instrument", "reference", "last", "volume t", "trades", "resting"], rows)
    cash = view.cash_totals()
    lines += [
        "",
        f"cash held          {cny(cash.held)} CNY (deposited {cny(cash.deposited)})",
        f"fees account       {cny(view.cash(view.config.fees.fee_account).total)} CNY",
        f"state hash         {exchange.state_hash()}",
    ]
    return lines
