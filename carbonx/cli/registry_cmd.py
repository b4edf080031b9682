"""``carbonx registry OP FILE``: the regulator's registry operations, applied from an input file.

Each operation reads its file (carbonx.registry_files), checks every row, rehearses the batch on
the exchange rebuilt from the data directory, and then journals it as one batch
(carbonx.data_dir). Any bad row or rejected command stops everything: nothing is applied.

The batch starts with the file's record (``RecordRegistryFile``: operation, SHA-256, name), so the
same file applied twice is refused by the exchange itself, whichever way it arrives (offline or
through a node, dry run or not): one line naming the first application, its journal seq and time.
``--again`` applies it once more.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from carbonx.cli.commands import help_of
from carbonx.cli.display import cny, exchange_time, reject_context, reject_in_cny
from carbonx.config import load_config
from carbonx.data_dir import (
    CommandsRejected,
    DataDirUnavailable,
    apply_commands,
    find_registry_file,
    held_by_a_node,
    journal_last_seq,
    rehearse_commands,
)
from carbonx.endpoints import running_endpoints
from carbonx.errors import CarbonxError
from carbonx.registry_files import RegistryFile, RegistryFileError, load_registry_file
from engine.config_record import DataDirError, recorded_config
from engine.messages import (
    AccountsMerged,
    AccountSplit,
    AllowancesAllocated,
    AllowancesCancelled,
    AllowancesCarriedOver,
    AllowancesSurrendered,
    CashDeposited,
    CashWithdrawn,
    Event,
    RecordRegistryFile,
    RegistryFileRecorded,
    Reject,
    Units,
)
from gateway.client import MemberClient
from gateway.client_core import Result
from gateway.protocol import Rehearsal

HELP = help_of("registry")
DESCRIPTION = """\
The regulator's registry operations (Decree 20 Art. 12-14, 21), each applied from an input file
to the exchange's data directory through the journal. The file is checked completely first: every
bad row is reported as FILE:LINE: problem, and then every row the exchange would reject (reject
codes: docs/REJECT_CODES.md). If anything is wrong, nothing is applied (exit status 2). Otherwise
the whole file is journaled as one batch. --dry-run checks and shows what would be applied.
A file is applied once: the same operation with the same content (SHA-256 of the file) is refused
with the journal seq and time of its first application, unless --again is given.

Files: .csv with a header row, or .toml with one [[OPERATION]] table per row. Quantities are whole
tonnes, money whole fen (or CNY with at most two decimals where the column says amount_cny).
`carbonx registry OPERATION --help` shows an operation's columns with an example file; the
formats in full: docs/REGISTRY.md, and working files for the demo config: examples/registry/.
"""
EPILOG = """\
examples:
  carbonx registry allocate examples/registry/allocate.csv --dry-run
  carbonx registry allocate examples/registry/allocate.toml
  carbonx registry surrender examples/registry/surrender.csv --data-dir var
"""

# name -> (one-line help, what the rows mean, example file)
OPERATIONS: dict[str, tuple[str, str, str]] = {
    "allocate": (
        "free allocation of allowances or credits to accounts",
        """\
columns: account, instrument, quantity (whole tonnes), compliance_only (optional: true or false,
default false; compliance-only units can be surrendered but never sold or transferred)""",
        """\
account,instrument,quantity,compliance_only
A001,SHEA2025,300000,false
A002,SHEA2025,250000,
A003,SHEA2025,20000,true

or as TOML:
[[allocate]]
account = "A001"
instrument = "SHEA2025"
quantity = 300000""",
    ),
    "deposit": (
        "cash deposits into accounts",
        """\
columns: account, and the amount as amount_fen (whole fen) or amount_cny (CNY with at most two
decimals, no thousands separators: 1234.50); a row gives exactly one of them""",
        """\
account,amount_cny
A001,1000000.00
A101,250000.50""",
    ),
    "withdraw": (
        "cash withdrawals from accounts (only withdrawable cash)",
        """\
columns: account, and the amount as amount_fen (whole fen) or amount_cny (CNY with at most two
decimals: 1234.50); a row gives exactly one of them. Today's sale proceeds are not withdrawable.""",
        """\
account,amount_fen
A101,5000000""",
    ),
    "surrender": (
        "surrender (清缴) for covered entities' verified emissions of a compliance year",
        """\
columns: account (a covered entity), compliance_year, verified_emissions (whole tonnes).
Takes compliance-only units of the year, then CCER/SHCER within the offset cap, then the year's
allowances; a row that cannot be covered in full records the shortfall.""",
        """\
account,compliance_year,verified_emissions
A001,2025,300000""",
    ),
    "cancel": (
        "voluntary cancellation (自愿注销) of units",
        "columns: account, instrument, quantity (whole tonnes, from available units)",
        """\
account,instrument,quantity
A002,CCER,2000""",
    ),
    "carry-over": (
        "carry surplus units over to the later vintage the config's rule names",
        """\
columns: account, instrument (the old vintage), quantity (whole tonnes). A covered entity must
have completed its surrender for that vintage's year first.""",
        """\
account,instrument,quantity
A101,SHEA2024,10000""",
    ),
    "merge": (
        "merge accounts: everything an account holds passes to its successor (between trading days)",
        "columns: account (closed by the merger), successor",
        """\
account,successor
A103,A102""",
    ),
    "split": (
        "split accounts: given cash and units pass from an account to others (between trading days)",
        """\
columns: account (the source), to_account, cash_fen (optional, whole fen), instrument and
quantity (optional, together). Rows with the same account form one split, in file order; one
row per instrument and receiving account.""",
        """\
account,to_account,cash_fen,instrument,quantity
A001,A002,20000000,SHEA2025,10000
A001,A003,,SHEA2025,5000

or as TOML:
[[split]]
account = "A001"
[[split.part]]
account = "A002"
cash_fen = 20000000
holdings = [{instrument = "SHEA2025", quantity = 10000}]""",
    ),
}


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "registry",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    operations = parser.add_subparsers(dest="operation", metavar="OPERATION", required=True)
    for name, (summary, columns, example) in OPERATIONS.items():
        sub = operations.add_parser(
            name,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}.\n\n{columns}",
            epilog=f"example file ({name}.csv):\n" + _indent(example),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("file", type=Path, metavar="FILE", help="the rows: a .csv file or a .toml file")
        sub.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            metavar="DIR",
            help="the exchange's data directory (default: data_dir of the config's node.toml, i.e. var)",
        )
        sub.add_argument("--config", default=None, metavar="DIR", help="config directory (default: config)")
        sub.add_argument("--dry-run", action="store_true", help="check everything and show it; apply nothing")
        sub.add_argument(
            "--again",
            action="store_true",
            help="apply the file although the same content was applied before (refused without it)",
        )
        sub.add_argument(
            "--gateway",
            default=None,
            metavar="ENDPOINT",
            help="apply through a running node's order gateway (default: only when a node holds the data directory)",
        )
        sub.add_argument("--member", default="REGULATOR", help="with a node: the regulator member to log on as")
        sub.add_argument("--keys-dir", default=None, metavar="DIR", help="with a node: keys directory (node.toml)")
        sub.add_argument("--timeout-ms", type=int, default=10_000, help="with a node: answer timeout (default 10000)")
        sub.set_defaults(run=run)


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else "" for line in text.splitlines())


def run(args: argparse.Namespace) -> int:
    data_dir: Path | None = args.data_dir
    fsync = True
    if data_dir is None or args.config is not None:
        node = load_config(args.config or "config").node
        data_dir = data_dir or Path(node.data_dir)
        fsync = node.fsync
    registry_file = load_registry_file(args.file, args.operation)
    commands = registry_file.commands(again=args.again)
    if args.gateway is not None or held_by_a_node(data_dir):
        return _through_node(args, registry_file, data_dir)
    try:
        outcomes: Sequence[list[Event]]
        if args.dry_run:
            outcomes = rehearse_commands(data_dir, commands)
        else:
            outcomes = apply_commands(data_dir, commands, fsync=fsync)
    except CommandsRejected as rejected:
        raise _refusal(registry_file, rejected.rejections, data_dir, _timezone(data_dir, args)) from None
    except DataDirUnavailable as unavailable:
        if "in use" not in str(unavailable):
            raise
        # A running node holds the journal: the file goes through its gateway, all or nothing.
        return _through_node(args, registry_file, data_dir)
    (recorded,), rows = outcomes[0], outcomes[1:]
    for line in [*report(rows, args.operation, dry_run=args.dry_run), file_line(recorded, args.dry_run)]:
        print(line)
    if not args.dry_run:
        last = journal_last_seq(data_dir)
        print(f"journal {data_dir}: seq {last - len(commands) + 1:,}-{last:,} appended, last seq {last:,}")
    return 0


def _through_node(args: argparse.Namespace, registry_file: RegistryFile, data_dir: Path) -> int:
    """Send the file to a running node as one atomic batch: rehearsed there, then journaled as one."""
    loaded = load_config(args.config or "config")
    running = running_endpoints(data_dir)
    endpoint = args.gateway or (running.order_entry if running else loaded.node.gateway.endpoint)
    keys_dir = Path(args.keys_dir) if args.keys_dir else loaded.keys_dir
    commands = registry_file.commands(again=args.again)
    with MemberClient.from_keys(endpoint, args.member, keys_dir, timeout_ms=args.timeout_ms) as client:
        outcome = client.submit_atomic(commands, dry_run=args.dry_run)
    if isinstance(outcome, Rehearsal):
        if outcome.rejections:
            rejections = [(r.index, r.text) for r in outcome.rejections]
            raise _refusal(registry_file, rejections, data_dir, loaded.exchange.calendar.timezone)
        outcomes: list[list[Event]] = [list(events) for events in outcome.events]
    else:
        if outcome.refused is not None:
            raise CarbonxError(f"{endpoint}: refused by the gateway: {reject_in_cny(outcome.refused.text)}")
        # Each registry command has one event when applied; the file's record is among them.
        outcomes = [[event] for event in outcome.events]
    records = [e for events in outcomes for e in events if isinstance(e, RegistryFileRecorded)]
    rows = [events for events in outcomes if not any(isinstance(e, RegistryFileRecorded) for e in events)]
    for line in [*report(rows, args.operation, dry_run=args.dry_run), *(file_line(r, args.dry_run) for r in records)]:
        print(line)
    if not args.dry_run and isinstance(outcome, Result):
        print(f"applied through the node at {endpoint}: journal seq up to {outcome.journal_seq:,}")
    return 0


# ---------------------------------------------------------------------------------------------- refusals


class RegistryFileAlreadyApplied(CarbonxError):
    """The same registry file (operation and content) was applied before; one line naming when."""


def _refusal(
    registry_file: RegistryFile, rejections: Sequence[tuple[int, str]], data_dir: Path, timezone: str
) -> CarbonxError:
    """What the exchange's rejections of the batch mean for the regulator.

    The file's record is command 0 and its rows follow: a rejected record means the file was
    applied before, and that one line is all that matters (its rows would fail again for the same
    reason: a second withdrawal, a second surrender).
    """
    for _index, text in rejections:
        if text.startswith(Reject.REGISTRY_FILE_ALREADY_APPLIED.name):
            return RegistryFileAlreadyApplied(already_applied_line(registry_file, text, data_dir, timezone))
    entries = registry_file.entries
    problems = [
        f"{entries[index - 1].where if index else registry_file.path}: {reject_in_cny(text)}"
        for index, text in rejections
    ]
    summary = f"{registry_file.path}: {len(problems)} rows rejected by the exchange; nothing applied"
    return RegistryFileError(problems, summary)


def already_applied_line(registry_file: RegistryFile, text: str, data_dir: Path, timezone: str) -> str:
    """One line: the file, and its first application's name, journal seq and time.

    The seq is read from the journal of the data directory when it is here to read; the name and
    the time are also in the exchange's reject text, which is what a node elsewhere sends back.
    """
    context = reject_context(text)
    first = find_registry_file(data_dir, registry_file.operation, registry_file.sha256)
    if first is not None and isinstance(first.command, RecordRegistryFile):
        name, ts, where = first.command.name, first.ts, f"journal seq {first.seq:,}"
    else:
        name, ts, where = context.get("name", "?"), int(context.get("first_ts", 0)), f"a journal not in {data_dir}"
    when = exchange_time(ts, ZoneInfo(timezone)).isoformat(sep=" ", timespec="seconds")
    return (
        f"{registry_file.path}: already applied: the same {registry_file.operation} file "
        f"(sha256 {registry_file.sha256[:16]}...) was applied as {name} at {where}, {when}; "
        "nothing applied (--again applies it once more)"
    )


def _timezone(data_dir: Path, args: argparse.Namespace) -> str:
    """The exchange's time zone: the config recorded with the journal, else the config directory's."""
    try:
        return recorded_config(data_dir).calendar.timezone
    except DataDirError:
        return load_config(args.config or "config").exchange.calendar.timezone


def file_line(recorded: Event, dry_run: bool = False) -> str:
    """The record of the file: its digest, and whether this is a repeat on purpose."""
    assert isinstance(recorded, RegistryFileRecorded), recorded
    verb = "would record" if dry_run else "recorded"
    again = f", application {recorded.applications} (--again)" if recorded.again else ""
    return f"{'  ' if dry_run else ''}file {recorded.name} {verb}: sha256 {recorded.sha256}{again}"


# ---------------------------------------------------------------------------------------------- report


def _cash_and_units(cash: int, units: Sequence[Units]) -> str:
    given = [f"{cny(cash)} CNY"] if cash else []
    given += [f"{u.instrument} {u.quantity:,} t" for u in units]
    return ", ".join(given) or "nothing"


def describe(event: Event) -> str:
    """One line for one applied registry event, in the regulator's words."""
    match event:
        case AllowancesAllocated():
            note = " (compliance-only)" if event.compliance_only else ""
            return f"allocated {event.quantity:,} t {event.instrument} to {event.account}{note}"
        case CashDeposited():
            return f"deposited {cny(event.amount)} CNY to {event.account}"
        case CashWithdrawn():
            return f"withdrew {cny(event.amount)} CNY from {event.account}"
        case AllowancesSurrendered():
            status = "complete" if event.complete else f"short {event.shortfall:,} t"
            return (
                f"surrendered for {event.compliance_year}: {event.account} covered "
                f"{event.covered:,}/{event.verified_emissions:,} t, {status} ({_cash_and_units(0, event.surrendered)})"
            )
        case AllowancesCancelled():
            return f"cancelled {event.quantity:,} t {event.instrument} of {event.account}"
        case AllowancesCarriedOver():
            return f"carried over {event.quantity:,} t {event.instrument} of {event.account} into {event.to_instrument}"
        case AccountsMerged():
            return (
                f"merged {event.account} into {event.successor}: "
                f"{_cash_and_units(event.cash, event.holdings)}; {event.account} closed"
            )
        case AccountSplit():
            parts = "; ".join(f"to {p.account} " + _cash_and_units(p.cash, p.holdings) for p in event.parts)
            return f"split {event.account}: {parts}"
    return type(event).__name__


def _totals(events: Sequence[Event]) -> list[str]:
    tonnes: Counter[tuple[str, str]] = Counter()
    cash: Counter[str] = Counter()
    for event in events:
        match event:
            case AllowancesAllocated():
                tonnes["allocated", event.instrument] += event.quantity
            case AllowancesCancelled():
                tonnes["cancelled", event.instrument] += event.quantity
            case AllowancesCarriedOver():
                tonnes["carried over", event.instrument] += event.quantity
            case AllowancesSurrendered():
                for units in event.surrendered:
                    tonnes["surrendered", units.instrument] += units.quantity
            case CashDeposited():
                cash["deposited"] += event.amount
            case CashWithdrawn():
                cash["withdrawn"] += event.amount
    lines = [f"total {verb}: {cny(amount)} CNY" for verb, amount in cash.items()]
    lines += [f"total {verb}: {quantity:,} t {code}" for (verb, code), quantity in sorted(tonnes.items())]
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def report(outcomes: Sequence[Sequence[Event]], operation: str, dry_run: bool = False) -> list[str]:
    """The heading, one line per applied (or, dry run, would-be applied) command, then the totals."""
    events = [event for events in outcomes for event in events]
    done = "checked, dry run: nothing applied; would apply" if dry_run else "applied"
    heading = f"carbonx registry {operation}: {_count(len(outcomes), 'command')} {done}"
    return [heading, *(("  " if dry_run else "") + describe(e) for e in events), *_totals(events)]
