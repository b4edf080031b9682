"""carbonx.scheduler: the trading day's commands from the calendar, without a clock.

The week of the tests (Asia/Shanghai): Friday 2026-11-20, the weekend, Monday DAY1 = 2026-11-23,
Tuesday DAY2 = 2026-11-24, Wednesday 2026-11-25 a holiday, Thursday 2026-11-26. Default times:
start of day 09:00, morning 09:30-11:30, afternoon 13:00-15:00, end of day 15:30.
"""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonx.config import SchedulerOptions
from carbonx.scheduler import OVER, PHASES, advance, due_commands, next_wakeup, phase_of
from engine.config import Calendar
from engine.exchange import Exchange
from engine.market_day import MarketState
from engine.market_day.calendar import NEXT_SESSION
from engine.messages import (
    Command,
    EndOfDay,
    HaltMarket,
    RequestRejected,
    ResumeMarket,
    Session,
    SetSession,
    StartOfDay,
)
from tests.conftest import DAY1, DAY2, market_config

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
US = dt.timedelta(microseconds=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

FRI, SAT, SUN, HOLIDAY, THU = 20261120, 20261121, 20261122, 20261125, 20261126
CALENDAR = Calendar(holidays=[dt.date(2026, 11, 25)])
OPTIONS = SchedulerOptions()
MANUAL = SchedulerOptions(mode="manual")

MORNING = SetSession(session=Session.MORNING)
LUNCH = SetSession(session=Session.LUNCH_BREAK)
AFTERNOON = SetSession(session=Session.AFTERNOON)
CLOSE = SetSession(session=Session.CLOSED)


def at(day: int, clock: str, zone: dt.tzinfo = SHANGHAI) -> dt.datetime:
    """``at(DAY1, "09:30")``: that wall-clock time of that day in ``zone`` (Shanghai unless told)."""
    hour, minute = (int(part) for part in clock.split(":"))
    return dt.datetime(day // 10_000, day // 100 % 100, day % 100, hour, minute, tzinfo=zone)


def state(
    day: int, *, open: bool = False, session: Session = Session.CLOSED, over: bool = False, halted: bool = False
) -> MarketState:
    return MarketState(trading_day=day, day_open=open, session=session, sessions_over=over, halted=halted)


def ended(day: int) -> MarketState:
    """The market after EndOfDay(day): no day open."""
    return state(day, over=True)


def due(market: MarketState, now: dt.datetime, options: SchedulerOptions = OPTIONS) -> list[Command]:
    return due_commands(market, now, CALENDAR, options)


def wakeup(market: MarketState, now: dt.datetime, options: SchedulerOptions = OPTIONS) -> dt.datetime | None:
    return next_wakeup(market, now, CALENDAR, options)


# ------------------------------------------------------------------------------------ every boundary

# (what, market just before the boundary, the boundary, due one microsecond before, due at it)
BOUNDARIES: list[tuple[str, MarketState, dt.datetime, list[Command], list[Command]]] = [
    ("start of day", ended(FRI), at(DAY1, "09:00"), [], [StartOfDay(trading_day=DAY1)]),
    ("morning open", state(DAY1, open=True), at(DAY1, "09:30"), [], [MORNING]),
    ("morning close", state(DAY1, open=True, session=Session.MORNING), at(DAY1, "11:30"), [], [LUNCH]),
    ("afternoon open", state(DAY1, open=True, session=Session.LUNCH_BREAK), at(DAY1, "13:00"), [], [AFTERNOON]),
    ("afternoon close", state(DAY1, open=True, session=Session.AFTERNOON), at(DAY1, "15:00"), [], [CLOSE]),
    ("end of day", state(DAY1, open=True, over=True), at(DAY1, "15:30"), [], [EndOfDay(trading_day=DAY1)]),
    (
        "morning open, day not started",
        ended(FRI),
        at(DAY1, "09:30"),
        [StartOfDay(trading_day=DAY1)],
        [StartOfDay(trading_day=DAY1), MORNING],
    ),
    (
        "afternoon close, day not started",
        ended(FRI),
        at(DAY1, "15:00"),
        [StartOfDay(trading_day=DAY1), MORNING, LUNCH, AFTERNOON],
        [StartOfDay(trading_day=DAY1), MORNING, LUNCH, AFTERNOON, CLOSE],
    ),
    (
        "end of day, day not started: too late to open it",
        ended(FRI),
        at(DAY1, "15:30"),
        [StartOfDay(trading_day=DAY1), MORNING, LUNCH, AFTERNOON, CLOSE],
        [],
    ),
    (
        "end of day, afternoon still open",
        state(DAY1, open=True, session=Session.AFTERNOON),
        at(DAY1, "15:30"),
        [CLOSE],
        [CLOSE, EndOfDay(trading_day=DAY1)],
    ),
    (
        "midnight with the day still open",
        state(DAY1, open=True, session=Session.MORNING),
        at(DAY2, "00:00"),
        [LUNCH, AFTERNOON, CLOSE, EndOfDay(trading_day=DAY1)],
        [LUNCH, AFTERNOON, CLOSE, EndOfDay(trading_day=DAY1)],
    ),
    (
        "start of day, yesterday left open in the afternoon",
        state(DAY1, open=True, session=Session.AFTERNOON),
        at(DAY2, "09:00"),
        [CLOSE, EndOfDay(trading_day=DAY1)],
        [CLOSE, EndOfDay(trading_day=DAY1), StartOfDay(trading_day=DAY2)],
    ),
]


@pytest.mark.parametrize("halted", [False, True], ids=["trading", "halted"])
@pytest.mark.parametrize(("what", "market", "boundary", "before", "after"), BOUNDARIES, ids=[b[0] for b in BOUNDARIES])
def test_each_boundary_exactly_at_and_one_microsecond_before(
    what: str,
    market: MarketState,
    boundary: dt.datetime,
    before: list[Command],
    after: list[Command],
    halted: bool,
) -> None:
    # A halt is the regulator's: the sessions change under it all the same.
    market = msgspec.structs.replace(market, halted=halted)

    assert due(market, boundary - US) == before, what
    assert due(market, boundary) == after, what


# ------------------------------------------------------------------------------------ named situations

SITUATIONS: list[tuple[str, MarketState, dt.datetime, list[Command]]] = [
    ("saturday", ended(FRI), at(SAT, "10:00"), []),
    ("sunday at the start of day", ended(FRI), at(SUN, "09:00"), []),
    ("holiday at the start of day", ended(DAY2), at(HOLIDAY, "09:00"), []),
    ("holiday in the morning", ended(DAY2), at(HOLIDAY, "10:00"), []),
    ("thursday after the holiday", ended(DAY2), at(THU, "09:00"), [StartOfDay(trading_day=THU)]),
    ("before the start of day", ended(FRI), at(DAY1, "08:00"), []),
    ("started at 14:00", ended(FRI), at(DAY1, "14:00"), [StartOfDay(trading_day=DAY1), MORNING, LUNCH, AFTERNOON]),
    ("started at 14:00, day already open", state(DAY1, open=True), at(DAY1, "14:00"), [MORNING, LUNCH, AFTERNOON]),
    ("first day ever", state(0), at(DAY1, "10:00"), [StartOfDay(trading_day=DAY1), MORNING]),
    (
        "restart the next morning, yesterday open in the afternoon",
        state(DAY1, open=True, session=Session.AFTERNOON),
        at(DAY2, "10:00"),
        [CLOSE, EndOfDay(trading_day=DAY1), StartOfDay(trading_day=DAY2), MORNING],
    ),
    (
        "restart the next morning before the start of day",
        state(DAY1, open=True, session=Session.AFTERNOON),
        at(DAY2, "08:00"),
        [CLOSE, EndOfDay(trading_day=DAY1)],
    ),
    (
        "restart the next afternoon, yesterday's sessions over",
        state(DAY1, open=True, over=True),
        at(DAY2, "13:00"),
        [EndOfDay(trading_day=DAY1), StartOfDay(trading_day=DAY2), MORNING, LUNCH, AFTERNOON],
    ),
    (
        "yesterday opened but never reached its morning: its sessions are walked through",
        state(DAY1, open=True),
        at(DAY2, "08:00"),
        [MORNING, LUNCH, AFTERNOON, CLOSE, EndOfDay(trading_day=DAY1)],
    ),
    (
        "restart on monday, friday open in the morning",
        state(FRI, open=True, session=Session.MORNING),
        at(DAY1, "10:00"),
        [LUNCH, AFTERNOON, CLOSE, EndOfDay(trading_day=FRI), StartOfDay(trading_day=DAY1), MORNING],
    ),
    (
        "restart on saturday, friday open at lunch: no day to start",
        state(FRI, open=True, session=Session.LUNCH_BREAK),
        at(SAT, "10:00"),
        [AFTERNOON, CLOSE, EndOfDay(trading_day=FRI)],
    ),
    (
        "restart on the holiday, tuesday open",
        state(DAY2, open=True, session=Session.AFTERNOON),
        at(HOLIDAY, "10:00"),
        [CLOSE, EndOfDay(trading_day=DAY2)],
    ),
    (
        "never backwards: afternoon already at 10:00",
        state(DAY1, open=True, session=Session.AFTERNOON),
        at(DAY1, "10:00"),
        [],
    ),
    ("never backwards: sessions over at 14:00", state(DAY1, open=True, over=True), at(DAY1, "14:00"), []),
    ("today already ended by hand", ended(DAY1), at(DAY1, "10:00"), []),
    ("a later day open: wait for the clock", state(DAY2, open=True), at(DAY1, "10:00"), []),
    ("a later day ended: wait for the clock", ended(DAY2), at(DAY1, "10:00"), []),
    ("after the end of day", ended(DAY1), at(DAY1, "23:59"), []),
]


@pytest.mark.parametrize(("what", "market", "now", "expected"), SITUATIONS, ids=[s[0] for s in SITUATIONS])
def test_situations(what: str, market: MarketState, now: dt.datetime, expected: list[Command]) -> None:
    assert due(market, now) == expected, what
    assert due(msgspec.structs.replace(market, halted=True), now) == expected, f"{what} (halted)"


def test_the_phases_are_the_engines_order_of_sessions() -> None:
    assert all(NEXT_SESSION[a] is b for a, b in itertools.pairwise(PHASES))
    # CLOSED is the first phase and the last: whether the afternoon has closed tells them apart.
    assert (phase_of(Session.CLOSED, False), phase_of(Session.CLOSED, True)) == (0, OVER)
    assert [phase_of(s, False) for s in (Session.MORNING, Session.LUNCH_BREAK, Session.AFTERNOON)] == [1, 2, 3]
    assert advance(0, OVER) == [MORNING, LUNCH, AFTERNOON, CLOSE]
    assert advance(2, 1) == advance(OVER, OVER) == []


def test_now_in_another_zone_is_converted_to_the_calendars() -> None:
    market = state(DAY1, open=True)
    opening_utc = dt.datetime(2026, 11, 23, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai

    assert opening_utc == at(DAY1, "09:30")
    assert due(market, opening_utc) == [MORNING]
    assert due(market, opening_utc - US) == []
    # 20:30 the evening before in New York (UTC-5 in November) is 09:30 on DAY1 in Shanghai.
    assert due(market, at(SUN, "20:30", NEW_YORK)) == [MORNING]
    # The local date decides the trading day: 01:00 UTC on DAY2 is 09:00 on DAY2 in Shanghai.
    assert due(ended(DAY1), dt.datetime(2026, 11, 24, 1, 0, tzinfo=UTC)) == [StartOfDay(trading_day=DAY2)]


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due(ended(FRI), dt.datetime(2026, 11, 23, 9, 30))


def test_the_market_state_is_not_changed() -> None:
    market = state(DAY1, open=True, session=Session.AFTERNOON)
    before = msgspec.structs.replace(market)

    assert due(market, at(DAY2, "10:00")) != []
    assert wakeup(market, at(DAY1, "14:00")) == at(DAY1, "15:00")
    assert market == before


def test_other_times_of_day_from_the_options() -> None:
    early_end = SchedulerOptions(start_of_day=dt.time(10, 0), end_of_day=dt.time(14, 0))

    assert due(ended(FRI), at(DAY1, "10:00") - US, early_end) == []
    # Started after the morning opened: the day starts and the morning opens at once.
    assert due(ended(FRI), at(DAY1, "10:00"), early_end) == [StartOfDay(trading_day=DAY1), MORNING]
    # The end of day before the afternoon close: the afternoon is closed first.
    afternoon = state(DAY1, open=True, session=Session.AFTERNOON)
    assert due(afternoon, at(DAY1, "14:00"), early_end) == [CLOSE, EndOfDay(trading_day=DAY1)]
    assert wakeup(afternoon, at(DAY1, "13:30"), early_end) == at(DAY1, "14:00")


def test_an_empty_lunch_break_is_still_passed_through() -> None:
    calendar = Calendar(sessions=msgspec.structs.replace(CALENDAR.sessions, afternoon_open=dt.time(11, 30)))
    market = state(DAY1, open=True, session=Session.MORNING)

    assert due_commands(market, at(DAY1, "11:30"), calendar, OPTIONS) == [LUNCH, AFTERNOON]


# ------------------------------------------------------------------------------------ manual mode


@pytest.mark.parametrize(
    ("market", "now"),
    [
        (ended(FRI), at(DAY1, "10:00")),
        (state(DAY1, open=True, session=Session.AFTERNOON), at(DAY2, "10:00")),
        (state(DAY1, open=True), at(DAY1, "16:00")),
    ],
)
def test_manual_mode_issues_nothing_and_never_wakes(market: MarketState, now: dt.datetime) -> None:
    assert due(market, now) != []  # the calendar would act here

    assert due(market, now, MANUAL) == []
    assert wakeup(market, now, MANUAL) is None


# ------------------------------------------------------------------------------------ next_wakeup

WAKEUPS: list[tuple[str, MarketState, dt.datetime, dt.datetime]] = [
    ("monday morning", ended(FRI), at(DAY1, "08:00"), at(DAY1, "09:00")),
    ("one microsecond before the start", ended(FRI), at(DAY1, "09:00") - US, at(DAY1, "09:00")),
    ("friday after the end of day: over the weekend", ended(FRI), at(FRI, "15:30"), at(DAY1, "09:00")),
    ("saturday", ended(FRI), at(SAT, "10:00"), at(DAY1, "09:00")),
    ("tuesday evening: over the holiday", ended(DAY2), at(DAY2, "16:00"), at(THU, "09:00")),
    ("day started", state(DAY1, open=True), at(DAY1, "09:00"), at(DAY1, "09:30")),
    ("morning", state(DAY1, open=True, session=Session.MORNING), at(DAY1, "10:00"), at(DAY1, "11:30")),
    ("lunch", state(DAY1, open=True, session=Session.LUNCH_BREAK), at(DAY1, "11:30"), at(DAY1, "13:00")),
    ("afternoon", state(DAY1, open=True, session=Session.AFTERNOON), at(DAY1, "13:00"), at(DAY1, "15:00")),
    ("sessions over", state(DAY1, open=True, over=True), at(DAY1, "15:00"), at(DAY1, "15:30")),
    ("ahead of the clock", state(DAY1, open=True, session=Session.AFTERNOON), at(DAY1, "10:00"), at(DAY1, "15:00")),
    ("today ended by hand", ended(DAY1), at(DAY1, "10:00"), at(DAY2, "09:00")),
    ("a later day open", state(DAY2, open=True), at(DAY1, "10:00"), at(DAY2, "09:30")),
    ("a later day ended", ended(DAY2), at(DAY1, "10:00"), at(THU, "09:00")),
    ("the clock in UTC", ended(FRI), dt.datetime(2026, 11, 22, 12, 0, tzinfo=UTC), at(DAY1, "09:00")),
]


@pytest.mark.parametrize(("what", "market", "now", "expected"), WAKEUPS, ids=[w[0] for w in WAKEUPS])
def test_next_wakeup(what: str, market: MarketState, now: dt.datetime, expected: dt.datetime) -> None:
    assert due(market, now) == []  # up to date: the node has applied what was due

    woken = wakeup(market, now)

    assert woken == expected, what
    assert woken is not None and woken > now
    assert woken.utcoffset() == dt.timedelta(hours=8)  # in the calendar's zone
    assert due(market, woken) != []
    assert due(market, woken - US) == []


def test_next_wakeup_is_now_when_commands_are_already_due() -> None:
    now = dt.datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai

    woken = wakeup(ended(FRI), now)

    assert woken == now
    assert woken is not None and woken.tzinfo == SHANGHAI


def test_next_wakeup_without_any_trading_day_is_none() -> None:
    never = Calendar(weekdays=[6], holidays=[])  # Saturdays only...
    saturdays = [dt.date(2026, 11, 28) + dt.timedelta(weeks=n) for n in range(600)]
    never = msgspec.structs.replace(never, holidays=saturdays)  # ...and every one a holiday

    assert next_wakeup(ended(FRI), at(DAY1, "10:00"), never, OPTIONS) is None


# ------------------------------------------------------------------------------------ against the engine


def apply_due(exchange: Exchange, now: dt.datetime) -> list[Command]:
    """What a node does: apply every due command; none may be refused."""
    commands = due_commands(exchange.market, now, exchange.config.calendar, OPTIONS)
    ts = (now - EPOCH) // US * 1_000  # exchange time: integer ns since the epoch
    for command in commands:
        events = exchange.apply(command, ts=ts)
        assert not [e for e in events if isinstance(e, RequestRejected)], (command, events)
    return commands


def test_restart_next_morning_on_a_real_exchange() -> None:
    exchange = Exchange(market_config(calendar=CALENDAR))
    for command in (StartOfDay(trading_day=DAY1), MORNING, LUNCH, AFTERNOON):
        exchange.apply(command)

    applied = apply_due(exchange, at(DAY2, "10:00"))

    assert applied == [CLOSE, EndOfDay(trading_day=DAY1), StartOfDay(trading_day=DAY2), MORNING]
    assert exchange.market == state(DAY2, open=True, session=Session.MORNING)
    assert due(exchange.market, at(DAY2, "10:00")) == []


# A step forward in time: to the next wakeup, to one microsecond before it, or by a random amount.
STEPS = st.one_of(
    st.just("wakeup"),
    st.just("just before wakeup"),
    st.integers(min_value=1, max_value=4 * 86_400 * 1_000_000).map(lambda us: dt.timedelta(microseconds=us)),
    st.integers(min_value=1, max_value=3 * 3_600).map(lambda s: dt.timedelta(seconds=s)),
)


def clock_phase(local: dt.datetime) -> tuple[Session, bool]:
    """The session (and sessions_over) the session times give at a local time of an open day."""
    times = CALENDAR.sessions
    clock = local.time()
    if clock < times.morning_open:
        return Session.CLOSED, False
    if clock < times.morning_close:
        return Session.MORNING, False
    if clock < times.afternoon_open:
        return Session.LUNCH_BREAK, False
    if clock < times.afternoon_close:
        return Session.AFTERNOON, False
    return Session.CLOSED, True


@given(
    start=st.datetimes(min_value=dt.datetime(2026, 11, 18), max_value=dt.datetime(2026, 11, 21)),
    steps=st.lists(st.tuples(STEPS, st.sampled_from([SHANGHAI, UTC, NEW_YORK]), st.booleans()), max_size=40),
)
def test_applying_due_commands_is_accepted_and_idempotent(
    start: dt.datetime, steps: list[tuple[object, dt.tzinfo, bool]]
) -> None:
    exchange = Exchange(market_config(calendar=CALENDAR))
    now = start.replace(tzinfo=SHANGHAI)
    ended_days: list[int] = []
    for step, zone, toggle_halt in [("now", SHANGHAI, False), *steps]:
        woken = wakeup(exchange.market, now)
        assert woken is not None
        if step == "wakeup":
            now = woken
        elif step == "just before wakeup":
            now = max(now + US, woken - US)
        elif isinstance(step, dt.timedelta):
            now += step
        now = now.astimezone(zone)
        if toggle_halt:  # the regulator halts or resumes: the schedule goes on regardless
            halt: Command = ResumeMarket() if exchange.market.halted else HaltMarket(reason="test")
            assert not isinstance(exchange.apply(halt)[-1], RequestRejected)

        applied = apply_due(exchange, now)

        ended_days += [c.trading_day for c in applied if isinstance(c, EndOfDay)]
        market = exchange.market
        assert due(market, now) == []
        local = now.astimezone(SHANGHAI)
        today = local.year * 10_000 + local.month * 100 + local.day
        assert not (market.day_open and market.trading_day != today)
        in_hours = OPTIONS.start_of_day <= local.time() < OPTIONS.end_of_day
        if CALENDAR.is_trading_day(local.date()) and in_hours:
            assert market.day_open and market.trading_day == today
            assert (market.session, market.sessions_over) == clock_phase(local)
        woken = wakeup(market, now)
        assert woken is not None and woken > now
        assert due(market, woken) != []
        if woken - US > now:
            assert due(market, woken - US) == []  # nothing sooner
    assert ended_days == sorted(set(ended_days))
    assert all(CALENDAR.is_trading_day(dt.date(d // 10_000, d // 100 % 100, d % 100)) for d in ended_days)
