"""Nothing a client sends can crash the gateway or corrupt the exchange (hypothesis).

Arbitrary bytes, arbitrary msgpack values, and well-formed messages with arbitrary field values —
logged on or not, from any member, in any order — are each answered (a refusal, an answer or an
Ack) and never raise; whatever is sequenced leaves the ledger conserved and the books valid.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.messages import CancelReason, OrderType, Side, StpMode
from gateway.intake import request_id_of
from gateway.protocol import encoder, server_decoder
from tests.gateway_helpers import R1, R2, RR, RS, trading_harness

MEMBERS = {R1: "M1", R2: "M2", RR: "REGU", RS: "EXCH"}
TYPES = [
    "Logon",
    "Heartbeat",
    "Logout",
    "Submit",
    "SubmitBatch",
    "ResendRequest",
    "ListOrders",
    "QueryAccounts",
    "Launch",
]
COMMANDS = [
    "NewOrder",
    "CancelOrder",
    "AmendOrder",
    "CancelAllOrders",
    "HaltMarket",
    "ResumeMarket",
    "DepositCash",
    "WithdrawCash",
    "SplitAccount",
    "EndOfDay",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.text(max_size=12),
    st.sampled_from(["A1", "A2", "A3", "NOPE", "SHEA2025", "CCER", "M1", "M2", ""]),
    st.sampled_from([int(v) for e in (Side, OrderType, StpMode, CancelReason) for v in e]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
command_fields = st.fixed_dictionaries(
    {"type": st.sampled_from(COMMANDS)},
    optional={
        "account": st.sampled_from(["A1", "A2", "A3", "NOPE"]) | st.text(max_size=3),
        "instrument": st.sampled_from(["SHEA2025", "CCER", "NOPE"]),
        "client_order_id": st.text(max_size=6),
        "side": st.integers(0, 3),
        "order_type": st.integers(0, 6),
        "quantity": st.integers(-5, 200_000),
        "price": st.integers(-5, 10_000),
        "order_id": st.integers(0, 20),
        "amount": st.integers(-5, 10**16),
        "trading_day": st.integers(0, 20261130),
        "reason": st.text(max_size=4),
        "on_disconnect": st.booleans(),
        "parts": values,
    },
)
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES)},
    optional={
        "request_id": st.integers(-1, 2**64 - 1),
        "member": st.sampled_from(["M1", "M2", "REGU", "EXCH", "X"]),
        "protocol": st.integers(0, 2),
        "heartbeat_ms": st.integers(-1, 10**7),
        "resend_from": st.integers(-1, 50),
        "from_seq": st.integers(-1, 50),
        "to_seq": st.integers(-1, 50),
        "account": st.sampled_from(["A1", "A2", "NOPE", ""]),
        "command": command_fields,
        "commands": st.lists(command_fields, max_size=4),
        "atomic": st.booleans(),
        "dry_run": st.booleans(),
    },
)
frames = st.one_of(
    st.binary(max_size=40),
    values.map(msgspec.msgpack.encode),
    messages.map(msgspec.msgpack.encode),
)
sends = st.lists(st.tuples(st.sampled_from(sorted(MEMBERS)), frames, st.integers(1, 3)), max_size=25)


@pytest.mark.per_book
@settings(max_examples=150, deadline=None)
@given(sends)
def test_no_frame_crashes_the_gateway_or_unbalances_the_exchange(sent: list[tuple[bytes, bytes, int]]) -> None:
    h = trading_harness()
    h.logon(R1, "M1")
    h.logon(RR, "REGU")
    before = h.exchange.ledger.conservation()
    for routing_id, frame, parts in sent:
        h.raw(routing_id, MEMBERS[routing_id], [frame] * parts)
        h.step()
        for _, answer in h.take_all():
            assert answer is not None  # every frame out decodes as a server message
    assert h.exchange.ledger.conservation() == before == []
    h.exchange.validate_internal_state()
    for _, frame in h.gateway.take_outbox():
        server_decoder.decode(frame)


@pytest.mark.per_book
def test_the_strategies_reach_the_engine() -> None:
    # A guard against a fuzz test that only ever exercises refusals: a well-formed order goes through.
    h = trading_harness()
    h.logon(R1, "M1")
    order = {
        "type": "Submit",
        "request_id": 1,
        "command": {
            "type": "NewOrder",
            "account": "A1",
            "instrument": "SHEA2025",
            "client_order_id": "f",
            "side": 1,
            "order_type": 1,
            "quantity": 10,
            "price": 7990,
        },
    }
    h.raw(R1, "M1", [encoder.encode(order)])
    h.step()
    assert any(type(m).__name__ == "Ack" for _, m in h.take_all())


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=12), values, max_size=5), st.integers(0, 2**63 - 1), st.integers(0, 40))
def test_a_request_id_is_read_back_from_any_map_that_holds_one(
    other: dict[str, object], request_id: int, cut: int
) -> None:
    # PROTOCOL.md §4.6: a refusal echoes the request id whenever it can be read, however broken the rest.
    frame = msgspec.msgpack.encode({**other, "request_id": request_id})

    assert request_id_of(frame) == request_id
    assert request_id_of(frame[: max(0, len(frame) - cut)]) in (0, request_id)  # cut short: never a guess


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_reading_a_request_id_never_raises(frame: bytes) -> None:
    assert 0 <= request_id_of(frame) < 2**63


def test_a_request_id_before_nesting_of_any_depth_is_read() -> None:
    frame = b"\x83\xa4type\xa6Submit\xaarequest_id\x07\xa1x" + b"\x91" * 100_000 + b"\xc0"

    assert request_id_of(frame) == 7
