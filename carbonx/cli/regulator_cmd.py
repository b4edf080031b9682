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
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from carbonx.cli.connect import add_connection_options, connect, describe
from carbonx.cli.display import cny, iso, reject_in_cny, trading_day_arg
from carbonx.cli.feed import add_endpoint_options, feed_of, no_answer
from carbonx.cli.member_cmds import show
from carbonx.config import LoadedConfig, load_config
from carbonx.scheduler import OVER, advance, day_to_open, phase_of
from engine.market_day.calendar import day_from_int, day_to_int
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
    TransferExpired,
)
from gateway.client_core import Result
from gateway.protocol import Rehearsal
from market_data.messages import MarketStatus
from market_data.subscriber import Subscriber

# The sessions `session` moves a day to, by their CLI names ("close": trading over for the day). Their
# order, and the steps between them, are the scheduler's (carbonx.scheduler.PHASES).
SESSIONS = {
    "morning": Session.MORNING,
    "break": Session.LUNCH_BREAK,
    "afternoon": Session.AFTERNOON,
    "close": Session.CLOSED,
}

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
and ends trading for the day. A session behind the current one, or the current one, is refused,
and so is close before the morning has opened (the market is closed already: end-of-day ends the
day as it is). Where the day is, its session and whether its afternoon has closed, is read from the
node's market data.
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
    add_endpoint_options(group, metavar="ENDPOINT")
    group.add_argument("--market-data", dest="endpoint", help=argparse.SUPPRESS)  # the former name, still taken
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
    loaded = load_config(args.config)
    steps = session_steps(market_status(args, loaded), SESSIONS[args.session])
    return _submit(args, steps, loaded)


def _end_of_day(args: argparse.Namespace) -> int:
    day: int | None = args.date
    loaded = None
    if day is None:
        loaded = load_config(args.config)
        # No day open: the last one, for the engine to refuse with NO_TRADING_DAY (never 0: out of bounds).
        day = market_status(args, loaded, or_date=True).trading_day or day_to_int(_today(loaded))
    return _submit(args, [EndOfDay(trading_day=day)], loaded)


def _start_of_day(args: argparse.Namespace) -> int:
    day: int | None = args.date
    loaded = None
    if day is None:
        loaded = load_config(args.config)
        last = day_from_int(market_status(args, loaded, or_date=True).trading_day)
        day = day_to_int(day_to_open(loaded.exchange.calendar, _today(loaded), last))
    return _submit(args, [StartOfDay(trading_day=day)], loaded)


def session_steps(market: MarketStatus, target: Session) -> list[SetSession]:
    """The steps from where the market data says the day is up to ``target``: the scheduler's, one
    SetSession per session in between (``session close`` in the morning passes the break and the
    afternoon).

    Just ``target`` when there is no step to take, for the engine to refuse it on its own: no day
    open, a session behind or the current one, or ``close`` before the morning has opened (the
    market is closed already; end-of-day ends the day as it is).
    """
    current = phase_of(market.session, market.sessions_over)
    goal = phase_of(target, sessions_over=True)  # "close": the close after the afternoon
    steps = advance(current, goal)
    if not market.day_open or not steps or (current == 0 and goal == OVER):
        return [SetSession(session=target)]
    return steps


def _today(loaded: LoadedConfig) -> dt.date:
    """Today in the calendar's time zone (Asia/Shanghai), wherever the regulator sits."""
    return dt.datetime.now(ZoneInfo(loaded.exchange.calendar.timezone)).date()


def market_status(args: argparse.Namespace, loaded: LoadedConfig, *, or_date: bool = False) -> MarketStatus:
    """The market's trading day and session as the node publishes them (``status.MARKET``).

    ``or_date``: the command takes --date instead, and the error line says so.
    """
    feed = feed_of(args, loaded)
    with Subscriber(
        feed.endpoint, feed.snapshot_endpoint, instruments=[], channels=("status",), snapshot_timeout_ms=args.timeout_ms
    ) as subscriber:
        status = subscriber.market_status() if subscriber.wait_synced(args.timeout_ms) else None
    if status is None:
        way_out = "give --endpoint and --snapshot-endpoint" + (", or --date" if or_date else "")
        raise no_answer(feed, args.timeout_ms, way_out)
    return status


def _submit(args: argparse.Namespace, commands: Sequence[Command], loaded: LoadedConfig | None = None) -> int:
    client, _ = connect(args, loaded)
    with client:
        return show_day(client.submit_atomic(commands))


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
            line = (
                f"bulletin {event.instrument}: close {cny(event.close)}, volume {event.volume:,} t, "
                f"{event.trades:,} trades"
            )
            if event.bulk_trades:
                transfers = "agreement transfer" if event.bulk_trades == 1 else "agreement transfers"
                line += f"; bulk {event.bulk_volume:,} t in {event.bulk_trades:,} {transfers}"
            return line
        case TransferExpired():
            return (
                f"transfer {event.transfer_id} expired ({event.account} to {event.counterparty}, "
                f"{event.instrument}): the proposer's freeze is released"
            )
        case ConservationChecked():
            if event.ok:
                return "conservation OK: every instrument and cash adds up"
            failed = len(event.mismatches)
            assets = "asset does" if failed == 1 else "assets do"
            return f"conservation FAILED: {failed} {assets} not add up; the end of day halted the market"
        case TradingDayEnded():
            return (
                f"trading day {iso(event.trading_day)} ended: {event.expired_orders:,} day orders expired, "
                f"fees collected {cny(event.fees_collected)} CNY; recorded for carbonx eod report"
            )
        case MarketStatusChanged():
            return describe(event)
    return None
