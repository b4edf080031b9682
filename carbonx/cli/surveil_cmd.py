"""``carbonx surveil``: market surveillance for the exchange's analysts (docs/SURVEILLANCE.md).

The parser only: what each action runs is in ``carbonx.cli.surveil_run``, imported when an action
runs, so that no other command (nor the node, which builds the whole parser) loads DuckDB.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from carbonx.cli.commands import help_of
from carbonx.cli.display import trading_day_arg
from surveillance.cases import STATUSES

HELP = help_of("surveil")
DESCRIPTION = """\
Market surveillance for the exchange's analysts (Decree 20 Art. 33: no manipulation by fraud,
collusion or false information). `ingest` reads the node's journal read-only (also while the node
runs), replays it through the engine and keeps every order event, both sides of every trade,
agreement transfers, auction bids and results, and the accounts with their members and owner groups
in a DuckDB store; then it runs the rules (config/surveillance.toml) over the days with new activity
and keeps what they find as alerts. Alerts are worked as cases: assign, note, escalate, close; every
action is appended with who and when, never changed.

The store lives in its own directory (--store; default: beside the data directory, DIR-surveillance),
never inside the data directory, and never needs the node's journal lock.
"""
EPILOG = """\
examples (after `carbonx simulate --with-manipulation`, whose day is in var-simulate):
  carbonx surveil ingest --data-dir var-simulate
  carbonx surveil alerts --data-dir var-simulate                  every alert; --rule wash --status new
  carbonx surveil alert 3 --data-dir var-simulate                 one alert: figures, evidence, case
  carbonx surveil assign 3 --to lin --data-dir var-simulate       then note, escalate, close --reason
  carbonx surveil trail --account A201 --data-dir var-simulate    every event of an account (or --order ID)
  carbonx surveil book SHEA2025 --at "2026-12-01 10:30" --data-dir var-simulate
  carbonx surveil report --date 2026-12-01 --out report.html --data-dir var-simulate
  carbonx surveil export --out parquet/ --data-dir var-simulate   Parquet by trading day
  carbonx surveil watch                                           the live node's alerts as they fire
"""


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "surveil",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, text: str, description: str = "") -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(
            name, help=text, description=description or text, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        _store_options(sub)
        return sub

    action("ingest", "read new journal records into the store, then run the rules over the days they touched",
           INGEST_DESCRIPTION).set_defaults(run=_lazy("run_ingest"))  # fmt: skip
    alerts = action("alerts", "list alerts (by day, score): --date, --rule, --status")
    alerts.add_argument("--date", type=trading_day_arg, metavar="YYYY-MM-DD", help="one trading day")
    alerts.add_argument("--rule", metavar="R", help="a rule (wash.round_trip) or a family (wash)")
    alerts.add_argument("--status", choices=STATUSES, help="only alerts in this state of their case")
    alerts.set_defaults(run=_lazy("run_alerts"))
    one = action("alert", "one alert: parameters, figures, evidence and its case history")
    one.add_argument("alert_id", type=int, metavar="ID")
    one.set_defaults(run=_lazy("run_alert"))
    for name, text in (
        ("assign", "assign the case to an analyst (--to NAME)"),
        ("note", "add a note to the case (TEXT)"),
        ("escalate", "escalate the case (--reason TEXT)"),
        ("close", "close the case (--reason TEXT, required)"),
    ):
        sub = action(name, text, f"{text}. Appended to the case with who (--analyst) and when; never changed.")
        sub.add_argument("alert_id", type=int, metavar="ID")
        sub.add_argument("--analyst", default=None, metavar="NAME", help="who acts (default: the OS user)")
        if name == "assign":
            sub.add_argument("--to", required=True, metavar="NAME", help="the analyst the case goes to")
        elif name == "note":
            sub.add_argument("text", metavar="TEXT")
        else:
            sub.add_argument("--reason", required=name == "close", default="", metavar="TEXT")
        sub.set_defaults(run=_lazy("run_case"), case_action=name)
    trails = action("trail", "every event of an order or an account, with times and journal seqs")
    which = trails.add_mutually_exclusive_group()
    which.add_argument("--order", type=int, metavar="ID", help="an order id")
    which.add_argument("--client-order-id", metavar="X", help="a client order id (with --account to narrow it)")
    trails.add_argument("--account", metavar="A", help="an account: its orders, transfers, bids, refused requests")
    trails.add_argument("--date", type=trading_day_arg, metavar="YYYY-MM-DD", help="one trading day")
    trails.set_defaults(run=_lazy("run_trail"))
    book = action("book", "the exact order book at a moment, rebuilt by replaying the journal", BOOK_DESCRIPTION)
    book.add_argument("instrument", metavar="INSTRUMENT")
    moment = book.add_mutually_exclusive_group(required=True)
    moment.add_argument("--at", metavar="TIME", help="exchange time: 'YYYY-MM-DD HH:MM[:SS[.ffffff]]'")
    moment.add_argument("--seq", type=int, metavar="N", help="after journal seq N")
    book.add_argument("--depth", type=int, default=5, metavar="K", help="price levels per side (default: 5)")
    book.set_defaults(run=_lazy("run_book"))
    report = action("report", "the day's alerts with evidence tables and pictures, as one HTML file")
    report.add_argument("--date", type=trading_day_arg, metavar="YYYY-MM-DD", help="default: the store's last day")
    report.add_argument("--out", type=Path, required=True, metavar="FILE", help="the HTML file to write")
    report.set_defaults(run=_lazy("run_report"))
    export = action("export", "write the store's tables as Parquet, partitioned by trading day", EXPORT_DESCRIPTION)
    export.add_argument("--out", type=Path, required=True, metavar="DIR")
    export.set_defaults(run=_lazy("run_export"))
    imported = action("import", "load a Parquet export into a new, empty store (--store)")
    imported.add_argument("--from", dest="source", type=Path, required=True, metavar="DIR")
    imported.set_defaults(run=_lazy("run_import"))
    live = action("watch", "follow the drop copy live; print each alert as it fires", WATCH_DESCRIPTION)
    live.add_argument("--member", default=None, metavar="ID", help="a surveillance member (default: the first)")
    live.add_argument("--endpoint", default=None, metavar="ENDPOINT", help="default: node.toml drop_copy_endpoint")
    live.add_argument("--keys-dir", default=None, metavar="DIR", help="default: node.toml gateway.keys_dir")
    live.add_argument("--interval-ms", type=int, default=500, metavar="MS", help="most often the rules run (500)")
    live.add_argument("--seconds", type=float, default=0.0, metavar="S", help="stop after S seconds (0: never)")
    live.set_defaults(run=_lazy("run_watch"))


INGEST_DESCRIPTION = """\
Read the journal of the data directory from where the last ingest stopped, up to its last complete
record (a node may be writing it: it is read without its lock), replay it through the engine, store
what happened, and run the rules over the trading days with new activity. Run it again at any time:
it adds only what is new, and an alert is raised once.
"""
BOOK_DESCRIPTION = """\
Replay the journal up to a moment and print the book as it stood: every resting order in priority
order with its account and member. The engine is deterministic, so this is exactly the book the node
had. --seq N: after journal seq N; --at TIME: after the last command stamped at or before TIME.
"""
EXPORT_DESCRIPTION = """\
Write the market activity (order events, trades, transfers, auctions, bids, rejects, holdings, large
holders, bulletins, days) as Parquet partitioned by trading day (OUT/<table>/day=YYYYMMDD/), and the
reference data (members, accounts, instruments) whole. DuckDB, Spark and Trino read it as it is:
  SELECT * FROM read_parquet('OUT/trades/*/*.parquet', hive_partitioning = true)
"""
WATCH_DESCRIPTION = """\
Connect to the node's drop copy with a surveillance member's key and, each time it shows activity the
store has not reached, ingest the journal up to it and run the rules: each new alert is printed as one
line as it fires. Runs beside the node (it reads the data directory's journal). Ctrl-C stops it.
"""


def _store_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where")
    group.add_argument("--config", default="config", metavar="DIR", help="config directory (default: config)")
    group.add_argument(
        "--data-dir", type=Path, default=None, metavar="DIR", help="the node's data directory (default: see --store)"
    )
    group.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="DIR",
        help="default: DATA_DIR-surveillance with --data-dir; without either, the store of the last ingest; "
        "else the one beside node.toml data_dir",
    )


def _lazy(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        action: Callable[[argparse.Namespace], int] = getattr(importlib.import_module("carbonx.cli.surveil_run"), name)
        return action(args)

    return run
