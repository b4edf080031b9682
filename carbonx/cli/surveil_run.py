"""What each ``carbonx surveil`` action runs (the parser is ``carbonx.cli.surveil_cmd``)."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from carbonx.cli.display import iso
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
from surveillance.store import STORE_FILE, Store, check_store_dir, default_store_dir
from surveillance.watch import WatchSummary, watch


class _Where:
    """Which data directory and store an action works on: ``--store``, else the one beside ``--data-dir``,
    else the store of the last ingest on this machine (said on stderr), else the one beside node.toml's
    ``data_dir``. A store names the data directory it was ingested from."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._loaded: Any = None
        given: Path | None = args.data_dir
        chosen: Path | None = args.store
        if chosen is None and given is None:
            chosen = _remembered()
            if chosen is not None:
                said = f"the store of the last ingest, {chosen} (--store or --data-dir chooses another)"
                print(f"carbonx surveil: {said}", file=sys.stderr)
        recorded = _data_dir_of(chosen) if chosen is not None and given is None else None
        self.data_dir: Path = given or recorded or Path(self.loaded.node.data_dir)
        self.store_dir: Path = chosen if chosen is not None else default_store_dir(self.data_dir)
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
    _remember(where.store_dir)
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
    _remember(where.store_dir)
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
    said: list[str] = []

    def stop(summary: WatchSummary) -> bool:
        problem = drop_copy.problem
        if problem and problem not in said[-1:]:
            if "refused" in problem or "not a carbonx" in problem:
                raise CarbonxError(problem)  # no retry will change the key or the peer
            print(f"carbonx surveil watch: {problem}", file=sys.stderr, flush=True)
        said[:] = [problem or ""]
        return bool(deadline) and (dt.datetime.now(dt.UTC) - started).total_seconds() >= deadline

    print(f"watching the drop copy at {endpoint} as {member}; store {where.store_dir}", file=sys.stderr, flush=True)
    with DropCopyClient.from_keys(endpoint, member, keys_dir) as drop_copy:
        summary = watch(where.data_dir, where.store_dir, settings, drop_copy, report, stop=stop,
                        interval_ms=max(args.interval_ms, 10))  # fmt: skip
    print(f"stopped: {summary.drop_copies:,} drop-copy events ({summary.missed:,} missed), "
          f"{summary.alerts:,} alerts, store at seq {summary.last_seq:,}", file=sys.stderr)  # fmt: skip
    return 0


def _last_store_file() -> Path:
    """Where this machine's user keeps the store of the last ingest (XDG base directories)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "carbonx" / "surveil-store"


def _remembered() -> Path | None:
    try:
        store_dir = Path(_last_store_file().read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None
    return store_dir if (store_dir / STORE_FILE).is_file() else None


def _remember(store_dir: Path) -> None:
    """Keep the store for the actions that name none; a home that cannot be written only loses that."""
    path = _last_store_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(f"{store_dir.resolve()}\n", encoding="utf-8")
        temporary.replace(path)
    except OSError:
        return


def _data_dir_of(store_dir: Path) -> Path | None:
    """The data directory a store was ingested from (None: not a store yet, or in use by a writer)."""
    try:
        with Store.open(store_dir, read_only=True) as store:
            recorded = store.meta("data_dir")
    except SurveillanceError:
        return None
    return Path(recorded) if recorded else None


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
