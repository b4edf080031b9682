"""A journaled command never takes the engine down (issue 12, item 2b).

An exception escaping a mechanism is a defect: mechanisms check before they change anything. The
exchange turns it into the command's INTERNAL_ERROR reject, a market halt and a conservation check
run at once, the same on both books, in batches and one by one, live and on replay; the node logs
one critical line and keeps serving. The defects here are injected: a deposit of ``FAILING_AMOUNT``
fen fails in the registry, a new order of ``FAILING_QUANTITY`` tonnes in the listing (the reference
listing's handler, or the fast book's kernel half-way through the order, after writing a record).
"""

from __future__ import annotations

import datetime as dt
import faulthandler
import inspect
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from structlog.testing import capture_logs

import engine.listing.fast.commands
import engine.listing.fast.listing
from carbonx.config import load_config
from carbonx.node import Node
from carbonx.node_schedule import SCHEDULER_RETRY_NS
from engine.batch import decode_or_report
from engine.exchange import Exchange
from engine.journal import Journal, JournalRecord
from engine.listing.fast.events import DECODERS
from engine.listing.fast.layout import (
    CMD_NEW,
    CMD_PYTHON,
    E_KIND,
    EV_ACCEPTED,
    EV_TRADE,
    O_NEXT,
    P_ID_BASE,
    X_KIND,
    X_QTY,
)
from engine.listing.fast.listing import FastListing
from engine.listing.reference import Listing
from engine.market_day import MarketDay
from engine.market_day.calendar import day_from_int
from engine.messages import (
    AllocateAllowances,
    CancelOrder,
    Command,
    ConservationChecked,
    DepositCash,
    Event,
    MarketStatusChanged,
    NewOrder,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderType,
    Reject,
    RequestRejected,
    ResumeMarket,
    Session,
    SetSession,
    Side,
    StartOfDay,
    TradingDayEnded,
)
from engine.recovery import Sequencer, record_config, recover
from engine.registry.mechanism import Registry
from gateway.protocol import Ack, ExecutionReport
from tests.conftest import CASH, DAY1, HOLDING, TRADERS, InjectedDefect, Market, assert_balanced, market_config
from tests.gateway_helpers import R1, trading_harness
from tests.gateway_helpers import order as gateway_order
from tests.node_process import make_config
from tests.test_node import MONDAY, Clock
from tests.test_reject_codes import text_pattern
from tests.test_replay import TickingClock

FAILING_AMOUNT = 13  # fen: the deposit the injected registry defect fails on
FAILING_QUANTITY = 770  # tonnes: the new order the injected listing defect fails on
MASKED = "<object object at 0x*>"  # what the reject shows of ``object()`` in the exception's text

_encode = msgspec.msgpack.Encoder().encode


@pytest.fixture
def defects(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inject both defects, for exchanges built afterwards (handlers are bound at construction)."""
    registry_apply = Registry.apply

    def failing_registry(self: Registry, cmd: Command, ts: int) -> list[Event]:
        if isinstance(cmd, DepositCash) and cmd.amount == FAILING_AMOUNT:
            raise InjectedDefect(f"deposit failed at {object()!r}")
        return registry_apply(self, cmd, ts)

    new_order = Listing.new_order

    def failing_new_order(self: Listing, cmd: NewOrder, ts: int) -> list[Event]:
        if cmd.quantity == FAILING_QUANTITY:
            raise InjectedDefect(f"order failed at {object()!r}")
        return new_order(self, cmd, ts)

    monkeypatch.setattr(Registry, "apply", failing_registry)
    monkeypatch.setattr(Listing, "new_order", failing_new_order)
    monkeypatch.setattr(
        engine.listing.fast.commands, "run_batch", _kernel_failing_on(engine.listing.fast.commands.run_batch)
    )


def _kernel_failing_on(run_batch: Any) -> Any:
    """``run_batch``, failing half-way through a new order of ``FAILING_QUANTITY``: it sets the
    order's first record and writes one record (as the kernel does before it fails), then raises."""

    parameters = list(inspect.signature(run_batch.py_func).parameters)[2:]  # after the batch and ``start``

    def failing(columns: np.ndarray, start: int, *arrays: np.ndarray) -> int:
        named = dict(zip(parameters, arrays, strict=True))
        events, count, first = named["events"], named["count"], named["first_event"]
        rows = range(start, columns.shape[1])
        target = next(
            (i for i in rows if columns[X_KIND, i] == CMD_NEW and columns[X_QTY, i] == FAILING_QUANTITY), None
        )
        if target is None:
            return int(run_batch(columns, start, *arrays))
        until = columns.copy()
        until[X_KIND, target] = CMD_PYTHON  # the real kernel stops there, having applied what came before
        stop = int(run_batch(until, start, *arrays))
        if stop < target:
            return stop
        first[target] = count[0]
        events[count[0], :] = 0
        events[count[0], E_KIND] = EV_ACCEPTED
        count[0] += 1
        raise InjectedDefect(f"order failed at {object()!r}")

    return failing


def opening() -> list[Command]:
    """DAY1's morning session with every trader funded (``tests.conftest.funded_market``)."""
    commands: list[Command] = [StartOfDay(trading_day=DAY1)]
    for account in TRADERS:
        commands.append(DepositCash(account=account, amount=CASH))
        commands += [AllocateAllowances(account=account, instrument=i, quantity=HOLDING) for i in ("SHEA2025", "CCER")]
    return [*commands, SetSession(session=Session.MORNING)]


def order(account: str, side: Side, quantity: int, price: int, cid: str) -> NewOrder:
    return NewOrder(
        account=account,
        instrument="SHEA2025",
        client_order_id=cid,
        side=side,
        order_type=OrderType.LIMIT,
        quantity=quantity,
        price=price,
    )


def flow_with_failures() -> list[Command]:
    """Trading around both defects: each halts the market, the regulator resumes it."""
    return [
        order("A1", Side.BUY, 100, 7900, "b1"),
        order("A2", Side.SELL, 40, 7900, "s1"),  # trades 40 with b1
        DepositCash(account="A1", amount=FAILING_AMOUNT),  # the registry's defect: halts
        order("A2", Side.SELL, 10, 7900, "s2"),  # MARKET_HALTED
        CancelOrder(account="A1", order_id=1),  # accepted while halted
        order("A3", Side.BUY, FAILING_QUANTITY, 8000, "f1"),  # fails again; already halted
        ResumeMarket(),
        order("A3", Side.SELL, 100, 8100, "s3"),
        order("A2", Side.BUY, 50, 8100, "b4"),  # trades 50 with s3, in the kernel call that then fails
        order("A4", Side.BUY, FAILING_QUANTITY, 8000, "f2"),  # the listing's defect: halts
        order("A4", Side.BUY, 100, 8100, "b2"),  # MARKET_HALTED
        ResumeMarket(),
        order("A4", Side.BUY, 100, 8100, "b3"),  # trades the 50 left of s3
    ]


@pytest.fixture
def market(defects: None, book_kind: str) -> Iterator[Market]:
    """The conftest's funded market, built with the defects injected; it ends valid and balanced."""
    market = Market(Exchange(market_config(), book=book_kind))
    for command in opening():
        market.send(command)
    market.events.clear()
    yield market
    market.exchange.validate_internal_state()
    assert_balanced(market)


def internal_error(name: str, what: str) -> str:
    return f'INTERNAL_ERROR: exception={name} message="{what} failed at {MASKED}"'


# ------------------------------------------------------------------------------------------ the outcome


def test_a_failing_command_is_rejected_halts_the_market_and_checks_conservation(market: Market) -> None:
    events = market.send(DepositCash(account="A1", amount=FAILING_AMOUNT))

    reason = "internal error applying DepositCash"
    assert events == [
        RequestRejected(
            ts_event=market.ts,
            request="DepositCash",
            code=Reject.INTERNAL_ERROR,
            text=internal_error("InjectedDefect", "deposit"),
            account="A1",
        ),
        MarketStatusChanged(ts_event=market.ts, halted=True, reason=reason),
        ConservationChecked(ts_event=market.ts, trading_day=DAY1, ok=True, mismatches=[]),
    ]
    assert text_pattern(Reject.INTERNAL_ERROR).fullmatch(events[0].text)  # type: ignore[union-attr]
    assert (market.exchange.market.halted, market.exchange.market.halt_reason) == (True, reason)
    [failure] = market.exchange.take_failures()
    assert failure.command == DepositCash(account="A1", amount=FAILING_AMOUNT)
    assert isinstance(failure.exception, InjectedDefect) and failure.conservation_ok is True
    assert market.exchange.take_failures() == []


@pytest.mark.per_book
def test_a_failing_new_order_gets_its_order_reject(market: Market) -> None:
    events = market.buy("A3", FAILING_QUANTITY, 8000, client_order_id="f1")

    assert events[0] == OrderRejected(
        ts_event=market.ts,
        account="A3",
        instrument="SHEA2025",
        client_order_id="f1",
        code=Reject.INTERNAL_ERROR,
        text=internal_error("InjectedDefect", "order"),
    )
    assert [type(e) for e in events[1:]] == [MarketStatusChanged, ConservationChecked]
    assert ("A3", "f1") not in market.exchange.listing.client_order_ids
    assert len(market.exchange.listing.books["SHEA2025"]) == 0


def test_the_day_still_ends_after_an_internal_error_and_the_market_stays_halted(market: Market) -> None:
    market.send(DepositCash(account="A1", amount=FAILING_AMOUNT))

    events = market.close_day(DAY1)

    assert [e.ok for e in events if isinstance(e, ConservationChecked)] == [True]
    assert type(events[-1]) is TradingDayEnded
    assert market.exchange.market.halted and not market.exchange.market.day_open


def test_a_failure_while_halted_is_rejected_and_checked_without_a_second_halt(market: Market) -> None:
    market.send(DepositCash(account="A1", amount=FAILING_AMOUNT))

    events = market.send(DepositCash(account="A2", amount=FAILING_AMOUNT))

    assert [type(e) for e in events] == [RequestRejected, ConservationChecked]
    assert market.exchange.market.halt_reason == "internal error applying DepositCash"


@pytest.mark.per_book
def test_after_an_internal_error_orders_are_refused_cancels_accepted_and_the_regulator_resumes(
    market: Market,
) -> None:
    market.buy("A1", 100, 7900)
    market.send(DepositCash(account="A1", amount=FAILING_AMOUNT))

    refused = market.sell("A2", 100, 7900)
    cancelled = market.cancel("A1", 1)
    resumed = market.send(ResumeMarket())
    accepted = market.sell("A2", 100, 7900)

    assert [(type(e), getattr(e, "code", None)) for e in refused] == [(OrderRejected, Reject.MARKET_HALTED)]
    assert [type(e) for e in cancelled] == [OrderCancelled]
    assert resumed == [MarketStatusChanged(ts_event=market.ts - 1, halted=False, reason="")]
    assert [type(e) for e in accepted] == [OrderAccepted]


# ------------------------------------------------------------------------------------------ the same outcome everywhere


def _one_by_one(exchange: Exchange, commands: Sequence[Command]) -> list[list[Event]]:
    return [exchange.apply(c, ts) for ts, c in enumerate(commands, 1)]


def _in_batches(exchange: Exchange, commands: Sequence[Command], sizes: Sequence[int]) -> list[list[Event]]:
    events: list[list[Event]] = []
    start = 0
    for size in sizes:
        chunk = commands[start : start + size]
        stamps = list(range(start + 1, start + len(chunk) + 1))
        events += exchange.apply_batch(exchange.command_batch(chunk, stamps)).all_events()
        start += len(chunk)
    assert start == len(commands)
    return events


def _codes(events: Sequence[list[Event]]) -> list[Reject]:
    return [e.code for command in events for e in command if isinstance(e, OrderRejected | RequestRejected)]


@pytest.mark.per_book
def test_a_batch_with_failures_in_the_middle_gives_the_events_of_one_by_one(defects: None, book_kind: str) -> None:
    commands = opening() + flow_with_failures()
    alone, batched = Exchange(market_config(), book_kind), Exchange(market_config(), book_kind)

    expected = _one_by_one(alone, commands)
    got = _in_batches(batched, commands, [len(opening()) + 4, 4, 3, len(commands)])

    assert _codes(expected).count(Reject.INTERNAL_ERROR) == 3
    assert [[_encode(e) for e in c] for c in got] == [[_encode(e) for e in c] for c in expected]
    assert batched.state_hash() == alone.state_hash()
    assert len(batched.take_failures()) == len(alone.take_failures()) == 3
    batched.validate_internal_state()


@pytest.mark.not_per_book
def test_both_books_give_the_same_events_and_state_for_the_same_failures(defects: None) -> None:
    commands = opening() + flow_with_failures()
    reference, fast = Exchange(market_config(), "reference"), Exchange(market_config(), "fast")

    expected = _one_by_one(reference, commands)
    got = _in_batches(fast, commands, [len(commands)])

    assert [[_encode(e) for e in c] for c in got] == [[_encode(e) for e in c] for c in expected]
    assert fast.state_hash() == reference.state_hash()
    assert reference.ledger.conservation() == [] == fast.ledger.conservation()


@pytest.mark.per_book
def test_a_replay_of_the_journal_gives_the_same_events_and_hash(defects: None, book_kind: str, tmp_path: Path) -> None:
    config = market_config()
    commands = opening() + flow_with_failures()
    record_config(tmp_path, config)
    live = Exchange(config, book_kind)
    with Journal.open(tmp_path, fsync=False) as journal:
        sequencer = Sequencer(live, journal, TickingClock())
        rng, start, events = random.Random(7), 0, []
        while start < len(commands):  # poll batches of the node's kind of size, failures inside them
            size = rng.randint(1, 5)
            events += sequencer.submit_batch(commands[start : start + size])
            start += size
    replayed: list[list[Event]] = []

    def collect(record: JournalRecord, outcome: list[Event]) -> None:
        replayed.append(outcome)

    recovered = recover(tmp_path, config, book_kind, on_events=collect)

    assert _codes(events).count(Reject.INTERNAL_ERROR) == 3
    assert [[_encode(e) for e in c] for c in replayed] == [[_encode(e) for e in c] for c in events]
    assert recovered.exchange.state_hash() == live.state_hash()
    assert [f.command for f in recovered.exchange.take_failures()] == [f.command for f in live.take_failures()]


# ------------------------------------------------------------------------------------------ the fast book's boundary


def _cycled_level(exchange: Exchange) -> None:
    """Two sells resting at 80.00 on the fast book, then its level's list made to loop back (a defect)."""
    assert isinstance(exchange.listing, FastListing)
    for ts, command in enumerate(
        [*opening(), order("A2", Side.SELL, 10, 8000, "s1"), order("A3", Side.SELL, 10, 8000, "s2")], 1
    ):
        exchange.apply(command, ts)
    listing = exchange.listing
    first, second = (int(listing.ids[order_id - int(listing.params[P_ID_BASE])]) for order_id in (1, 2))
    listing.orders[second, O_NEXT] = first


@pytest.mark.not_per_book
@pytest.mark.defect_planted
@pytest.mark.parametrize("order_type", [OrderType.LIMIT, OrderType.LIMIT_FOK])
@pytest.mark.parametrize("batched", [False, True])
def test_a_kernel_meeting_a_level_list_that_does_not_end_rejects_and_halts(
    order_type: OrderType, batched: bool
) -> None:
    """A cycle in a level's list (a defect) ends as any failing command does, rather than hanging the
    node in the kernel or letting it write past the event records (``ladder.CORRUPT_LEVEL``)."""
    exchange = Exchange(market_config(), "fast")
    _cycled_level(exchange)
    buy = msgspec.structs.replace(order("A1", Side.BUY, 100, 8000, "b1"), order_type=order_type)
    faulthandler.dump_traceback_later(120, exit=True)  # a hang fails the run with the stacks, not silently
    try:
        if batched:
            [events] = exchange.apply_batch(exchange.command_batch([buy], [100])).all_events()
        else:
            events = exchange.apply(buy, 100)
    finally:
        faulthandler.cancel_dump_traceback_later()

    rejects = [e for e in events if isinstance(e, OrderRejected)]
    assert [r.code for r in rejects] == [Reject.INTERNAL_ERROR]
    assert "order list does not end" in rejects[0].text
    assert exchange.market.halted
    [failure] = exchange.take_failures()
    assert failure.command == buy


@pytest.mark.not_per_book
def test_a_failure_pushing_what_a_python_command_changed_falls_on_the_next_fast_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A deposit of 17 fen makes refreshing the accounts fail (while the market trades): in a batch
    # the refresh runs right before the next kernel call, one by one before the next fast command.
    refresh = FastListing._refresh_accounts

    def failing_refresh(self: FastListing) -> None:
        if self.ledger.cash("A3").available == CASH + 17 and not self.market.halted:
            raise InjectedDefect("refresh failed")
        refresh(self)

    monkeypatch.setattr(FastListing, "_refresh_accounts", failing_refresh)
    commands = [*opening(), order("A2", Side.SELL, 10, 8000, "s0"), DepositCash(account="A3", amount=17)]
    commands += [SetSession(session=Session.LUNCH_BREAK), SetSession(session=Session.AFTERNOON)]
    commands += [order("A1", Side.BUY, 100, 7900, "b1"), CancelOrder(account="A2", order_id=1)]
    alone, batched = Exchange(market_config(), "fast"), Exchange(market_config(), "fast")

    expected = _one_by_one(alone, commands)
    got = _in_batches(batched, commands, [len(commands)])

    assert expected[-2][0] == OrderRejected(
        ts_event=len(commands) - 1,
        account="A1",
        instrument="SHEA2025",
        client_order_id="b1",
        code=Reject.INTERNAL_ERROR,
        text='INTERNAL_ERROR: exception=InjectedDefect message="refresh failed"',
    )
    assert [type(e) for e in expected[-1]] == [OrderCancelled]
    assert [[_encode(e) for e in c] for c in got] == [[_encode(e) for e in c] for c in expected]
    assert batched.state_hash() == alone.state_hash()


@pytest.mark.not_per_book
def test_a_batch_that_cannot_be_encoded_is_applied_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    encode = engine.listing.fast.listing.encode

    def failing_encode(listing: FastListing, cmds: Sequence[Command], ts: Sequence[int]) -> np.ndarray:
        if any(isinstance(c, NewOrder) and c.quantity == FAILING_QUANTITY for c in cmds):
            raise InjectedDefect("encode failed")
        return encode(listing, cmds, ts)

    monkeypatch.setattr(engine.listing.fast.listing, "encode", failing_encode)
    commands = opening() + flow_with_failures()
    alone, batched = Exchange(market_config(), "fast"), Exchange(market_config(), "fast")

    expected = _one_by_one(alone, commands)
    got = _in_batches(batched, commands, [len(commands)])

    assert _codes(expected).count(Reject.INTERNAL_ERROR) == 2  # the two orders; the deposit has no defect here
    assert [[_encode(e) for e in c] for c in got] == [[_encode(e) for e in c] for c in expected]
    assert batched.state_hash() == alone.state_hash()


@pytest.mark.not_per_book
def test_a_record_that_cannot_be_decoded_gives_way_to_a_reject_without_a_halt(monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel applied the trade in full: the state is whole, only its report failed.
    def failing_trade(*args: object) -> Event:
        raise InjectedDefect("no trade report")

    monkeypatch.setitem(DECODERS, EV_TRADE, failing_trade)
    commands = [*opening(), order("A1", Side.BUY, 100, 7900, "b1"), order("A2", Side.SELL, 100, 7900, "s1")]
    alone, batched = Exchange(market_config(), "fast"), Exchange(market_config(), "fast")

    expected = _one_by_one(alone, commands)
    kept = batched.apply_batch(batched.command_batch(commands, range(1, len(commands) + 1)))
    got = kept.all_events()

    assert [type(e) for e in expected[-1]] == [OrderAccepted, OrderRejected]
    assert expected[-1][-1].text == 'INTERNAL_ERROR: exception=InjectedDefect message="no trade report"'  # type: ignore[union-attr]
    assert [[_encode(e) for e in c] for c in got] == [[_encode(e) for e in c] for c in expected]
    assert kept.events(len(commands) - 1) == got[-1]  # read twice, reported once
    assert not batched.market.halted and len(batched.listing.books["SHEA2025"]) == 0  # traded in full
    assert batched.state_hash() == alone.state_hash() and batched.ledger.conservation() == []
    assert [f.conservation_ok for f in batched.take_failures()] == [None]


@pytest.mark.not_per_book
def test_decode_without_a_report_raises_as_decode_does() -> None:
    decode = Exchange(market_config(), "fast").listing.names.decode  # type: ignore[attr-defined]

    with pytest.raises(KeyError):
        decode_or_report([[999, 0]], 1, None, decode, None)


# ------------------------------------------------------------------------------------------ a day beyond any date


def test_start_of_day_beyond_any_date_is_refused_not_a_trading_day(market: Market) -> None:
    market.close_day(DAY1)  # the regulator closes the sessions and ends the day

    events = market.send(StartOfDay(trading_day=2**62))

    assert events == [
        RequestRejected(
            ts_event=market.ts,
            request="StartOfDay",
            code=Reject.NOT_A_TRADING_DAY,
            text=f"NOT_A_TRADING_DAY: trading_day={2**62}",
        )
    ]
    assert market.exchange.take_failures() == [] and not market.exchange.market.halted


@pytest.mark.parametrize("value", [2**62, -(2**62), 10**30, -1, 0, 20261131, 20261300, 99991232])
def test_day_from_int_is_none_for_any_int_that_is_not_a_date(value: int) -> None:
    assert day_from_int(value) is None


def test_day_from_int_reads_a_date() -> None:
    assert day_from_int(20261123) == dt.date(2026, 11, 23)


# ------------------------------------------------------------------------------------------ the gateway and the node


@pytest.mark.per_book
def test_a_member_whose_order_fails_gets_its_reject_and_may_still_cancel(defects: None) -> None:
    h = trading_harness()
    h.submit(R1, "M1", gateway_order("A1", Side.BUY, 100, 7900, "b1"))
    h.step()
    h.take(R1)

    failing = h.submit(R1, "M1", gateway_order("A1", Side.BUY, FAILING_QUANTITY, 8000, "f1"))
    h.step()
    failed = h.take(R1)
    h.submit(R1, "M1", CancelOrder(account="A1", order_id=1))
    h.step()
    cancelled = h.take(R1)

    first = next(m for m in failed if isinstance(m, ExecutionReport))
    assert (first.request_id, type(first.event), getattr(first.event, "code", None)) == (
        failing,
        OrderRejected,
        Reject.INTERNAL_ERROR,
    )
    assert any(isinstance(m, Ack) and m.request_id == failing for m in failed)
    assert [type(m.event) for m in cancelled if isinstance(m, ExecutionReport)] == [OrderCancelled]
    assert h.exchange.market.halted


@pytest.fixture
def failing_start_of_day(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(self: MarketDay, cmd: StartOfDay, ts: int) -> list[Event]:
        raise InjectedDefect("start of day failed")

    monkeypatch.setattr(MarketDay, "_start_of_day", failing)


def test_the_node_survives_an_internal_error_logs_it_critical_and_replays_it(
    failing_start_of_day: None, tmp_path: Path
) -> None:
    config_dir = make_config(tmp_path)
    node_toml = config_dir / "node.toml"
    node_toml.write_text(node_toml.read_text().replace('mode = "manual"', 'mode = "calendar"'))
    clock = Clock()
    clock.at(MONDAY, 9, 0)
    node = Node(load_config(config_dir), tmp_path / "var", clock=clock)
    node.bind()
    try:
        with capture_logs() as logs:
            node.step(0)  # the scheduler's StartOfDay fails
            node.step(0)  # the scheduler waits before it asks again
            clock.ns += SCHEDULER_RETRY_NS
            node.step(0)  # and it fails again: the node goes on
        state = node.exchange.state_hash()
        assert node.exchange.market.halted and not node.exchange.market.day_open
    finally:
        node.close()

    critical = [line for line in logs if line["log_level"] == "critical"]
    assert [(line["event"], line["journal_seq"]) for line in critical] == [
        ("engine.internal_error", 1),
        ("scheduler.refused", 1),
        ("engine.internal_error", 2),
        ("scheduler.refused", 2),
    ]
    assert critical[1]["command"] == "StartOfDay" and critical[1]["code"] == "INTERNAL_ERROR"
    assert critical[0]["command"] == "StartOfDay" and critical[0]["exception"] == "InjectedDefect"
    assert critical[0]["conservation_ok"] is True and isinstance(critical[0]["exc_info"], InjectedDefect)

    with capture_logs() as logs:
        restarted = Node(load_config(config_dir), tmp_path / "var", clock=clock)
    try:
        assert restarted.exchange.state_hash() == state
        assert restarted.exchange.take_failures() == []  # drained by recovery: not the first batch's to log
    finally:
        restarted.close()
    replayed = [
        (line["log_level"], line["journal_seq"]) for line in logs if line["event"] == "recovery.internal_error_replayed"
    ]
    assert replayed == [("warning", 1), ("warning", 2)]
