"""``carbonx regulator``: the regulator's market controls against a running node, through the order
gateway as a member with the regulator role (CURVE keys from the keys directory): halts and
resumes, the sessions of the trading day, its end and the start of the next.

The day's commands go as one atomic request each (rehearsed by the node, applied whole or not at
all), so a refused one leaves nothing in the journal. What the CLI needs to know of the market (the
open trading day, the session) it reads from the node's market data (``status.MARKET``); the
engine still judges every command against its own state.

Exit status: 0 when the exchange accepted what was asked, 1 when the engine rejected it (one line:
the reject code and text, and what to do), 2 for an error the user can fix (bad argument,
unreachable node, refused key or request).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from carbonx.cli.connect import add_connection_options, connect, describe
from carbonx.cli.display import cny, reject_in_cny
from carbonx.cli.eod_cmd import iso, trading_day_arg
from carbonx.cli.member_cmds import show
from carbonx.config import LoadedConfig, load_config
from carbonx.errors import CarbonxError
from carbonx.scheduler import day_to_open
from engine.messages import (
    Command,
    ConservationChecked,
    DailyBulletin,
    EndOfDay,
    Event,
    HaltInstrument,
    HaltMarket,
    MarketStatusChanged,
    OrderRejected,
    Reject,
    RequestRejected,
    ResumeInstrument,
    ResumeMarket,
    Session,
    SessionChanged,
    SetSession,
    StartOfDay,
    TradingDayEnded,
    TradingDayStarted,
)
from engine.rules import day_from_int, day_to_int
from gateway.client_core import Result
from gateway.protocol import Rehearsal
from market_data.messages import MarketStatus
from market_data.subscriber import Subscriber

# The sessions of a trading day in the engine's order (engine.rules.NEXT_SESSION), by their CLI names.
SESSIONS = {
    "morning": Session.MORNING,
    "break": Session.LUNCH_BREAK,
    "afternoon": Session.AFTERNOON,
    "close": Session.CLOSED,
}
_DAY_ORDER = tuple(SESSIONS.values())

# What to do next, after the engine's reject line (one line still).
HINTS = {
    Reject.INVALID_SESSION_TRANSITION: "sessions go morning, break, afternoon, close: forward only, once a day",
    Reject.SESSION_OPEN: "close trading first: carbonx regulator session close",
    Reject.NO_TRADING_DAY: "no trading day is open: carbonx regulator start-of-day opens one",
    Reject.TRADING_DAY_OPEN: "end the open day first: carbonx regulator session close, then end-of-day",
    Reject.NOT_A_TRADING_DAY: "the date must be a trading day of calendar.toml after the last one held",
}

DESCRIPTION = """\
The regulator's market controls on a running node (carbonx serve), as a member with the regulator
role (default: REGULATOR, the demo regulator):

  halt / resume [INSTRUMENT]   halt or resume one instrument, or the whole market when none is given
  session SESSION              move the trading day forward to a session: morning, break, afternoon
                               or close (trading over for the day)
  end-of-day                   end the open trading day: expiry of day orders, daily bulletin,
                               statements, member settlement, conservation check; recorded for
                               carbonx eod report
  start-of-day                 open the next trading day (no session yet: then session morning)

A node in calendar mode (node.toml [scheduler] mode = "calendar") runs the day by itself at the
times of calendar.toml and node.toml; the regulator's commands come on top and the scheduler never
moves a day back: a day closed early stays closed (its end of day follows at the scheduled time,
or at once with end-of-day), and a day ended early is not reopened. A demo node (carbonx serve
--demo) follows no clock: after end-of-day the market stays closed until start-of-day and session
morning (or a restart of the demo node opens the next day).
"""
EPILOG = """\
examples (make run starts a demo node, its morning session open):
  carbonx regulator halt SHEA2025 --reason 'price anomaly'
  carbonx regulator resume SHEA2025
  carbonx regulator halt                      the whole market
  carbonx regulator session close             trading over for the day
  carbonx regulator end-of-day                end the open day (found on the market data)
  carbonx eod report                          the day just ended
  carbonx regulator start-of-day              the next trading day of calendar.toml
  carbonx regulator session morning           trading opens

A refused command prints the engine's reject on one line (e.g. `rejected 2019: SESSION_OPEN:
session=MORNING (close trading first: ...)`) and exits with status 1. Reject codes:
docs/REJECT_CODES.md.
"""
SESSION_DESCRIPTION = """\
Move the open trading day forward to SESSION. The sessions run morning, break, afternoon, close,
once a day; a session further on is reached through the ones in between (each journaled, as the
node's scheduler does): `session close` in the morning passes the break and the afternoon at once
and ends trading for the day. A session behind the current one, or the current one, is refused.
The current session is read from the node's market data.
"""
END_DESCRIPTION = """\
End the open trading day: day orders expire, the daily bulletin (the close becomes the next
reference price), account statements, member settlement, large holders and the conservation check,
recorded in the node's database for carbonx eod report. Trading must be closed first (session
close). The open trading day is read from the node's market data; --date names it instead.
"""
START_DESCRIPTION = """\
Open a trading day (no session is open yet: `session morning` opens trading). Without --date: today
when it is a trading day of calendar.toml, else the next one; and never a day up to the last day
the market held (then the trading day after that). The last day is read from the node's market
data. A node in calendar mode leaves a day opened ahead of its date alone until that date comes.
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "regulator",
        help="halt or resume trading; sessions, end and start of the trading day (regulator role)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, summary in (("halt", "halt trading"), ("resume", "resume trading")):
        sub = actions.add_parser(
            name, help=summary, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        sub.add_argument("instrument", nargs="?", default="", help="instrument code (none: the whole market)")
        if name == "halt":
            sub.add_argument("--reason", default="", help="shown on market data")
        add_connection_options(sub, member_default="REGULATOR")
        sub.set_defaults(run=_halt_or_resume)
    session = _day_parser(actions, "session", "move the trading day to a session", SESSION_DESCRIPTION)
    session.add_argument(
        "session", choices=tuple(SESSIONS), metavar="SESSION", help="morning, break, afternoon or close"
    )
    session.set_defaults(run=_session)
    end = _day_parser(actions, "end-of-day", "end the open trading day (then: carbonx eod report)", END_DESCRIPTION)
    end.add_argument(
        "--date", type=trading_day_arg, default=None, help="the open trading day (default: from the market data)"
    )
    end.set_defaults(run=_end_of_day)
    start = _day_parser(actions, "start-of-day", "open the next trading day", START_DESCRIPTION)
    start.add_argument(
        "--date",
        type=trading_day_arg,
        default=None,
        help="the trading day to open, YYYY-MM-DD (default: today or the next trading day, after the last one)",
    )
    start.set_defaults(run=_start_of_day)


def _day_parser(actions: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    sub: argparse.ArgumentParser = actions.add_parser(
        name, help=summary, description=description, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_connection_options(sub, member_default="REGULATOR")
    group = sub.add_argument_group("market data (where the open trading day and the session are read)")
    group.add_argument("--market-data", metavar="ENDPOINT", help="market-data endpoint (default: node.toml)")
    group.add_argument("--snapshot-endpoint", metavar="ENDPOINT", help="snapshot service (default: node.toml)")
    return sub


# ---------------------------------------------------------------------------------------------- actions


def _halt_or_resume(args: argparse.Namespace) -> int:
    halt = args.action == "halt"
    command: HaltInstrument | ResumeInstrument | HaltMarket | ResumeMarket
    if args.instrument:
        command = (
            HaltInstrument(instrument=args.instrument, reason=args.reason)
            if halt
            else ResumeInstrument(instrument=args.instrument)
        )
    else:
        command = HaltMarket(reason=args.reason) if halt else ResumeMarket()
    client, _ = connect(args)
    with client:
        return show(client.submit(command))


def _session(args: argparse.Namespace) -> int:
    status = market_status(args, load_config(args.config))
    steps = session_steps(status.session, SESSIONS[args.session])
    return _submit(args, [SetSession(session=s) for s in steps])


def _end_of_day(args: argparse.Namespace) -> int:
    day: int | None = args.date
    if day is None:
        loaded = load_config(args.config)
        # No day open: the last one, for the engine to refuse with NO_TRADING_DAY (never 0: out of bounds).
        day = market_status(args, loaded).trading_day or day_to_int(_today(loaded))
    return _submit(args, [EndOfDay(trading_day=day)])


def _start_of_day(args: argparse.Namespace) -> int:
    day: int | None = args.date
    if day is None:
        loaded = load_config(args.config)
        last = day_from_int(market_status(args, loaded).trading_day)
        day = day_to_int(day_to_open(loaded.exchange.calendar, _today(loaded), last))
    return _submit(args, [StartOfDay(trading_day=day)])


def session_steps(current: Session, target: Session) -> list[Session]:
    """The sessions from ``current`` up to ``target`` in the day's order, each one step of the engine.

    Just ``[target]`` when it is behind or is the current one, for the engine to refuse. A CLOSED
    market is taken to be before the morning (market data does not say whether the afternoon has
    closed; if it has, the engine refuses the morning, and with it the whole request).
    """
    position = 0 if current is Session.CLOSED else _DAY_ORDER.index(current) + 1
    goal = _DAY_ORDER.index(target) + 1
    if goal <= position or (current is Session.CLOSED and target is Session.CLOSED):
        return [target]
    return list(_DAY_ORDER[position:goal])


def _today(loaded: LoadedConfig) -> dt.date:
    """Today in the calendar's time zone (Asia/Shanghai), wherever the regulator sits."""
    return dt.datetime.now(ZoneInfo(loaded.exchange.calendar.timezone)).date()


def market_status(args: argparse.Namespace, loaded: LoadedConfig) -> MarketStatus:
    """The market's trading day and session as the node publishes them (``status.MARKET``)."""
    options = loaded.node.market_data
    endpoint = args.market_data or options.endpoint
    snapshot = args.snapshot_endpoint or options.snapshot_endpoint
    with Subscriber(
        endpoint, snapshot, instruments=[], channels=("status",), snapshot_timeout_ms=args.timeout_ms
    ) as subscriber:
        status = subscriber.market_status() if subscriber.wait_synced(args.timeout_ms) else None
    if status is None:
        raise CarbonxError(
            f"no market status from {snapshot} within {args.timeout_ms} ms (is carbonx serve running? "
            "give --market-data and --snapshot-endpoint, or --date)"
        )
    return status


def _submit(args: argparse.Namespace, commands: list[Command]) -> int:
    client, _ = connect(args)
    with client:
        outcome = client.submit_atomic(commands)
        if isinstance(outcome, Rehearsal) and len(commands) > 1:
            # Steps towards a session refused: the engine's word on the session asked (a dry run,
            # nothing journaled) says more than its word on the first step.
            alone = client.submit_atomic(commands[-1:], dry_run=True)
            if isinstance(alone, Rehearsal) and alone.rejections:
                outcome = alone
        return show_day(outcome)


def show_day(outcome: Result | Rehearsal) -> int:
    """Print what a day command did, or its refusal as one line; the exit status (0 done, 1 refused)."""
    if isinstance(outcome, Rehearsal):
        first = outcome.rejections[0]  # a rehearsal without a dry run comes back only when refused
        print(_refusal(first.code, reject_in_cny(first.text), len(outcome.rejections) - 1))
        return 1
    if outcome.refused is not None or any(isinstance(e, OrderRejected | RequestRejected) for e in outcome.events):
        return show(outcome)
    others = 0
    for report in outcome.reports:
        line = describe_day(report.event)
        if line is None:
            others += 1
        else:
            print(f"#{report.seq} {line}")
    ended = [e for e in outcome.events if isinstance(e, TradingDayEnded)]
    if ended:
        day = iso(ended[0].trading_day)
        print(f"{others:,} more reports (statements, settlement, expiries); see: carbonx eod report --date {day}")
    return 0


def _refusal(code: Reject, text: str, more: int) -> str:
    hint = HINTS.get(code)
    line = f"rejected {code.value}: {text}" + (f" ({hint})" if hint else "")
    return line + (f"; {more} more of the request refused with it" if more else "") + "; nothing applied"


def describe_day(event: Event) -> str | None:
    """One line for an event of the trading day; None for the many an end of day also reports."""
    match event:
        case TradingDayStarted():
            return (
                f"trading day {iso(event.trading_day)} started; no session open yet "
                "(carbonx regulator session morning opens trading)"
            )
        case SessionChanged():
            line = f"session {event.session.name} (trading day {iso(event.trading_day)})"
            if event.session is Session.CLOSED:
                line += ": trading over for the day; next: carbonx regulator end-of-day"
            return line
        case DailyBulletin():
            return (
                f"bulletin {event.instrument}: close {cny(event.close)}, volume {event.volume:,} t, "
                f"{event.trades:,} trades"
            )
        case ConservationChecked():
            if event.ok:
                return "conservation OK: every instrument and cash adds up"
            return f"conservation FAILED: {len(event.mismatches)} assets do not add up; the market is halted"
        case TradingDayEnded():
            return (
                f"trading day {iso(event.trading_day)} ended: {event.expired_orders:,} day orders expired, "
                f"fees collected {cny(event.fees_collected)} CNY; recorded for carbonx eod report"
            )
        case MarketStatusChanged():
            return describe(event)
    return None
