"""Properties of listing trading over random command sequences on the funded market.

Each example draws its commands while they are applied (``CommandDrawer``): new orders of all
five types on both sides from A1..A4 (prices mostly a few fen around 8000 or at the touch, some
anywhere in SHEA2025's band 7200..8800, some outside it; quantities mostly 1..2000, some beyond a
trader's holdings, funds or the size limit), cancels and amends of the ids given out so far and
of resting orders (foreign accounts included), and now and then a session change, a halt or a
day roll. The drawn list is kept, so the determinism property can replay it on a fresh market.
After every command the properties must hold; the price-time priority check replays the events
into an independent model of the book written here, not borrowed from the engine.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.exchange import Exchange
from engine.market_day.calendar import NEXT_SESSION, day_from_int, day_to_int
from engine.messages import (
    AmendOrder,
    CancelOrder,
    CancelReason,
    Command,
    EndOfDay,
    Event,
    HaltInstrument,
    HaltMarket,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderConvertedToLimit,
    OrderType,
    ResumeInstrument,
    ResumeMarket,
    Session,
    SetSession,
    Side,
    StartOfDay,
    StpMode,
    TradeExecuted,
)
from tests.conftest import CASH, HOLDING, TRADERS, Market, funded_market, market_config

pytestmark = pytest.mark.per_book
INSTRUMENTS = ("SHEA2025", "CCER", "T5")
FEE_ACCOUNT = "EXCHANGE-FEES"
ALL_ACCOUNTS = tuple(a.id for a in market_config().accounts)


def listing_fee(value: int) -> int:
    """0.15% of a traded value, half-up to the fen: the rule restated, not the engine's function."""
    return (value * 1500 + 500_000) // 1_000_000


# ------------------------------------------------------------------------------------ strategies

# Mostly a few fen around 8000, so orders cross; some anywhere in the band; some outside it.
_prices = st.sampled_from(["near"] * 8 + ["band"] * 2 + ["outside"]).flatmap(
    lambda where: {
        "near": st.sampled_from(range(7990, 8011)),
        "band": st.integers(7200, 8800),
        "outside": st.sampled_from([7199, 8801, 0, -100, 9400]),
    }[where]
)
# Mostly 1..2000 t; now and then more than a trader holds, the most one order may be (two such
# buys are more than a trader's funds), or outside the listing size limits.
_quantities = st.sampled_from(["usual"] * 8 + ["small", "odd", "odd"]).flatmap(
    lambda size: {
        "usual": st.integers(1, 2000),
        "small": st.integers(1, 50),
        "odd": st.sampled_from([0, HOLDING + 1, 99_999, 99_999, 99_999, 100_000]),
    }[size]
)
_accounts = st.sampled_from(TRADERS)
_kinds = st.sampled_from(["new"] * 24 + ["cancel"] * 4 + ["amend"] * 6 + ["session", "halt", "day", "whale"])
_order_types = st.sampled_from([OrderType.LIMIT] * 5 + list(OrderType)[1:])
_halts = st.sampled_from(
    [
        (HaltInstrument(instrument="SHEA2025", reason="technical"), ResumeInstrument(instrument="SHEA2025")),
        (HaltMarket(reason="emergency"), ResumeMarket()),
    ]
)


class CommandDrawer:
    """Draws the commands of one example from ``data`` while they are applied.

    Drawing as the market moves lets cancels and amends name the ids given out so far (ids
    1..next_order_id-1, and now and then one not given out) and the orders resting right now,
    from their owner or from another account; the list drawn is kept, so it can be replayed.
    """

    def __init__(self, data: st.DataObject, market: Market) -> None:
        self.data = data
        self.market = market
        self.commands: list[Command] = []
        self._pending: list[tuple[int, Callable[[], list[Command]]]] = []  # due after so many draws
        self._client_ids = itertools.count(1)

    def draw(self) -> list[Command]:
        """The next command, or the few commands a halt or a closed session was waiting for."""
        due = next((item for item in self._pending if item[0] == 0), None)
        if due is None:
            batch = self._draw_kind(self.data.draw(_kinds, label="kind"))
        else:
            self._pending.remove(due)
            batch = due[1]()
        self._pending = [(max(countdown - 1, 0), make) for countdown, make in self._pending]
        self.commands += batch
        return batch

    def _draw_kind(self, kind: str) -> list[Command]:
        draw = self.data.draw
        if kind == "new":
            return [self._new_order()]
        if kind in ("cancel", "amend"):
            return [self._cancel_or_amend(kind)]
        if kind == "whale":
            # Two of the largest limit buys from one account: the second is beyond its funds.
            account = draw(_accounts, label="whale")
            return [self._new_order(account, Side.BUY, OrderType.LIMIT, 99_999) for _ in range(2)]
        if kind == "session":
            # Any session: most requests are refused transitions; a lunch break or an early close
            # that does happen is followed a few commands later by the way back to trading.
            session = draw(st.sampled_from(Session), label="session")
            current = self.market.exchange.market.session
            if NEXT_SESSION[current] is session and not session.is_continuous:
                back = self._after_lunch if session is Session.LUNCH_BREAK else self._day_roll
                self._pending.append((draw(st.integers(0, 4), label="closed for"), back))
            return [SetSession(session=session)]
        if kind == "halt":
            halt, resume = draw(_halts, label="halt")
            self._pending.append((draw(st.integers(0, 4), label="halted for"), lambda: [resume]))
            return [halt]
        return self._day_roll()

    def _new_order(
        self,
        account: str | None = None,
        side: Side | None = None,
        order_type: OrderType | None = None,
        quantity: int | None = None,
    ) -> NewOrder:
        draw = self.data.draw
        order_type = order_type or draw(_order_types, label="order type")
        instrument = draw(st.sampled_from(["SHEA2025"] * 5 + ["CCER"]), label="instrument")
        side = side or draw(st.sampled_from(Side), label="side")
        if order_type.is_market:
            price = draw(st.sampled_from([0] * 9 + [8000]), label="price")
        else:
            # A third of limit orders price at or through the opposite touch, so books trade.
            opposite = self.market.exchange.listing.books[instrument].best(Side(3 - side))
            if opposite is not None and draw(st.sampled_from([True, False, False]), label="at the touch?"):
                through = draw(st.sampled_from(range(4)), label="through by")
                price = opposite + through if side is Side.BUY else opposite - through
            else:
                price = draw(_prices, label="price")
        number = next(self._client_ids)
        return NewOrder(
            account=account or draw(_accounts, label="account"),
            instrument=instrument,
            client_order_id=draw(st.sampled_from([f"h{number}"] * 19 + ["h1"]), label="client order id"),
            side=side,
            order_type=order_type,
            quantity=quantity or draw(_quantities, label="quantity"),
            price=price,
            stp=draw(st.none() | st.sampled_from(StpMode), label="stp"),
        )

    def _cancel_or_amend(self, kind: str) -> CancelOrder | AmendOrder:
        draw = self.data.draw
        resting = [o for book in self.market.exchange.listing.books.values() for o in book.orders()]
        given_out = self.market.exchange.listing.next_order_id - 1
        if resting and draw(st.sampled_from([True] * 4 + [False]), label="resting?"):
            order = draw(st.sampled_from(resting), label="order")
            order_id, price, leaves = order.order_id, order.price, order.leaves
            own = draw(st.sampled_from([True] * 5 + [False]), label="own?")
            account = order.account if own else draw(_accounts, label="account")
        else:
            order_id, price, leaves = draw(st.integers(1, given_out + 1), label="order id"), 8000, 100
            account = draw(_accounts, label="account")
        if kind == "cancel":
            return CancelOrder(account=account, order_id=order_id)
        new_price = draw(st.just(price) | st.integers(price - 20, price + 20) | _prices, label="amend price")
        quantity = draw(st.integers(1, leaves) | st.integers(leaves, leaves + 500) | _quantities, label="amend qty")
        return AmendOrder(account=account, order_id=order_id, price=new_price, quantity=quantity)

    def _after_lunch(self) -> list[Command]:
        lunch = self.market.exchange.market.session is Session.LUNCH_BREAK
        return [SetSession(session=Session.AFTERNOON)] if lunch else []

    def _day_roll(self) -> list[Command]:
        """Through the rest of today's sessions to the next trading day's morning session."""
        market = self.market.exchange.market
        today = day_from_int(market.trading_day)
        assert today is not None
        tomorrow = day_to_int(self.market.exchange.config.calendar.next_trading_day(today))
        order = [Session.MORNING, Session.LUNCH_BREAK, Session.AFTERNOON, Session.CLOSED]
        path = order[order.index(market.session) + 1 :] if market.session is not Session.CLOSED else []
        return [
            *(SetSession(session=s) for s in path),
            EndOfDay(trading_day=market.trading_day),
            StartOfDay(trading_day=tomorrow),
            SetSession(session=Session.MORNING),
        ]


# ------------------------------------------------------------------------- the independent model


@dataclass
class ModelOrder:
    order_id: int
    account: str
    instrument: str
    side: Side
    order_type: OrderType
    price: int  # the limit; 0 for a market order until it rests
    leaves: int
    arrival: int = -1  # place in time priority once resting
    trade_prices: list[int] = field(default_factory=list)
    finished: bool = False  # cancelled or converted during this command


class PriorityModel:
    """Resting orders with their arrival sequence, kept up to date from the events alone."""

    def __init__(self) -> None:
        self.resting: dict[int, ModelOrder] = {}
        self._arrivals = itertools.count()

    def head(self, instrument: str, side: Side) -> ModelOrder | None:
        queue = [o for o in self.resting.values() if o.instrument == instrument and o.side is side]
        return min(queue, key=self._priority, default=None)

    def canonical(self, instrument: str) -> list[tuple[int, str, int, int]]:
        """Bids best first, then asks best first, FIFO within a price: the book's own order."""
        orders = [o for o in self.resting.values() if o.instrument == instrument]
        ordered = sorted((o for o in orders if o.side is Side.BUY), key=self._priority)
        ordered += sorted((o for o in orders if o.side is Side.SELL), key=self._priority)
        return [(o.order_id, o.account, o.price, o.leaves) for o in ordered]

    @staticmethod
    def _priority(order: ModelOrder) -> tuple[int, int]:
        return (-order.price if order.side is Side.BUY else order.price, order.arrival)

    def _rest(self, order: ModelOrder, price: int) -> None:
        order.price, order.arrival = price, next(self._arrivals)
        self.resting[order.order_id] = order

    def apply(self, events: list[Event]) -> None:
        incoming: ModelOrder | None = None
        for event in events:
            if isinstance(event, OrderAccepted):
                assert incoming is None and event.order_id not in self.resting
                incoming = ModelOrder(
                    event.order_id,
                    event.account,
                    event.instrument,
                    event.side,
                    event.order_type,
                    event.price,
                    event.quantity,
                )
            elif isinstance(event, OrderAmended):
                incoming = self._amended(event) or incoming
            elif isinstance(event, TradeExecuted):
                assert incoming is not None
                self._traded(incoming, event)
            elif isinstance(event, OrderCancelled):
                self._cancelled(incoming, event)
            elif isinstance(event, OrderConvertedToLimit):
                assert incoming is not None and incoming.order_type is OrderType.MARKET_FIVE_LIMIT
                assert (event.order_id, event.quantity) == (incoming.order_id, incoming.leaves)
                # At its last trade price; with no trade, at the best price of its own side.
                if incoming.trade_prices:
                    assert event.price == incoming.trade_prices[-1]
                else:
                    own_best = self.head(incoming.instrument, incoming.side)
                    assert own_best is not None and event.price == own_best.price
                incoming.finished = True
                self._rest(incoming, event.price)
        if incoming is not None:
            self._after_match(incoming)

    def _amended(self, event: OrderAmended) -> ModelOrder | None:
        order = self.resting[event.order_id]
        if event.priority_kept:
            assert event.price == order.price and event.quantity < order.leaves
            order.leaves = event.quantity
            return None
        # A price change or more quantity: out of the queue, back in as an incoming limit order.
        del self.resting[event.order_id]
        return ModelOrder(
            order.order_id, order.account, order.instrument, order.side, OrderType.LIMIT, event.price, event.quantity
        )

    def _traded(self, incoming: ModelOrder, trade: TradeExecuted) -> None:
        assert trade.aggressor is incoming.side
        assert trade.buy_account != trade.sell_account
        if incoming.side is Side.BUY:
            incoming_id, resting_id, opposite = trade.buy_order_id, trade.sell_order_id, Side.SELL
        else:
            incoming_id, resting_id, opposite = trade.sell_order_id, trade.buy_order_id, Side.BUY
        assert incoming_id == incoming.order_id
        resting = self.resting[resting_id]
        # Best opposite price first and, at that price, the earliest arrival.
        assert resting is self.head(trade.instrument, opposite)
        assert trade.price == resting.price
        if not incoming.order_type.is_market:
            assert (trade.price <= incoming.price) if incoming.side is Side.BUY else (trade.price >= incoming.price)
        resting.leaves -= trade.quantity
        incoming.leaves -= trade.quantity
        leaves = (incoming.leaves, resting.leaves) if incoming.side is Side.BUY else (resting.leaves, incoming.leaves)
        assert (trade.buy_leaves, trade.sell_leaves) == leaves
        assert resting.leaves >= 0 and incoming.leaves >= 0
        if not resting.leaves:
            del self.resting[resting_id]
        incoming.trade_prices.append(trade.price)

    def _cancelled(self, incoming: ModelOrder | None, event: OrderCancelled) -> None:
        if incoming is not None and event.order_id == incoming.order_id:
            assert event.cancelled_quantity == incoming.leaves
            if event.reason is CancelReason.FOK_UNFILLED:
                assert not incoming.trade_prices
            incoming.finished = True
            return
        resting = self.resting[event.order_id]
        assert event.cancelled_quantity == resting.leaves
        if event.reason is CancelReason.SELF_TRADE:
            # Self-trade prevention removes a resting order of the same account when matching reaches it.
            assert incoming is not None and resting.account == incoming.account
            assert resting is self.head(resting.instrument, resting.side)
        else:
            assert event.reason in (CancelReason.USER, CancelReason.EXPIRED)
        del self.resting[event.order_id]

    def _after_match(self, incoming: ModelOrder) -> None:
        if incoming.order_type.is_market:
            assert len(set(incoming.trade_prices)) <= 5  # best five levels at most
        if incoming.finished or not incoming.leaves:
            return
        # Only a limit day order may rest what it could not fill; everything else was cancelled.
        assert incoming.order_type is OrderType.LIMIT
        self._rest(incoming, incoming.price)


# ------------------------------------------------------------------------------------------ runs

Check = Callable[[Market, list[Event]], None]


def play(data: st.DataObject, book_kind: str, check: Check) -> tuple[Market, list[Command]]:
    """Draw and apply an example's commands on a fresh funded market, checking after each."""
    market = funded_market(market_config(), book_kind)
    drawer = CommandDrawer(data, market)
    for _ in range(data.draw(st.integers(1, 80), label="length")):
        for command in drawer.draw():
            check(market, market.send(command))
    return market, drawer.commands


def replay(book_kind: str, commands: list[Command]) -> Market:
    market = funded_market(market_config(), book_kind)
    for command in commands:
        market.send(command)
    return market


def check_book_uncrossed_and_valid(market: Market, events: list[Event]) -> None:
    market.exchange.validate_internal_state()
    for book in market.exchange.listing.books.values():
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask


def check_conserved_and_never_negative(market: Market, events: list[Event]) -> None:
    ledger = market.exchange.ledger
    assert ledger.total_cash() == ledger.deposited == CASH * len(TRADERS)
    for instrument in INSTRUMENTS:
        assert ledger.total_holdings(instrument) == ledger.issued[instrument] == HOLDING * len(TRADERS)
    state = ledger.state()
    assert all(min(balances) >= 0 for _, *balances in state.cash)
    assert all(min(balances) >= 0 for _, _, *balances in state.holdings)
    fees = sum(t.buy_fee + t.sell_fee for t in market.events if isinstance(t, TradeExecuted))
    assert (ledger.cash(FEE_ACCOUNT).available, ledger.cash(FEE_ACCOUNT).frozen) == (fees, 0)


def check_freezes_accounted(market: Market, events: list[Event]) -> None:
    ledger = market.exchange.ledger
    resting = [o for book in market.exchange.listing.books.values() for o in book.orders()]
    for order in resting:
        if order.side is Side.BUY:
            # The open tonnes at the order's price plus the fee still to come on its cumulative value.
            value = order.price * order.leaves
            fee = listing_fee(order.traded_value + value) - listing_fee(order.traded_value)
            assert (order.frozen_cash, order.frozen_quantity) == (value + fee, 0)
        else:
            assert (order.frozen_cash, order.frozen_quantity) == (0, order.leaves)
    for account in ALL_ACCOUNTS:
        mine = [o for o in resting if o.account == account]
        assert ledger.cash(account).frozen == sum(o.frozen_cash for o in mine)
        for instrument in INSTRUMENTS:
            frozen = sum(o.frozen_quantity for o in mine if o.instrument == instrument)
            assert ledger.holding(account, instrument).frozen == frozen


class PriorityCheck:
    def __init__(self) -> None:
        self.model = PriorityModel()

    def __call__(self, market: Market, events: list[Event]) -> None:
        self.model.apply(events)
        for code, book in market.exchange.listing.books.items():
            assert self.model.canonical(code) == [(o.order_id, o.account, o.price, o.leaves) for o in book.orders()]


def no_check(market: Market, events: list[Event]) -> None:
    pass


# ---------------------------------------------------------------------------------- properties


@given(data=st.data())
def test_book_never_crossed_and_internally_valid(book_kind: str, data: st.DataObject) -> None:
    market, commands = play(data, book_kind, check_book_uncrossed_and_valid)

    assert len(market.events) >= len(commands)


@given(data=st.data())
def test_cash_and_allowances_conserved_and_never_negative(book_kind: str, data: st.DataObject) -> None:
    market, _ = play(data, book_kind, check_conserved_and_never_negative)

    assert market.exchange.ledger.total_cash() == CASH * len(TRADERS)


@given(data=st.data())
def test_each_orders_fees_are_the_fee_on_its_cumulative_value(book_kind: str, data: st.DataObject) -> None:
    market, _ = play(data, book_kind, no_check)

    traded: dict[int, int] = {}
    charged: dict[int, int] = {}
    for trade in market.events:
        if isinstance(trade, TradeExecuted):
            for order_id, fee in ((trade.buy_order_id, trade.buy_fee), (trade.sell_order_id, trade.sell_fee)):
                traded[order_id] = traded.get(order_id, 0) + trade.price * trade.quantity
                charged[order_id] = charged.get(order_id, 0) + fee
    assert charged == {order_id: listing_fee(value) for order_id, value in traded.items()}


@given(data=st.data())
def test_frozen_balances_equal_open_orders_freezes(book_kind: str, data: st.DataObject) -> None:
    market, _ = play(data, book_kind, check_freezes_accounted)

    # Once every open order is cancelled, nothing is left frozen anywhere.
    for book in market.exchange.listing.books.values():
        for order in list(book.orders()):
            market.cancel(order.account, order.order_id)
    ledger = market.exchange.ledger
    assert all(ledger.cash(a).frozen == 0 for a in ALL_ACCOUNTS)
    assert all(ledger.holding(a, i).frozen == 0 for a in ALL_ACCOUNTS for i in INSTRUMENTS)


@given(data=st.data())
def test_trades_follow_price_time_priority(book_kind: str, data: st.DataObject) -> None:
    check = PriorityCheck()

    market, _ = play(data, book_kind, check)

    assert sum(len(check.model.canonical(code)) for code in INSTRUMENTS) == sum(
        len(book) for book in market.exchange.listing.books.values()
    )


@given(data=st.data())
def test_same_commands_give_same_events_and_state_hash(book_kind: str, data: st.DataObject) -> None:
    first, commands = play(data, book_kind, no_check)

    second = replay(book_kind, commands)

    assert second.events == first.events
    assert second.exchange.state_hash() == first.exchange.state_hash()
    restored = Exchange.from_snapshot(market_config(), first.exchange.snapshot(), book=book_kind)
    assert restored.state_hash() == first.exchange.state_hash()
