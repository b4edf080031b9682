"""The day's orders from a member's execution reports (``carbonx order list --all``), exchange times as
people read them, the reports of one trading day resent, and the SDK's resent reports: the parts of
issue 13 that need no node."""

from __future__ import annotations

import datetime as dt
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from carbonx.cli.display import clock, exchange_time
from carbonx.cli.kept_reports import day_reports
from carbonx.cli.order_history import day_orders
from engine.messages import (
    CancelReason,
    Event,
    MemberSettlement,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderConvertedToLimit,
    OrderRejected,
    OrderType,
    Reject,
    Side,
)
from gateway.client import MemberClient
from gateway.client_core import ClientCore
from gateway.protocol import ExecutionReport, Fill, LogonAccepted, OpenOrder, ResendEnd, encoder

pytestmark = pytest.mark.not_per_book

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = 20261123
TS = 1_795_397_415_120_000_000  # 2026-11-23 09:30:15.12 in Shanghai


def accepted(
    order_id: int, quantity: int = 100, price: int = 8000, account: str = "A1", cid: str = ""
) -> OrderAccepted:
    return OrderAccepted(
        ts_event=TS + order_id,
        order_id=order_id,
        account=account,
        instrument="SHEA2025",
        client_order_id=cid or f"c{order_id}",
        side=Side.SELL,
        order_type=OrderType.LIMIT,
        price=price,
        quantity=quantity,
        frozen_cash=0,
        frozen_quantity=quantity,
    )


def fill(order_id: int, quantity: int, leaves: int) -> Fill:
    return Fill(
        ts_event=TS,
        trade_id=order_id * 10,
        order_id=order_id,
        account="A1",
        instrument="SHEA2025",
        side=Side.SELL,
        price=8000,
        quantity=quantity,
        fee=12,
        leaves=leaves,
        aggressor=False,
    )


def cancelled(order_id: int, reason: CancelReason, quantity: int) -> OrderCancelled:
    return OrderCancelled(
        order_id=order_id,
        account="A1",
        instrument="SHEA2025",
        reason=reason,
        cancelled_quantity=quantity,
        released_cash=0,
        released_quantity=quantity,
    )


def reports(*events: Event) -> list[ExecutionReport]:
    return [ExecutionReport(seq=seq, request_id=0, event=e) for seq, e in enumerate(events, 1)]  # type: ignore[arg-type]


def open_order(order_id: int, price: int, leaves: int, filled: int, account: str = "A1") -> OpenOrder:
    return OpenOrder(
        order_id=order_id,
        account=account,
        instrument="SHEA2025",
        client_order_id=f"c{order_id}",
        side=Side.SELL,
        order_type=OrderType.LIMIT,
        price=price,
        leaves=leaves,
        filled=filled,
    )


def test_each_order_of_the_day_ends_in_its_state() -> None:
    rejected = OrderRejected(
        ts_event=TS, account="A1", instrument="SHEA2025", client_order_id="dear", code=Reject.PRICE_OUT_OF_BAND, text=""
    )
    story = reports(
        accepted(1),
        fill(1, 40, 60),
        fill(1, 60, 0),
        accepted(2),
        fill(2, 30, 70),
        cancelled(2, CancelReason.USER, 70),
        accepted(3),
        cancelled(3, CancelReason.EXPIRED, 100),
        rejected,
        accepted(4),
        cancelled(4, CancelReason.IOC_REMAINDER, 100),
        accepted(5),
        fill(5, 10, 90),
    )

    orders = day_orders(story, [open_order(5, 8000, 90, 10)])

    assert [(o.order_id, o.status, o.filled, o.leaves) for o in orders] == [
        (1, "filled", 100, 0),
        (2, "cancelled (USER)", 30, 0),
        (3, "expired", 0, 0),
        (0, "rejected (PRICE_OUT_OF_BAND)", 0, 0),
        (4, "cancelled (IOC_REMAINDER)", 0, 0),
        (5, "open", 10, 90),
    ]
    assert orders[3].client_order_id == "dear" and orders[3].side is None
    assert orders[0].ts_event == TS + 1


def test_the_book_decides_what_is_open_now() -> None:
    amended = OrderAmended(
        order_id=1,
        account="A1",
        instrument="SHEA2025",
        price=8010,
        quantity=80,
        priority_kept=False,
        frozen_cash_change=0,
        frozen_quantity_change=-20,
    )
    converted = OrderConvertedToLimit(
        order_id=2, account="A1", instrument="SHEA2025", price=7990, quantity=50, released_cash=0
    )
    story = reports(accepted(1), amended, accepted(2, price=0), converted, accepted(3))
    # Order 3 left the book after the reports asked (a fill not yet heard of); order 9 is open but
    # in no report asked (placed by another session meanwhile).
    book = [open_order(1, 8010, 80, 0), open_order(2, 7990, 50, 0), open_order(9, 8100, 5, 0, account="A2")]

    orders = day_orders(story, book)
    only_a2 = day_orders(story, book, account="A2")

    assert [(o.order_id, o.price, o.leaves, o.status) for o in orders] == [
        (1, 8010, 80, "open"),
        (2, 7990, 50, "open"),
        (3, 8000, 100, "closed"),
        (9, 8100, 5, "open"),
    ]
    assert orders[3].ts_event == 0 and orders[3].quantity == 5
    assert [o.order_id for o in only_a2] == [9]


def test_times_are_the_exchanges_local_time_with_the_date_when_it_is_not_the_trading_days() -> None:
    assert exchange_time(TS, SHANGHAI) == dt.datetime(2026, 11, 23, 9, 30, 15, 120_000, tzinfo=SHANGHAI)
    assert clock(TS, SHANGHAI, DAY) == "09:30:15"
    assert clock(TS, SHANGHAI, 20261124) == "2026-11-23 09:30:15"  # a demo day opened ahead of the calendar
    assert clock(0, SHANGHAI, DAY) == "-"


def test_the_sdk_hands_back_the_reports_a_resend_brought() -> None:
    core = ClientCore()
    core.start_after(5)  # logged on when the newest report was 5: 1-5 can only come resent
    for seq in (2, 3, 4):
        event = accepted(seq)
        core.receive(encoder.encode(ExecutionReport(seq=seq, request_id=0, event=event, resent=True)))
    core.receive(encoder.encode(ResendEnd(request_id=7, first_seq=2, last_seq=4)))

    assert [r.seq for r in core.received(2, 4)] == [2, 3, 4]
    assert [r.seq for r in core.received(1, 5)] == [2, 3, 4]
    assert core.take_unsolicited() == []  # resent copies are not news
    assert core.answer(7) == ResendEnd(request_id=7, first_seq=2, last_seq=4)


class KeepingNode:
    """A member's client whose node keeps reports 1-4 of the previous trading day (its statement
    last) and 5-7 of the current one, 2026-11-23; it notes each resend asked."""

    endpoint = "tcp://node"

    def __init__(self) -> None:
        self.session = LogonAccepted(
            request_id=1,
            member="M1",
            role="member",
            accounts=["A1"],
            heartbeat_ms=1_000,
            last_report_seq=7,
            trading_day=DAY,
            day_first_report=5,
            first_kept_report=1,
        )
        settled = MemberSettlement(
            trading_day=20261120, member="M1", bought=0, sold=800_000, fees_paid=1_200, fees_received=0, net=798_800
        )
        self.kept = reports(accepted(1), fill(1, 100, 0), accepted(3), settled, accepted(5), accepted(6), accepted(7))
        self.resent: list[tuple[int, int]] = []

    def resend(self, from_seq: int, to_seq: int = 0) -> list[ExecutionReport]:
        self.resent.append((from_seq, to_seq))
        return [r for r in self.kept if from_seq <= r.seq <= to_seq]


def test_only_the_day_asked_is_resent() -> None:
    """Each report resent costs a throttle token (PROTOCOL.md §4.8): the previous day's fills must
    not wait for the whole current day to be resent first."""
    node = KeepingNode()
    client = cast(MemberClient, node)

    previous, previous_reports = day_reports(client, 20261120)
    resent_for_previous, node.resent = node.resent, []
    current, current_reports = day_reports(client, None)

    assert (previous, [r.seq for r in previous_reports], resent_for_previous) == (20261120, [1, 2, 3, 4], [(1, 4)])
    assert (current, [r.seq for r in current_reports], node.resent) == (DAY, [5, 6, 7], [(5, 7)])
