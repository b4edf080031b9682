"""Sessions belong to connections, and what a client can make the gateway queue is bounded
(gateway/connections.py, gateway/session.py; issue 12, items 3, 5 and 6).

The node hands the gateway each frame with the ZAP handler's number for its connection and its socket,
and tells it when a socket closes (its monitor). These tests play that part by hand: no sockets.
"""

from __future__ import annotations

import msgspec
import pytest
from structlog.testing import capture_logs

from engine.messages import NewOrder, Reject, Side, reject_text
from gateway.access import GatewayOptions, MemberAccess
from gateway.protocol import (
    ExecutionReport,
    Fill,
    ListOrders,
    Logon,
    LogonAccepted,
    Refused,
    ResendEnd,
    ResendRequest,
    ServerMessage,
    Submit,
    SubmitBatch,
    encoder,
    server_decoder,
)
from tests.gateway_helpers import MS, NS, T0, Harness, member_access, order

SHARED = b"shared-rid"  # a routing id a client chose itself (ZMQ_ROUTING_ID)


def _access() -> list[MemberAccess]:
    """The harness's members, and M3: a member with a key and no accounts (the eavesdropper)."""
    return [*member_access(), MemberAccess(member="M3", role="member", public_key="", accounts=[])]


def _harness(**options: int) -> Harness:
    h = Harness(access=_access(), options=GatewayOptions(**options))  # type: ignore[arg-type]
    h.open_market()
    return h


def send(h: Harness, rid: bytes, member: str, connection: int, fd: int, message: msgspec.Struct, now: int = T0) -> None:
    h.gateway.receive(rid, [encoder.encode(message)], member, now, connection, fd)


def sell(client_order_id: str) -> NewOrder:
    return order("A1", Side.SELL, 10, 8000, client_order_id)


def buy(client_order_id: str) -> NewOrder:
    return order("A2", Side.BUY, 10, 8000, client_order_id)


def frames_to(h: Harness, rid: bytes) -> list[ServerMessage]:
    return [server_decoder.decode(frame) for r, frame in h.gateway.take_outbox() if r == rid]


# ------------------------------------------------------------------------------ item 3: the leak


@pytest.mark.per_book
def test_a_closed_connections_reports_never_reach_whoever_takes_its_routing_id() -> None:
    h = _harness()
    send(h, SHARED, "M1", 1, 11, Logon(request_id=1, member="M1"))
    send(h, SHARED, "M1", 1, 11, Submit(request_id=2, command=sell("s1")))
    send(h, b"m2", "M2", 2, 12, Logon(request_id=1, member="M2"))
    h.step()
    h.take_all()

    h.gateway.connection_closed(11, T0)  # M1 closes without logging out; M3 connects on its routing id
    send(h, b"m2", "M2", 2, 12, Submit(request_id=3, command=buy("b1")))  # M2 hits M1's sell
    h.step()
    out = h.take_by_connection()

    assert SHARED not in out  # the Fill of M1's side went nowhere; it stays numbered for M1's resend
    assert any(isinstance(m, ExecutionReport) and isinstance(m.event, Fill) for m in out[b"m2"])
    assert h.reports.last("M1") == 2  # its order accepted, then filled: kept for M1's resend


def test_frames_queued_for_a_connection_that_closes_in_the_same_turn_are_not_sent() -> None:
    h = _harness()
    send(h, SHARED, "M1", 1, 11, Logon(request_id=1, member="M1"))
    h.take_all()
    send(h, SHARED, "M1", 1, 11, ListOrders(request_id=2))  # answered into the outbox

    h.gateway.connection_closed(11, T0)  # before the node flushes the turn

    assert h.take(SHARED) == []


@pytest.mark.per_book
def test_another_key_on_a_remembered_routing_id_is_refused_and_hears_nothing() -> None:
    h = _harness()
    send(h, SHARED, "M1", 1, 11, Logon(request_id=1, member="M1"))
    send(h, SHARED, "M1", 1, 11, Submit(request_id=2, command=sell("s1")))
    h.step()
    h.gateway.connection_closed(11, T0)
    h.take_all()

    send(h, SHARED, "M3", 3, 13, Logon(request_id=5, member="M3"))  # M3 sets M1's routing id
    send(h, b"m2", "M2", 2, 12, Logon(request_id=1, member="M2"))
    send(h, b"m2", "M2", 2, 12, Submit(request_id=3, command=buy("b1")))
    h.step()

    assert h.take(SHARED) == [Refused(request_id=5, code=Reject.ROUTING_ID_IN_USE, text="ROUTING_ID_IN_USE")]
    assert SHARED not in h.gateway.sessions


def test_a_routing_id_taken_by_another_connection_ends_the_session_even_without_a_close_event() -> None:
    h = _harness()
    send(h, SHARED, "M1", 1, 11, Logon(request_id=1, member="M1"))
    h.take_all()

    # The close event of connection 1 was lost; connection 3 (M3's key) arrives on the same routing id.
    send(h, SHARED, "M3", 3, 13, ListOrders(request_id=4))

    assert SHARED not in h.gateway.sessions
    assert h.take(SHARED) == [Refused(request_id=4, code=Reject.ROUTING_ID_IN_USE, text="ROUTING_ID_IN_USE")]


def test_the_same_member_reconnecting_on_its_routing_id_logs_on_again() -> None:
    h = _harness()
    send(h, SHARED, "M1", 1, 11, Logon(request_id=1, member="M1"))
    h.take_all()
    h.gateway.connection_closed(11, T0)

    send(h, SHARED, "M1", 4, 14, ListOrders(request_id=2))  # a new connection: not the old session
    refused = h.take(SHARED)
    send(h, SHARED, "M1", 4, 14, Logon(request_id=3, member="M1"))

    assert refused == [Refused(request_id=2, code=Reject.NOT_LOGGED_ON, text="NOT_LOGGED_ON")]
    assert [type(m) for m in h.take(SHARED)] == [LogonAccepted]
    assert h.gateway.sessions[SHARED].connection == 4


def test_frames_a_connection_sent_before_it_closed_are_not_acted_on() -> None:
    h = _harness()
    send(h, SHARED, "M1", 1, 11, Logon(request_id=1, member="M1"))
    h.take_all()
    h.gateway.connection_closed(11, T0)

    send(h, SHARED, "M1", 1, 11, Submit(request_id=2, command=sell("late")))  # read after the close event

    assert h.gateway.work == []
    assert h.take(SHARED) == []


def test_a_connection_that_closes_loses_its_session_at_once_with_cancel_on_disconnect() -> None:
    access = [*member_access(cancel_on_disconnect=True)]
    h = Harness(access=access)
    h.open_market()
    h.gateway.receive(b"m1", [encoder.encode(Logon(request_id=1, member="M1"))], "M1", T0, 1, 11)
    h.take_all()

    h.gateway.connection_closed(11, T0 + MS)  # long before any heartbeat is missed

    assert h.gateway.sessions == {}
    [cancel] = h.gateway.take_work()
    assert [type(c).__name__ for c in cancel.commands] == ["CancelAllOrders"]


def test_a_socket_number_reused_means_the_connection_that_had_it_is_gone() -> None:
    h = _harness()
    send(h, b"a", "M1", 1, 11, Logon(request_id=1, member="M1"))
    h.take_all()

    send(h, b"b", "M2", 2, 11, Logon(request_id=1, member="M2"))  # fd 11 again: connection 1 closed unseen

    assert b"a" not in h.gateway.sessions
    assert b"b" in h.gateway.sessions


# ------------------------------------------------------------------------------ items 5 and 6: bounded


def test_a_flood_of_frames_gets_at_most_the_refusal_budget_back() -> None:
    h = _harness(refusals_per_s=10, refusals_burst=20)
    send(h, b"m1", "M1", 1, 11, Logon(request_id=1, member="M1"))
    h.take_all()

    for n in range(5_000):
        h.gateway.receive(b"m1", [b"\xc1 garbage %d" % n], "M1", T0, 1, 11)
    answered = h.take(b"m1")
    with capture_logs() as logs:
        h.gateway.tick(T0 + NS)  # one line says how many went unanswered
        h.gateway.tick(T0 + NS + 1)  # and not again within the second

    assert len(answered) == 20
    assert all(isinstance(m, Refused) and m.code is Reject.MALFORMED_MESSAGE for m in answered)
    withheld = [e for e in logs if e["event"] == "gateway.refusals_withheld"]
    assert [e["frames"] for e in withheld] == [4_980]


def test_a_throttled_flood_is_answered_within_the_refusal_budget_and_costs_no_decoding() -> None:
    h = _harness(throttle_per_s=100, throttle_burst=100, refusals_per_s=5, refusals_burst=5)
    send(h, b"m1", "M1", 1, 11, Logon(request_id=1, member="M1"))
    h.take_all()
    frame = encoder.encode(ListOrders(request_id=7))

    for _ in range(40_000):
        h.gateway.receive(b"m1", [frame], "M1", T0, 1, 11)
    answers = h.take(b"m1")

    throttled = [m for m in answers if isinstance(m, Refused)]
    assert len(answers) - len(throttled) == 99  # the bucket's 100, less the logon's token
    text = reject_text(Reject.THROTTLED, per_s=100, cost=1)
    assert throttled == [Refused(request_id=7, code=Reject.THROTTLED, text=text)] * 5


@pytest.mark.per_book
def test_a_resend_flood_queues_a_bounded_number_of_bytes_per_connection() -> None:
    # Thousands of reports, then a member asking for the whole stream 25 times a second for 10 seconds.
    h = _harness(throttle_per_s=500, throttle_burst=1_000, resend_page=500)
    send(h, b"m1", "M1", 1, 11, Logon(request_id=1, member="M1"))
    for n in range(20):
        h.gateway.buckets["M1"].credit = 10**18  # the orders that make the stream are not what is measured
        batch = SubmitBatch(request_id=1_000 + n, commands=[sell(f"s{n}-{i}") for i in range(200)])
        send(h, b"m1", "M1", 1, 11, batch)
        h.step()
    h.gateway.buckets["M1"].credit = 1_000 * NS
    h.take_all()
    stream = h.reports.resend("M1", 1)
    assert isinstance(stream, list) and len(stream) >= 4_000
    largest = max(len(encoder.encode(report)) for report in stream)

    worst = 0
    for tick in range(250):  # 25 a second for 10 s
        now = T0 + tick * (NS // 25)
        send(h, b"m1", "M1", 1, 11, ResendRequest(request_id=100 + tick, from_seq=1), now)
        worst = max(worst, sum(len(frame) for rid, frame in h.gateway.take_outbox() if rid == b"m1"))

    # A page at most per request, whatever the stream holds (4,000+ reports would be ~1 MB a request).
    assert worst <= 500 * largest + 100


@pytest.mark.per_book
def test_logon_resend_sends_one_page_then_the_client_asks_for_more() -> None:
    h = _harness(resend_page=3)
    send(h, b"m1", "M1", 1, 11, Logon(request_id=1, member="M1"))
    for n in range(5):
        send(h, b"m1", "M1", 1, 11, Submit(request_id=10 + n, command=sell(f"s{n}")))
    h.step()
    h.take_all()

    send(h, b"m1b", "M1", 2, 12, Logon(request_id=2, member="M1", resend_from=1))
    answer = h.take(b"m1b")

    assert [type(m) for m in answer] == [LogonAccepted, ExecutionReport, ExecutionReport, ExecutionReport, ResendEnd]
    assert answer[-1] == ResendEnd(request_id=0, first_seq=1, last_seq=3, more=True)


def test_frames_that_are_no_request_cost_a_token_so_a_flood_of_them_is_dropped_unread() -> None:
    h = _harness(throttle_per_s=10, throttle_burst=10, refusals_per_s=1, refusals_burst=20)
    send(h, b"m1", "M1", 1, 11, Logon(request_id=1, member="M1"))  # one token
    h.take_all()

    for _ in range(9):  # the nine tokens left, spent by garbage
        h.gateway.receive(b"m1", [b"\xc1"], "M1", T0, 1, 11)
    send(h, b"m1", "M1", 1, 11, ListOrders(request_id=2))
    for _ in range(10_000):  # nothing to pay with: read only while refusals are left to answer with
        h.gateway.receive(b"m1", [b"\xc1" * 20_000], "M1", T0, 1, 11)

    answers = h.take(b"m1")
    throttled = Refused(request_id=2, code=Reject.THROTTLED, text=reject_text(Reject.THROTTLED, per_s=10, cost=1))
    assert len(answers) == 20 and answers[9] == throttled  # nine malformed, the throttled query, ten more
    assert h.gateway.connections.by_routing_id[b"m1"].withheld == 10_000 - 10  # dropped unread
