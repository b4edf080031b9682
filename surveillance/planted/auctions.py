"""The planted market's reserve sales (days 1 and 3), their honest bidders, and the planted bids.

Each auction sells reserve allowances for market supply at a fixed floor below the market, bidding
09:30-11:30 with the time tie-break (Shanghai), so it clears when bidding closes. The regulator
announces it before the open; the desk opens and closes it at the window's ends (the node's scheduler
would). About thirty honest bidders each send one to three bids spread over hundreds of ticks above
the floor, in lots; no two bids of different members are alike, and a member or owner group bids
exactly the floor at most once over the run.

Planted bids:
- ``IdenticalBids`` (auction.identical_bids): two covered entities of different members send the same
  set of three bids (price and quantity), forty minutes apart, in the first auction.
- ``FloorBids`` (auction.floor_bids): the planted owner group's two accounts bid exactly the floor twice
  in the first auction and three times in the second.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import ClassVar

from engine.messages import (
    AnnounceAuction,
    AuctionAnnounced,
    AuctionKind,
    AuctionTerms,
    BidAccepted,
    BidAllocated,
    CloseAuction,
    Command,
    OpenAuction,
    Purpose,
    RequestRejected,
    SubmitBid,
)
from surveillance.planted.config import ALLOWANCE
from surveillance.planted.desk import Desk, Script, Send, Wait
from surveillance.planted.honest import Trader
from surveillance.planted.labels import PlantedCase, case
from surveillance.planted.pattern import AuctionRecord, Pattern, PlannedBid, events_of

AUCTION_DAYS = (1, 3)
VOLUME_T = 200_000  # offered in each auction
FLOOR_BP = 9300  # the floor: 93% of the day's reference price
BIDDERS = 30
SPREAD_TICKS = 500  # honest bids from one tick above the floor up to this many
FLOOR_CHANCE = 0.02  # an honest bid exactly at the floor (once per member and group at most)
MOST_T = {"covered_entity": 60_000, "institution": 12_000}  # an honest bidder's tonnes per auction


def floor_price(reference: int, tick: int) -> int:
    return (reference * FLOOR_BP + 5_000 * tick) // (10_000 * tick) * tick


def auction_script(desk: Desk, day: dt.date, number: int, record: AuctionRecord, bids: Sequence[PlannedBid]) -> Script:
    reserve = next(a.id for a in desk.config.accounts if a.kind == "reserve")
    terms = AuctionTerms(
        kind=AuctionKind.RESERVE_SALE,
        instrument=ALLOWANCE,
        auctioneer=reserve,
        volume=VOLUME_T,
        purpose=Purpose.MARKET_SUPPLY,
        price=record.floor,
        opens_at=desk.at(day, dt.time(9, 30)),
        closes_at=desk.at(day, dt.time(11, 30)),
        name=f"Reserve sale {number}",
    )
    yield Wait(desk.at(day, dt.time(9, 5)))
    outcomes = yield Send([AnnounceAuction(terms=terms)])
    record.auction_id = next(e.auction_id for e in events_of(outcomes) if isinstance(e, AuctionAnnounced))
    yield Wait(terms.opens_at + 500_000_000)
    yield Send([OpenAuction(auction_id=record.auction_id)])
    for bid in sorted(bids, key=lambda b: b.at):
        yield Wait(bid.at)
        command = SubmitBid(
            account=bid.account,
            auction_id=record.auction_id,
            client_bid_id=desk.client_id(),
            price=bid.price,
            quantity=bid.quantity,
        )
        outcomes = yield Send([command], refused=bid.refused)
        for event in events_of(outcomes):
            if isinstance(event, BidAccepted):
                record.bids.setdefault(bid.tag, []).append(event.bid_id)
            elif isinstance(event, RequestRejected):
                record.refusals.setdefault(bid.tag, []).append(event.code.name)
    yield Wait(terms.closes_at)
    outcomes = yield Send([CloseAuction(auction_id=record.auction_id)])
    for event in events_of(outcomes):
        if isinstance(event, BidAllocated):
            record.won[event.account] = record.won.get(event.account, 0) + event.quantity
    return []


def reserve_allocation() -> int:
    """The reserve's allowances for every auction of the run."""
    return VOLUME_T * len(AUCTION_DAYS)


def honest_bids(
    rng: random.Random,
    desk: Desk,
    traders: Sequence[Trader],
    day: dt.date,
    floor: int,
    planted: Sequence[PlannedBid],
    at_floor: set[str],
) -> list[PlannedBid]:
    """The honest bids of one auction; ``at_floor``: the members and groups that bid the floor already."""
    tick = desk.ticks[ALLOWANCE]
    eligible = [t for t in traders if t.kind in MOST_T]
    taken = {(b.price, b.quantity) for b in planted}
    opens, closes = desk.at(day, dt.time(9, 31)), desk.at(day, dt.time(11, 25))
    bids: list[PlannedBid] = []
    for bidder in rng.sample(eligible, min(BIDDERS, len(eligible))):
        left = MOST_T[bidder.kind]
        for _ in range(rng.randint(1, 3)):
            quantity = rng.randint(10, max(10, left // 300)) * 100
            keys = {"member:" + bidder.member, "group:" + bidder.group} - {"group:"}
            price = floor + rng.randint(1, SPREAD_TICKS) * tick
            if rng.random() < FLOOR_CHANCE and not keys & at_floor:
                price = floor
                at_floor |= keys
            while (price, quantity) in taken:
                quantity += 100
            if quantity > left:
                break
            taken.add((price, quantity))
            left -= quantity
            bids.append(
                PlannedBid(at=rng.randrange(opens, closes), account=bidder.account, price=price, quantity=quantity)
            )
    return bids


class IdenticalBids(Pattern):
    rule = "auction.identical_bids"
    DAY, ROLES = 1, ("identical_a", "identical_b")

    def funding(self) -> list[Command]:
        return [c for role in self.ROLES for c in self.fund(role, {})]

    def bids(self, day: int, floor: int) -> list[PlannedBid]:
        if day != self.DAY:
            return []
        tick, rng = self.desk.ticks[ALLOWANCE], self.rng
        prices = sorted(rng.sample(range(150, 450), 3), reverse=True)
        book = [(floor + p * tick, rng.randint(30, 90) * 100) for p in prices]
        bids = []
        for role, start in zip(self.ROLES, ("10:00", "10:40"), strict=True):
            first = self.at(day, start)
            bids += [
                PlannedBid(
                    at=first + n * 60_000_000_000, account=self.account(role), price=p, quantity=q, tag=self.rule
                )
                for n, (p, q) in enumerate(book)
            ]
        return bids

    def finish(self) -> list[PlantedCase]:
        record = self.context.auctions[self.DAY]
        bids = record.bids.get(self.rule, [])
        accounts = [self.account(role) for role in self.ROLES]
        return [case(self.rule, record.trading_day, ALLOWANCE, accounts, bids=bids, auctions=[record.auction_id])]


class FloorBids(Pattern):
    rule = "auction.floor_bids"
    ROLES = ("group_a", "group_b")
    # Per auction day: (role, time, tonnes) of each bid at exactly the floor.
    PLAN: ClassVar[dict[int, tuple[tuple[str, str, int], ...]]] = {
        1: (("group_a", "09:50", 3000), ("group_b", "10:50", 2000)),
        3: (("group_a", "09:45", 4000), ("group_b", "10:15", 2500), ("group_a", "11:00", 1500)),
    }

    def funding(self) -> list[Command]:
        return [c for role in self.ROLES for c in self.fund(role, {})]

    def bids(self, day: int, floor: int) -> list[PlannedBid]:
        tag = f"{self.rule}:{day}"
        return [
            PlannedBid(at=self.at(day, clock), account=self.account(role), price=floor, quantity=tonnes, tag=tag)
            for role, clock, tonnes in self.PLAN.get(day, ())
        ]

    def finish(self) -> list[PlantedCase]:
        """One case on the second auction's day: the group's third to fifth bid at the floor (the first
        two, in the first auction, are evidence a look-back rule adds; none of them is required)."""
        first, last = (self.context.auctions[day] for day in AUCTION_DAYS)
        bids = last.bids.get(f"{self.rule}:{AUCTION_DAYS[1]}", [])
        accounts = [self.account(role) for role in self.ROLES]
        auctions = [first.auction_id, last.auction_id]
        return [case(self.rule, last.trading_day, ALLOWANCE, accounts, bids=bids, auctions=auctions)]
