"""``carbonx surveil``: market surveillance for the exchange's analysts (docs/SURVEILLANCE.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from carbonx.cli.display import iso, trading_day_arg
from carbonx.cli.surveil_show import alert_text, alerts_text, book_text, ingest_text, score, trail_text
from carbonx.config import load_config
from carbonx.errors import CarbonxError
from gateway.drop_copy import DropCopyClient
from surveillance import cases, trail
from surveillance.alerts import Alert
from surveillance.book_replay import book_at
from surveillance.detect import raise_alerts, stored_days
from surveillance.export import export_parquet, import_parquet
from surveillance.ingest import ingest, open_data_dir
from surveillance.settings import SurveillanceError, load_settings
from surveillance.store import Store, check_store_dir, default_store_dir
from surveillance.watch import WatchSummary, watch

HELP = "market surveillance: ingest the journal, alerts and cases, order trails, the book at any moment"
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
           INGEST_DESCRIPTION).set_defaults(run=run_ingest)  # fmt: skip
    alerts = action("alerts", "list alerts (by day, score): --date, --rule, --status")
    alerts.add_argument("--date", type=trading_day_arg, metavar="YYYY-MM-DD", help="one trading day")
    alerts.add_argument("--rule", metavar="R", help="a rule (wash.round_trip) or a family (wash)")
    alerts.add_argument("--status", choices=cases.STATUSES, help="only alerts in this state of their case")
    alerts.set_defaults(run=run_alerts)
    one = action("alert", "one alert: parameters, figures, evidence and its case history")
    one.add_argument("alert_id", type=int, metavar="ID")
    one.set_defaults(run=run_alert)
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
        sub.set_defaults(run=run_case, case_action=name)
    trails = action("trail", "every event of an order or an account, with times and journal seqs")
    which = trails.add_mutually_exclusive_group()
    which.add_argument("--order", type=int, metavar="ID", help="an order id")
    which.add_argument("--client-order-id", metavar="X", help="a client order id (with --account to narrow it)")
    trails.add_argument("--account", metavar="A", help="an account: its orders, transfers, bids, refused requests")
    trails.add_argument("--date", type=trading_day_arg, metavar="YYYY-MM-DD", help="one trading day")
    trails.set_defaults(run=run_trail)
    book = action("book", "the exact order book at a moment, rebuilt by replaying the journal", BOOK_DESCRIPTION)
    book.add_argument("instrument", metavar="INSTRUMENT")
    moment = book.add_mutually_exclusive_group(required=True)
    moment.add_argument("--at", metavar="TIME", help="exchange time: 'YYYY-MM-DD HH:MM[:SS[.ffffff]]'")
    moment.add_argument("--seq", type=int, metavar="N", help="after journal seq N")
    book.add_argument("--depth", type=int, default=5, metavar="K", help="price levels per side (default: 5)")
    book.set_defaults(run=run_book)
    report = action("report", "the day's alerts with evidence tables and pictures, as one HTML file")
    report.add_argument("--date", type=trading_day_arg, metavar="YYYY-MM-DD", help="default: the store's last day")
    report.add_argument("--out", type=Path, required=True, metavar="FILE", help="the HTML file to write")
    report.set_defaults(run=run_report)
    export = action("export", "write the store's tables as Parquet, partitioned by trading day", EXPORT_DESCRIPTION)
    export.add_argument("--out", type=Path, required=True, metavar="DIR")
    export.set_defaults(run=run_export)
    imported = action("import", "load a Parquet export into a new, empty store (--store)")
    imported.add_argument("--from", dest="source", type=Path, required=True, metavar="DIR")
    imported.set_defaults(run=run_import)
    live = action("watch", "follow the drop copy live; print each alert as it fires", WATCH_DESCRIPTION)
    live.add_argument("--member", default=None, metavar="ID", help="a surveillance member (default: the first)")
    live.add_argument("--endpoint", default=None, metavar="ENDPOINT", help="default: node.toml drop_copy_endpoint")
    live.add_argument("--keys-dir", default=None, metavar="DIR", help="default: node.toml gateway.keys_dir")
    live.add_argument("--interval-ms", type=int, default=500, metavar="MS", help="most often the rules run (500)")
    live.add_argument("--seconds", type=float, default=0.0, metavar="S", help="stop after S seconds (0: never)")
    live.set_defaults(run=run_watch)


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
    group.add_argument("--data-dir", type=Path, default=None, metavar="DIR", help="default: node.toml data_dir")
    group.add_argument("--store", type=Path, default=None, metavar="DIR", help="default: DATA_DIR-surveillance")


class _Where:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._loaded: Any = None
        given: Path | None = args.data_dir
        self.data_dir = given if given is not None else Path(self.loaded.node.data_dir)
        self.store_dir: Path = args.store if args.store is not None else default_store_dir(self.data_dir)
        check_store_dir(self.store_dir, self.data_dir)

    @property
    def loaded(self) -> Any:
        if self._loaded is None:
            self._loaded = load_config(self.args.config)
        return self._loaded

    def store(self, read_only: bool = False) -> Store:
        return Store.open(self.store_dir, read_only=read_only)

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(open_data_dir(self.data_dir).calendar.timezone)
        except SurveillanceError:  # a store without its data directory (imported): the exchange's own zone
            return ZoneInfo("Asia/Shanghai")


def run_ingest(args: argparse.Namespace) -> int:
    where = _Where(args)
    settings = load_settings(args.config)
    open_data_dir(where.data_dir)  # a mistyped --data-dir says so before any store is created
    with where.store() as store:
        result = ingest(where.data_dir, store, where.store_dir)
        raised = raise_alerts(store, result.days, settings)
    for line in ingest_text(result, len(raised), str(where.store_dir)):
        print(line)
    return 0


def run_alerts(args: argparse.Namespace) -> int:
    with _Where(args).store(read_only=True) as store:
        found = cases.list_alerts(store.con, day=args.date, rule=args.rule, status=args.status)
    for line in alerts_text(found):
        print(line)
    return 0


def run_alert(args: argparse.Namespace) -> int:
    where = _Where(args)
    with where.store(read_only=True) as store:
        alert = cases.get_alert(store.con, args.alert_id)
        actions = cases.case_actions(store.con, args.alert_id)
    for line in alert_text(alert, actions, where.zone()):
        print(line)
    return 0


def run_case(args: argparse.Namespace) -> int:
    analyst = args.analyst or getpass.getuser()
    text = getattr(args, "text", "") or getattr(args, "reason", "")
    with _Where(args).store() as store:
        done = cases.act(store, args.alert_id, args.case_action, analyst=analyst, assignee=getattr(args, "to", ""),
                         text=text)  # fmt: skip
        status = cases.get_alert(store.con, args.alert_id).status
    print(f"alert {done.alert_id}: {done.action} by {done.analyst} (action {done.action_id}); the case is {status}")
    return 0


def run_trail(args: argparse.Namespace) -> int:
    where = _Where(args)
    with where.store(read_only=True) as store:
        if args.order is not None:
            events = trail.order_trail(store, args.order)
        elif args.client_order_id is not None:
            events = trail.client_order_trails(store, args.client_order_id, args.account or "", args.date or 0)
        elif args.account:
            events = trail.account_trail(store, args.account, args.date or 0)
        else:
            raise CarbonxError("trail: give --order ID, --client-order-id X or --account A")
    for line in trail_text(events, where.zone()):
        print(line)
    return 0


def run_book(args: argparse.Namespace) -> int:
    where = _Where(args)
    if args.depth < 1:
        raise CarbonxError(f"--depth {args.depth}: must be at least 1")
    config = open_data_dir(where.data_dir)
    zone = ZoneInfo(config.calendar.timezone)
    if args.at is not None:
        book = book_at(where.data_dir, args.instrument, ts=_moment(args.at, zone))
    else:
        book = book_at(where.data_dir, args.instrument, seq=args.seq)
    member_of = {a.id: a.member for a in config.accounts}
    for line in book_text(book, zone, args.depth, member_of):
        print(line)
    return 0


def run_report(args: argparse.Namespace) -> int:
    from surveillance.report import day_report  # matplotlib: loaded only to draw (every command would pay 0.2 s)

    where = _Where(args)
    with where.store(read_only=True) as store:
        days = stored_days(store.con)
        day = args.date or (days[-1] if days else 0)
        if not day:
            raise CarbonxError(f"{where.store_dir}: no trading day in the store yet")
        html = day_report(store.con, day)
        count = store.scalar("SELECT count(*) FROM alerts WHERE day = ?", [day])
    try:
        args.out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise CarbonxError(f"{args.out}: cannot write: {exc.strerror or exc}") from None
    print(f"wrote {args.out}: {iso(day)}, {count:,} alerts ({len(html.encode()) // 1024:,} KiB, open it in a browser)")
    return 0


def run_export(args: argparse.Namespace) -> int:
    with _Where(args).store(read_only=True) as store:
        written = export_parquet(store, args.out)
    for table in written:
        parts = f" in {table.days:,} day partitions" if table.days else ""
        print(f"{table.table:<16} {table.rows:>10,} rows{parts}")
    print(f"wrote {args.out}/<table>/ (Parquet)")
    return 0


def run_import(args: argparse.Namespace) -> int:
    where = _Where(args)
    with where.store() as store:
        loaded = import_parquet(store, args.source)
    for table in loaded:
        print(f"{table.table:<16} {table.rows:>10,} rows")
    print(f"store: {where.store_dir}")
    return 0


def run_watch(args: argparse.Namespace) -> int:
    where = _Where(args)
    loaded = where.loaded
    surveillance = [a.member for a in loaded.access if a.role == "surveillance"]
    member = args.member or (surveillance[0] if surveillance else "")
    if member not in surveillance:
        raise CarbonxError(
            f"--member {member or '(none)'}: not a surveillance member (members: {', '.join(surveillance)})"
        )
    endpoint = args.endpoint or loaded.node.gateway.drop_copy_endpoint
    keys_dir = Path(args.keys_dir) if args.keys_dir else loaded.keys_dir
    settings = load_settings(args.config)
    zone = where.zone()
    deadline = args.seconds

    def report(alert_id: int, alert: Alert) -> None:
        now = dt.datetime.now(zone).strftime("%H:%M:%S")
        subjects = ", ".join(alert.subjects)
        print(f"{now}  alert {alert_id}  {alert.rule}  {iso(alert.trading_day)}  {alert.instrument or '-'}  "
              f"{subjects}  score {score(alert.score_bp)}  {alert.summary}", flush=True)  # fmt: skip

    started = dt.datetime.now(dt.UTC)

    def stop(summary: WatchSummary) -> bool:
        return bool(deadline) and (dt.datetime.now(dt.UTC) - started).total_seconds() >= deadline

    print(f"watching the drop copy at {endpoint} as {member}; store {where.store_dir}", file=sys.stderr, flush=True)
    with where.store() as store, DropCopyClient.from_keys(endpoint, member, keys_dir) as drop_copy:
        summary = watch(where.data_dir, store, where.store_dir, settings, drop_copy, report, stop=stop,
                        interval_ms=max(args.interval_ms, 10))  # fmt: skip
    print(f"stopped: {summary.drop_copies:,} drop-copy events ({summary.missed:,} missed), "
          f"{summary.alerts:,} alerts, store at seq {summary.last_seq:,}", file=sys.stderr)  # fmt: skip
    return 0


def _moment(text: str, zone: ZoneInfo) -> int:
    """An exchange time given as 'YYYY-MM-DD HH:MM[:SS[.ffffff]]' in the exchange's zone, as ns."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise CarbonxError(f"--at {text!r}: not a time 'YYYY-MM-DD HH:MM[:SS[.ffffff]]'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    seconds = int(moment.replace(microsecond=0).timestamp())
    return seconds * 1_000_000_000 + moment.microsecond * 1_000 + 999  # the whole microsecond
