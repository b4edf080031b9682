"""Planted trading between manipulators, and orders that were never meant to trade.

Each class plants one instance of a rule (surveillance/settings.py has the thresholds it clears):

- ``WashSameMember`` (wash.same_owner): two client accounts of one member sell and buy to each other.
- ``WashSameGroup`` (wash.same_owner): two accounts of one declared owner group, of different members.
- ``RoundTrip`` (wash.round_trip): A sells to B, and minutes later B sells the same tonnes back.
- ``CircularListing`` / ``CircularTransfer`` (circular): A → B → C → A of equal tonnes within the day,
  on the book, and by agreement transfers (at least the transfer minimum, in the afternoon).
- ``Layering`` (spoofing.layering): an account with an ordinary morning places large bids below the best
  bid, sells into the bid, and cancels the large bids about a second after its fill.
- ``OrderToTrade`` (spoofing.order_to_trade): far-away orders entered, amended and cancelled, one trade.
- ``Prohibited`` (prohibited): a staff account sends an order (its bid is in ``auctions``).
"""

from __future__ import annotations

import statistics

from engine.messages import (
    AcceptTransfer,
    AmendOrder,
    CancelOrder,
    Command,
    OrderRejected,
    ProposeTransfer,
    Reject,
    Side,
    TransferExecuted,
    TransferProposed,
)
from surveillance.planted.config import ALLOWANCE, OFFSET
from surveillance.planted.desk import Script, Send, Wait
from surveillance.planted.labels import PlantedCase, case
from surveillance.planted.pattern import Pattern, PlannedBid, accepted_ids, cross, events_of, order, trades_of


class WashSameMember(Pattern):
    rule = "wash.same_owner"
    DAY, CODE, ROLES = 1, ALLOWANCE, ("wash_a", "wash_b")
    TIMES = ("13:30", "13:34", "13:39")

    def funding(self) -> list[Command]:
        return [c for role in self.ROLES for c in self.fund(role, {self.CODE: 20_000})]

    def scripts(self, day: int) -> list[Script]:
        return [self._wash()] if day == self.DAY else []

    def _wash(self) -> Script:
        seller, buyer = (self.account(role) for role in self.ROLES)
        trades: list[int] = []
        for clock in self.TIMES:
            yield Wait(self.at(self.DAY, clock))
            trades += yield from cross(self, self.CODE, seller, buyer, self.rng.randint(12, 20) * 100)
        return [case(self.rule, self.trading_day(self.DAY), self.CODE, [seller, buyer], trades=trades)]


class WashSameGroup(WashSameMember):
    DAY, CODE, ROLES = 3, ALLOWANCE, ("group_a", "group_b")
    TIMES = ("13:20", "13:26", "13:31")


class RoundTrip(Pattern):
    rule = "wash.round_trip"
    DAY, CODE = 2, ALLOWANCE

    def funding(self) -> list[Command]:
        return [c for role in ("round_trip_a", "round_trip_b") for c in self.fund(role, {self.CODE: 20_000})]

    def scripts(self, day: int) -> list[Script]:
        return [self._round_trip()] if day == self.DAY else []

    def _round_trip(self) -> Script:
        a, b = self.account("round_trip_a"), self.account("round_trip_b")
        quantity = self.rng.randint(20, 30) * 100
        yield Wait(self.at(self.DAY, "11:02"))
        trades = yield from cross(self, self.CODE, a, b, quantity)
        yield Wait(self.at(self.DAY, "11:02") + self.rng.randint(4, 8) * 60_000_000_000)
        trades += yield from cross(self, self.CODE, b, a, quantity)
        return [case(self.rule, self.trading_day(self.DAY), self.CODE, [a, b], trades=trades)]


class CircularListing(Pattern):
    rule = "circular"
    DAY, CODE, TIMES = 1, ALLOWANCE, ("10:15", "10:26", "10:38")

    def funding(self) -> list[Command]:
        return [c for role in ("cycle_a", "cycle_b", "cycle_c") for c in self.fund(role, {self.CODE: 20_000})]

    def scripts(self, day: int) -> list[Script]:
        return [self._cycle()] if day == self.DAY else []

    def _cycle(self) -> Script:
        ring = [self.account(role) for role in ("cycle_a", "cycle_b", "cycle_c")]
        quantity = self.rng.randint(25, 40) * 100
        trades: list[int] = []
        for index, clock in enumerate(self.TIMES):
            yield Wait(self.at(self.DAY, clock))
            trades += yield from cross(self, self.CODE, ring[index], ring[(index + 1) % 3], quantity)
        return [case(self.rule, self.trading_day(self.DAY), self.CODE, ring, trades=trades)]


class CircularTransfer(Pattern):
    rule = "circular"
    DAY, CODE, TIMES = 3, OFFSET, ("13:10", "13:35", "14:05")

    def funding(self) -> list[Command]:
        holding = self.context.config.transfer.min_quantity_t * 3 // 2
        return [c for role in ("cycle_a", "cycle_b", "cycle_c") for c in self.fund(role, {self.CODE: holding})]

    def scripts(self, day: int) -> list[Script]:
        return [self._cycle()] if day == self.DAY else []

    def _cycle(self) -> Script:
        ring = [self.account(role) for role in ("cycle_a", "cycle_b", "cycle_c")]
        quantity = self.context.config.transfer.min_quantity_t + self.rng.randint(1, 4) * 5000
        tick = self.desk.ticks[self.CODE]
        transfers: list[int] = []
        for index, clock in enumerate(self.TIMES):
            yield Wait(self.at(self.DAY, clock))
            seller, buyer = ring[index], ring[(index + 1) % 3]
            price = self.desk.reference(self.CODE) + self.rng.randint(-5, 5) * tick
            proposal = ProposeTransfer(
                account=seller,
                client_proposal_id=self.desk.client_id(),
                side=Side.SELL,
                counterparty=buyer,
                instrument=self.CODE,
                price=price,
                quantity=quantity,
            )
            outcomes = yield Send([proposal])
            transfer_id = next(e.transfer_id for e in events_of(outcomes) if isinstance(e, TransferProposed))
            outcomes = yield Send([AcceptTransfer(account=buyer, transfer_id=transfer_id)], after=90_000_000_000)
            if not any(isinstance(e, TransferExecuted) for e in events_of(outcomes)):
                raise self.fail(f"transfer {transfer_id} from {seller} to {buyer} did not execute")
            transfers.append(transfer_id)
        return [case(self.rule, self.trading_day(self.DAY), self.CODE, ring, transfers=transfers)]


class Layering(Pattern):
    rule = "spoofing.layering"
    DAY, CODE = 2, ALLOWANCE
    ORDINARY = 8  # the morning's ordinary orders, whose median the large ones are measured by
    LAYERS, MULTIPLE = 4, 20  # large bids, each this multiple of the median

    def funding(self) -> list[Command]:
        return self.fund("layering", {self.CODE: 20_000})

    def scripts(self, day: int) -> list[Script]:
        return [self._layering()] if day == self.DAY else []

    def _layering(self) -> Script:
        desk, rng, code, spoofer = self.desk, self.rng, self.CODE, self.account("layering")
        tick = desk.ticks[code]
        sizes = []
        for number in range(self.ORDINARY):  # an ordinary morning: buys taken at the offer
            yield Wait(self.at(self.DAY, "09:40") + number * rng.randint(6, 10) * 60_000_000_000)
            ask = desk.touch(code, Side.SELL)
            size = rng.randint(20, 40) * 10
            sizes.append(size)
            price = ask[0] if ask else desk.reference(code)
            yield Send([order(desk, spoofer, code, Side.BUY, price, size, ioc=True)])
        large = self.MULTIPLE * int(statistics.median(sizes))
        bid = None
        start = self.at(self.DAY, "13:45")
        while bid is None:  # a bid to sell into, and room below it
            yield Wait(start)
            bid = desk.touch(code, Side.BUY)
            start += 30_000_000_000
        layers = [order(desk, spoofer, code, Side.BUY, bid[0] - (2 + n) * tick, large) for n in range(self.LAYERS)]
        spoof_ids: list[int] = []
        for layer in layers:
            spoof_ids += accepted_ids((yield Send([layer], after=200_000_000)))
        bid = desk.touch(code, Side.BUY)
        assert bid is not None  # the large bids sit below it
        genuine = min(bid[1], int(statistics.median(sizes)))
        outcomes = yield Send([order(desk, spoofer, code, Side.SELL, bid[0], genuine, ioc=True)], after=1_500_000_000)
        fills = [t.trade_id for t in trades_of(outcomes, spoofer) if t.sell_account == spoofer]
        if not fills:
            raise self.fail(f"{spoofer}'s sell into the bid at {bid[0]} did not trade")
        yield Send([CancelOrder(account=spoofer, order_id=i) for i in spoof_ids], after=1_100_000_000)
        return [case(self.rule, self.trading_day(self.DAY), code, [spoofer], orders=spoof_ids, trades=fills)]


class OrderToTrade(Pattern):
    rule = "spoofing.order_to_trade"
    DAY, CODE = 3, ALLOWANCE
    ROUNDS = 25  # orders entered far from the touch; every other one amended; all cancelled
    AWAY_TICKS = 20

    def funding(self) -> list[Command]:
        return self.fund("order_to_trade", {})

    def scripts(self, day: int) -> list[Script]:
        return [self._churn()] if day == self.DAY else []

    def _churn(self) -> Script:
        desk, rng, code, account = self.desk, self.rng, self.CODE, self.account("order_to_trade")
        tick = desk.ticks[code]
        trades = 0
        for number in range(self.ROUNDS):
            start = self.at(self.DAY, "09:45") + number * 210_000_000_000
            yield Wait(start)
            # Away from the best bid, the offer and the previous close alike (another account's bid far
            # above the market may be the best for a while), out of reach of any honest seller.
            touches = [t[0] for t in (desk.touch(code, Side.BUY), desk.touch(code, Side.SELL)) if t is not None]
            price = min([*touches, desk.reference(code)]) - (self.AWAY_TICKS + rng.randint(0, 5)) * tick
            (order_id,) = accepted_ids(
                (yield Send([order(desk, account, code, Side.BUY, price, rng.randint(10, 50) * 10)]))
            )
            if number % 2 == 0:
                yield Wait(start + 40_000_000_000)
                if order_id in desk.live:
                    leaves = desk.live[order_id].leaves
                    yield Send([AmendOrder(account=account, order_id=order_id, price=price - tick, quantity=leaves)])
            yield Wait(start + 80_000_000_000)
            if order_id in desk.live:
                yield Send([CancelOrder(account=account, order_id=order_id)])
            if number == self.ROUNDS // 2:  # its one trade: a tonne taken at the offer
                ask = desk.touch(code, Side.SELL)
                if ask is not None:
                    outcomes = yield Send([order(desk, account, code, Side.BUY, ask[0], 1, ioc=True)])
                    trades += len(trades_of(outcomes, account))
        if trades > 1 or desk.fills[account, code] > 1:
            raise self.fail(f"{account} traded {desk.fills[account, code]} times; planted at most one")
        return [case(self.rule, self.trading_day(self.DAY), code, [account])]


class Prohibited(Pattern):
    rule = "prohibited"
    DAY, CODE = 1, ALLOWANCE

    def bids(self, day: int, floor: int) -> list[PlannedBid]:
        if day != self.DAY:
            return []
        staff, tick = self.account("prohibited"), self.desk.ticks[self.CODE]
        return [
            PlannedBid(
                at=self.at(day, "10:10"),
                account=staff,
                price=floor + 100 * tick,
                quantity=1000,
                tag=self.rule,
                refused=True,
            )
        ]

    def scripts(self, day: int) -> list[Script]:
        return [self._order()] if day == self.DAY else []

    def _order(self) -> Script:
        desk, staff = self.desk, self.account("prohibited")
        yield Wait(self.at(self.DAY, "10:05"))
        outcomes = yield Send([order(desk, staff, self.CODE, Side.BUY, desk.reference(self.CODE), 500)], refused=True)
        codes = {e.code.name for e in events_of(outcomes) if isinstance(e, OrderRejected)}
        if codes != {Reject.PROHIBITED_PARTICIPANT.name}:
            raise self.fail(f"{staff}'s order was refused with {sorted(codes)}, not PROHIBITED_PARTICIPANT")
        return []

    def finish(self) -> list[PlantedCase]:
        record = self.context.auctions.get(self.DAY)
        if record is None:
            return []
        if record.refusals.get(self.rule) != [Reject.PROHIBITED_PARTICIPANT.name]:
            raise self.fail(
                f"the staff bid was refused with {record.refusals.get(self.rule)}, not PROHIBITED_PARTICIPANT"
            )
        staff = self.account("prohibited")
        return [case(self.rule, self.trading_day(self.DAY), self.CODE, [staff], auctions=[record.auction_id])]
