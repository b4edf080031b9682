"""What every injected pattern shares: its context, its base class, and the pre-arranged cross.

A ``Pattern`` plants one kind of manipulation for one rule id: bids it slips into the day's
auctions (``bids``), scripts it runs on given trading days (``scripts``, numbered from 1), and the
cases it leaves (``finish``, after the last day). Its accounts are the cast's dedicated
manipulators, so a label never names an honest account. A pattern draws its own randomness from
its own seeded stream, so adding or leaving out one pattern changes nobody else's choices.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Generator, Iterable

import msgspec

from engine.config import ExchangeConfig
from engine.messages import (
    AllocateAllowances,
    Command,
    DepositCash,
    Event,
    NewOrder,
    OrderAccepted,
    OrderType,
    Side,
    TradeExecuted,
)
from surveillance.planted.config import Cast
from surveillance.planted.desk import Desk, PlantedError, Script, Send, Step
from surveillance.planted.labels import PlantedCase

MANIPULATOR_CASH = 3_000_000_000  # fen: 30,000,000.00 CNY, as a large institution


class PlannedBid(msgspec.Struct, frozen=True, kw_only=True):
    at: int  # exchange time it is sent
    account: str
    price: int
    quantity: int
    tag: str = ""  # the pattern's name for it ("" an honest bid)
    refused: bool = False  # meant to be refused (a prohibited bidder)


class AuctionRecord(msgspec.Struct, kw_only=True):
    """One auction of the run, as its script saw it."""

    trading_day: int
    floor: int
    auction_id: int = 0
    bids: dict[str, list[int]] = {}  # tag -> the ids of its accepted bids
    refusals: dict[str, list[str]] = {}  # tag -> the reject codes of its refused bids
    won: dict[str, int] = {}  # account -> tonnes allocated


class Context(msgspec.Struct, kw_only=True):
    desk: Desk
    config: ExchangeConfig
    cast: Cast
    seed: int
    days: list[dt.date]
    orders_per_day: int  # the honest flow's messages a day
    auctions: dict[int, AuctionRecord] = {}  # by the number of the day it was held on


class Pattern:
    rule = ""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.desk = context.desk
        self.rng = random.Random(f"{context.seed}:{type(self).__name__}")
        self.planted: list[PlantedCase] = []

    def account(self, role: str) -> str:
        return self.context.cast.account(role)

    def at(self, day: int, clock: str) -> int:
        """The exchange time of ``clock`` (HH:MM or HH:MM:SS) on trading day number ``day``."""
        return self.desk.at(self.context.days[day - 1], dt.time.fromisoformat(clock))

    def trading(self, day: int, at: int) -> int:
        """``at``, or just after the afternoon's open when it falls in (or just before) the lunch break."""
        sessions = self.context.config.calendar.sessions
        closes = self.desk.at(self.context.days[day - 1], sessions.morning_close) - 10_000_000_000
        opens = self.desk.at(self.context.days[day - 1], sessions.afternoon_open) + 30_000_000_000
        return opens if closes <= at < opens else at

    def trading_day(self, day: int) -> int:
        return int(self.context.days[day - 1].strftime("%Y%m%d"))

    def funding(self) -> list[Command]:
        """What its accounts need at the first day's start (a pattern left out funds nobody)."""
        return []

    def fund(self, role: str, holdings: dict[str, int]) -> list[Command]:
        account = self.account(role)
        commands: list[Command] = [DepositCash(account=account, amount=MANIPULATOR_CASH)]
        for code, quantity in holdings.items():
            commands.append(AllocateAllowances(account=account, instrument=code, quantity=quantity))
        return commands

    def bids(self, day: int, floor: int) -> list[PlannedBid]:
        return []

    def scripts(self, day: int) -> list[Script]:
        return []

    def check_day(self, day: int, end_of_day: list[Event]) -> None:
        """After trading day ``day``: raise ``PlantedError`` when the day left the case weaker than planted."""

    def finish(self) -> list[PlantedCase]:
        return self.planted

    def fail(self, problem: str) -> PlantedError:
        return PlantedError(f"{self.rule} ({type(self).__name__}): {problem}")


def events_of(outcomes: list[list[Event]]) -> Iterable[Event]:
    return (event for events in outcomes for event in events)


def trades_between(outcomes: list[list[Event]], seller: str, buyer: str) -> list[TradeExecuted]:
    return [
        e
        for e in events_of(outcomes)
        if isinstance(e, TradeExecuted) and e.sell_account == seller and e.buy_account == buyer
    ]


def trades_of(outcomes: list[list[Event]], account: str) -> list[TradeExecuted]:
    return [
        e for e in events_of(outcomes) if isinstance(e, TradeExecuted) and account in (e.buy_account, e.sell_account)
    ]


def accepted_ids(outcomes: list[list[Event]]) -> list[int]:
    return [e.order_id for e in events_of(outcomes) if isinstance(e, OrderAccepted)]


def order(desk: Desk, account: str, code: str, side: Side, price: int, quantity: int, ioc: bool = False) -> NewOrder:
    return NewOrder(
        account=account,
        instrument=code,
        client_order_id=desk.client_id(),
        side=side,
        order_type=OrderType.LIMIT_IOC if ioc else OrderType.LIMIT,
        quantity=quantity,
        price=price,
    )


def cross(
    pattern: Pattern, code: str, seller: str, buyer: str, quantity: int
) -> Generator[Step, list[list[Event]], list[int]]:
    """``seller`` sells ``quantity`` to ``buyer`` on the book, pre-arranged; the ids of their trades.

    Both orders go in one batch. The price sits inside the spread when there is room, so the two meet
    only each other; with a one-tick spread the seller joins the best offer and the buyer takes the
    whole level, the honest offers ahead of the seller first (as a real pre-arranged trade would).
    """
    desk = pattern.desk
    tick = desk.ticks[code]
    bid, ask = desk.touch(code, Side.BUY), desk.touch(code, Side.SELL)
    ahead = 0
    if bid is None and ask is None:
        price = desk.reference(code)
    elif ask is None:
        price = bid[0] + tick if bid is not None else 0
    elif bid is None or ask[0] - bid[0] >= 2 * tick:
        price = ask[0] - tick
    else:
        price, ahead = ask
    outcomes = yield Send(
        [
            order(desk, seller, code, Side.SELL, price, quantity),
            order(desk, buyer, code, Side.BUY, price, ahead + quantity, ioc=True),
        ]
    )
    trades = trades_between(outcomes, seller, buyer)
    if sum(t.quantity for t in trades) != quantity:
        raise pattern.fail(f"{seller} sold {sum(t.quantity for t in trades)} t to {buyer}, not {quantity} t")
    return [t.trade_id for t in trades]
