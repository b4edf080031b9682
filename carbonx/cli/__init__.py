"""The ``carbonx`` command line: the front door to the exchange.

Every error a user can cause (bad config, bad data directory, bad argument) ends the command with
one line on stderr naming what and where, and exit status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from carbonx.cli.commands import COMMANDS
from carbonx.logs import configure_logging
from carbonx.version import carbonx_version

DESCRIPTION = """\
carbonx — trading, auction and settlement system of the Shanghai carbon allowance exchange.

Listing trading (continuous double auction) of allowances and credits with full pre-funding:
cash and allowances are frozen before an order may trade and move together on each trade (DvP).
Agreement transfers (bulk bilateral trades of 100,000 t and more) are proposed to a named
counterparty account and settle when it accepts.
The registry (allocation, surrender, cancellation, carry-over, merger, split, cash in and out) and
the end of day (statements, member settlement, large holders, conservation check) are journaled
commands too. Every command is journaled before it is applied; `carbonx replay` rebuilds the
state from it.

`carbonx serve` runs the exchange: the order gateway (ZeroMQ, CURVE keys), market data with a
snapshot service, the drop copy for surveillance, and the scheduler; `carbonx web` the public
website of live quotes, bulletins, bulk trades and auction results. The client commands (order,
fills, account, transfer, auction, quotes, bulletin, regulator, registry) talk to it;
docs/PROTOCOL.md is the wire protocol. `carbonx surveil` is the surveillance analysts' side: alerts
and cases, order trails and the book at any moment, from the journal.
"""

EPILOG = """\
examples, by who uses them (make run starts a demo node; demo members M001 M002 M003 M101 M102):
 member firms
  carbonx order new --member M002 sell SHEA2025 100 80.00      waits 1 s for its fills (--wait N)
  carbonx order new --member M001 buy SHEA2025 100 80.00
  carbonx fills --member M002            the day's executions: price, quantity, fee, maker or taker
  carbonx order list --member M001 --all
                                         today's orders in every state (without --all: open ones)
  carbonx account --member M001          cash and holdings
  carbonx transfer list --member M001    agreement transfers of 100,000 t and more, proposed to an
                                         account and accepted by it (afternoon): carbonx transfer --help
  carbonx transfer accept --member M001 1
                                         accept transfer 1, proposed to A001: it settles at once
 market-data subscribers
  carbonx quotes                         every instrument on one screen, live
  carbonx quotes SHEA2025                one instrument: band, five levels, last trades
  carbonx bulletin                       the latest daily bulletin (--data-dir var: any recorded day)
  carbonx web                            the public website at http://127.0.0.1:8080/ (make run starts it)
 the regulator (member REGULATOR)
  carbonx regulator halt SHEA2025 --reason "price anomaly"
  carbonx regulator session afternoon    from the morning, through the break: agreement transfers open
  carbonx regulator session close        then: carbonx regulator end-of-day, start-of-day
  carbonx transfer list --all            every agreement transfer proposal of today
  carbonx auction announce examples/auctions/reserve_sale.toml
                                         a sealed-bid reserve sale; bids, clearing, results,
                                         verify: carbonx auction --help
  carbonx registry allocate examples/registry/allocate.csv
                                         apply a free allocation through the journal
  carbonx eod report                     the latest day: bulletin, settlement, statements
  carbonx eod report --date 2026-11-23 --account A001 --format csv
 surveillance analysts (the store beside the data directory; docs/SURVEILLANCE.md)
  carbonx surveil ingest                 the journal into the store, then the rules: new alerts
  carbonx surveil alerts --status new    then: surveil alert ID, assign, note, escalate, close
  carbonx surveil trail --order 12       every event of an order (or --account A) with journal seqs
  carbonx surveil book SHEA2025 --seq 40
                                         the book as it stood after seq 40, replayed from the journal
  carbonx surveil watch                  the drop copy live: each alert as it fires
 running the exchange
  carbonx serve --demo                   the exchange, demo members funded, a session open (make run)
  carbonx keys generate --force          real CURVE key pairs in place of the demo ones
  carbonx simulate                       a seeded trading day in process; prints the daily bulletin
  carbonx replay var                     rebuild the state from the journal; prints its hash

Prices are shown in CNY per tonne, quantities in tonnes; inside the system they are integers
(fen per tonne, tonnes, fen). Reject codes: docs/REJECT_CODES.md. Config keys: docs/CONFIG.md.
"""


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors the user can cause and fix; anything else is a bug and keeps its traceback. Imported
    when one is raised: most commands never load most of these modules."""
    from carbonx.errors import CarbonxError
    from carbonx.simulation import SimulationError
    from engine.journal import JournalCorrupt
    from engine.recovery import DataDirError, InvalidCommand
    from gateway.errors import GatewayError
    from market_data.snapshot_client import MarketDataError
    from surveillance.settings import SurveillanceError

    return (
        CarbonxError,
        GatewayError,
        MarketDataError,
        DataDirError,
        InvalidCommand,
        SimulationError,
        JournalCorrupt,
        SurveillanceError,
        OSError,
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``command``, only that command's module is imported, and the
    others are listed by name and help (what ``carbonx --help`` needs of them)."""
    parser = argparse.ArgumentParser(
        prog="carbonx",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="warning",
        help="level of the JSON log lines written to stderr (default: warning)",
    )
    parser.add_argument("--version", action="version", version=f"carbonx {carbonx_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    added: set[str] = set()
    for name, (module, help_text) in COMMANDS.items():
        if name in added:
            continue
        if command is None or name == command or COMMANDS.get(command, ("",))[0] == module:
            before = set(commands.choices)
            _add_parsers(importlib.import_module(f"carbonx.cli.{module}"), commands)
            added |= set(commands.choices) - before
        else:
            # Listed only: ``parse_known_args`` finds the command's name, and then its module builds it.
            commands.add_parser(name, help=help_text, add_help=False)
    return parser


def _add_parsers(module: Any, commands: Any) -> None:
    adding = getattr(module, "add_parser", None) or module.add_parsers
    adding(commands)


def command_of(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, read without importing any command's module (None: none). Help
    and version at the top, a command that does not exist and a missing one end here, as argparse
    ends them."""
    known, _ = build_parser("").parse_known_args(argv)
    command: str | None = known.command
    return command


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_of(arguments))
    args = parser.parse_args(arguments)
    configure_logging(args.log_level)
    try:
        status: int = args.run(args)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"carbonx {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not isinstance(exc, user_errors()):
            raise
        print(f"carbonx {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
