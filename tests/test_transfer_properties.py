"""Properties of agreement transfers interleaved with listing trading, over random flows.

docs/RULES_COVERAGE.md "Agreement transfer". Each example draws its commands while they are applied
(``TransferFlow``): listing limit orders and cancels on SHEA2025 and T5, proposals (mostly valid,
some of a barred or unknown account, too small, off the lot or tick, at the band's edges or
outside it, free-priced from 500,000 t, with a repeated client id), accepts, rejects and cancels of
the proposals given out (mostly by the right party, some by another account), halts of SHEA2025,
and the sessions of the day into the next day; the transfer sessions are the afternoon, or the
morning and the afternoon. After every command: cash and allowances are conserved and never
negative; the fee account holds exactly the fees of the trades and transfers; each account's frozen
cash and tonnes are exactly what its open listing orders and its open proposals froze (the open
proposals followed from the events alone, and matching the view); a proposal below 500,000 t is
within the band. A differential check runs one flow on both books and compares events and state.
"""

from __future__ import annotations

import itertools
import random

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import ExchangeConfig, RiskLimits, SessionName, TransferRules
from engine.market_day.calendar import day_from_int, day_to_int
from engine.messages import (
    AcceptTransfer,
    AllocateAllowances,
    CancelOrder,
    CancelTransfer,
    Command,
    EndOfDay,
    Event,
    HaltInstrument,
    NewOrder,
    OrderType,
    ProposeTransfer,
    RejectTransfer,
    ResumeInstrument,
    Session,
    SetSession,
    StartOfDay,
    TradeExecuted,
    TransferCancelled,
    TransferExecuted,
    TransferExpired,
    TransferProposed,
    TransferRejected,
    TransferStatus,
)
from engine.view import ExchangeView
from tests.conftest import TRADERS, Market, assert_balanced, market_config
from tests.transfer_desk import BUY, SELL, SHEA, T5, agreement_fee, transfer_market

pytestmark = pytest.mark.per_book
INSTRUMENTS = (SHEA, "CCER", T5)
ALL_ACCOUNTS = tuple(a.id for a in market_config().accounts)
FEES = "EXCHANGE-FEES"
TICKS = {SHEA: 1, T5: 5}
LOTS = {SHEA: 1, T5: 10}
OPEN_SEQUENCE = (Session.MORNING, Session.LUNCH_BREAK, Session.AFTERNOON, Session.CLOSED)


# Individuals may hold 700,000 t: a few cheap free-priced buys reach the limit.
LIMITS = RiskLimits(position_limit_t={"covered_entity": 1_000_000, "institution": 1_000_000, "individual": 700_000})


def flow_config(two_sessions: bool) -> ExchangeConfig:
    sessions: list[SessionName] = ["morning", "afternoon"] if two_sessions else ["afternoon"]
    return market_config(transfer=TransferRules(sessions=sessions), risk=LIMITS)


def flow_market(book_kind: str, two_sessions: bool, session: Session) -> Market:
    """DAY1 in ``session``: A1 and A2 hold 600,000 t of SHEA2025 and T5, A3 and A4 150,000 t; all 2e9 fen."""
    market = transfer_market(book_kind, flow_config(two_sessions), session=session)
    for account in ("A3", "A4"):
        for instrument in (SHEA, T5):
            market.send(AllocateAllowances(account=account, instrument=instrument, quantity=150_000))
    market.events.clear()
    return market


def transfer_band(reference: int, tick: int) -> tuple[int, int]:
    """±30% of the reference price, rounded inward to the tick: restated from the rule."""
    upper = reference * 13_000 // 10_000 // tick * tick
    lower = -(-reference * 7_000 // (10_000 * tick)) * tick
    return lower, upper


# ------------------------------------------------------------------------------------ the flow

_kinds = st.sampled_from(
    ["order"] * 5 + ["cancel"] * 2 + ["propose"] * 6 + ["accept"] * 5 + ["reject", "withdraw", "halt"] + ["session"] * 2
)
_transfer_quantities = st.sampled_from(
    [100_000, 100_000, 120_000, 150_000, 200_000, 250_000, 99_999, 100_005, 499_990, 500_000, 500_000, 600_000]
)


class TransferFlow:
    """Draws an example's commands from ``data`` as they are applied to ``market`` (which it reads)."""

    def __init__(self, data: st.DataObject, market: Market) -> None:
        self.data = data
        self.market = market
        self.commands: list[Command] = []
        self.setup: tuple[bool, Session] = (False, Session.AFTERNOON)  # ``flow_market``'s: how the market was made
        self._numbers = itertools.count(1)

    def draw(self) -> list[Command]:
        """The next command, or the two of a day roll. Outside the transfer sessions the day moves on
        sooner, and a halt is lifted soon, so most proposals meet an open market."""
        draw, exchange = self.data.draw, self.market.exchange
        outside = exchange.market.session not in exchange.transfers.sessions
        if SHEA in exchange.market.instrument_halts and draw(st.sampled_from([True, False, False]), label="resume?"):
            kind = "halt"
        elif outside and draw(st.booleans(), label="move on?"):
            kind = "session"
        else:
            kind = draw(_kinds, label="kind")
        batch: list[Command] = getattr(self, f"_{kind}")()
        self.commands += batch
        return batch

    def _pick(self, options: list[str] | tuple[str, ...], label: str) -> str:
        return self.data.draw(st.sampled_from(options), label=label)

    def _order(self) -> list[Command]:
        draw = self.data.draw
        instrument = self._pick([SHEA, SHEA, T5], "order instrument")
        reference = self.market.exchange.listing.reference_price(instrument)
        tick, lot = TICKS[instrument], LOTS[instrument]
        return [
            NewOrder(
                account=self._pick(TRADERS, "order account"),
                instrument=instrument,
                client_order_id=f"o{next(self._numbers)}",
                side=draw(st.sampled_from([BUY, SELL]), label="order side"),
                order_type=draw(st.sampled_from([OrderType.LIMIT] * 3 + [OrderType.LIMIT_IOC]), label="type"),
                quantity=draw(st.integers(1, 300), label="order lots") * lot * 10,
                price=(reference // tick + draw(st.integers(-3, 3), label="order ticks")) * tick,
            )
        ]

    def _cancel(self) -> list[Command]:
        resting = [o for book in self.market.exchange.listing.books.values() for o in book.orders()]
        if not resting:
            return [CancelOrder(account=self._pick(TRADERS, "cancel account"), order_id=1)]
        order = self.data.draw(st.sampled_from(resting), label="resting order")
        return [CancelOrder(account=order.account, order_id=order.order_id)]

    def _propose(self) -> list[Command]:
        draw = self.data.draw
        instrument = self._pick([SHEA, SHEA, T5], "transfer instrument")
        reference, tick = self.market.exchange.listing.reference_price(instrument), TICKS[instrument]
        lower, upper = transfer_band(reference, tick)
        quantity = draw(_transfer_quantities, label="transfer quantity")
        # From 500,000 t mostly a cheap free price: buyers can afford that much and reach their limits.
        where = draw(
            st.sampled_from(["free"] * 3 + ["near"])
            if quantity >= 500_000
            else st.sampled_from(["near"] * 6 + ["lower", "upper", "below", "above", "off tick"]),
            label="price",
        )
        if where == "near":
            price = (reference // tick + draw(st.integers(-40, 40), label="transfer ticks")) * tick
        elif where == "free":
            price = draw(st.integers(1, 400), label="free price") * tick
        else:
            price = {"lower": lower, "upper": upper, "below": lower - tick, "above": upper + tick}.get(
                where, reference + 1 if tick > 1 else 0
            )
        number = next(self._numbers)
        proposer = self._pick(
            [*TRADERS, *TRADERS, "STAFF"] if draw(st.booleans(), label="barred?") else TRADERS, "proposer"
        )
        others = [t for t in TRADERS if t != proposer]
        return [
            ProposeTransfer(
                account=proposer,
                client_proposal_id=draw(st.sampled_from([f"p{number}"] * 9 + ["p1"]), label="client proposal id"),
                side=draw(st.sampled_from([BUY, SELL]), label="transfer side"),
                counterparty=self._pick([*others, *others, proposer, "RESERVE"], "counterparty"),
                instrument=instrument,
                price=price,
                quantity=quantity,
            )
        ]

    def _act(self, kind: type[AcceptTransfer | RejectTransfer | CancelTransfer]) -> list[Command]:
        draw = self.data.draw
        proposals = ExchangeView(self.market.exchange).transfers()
        if not proposals:
            return self._propose()
        if not draw(st.sampled_from([True] * 9 + [False]), label="a known transfer?"):
            return [kind(account=self._pick(TRADERS, "actor"), transfer_id=draw(st.integers(0, 40), label="id"))]
        open_ones = [p for p in proposals if p.status is TransferStatus.OPEN]
        choice = open_ones if open_ones and draw(st.sampled_from([True] * 4 + [False]), label="open?") else proposals
        target = draw(st.sampled_from(choice), label="transfer")
        rightful = target.proposer if kind is CancelTransfer else target.counterparty
        own = draw(st.sampled_from([True] * 5 + [False]), label="rightful party?")
        account = rightful if own else self._pick(TRADERS, "other party")
        return [kind(account=account, transfer_id=target.transfer_id)]

    def _accept(self) -> list[Command]:
        return self._act(AcceptTransfer)

    def _reject(self) -> list[Command]:
        return self._act(RejectTransfer)

    def _withdraw(self) -> list[Command]:
        return self._act(CancelTransfer)

    def _halt(self) -> list[Command]:
        halted = SHEA in self.market.exchange.market.instrument_halts
        return [ResumeInstrument(instrument=SHEA) if halted else HaltInstrument(instrument=SHEA, reason="drill")]

    def _session(self) -> list[Command]:
        market = self.market.exchange.market
        if market.session is not Session.CLOSED:
            return [SetSession(session=OPEN_SEQUENCE[OPEN_SEQUENCE.index(market.session) + 1])]
        if not market.sessions_over:
            return [SetSession(session=Session.MORNING)]
        today = day_from_int(market.trading_day)
        assert today is not None
        tomorrow = day_to_int(self.market.exchange.config.calendar.next_trading_day(today))
        return [EndOfDay(trading_day=market.trading_day), StartOfDay(trading_day=tomorrow)]


# ------------------------------------------------------------------------------------ the checks


class OpenProposals:
    """The open proposals and what each froze, followed from the events alone."""

    def __init__(self) -> None:
        self.frozen: dict[int, tuple[str, str, int, int]] = {}  # id -> proposer, instrument, cash, tonnes

    def apply(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, TransferProposed):
                assert event.transfer_id not in self.frozen
                self.frozen[event.transfer_id] = (
                    event.account,
                    event.instrument,
                    event.frozen_cash,
                    event.frozen_quantity,
                )
            elif isinstance(event, TransferExecuted | TransferRejected | TransferCancelled | TransferExpired):
                _, _, cash, quantity = self.frozen.pop(event.transfer_id)
                if not isinstance(event, TransferExecuted):
                    assert (event.released_cash, event.released_quantity) == (cash, quantity)


def check_conserved_and_never_negative(market: Market) -> None:
    assert_balanced(market)
    state = market.exchange.ledger.state()
    assert all(min(balances) >= 0 for _, *balances in state.cash)
    assert all(min(balances) >= 0 for _, _, *balances in state.holdings)
    fees = sum(e.buy_fee + e.sell_fee for e in market.events if isinstance(e, TradeExecuted | TransferExecuted))
    assert market.cash(FEES) == (fees, 0)


def check_freezes_are_what_is_open(market: Market, proposals: OpenProposals) -> None:
    exchange = market.exchange
    view_open = {
        t.transfer_id: (t.proposer, t.instrument, t.frozen_cash, t.frozen_quantity)
        for t in ExchangeView(exchange).transfers()
        if t.status is TransferStatus.OPEN
    }
    assert view_open == proposals.frozen
    resting = [o for book in exchange.listing.books.values() for o in book.orders()]
    for account in ALL_ACCOUNTS:
        mine = [o for o in resting if o.account == account]
        offers = [p for p in proposals.frozen.values() if p[0] == account]
        cash = sum(o.frozen_cash for o in mine) + sum(p[2] for p in offers)
        assert exchange.ledger.cash(account).frozen == cash, account
        for instrument in INSTRUMENTS:
            tonnes = sum(o.frozen_quantity for o in mine if o.instrument == instrument)
            tonnes += sum(p[3] for p in offers if p[1] == instrument)
            assert exchange.ledger.holding(account, instrument).frozen == tonnes, (account, instrument)


def check_positions_within_limits(market: Market) -> None:
    """What each trader holds plus what its open listing buys may bring never passes its limit (a
    transfer's acceptance counts both, and the proposer's open transfer buys)."""
    exchange = market.exchange
    kinds = {a.id: a.kind for a in exchange.config.accounts}
    open_buys: dict[tuple[str, str], int] = {}
    for book in exchange.listing.books.values():
        for order in book.orders():
            if order.side is BUY:
                key = (order.account, order.instrument)
                open_buys[key] = open_buys.get(key, 0) + order.leaves
    for account in TRADERS:
        for instrument in INSTRUMENTS:
            limit = LIMITS.position_limit_t[kinds[account]]
            if kinds[account] == "covered_entity":
                limit += exchange.ledger.allocated.get((account, instrument), 0)
            held = exchange.ledger.total_held((account, instrument))
            assert held + open_buys.get((account, instrument), 0) <= limit, (account, instrument)


def check_transfer_events(events: list[Event], references: dict[str, int]) -> None:
    """A proposal below 500,000 t is within the band of the reference price it met; each side pays the agreement fee."""
    for event in events:
        if isinstance(event, TransferProposed) and event.quantity < 500_000:
            lower, upper = transfer_band(references[event.instrument], TICKS[event.instrument])
            assert lower <= event.price <= upper
        elif isinstance(event, TransferExecuted):
            fee = agreement_fee(event.price * event.quantity)
            assert (event.buy_fee, event.sell_fee) == (fee, fee)
            assert event.buy_account != event.sell_account


def play(data: st.DataObject, book_kind: str) -> tuple[Market, TransferFlow, OpenProposals]:
    two_sessions = data.draw(st.booleans(), label="morning transfers too?")
    start = data.draw(st.sampled_from([Session.AFTERNOON, Session.MORNING]), label="start")
    market = flow_market(book_kind, two_sessions, start)
    flow = TransferFlow(data, market)
    flow.setup = (two_sessions, start)
    proposals = OpenProposals()
    for _ in range(data.draw(st.integers(1, 60), label="length")):
        for command in flow.draw():
            references = {i: market.exchange.listing.reference_price(i) for i in (SHEA, T5)}
            events = market.send(command)
            proposals.apply(events)
            check_transfer_events(events, references)
            check_conserved_and_never_negative(market)
            check_freezes_are_what_is_open(market, proposals)
            check_positions_within_limits(market)
    return market, flow, proposals


# ---------------------------------------------------------------------------------- properties


@settings(max_examples=100)
@given(data=st.data())
def test_transfers_and_listing_keep_balances_conserved_and_freezes_exact(book_kind: str, data: st.DataObject) -> None:
    market, _, proposals = play(data, book_kind)

    # The day's close expires whatever is still open: no transfer keeps anything frozen.
    market_day = market.exchange.market
    if not market_day.sessions_over:
        after = OPEN_SEQUENCE.index(market_day.session) + 1 if market_day.session is not Session.CLOSED else 0
        for step in OPEN_SEQUENCE[after:]:
            proposals.apply(market.send(SetSession(session=step)))
    assert proposals.frozen == {}
    assert [t for t in ExchangeView(market.exchange).transfers() if t.status is TransferStatus.OPEN] == []
    check_freezes_are_what_is_open(market, proposals)
    check_conserved_and_never_negative(market)


_encode = msgspec.msgpack.Encoder().encode


@pytest.mark.not_per_book
@settings(max_examples=40)
@given(data=st.data())
def test_one_flow_gives_identical_events_and_state_on_both_books(data: st.DataObject) -> None:
    """The reference book one command at a time; the fast book in batches of varying size, as the node runs it."""
    reference, flow, _ = play(data, "reference")
    fast = flow_market("fast", *flow.setup)
    assert fast.ts == reference.ts - len(flow.commands)  # the same setup
    rng = random.Random(data.draw(st.integers(0, 9), label="batches"))
    got: list[list[Event]] = []
    start, ts = 0, fast.ts + 1
    while start < len(flow.commands):
        chunk = flow.commands[start : start + rng.choice((1, 2, 5, 17, 100))]
        stamps = list(range(ts, ts + len(chunk)))
        got += fast.exchange.apply_batch(fast.exchange.command_batch(chunk, stamps)).all_events()
        start, ts = start + len(chunk), ts + len(chunk)

    expected = [events for _, events in reference.history[-len(flow.commands) :]]
    assert [[_encode(e) for e in events] for events in got] == [[_encode(e) for e in events] for events in expected]
    assert fast.exchange.state_hash() == reference.exchange.state_hash()
    fast.exchange.validate_internal_state()
