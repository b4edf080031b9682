"""The SDK's sans-I/O core: answers, report numbering, gaps and what a newer gateway may send."""

from __future__ import annotations

import msgspec

from engine.messages import CancelReason, OrderCancelled, Reject
from gateway.client_core import ClientCore
from gateway.protocol import Ack, ExecutionReport, Heartbeat, Refused, ResendRequest, client_decoder, encoder


def report(seq: int, request_id: int = 0) -> bytes:
    event = OrderCancelled(
        order_id=seq,
        account="A1",
        instrument="X",
        reason=CancelReason.USER,
        cancelled_quantity=1,
        released_cash=0,
        released_quantity=0,
    )
    return encoder.encode(ExecutionReport(seq=seq, request_id=request_id, event=event))


def test_an_ack_yields_the_reports_it_names() -> None:
    core = ClientCore()
    core.receive(report(1, request_id=5))
    core.receive(report(2, request_id=5))
    assert core.result(5) is None

    core.receive(encoder.encode(Ack(request_id=5, journal_seq=40, first_report=1, report_count=2)))
    result = core.result(5)

    assert result is not None and result.journal_seq == 40
    assert [r.seq for r in result.reports] == [1, 2]
    assert [r.seq for r in core.take_unsolicited()] == [1, 2]


def test_a_gap_asks_for_the_missing_reports_once_and_delivers_in_order() -> None:
    core = ClientCore()
    core.receive(report(1))
    core.receive(report(4))
    core.receive(report(5))

    (asked,) = [client_decoder.decode(f) for f in core.take_outgoing()]
    assert asked == ResendRequest(request_id=0, from_seq=2, to_seq=3)
    assert [r.seq for r in core.take_unsolicited()] == [1]

    core.receive(report(2))
    core.receive(report(3))
    assert [r.seq for r in core.take_unsolicited()] == [2, 3, 4, 5]


def test_a_heartbeat_ahead_of_us_reveals_lost_newest_reports() -> None:
    core = ClientCore()
    core.receive(report(1))

    core.receive(encoder.encode(Heartbeat(last_report_seq=3)))

    (asked,) = [client_decoder.decode(f) for f in core.take_outgoing()]
    assert asked == ResendRequest(request_id=0, from_seq=2, to_seq=3)


def test_a_report_this_sdk_cannot_read_is_passed_over_not_asked_for_again() -> None:
    core = ClientCore()
    core.receive(report(1))
    newer = msgspec.msgpack.encode(
        {"type": "ExecutionReport", "seq": 2, "request_id": 0, "event": {"type": "AuctionCleared", "price": 1}}
    )

    core.receive(newer)
    core.receive(report(3))

    assert core.skipped_reports == [2]
    assert [r.seq for r in core.take_unsolicited()] == [1, 3]
    assert core.take_outgoing() == []


def test_a_refusal_is_the_result() -> None:
    core = ClientCore()
    core.receive(encoder.encode(Refused(request_id=9, code=Reject.THROTTLED, text="THROTTLED: per_s=1")))

    result = core.result(9)

    assert result is not None and result.refused is not None and result.refused.code is Reject.THROTTLED
    assert not result.accepted
