"""``run_planted``: seeded trading days of honest flow with every planted pattern, journaled and labelled.

Each day: the start of day (on the first, every account's cash and allowances and the reserve's),
the sessions with the honest flow, the reserve sales of days 1 and 3, the planted patterns at their
times, the close and the end of day. Everything goes through ``engine.recovery.Sequencer`` into the
journal the caller opened, stamped with exchange times from the calendar (no wall clock), and every
random choice comes from streams seeded by ``seed``: the same seed, config and first day give the
same journal, state hash and labels on every run.

Where the patterns land (day, instrument), so that none dilutes another's measure:

    day 1  SHEA2025  reserve sale 1 (the ramping winner's bid, identical bids, two floor bids, the
                     prohibited bid); wash within a member; a cycle on the book; large holder;
                     the prohibited order
           CCER      volume share
    day 2  SHEA2025  ramping (lifting the offers); round trip; layering
           CCER      marking the close (VWAP)
    day 3  SHEA2025  reserve sale 2 (three floor bids); wash within an owner group; order-to-trade;
                     near the position limit; the ramping winner lifts the offers again (not labelled)
           CCER      a cycle of agreement transfers; marking the close in the last ten minutes
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence

import msgspec

from engine.config import TRADING_ACCOUNT_KINDS, ExchangeConfig
from engine.exchange import Exchange
from engine.journal import Journal
from engine.messages import AllocateAllowances, Command, EndOfDay, Event, Session, SetSession, StartOfDay
from surveillance.planted.auctions import (
    AUCTION_DAYS,
    FloorBids,
    IdenticalBids,
    auction_script,
    floor_price,
    honest_bids,
    reserve_allocation,
)
from surveillance.planted.config import ALLOWANCE, planted_cast
from surveillance.planted.desk import Desk, Script, Send, Wait
from surveillance.planted.honest import HonestFlow
from surveillance.planted.labels import RULE_IDS, PlantedCase
from surveillance.planted.pattern import AuctionRecord, Context, Pattern
from surveillance.planted.patterns import (
    CircularListing,
    CircularTransfer,
    Layering,
    OrderToTrade,
    Prohibited,
    RoundTrip,
    WashSameGroup,
    WashSameMember,
)
from surveillance.planted.pressure import LargeHolder, MarkingLast, MarkingVwap, NearLimit, Ramping, VolumeShare

ORDERS_PER_DAY = 3000  # honest order messages (new, cancel, amend) per trading day
PATTERN_DAYS = 3  # the patterns are laid out over three trading days (auctions on the first and third)
# Below this honest flow the book is too thin for a ramp to lift enough offers, or a large holder to buy.
FEWEST_ORDERS = 1000

PATTERNS: dict[str, tuple[type[Pattern], ...]] = {
    "wash.same_owner": (WashSameMember, WashSameGroup),
    "wash.round_trip": (RoundTrip,),
    "circular": (CircularListing, CircularTransfer),
    "spoofing.layering": (Layering,),
    "spoofing.order_to_trade": (OrderToTrade,),
    "marking_close.vwap": (MarkingVwap,),
    "marking_close.last_minutes": (MarkingLast,),
    "concentration.volume_share": (VolumeShare,),
    "concentration.near_limit": (NearLimit,),
    "concentration.large_holder": (LargeHolder,),
    "auction.ramping": (Ramping,),
    "auction.identical_bids": (IdenticalBids,),
    "auction.floor_bids": (FloorBids,),
    "prohibited": (Prohibited,),
}


class PlantedRun(msgspec.Struct, kw_only=True):
    cases: list[PlantedCase]  # the labels, by day, rule and accounts
    trading_days: list[int]  # YYYYMMDD
    state_hash: str
    commands: int  # journal records written
    accounts: int  # trading accounts of the config


def run_planted(
    config: ExchangeConfig,
    journal: Journal,
    *,
    seed: int,
    first_day: dt.date,
    days: int = PATTERN_DAYS,
    orders_per_day: int = ORDERS_PER_DAY,
    patterns: Sequence[str] = RULE_IDS,
    exchange: Exchange | None = None,
    on_end_of_day: Callable[[list[Event]], object] | None = None,
) -> PlantedRun:
    """Run ``days`` trading days from ``first_day`` into ``journal`` with the ``patterns`` (rule ids) planted.

    ``config`` is ``planted_config(seed)`` (or one with the same accounts); ``patterns=()`` gives a
    purely honest run. ``exchange``: the exchange to run (a new one by default; the caller's, to
    snapshot it afterwards). ``on_end_of_day`` sees each end of day's events once they are journaled.
    Raises ``PlantedError`` naming the pattern when one cannot be played as designed.
    """
    unknown = sorted(set(patterns) - set(RULE_IDS))
    if unknown:
        raise ValueError(f"unknown rule ids {unknown}; known: {', '.join(RULE_IDS)}")
    if patterns and days < PATTERN_DAYS:
        raise ValueError(f"the patterns need {PATTERN_DAYS} trading days, got {days}")
    if patterns and orders_per_day < FEWEST_ORDERS:
        raise ValueError(f"the patterns need a market of at least {FEWEST_ORDERS} orders a day, got {orders_per_day}")
    calendar = config.calendar
    if not calendar.is_trading_day(first_day):
        raise ValueError(f"{first_day} is not a trading day of the calendar")
    trading_days = [first_day]
    while len(trading_days) < days:
        trading_days.append(calendar.next_trading_day(trading_days[-1]))
    cast = planted_cast(config, seed)
    exchange = exchange or Exchange(config)
    desk = Desk(exchange, journal, config)
    context = Context(desk=desk, config=config, cast=cast, seed=seed, days=trading_days, orders_per_day=orders_per_day)
    chosen = [kind(context) for rule in RULE_IDS if rule in patterns for kind in PATTERNS[rule]]
    honest = HonestFlow(config, cast, seed, orders_per_day)
    bid_rng = random.Random(f"{seed}:auction-bids")
    at_floor: set[str] = set()
    cases: list[PlantedCase] = []
    for number, day in enumerate(trading_days, 1):
        desk.start_day()
        end_of_day: list[Event] = []
        funding = _funding(config, honest, chosen) if number == 1 else []
        scripts: list[tuple[str, Script]] = [
            ("market day", _market_day(desk, day, funding, end_of_day)),
            ("honest flow", honest.day(desk, day)),
        ]
        if number in AUCTION_DAYS:
            record = AuctionRecord(
                trading_day=_yyyymmdd(day), floor=floor_price(desk.reference(ALLOWANCE), desk.ticks[ALLOWANCE])
            )
            context.auctions[number] = record
            planted = [bid for pattern in chosen for bid in pattern.bids(number, record.floor)]
            bids = planted + honest_bids(bid_rng, desk, honest.traders, day, record.floor, planted, at_floor)
            scripts.append((f"reserve sale on day {number}", auction_script(desk, day, number, record, bids)))
        for pattern in chosen:
            name = f"{pattern.rule} ({type(pattern).__name__})"
            scripts += [(name, script) for script in pattern.scripts(number)]
        cases += desk.run(scripts)
        for pattern in chosen:
            pattern.check_day(number, end_of_day)
        if on_end_of_day is not None:
            on_end_of_day(end_of_day)
    for pattern in chosen:
        cases += pattern.finish()
    return PlantedRun(
        cases=sorted(cases, key=lambda c: (c.trading_day, c.rule, c.accounts)),
        trading_days=[_yyyymmdd(day) for day in trading_days],
        state_hash=exchange.state_hash(),
        commands=journal.last_seq,
        accounts=sum(a.kind in TRADING_ACCOUNT_KINDS for a in config.accounts),
    )


def _yyyymmdd(day: dt.date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def _funding(config: ExchangeConfig, honest: HonestFlow, chosen: Sequence[Pattern]) -> list[Command]:
    reserve = next(a.id for a in config.accounts if a.kind == "reserve")
    commands: list[Command] = [AllocateAllowances(account=reserve, instrument=ALLOWANCE, quantity=reserve_allocation())]
    commands += honest.funding()
    for pattern in chosen:
        commands += pattern.funding()
    return commands


def _market_day(desk: Desk, day: dt.date, funding: list[Command], end_of_day: list[Event]) -> Script:
    """The day's start (and the first day's funding), its sessions at their times, its close and end."""
    sessions = desk.config.calendar.sessions
    yield Wait(desk.at(day, dt.time(9, 0)))
    yield Send([StartOfDay(trading_day=_yyyymmdd(day))])
    if funding:
        yield Send(funding)
    for clock, session in (
        (sessions.morning_open, Session.MORNING),
        (sessions.morning_close, Session.LUNCH_BREAK),
        (sessions.afternoon_open, Session.AFTERNOON),
        (sessions.afternoon_close, Session.CLOSED),
    ):
        yield Wait(desk.at(day, clock))
        yield Send([SetSession(session=session)])
    outcomes = yield Send([EndOfDay(trading_day=_yyyymmdd(day))])
    end_of_day.extend(outcomes[0])
    return []
