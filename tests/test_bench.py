"""The standard benchmark flow: its model agrees with the engine, and the hot operations' benchmarks.

pyproject runs pytest with ``--benchmark-disable``, so each benchmark runs its operation once and
checks the outcome like any test; ``pytest tests/test_bench.py --benchmark-enable`` times them.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bench import start
from bench.flow import (
    BUYERS,
    INSTRUMENT,
    REFERENCE_PRICE,
    SELLERS,
    FlowOutcome,
    StandardFlow,
    apply_flow,
    make_exchange,
    standard_flow,
)
from engine.batch import CommandBatch
from engine.exchange import Exchange
from engine.messages import (
    CancelOrder,
    CancelReason,
    Event,
    NewOrder,
    OrderAccepted,
    OrderCancelled,
    OrderType,
    Side,
    TradeExecuted,
)

SEED = 20261121
ROUNDS = 200  # per benchmark of one operation, when benchmarks are enabled

Benchmark = Any  # pytest-benchmark's fixture; the plugin ships no type hints


@pytest.fixture(scope="module")
def warm_flow() -> StandardFlow:
    """A flow long enough to pass 1,000 resting orders: the book the operations are measured on."""
    return standard_flow(3_000, SEED)


@pytest.fixture
def warm_exchange(warm_flow: StandardFlow, book_kind: str) -> Iterator[Exchange]:
    exchange = make_exchange(warm_flow, book=book_kind)
    outcome = apply_flow(exchange, warm_flow.commands, warm_flow.first_ts)
    assert outcome.rejected == 0
    yield exchange
    exchange.validate_internal_state()


def _orders(prefix: str) -> Callable[[str, Side, OrderType, int, int], NewOrder]:
    ids = itertools.count(1)

    def order(account: str, side: Side, order_type: OrderType, price: int, quantity: int) -> NewOrder:
        return NewOrder(
            account=account,
            instrument=INSTRUMENT,
            client_order_id=f"{prefix}{next(ids)}",
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
        )

    return order


# ---------------------------------------------------------------------- the flow against the engine
@pytest.mark.per_book
def test_engine_trades_the_flows_expected_volume_and_rejects_nothing(book_kind: str) -> None:
    flow = standard_flow(20_000, SEED)
    exchange = make_exchange(flow, book=book_kind)

    outcome = apply_flow(exchange, flow.commands, flow.first_ts)

    assert outcome.rejected == 0, outcome.first_reject
    assert outcome.traded_volume == flow.expected_volume > 0
    assert len(exchange.listing.books[INSTRUMENT]) == flow.expected_resting
    exchange.validate_internal_state()


def test_flow_is_seeded_and_holds_every_kind_of_command() -> None:
    flow = standard_flow(5_000, SEED)

    assert flow.commands == standard_flow(5_000, SEED).commands
    assert flow.commands != standard_flow(5_000, SEED + 1).commands
    kinds = {(type(c).__name__, getattr(c, "order_type", None)) for c in flow.commands}
    assert kinds == {("NewOrder", OrderType.LIMIT), ("NewOrder", OrderType.LIMIT_IOC), ("CancelOrder", None)}
    for command in flow.commands:
        if isinstance(command, NewOrder):
            assert command.account in (BUYERS if command.side is Side.BUY else SELLERS)
            assert 7200 <= command.price <= 8800
            assert command.quantity % 10 == 0 and 10 <= command.quantity <= 990


# ---------------------------------------------------------------------- benchmarks of the hot operations
@pytest.mark.per_book
def test_bench_resting_limit_order(benchmark: Benchmark, warm_exchange: Exchange) -> None:
    order = _orders("REST")

    def setup() -> tuple[tuple[NewOrder], dict[str, object]]:
        return (order(BUYERS[0], Side.BUY, OrderType.LIMIT, REFERENCE_PRICE - 700, 100),), {}

    events: list[Event] = benchmark.pedantic(warm_exchange.apply, setup=setup, rounds=ROUNDS)

    assert len(events) == 1 and isinstance(events[0], OrderAccepted)
    assert warm_exchange.listing.books[INSTRUMENT].get(events[0].order_id) is not None


@pytest.mark.per_book
def test_bench_aggressive_order_that_trades(benchmark: Benchmark, warm_exchange: Exchange) -> None:
    order = _orders("HIT")
    book = warm_exchange.listing.books[INSTRUMENT]

    def setup() -> tuple[tuple[NewOrder], dict[str, object]]:
        # Top up the best ask so the buy always fills 300 t at that one price.
        ask = book.best_ask() or REFERENCE_PRICE + 100
        warm_exchange.apply(order(SELLERS[0], Side.SELL, OrderType.LIMIT, ask, 300))
        return (order(BUYERS[1], Side.BUY, OrderType.LIMIT, ask, 300),), {}

    events: list[Event] = benchmark.pedantic(warm_exchange.apply, setup=setup, rounds=ROUNDS)

    trades = [e for e in events if isinstance(e, TradeExecuted)]
    assert trades and sum(t.quantity for t in trades) == 300
    assert len({t.price for t in trades}) == 1


@pytest.mark.per_book
def test_bench_cancel(benchmark: Benchmark, warm_exchange: Exchange) -> None:
    order = _orders("CXL")

    def setup() -> tuple[tuple[CancelOrder], dict[str, object]]:
        (accepted,) = warm_exchange.apply(order(SELLERS[2], Side.SELL, OrderType.LIMIT, REFERENCE_PRICE + 700, 250))
        assert isinstance(accepted, OrderAccepted)
        return (CancelOrder(account=SELLERS[2], order_id=accepted.order_id),), {}

    events: list[Event] = benchmark.pedantic(warm_exchange.apply, setup=setup, rounds=ROUNDS)

    (cancelled,) = events
    assert isinstance(cancelled, OrderCancelled)
    assert cancelled.reason is CancelReason.USER and cancelled.released_quantity == 250


@pytest.mark.per_book
def test_bench_standard_flow_chunk(benchmark: Benchmark, book_kind: str) -> None:
    flow = standard_flow(10_000, SEED)

    def setup() -> tuple[tuple[Exchange, list[Any], int], dict[str, object]]:
        return (make_exchange(flow, book=book_kind), flow.commands, flow.first_ts), {}

    outcome: FlowOutcome = benchmark.pedantic(apply_flow, setup=setup, rounds=3)

    assert outcome.rejected == 0, outcome.first_reject
    assert outcome.traded_volume == flow.expected_volume


@pytest.mark.per_book
def test_bench_standard_flow_chunk_in_one_batch(benchmark: Benchmark, book_kind: str) -> None:
    """The same 10,000 commands through ``apply_batch``: on the fast book one kernel call over the
    columns (built in the setup, as a node's sequencer builds them), events left as records."""
    flow = standard_flow(10_000, SEED)

    def setup() -> tuple[tuple[Exchange, CommandBatch], dict[str, object]]:
        exchange = make_exchange(flow, book=book_kind)
        assert exchange.book_kind == book_kind
        ts = range(flow.first_ts, flow.first_ts + len(flow.commands))
        return (exchange, exchange.command_batch(flow.commands, ts)), {}

    kept: list[Any] = []

    def run(exchange: Exchange, batch: CommandBatch) -> None:
        kept.append(exchange.apply_batch(batch).keep())

    benchmark.pedantic(run, setup=setup, rounds=3)

    events = kept[-1].all_events()
    assert len(events) == len(flow.commands)
    trades = [e for es in events for e in es if isinstance(e, TradeExecuted)]
    assert sum(t.quantity for t in trades) == flow.expected_volume


@pytest.mark.not_per_book
def test_python_m_bench_times_both_books_and_checks_their_volume(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.__main__ import main

    assert main(["--commands", "3000", "--batch", "700", "--no-e2e", "--scale"]) == 0

    out = capsys.readouterr().out
    rates = [line for line in out.splitlines() if "commands/s" in line]
    names = ["liquibook", "reference", "kernel", "boundary"]
    assert [line.split(":")[0] for line in rates] == names * 2  # the standard flow, then at scale
    assert "the peer" in rates[0] and all("x liquibook" in line for line in rates[1:4])
    assert "kernel" in rates[2] and "(target 15x: " in rates[2] and "(target 3x: " in rates[3]
    traded = [line.split("traded ")[1] for line in out.splitlines() if line.lstrip().startswith("traded ")]
    # every run on a flow traded the same volume in as many trades (the check is the flow's own book)
    assert len(traded) == 8 and len(set(traded[:4])) == 1 and len(set(traded[4:])) == 1
    assert "40 instruments, 500 accounts a side" in out
    # the kernel's figure splits into its own time and the reading of its records, on both flows
    splits = re.findall(r"of each command's ([\d,]+) ns: the kernel ([\d,]+), reading its records ([\d,]+)", out)
    assert len(splits) == 2
    for total, own, reading in ([int(x.replace(",", "")) for x in split] for split in splits):
        assert own > 0 and reading > 0 and abs(own + reading - total) <= 1
    (change,) = [line for line in out.splitlines() if line.startswith("at scale:")]
    assert all(f"{name} " in change for name in names)
    assert "check:     traded volume equals the flow's expected volume" in out
    summary = out.split("summary (the targets of issue 19; bench/RESULTS.md):\n", 1)[1].splitlines()
    assert summary[0].startswith("  kernel ") and "x liquibook (target 15x: " in summary[0]
    assert summary[1].startswith("  boundary ") and "(target 3x: " in summary[1]
    assert summary[2] == "  " + change
    # three rounds on each flow, each naming every figure; a figure is its best round
    rounds = [line for line in out.splitlines() if line.startswith("round ")]
    assert [line.split(":")[0] for line in rounds] == [f"round {i} of 3" for i in (1, 2, 3)] * 2
    assert all(all(f"{name} " in line for name in names) for line in rounds)
    for line, best in zip(rates, re.findall(r"best of 3 rounds: ([\d.]+), ([\d.]+), ([\d.]+) s", out), strict=True):
        assert f" in {min(best, key=float)} s = " in line


@pytest.mark.not_per_book
def test_a_round_whose_outcome_is_wrong_fails_the_run_whichever_round_it_is(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import books
    from bench.__main__ import main

    measured = books.measure
    calls: list[str] = []

    def measure(name: str, *args: object, **kwargs: object) -> books.Figure:
        figure = measured(name, *args, **kwargs)  # type: ignore[arg-type]
        calls.append(name)
        if name == "kernel" and calls.count("kernel") == 2:  # the second round's kernel loses a trade
            outcome = dataclasses.replace(figure.outcome, traded_volume=figure.outcome.traded_volume - 1)
            figure = dataclasses.replace(figure, outcome=outcome, seconds=figure.seconds * 2)
        return figure

    monkeypatch.setattr(books, "measure", measure)
    assert main(["--commands", "2000", "--batch", "500", "--no-e2e"]) == 1
    out = capsys.readouterr().out
    assert calls == ["liquibook", "reference", "kernel", "boundary"] * 3
    assert len(re.findall(r"FAIL: kernel: traded volume [\d,]+ t != the flow's [\d,]+ t", out)) == 1
    assert "check:" not in out and "summary" not in out


@pytest.mark.not_per_book
def test_the_scaled_flow_is_the_standard_flow_at_one_instrument_and_trades_its_volume_on_every_instrument() -> None:
    assert standard_flow(2_000, SEED, instruments=1, accounts=50).commands == standard_flow(2_000, SEED).commands
    flow = standard_flow(4_000, SEED, instruments=4, accounts=7)
    instruments = {c.instrument for c in flow.commands if isinstance(c, NewOrder)}
    accounts = {c.account for c in flow.commands}
    assert instruments == {i.code for i in flow.config.instruments} and len(instruments) == 4
    assert accounts <= {a.id for a in flow.config.accounts} and len(accounts) == 14
    for book in ("reference", "fast"):
        outcome = apply_flow(make_exchange(flow, book=book), flow.commands, flow.first_ts)
        assert outcome.rejected == 0 and outcome.traded_volume == flow.expected_volume > 0


@pytest.mark.not_per_book
def test_the_peer_matches_the_flow_as_its_own_book_does() -> None:
    from bench import peer

    flow = standard_flow(4_000, SEED, instruments=3)
    ops = peer.operations(flow)
    assert ops.books == 3 and len(ops.operations) == len(flow.commands)
    seconds, outcome = peer.run(ops)
    assert seconds > 0 and outcome.traded_volume == flow.expected_volume > 0
    assert outcome.trades == apply_flow(make_exchange(flow, book="fast"), flow.commands, flow.first_ts).trades


@pytest.mark.not_per_book
def test_a_warm_node_start_is_timed_to_its_ready_line() -> None:
    """``bench.start`` launches real nodes and stops each cleanly (a failed start raises)."""
    first, warm = start.measure(runs=1, timeout=60.0)
    assert first > 0 and len(warm) == 1 and warm[0] > 0
    assert "warm median" in start.render(first, warm)


@pytest.mark.not_per_book
def test_python_m_bench_publisher_times_both_calls_over_the_flows_trades(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import publisher

    assert publisher.main(["--commands", "3000", "--batch", "700", "--runs", "2"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["run 1", "run 2", "median"]
    assert all("on_batch" in line and "drain" in line for line in out[:2])
    traded = {line.split("commands, ")[1] for line in out[:2]}  # both passes saw the same trades
    assert len(traded) == 1 and traded.pop() != "0 trades)"
