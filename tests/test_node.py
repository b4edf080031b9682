"""The node in process, on a clock the test turns: the scheduler's commands go through the journal,
the end of day reaches the database and a snapshot, and a stop leaves a snapshot a restart resumes from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from carbonx.config import load_config
from carbonx.node import Node
from carbonx.node_schedule import SCHEDULER_RETRY_NS
from carbonx.statements_db import DB_FILE, StatementStore
from engine.journal import list_snapshots, read_journal
from engine.messages import (
    CancelOrder,
    Command,
    EndOfDay,
    NewOrder,
    OrderType,
    Session,
    SetSession,
    Side,
    StartOfDay,
)
from gateway.submission import Submission
from tests.node_process import make_config

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = dt.date(2026, 11, 23)


class Clock:
    def __init__(self) -> None:
        self.ns = 0

    def at(self, day: dt.date, hour: int, minute: int) -> None:
        self.ns = int(dt.datetime.combine(day, dt.time(hour, minute), SHANGHAI).timestamp()) * 1_000_000_000

    def __call__(self) -> int:
        return self.ns


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    config = make_config(tmp_path)
    node_toml = config / "node.toml"
    node_toml.write_text(node_toml.read_text().replace('mode = "manual"', 'mode = "calendar"'))
    return config


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def node(config_dir: Path, tmp_path: Path, clock: Clock) -> Iterator[Node]:
    clock.at(MONDAY, 8, 0)
    node = Node(load_config(config_dir), tmp_path / "var", clock=clock)
    node.bind()
    yield node
    node.close()


def test_the_scheduler_runs_the_trading_day_through_the_journal(node: Node, clock: Clock, tmp_path: Path) -> None:
    market = node.exchange.market
    node.step(0)
    assert not market.day_open  # 08:00: before the start of day

    clock.at(MONDAY, 9, 0)
    node.step(0)
    assert (market.day_open, market.session) == (True, Session.CLOSED)
    clock.at(MONDAY, 9, 30)
    node.step(0)
    assert market.session is Session.MORNING
    clock.at(MONDAY, 13, 0)
    node.step(0)
    assert market.session is Session.AFTERNOON
    clock.at(MONDAY, 15, 30)
    node.step(0)
    assert not market.day_open

    records = list(read_journal(tmp_path / "var"))
    assert [type(r.command) for r in records] == [
        StartOfDay,
        SetSession,
        SetSession,
        SetSession,
        SetSession,
        EndOfDay,
    ]
    assert all(r.origin == "" and r.request_id == 0 for r in records)  # the node's own commands
    assert records[0].command == StartOfDay(trading_day=20261123)
    assert list_snapshots(tmp_path / "var") == [records[-1].seq]  # the end of day is snapshotted
    with StatementStore.open(tmp_path / "var" / DB_FILE) as store:
        assert 20261123 in store.trading_days()


def test_a_weekend_opens_nothing(node: Node, clock: Clock, tmp_path: Path) -> None:
    clock.at(dt.date(2026, 11, 21), 10, 0)  # a Saturday

    node.step(0)

    assert not node.exchange.market.day_open
    assert not list(read_journal(tmp_path / "var"))


def test_a_stop_snapshots_and_a_restart_replays_nothing(config_dir: Path, tmp_path: Path, clock: Clock) -> None:
    clock.at(MONDAY, 10, 0)
    first = Node(load_config(config_dir), tmp_path / "var", clock=clock)
    first.bind()
    first.step(0)  # StartOfDay and the morning session
    state = first.exchange.state_hash()
    first.request_stop()
    first.run()  # stops at once: intake, flush, snapshot, close

    second = Node(load_config(config_dir), tmp_path / "var", clock=clock)
    try:
        assert second.state.replayed == 0 and second.state.snapshot_seq == second.state.journal.last_seq
        assert second.exchange.state_hash() == state
    finally:
        second.close()


def _own(*commands: Command) -> Submission:
    return Submission(routing_id=b"", member="", request_id=0, commands=list(commands))


def test_market_data_takes_a_batch_at_once_and_the_days_last_events_before_the_day_closes(
    node: Node, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.at(MONDAY, 9, 0)
    node.step(0)  # the day opens (session CLOSED)
    calls: list[list[str]] = []
    on_batch = node.publisher.on_batch
    monkeypatch.setattr(
        node.publisher,
        "on_batch",
        lambda outcomes: (calls.append([type(e).__name__ for es in outcomes for e in es]), on_batch(outcomes)),
    )
    closed_after: list[int] = []
    end_of_day = node.state.end_of_day
    monkeypatch.setattr(node.state, "end_of_day", lambda events: (closed_after.append(len(calls)), end_of_day(events)))

    node._apply([_own(SetSession(session=Session.MORNING)), _own(SetSession(session=Session.LUNCH_BREAK))])
    assert len(calls) == 1 and calls[0].count("SessionChanged") == 2  # two submissions, one call

    calls.clear()
    node._apply(
        [
            _own(SetSession(session=Session.AFTERNOON), SetSession(session=Session.CLOSED)),
            _own(EndOfDay(trading_day=20261123)),
            _own(SetSession(session=Session.MORNING)),
        ]
    )
    assert closed_after == [1]  # the state closed the day once market data had the day's last events
    assert "DailyBulletin" in calls[0] and "SessionChanged" in calls[0]
    assert len(calls) == 2 and calls[1] == ["RequestRejected"]  # after the close, in a call of its own


def test_a_market_data_defect_is_logged_once_and_the_batch_still_stands(
    node: Node, clock: Clock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock.at(MONDAY, 9, 0)
    node.step(0)

    def broken(outcomes: object) -> None:
        raise RuntimeError("market data defect")

    monkeypatch.setattr(node.publisher, "on_batch", broken)
    with capture_logs() as logs:
        node._apply([_own(SetSession(session=Session.MORNING)), _own(SetSession(session=Session.LUNCH_BREAK))])
    failures = [entry for entry in logs if entry["event"] == "node.report_failed"]
    assert [(f["error_type"], f["error"]) for f in failures] == [("RuntimeError", "market data defect")]
    assert node.exchange.market.session is Session.LUNCH_BREAK
    assert [type(r.command) for r in read_journal(tmp_path / "var")][-2:] == [SetSession, SetSession]


@pytest.mark.not_per_book  # about the scheduler: its cancels only stand for a turn of orders
def test_the_scheduler_reads_the_calendar_again_only_when_the_market_changed_or_its_moment_came(
    node: Node, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import carbonx.node_schedule as schedule_module

    looks: list[dt.datetime] = []
    due = schedule_module.due_commands
    monkeypatch.setattr(
        schedule_module, "due_commands", lambda market, now, *rest: (looks.append(now), due(market, now, *rest))[1]
    )
    market = node.exchange.market
    clock.at(MONDAY, 10, 0)
    node.step(0)  # the day opens, then the morning session (two turns' worth: read until nothing is due)
    node.step(0)
    assert market.session is Session.MORNING
    node._wait_ms()
    settled = len(looks)

    # Orders, cancels and amends change nothing the scheduler reads: turns of them leave the calendar unread.
    for minute in range(1, 30):
        clock.at(MONDAY, 10, minute)
        node._sequence([_own(CancelOrder(account="", order_id=minute))])
        node.step(0)
        assert 0 < node._wait_ms() <= 100  # still sleeps until the next moment (at most the loop's longest)
    assert len(looks) == settled

    # Its moment: the morning closes at 11:30 to the minute.
    clock.at(MONDAY, 11, 29)
    node.step(0)
    assert market.session is Session.MORNING and len(looks) == settled
    clock.at(MONDAY, 11, 30)
    node.step(0)
    assert market.session is Session.LUNCH_BREAK and len(looks) > settled

    # A command that may change the day or the auctions (here the regulator ending the break early)
    # makes the scheduler read the calendar again at once, and it finds nothing to undo.
    node.step(0)
    settled = len(looks)
    node._apply([_own(SetSession(session=Session.AFTERNOON))])
    node.step(0)
    assert len(looks) == settled + 1 and market.session is Session.AFTERNOON


def _scheduler_asks_for(monkeypatch: pytest.MonkeyPatch, *commands: Command) -> None:
    """A scheduler that disagrees with the engine (a defect): it always finds ``commands`` due."""
    import carbonx.node_schedule as schedule_module
    import carbonx.scheduler as scheduler_module

    def due(*_: object) -> list[Command]:
        return list(commands)

    monkeypatch.setattr(schedule_module, "due_commands", due)
    monkeypatch.setattr(scheduler_module, "due_commands", due)  # what next_wakeup asks


def test_a_command_the_engine_refuses_the_scheduler_is_journaled_once_then_tried_again_a_minute_later(
    node: Node, clock: Clock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _scheduler_asks_for(monkeypatch, SetSession(session=Session.AFTERNOON))  # no day open: NO_TRADING_DAY
    clock.at(MONDAY, 9, 0)
    with capture_logs() as logs:
        for _ in range(5):
            node.step(0)
            # The loop sleeps its longest instead of turning at once to ask again.
            assert node._wait_ms() == 100
    assert len(list(read_journal(tmp_path / "var"))) == 1
    refused = [entry for entry in logs if entry["event"] == "scheduler.refused"]
    assert len(refused) == 1 and refused[0]["log_level"] == "critical"
    assert refused[0]["command"] == "SetSession" and refused[0]["code"] == "NO_TRADING_DAY"
    assert refused[0]["journal_seq"] == 1 and refused[0]["retry_in_s"] == 60

    clock.ns += SCHEDULER_RETRY_NS - 1
    node.step(0)
    assert len(list(read_journal(tmp_path / "var"))) == 1
    clock.ns += 1
    node.step(0)
    assert len(list(read_journal(tmp_path / "var"))) == 2  # asked again, once


@pytest.mark.not_per_book  # about the scheduler: its cancel only stands for a turn of orders
def test_a_change_of_the_market_lets_the_scheduler_try_again_at_once(
    node: Node, clock: Clock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _scheduler_asks_for(monkeypatch, SetSession(session=Session.AFTERNOON))
    clock.at(MONDAY, 9, 0)
    node.step(0)
    node.step(0)
    assert len(list(read_journal(tmp_path / "var"))) == 1
    # Orders change nothing the scheduler reads; a regulator's command may make it possible.
    node._sequence([_own(CancelOrder(account="", order_id=1))])
    node.step(0)
    assert len(list(read_journal(tmp_path / "var"))) == 2
    node._apply([_own(StartOfDay(trading_day=20261123))])
    node.step(0)
    commands = [type(r.command) for r in read_journal(tmp_path / "var")]
    assert commands == [SetSession, CancelOrder, StartOfDay, SetSession]
    assert node.exchange.market.day_open


def test_scheduler_commands_that_break_a_bound_are_dropped_and_not_asked_for_every_turn(
    node: Node, clock: Clock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _scheduler_asks_for(monkeypatch, StartOfDay(trading_day=2**70))
    clock.at(MONDAY, 9, 0)
    with capture_logs() as logs:
        for _ in range(5):
            node.step(0)
    assert not list(read_journal(tmp_path / "var"))
    assert [entry["event"] for entry in logs].count("node.command_invalid") == 1
    assert node._wait_ms() == 100


@pytest.mark.per_book
def test_an_end_of_day_snapshot_holds_the_reports_of_the_whole_batch(
    config_dir: Path, tmp_path: Path, clock: Clock
) -> None:
    """A member's order sequenced in the batch of an end of day, after it: the end of day's snapshot
    covers the whole batch, so its saved reports must too, or a restart from it numbers anew."""
    clock.at(MONDAY, 15, 0)
    first = Node(load_config(config_dir), tmp_path / "var", clock=clock)
    first.bind()
    first.step(0)  # the day opens, in the afternoon session
    order = NewOrder(
        account="A001", instrument="SHEA2025", client_order_id="late", side=Side.BUY,
        order_type=OrderType.LIMIT, quantity=1, price=4000,
    )  # fmt: skip
    late = Submission(routing_id=b"", member="M001", request_id=7, commands=[order])
    first._sequence([_own(SetSession(session=Session.CLOSED), EndOfDay(trading_day=20261123)), late])
    numbered = first.gateway.reports.last("M001")
    assert numbered > 0  # the late order's reject
    assert list_snapshots(tmp_path / "var") == [first.state.journal.last_seq]
    first.close()

    second = Node(load_config(config_dir), tmp_path / "var", clock=clock)
    try:
        assert second.state.replayed == 0  # from the end of day's snapshot
        assert second.gateway.reports.last("M001") == numbered
    finally:
        second.close()
