"""Every field of every command is bounded before it is journaled, and a journal written before a
bound existed still replays (engine/messages/limits.py; issue 12, items 2 and 4)."""

from __future__ import annotations

import typing
from pathlib import Path

import msgspec
import pytest
from structlog.testing import capture_logs

from engine.exchange import Exchange
from engine.journal import Journal, JournalRecord, read_journal
from engine.messages import (
    COMMAND_TYPES,
    DepositCash,
    EndOfDay,
    OrderRejected,
    Reject,
    RequestRejected,
    Side,
    SplitAccount,
    SplitPart,
    StartOfDay,
    Units,
)
from engine.messages import limits as bounds
from engine.recovery import InvalidCommand, Sequencer, recover
from tests.conftest import market_config
from tests.gateway_helpers import order

_encoder = msgspec.msgpack.Encoder()


def _unbounded(annotation: object) -> list[str]:
    """The int, str and list parts of a field's type that carry no msgspec.Meta bound."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return []
    if annotation in (int, str):
        return [str(annotation)]
    if origin is list:
        return [f"list of {typing.get_args(annotation)[0]}"]
    if origin in (typing.Union, __import__("types").UnionType):
        return [u for arg in typing.get_args(annotation) for u in _unbounded(arg)]
    return []


@pytest.mark.parametrize("command_type", COMMAND_TYPES, ids=lambda t: t.__name__)
def test_every_int_string_and_list_field_of_every_command_has_a_bound(command_type: type) -> None:
    hints = typing.get_type_hints(command_type, include_extras=True)
    unbounded = {name: _unbounded(hint) for name, hint in hints.items() if name != "version" and _unbounded(hint)}

    assert unbounded == {}


def test_units_in_settlement_carry_the_same_bounds_as_the_commands() -> None:
    hints = typing.get_type_hints(Units, include_extras=True)
    instrument, quantity = (typing.get_args(hints[name])[1] for name in ("instrument", "quantity"))

    assert instrument.max_length == bounds.MAX_ID_LENGTH
    assert (quantity.ge, quantity.le) == (0, bounds.MAX_QUANTITY_T)


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (StartOfDay(trading_day=2**62), "$.trading_day"),
        (order("A1", Side.BUY, 10, 8_000, "c" * 65), "$.client_order_id"),
        (DepositCash(account="A1", amount=-1), "$.amount"),
        (DepositCash(account="A1", amount=10**16), "$.amount"),
        (
            SplitAccount(account="A1", parts=[SplitPart(account="A2", holdings=[Units(instrument="X", quantity=-1)])]),
            "$.parts[0][2][0][1]",
        ),
    ],
)
def test_a_command_built_in_python_is_checked_before_the_journal(
    tmp_path: Path, command: msgspec.Struct, field: str
) -> None:
    problem = bounds.command_problem(command)
    with Journal.open(tmp_path, fsync=False) as journal:
        sequencer = Sequencer(Exchange(market_config()), journal, lambda: 1)
        with pytest.raises(InvalidCommand, match=r"command #1 \(" + type(command).__name__):
            sequencer.submit_batch([command])
        assert journal.last_seq == 0

    assert problem is not None and bounds.error_field(problem) == field


def test_a_command_beyond_64_bits_is_a_problem_not_a_crash() -> None:
    assert bounds.command_problem(DepositCash(account="A1", amount=2**70)) is not None


@pytest.mark.per_book
def test_a_journal_written_before_the_bounds_replays_as_it_was_applied(tmp_path: Path) -> None:
    # What an older version journaled (and the attacks of issue 12 left behind): a 60,000-character
    # client order id, a start of day that is no date. They were applied then, as rejects; so now.
    records = [
        JournalRecord(seq=1, ts=10, command=StartOfDay(trading_day=20261123)),
        JournalRecord(seq=2, ts=11, command=order("A1", Side.BUY, 10, 8_000, "c" * 60_000)),
        JournalRecord(seq=3, ts=12, command=EndOfDay(trading_day=20261123)),
        JournalRecord(seq=4, ts=13, command=StartOfDay(trading_day=2**62)),
    ]
    with Journal.open(tmp_path, fsync=False) as journal:
        journal._write([_encoder.encode(r) for r in records], 4)  # as the old writer did: no check
    events: list[list[object]] = []

    with capture_logs() as logs:
        read = list(read_journal(tmp_path))
        recovered = recover(tmp_path, market_config(), on_events=lambda record, produced: events.append(produced))

    assert read == records
    assert recovered.last_seq == 4
    rejected = [e for produced in events for e in produced if isinstance(e, OrderRejected | RequestRejected)]
    assert [e.code for e in rejected] == [Reject.INVALID_CLIENT_ORDER_ID, Reject.NOT_A_TRADING_DAY]
    assert [e["event"] for e in logs].count("journal.record_beyond_bounds") == 2  # once per read, not per record
