"""The two books, one behaviour: the fast path's events and state equal the reference's exactly.

docs/ARCHITECTURE.md "Two order books, one behaviour". The reference exchange applies each command on its
own (``apply``); the fast one takes the same commands in batches of varying size
(``apply_batch``: one kernel call per run of order commands, the others in Python between
them), so the batch path is held to the one-command path too. Events are compared as their
msgpack encoding, command by command, and the state hashes at every end of day and at the end.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.batch import StaleEventBatch
from engine.exchange import Exchange
from engine.listing.fast.layout import P_LOOK_AHEAD
from engine.messages import Command, EndOfDay, Event, OrderRejected, RequestRejected
from tests.flows import Flow, Pick, differential_config, reference_run, seeded_flow

pytestmark = pytest.mark.not_per_book

_encode = msgspec.msgpack.Encoder().encode


def _in_batches(exchange: Exchange, commands: Sequence[Command], rng: random.Random) -> list[list[Event]]:
    events: list[list[Event]] = []
    ts = 1
    start = 0
    while start < len(commands):
        size = rng.choice((1, 2, 7, 64, 500, 4_000))
        chunk = commands[start : start + size]
        stamps = list(range(ts, ts + len(chunk)))
        events += exchange.apply_batch(exchange.command_batch(chunk, stamps)).all_events()
        ts += len(chunk)
        start += len(chunk)
    return events


def _compare(
    commands: Sequence[Command], expected: Sequence[list[Event]], batch_seed: int, look_ahead: bool = False
) -> Counter[str]:
    """Run the fast book over ``commands`` in batches; fail at the first event that differs from the
    reference's; return what the flow hit (event types and reject codes).

    ``look_ahead``: the kernel prefetches for the commands ahead from the first resting order on,
    instead of from ``LOOK_AHEAD_FROM`` (8,192), which these flows never reach.
    """
    config = differential_config()
    fast = Exchange(config, "fast")
    if look_ahead:
        fast.listing.params[P_LOOK_AHEAD] = 0
    got = _in_batches(fast, commands, random.Random(batch_seed))
    seen: Counter[str] = Counter()
    for index, command in enumerate(commands):
        if [_encode(e) for e in expected[index]] != [_encode(e) for e in got[index]]:
            raise AssertionError(
                f"command {index} {command!r}\nreference: {expected[index]!r}\nfast:      {got[index]!r}"
            )
        for event in expected[index]:
            seen[type(event).__name__] += 1
            if isinstance(event, OrderRejected | RequestRejected):
                seen[event.code.name] += 1
    reference = Exchange(config, "reference")
    for index, command in enumerate(commands):
        reference.apply(command, index + 1)
    assert fast.state_hash() == reference.state_hash()
    fast.validate_internal_state()
    return seen


# What a long flow must reach, so a pass means the paths were compared and not merely skipped.
MUST_SEE = (
    "TradeExecuted", "OrderConvertedToLimit", "OrderAmended", "AllOrdersCancelled", "DailyBulletin",
    "INSUFFICIENT_FUNDS", "INSUFFICIENT_HOLDINGS", "POSITION_LIMIT", "PRICE_OUT_OF_BAND", "INVALID_TICK",
    "INVALID_LOT", "DUPLICATE_CLIENT_ORDER_ID", "MARKET_CLOSED", "MARKET_HALTED", "INSTRUMENT_HALTED",
    "AMEND_NO_CHANGE", "UNKNOWN_ORDER",
)  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2])
def test_a_seeded_flow_of_100k_commands_gives_identical_events_and_state(seed: int) -> None:
    commands, expected = seeded_flow(seed, 100_000)

    seen = _compare(commands, expected, batch_seed=seed)

    assert [name for name in MUST_SEE if not seen[name]] == [], seen
    assert seen["TradeExecuted"] > 2_000 and seen["TradingDayEnded"] >= 5, seen


def test_looking_ahead_in_the_kernel_changes_no_event_and_no_state() -> None:
    """The prefetching for the commands ahead (``ahead.look_ahead``) reads the state only: with it on
    from the first order, a flow of cancels of unknown, other accounts' and filled orders, amends
    and mass cancels still gives the reference's events and state."""
    commands, expected = seeded_flow(6, 30_000)

    seen = _compare(commands, expected, batch_seed=6, look_ahead=True)

    assert seen["TradeExecuted"] > 500 and seen["OrderCancelled"] > 500 and seen["UNKNOWN_ORDER"] > 0, seen


def test_state_hashes_agree_at_every_end_of_day() -> None:
    commands, _ = seeded_flow(3, 20_000)
    config = differential_config()
    reference, fast = Exchange(config, "reference"), Exchange(config, "fast")
    days = 0
    for index, command in enumerate(commands):
        reference.apply(command, index + 1)
        fast.apply(command, index + 1)
        if isinstance(command, EndOfDay):
            assert fast.state_hash() == reference.state_hash(), f"after {command!r}"
            days += 1
    assert days >= 2 and fast.state_hash() == reference.state_hash()


def test_a_snapshot_taken_on_one_book_continues_identically_on_the_other() -> None:
    commands, _ = seeded_flow(4, 12_000)
    config = differential_config()
    reference = Exchange(config, "reference")
    for index, command in enumerate(commands[:6_000]):
        reference.apply(command, index + 1)
    fast = Exchange.from_snapshot(config, reference.snapshot(), "fast")
    assert fast.state_hash() == reference.state_hash()
    for index, command in enumerate(commands[6_000:], start=6_001):
        assert [_encode(e) for e in fast.apply(command, index)] == [_encode(e) for e in reference.apply(command, index)]
    assert fast.state_hash() == reference.state_hash()
    back = Exchange.from_snapshot(config, fast.snapshot(), "reference")
    assert back.state_hash() == reference.state_hash()


@settings(max_examples=40)
@given(data=st.data())
def test_hypothesis_flows_give_identical_events_and_state(data: st.DataObject) -> None:
    flow = Flow(Pick(data=data))
    count = data.draw(st.integers(1, 120), label="commands")
    commands, expected = reference_run(flow, count, session_every=40)

    batch_seed = data.draw(st.integers(0, 9), label="batches")
    _compare(commands, expected, batch_seed, look_ahead=data.draw(st.booleans(), label="look ahead"))


@pytest.mark.parametrize("book", ["fast", "reference"])
def test_an_event_batch_is_read_before_the_next_or_kept(book: str) -> None:
    """The fast book's records live in the listing's buffer: reading them after the next batch raises
    instead of returning that batch's events, and ``keep()`` copies them out first."""
    commands, expected = seeded_flow(5, 300)
    half, n = len(commands) // 2, len(commands)
    exchange = Exchange(differential_config(), book)
    first = exchange.apply_batch(exchange.command_batch(commands[:half], range(1, half + 1)))
    kept = exchange.apply_batch(exchange.command_batch(commands[half:], range(half + 1, n + 1))).keep()
    exchange.apply_batch(exchange.command_batch([], []))
    assert [[_encode(e) for e in es] for es in kept.all_events()] == [
        [_encode(e) for e in es] for es in expected[half:]
    ]
    if book == "fast":
        with pytest.raises(StaleEventBatch):
            first.all_events()
        with pytest.raises(StaleEventBatch):
            assert first.records is not None
    else:
        assert [[_encode(e) for e in es] for es in first.all_events()] == [
            [_encode(e) for e in es] for es in expected[:half]
        ]
