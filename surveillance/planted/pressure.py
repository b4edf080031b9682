"""Planted pressure on the price, the volume and the holdings (each against honest counterparties).

- ``MarkingVwap`` (marking_close.vwap): bids well above the offer from the open until it has bought a
  quarter of a day's volume: the sellers who hit it lift the day's VWAP, which is the close.
- ``MarkingLast`` (marking_close.last_minutes): the same, bidding up every minute, in the last ten.
- ``VolumeShare`` (concentration.volume_share): takes the touch on alternate sides all day, until it
  has traded most of the volume, at the market's own prices.
- ``NearLimit`` / ``LargeHolder`` (concentration.near_limit / .large_holder): an institution allocated
  close to the line buys over the day until its holding is within the limit's margin, or above the
  large-holder threshold.
- ``Ramping`` (auction.ramping): wins the first auction with a high bid, then on the next days lifts
  the offers level after level (each of its buys at a higher price than the one before).

``check_day`` holds each case to its plan after the close (shares and close moves are measured as
surveillance measures them), so a planted case is never a borderline one.
"""

from __future__ import annotations

from engine.messages import AmendOrder, CancelOrder, Command, Event, LargeHolderReported, Side, TradeExecuted
from surveillance.planted.config import ALLOWANCE, OFFSET
from surveillance.planted.desk import Script, Send, Wait
from surveillance.planted.labels import case
from surveillance.planted.pattern import Pattern, PlannedBid, accepted_ids, order, trades_of

MINUTE = 60_000_000_000


def close_of(trades: list[TradeExecuted], tick: int) -> int:
    """The close: the VWAP of the trades, half-up to the tick (0 without trades)."""
    volume = sum(t.quantity for t in trades)
    turnover = sum(t.price * t.quantity for t in trades)
    return (2 * turnover + volume * tick) // (2 * volume * tick) * tick if volume else 0


def close_move(trades: list[TradeExecuted], account: str, tick: int) -> tuple[int, int]:
    """(the account's share of the volume in basis points, ticks the close moves without its trades)."""
    theirs = [t for t in trades if account in (t.buy_account, t.sell_account)]
    others = [t for t in trades if account not in (t.buy_account, t.sell_account)]
    volume = sum(t.quantity for t in trades)
    share = 10_000 * sum(t.quantity for t in theirs) // volume if volume else 0
    return share, abs(close_of(trades, tick) - close_of(others, tick)) // tick


class MarkingVwap(Pattern):
    rule = "marking_close.vwap"
    DAY, CODE, ROLE = 2, OFFSET, "marking_vwap"
    FROM, UNTIL = "09:31:30", "14:30"
    # Its bid: this far above the offer, entered while the day's book is still thin, so that it meets
    # few offers and rests: sellers hit it at its own price all morning (trades at the offers' prices
    # would not lift the VWAP). Its tonnes: a quarter of the day's volume of a flow of that many orders.
    PREMIUM_TICKS, TONNES_PER_ORDER = 40, 3
    PLANTED = (1500, 3)  # at least this share (bp) and close move (ticks) at the end of the day

    def funding(self) -> list[Command]:
        return self.fund(self.ROLE, {})

    def scripts(self, day: int) -> list[Script]:
        return [self._bid_up()] if day == self.DAY else []

    def _bid_up(self) -> Script:
        desk, code, account = self.desk, self.CODE, self.account(self.ROLE)
        tick = desk.ticks[code]
        yield Wait(self.at(self.DAY, self.FROM))
        ask = desk.touch(code, Side.SELL)
        price = (ask[0] if ask else desk.reference(code)) + self.PREMIUM_TICKS * tick
        quantity = min(max(self.context.orders_per_day * self.TONNES_PER_ORDER, 1000), 99_000)
        (order_id,) = accepted_ids((yield Send([order(desk, account, code, Side.BUY, price, quantity)])))
        yield Wait(self.at(self.DAY, self.UNTIL))
        if order_id in desk.live:
            yield Send([CancelOrder(account=account, order_id=order_id)])
        return []

    def check_day(self, day: int, end_of_day: list[Event]) -> None:
        if day != self.DAY:
            return
        account, code = self.account(self.ROLE), self.CODE
        trades = [t for t in self.desk.trades if t.instrument == code]
        share, move = close_move(trades, account, self.desk.ticks[code])
        if share < self.PLANTED[0] or move < self.PLANTED[1]:
            raise self.fail(f"{account} traded {share} bp of the volume and moved the close {move} ticks")
        mine = [t.trade_id for t in trades if account in (t.buy_account, t.sell_account)]
        self.planted.append(case(self.rule, self.trading_day(day), code, [account], trades=mine))


class MarkingLast(MarkingVwap):
    rule = "marking_close.last_minutes"
    DAY, CODE, ROLE = 3, OFFSET, "marking_last"
    FROM = "14:50:05"
    PREMIUM_TICKS, QUANTITY, RAISE_TICKS = 15, 6000, 4
    PLANTED = (1200, 3)

    def _bid_up(self) -> Script:
        desk, code, account = self.desk, self.CODE, self.account(self.ROLE)
        tick = desk.ticks[code]
        start = self.at(self.DAY, self.FROM)
        yield Wait(start)
        ask = desk.touch(code, Side.SELL)
        price = (ask[0] if ask else desk.reference(code)) + self.PREMIUM_TICKS * tick
        (order_id,) = accepted_ids((yield Send([order(desk, account, code, Side.BUY, price, self.QUANTITY)])))
        for minute in range(1, 10):
            yield Wait(start + minute * MINUTE)
            price += self.RAISE_TICKS * tick
            if order_id in desk.live:
                amend = AmendOrder(account=account, order_id=order_id, price=price, quantity=self.QUANTITY)
                yield Send([amend])
            else:
                (order_id,) = accepted_ids((yield Send([order(desk, account, code, Side.BUY, price, self.QUANTITY)])))
        return []


class VolumeShare(Pattern):
    rule = "concentration.volume_share"
    DAY, CODE, ROLE = 1, OFFSET, "volume_share"
    FROM, UNTIL = "09:32", "14:58:30"
    TARGET = 0.8  # of the others' volume: about 44% of the day's
    PLANTED_BP = 3500

    def funding(self) -> list[Command]:
        return self.fund(self.ROLE, {self.CODE: 100_000})

    def scripts(self, day: int) -> list[Script]:
        return [self._churn()] if day == self.DAY else []

    def _churn(self) -> Script:
        desk, code, account = self.desk, self.CODE, self.account(self.ROLE)
        now, until = self.at(self.DAY, self.FROM), self.at(self.DAY, self.UNTIL)
        bought = sold = 0
        while now < until:
            now = self.trading(self.DAY, now)
            yield Wait(now)
            now += MINUTE // 2
            mine = desk.traded[account, code]
            if mine >= self.TARGET * (desk.volume[code] - mine) + 1000:
                continue
            side = Side.BUY if bought <= sold else Side.SELL
            touch = desk.touch(code, Side.SELL if side is Side.BUY else Side.BUY)
            if touch is None:
                continue
            quantity = min(touch[1], 2000)
            if side is Side.SELL:
                quantity = min(quantity, desk.view.holding(account, code).available)
            if quantity <= 0:
                continue
            outcomes = yield Send([order(desk, account, code, side, touch[0], quantity, ioc=True)])
            for trade in trades_of(outcomes, account):
                if trade.buy_account == account:
                    bought += trade.quantity
                else:
                    sold += trade.quantity
        return []

    def check_day(self, day: int, end_of_day: list[Event]) -> None:
        if day != self.DAY:
            return
        account, code = self.account(self.ROLE), self.CODE
        share = 10_000 * self.desk.traded[account, code] // max(self.desk.volume[code], 1)
        if share < self.PLANTED_BP:
            raise self.fail(f"{account} traded {share} bp of the day's volume")
        self.planted.append(case(self.rule, self.trading_day(day), code, [account]))


class NearLimit(Pattern):
    rule = "concentration.near_limit"
    DAY, CODE, ROLE = 3, ALLOWANCE, "near_limit"
    TARGET_BP = 9750  # of the position limit, held at the close
    # Bought on its day: tonnes per honest message of a day (about a fifth of the day's volume).
    TONNES_PER_ORDER, FEWEST, MOST = 3, 1000, 15_000

    def limit(self) -> int:
        return self.context.config.risk.position_limit_t["institution"]

    def target(self) -> int:
        return self.limit() * self.TARGET_BP // 10_000

    def funding(self) -> list[Command]:
        bought = min(max(self.context.orders_per_day * self.TONNES_PER_ORDER, self.FEWEST), self.MOST)
        return self.fund(self.ROLE, {self.CODE: self.target() - bought})

    def scripts(self, day: int) -> list[Script]:
        return [self._accumulate()] if day == self.DAY else []

    def _accumulate(self) -> Script:
        """Buys the offers every few minutes, reaching deeper into the book while behind its pace."""
        desk, code, account = self.desk, self.CODE, self.account(self.ROLE)
        tick = desk.ticks[code]
        now, until = self.at(self.DAY, "09:40"), self.at(self.DAY, "14:45")
        reach = 3  # ticks above the offer its buys go
        while now < until:
            now = self.trading(self.DAY, now)
            yield Wait(now)
            now += 3 * MINUTE
            wanted = self.target() - desk.held(account, code)
            ask = desk.touch(code, Side.SELL)
            if wanted <= 0:
                break
            if ask is None:
                continue
            pace = wanted * 3 * MINUTE // max(until - now, 3 * MINUTE)
            before = desk.held(account, code)
            yield Send([order(desk, account, code, Side.BUY, ask[0] + reach * tick, min(wanted, 3000), ioc=True)])
            reach = min(reach + 3, 40) if desk.held(account, code) - before < pace else max(reach - 1, 3)
        return []

    def check_day(self, day: int, end_of_day: list[Event]) -> None:
        if day != self.DAY:
            return
        account = self.account(self.ROLE)
        held, limit = self.desk.held(account, self.CODE), self.limit()
        if not self.target() - 1000 <= held <= limit:
            raise self.fail(f"{account} holds {held} t at the close, planted {self.target()} of the limit {limit}")
        self.planted.append(case(self.rule, self.trading_day(day), self.CODE, [account]))


class LargeHolder(NearLimit):
    rule = "concentration.large_holder"
    DAY, CODE, ROLE = 1, ALLOWANCE, "large_holder"
    ABOVE_BP = 10_600  # of the large-holder threshold, held at the close

    def threshold(self) -> int:
        return self.context.config.risk.large_holder_t["institution"]

    def target(self) -> int:
        return self.threshold() * self.ABOVE_BP // 10_000

    def check_day(self, day: int, end_of_day: list[Event]) -> None:
        if day != self.DAY:
            return
        account = self.account(self.ROLE)
        reported = [e for e in end_of_day if isinstance(e, LargeHolderReported) and e.account == account]
        if not reported or reported[0].holding < self.target() - 1000:
            raise self.fail(f"{account} was not reported as a large holder above {self.target()} t")
        self.planted.append(case(self.rule, self.trading_day(day), self.CODE, [account]))


class Ramping(Pattern):
    rule = "auction.ramping"
    CODE, ROLE = ALLOWANCE, "ramping"
    BID_TICKS, WON_T = 560, 40_000  # its bid in the first auction: above every honest bid
    # Offers lifted at once (levels at most), then for some minutes each new offer at or above its last
    # buy, until it has risen this far: far beyond an honest winner's buys, which drift a few ticks.
    LEVELS, LATER, RISE_TICKS = 25, 15, 20
    PLANTED = (6, 12)  # at least this many buys (trades) on the day, rising at least this many ticks

    def funding(self) -> list[Command]:
        return self.fund(self.ROLE, {self.CODE: 20_000})

    def bids(self, day: int, floor: int) -> list[PlannedBid]:
        if day != 1:
            return []
        tick = self.desk.ticks[self.CODE]
        price = floor + self.BID_TICKS * tick
        return [
            PlannedBid(
                at=self.at(day, "09:40"),
                account=self.account(self.ROLE),
                price=price,
                quantity=self.WON_T,
                tag=self.rule,
            )
        ]

    def scripts(self, day: int) -> list[Script]:
        return [self._lift(day)] if day in (2, 3) else []

    def _lift(self, day: int) -> Script:
        """Lifts the offers level after level (each buy at a higher price than the one before), at once;
        then, for a while, each new offer at or above its last price."""
        desk, code, account = self.desk, self.CODE, self.account(self.ROLE)
        tick = desk.ticks[code]
        record = self.context.auctions[1]
        if record.won.get(account, 0) <= 0:
            raise self.fail(f"{account} won nothing in auction {record.auction_id}")
        yield Wait(self.at(day, "14:00") + self.rng.randint(0, 20) * MINUTE)
        bought: list[TradeExecuted] = []
        for attempt in range(self.LEVELS + self.LATER):
            if bought and bought[-1].price - bought[0].price >= self.RISE_TICKS * tick:
                break
            if attempt >= self.LEVELS:
                yield Wait(desk.now + MINUTE)
            ask = desk.touch(code, Side.SELL)
            if ask is None or (bought and ask[0] < bought[-1].price):
                if attempt < self.LEVELS:
                    break
                continue
            outcomes = yield Send([order(desk, account, code, Side.BUY, ask[0], ask[1], ioc=True)], after=2_000_000_000)
            bought += [t for t in trades_of(outcomes, account) if t.buy_account == account]
        prices = [t.price for t in bought]
        if day != 2:
            return []
        if len(prices) < self.PLANTED[0] or prices[-1] - prices[0] < self.PLANTED[1] * tick or prices != sorted(prices):
            raise self.fail(f"{account} bought at {prices}: not the planted ramp")
        trades = [t.trade_id for t in bought]
        return [case(self.rule, self.trading_day(day), code, [account], trades=trades, auctions=[record.auction_id])]
