"""Execution reports (gateway/reports.py) as the gateway routes them, without sockets.

Numbering per member, the sender's request id and its ``Ack``, fills as each side sees them (never
the counterparty), what the regulator and surveillance see, the drop copy; then ``ReportBook``
alone: the snapshot round trip, trimming at the start of a trading day, and replay equivalence —
routing the journal's (origin, request id, command, events) again numbers every report the same,
which is what a node restart relies on.
"""

from __future__ import annotations

import msgspec
import pytest

from engine.config import TRADING_ACCOUNT_KINDS, RiskLimits
from engine.messages import (
    AccountsMerged,
    AccountSplit,
    AccountStatement,
    CancelAllOrders,
    CancelOrder,
    CashDeposited,
    ConservationChecked,
    DepositCash,
    EndOfDay,
    Event,
    LargeHolderReported,
    MemberSettlement,
    MergeAccounts,
    OrderAccepted,
    OrderCancelled,
    Reject,
    Session,
    SessionChanged,
    SetSession,
    Side,
    SplitPart,
    StartOfDay,
    TradeExecuted,
    TradingDayStarted,
    reject_text,
)
from gateway.protocol import (
    Ack,
    DropCopy,
    ExecutionReport,
    Fill,
    LogonAccepted,
    Refused,
    ResendEnd,
    ResendRequest,
    ServerMessage,
    SubmitBatch,
)
from gateway.reports import ReportBook
from tests.conftest import DAY1, DAY2, market_config
from tests.gateway_helpers import (
    DAY3,
    R1,
    R1B,
    R2,
    RR,
    RS,
    Harness,
    member_access,
    order,
    report,
    trading_harness,
)

MEMBERS = ("EXCH", "REGU", "M1", "M2")


def _report_events(messages: list[ServerMessage]) -> list[tuple[int, int, Event]]:
    return [(m.seq, m.request_id, m.event) for m in messages if isinstance(m, ExecutionReport)]


def _trade(h: Harness) -> tuple[list[tuple[bytes, ServerMessage]], dict[bytes, list[ServerMessage]]]:
    """M2 offers 100 @ 80.00 on A2; M1 (request 2) buys 40 @ 80.00 on A1 and takes it.

    Returns every frame sent, and those the trade itself caused by connection.
    """
    h.submit(R2, "M2", order("A2", Side.SELL, 100, 8000, "offer"), request_id=1)
    h.step()
    first = h.take_all()
    h.submit(R1, "M1", order("A1", Side.BUY, 40, 8000, "take"), request_id=2)
    h.step()
    second = h.take_all()
    by_connection: dict[bytes, list[ServerMessage]] = {}
    for rid, message in second:
        by_connection.setdefault(rid, []).append(message)
    return first + second, by_connection


# ------------------------------------------------------------------------------ numbering and acks


@pytest.mark.per_book
def test_each_member_numbers_its_reports_from_one() -> None:
    h = trading_harness()

    for request_id, cid in ((11, "a"), (12, "b"), (13, "c")):
        h.submit(R1, "M1", order("A1", Side.BUY, 10, 7900, cid), request_id=request_id)
    for request_id, cid in ((21, "x"), (22, "y")):
        h.submit(R2, "M2", order("A2", Side.SELL, 10, 8100, cid), request_id=request_id)
    h.step()

    e = [a.events[0] for a in h.applied]
    out = h.take_by_connection()
    assert out[R1] == [
        report(1, 11, e[0]),
        Ack(request_id=11, journal_seq=1, first_report=1, report_count=1),
        report(2, 12, e[1]),
        Ack(request_id=12, journal_seq=2, first_report=2, report_count=1),
        report(3, 13, e[2]),
        Ack(request_id=13, journal_seq=3, first_report=3, report_count=1),
    ]
    assert out[R2] == [
        report(1, 21, e[3]),
        Ack(request_id=21, journal_seq=4, first_report=1, report_count=1),
        report(2, 22, e[4]),
        Ack(request_id=22, journal_seq=5, first_report=2, report_count=1),
    ]
    assert [h.reports.last(m) for m in MEMBERS] == [5, 0, 3, 2]


@pytest.mark.per_book
def test_a_batch_is_acknowledged_once_after_all_its_reports() -> None:
    h = trading_harness()
    commands = [order("A1", Side.BUY, 10, 7900, "b1"), order("A1", Side.BUY, 10, 7800, "b2")]

    h.send(R1, "M1", SubmitBatch(request_id=30, commands=commands))  # type: ignore[arg-type]
    h.step()

    first, second = (a.events[0] for a in h.applied)
    assert h.take(R1) == [
        report(1, 30, first),
        report(2, 30, second),
        Ack(request_id=30, journal_seq=2, first_report=1, report_count=2),
    ]


@pytest.mark.per_book
def test_an_empty_batch_is_acknowledged_with_no_reports() -> None:
    h = trading_harness()
    h.submit(R1, "M1", order("A1", Side.BUY, 10, 7900, "b1"), request_id=1)
    h.step()
    h.take_all()

    h.send(R1, "M1", SubmitBatch(request_id=31, commands=[]))
    h.step()

    assert h.take(R1) == [Ack(request_id=31, journal_seq=0, first_report=2, report_count=0)]


# ------------------------------------------------------------------------------ fills


@pytest.mark.per_book
def test_a_trade_gives_each_side_its_own_fill() -> None:
    h = trading_harness()
    h.logon(R1B, "M1")
    h.logon(b"r-m2-second", "M2")

    _, out = _trade(h)

    accepted, trade = h.applied[-1].events
    assert isinstance(accepted, OrderAccepted) and isinstance(trade, TradeExecuted)
    buy = Fill(
        ts_event=trade.ts_event,
        trade_id=1,
        order_id=2,
        account="A1",
        instrument="SHEA2025",
        side=Side.BUY,
        price=8000,
        quantity=40,
        fee=480,  # 0.15% of 320,000 fen
        leaves=0,
        aggressor=True,
        released_cash=trade.buy_released_cash,
    )
    sell = Fill(
        ts_event=trade.ts_event,
        trade_id=1,
        order_id=1,
        account="A2",
        instrument="SHEA2025",
        side=Side.SELL,
        price=8000,
        quantity=40,
        fee=480,
        leaves=60,
        aggressor=False,
        released_cash=0,
    )
    assert (trade.buy_fee, trade.sell_fee, trade.buy_leaves, trade.sell_leaves) == (480, 480, 0, 60)
    # The sender's reports carry its request id and precede its Ack, on the sending connection;
    # its other session gets the reports too, without the Ack.
    mine = [report(1, 2, accepted), report(2, 2, buy)]
    assert out[R1] == [*mine, Ack(request_id=2, journal_seq=2, first_report=1, report_count=2)]
    assert out[R1B] == mine
    # The resting side's fill is caused by someone else's request: request id 0, to all its sessions.
    theirs = [report(2, 0, sell)]
    assert out[R2] == out[b"r-m2-second"] == theirs
    assert RR not in out


@pytest.mark.per_book
def test_a_fill_never_names_the_counterparty() -> None:
    h = trading_harness()

    h.submit(R2, "M2", order("A2", Side.SELL, 100, 8000, "offer"), request_id=1)
    h.submit(R1, "M1", order("A1", Side.BUY, 40, 8000, "take"), request_id=2)
    h.step()

    frames = h.gateway.take_outbox()
    to_m1 = [frame for rid, frame in frames if rid == R1]
    to_m2 = [frame for rid, frame in frames if rid == R2]
    # msgpack writes a two-letter string as 0xa2 and its bytes.
    assert to_m1 and all(b"\xa2A2" not in frame for frame in to_m1)
    assert to_m2 and all(b"\xa2A1" not in frame for frame in to_m2)
    assert all(b"TradeExecuted" not in frame for frame in to_m1 + to_m2)


@pytest.mark.per_book
def test_a_trade_between_two_accounts_of_one_member_gives_it_both_fills() -> None:
    h = trading_harness()
    h.submit(R2, "M2", order("A2", Side.SELL, 100, 8000, "offer"), request_id=1)
    h.submit(R2, "M2", order("A3", Side.BUY, 30, 8000, "take"), request_id=2)
    h.step()

    messages = h.take(R2)

    assert [(seq, rid, type(e).__name__, getattr(e, "account", "")) for seq, rid, e in _report_events(messages)] == [
        (1, 1, "OrderAccepted", "A2"),
        (2, 2, "OrderAccepted", "A3"),
        (3, 2, "Fill", "A3"),
        (4, 2, "Fill", "A2"),
    ]
    assert messages[-1] == Ack(request_id=2, journal_seq=2, first_report=2, report_count=3)


# ------------------------------------------------------------------------------ regulator and surveillance


def test_the_regulator_sees_its_own_commands_and_the_owner_sees_them_as_someone_elses() -> None:
    h = trading_harness()

    h.submit(RR, "REGU", DepositCash(account="A1", amount=500), request_id=40)
    h.step()

    [deposited] = h.applied[-1].events
    assert isinstance(deposited, CashDeposited)
    out = h.take_by_connection()
    assert out[RR] == [
        report(1, 40, deposited),
        Ack(request_id=40, journal_seq=1, first_report=1, report_count=1),
    ]
    assert out[R1] == [report(1, 0, deposited)]
    assert R2 not in out


def _low_threshold_harness() -> Harness:
    """Large-holder reports for every trader: the threshold is below what each was allocated."""
    risk = RiskLimits(large_holder_t=dict.fromkeys(sorted(TRADING_ACCOUNT_KINDS), 10_000))
    return trading_harness(config=market_config(risk=risk))


@pytest.mark.per_book
def test_the_end_of_day_goes_to_whom_it_concerns() -> None:
    h = _low_threshold_harness()
    _trade(h)
    h.take_all()

    h.next_day(DAY1, DAY2)  # the node's own EndOfDay: origin ""

    end_of_day = next(a for a in h.applied if isinstance(a.command, EndOfDay))
    assert end_of_day.origin == "" and end_of_day.request_id == 0
    events = end_of_day.events
    large = [e for e in events if isinstance(e, LargeHolderReported)]
    # A1 is a covered entity: its own allocation raises its threshold (RiskLimits.allocation_kinds).
    assert {e.account for e in large} == {"A2", "A3", "A4"}
    # The exchange settles too: it received the fees.
    assert [e.member for e in events if isinstance(e, MemberSettlement)] == ["EXCH", "M1", "M2"]
    streams = h.reports.streams

    def seen(member: str) -> list[Event]:
        return [event for request_id, event in streams[member].kept if event in events and request_id == 0]

    regulator = [
        e
        for e in events
        if isinstance(e, LargeHolderReported | ConservationChecked) or getattr(e, "account", "") == "RESERVE"
    ]
    assert seen("REGU") == regulator
    assert any(isinstance(e, ConservationChecked) for e in seen("REGU"))
    # M1: whatever names its account (expiries, its statement) and its own settlement.
    m1 = [e for e in events if getattr(e, "account", "") == "A1" or getattr(e, "member", "") == "M1"]
    assert [type(e) for e in m1] == [AccountStatement, MemberSettlement]
    assert seen("M1") == m1
    assert not any(isinstance(e, ConservationChecked) for e in seen("M1") + seen("M2"))
    assert seen("EXCH") == events


@pytest.mark.per_book
def test_surveillance_sees_every_event_unchanged() -> None:
    h = _low_threshold_harness()
    _trade(h)
    h.next_day(DAY1, DAY2)
    h.submit(RR, "REGU", DepositCash(account="A3", amount=5), request_id=9)
    h.step()

    every_event = [e for a in h.applied for e in a.events]
    kept = h.reports.streams["EXCH"].kept
    assert [event for _, event in kept] == every_event
    assert {request_id for request_id, _ in kept} == {0}
    assert any(isinstance(e, TradeExecuted) for _, e in kept)
    assert not any(isinstance(e, Fill) for _, e in kept)


@pytest.mark.per_book
def test_drop_copies_number_every_event_with_its_origin() -> None:
    h = trading_harness()
    _trade(h)
    h.system(DepositCash(account="A4", amount=7))

    copies = h.gateway.take_drop_copies()

    expected = [(a.seq, a.origin, a.request_id, event) for a in h.applied for event in a.events]
    assert [(c.journal_seq, c.origin, c.request_id, c.event) for c in copies] == expected
    assert [c.seq for c in copies] == list(range(1, len(expected) + 1))
    assert expected[-1][1:3] == ("", 0)
    assert h.gateway.take_drop_copies() == []
    assert all(isinstance(c, DropCopy) for c in copies)


@pytest.mark.parametrize(
    ("event", "members"),
    [
        (AccountsMerged(account="A3", successor="A1", cash=1, holdings=[]), ["EXCH", "M2", "M1", "REGU"]),
        (
            AccountSplit(account="A4", parts=[SplitPart(account="A1", cash=1), SplitPart(account="A2", cash=1)]),
            ["EXCH", "M2", "M1", "REGU"],
        ),
        (
            MemberSettlement(trading_day=DAY1, member="M1", bought=1, sold=0, fees_paid=0, fees_received=0, net=-1),
            ["EXCH", "M1", "REGU"],
        ),
        (SessionChanged(trading_day=DAY1, session=Session.MORNING), ["EXCH", "REGU"]),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Event) else None,
)
def test_every_account_an_event_names_brings_its_owner(event: Event, members: list[str]) -> None:
    book = ReportBook(member_access())
    command = MergeAccounts(account="A3", successor="A1")  # what the regulator sent matters not here

    routed = book.route("REGU", 5, command, [event], journal_seq=1)

    assert [(m, r.request_id) for m, r in routed.reports] == [(m, 5 if m == "REGU" else 0) for m in members]
    assert (routed.first_report, routed.report_count) == (1, 1)


def test_a_node_command_has_no_sender_range() -> None:
    book = ReportBook(member_access())

    routed = book.route("", 0, StartOfDay(trading_day=DAY1), [TradingDayStarted(trading_day=DAY1)], journal_seq=1)

    assert (routed.first_report, routed.report_count) == (0, 0)
    assert [m for m, _ in routed.reports] == ["EXCH"]


# ------------------------------------------------------------------------------ persistence, trimming, replay


def _two_days(h: Harness) -> list[tuple[bytes, ServerMessage]]:
    """Trades, a reject, a regulator deposit and two day changes; returns every frame sent."""
    sent, _ = _trade(h)
    h.submit(R1, "M1", order("A1", Side.BUY, 10, 1, "low"), request_id=3)  # out of band: rejected
    h.submit(R2, "M2", order("A3", Side.BUY, 20, 7900, "rest"), request_id=4)
    h.submit(RR, "REGU", DepositCash(account="A4", amount=99), request_id=5)
    h.step()
    sent += h.take_all()
    h.next_day(DAY1, DAY2)
    h.submit(R1, "M1", order("A1", Side.SELL, 5, 8000, "d2"), request_id=6)
    h.submit(R2, "M2", order("A2", Side.BUY, 5, 8000, "d2"), request_id=7)
    h.step()
    sent += h.take_all()
    return sent


@pytest.mark.per_book
def test_encode_and_restore_give_the_same_numbering_resends_and_placed_orders() -> None:
    h = trading_harness()
    _two_days(h)
    live = h.reports

    restored = ReportBook(h.access)
    restored.restore(live.encode())

    assert restored.state() == live.state()
    assert restored.encode() == live.encode()
    for member in MEMBERS:
        assert restored.last(member) == live.last(member) > 0
        start = live.streams[member].first
        assert restored.resend(member, start) == live.resend(member, start)
    assert restored.placed == live.placed
    assert restored.placed_order("A1", "d2") == live.placed_order("A1", "d2") is not None
    assert restored.placed_order("A1", "take") is None  # yesterday's ids were forgotten at TradingDayEnded
    # And both number the next command alike.
    command = DepositCash(account="A2", amount=1)
    event = CashDeposited(account="A2", amount=1)
    assert restored.route("REGU", 8, command, [event], 99) == live.route("REGU", 8, command, [event], 99)


@pytest.mark.per_book
def test_restore_skips_a_member_no_longer_in_the_config() -> None:
    h = trading_harness()
    _two_days(h)

    fewer = [a for a in h.access if a.member != "M2"]
    restored = ReportBook(fewer)
    restored.restore(h.reports.encode())

    assert set(restored.streams) == {"EXCH", "REGU", "M1"}
    assert restored.resend("M1", 1) == h.reports.resend("M1", 1)


def _day_starts(h: Harness) -> dict[int, int]:
    """M1's first report number of DAY2 and DAY3, after three trading days with one order each."""
    first: dict[int, int] = {}
    h.submit(R1, "M1", order("A1", Side.BUY, 10, 7900, "day1"), request_id=1)
    h.step()
    for day, after in ((DAY1, DAY2), (DAY2, DAY3)):
        h.next_day(day, after)
        first[after] = h.reports.last("M1") + 1
        h.submit(R1, "M1", order("A1", Side.BUY, 10, 7900, f"day{after}"), request_id=after)
        h.step()
    h.take_all()
    return first


@pytest.mark.per_book
def test_a_new_trading_day_keeps_reports_from_the_start_of_the_previous_one() -> None:
    h = Harness()
    h.logon(R1, "M1")
    h.system(DepositCash(account="A1", amount=10**9))  # M1's report 1, before any trading day
    h.system(StartOfDay(trading_day=DAY1), SetSession(session=Session.MORNING))
    # ...DAY1: M1's reports from 2; DAY2 starts: report 1 (before DAY1) is dropped.
    first = _day_starts(h)

    stream = h.reports.streams["M1"]
    assert stream.first == first[DAY2]  # DAY3 started: DAY1 went
    assert h.reports.resend("M1", 1) == first[DAY2]
    assert h.reports.resend("M1", first[DAY2] - 1) == first[DAY2]
    kept = h.reports.resend("M1", first[DAY2])
    assert isinstance(kept, list)
    assert [r.seq for r in kept] == list(range(first[DAY2], h.reports.last("M1") + 1))
    assert all(r.resent for r in kept)


@pytest.mark.per_book
def test_a_resend_of_dropped_reports_names_the_first_kept_through_the_gateway() -> None:
    h = trading_harness()
    first = _day_starts(h)

    h.send(R1, "M1", ResendRequest(request_id=60, from_seq=1))
    h.send(R1, "M1", ResendRequest(request_id=61, from_seq=first[DAY2], to_seq=first[DAY2]))
    answered = h.take(R1)
    answer = h.logon(R1B, "M1", request_id=62, resend_from=1)

    refusal = Refused(
        request_id=60,
        code=Reject.RESEND_UNAVAILABLE,
        text=reject_text(Reject.RESEND_UNAVAILABLE, from_seq=1, first_kept=first[DAY2]),
    )
    resent = h.reports.resend("M1", first[DAY2], first[DAY2])
    assert isinstance(resent, list) and len(resent) == 1
    end = ResendEnd(request_id=61, first_seq=first[DAY2], last_seq=first[DAY2], to_seq=first[DAY2])
    assert answered == [refusal, resent[0], end]
    assert isinstance(answer[0], LogonAccepted)
    # The logon succeeded whatever became of its resend: the refusal carries request id 0.
    assert answer[1:] == [msgspec.structs.replace(refusal, request_id=0)]


def test_the_first_trading_day_drops_nothing() -> None:
    h = Harness()
    h.logon(R1, "M1")
    h.system(DepositCash(account="A1", amount=10**9))

    h.system(StartOfDay(trading_day=DAY1))

    assert h.reports.streams["M1"].first == 1
    assert isinstance(h.reports.resend("M1", 1), list)


def test_the_previous_days_start_report_is_kept() -> None:
    h = trading_harness()
    h.next_day(DAY1, DAY2)
    day2_start = next(
        seq
        for seq, (_, event) in enumerate(h.reports.streams["EXCH"].kept, start=h.reports.streams["EXCH"].first)
        if isinstance(event, TradingDayStarted) and event.trading_day == DAY2
    )

    h.next_day(DAY2, DAY3)

    assert h.reports.streams["EXCH"].first == day2_start


@pytest.mark.per_book
def test_routing_the_journal_again_numbers_every_report_the_same() -> None:
    h = trading_harness(access=member_access(cancel_on_disconnect=True))
    sent = _two_days(h)
    while_connected = len(h.applied)
    h.gateway.tick(h.now + 100 * 10**9)  # everyone lost: M1's orders are cancelled by the node
    h.step()
    live_copies = h.gateway.take_drop_copies()

    replayed = ReportBook(h.access)
    reports: list[list[tuple[str, ExecutionReport]]] = []
    copies: list[DropCopy] = []
    for a in h.applied:
        routed = replayed.route(a.origin, a.request_id, a.command, a.events, a.seq)
        reports.append(routed.reports)
        copies += routed.drop_copy

    assert replayed.encode() == h.reports.encode()
    assert copies == live_copies
    assert any(isinstance(a.command, CancelAllOrders) for a in h.applied[while_connected:])
    # What went out on the wire while connected is what the replay numbers, report for report.
    member_of = {R1: "M1", R2: "M2", RR: "REGU", RS: "EXCH"}
    for member in MEMBERS:
        wire = [m for rid, m in sent if member_of[rid] == member and isinstance(m, ExecutionReport)]
        again = [r for routed in reports[:while_connected] for m, r in routed if m == member]
        assert wire == again, member
        assert wire, member


@pytest.mark.per_book
def test_a_restart_from_a_saved_book_and_the_journal_tail_matches_the_live_book() -> None:
    h = trading_harness()
    _trade(h)
    saved, saved_at = h.reports.encode(), len(h.applied)
    _two_days(h)

    restarted = ReportBook(h.access)
    restarted.restore(saved)
    for a in h.applied[saved_at:]:
        restarted.route(a.origin, a.request_id, a.command, a.events, a.seq)

    assert restarted.encode() == h.reports.encode()


@pytest.mark.per_book
def test_cancelled_orders_of_yesterday_are_reported_to_their_owner() -> None:
    h = trading_harness()
    h.submit(R1, "M1", order("A1", Side.BUY, 10, 7900, "rests"), request_id=1)
    h.step()
    h.take_all()

    h.next_day(DAY1, DAY2)

    expired = [e for _, _, e in _report_events(h.take(R1)) if isinstance(e, OrderCancelled)]
    assert [(e.account, e.order_id, e.cancelled_quantity) for e in expired] == [("A1", 1, 10)]


def test_a_conservation_check_goes_to_the_regulator_whoever_caused_it() -> None:
    # After a member's command failed (INTERNAL_ERROR) the engine checks conservation at once: the
    # market-wide totals it carries are the regulator's and surveillance's, not the member's.
    book = ReportBook(member_access())
    checked = ConservationChecked(trading_day=DAY1, ok=True, mismatches=[])
    command = CancelOrder(account="A1", order_id=1)

    routed = book.route("M1", 7, command, [checked], journal_seq=1)

    assert sorted(member for member, _ in routed.reports) == ["EXCH", "REGU"]
