"""Batched reports (docs/PROTOCOL.md §4.17): a session that logs on with ``batch_reports`` gets its
member's live execution reports and its acks in one ``Reports`` frame per turn of the node, with the
same reports, numbers and acks a plain session gets one frame each; everything else (refusals,
resends, logouts) stays a frame of its own, in order with the ``Reports`` frames.
"""

from __future__ import annotations

import msgspec
import pytest

from engine.messages import DepositCash, OrderAccepted, Side, TradeExecuted
from gateway import outbox as outbox_module
from gateway.client_core import ClientCore
from gateway.protocol import (
    Ack,
    ExecutionReport,
    Fill,
    LoggedOut,
    LogonAccepted,
    Refused,
    Reports,
    ServerMessage,
    Submit,
    SubmitBatch,
    encoder,
)
from tests.gateway_helpers import R1, R1B, R2, RR, Harness, order, report, trading_harness

RB = b"r-m1-batched"


def _unpacked(messages: list[ServerMessage]) -> list[ServerMessage]:
    """What a client reading each ``Reports`` frame as its reports then its acks sees."""
    out: list[ServerMessage] = []
    for message in messages:
        out += [*message.reports, *message.acks] if isinstance(message, Reports) else [message]
    return out


def _batched_harness() -> Harness:
    """The trading harness plus a second M1 session that asked for batched reports."""
    h = trading_harness()
    answer = h.logon(RB, "M1", batch_reports=True)
    assert isinstance(answer[0], LogonAccepted) and answer[0].batch_reports
    return h


def test_the_logon_says_whether_reports_are_batched() -> None:
    h = trading_harness()

    plain = h.logon(R1B, "M1")
    batched = h.logon(RB, "M1", batch_reports=True)

    assert isinstance(plain[0], LogonAccepted) and not plain[0].batch_reports
    assert isinstance(batched[0], LogonAccepted) and batched[0].batch_reports


@pytest.mark.per_book
def test_one_frame_per_turn_carries_the_same_reports_and_acks_as_single_frames() -> None:
    h = _batched_harness()
    h.submit(R2, "M2", order("A2", Side.SELL, 100, 8000, "offer"), request_id=1)
    h.step()
    h.take_all()
    # One turn: two requests from the batched session, one from the plain session of the same member.
    h.submit(RB, "M1", order("A1", Side.BUY, 40, 8000, "take"), request_id=7)
    h.submit(R1, "M1", order("A1", Side.BUY, 10, 7900, "rest"), request_id=8)
    h.send(RB, "M1", SubmitBatch(request_id=9, commands=[order("A1", Side.BUY, 5, 7800, "b1")]))  # type: ignore[list-item]
    h.step()

    out = h.take_by_connection()

    assert len(out[RB]) == 1 and isinstance(out[RB][0], Reports)
    frame = out[RB][0]
    plain = [m for m in out[R1] if isinstance(m, ExecutionReport)]
    assert frame.reports == plain  # every report of the member, same numbers, in number order
    assert [r.seq for r in frame.reports] == list(range(frame.reports[0].seq, frame.reports[-1].seq + 1))
    assert [type(r.event) for r in frame.reports] == [OrderAccepted, Fill, OrderAccepted, OrderAccepted]
    # The acks of this connection's own requests only, in request order, naming reports in the frame.
    assert [a.request_id for a in frame.acks] == [7, 9]
    for ack in frame.acks:
        named = [r.seq for r in frame.reports if r.request_id == ack.request_id]
        assert (ack.first_report, ack.report_count) == (named[0], len(named))
    # The plain session still gets its Ack (request 8) in a frame of its own, after its reports.
    assert [m.request_id for m in out[R1] if isinstance(m, Ack)] == [8]


@pytest.mark.per_book
def test_a_turn_with_more_reports_than_a_frame_holds_sends_several_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_module, "MAX_BATCH_REPORTS", 2)
    h = _batched_harness()
    batch = [order("A1", Side.BUY, 10, 7900 - k, f"cap-{k}") for k in range(3)]

    h.send(RB, "M1", SubmitBatch(request_id=5, commands=batch))  # type: ignore[arg-type]
    h.step()
    out = h.take(RB)

    assert [(len(m.reports), len(m.acks)) for m in out if isinstance(m, Reports)] == [(2, 0), (1, 1)]
    assert [r.seq for m in out if isinstance(m, Reports) for r in m.reports] == [1, 2, 3]


@pytest.mark.per_book
def test_a_turn_without_reports_for_the_session_sends_it_nothing() -> None:
    h = _batched_harness()

    h.submit(R2, "M2", order("A2", Side.SELL, 100, 8000, "offer"), request_id=1)
    h.step()

    assert RB not in h.take_by_connection()


@pytest.mark.per_book
def test_refusals_and_resends_stay_single_frames_in_order() -> None:
    h = _batched_harness()
    h.submit(RB, "M1", order("A1", Side.BUY, 10, 7900, "once"), request_id=1)
    h.step()
    first = h.take(RB)
    assert isinstance(first[0], Reports)
    original = first[0].reports

    h.send(RB, "M1", Submit(request_id=2, command=order("A2", Side.BUY, 1, 7900, "not-mine")))  # type: ignore[arg-type]
    h.submit(RB, "M1", order("A1", Side.BUY, 10, 7900, "once"), request_id=3)  # the same order again
    h.step()
    out = h.take(RB)

    assert isinstance(out[0], Refused) and out[0].request_id == 2  # answered on arrival, before the turn
    resent = [m for m in out if isinstance(m, ExecutionReport)]
    assert resent == [msgspec.structs.replace(r, resent=True) for r in original]
    assert isinstance(out[-1], Reports) and out[-1].reports == []
    assert out[-1].acks == [
        Ack(
            request_id=3,
            journal_seq=first[0].acks[0].journal_seq,
            first_report=original[0].seq,
            report_count=len(original),
            duplicate=True,
        )
    ]


@pytest.mark.per_book
def test_a_frame_being_filled_goes_out_before_anything_sent_after_it() -> None:
    h = _batched_harness()
    h.submit(RB, "M1", order("A1", Side.BUY, 10, 7900, "last"), request_id=1)
    h.step()  # sequenced, not yet taken: the Reports frame is still open

    h.gateway.log_out_everyone()  # what the node does on stopping, after its last turn
    out = h.take(RB)

    assert [type(m) for m in out] == [Reports, LoggedOut]
    assert [a.request_id for a in out[0].acks] == [1]


def test_the_node_s_own_commands_reach_the_batched_session_too() -> None:
    h = _batched_harness()
    h.gateway.take_outbox()

    h.send(RR, "REGU", Submit(request_id=4, command=DepositCash(account="A1", amount=5)))
    h.step()
    out = h.take(RB)

    assert len(out) == 1 and isinstance(out[0], Reports)
    assert [(r.request_id, type(r.event).__name__) for r in out[0].reports] == [(0, "CashDeposited")]
    assert out[0].acks == []


# ------------------------------------------------------------------------------ the SDK


@pytest.mark.per_book
def test_the_client_core_reads_a_reports_frame_as_its_reports_then_its_acks() -> None:
    h = _batched_harness()
    h.submit(R2, "M2", order("A2", Side.SELL, 100, 8000, "offer"), request_id=1)
    h.step()
    h.take_all()
    core = ClientCore()
    core.start_after(h.reports.last("M1"))
    h.submit(RB, "M1", order("A1", Side.BUY, 40, 8000, "take"), request_id=5)
    h.step()

    for routing_id, frame in h.gateway.take_outbox():
        if routing_id == RB:
            core.receive(frame)
    result = core.result(5)

    assert result is not None and result.accepted
    assert [type(e) for e in result.events] == [OrderAccepted, Fill]
    assert core.take_outgoing() == []  # nothing missing: no resend asked for


def test_an_unreadable_report_in_a_reports_frame_does_not_hide_the_others() -> None:
    core = ClientCore()
    good = report(1, 0, OrderAccepted(**_accepted_fields()))
    ack = Ack(request_id=3, journal_seq=9, first_report=1, report_count=1)
    frame = encoder.encode(Reports(reports=[good], acks=[ack]))
    # A newer gateway's event this SDK does not know, as report 2 of the same frame.
    unknown = msgspec.msgpack.encode({"type": "ExecutionReport", "seq": 2, "request_id": 0, "event": {"type": "New"}})
    raw = msgspec.msgpack.decode(frame)
    raw["reports"].append(msgspec.msgpack.decode(unknown))

    core.receive(msgspec.msgpack.encode(raw))

    result = core.result(3)
    assert result is not None and result.reports == [good]
    assert core.skipped_reports == [2] and core.expected_report == 3


@pytest.mark.per_book
def test_a_trade_between_two_batched_members_numbers_both_sides() -> None:
    h = trading_harness()
    h.logon(R1, "M1", batch_reports=True)
    h.logon(R2, "M2", batch_reports=True)
    h.submit(R2, "M2", order("A2", Side.SELL, 100, 8000, "offer"), request_id=1)
    h.submit(R1, "M1", order("A1", Side.BUY, 40, 8000, "take"), request_id=2)
    h.step()

    out = h.take_by_connection()

    seller, buyer = _unpacked(out[R2]), _unpacked(out[R1])
    assert [type(m).__name__ for m in seller] == ["ExecutionReport", "ExecutionReport", "Ack"]
    assert isinstance(seller[1], ExecutionReport) and isinstance(seller[1].event, Fill)
    assert seller[1].request_id == 0  # someone else's order traded against it
    assert [type(m).__name__ for m in buyer] == ["ExecutionReport", "ExecutionReport", "Ack"]
    trades = [e for a in h.applied for e in a.events if isinstance(e, TradeExecuted)]
    assert len(trades) == 1


def _accepted_fields() -> dict[str, object]:
    return {
        "order_id": 1,
        "account": "A1",
        "instrument": "SHEA2025",
        "client_order_id": "c",
        "side": Side.BUY,
        "order_type": 1,
        "price": 8000,
        "quantity": 1,
        "frozen_cash": 8012,
        "frozen_quantity": 0,
    }


def test_reports_added_at_once_fill_the_open_frame_then_as_many_more_as_they_need(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox_module, "MAX_BATCH_REPORTS", 3)
    box = outbox_module.Outbox()
    event = DepositCash(account="A1", amount=1)  # what the event is does not matter to the outbox
    reports = [ExecutionReport(seq=seq, request_id=0, event=event) for seq in range(1, 9)]  # type: ignore[arg-type]

    box.reports(RB, 1, reports[:2])  # an open frame with room for one more
    box.reports(RB, 1, reports[2:8])
    frames = [msgspec.msgpack.decode(frame) for _, frame in box.take(lambda rid, connection: True)]

    assert [[r["seq"] for r in f["reports"]] for f in frames] == [[1, 2, 3], [4, 5, 6], [7, 8]]
