"""``carbonx simulate``: a seeded trading day through the engine, with its bulletin."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from carbonx.cli.commands import help_of
from carbonx.cli.display import cny, price, table
from carbonx.config import load_config
from carbonx.data_dir import writable_data_dir
from carbonx.member_flow import EXPECTED_REJECTS, RACES_HEADLINE
from carbonx.planted_simulation import PlantedSimulation, run_planted_simulation
from carbonx.scheduler import day_to_open
from carbonx.simulation import SIMULATION_DATA_DIR, SimulationResult, run_simulation
from engine.config import Calendar
from surveillance.planted import ORDERS_PER_DAY

HELP = help_of("simulate")
DESCRIPTION = """\
Run one trading day with simulated members through the engine in process: deposits and free
allocation at the start, the morning and afternoon sessions with a seeded order flow from every
trading account in the config (limit, IOC, FOK and both best-five-levels market orders, cancels
and amends), the close and the end of day. The members send what their own systems would: orders
their accounts can pay for (cash, or allowances not bought today), sized so that what they hold
lasts the day, at prices inside the band. The few rejects are races a real market has too: a cancel
or amend sent before the report of the fill that ended its order arrived; they are listed by code.
Prints the daily bulletin per instrument, the fees collected, the rejects and the conservation
check (on a terminal, the progress of a long day on stderr). Leaves the journal, an end-of-day
snapshot and the SQLite database of statements (carbonx.db) in the data directory: `carbonx eod
report --date D --data-dir DIR` shows the statements, and `carbonx replay DIR` reproduces the
same state hash.

The data directory is the simulation's own (var-simulate unless --data-dir says otherwise), never
the node's var by default. A directory a running node holds is refused, --overwrite or not, and
nothing in it is touched.

With --with-manipulation it runs the planted-manipulation market instead (surveillance's measure
of quality; --config is not read): its own config of 60 members and 200+ accounts in two
instruments, three trading days from --date of honest flow (--orders messages a day, 3000 by
default) with reserve sales on the first and third, and every surveillance pattern planted by
dedicated accounts: wash trades, round trips, circular trades and transfers, layering, order-to-trade
churn, marking the close, concentration, post-auction ramping, identical and floor bids, a
prohibited participant. The ground truth goes to planted-cases.json in the data directory; then
`carbonx surveil ingest --data-dir DIR` and `carbonx surveil alerts --data-dir DIR` list every case.
"""


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "simulate", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="config", metavar="DIR", help="config directory (default: config)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the order flow (default: 1)")
    parser.add_argument(
        "--orders",
        type=_positive,
        default=None,
        metavar="N",
        help=f"order-entry commands in the day (default: 4000; {ORDERS_PER_DAY} a day with --with-manipulation)",
    )
    parser.add_argument(
        "--date",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="the trading day (default: today if it is a trading day, else the next one)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"where to write the journal and database (default: {SIMULATION_DATA_DIR}, not the node's var)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier simulation's data directory")
    parser.add_argument(
        "--with-manipulation",
        action="store_true",
        help="three days of the planted-manipulation market, with its labels (planted-cases.json)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.with_manipulation:
        return _run_planted(args)
    orders = args.orders or 4000
    loaded = load_config(args.config)
    calendar = loaded.exchange.calendar
    day = args.date or default_day(calendar, dt.datetime.now(dt.UTC))
    data_dir: Path = args.data_dir or Path(SIMULATION_DATA_DIR)
    writable_data_dir(data_dir)  # a file, or not writable: one line, not an errno
    result = run_simulation(
        loaded.exchange,
        data_dir,
        seed=args.seed,
        orders=orders,
        trading_day=day,
        overwrite=args.overwrite,
        fsync=loaded.node.fsync,
        progress=_progress if sys.stderr.isatty() else None,
    )
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr, flush=True)  # the progress line goes
    for line in report(result, args.seed, orders):
        print(line)
    return 0


def _run_planted(args: argparse.Namespace) -> int:
    """The planted market: its own config and calendar; the journal is not fsynced (the seed remakes it)."""
    data_dir: Path = args.data_dir or Path(SIMULATION_DATA_DIR)
    writable_data_dir(data_dir)
    day = args.date or default_day(Calendar(), dt.datetime.now(dt.UTC))
    result = run_planted_simulation(
        data_dir,
        seed=args.seed,
        first_day=day,
        orders_per_day=args.orders or ORDERS_PER_DAY,
        overwrite=args.overwrite,
        fsync=False,
    )
    for line in planted_report(result):
        print(line)
    return 0


def planted_report(result: PlantedSimulation) -> list[str]:
    run = result.run
    days = ", ".join(str(dt.datetime.strptime(str(d), "%Y%m%d").date()) for d in run.trading_days)
    lines = [
        f"carbonx simulate --with-manipulation: seed {result.seed}, {run.accounts} trading accounts, "
        f"trading days {days}",
        "",
        f"journal            {result.data_dir} ({run.commands:,} commands; snapshot at seq {run.commands:,})",
        f"statements         database {result.database}",
        f"state hash         {run.state_hash}",
        f"planted cases      {len(run.cases)}, of {len({c.rule for c in run.cases})} rules, in {result.labels}:",
    ]
    rows = [
        [
            case.rule,
            str(dt.datetime.strptime(str(case.trading_day), "%Y%m%d").date()),
            case.instrument,
            ", ".join(case.accounts),
        ]
        for case in run.cases
    ]
    header = ["rule", "day", "instrument", "accounts"]
    lines += ["  " + line for line in table(header, rows, left=header)]
    lines += [
        "",
        f"next               carbonx surveil ingest --data-dir {result.data_dir}",
        f"                   carbonx surveil alerts --data-dir {result.data_dir}",
    ]
    return lines


def default_day(calendar: Calendar, now: dt.datetime) -> dt.date:
    """Today on the exchange's calendar, in its time zone wherever the machine is, when it is a trading
    day; else the next one: the day a regulator's start-of-day would open."""
    return day_to_open(calendar, now.astimezone(ZoneInfo(calendar.timezone)).date(), None)


def _progress(done: int, total: int) -> None:
    """One line on the terminal, rewritten in place: a long day (--orders 100000) takes a while."""
    print(
        f"\rcarbonx simulate: {done:,}/{total:,} order-entry commands ({100 * done // total}%)",
        end="",
        file=sys.stderr,
        flush=True,
    )


def report(result: SimulationResult, seed: int, orders: int) -> list[str]:
    lines = [
        f"carbonx simulate: trading day {result.trading_day}, seed {seed}, {result.accounts} trading accounts",
        "",
        f"Daily bulletin {result.trading_day} (prices CNY/t, turnover CNY)",
    ]
    rows = [
        [
            b.instrument,
            price(b.open),
            price(b.high),
            price(b.low),
            cny(b.close),
            f"{b.volume:,}",
            cny(b.turnover),
            f"{b.trades:,}",
        ]
        for b in result.bulletins
    ]
    header = ["instrument", "open", "high", "low", "close", "volume t", "turnover", "trades"]
    lines += table(header, rows)
    if result.conservation:
        conservation = "FAILED, market halted: " + "; ".join(
            f"{m.asset} expected {m.expected:,} held {m.actual:,} (difference {m.difference:+,})"
            for m in result.conservation
        )
    else:
        conservation = "OK: every tonne and fen accounted for"
    lines += [
        "",
        f"opening            deposited {cny(result.deposited)} CNY; allocated {result.allocated:,} t",
        f"conservation       {conservation}",
        f"fees collected     {cny(result.fees_collected)} CNY",
        f"orders accepted    {result.orders_accepted:,}; trades {result.trades:,}; "
        f"expired at the close {result.expired:,}",
        *rejects(result.rejects, orders),
        f"journal            {result.data_dir} ({result.commands:,} commands; snapshot at seq {result.commands:,})",
        f"statements         {result.statements:,} accounts; large holders {result.large_holders:,}; "
        f"database {result.database}",
        f"state hash         {result.state_hash}",
        f"report             carbonx eod report --date {result.trading_day} --data-dir {result.data_dir}",
        f"reproduce          carbonx replay {result.data_dir}",
    ]
    return lines


def rejects(by_code: dict[str, int], orders: int) -> list[str]:
    """How many commands the exchange refused, by code, and why the flow meets each."""
    rejected = sum(by_code.values())
    races = all(code in EXPECTED_REJECTS for code in by_code)
    headline = f", {RACES_HEADLINE}:" if rejected and races else (":" if rejected else "")
    lines = [f"rejected           {rejected:,} of {orders:,} order-entry commands{headline}"]
    width = max((len(code) + len(f"{count:,}") for code, count in by_code.items()), default=0) + 2
    for code, count in sorted(by_code.items(), key=lambda item: (-item[1], item[0])):
        why = EXPECTED_REJECTS.get(code, "not expected of this flow: a defect (docs/REJECT_CODES.md)")
        lines.append(f"{'':19}{code}{count:>{width - len(code)},}  {why}")
    return lines


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None
