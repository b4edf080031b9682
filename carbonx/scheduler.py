"""The node's scheduler: which trading-day commands the calendar says are due at a given moment.

Pure functions of (market state, clock reading, calendar, options), so the schedule is tested
without a clock and a replay never depends on when it runs. The node reads its clock, asks
``due_commands``, sends what comes back through the sequencer and the journal like any other
command (in one batch, in the order given), and sleeps until ``next_wakeup``.

Times are wall-clock times of the calendar's time zone (Asia/Shanghai for the Shanghai market),
whatever zone the node's clock reading is in.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from carbonx.config import SchedulerOptions
from engine.config import Calendar
from engine.market_day import MarketState
from engine.market_day.calendar import day_from_int, day_to_int
from engine.messages import (
    AuctionStatus,
    CloseAuction,
    Command,
    EndOfDay,
    OpenAuction,
    Session,
    SetSession,
    StartOfDay,
)

# (auction id, status, opens_at, closes_at) of each announced or open auction (``ExchangeView.auction_times``).
AuctionTimes = list[tuple[int, AuctionStatus, int, int]]

# A trading day walks through these phases in order and never back (engine.rules.NEXT_SESSION).
# Session.CLOSED appears twice: before the morning opens and after the afternoon has closed
# (``MarketState.sessions_over``, on market data ``MarketStatus.sessions_over``), so the session
# alone does not say where the day is.
PHASES: tuple[Session, ...] = (
    Session.CLOSED,  # 0: the day is open, the morning is not
    Session.MORNING,  # 1
    Session.LUNCH_BREAK,  # 2
    Session.AFTERNOON,  # 3
    Session.CLOSED,  # 4: the afternoon has closed; only EndOfDay remains
)
OVER = len(PHASES) - 1

# How far ahead next_wakeup looks for a trading day: the horizon of Calendar.next_trading_day.
_SEARCH_DAYS = 3660


def due_commands(market: MarketState, now: dt.datetime, calendar: Calendar, options: SchedulerOptions) -> list[Command]:
    """The commands that bring ``market`` to where the calendar says it should be at ``now``.

    In the order the engine accepts them: first a day left open from an earlier date is walked to
    its close and ended (the node was down over its close); then today's StartOfDay when it is due;
    then one SetSession per session change the clock has passed, and EndOfDay once ``end_of_day``
    has come. Several session changes may be due at once (a node started at 14:00 sends MORNING,
    LUNCH_BREAK and AFTERNOON): the engine accepts only the next session of ``NEXT_SESSION``, and
    journalling every transition keeps the journal honest about the path the day took, so every
    trading day in it runs the same sequence of sessions. Nothing moves backwards: a market ahead
    of the clock (an operator advanced it) is left alone. A market halt does not stop the schedule;
    halts are the regulator's, and the sessions still change under them.

    ``now`` must be timezone-aware. Mode "manual" returns [] always. ``market`` is not changed;
    applying the result and asking again returns [].
    """
    if options.mode == "manual":
        return []
    local = _local(now, calendar)
    today, clock = day_to_int(local.date()), local.time()

    commands: list[Command] = []
    day_open, trading_day, phase = market.day_open, market.trading_day, phase_of(market.session, market.sessions_over)
    if day_open and trading_day < today:
        # The day's close passed while the node was down: finish that day before anything of today.
        commands += advance(phase, OVER)
        commands.append(EndOfDay(trading_day=trading_day))
        day_open = False
    if day_open and trading_day > today:
        return commands  # a day ahead of the calendar's clock: wait for the clock to reach it
    if (
        not day_open
        and today > trading_day
        and calendar.is_trading_day(local.date())
        and options.start_of_day <= clock < options.end_of_day
    ):
        commands.append(StartOfDay(trading_day=today))
        day_open, trading_day, phase = True, today, 0
    if day_open:  # and trading_day == today
        ending = clock >= options.end_of_day
        commands += advance(phase, OVER if ending else _clock_phase(clock, calendar))
        if ending:
            commands.append(EndOfDay(trading_day=today))
    return commands


def day_to_open(calendar: Calendar, today: dt.date, last: dt.date | None) -> dt.date:
    """The trading day a regulator's start-of-day opens when no date is given.

    Today when it is a trading day, else the next one; and always after ``last``, the last trading
    day the market held (the engine refuses a day up to it), so a day ended today is followed by
    the next trading day. Demo mode opens its day by this rule too (carbonx.node_state.demo_opening).
    """
    day = today if calendar.is_trading_day(today) else calendar.next_trading_day(today)
    if last is not None and day <= last:
        day = calendar.next_trading_day(last)
    return day


def next_wakeup(
    market: MarketState, now: dt.datetime, calendar: Calendar, options: SchedulerOptions
) -> dt.datetime | None:
    """The next moment ``due_commands`` returns something, in the calendar's zone: the node's poll timeout.

    Strictly after ``now`` when the market is up to date (the node has applied ``due_commands(now)``);
    ``now`` itself when commands are already due, so a node that has not applied them yet does not
    sleep. The moments looked at are each trading day's start and end of day and session boundaries
    (non-trading days have none) and each local midnight (a day left open is closed once its date
    has passed). None in manual mode, or when no trading day comes within ten years.
    """
    if options.mode == "manual":
        return None
    local = _local(now, calendar)
    if due_commands(market, local, calendar, options):
        return local
    zone = local.tzinfo
    # Nothing can be due before the date of a trading day the market already holds (open or ended).
    held = day_from_int(market.trading_day)
    first = max(local.date(), held) if held is not None else local.date()
    for offset in range(_SEARCH_DAYS + 1):
        day = first + dt.timedelta(days=offset)
        for moment in _boundaries(day, local.date(), calendar, options):
            at = dt.datetime.combine(day, moment, tzinfo=zone)
            if at > local and due_commands(market, at, calendar, options):
                return at
    return None


def phase_of(session: Session, sessions_over: bool) -> int:
    """The phase of ``PHASES`` a trading day is in: its session, and whether the afternoon has closed."""
    if session is Session.CLOSED:
        return OVER if sessions_over else 0
    return PHASES.index(session)


def advance(phase: int, target: int) -> list[SetSession]:
    """One SetSession per phase from ``phase`` up to ``target``, each the engine's next session; none
    when the day is there or ahead (the regulator's ``session`` command takes its steps from here too)."""
    return [SetSession(session=PHASES[step]) for step in range(phase + 1, target + 1)]


def _local(now: dt.datetime, calendar: Calendar) -> dt.datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"the scheduler needs a timezone-aware time, got naive {now.isoformat()}")
    return now.astimezone(zoneinfo.ZoneInfo(calendar.timezone))


def _clock_phase(clock: dt.time, calendar: Calendar) -> int:
    """The phase the session times put a trading day in at wall-clock time ``clock``."""
    sessions = calendar.sessions
    starts = (sessions.morning_open, sessions.morning_close, sessions.afternoon_open, sessions.afternoon_close)
    return sum(1 for start in starts if clock >= start)


def _boundaries(day: dt.date, today: dt.date, calendar: Calendar, options: SchedulerOptions) -> list[dt.time]:
    """The wall-clock times of ``day`` at which what is due may change, earliest first."""
    moments = {dt.time(0)} if day > today else set()
    if calendar.is_trading_day(day):
        sessions = calendar.sessions
        moments |= {
            options.start_of_day,
            sessions.morning_open,
            sessions.morning_close,
            sessions.afternoon_open,
            sessions.afternoon_close,
            options.end_of_day,
        }
    return sorted(moments)


def due_auction_commands(auctions: AuctionTimes, now_ns: int, options: SchedulerOptions) -> list[Command]:
    """Open each announced auction whose window has opened, close each whose window has closed.

    An auction whose whole window passed while the node was down is opened and closed at once, so
    the journal shows the path every auction took. The regulator may open or close one by hand
    earlier (``carbonx auction open|close``); the scheduler then finds nothing to do for it. Mode
    "manual" returns [] always, as for the day's commands.
    """
    if options.mode == "manual":
        return []
    commands: list[Command] = []
    for auction_id, status, opens_at, closes_at in auctions:
        if status is AuctionStatus.ANNOUNCED and opens_at <= now_ns:
            commands.append(OpenAuction(auction_id=auction_id))
            status = AuctionStatus.OPEN
        if status is AuctionStatus.OPEN and closes_at <= now_ns:
            commands.append(CloseAuction(auction_id=auction_id))
    return commands


def next_auction_wakeup(auctions: AuctionTimes, now_ns: int, options: SchedulerOptions) -> int | None:
    """The next moment (ns) an auction opens or closes, strictly after ``now_ns``; None when none will."""
    if options.mode == "manual":
        return None
    moments = [
        moment
        for _, status, opens_at, closes_at in auctions
        for moment in ((opens_at, closes_at) if status is AuctionStatus.ANNOUNCED else (closes_at,))
        if moment > now_ns
    ]
    return min(moments, default=None)
