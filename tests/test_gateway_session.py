"""The order gateway's session logic without sockets (gateway/session.py, gateway/authorise.py).

Every 1xxx refusal reached through ``Gateway.receive``; logon; what each role may send and see;
idempotent new orders; throttles in integer nanoseconds; heartbeats, lost sessions and
cancel-on-disconnect; shutdown. The harness (tests/gateway_helpers.py) plays the node: it takes the
gateway's work, applies it to a real ``Exchange`` with a journal seq counter and hands the events
back to ``Gateway.applied``. Every test asserts the exact frames a connection receives.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest

from carbonx.config import load_config
from engine.messages import (
    AccountStatement,
    AllOrdersCancelled,
    CancelAllOrders,
    CancelOrder,
    CancelReason,
    Command,
    DepositCash,
    EndOfDay,
    HaltInstrument,
    HaltMarket,
    MarketStatusChanged,
    NewOrder,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderType,
    Reject,
    RequestRejected,
    Session,
    SetSession,
    Side,
    StartOfDay,
    reject_text,
)
from gateway.access import GatewayOptions
from gateway.protocol import (
    AccountBalance,
    AccountList,
    Ack,
    ExecutionReport,
    Heartbeat,
    HoldingBalance,
    ListOrders,
    LoggedOut,
    Logon,
    LogonAccepted,
    Logout,
    OpenOrder,
    OrderList,
    QueryAccounts,
    Refused,
    Rehearsal,
    ResendEnd,
    ResendRequest,
    ServerMessage,
    Submit,
    SubmitBatch,
    client_decoder,
    encoder,
)
from gateway.submission import Submission
from tests.conftest import CASH, DAY1, DAY2, HOLDING
from tests.gateway_helpers import (
    DAY3,
    MS,
    NS,
    R1,
    R1B,
    R2,
    RR,
    RS,
    T0,
    Harness,
    member_access,
    order,
    report,
    trading_harness,
)

ALL_ACCOUNTS = ["EXCHANGE-FEES", "RESERVE", "A1", "A2", "A3", "A4", "STAFF"]  # market_config() order
NEW = b"r-new"  # a connection that never logged on


def open_orders(h: Harness) -> list[int]:
    return sorted(o.order_id for book in h.exchange.listing.books.values() for o in book.orders())


def refused(request_id: int, code: Reject, **context: object) -> Refused:
    return Refused(request_id=request_id, code=code, text=reject_text(code, **context))


def buy_a1(client_order_id: str = "b1", quantity: int = 10, price: int = 8000) -> NewOrder:
    return order("A1", Side.BUY, quantity, price, client_order_id)


# ------------------------------------------------------------------------------ every 1xxx code
# Each scenario sets up, drains the outbox, then sends ONE triggering frame; it returns the harness,
# the connection and the one frame that connection must receive.
Scenario = Callable[[], tuple[Harness, bytes, Refused]]


def _not_logged_on() -> tuple[Harness, bytes, Refused]:
    h = trading_harness()
    h.submit(NEW, "M1", buy_a1(), request_id=3)
    return h, NEW, refused(3, Reject.NOT_LOGGED_ON)


def _logon_refused() -> tuple[Harness, bytes, Refused]:
    h = Harness()
    h.send(R1, "M1", Logon(request_id=4, member="M2"))  # M1's key, M2's name
    return h, R1, refused(4, Reject.LOGON_REFUSED, member="M2")


def _not_authorised() -> tuple[Harness, bytes, Refused]:
    h = trading_harness()
    h.submit(R1, "M1", HaltMarket(reason="members do not halt"), request_id=5)
    return h, R1, refused(5, Reject.NOT_AUTHORISED, command="HaltMarket", role="member")


def _malformed() -> tuple[Harness, bytes, Refused]:
    h = trading_harness()
    h.frame(R1, "M1", b"\xc1 not msgpack")
    detail = "MessagePack data is malformed: invalid opcode '\\xc1' (byte 0)"
    return h, R1, refused(0, Reject.MALFORMED_MESSAGE, reason="malformed", detail=detail)


def _too_large() -> tuple[Harness, bytes, Refused]:
    h = trading_harness()
    h.frame(R1, "M1", b"\x00" * 65_537)
    return h, R1, refused(0, Reject.MESSAGE_TOO_LARGE, size=65_537, max=65_536)


def _unsupported_protocol() -> tuple[Harness, bytes, Refused]:
    h = Harness()
    h.send(R1, "M1", Logon(request_id=6, member="M1", protocol=2))
    return h, R1, refused(6, Reject.UNSUPPORTED_PROTOCOL, protocol=2, supported=1)


def _throttled() -> tuple[Harness, bytes, Refused]:
    h = trading_harness(access=member_access(throttle_per_s=1, throttle_burst=1))
    h.submit(R1, "M1", buy_a1("t1"), request_id=1)
    h.take_all()
    h.submit(R1, "M1", buy_a1("t2"), request_id=2)
    return h, R1, refused(2, Reject.THROTTLED, per_s=1, cost=1)


def _resend_unavailable() -> tuple[Harness, bytes, Refused]:
    h = trading_harness()
    h.submit(R1, "M1", buy_a1("d1"), request_id=1)  # report 1, on DAY1
    h.step()
    h.next_day(DAY1, DAY2)
    day2_first = h.reports.last("M1") + 1
    h.next_day(DAY2, DAY3)  # keeps M1's reports from the start of DAY2
    h.take_all()
    h.send(R1, "M1", ResendRequest(request_id=8, from_seq=1))
    return h, R1, refused(8, Reject.RESEND_UNAVAILABLE, from_seq=1, first_kept=day2_first)


def _batch_too_large() -> tuple[Harness, bytes, Refused]:
    h = trading_harness(options=GatewayOptions(max_batch=2))
    commands = [CancelOrder(account="A1", order_id=n) for n in (1, 2, 3)]
    h.send(R1, "M1", SubmitBatch(request_id=9, commands=commands))  # type: ignore[arg-type]
    return h, R1, refused(9, Reject.BATCH_TOO_LARGE, commands=3, max=2)


def _invalid_field() -> tuple[Harness, bytes, Refused]:
    h = trading_harness()
    h.submit(RR, "REGU", StartOfDay(trading_day=2**62), request_id=11)  # the constructor does not check bounds
    return h, RR, refused(11, Reject.INVALID_FIELD, field="$.command.trading_day", error="Expected `int` <= 99991231")


def _routing_id_in_use() -> tuple[Harness, bytes, Refused]:
    h = trading_harness()
    h.send(R1, "M2", QueryAccounts(request_id=12))  # R1 is M1's connection's routing id; this is M2's key
    return h, R1, refused(12, Reject.ROUTING_ID_IN_USE)


def _node_stopping() -> tuple[Harness, bytes, Refused]:
    h = trading_harness()
    h.gateway.shutdown()  # the node drains what arrives meanwhile before it logs everyone out
    h.submit(R1, "M1", buy_a1(), request_id=10)
    return h, R1, refused(10, Reject.NODE_STOPPING)


GATEWAY_REFUSALS: dict[Reject, Scenario] = {
    Reject.NOT_LOGGED_ON: _not_logged_on,
    Reject.LOGON_REFUSED: _logon_refused,
    Reject.NOT_AUTHORISED: _not_authorised,
    Reject.MALFORMED_MESSAGE: _malformed,
    Reject.MESSAGE_TOO_LARGE: _too_large,
    Reject.UNSUPPORTED_PROTOCOL: _unsupported_protocol,
    Reject.THROTTLED: _throttled,
    Reject.RESEND_UNAVAILABLE: _resend_unavailable,
    Reject.BATCH_TOO_LARGE: _batch_too_large,
    Reject.NODE_STOPPING: _node_stopping,
    Reject.INVALID_FIELD: _invalid_field,
    Reject.ROUTING_ID_IN_USE: _routing_id_in_use,
}
GATEWAY_CODES = [code for code in Reject if code < 2000]


def test_the_table_reaches_every_gateway_code() -> None:
    assert list(GATEWAY_REFUSALS) == GATEWAY_CODES


@pytest.mark.per_book
@pytest.mark.parametrize("code", GATEWAY_CODES, ids=lambda code: code.name)
def test_gateway_code_is_reached_through_receive(code: Reject) -> None:
    harness, connection, expected = GATEWAY_REFUSALS[code]()
    work_before = len(harness.gateway.work)

    answer = harness.take(connection)

    assert answer == [expected]
    assert expected.text.startswith(code.name)
    assert len(harness.gateway.work) == work_before  # refused: nothing queued for sequencing


# ------------------------------------------------------------------------------ NOT_LOGGED_ON


@pytest.mark.parametrize(
    ("message", "request_id"),
    [
        (Heartbeat(), 0),
        (Logout(request_id=2), 2),
        (Submit(request_id=3, command=buy_a1()), 3),
        (SubmitBatch(request_id=4, commands=[buy_a1()]), 4),
        (ResendRequest(request_id=5, from_seq=1), 5),
        (ListOrders(request_id=6), 6),
        (QueryAccounts(request_id=7), 7),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, int) else str(value),
)
def test_every_message_before_logon_is_refused_with_its_request_id(message: msgspec.Struct, request_id: int) -> None:
    h = trading_harness()

    h.send(NEW, "M1", message)

    assert h.take_by_connection() == {NEW: [refused(request_id, Reject.NOT_LOGGED_ON)]}
    assert h.gateway.work == []


def test_after_logout_the_connection_must_log_on_again() -> None:
    h = trading_harness()

    h.send(R1, "M1", Logout(request_id=11))
    h.submit(R1, "M1", buy_a1(), request_id=12)

    assert h.take(R1) == [LoggedOut(request_id=11, reason="logout"), refused(12, Reject.NOT_LOGGED_ON)]
    assert R1 not in h.gateway.sessions


# ------------------------------------------------------------------------------ LOGON_REFUSED


def test_a_key_whose_owner_has_no_access_is_refused() -> None:
    h = Harness()

    h.send(R1, "NOBODY", Logon(request_id=1, member="NOBODY"))
    h.submit(R1, "NOBODY", buy_a1(), request_id=2)

    assert h.take(R1) == [refused(1, Reject.LOGON_REFUSED, member="NOBODY"), refused(2, Reject.NOT_LOGGED_ON)]
    assert h.gateway.sessions == {}


def test_a_refused_logon_opens_no_session_for_either_member() -> None:
    h = Harness()

    h.send(R1, "M1", Logon(request_id=1, member="M2"))
    h.send(R1, "M1", QueryAccounts(request_id=2))

    assert h.take(R1) == [refused(1, Reject.LOGON_REFUSED, member="M2"), refused(2, Reject.NOT_LOGGED_ON)]


# ------------------------------------------------------------------------------ NOT_AUTHORISED


@pytest.mark.parametrize(
    ("connection", "member", "command", "context"),
    [
        (R1, "M1", HaltMarket(), {"command": "HaltMarket", "role": "member"}),
        (R1, "M1", DepositCash(account="A1", amount=1), {"command": "DepositCash", "role": "member"}),
        (R1, "M1", EndOfDay(trading_day=DAY1), {"command": "EndOfDay", "role": "member"}),
        (
            R1,
            "M1",
            CancelAllOrders(account="A1", on_disconnect=True),
            {"command": "CancelAllOrders", "on_disconnect": True},
        ),
        (RS, "EXCH", buy_a1(), {"command": "NewOrder", "role": "surveillance"}),
        (RS, "EXCH", CancelOrder(account="A1", order_id=1), {"command": "CancelOrder", "role": "surveillance"}),
        (RS, "EXCH", CancelAllOrders(account="A1"), {"command": "CancelAllOrders", "role": "surveillance"}),
        (RS, "EXCH", HaltMarket(), {"command": "HaltMarket", "role": "surveillance"}),
        (RR, "REGU", buy_a1(), {"command": "NewOrder", "role": "regulator"}),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, msgspec.Struct) else None,
)
def test_a_role_may_not_send_what_it_is_not_for(
    connection: bytes, member: str, command: Command, context: dict[str, object]
) -> None:
    h = trading_harness()

    h.submit(connection, member, command, request_id=21)

    assert h.take_by_connection() == {connection: [refused(21, Reject.NOT_AUTHORISED, **context)]}
    assert h.gateway.work == []


@pytest.mark.parametrize(("connection", "member", "role"), [(R1, "M1", "member"), (RS, "EXCH", "surveillance")])
@pytest.mark.parametrize("dry_run", [False, True])
def test_only_the_regulator_sends_atomic_batches(connection: bytes, member: str, role: str, dry_run: bool) -> None:
    h = trading_harness()

    batch = SubmitBatch(request_id=22, commands=[CancelAllOrders(account="A1")], atomic=True, dry_run=dry_run)
    h.send(connection, member, batch)

    assert h.take(connection) == [refused(22, Reject.NOT_AUTHORISED, atomic=True, role=role)]
    assert h.gateway.work == []


def test_a_regulator_atomic_batch_is_queued_atomic() -> None:
    h = trading_harness()
    commands: list[Command] = [DepositCash(account="A1", amount=5), DepositCash(account="A2", amount=7)]

    h.send(RR, "REGU", SubmitBatch(request_id=23, commands=commands, atomic=True))  # type: ignore[arg-type]

    assert h.gateway.work == [Submission(RR, "REGU", 23, commands, atomic=True, batch=True)]


@pytest.mark.parametrize("atomic", [True, False])
def test_a_dry_run_is_rehearsed_and_never_applied(atomic: bool) -> None:
    h = trading_harness()
    halt = HaltMarket(reason="rehearsal")

    h.send(RR, "REGU", SubmitBatch(request_id=24, commands=[halt], atomic=atomic, dry_run=True))
    work = h.step()

    assert work == [Submission(RR, "REGU", 24, [halt], atomic=True, dry_run=True, batch=True)]
    assert h.exchange.market.halted is False
    assert h.seq == 0  # nothing journaled
    [rehearsal] = h.take(RR)
    assert isinstance(rehearsal, Rehearsal)
    assert (rehearsal.request_id, rehearsal.rejections) == (24, [])
    assert [[type(e) for e in events] for events in rehearsal.events] == [[MarketStatusChanged]]


def test_one_unauthorised_command_refuses_the_whole_batch_and_names_it() -> None:
    h = trading_harness()
    commands: list[Command] = [buy_a1("ok"), HaltMarket()]

    h.send(R1, "M1", SubmitBatch(request_id=25, commands=commands))  # type: ignore[arg-type]

    assert h.take(R1) == [refused(25, Reject.NOT_AUTHORISED, index=1, command="HaltMarket", role="member")]
    assert h.gateway.work == []


@pytest.mark.per_book
def test_the_regulator_may_cancel_any_accounts_orders() -> None:
    h = trading_harness()
    h.submit(R1, "M1", buy_a1("rest"), request_id=1)
    h.step()
    h.take_all()

    h.submit(RR, "REGU", CancelOrder(account="A1", order_id=1), request_id=26)
    h.step()

    cancelled = h.applied[-1].events
    assert [type(e) for e in cancelled] == [OrderCancelled]
    out = h.take_by_connection()
    assert out[RR] == [
        report(1, 26, cancelled[0]),
        Ack(request_id=26, journal_seq=2, first_report=1, report_count=1),
    ]
    assert out[R1] == [report(2, 0, cancelled[0])]


# ------------------------------------------------------------------------------ MALFORMED_MESSAGE

_NEW_ORDER = msgspec.to_builtins(buy_a1())


@pytest.mark.parametrize(
    ("frame", "request_id"),
    [
        pytest.param(b"\xc1 garbage", 0, id="garbage"),
        pytest.param(b"", 0, id="empty"),
        pytest.param(msgspec.msgpack.encode([1, 2, 3]), 0, id="not-a-map"),
        pytest.param(msgspec.msgpack.encode({"request_id": 1}), 1, id="no-type"),
        pytest.param(msgspec.msgpack.encode({"type": "Launch", "request_id": 1}), 1, id="unknown-type"),
        pytest.param(
            encoder.encode(Ack(request_id=1, journal_seq=1, first_report=1, report_count=0)), 1, id="server-msg"
        ),
        pytest.param(
            msgspec.msgpack.encode({"type": "Submit", "request_id": "one", "command": _NEW_ORDER}), 0, id="wrong-type"
        ),
        pytest.param(
            msgspec.msgpack.encode({"type": "Submit", "request_id": 1, "command": {**_NEW_ORDER, "side": 9}}),
            1,
            id="bad-enum",
        ),
        pytest.param(
            msgspec.msgpack.encode({"type": "Submit", "request_id": 1, "command": {**_NEW_ORDER, "price": 80.5}}),
            1,
            id="float-price",
        ),
        pytest.param(msgspec.msgpack.encode({"type": "Submit", "request_id": 1}), 1, id="missing-field"),
    ],
)
def test_an_unreadable_frame_is_refused_with_its_request_id_and_the_decoders_words(
    frame: bytes, request_id: int
) -> None:
    h = trading_harness()

    h.frame(R1, "M1", frame)

    # The request id whenever it can be read (a valid one), and the decoder's own message.
    assert h.take(R1) == [refused(request_id, Reject.MALFORMED_MESSAGE, reason="malformed", detail=decoder_says(frame))]
    assert h.gateway.work == []


def decoder_says(frame: bytes) -> str:
    try:
        client_decoder.decode(frame)
    except msgspec.DecodeError as exc:
        return str(exc)
    raise AssertionError("the frame decodes")


@pytest.mark.parametrize("parts", [[], [b"a", b"b"], [encoder.encode(Heartbeat()), encoder.encode(Heartbeat())]])
def test_a_message_must_be_exactly_one_frame(parts: list[bytes]) -> None:
    h = trading_harness()

    h.raw(R1, "M1", parts)

    assert h.take(R1) == [
        refused(0, Reject.MALFORMED_MESSAGE, reason="frames", detail=f"{len(parts)} parts; one frame per message")
    ]


def test_unknown_keys_are_ignored_as_the_protocol_says() -> None:
    h = trading_harness()
    frame = msgspec.msgpack.encode({"type": "QueryAccounts", "request_id": 3, "account": "A1", "later": 1})

    h.frame(R1, "M1", frame)

    [answer] = h.take(R1)
    assert isinstance(answer, AccountList)
    assert answer.request_id == 3


# ------------------------------------------------------------------------------ MESSAGE_TOO_LARGE


def test_a_frame_at_the_limit_is_read_and_one_byte_more_is_refused() -> None:
    h = trading_harness(options=GatewayOptions(max_frame_bytes=100))
    account = next("X" * n for n in range(100) if len(encoder.encode(ListOrders(request_id=1, account="X" * n))) == 100)
    at_limit = encoder.encode(ListOrders(request_id=1, account=account))

    h.frame(R1, "M1", at_limit)
    h.frame(R1, "M1", at_limit + b"\x00")

    assert h.take(R1) == [
        refused(1, Reject.UNKNOWN_ACCOUNT, account=account),  # read: the account is not M1's
        refused(1, Reject.MESSAGE_TOO_LARGE, size=101, max=100),  # not read, but its request id can be
    ]


# ------------------------------------------------------------------------------ UNSUPPORTED_PROTOCOL


@pytest.mark.parametrize("protocol", [0, 2, 99])
def test_a_logon_for_another_protocol_version_is_refused(protocol: int) -> None:
    h = Harness()

    h.send(R1, "M1", Logon(request_id=1, member="M1", protocol=protocol))

    assert h.take(R1) == [refused(1, Reject.UNSUPPORTED_PROTOCOL, protocol=protocol, supported=1)]
    assert h.gateway.sessions == {}


# ------------------------------------------------------------------------------ THROTTLED


def _throttled_harness(per_s: int = 2, burst: int = 3) -> Harness:
    # Logged on long enough before T0 that the logons' tokens are back: the tests spend a full bucket.
    h = trading_harness(access=member_access(throttle_per_s=per_s, throttle_burst=burst), now=T0 - 100 * NS)
    h.now = T0
    return h


def _queries(h: Harness, connection: bytes, member: str, request_ids: range, now: int) -> list[ServerMessage]:
    for request_id in request_ids:
        h.send(connection, member, ListOrders(request_id=request_id), now=now)
    return h.take(connection)


def test_the_burst_is_spent_then_refused() -> None:
    h = _throttled_harness()

    answers = _queries(h, R1, "M1", range(1, 5), T0)

    assert answers[:3] == [OrderList(request_id=n, orders=[]) for n in (1, 2, 3)]
    assert answers[3:] == [refused(4, Reject.THROTTLED, per_s=2, cost=1)]


def test_tokens_refill_at_the_rate_in_integer_nanoseconds() -> None:
    h = _throttled_harness(per_s=2, burst=3)
    _queries(h, R1, "M1", range(1, 4), T0)  # the burst, spent at T0

    # One token takes NS / 2 at 2 per second: one nanosecond short is still too early.
    early = _queries(h, R1, "M1", range(4, 5), T0 + NS // 2 - 1)
    on_time = _queries(h, R1, "M1", range(5, 6), T0 + NS // 2)
    again = _queries(h, R1, "M1", range(6, 7), T0 + NS // 2)

    assert early == [refused(4, Reject.THROTTLED, per_s=2, cost=1)]
    assert on_time == [OrderList(request_id=5, orders=[])]
    assert again == [refused(6, Reject.THROTTLED, per_s=2, cost=1)]


def test_the_refill_is_capped_at_the_burst() -> None:
    h = _throttled_harness(per_s=2, burst=3)
    _queries(h, R1, "M1", range(1, 4), T0)

    answers = _queries(h, R1, "M1", range(4, 8), T0 + 1_000 * NS)

    assert [type(a) for a in answers] == [OrderList, OrderList, OrderList, Refused]


def test_a_batch_costs_one_token_per_command() -> None:
    h = _throttled_harness(per_s=2, burst=3)
    three = [CancelOrder(account="A1", order_id=n) for n in (1, 2, 3)]

    h.send(R1, "M1", SubmitBatch(request_id=1, commands=[*three, CancelOrder(account="A1", order_id=4)]))
    h.send(R1, "M1", SubmitBatch(request_id=2, commands=three))  # type: ignore[arg-type]
    h.send(R1, "M1", ListOrders(request_id=3))

    assert h.take(R1) == [
        refused(1, Reject.THROTTLED, per_s=2, cost=4),  # more than the burst: refused, nothing spent
        refused(3, Reject.THROTTLED, per_s=2, cost=1),  # the batch of three spent the burst
    ]
    assert [s.request_id for s in h.gateway.work] == [2]


def test_the_bucket_is_per_member_shared_by_its_sessions() -> None:
    h = _throttled_harness(per_s=2, burst=3)
    h.logon(R1B, "M1")

    first = _queries(h, R1, "M1", range(1, 4), T0)
    second = _queries(h, R1B, "M1", range(4, 5), T0)
    other_member = _queries(h, R2, "M2", range(5, 9), T0)

    assert len(first) == 3
    assert second == [refused(4, Reject.THROTTLED, per_s=2, cost=1)]
    assert other_member == [OrderList(request_id=n, orders=[]) for n in range(5, 9)]


def test_heartbeats_are_paid_for_but_never_refused_and_logouts_cost_nothing() -> None:
    h = _throttled_harness(per_s=2, burst=2)

    for _ in range(5):
        h.send(R1, "M1", Heartbeat(), now=T0)  # the first two spend the bucket; the rest go unanswered
    h.send(R1, "M1", ListOrders(request_id=1), now=T0)
    h.send(R1, "M1", Logout(request_id=2), now=T0)

    assert h.take(R1) == [refused(1, Reject.THROTTLED, per_s=2, cost=1), LoggedOut(request_id=2, reason="logout")]


def test_a_logon_costs_a_token() -> None:
    h = Harness(access=member_access(throttle_per_s=2, throttle_burst=2))

    answers = [h.logon(R1, "M1", request_id=n) for n in (1, 2, 3)]

    assert [type(a[0]) for a in answers] == [LogonAccepted, LogonAccepted, Refused]
    assert answers[2] == [refused(3, Reject.THROTTLED, per_s=2, cost=1)]


def test_the_gateway_default_applies_when_the_member_sets_none() -> None:
    h = trading_harness(options=GatewayOptions(throttle_per_s=7, throttle_burst=1), now=T0 - NS)

    answers = _queries(h, R1, "M1", range(1, 3), T0)

    assert answers == [OrderList(request_id=1, orders=[]), refused(2, Reject.THROTTLED, per_s=7, cost=1)]


# ------------------------------------------------------------------------------ BATCH_TOO_LARGE


def test_a_batch_of_exactly_max_batch_is_queued() -> None:
    h = trading_harness(options=GatewayOptions(max_batch=2))
    commands: list[Command] = [CancelOrder(account="A1", order_id=1), CancelOrder(account="A1", order_id=2)]

    h.send(R1, "M1", SubmitBatch(request_id=1, commands=commands))  # type: ignore[arg-type]

    assert h.take(R1) == []
    assert h.gateway.work == [Submission(R1, "M1", 1, commands, batch=True)]


def test_an_oversized_batch_is_batch_too_large_with_the_default_options() -> None:
    h = trading_harness()
    options = h.gateway.options
    commands = [CancelOrder(account="A1", order_id=n) for n in range(options.max_batch + 1)]

    h.send(R1, "M1", SubmitBatch(request_id=1, commands=commands))  # type: ignore[arg-type]

    assert h.take(R1) == [refused(1, Reject.BATCH_TOO_LARGE, commands=options.max_batch + 1, max=options.max_batch)]


# ------------------------------------------------------------------------------ NODE_STOPPING and shutdown


def test_shutdown_stops_intake_and_the_last_word_logs_everyone_out() -> None:
    h = trading_harness()

    h.gateway.shutdown()
    still_logged_on = set(h.gateway.sessions)
    quiet = h.take_all()
    h.gateway.log_out_everyone()

    assert still_logged_on == {R1, R2, RR, RS}
    assert quiet == []
    assert h.take_by_connection() == {
        rid: [LoggedOut(request_id=0, reason="node stopping")] for rid in (R1, R2, RR, RS)
    }
    assert h.gateway.sessions == {}


def test_a_session_lost_while_stopping_queues_no_cancels() -> None:
    h = trading_harness(access=member_access(cancel_on_disconnect=True))
    h.gateway.shutdown()

    h.gateway.tick(T0 + 10 * NS)

    assert h.gateway.sessions == {}
    assert h.gateway.work == []


@pytest.mark.parametrize(
    "message",
    [
        Submit(request_id=30, command=buy_a1()),
        SubmitBatch(request_id=30, commands=[buy_a1()]),
        SubmitBatch(request_id=30, commands=[DepositCash(account="A1", amount=1)], atomic=True),
    ],
    ids=["Submit", "SubmitBatch", "atomic"],
)
def test_every_submission_after_shutdown_is_node_stopping(message: msgspec.Struct) -> None:
    h = trading_harness()
    h.gateway.shutdown()

    atomic = isinstance(message, SubmitBatch) and message.atomic
    h.send(RR if atomic else R1, "REGU" if atomic else "M1", message)

    assert [m for _, m in h.take_all()] == [refused(30, Reject.NODE_STOPPING)]
    assert h.gateway.work == []


def test_queries_are_still_answered_while_stopping() -> None:
    h = trading_harness()
    h.gateway.shutdown()

    h.send(R1, "M1", ListOrders(request_id=31))

    assert h.take(R1) == [OrderList(request_id=31, orders=[])]


@pytest.mark.per_book
def test_work_received_before_shutdown_is_answered_with_its_reports() -> None:
    h = trading_harness()
    h.submit(R1, "M1", buy_a1("last"), request_id=32)

    h.gateway.shutdown()  # the node's _shutdown: stop intake, sequence what was received, log out
    h.step()
    h.gateway.log_out_everyone()

    accepted = h.applied[-1].events[0]
    assert h.take(R1) == [
        report(1, 32, accepted),
        Ack(request_id=32, journal_seq=1, first_report=1, report_count=1),
        LoggedOut(request_id=0, reason="node stopping"),
    ]


# ------------------------------------------------------------------------------ logon


def test_a_member_logon_is_accepted_with_its_own_accounts() -> None:
    h = Harness()

    assert h.logon(R2, "M2", request_id=7) == [
        LogonAccepted(
            request_id=7,
            member="M2",
            role="member",
            accounts=["A2", "A3", "A4", "STAFF"],
            heartbeat_ms=1000,
            last_report_seq=0,
            protocol=1,
            trading_day=0,  # none started yet
            day_first_report=1,
            first_kept_report=1,
        )
    ]


@pytest.mark.parametrize(("member", "role"), [("REGU", "regulator"), ("EXCH", "surveillance")])
def test_regulator_and_surveillance_logons_list_every_account(member: str, role: str) -> None:
    h = Harness()

    [accepted] = h.logon(RR, member, request_id=8, heartbeat_ms=5_000)

    assert accepted == LogonAccepted(
        request_id=8,
        member=member,
        role=role,
        accounts=ALL_ACCOUNTS,
        heartbeat_ms=5_000,
        last_report_seq=0,
        day_first_report=1,
        first_kept_report=1,
    )


@pytest.mark.parametrize(
    ("asked", "granted"),
    [(0, 100), (99, 100), (100, 100), (2_500, 2_500), (60_000, 60_000), (60_001, 60_000), (3_600_000, 60_000)],
)
def test_the_heartbeat_interval_is_clamped_to_the_gateways_bounds(asked: int, granted: int) -> None:
    h = Harness()

    [accepted] = h.logon(R1, "M1", heartbeat_ms=asked)

    assert isinstance(accepted, LogonAccepted)
    assert accepted.heartbeat_ms == granted
    assert h.gateway.sessions[R1].heartbeat_ns == granted * MS


@pytest.mark.parametrize(("asked", "bound"), [(-5, "Expected `int` >= 0"), (10**12, "Expected `int` <= 3600000")])
def test_a_heartbeat_interval_beyond_an_hour_or_negative_is_an_invalid_field(asked: int, bound: str) -> None:
    h = Harness()

    answer = h.logon(R1, "M1", request_id=7, heartbeat_ms=asked)

    assert answer == [refused(7, Reject.INVALID_FIELD, field="$.heartbeat_ms", error=bound)]
    assert h.gateway.sessions == {}


def test_the_bounds_come_from_the_options() -> None:
    h = Harness(options=GatewayOptions(heartbeat_min_ms=1_000, heartbeat_max_ms=2_000))

    low = h.logon(R1, "M1", heartbeat_ms=10)[0]
    high = h.logon(R2, "M2", heartbeat_ms=10_000)[0]

    assert isinstance(low, LogonAccepted) and isinstance(high, LogonAccepted)
    assert (low.heartbeat_ms, high.heartbeat_ms) == (1_000, 2_000)


def _three_reports(h: Harness) -> None:
    for request_id, cid in ((1, "p1"), (2, "p2"), (3, "p3")):
        h.submit(R1, "M1", buy_a1(cid), request_id=request_id)
    h.step()
    h.take_all()


@pytest.mark.per_book
def test_logon_tells_the_last_report_number() -> None:
    h = trading_harness()
    _three_reports(h)

    [accepted] = h.logon(R1B, "M1", request_id=40)

    assert isinstance(accepted, LogonAccepted)
    assert accepted.last_report_seq == 3


@pytest.mark.per_book
def test_logon_tells_where_the_current_and_the_previous_trading_day_start() -> None:
    h = trading_harness()
    _three_reports(h)  # reports 1-3 on DAY1
    h.next_day(DAY1, DAY2)  # DAY1's end of day: the orders expire, M1's statement
    day1_last = h.reports.last("M1")
    h.submit(R1, "M1", buy_a1("d2"), request_id=4)  # DAY2's first report
    h.step()
    h.take_all()

    [on_day2] = h.logon(R1B, "M1", request_id=50)
    h.next_day(DAY2, DAY3)  # DAY1's reports are dropped
    day2_last = h.reports.last("M1")
    [on_day3] = h.logon(b"r-m1-third", "M1", request_id=51)

    assert isinstance(on_day2, LogonAccepted) and isinstance(on_day3, LogonAccepted)
    assert (on_day2.trading_day, on_day2.day_first_report, on_day2.first_kept_report) == (DAY2, day1_last + 1, 1)
    assert (on_day3.trading_day, on_day3.day_first_report, on_day3.first_kept_report) == (
        DAY3,
        day2_last + 1,
        day1_last + 1,
    )
    day2 = h.reports.resend("M1", on_day3.first_kept_report, on_day3.day_first_report - 1)
    assert isinstance(day2, list)
    assert isinstance(day2[0].event, OrderAccepted) and day2[0].event.client_order_id == "d2"
    assert [r.event.trading_day for r in day2 if isinstance(r.event, AccountStatement)] == [DAY2]


@pytest.mark.per_book
def test_logon_with_resend_from_sends_the_reports_again_after_the_acceptance() -> None:
    h = trading_harness()
    _three_reports(h)
    events = [a.events[0] for a in h.applied]

    answer = h.logon(R1B, "M1", request_id=41, resend_from=2)

    assert answer == [
        LogonAccepted(
            request_id=41,
            member="M1",
            role="member",
            accounts=["A1"],
            heartbeat_ms=1000,
            last_report_seq=3,
            trading_day=DAY1,
            day_first_report=1,
            first_kept_report=1,
        ),
        report(2, 2, events[1], resent=True),
        report(3, 3, events[2], resent=True),
        ResendEnd(request_id=0, first_seq=2, last_seq=3, to_seq=0),
    ]


@pytest.mark.per_book
def test_logon_with_resend_from_past_the_last_resends_nothing() -> None:
    h = trading_harness()
    _three_reports(h)

    answer = h.logon(R1B, "M1", request_id=42, resend_from=4)

    assert [type(m) for m in answer] == [LogonAccepted, ResendEnd]
    assert answer[1] == ResendEnd(request_id=0, first_seq=4, last_seq=3, to_seq=0)


@pytest.mark.per_book
def test_a_resend_request_sends_the_range_asked_then_its_end() -> None:
    h = trading_harness()
    _three_reports(h)
    events = [a.events[0] for a in h.applied]

    h.send(R1, "M1", ResendRequest(request_id=43, from_seq=2, to_seq=2))
    h.send(R1, "M1", ResendRequest(request_id=44, from_seq=3, to_seq=99))

    assert h.take(R1) == [
        report(2, 2, events[1], resent=True),
        ResendEnd(request_id=43, first_seq=2, last_seq=2, to_seq=2),
        report(3, 3, events[2], resent=True),
        ResendEnd(request_id=44, first_seq=3, last_seq=3, to_seq=99),
    ]


@pytest.mark.per_book
@pytest.mark.parametrize(
    ("from_seq", "answer"),
    [
        (0, refused(45, Reject.INVALID_FIELD, field="$.from_seq", error="Expected `int` >= 1")),
        (-3, refused(45, Reject.INVALID_FIELD, field="$.from_seq", error="Expected `int` >= 1")),
        (4, ResendEnd(request_id=45, first_seq=4, last_seq=3)),  # beyond the newest: nothing, and the end
        (10**6, ResendEnd(request_id=45, first_seq=10**6, last_seq=10**6 - 1)),
    ],
)
def test_a_resend_from_zero_a_negative_number_or_beyond_the_newest(from_seq: int, answer: ServerMessage) -> None:
    h = trading_harness()
    _three_reports(h)

    h.frame(R1, "M1", msgspec.msgpack.encode({"type": "ResendRequest", "request_id": 45, "from_seq": from_seq}))

    assert h.take(R1) == [answer]


@pytest.mark.per_book
def test_a_resend_sends_a_page_and_says_more_remain() -> None:
    h = trading_harness(options=GatewayOptions(resend_page=2))
    _three_reports(h)

    h.send(R1, "M1", ResendRequest(request_id=46, from_seq=1))
    first_page = h.take(R1)
    h.send(R1, "M1", ResendRequest(request_id=47, from_seq=3))
    second_page = h.take(R1)

    assert [m.seq for m in first_page[:-1]] == [1, 2]  # type: ignore[union-attr]
    assert first_page[-1] == ResendEnd(request_id=46, first_seq=1, last_seq=2, more=True)
    assert [m.seq for m in second_page[:-1]] == [3]  # type: ignore[union-attr]
    assert second_page[-1] == ResendEnd(request_id=47, first_seq=3, last_seq=3)


@pytest.mark.per_book
def test_a_resend_costs_a_token_per_report_and_sends_what_the_bucket_pays_for() -> None:
    h = trading_harness(access=member_access(throttle_per_s=1, throttle_burst=10), now=T0 - 100 * NS)
    h.now = T0
    _three_reports(h)  # three orders: three tokens; seven are left

    h.send(R1, "M1", ResendRequest(request_id=48, from_seq=1))  # three reports: three tokens
    h.send(R1, "M1", ResendRequest(request_id=49, from_seq=1))
    h.send(R1, "M1", ResendRequest(request_id=50, from_seq=1))  # one token left: one report
    h.send(R1, "M1", ResendRequest(request_id=51, from_seq=1))  # none left
    ends = [m for m in h.take(R1) if not isinstance(m, ExecutionReport)]

    assert ends == [
        ResendEnd(request_id=48, first_seq=1, last_seq=3),
        ResendEnd(request_id=49, first_seq=1, last_seq=3),
        ResendEnd(request_id=50, first_seq=1, last_seq=1, more=True),
        refused(51, Reject.THROTTLED, per_s=1, cost=3),
    ]


# ------------------------------------------------------------------------------ member isolation


@pytest.mark.parametrize("account", ["A2", "NOPE"])
def test_another_members_account_is_refused_like_one_that_does_not_exist(account: str) -> None:
    h = trading_harness()

    h.submit(R1, "M1", order(account, Side.BUY, 10, 8000, "x1"), request_id=50)
    h.submit(R1, "M1", CancelAllOrders(account=account), request_id=51)
    h.send(R1, "M1", ListOrders(request_id=52, account=account))
    h.send(R1, "M1", QueryAccounts(request_id=53, account=account))

    assert h.take(R1) == [refused(rid, Reject.UNKNOWN_ACCOUNT, account=account) for rid in (50, 51, 52, 53)]
    assert h.gateway.work == []


def _m2_rests_an_order(h: Harness) -> int:
    h.submit(R2, "M2", order("A2", Side.SELL, 10, 8100, "m2-rest"), request_id=1)
    h.step()
    h.take_all()
    [accepted] = h.applied[-1].events
    assert isinstance(accepted, OrderAccepted)
    return accepted.order_id


@pytest.mark.per_book
@pytest.mark.parametrize("whose", ["another-members", "nonexistent"])
def test_another_members_order_id_is_the_engines_unknown_order(whose: str) -> None:
    h = trading_harness()
    order_id = _m2_rests_an_order(h) if whose == "another-members" else 999

    h.submit(R1, "M1", CancelOrder(account="A1", order_id=order_id), request_id=54)
    h.step()

    rejected = RequestRejected(
        ts_event=h.ts,
        request="CancelOrder",
        code=Reject.UNKNOWN_ORDER,
        text=reject_text(Reject.UNKNOWN_ORDER, order_id=order_id),
        account="A1",
        order_id=order_id,
    )
    out = h.take_by_connection()
    assert out[R1] == [
        report(1, 54, rejected),
        Ack(request_id=54, journal_seq=h.seq, first_report=1, report_count=1),
    ]
    assert R2 not in out  # M2 hears nothing of it
    assert len(open_orders(h)) == (1 if whose == "another-members" else 0)


def _book_for_everyone(h: Harness) -> list[OpenOrder]:
    """A1 bids 10 @ 79.00, A2 offers 20 @ 81.00, A3 offers 30 of CCER @ 86.00."""
    h.submit(R1, "M1", order("A1", Side.BUY, 10, 7900, "o1"), request_id=1)
    h.submit(R2, "M2", order("A2", Side.SELL, 20, 8100, "o2"), request_id=2)
    h.submit(R2, "M2", order("A3", Side.SELL, 30, 8600, "o3", instrument="CCER"), request_id=3)
    h.step()
    h.take_all()
    return [
        OpenOrder(
            order_id=order_id,
            account=account,
            instrument=instrument,
            client_order_id=cid,
            side=side,
            order_type=OrderType.LIMIT,
            price=price,
            leaves=leaves,
            filled=0,
        )
        for order_id, account, instrument, cid, side, price, leaves in (
            (1, "A1", "SHEA2025", "o1", Side.BUY, 7900, 10),
            (2, "A2", "SHEA2025", "o2", Side.SELL, 8100, 20),
            (3, "A3", "CCER", "o3", Side.SELL, 8600, 30),
        )
    ]


@pytest.mark.per_book
@pytest.mark.parametrize(
    ("connection", "member", "query", "expected"),
    [
        (R1, "M1", ListOrders(request_id=60), [0]),
        (R2, "M2", ListOrders(request_id=60), [1, 2]),
        (R2, "M2", ListOrders(request_id=60, account="A3"), [2]),
        (R2, "M2", ListOrders(request_id=60, instrument="SHEA2025"), [1]),
        (RR, "REGU", ListOrders(request_id=60), [0, 1, 2]),
        (RS, "EXCH", ListOrders(request_id=60), [0, 1, 2]),
        (RS, "EXCH", ListOrders(request_id=60, account="A1"), [0]),
        (RR, "REGU", ListOrders(request_id=60, instrument="CCER"), [2]),
    ],
)
def test_list_orders_shows_what_the_sender_may_see(
    connection: bytes, member: str, query: ListOrders, expected: list[int]
) -> None:
    h = trading_harness()
    book = _book_for_everyone(h)

    h.send(connection, member, query)

    assert h.take(connection) == [OrderList(request_id=60, orders=[book[i] for i in expected])]


def test_listing_the_orders_of_an_account_that_does_not_exist_is_refused_for_every_role() -> None:
    h = trading_harness()

    h.send(RR, "REGU", ListOrders(request_id=60, account="NOPE"))

    assert h.take(RR) == [refused(60, Reject.UNKNOWN_ACCOUNT, account="NOPE")]


@pytest.mark.per_book
def test_query_accounts_shows_a_members_own_balances() -> None:
    h = trading_harness()
    h.submit(R1, "M1", order("A1", Side.BUY, 10, 7900, "q1"), request_id=1)
    h.step()
    h.take_all()
    [accepted] = h.applied[-1].events
    assert isinstance(accepted, OrderAccepted)

    h.send(R1, "M1", QueryAccounts(request_id=61))

    holdings = [
        HoldingBalance(instrument=code, available=HOLDING, frozen=0, restricted=0, compliance=0)
        for code in ("CCER", "SHEA2025")
    ]
    assert h.take(R1) == [
        AccountList(
            request_id=61,
            accounts=[
                AccountBalance(
                    account="A1",
                    member="M1",
                    kind="covered_entity",
                    cash_available=CASH - accepted.frozen_cash,
                    cash_frozen=accepted.frozen_cash,
                    cash_withdrawable=CASH - accepted.frozen_cash,
                    holdings=holdings,
                )
            ],
        )
    ]


@pytest.mark.parametrize(("connection", "member"), [(RR, "REGU"), (RS, "EXCH")])
def test_regulator_and_surveillance_query_every_account(connection: bytes, member: str) -> None:
    h = trading_harness()

    h.send(connection, member, QueryAccounts(request_id=62))
    h.send(connection, member, QueryAccounts(request_id=63, account="A3"))

    whole, one = h.take(connection)
    assert isinstance(whole, AccountList) and isinstance(one, AccountList)
    assert [a.account for a in whole.accounts] == ALL_ACCOUNTS
    assert [(a.account, a.member, a.kind, a.cash_available) for a in one.accounts] == [("A3", "M2", "individual", CASH)]


def test_a_query_for_an_account_that_does_not_exist_is_refused_for_every_role() -> None:
    h = trading_harness()

    h.send(RR, "REGU", QueryAccounts(request_id=64, account="NOPE"))

    assert h.take(RR) == [refused(64, Reject.UNKNOWN_ACCOUNT, account="NOPE")]


# ------------------------------------------------------------------------------ idempotent new orders


def _placed(h: Harness, connection: bytes = R1, request_id: int = 70) -> list[ServerMessage]:
    h.submit(connection, "M1", buy_a1("same"), request_id=request_id)
    h.step()
    return h.take(connection)


@pytest.mark.per_book
def test_a_resent_new_order_gets_its_original_result_again() -> None:
    h = trading_harness()
    original = _placed(h)
    seq_after_first = h.seq

    h.submit(R1, "M1", buy_a1("same"), request_id=71)
    h.step()

    accepted = h.applied[0].events[0]
    assert original == [
        report(1, 70, accepted),
        Ack(request_id=70, journal_seq=1, first_report=1, report_count=1),
    ]
    assert h.take(R1) == [
        report(1, 70, accepted, resent=True),
        Ack(request_id=71, journal_seq=1, first_report=1, report_count=1, duplicate=True),
    ]
    assert h.seq == seq_after_first  # nothing sequenced
    assert len(open_orders(h)) == 1
    assert h.reports.last("M1") == 1


@pytest.mark.per_book
def test_a_rejected_orders_id_may_be_sent_again() -> None:
    h = trading_harness()
    h.submit(R1, "M1", buy_a1("fix", price=1), request_id=72)  # far outside the band
    h.step()
    h.take_all()
    [rejected] = h.applied[-1].events
    assert isinstance(rejected, OrderRejected) and rejected.code is Reject.PRICE_OUT_OF_BAND

    h.submit(R1, "M1", buy_a1("fix", price=8000), request_id=73)
    h.step()

    [accepted] = h.applied[-1].events
    assert isinstance(accepted, OrderAccepted) and accepted.client_order_id == "fix"
    assert h.take(R1) == [
        report(2, 73, accepted),
        Ack(request_id=73, journal_seq=2, first_report=2, report_count=1),
    ]


@pytest.mark.per_book
@pytest.mark.parametrize("second", [R1, R1B], ids=["same-connection", "other-session"])
def test_a_resend_in_the_same_poll_is_refused_by_the_engine_as_a_duplicate(second: bytes) -> None:
    h = trading_harness()
    h.logon(R1B, "M1")

    h.submit(R1, "M1", buy_a1("twice"), request_id=74)
    h.submit(second, "M1", buy_a1("twice"), request_id=75)  # before the first is applied
    work = h.step()

    assert [(len(s.commands), s.duplicates) for s in work] == [(1, []), (1, [])]
    accepted, duplicate = (a.events[0] for a in h.applied)
    assert isinstance(accepted, OrderAccepted)
    assert isinstance(duplicate, OrderRejected) and duplicate.code is Reject.DUPLICATE_CLIENT_ORDER_ID
    assert open_orders(h) == [accepted.order_id]  # never a second order
    reports = [report(1, 74, accepted), report(2, 75, duplicate)]
    first_ack = Ack(request_id=74, journal_seq=1, first_report=1, report_count=1)
    second_ack = Ack(request_id=75, journal_seq=2, first_report=2, report_count=1)
    out = h.take_by_connection()
    if second == R1:
        assert (out[R1], out[R1B]) == ([reports[0], first_ack, reports[1], second_ack], reports)
    else:
        assert (out[R1], out[R1B]) == ([reports[0], first_ack, reports[1]], [reports[0], reports[1], second_ack])


@pytest.mark.per_book
def test_client_order_ids_are_scoped_to_the_trading_day() -> None:
    h = trading_harness()
    _placed(h)

    h.next_day(DAY1, DAY2)  # TradingDayEnded forgets the day's client order ids
    h.take_all()
    h.submit(R1, "M1", buy_a1("same"), request_id=76)
    h.step()

    [accepted] = h.applied[-1].events
    assert isinstance(accepted, OrderAccepted)
    assert accepted.client_order_id == "same" and accepted.order_id == 2
    first = h.reports.last("M1")
    assert h.take(R1) == [
        report(first, 76, accepted),
        Ack(request_id=76, journal_seq=h.seq, first_report=first, report_count=1),
    ]


@pytest.mark.per_book
def test_the_same_client_order_id_on_another_account_is_another_order() -> None:
    h = trading_harness()
    h.submit(R2, "M2", order("A2", Side.BUY, 10, 8000, "shared"), request_id=1)
    h.submit(R2, "M2", order("A3", Side.BUY, 10, 8000, "shared"), request_id=2)
    h.step()

    assert [type(a.events[0]) for a in h.applied] == [OrderAccepted, OrderAccepted]
    assert [m for m in h.take(R2) if isinstance(m, Ack)] == [
        Ack(request_id=1, journal_seq=1, first_report=1, report_count=1),
        Ack(request_id=2, journal_seq=2, first_report=2, report_count=1),
    ]


@pytest.mark.per_book
def test_a_batch_holding_a_resent_order_is_answered_by_one_ack() -> None:
    h = trading_harness()
    _placed(h)
    original = h.applied[0].events[0]

    h.send(R1, "M1", SubmitBatch(request_id=77, commands=[buy_a1("same"), buy_a1("fresh")]))
    work = h.step()

    assert [(len(s.commands), s.duplicates) for s in work] == [(1, [("A1", "same")])]
    fresh = h.applied[-1].events[0]
    assert isinstance(fresh, OrderAccepted) and fresh.client_order_id == "fresh"
    assert h.take(R1) == [
        report(2, 77, fresh),
        report(1, 70, original, resent=True),
        Ack(request_id=77, journal_seq=2, first_report=2, report_count=1),
    ]


@pytest.mark.per_book
def test_a_resend_queued_with_the_end_of_day_is_still_answered_once() -> None:
    h = trading_harness()
    _placed(h)  # accepted on DAY1: its id is used up
    h.direct(SetSession(session=Session.LUNCH_BREAK), SetSession(session=Session.AFTERNOON))
    h.direct(SetSession(session=Session.CLOSED))

    h.submit(RR, "REGU", EndOfDay(trading_day=DAY1), request_id=79)  # forgets the day's ids
    h.submit(R1, "M1", buy_a1("same"), request_id=80)  # the client's retry, in the same poll
    h.step()

    answers = [m for m in h.take(R1) if isinstance(m, Ack | Refused) and m.request_id == 80]
    assert len(answers) == 1
    assert isinstance(answers[0], Ack) and answers[0].duplicate
    assert h.applied[-1].command == EndOfDay(trading_day=DAY1)  # the retry was not sequenced


# ------------------------------------------------------------------------------ heartbeats and lost sessions


@pytest.mark.per_book
def test_a_quiet_session_gets_a_heartbeat_each_interval() -> None:
    h = trading_harness()
    _three_reports(h)

    h.gateway.tick(T0 + NS - 1)
    early = h.take(R1)
    h.gateway.tick(T0 + NS)
    due = h.take(R1)
    h.gateway.tick(T0 + NS + NS // 2)
    between = h.take(R1)

    assert early == []
    assert due == [Heartbeat(last_report_seq=3)]
    assert between == []


def test_the_next_tick_is_the_earliest_heartbeat_or_loss() -> None:
    h = Harness()
    assert h.gateway.next_tick_ns(T0) is None
    h.logon(R1, "M1", heartbeat_ms=1_000)
    h.logon(R2, "M2", heartbeat_ms=400)

    assert h.gateway.next_tick_ns(T0) == 400 * MS
    assert h.gateway.next_tick_ns(T0 + 500 * MS) == 0

    h.gateway.tick(T0 + 400 * MS)  # M2's heartbeat
    h.gateway.tick(T0 + 1_000 * MS)  # both: M1's first, M2's second
    h.gateway.tick(T0 + 1_200 * MS)  # M2: 3 × 400 ms silent, lost at the next nanosecond
    assert h.gateway.next_tick_ns(T0 + 1_200 * MS) == 1


def test_a_session_silent_for_the_misses_is_lost_and_must_log_on_again() -> None:
    h = trading_harness()
    h.take_all()

    h.gateway.tick(T0 + 3 * NS)  # exactly three intervals: still alive
    alive = R1 in h.gateway.sessions
    h.gateway.tick(T0 + 3 * NS + 1)
    h.submit(R1, "M1", buy_a1(), request_id=90)

    assert alive
    assert R1 not in h.gateway.sessions
    assert h.take(R1) == [Heartbeat(last_report_seq=0), refused(90, Reject.NOT_LOGGED_ON)]


def test_anything_the_client_sends_keeps_its_session_alive() -> None:
    h = trading_harness()

    h.send(R1, "M1", Heartbeat(), now=T0 + 2 * NS)
    h.frame(R1, "M1", b"\xc1", now=T0 + 4 * NS)  # even an unreadable frame
    h.gateway.tick(T0 + 7 * NS)

    assert R1 in h.gateway.sessions
    assert R2 not in h.gateway.sessions


def _lose_everyone_but(h: Harness, *alive: bytes) -> None:
    late = T0 + 10 * NS
    for connection in alive:
        h.send(connection, "M1" if connection in (R1, R1B) else "M2", Heartbeat(), now=late)
    h.gateway.tick(late)


@pytest.mark.per_book
def test_cancel_on_disconnect_cancels_the_members_orders_as_the_node() -> None:
    h = trading_harness(access=member_access(cancel_on_disconnect=True))
    h.submit(R1, "M1", buy_a1("cod"), request_id=1)
    h.step()
    h.take_all()

    _lose_everyone_but(h)

    assert h.gateway.work == [Submission(b"", "", 0, [CancelAllOrders(account="A1", on_disconnect=True)])]
    h.step()
    cancelled, summary = h.applied[-1].events
    assert isinstance(cancelled, OrderCancelled) and cancelled.reason is CancelReason.DISCONNECT
    assert summary == AllOrdersCancelled(
        ts_event=h.ts, account="A1", instrument="", cancelled=1, reason=CancelReason.DISCONNECT
    )
    assert open_orders(h) == []
    assert h.reports.resend("M1", 2) == [
        report(2, 0, cancelled, resent=True),
        report(3, 0, summary, resent=True),
    ]
    assert [(c.origin, c.request_id) for c in h.gateway.take_drop_copies()[-2:]] == [("", 0), ("", 0)]


def test_cancel_on_disconnect_covers_every_account_of_the_member() -> None:
    access = member_access()
    access[3] = msgspec.structs.replace(access[3], cancel_on_disconnect=True)  # M2
    h = trading_harness(access=access)

    _lose_everyone_but(h, R1)

    assert h.gateway.work == [
        Submission(
            b"",
            "",
            0,
            [CancelAllOrders(account=a, on_disconnect=True) for a in ("A2", "A3", "A4", "STAFF")],
        )
    ]


def test_no_cancel_while_another_session_of_the_member_is_alive() -> None:
    h = trading_harness(access=member_access(cancel_on_disconnect=True))
    h.logon(R1B, "M1")

    _lose_everyone_but(h, R1B)

    assert R1 not in h.gateway.sessions and R1B in h.gateway.sessions
    assert h.gateway.work == []


@pytest.mark.per_book
def test_no_cancel_without_the_option() -> None:
    h = trading_harness()
    h.submit(R1, "M1", buy_a1("stays"), request_id=1)
    h.step()

    _lose_everyone_but(h)

    assert h.gateway.sessions == {}
    assert h.gateway.work == []
    assert len(open_orders(h)) == 1


def test_a_halt_by_the_regulator_is_reported_to_it_alone() -> None:
    h = trading_harness()

    h.submit(RR, "REGU", HaltInstrument(instrument="CCER", reason="test"), request_id=95)
    h.step()

    [halted] = h.applied[-1].events
    out = h.take_by_connection()
    assert out[RR] == [
        report(1, 95, halted),
        Ack(request_id=95, journal_seq=1, first_report=1, report_count=1),
    ]
    assert out[RS] == [report(1, 0, halted)]
    assert set(out) == {RR, RS}


# ------------------------------------------------------------------------------ the repository's config


@pytest.mark.parametrize(
    ("member", "role", "accounts"),
    [("M001", "member", ["A001"]), ("REGULATOR", "regulator", None), ("EXCHANGE", "surveillance", None)],
)
def test_the_shipped_members_log_on_with_their_roles(member: str, role: str, accounts: list[str] | None) -> None:
    loaded = load_config("config")
    h = Harness(config=loaded.exchange, access=loaded.access)

    [accepted] = h.logon(R1, member, request_id=1)

    every_account = [a.id for a in loaded.exchange.accounts]
    assert accepted == LogonAccepted(
        request_id=1,
        member=member,
        role=role,
        accounts=accounts if accounts is not None else every_account,
        heartbeat_ms=1000,
        last_report_seq=0,
        day_first_report=1,
        first_kept_report=1,
    )


@pytest.mark.per_book
def test_any_frame_sent_counts_as_traffic_for_the_heartbeat() -> None:
    h = trading_harness()
    h.take_all()

    h.submit(R1, "M1", buy_a1("busy"), request_id=1, now=T0 + NS // 2)  # report and Ack at T0 + 0.5 s
    h.step()
    h.take_all()
    h.gateway.tick(T0 + NS)
    at_one_second = h.take_by_connection()
    h.gateway.tick(T0 + NS + NS // 2)
    later = h.take_by_connection()

    # M1 and surveillance (which sees every event) were sent the report at 0.5 s; the others nothing.
    assert at_one_second == {R2: [Heartbeat(last_report_seq=0)], RR: [Heartbeat(last_report_seq=0)]}
    assert later == {R1: [Heartbeat(last_report_seq=1)], RS: [Heartbeat(last_report_seq=1)]}


def test_a_routing_id_taken_over_by_another_key_is_refused_throughout() -> None:
    h = trading_harness()

    h.send(R1, "M2", QueryAccounts(request_id=1))  # R1 is M1's connection's routing id; this is M2's key
    h.send(R1, "M2", Logon(request_id=2, member="M2"))

    assert h.take(R1) == [refused(1, Reject.ROUTING_ID_IN_USE), refused(2, Reject.ROUTING_ID_IN_USE)]
    assert R1 not in h.gateway.sessions  # M1's session went with its connection
