"""`carbonx regulator session|end-of-day|start-of-day` (issue 13): the regulator closes a demo day,
ends it, reads it back with `carbonx eod report`, and opens the next one; each refusal is one line
with exit status 1. And the scheduler of a node in calendar mode never undoes what the regulator
did by hand.

The end-to-end test drives a real demo node (a subprocess) through ``carbonx.cli.main``, as a
regulator at a terminal would.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from carbonx.cli import main, regulator_cmd
from carbonx.cli.regulator_cmd import describe_day, session_steps
from carbonx.config import SchedulerOptions, load_config
from carbonx.scheduler import day_to_open, due_commands
from engine.config import Calendar
from engine.exchange import Exchange
from engine.market_day.calendar import day_from_int
from engine.messages import (
    Command,
    ConservationChecked,
    ConservationMismatch,
    DailyBulletin,
    EndOfDay,
    OrderRejected,
    RequestRejected,
    Session,
    SetSession,
    StartOfDay,
    TransferExpired,
)
from market_data.messages import MarketStatus
from market_data.subscriber import Subscriber
from tests.conftest import DAY1, DAY2, market_config
from tests.node_process import NodeProcess, make_config

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MORNING, BREAK, AFTERNOON, CLOSED = Session.MORNING, Session.LUNCH_BREAK, Session.AFTERNOON, Session.CLOSED


# ------------------------------------------------------------------------------------------ end to end


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    process = NodeProcess(make_config(tmp_path), tmp_path / "var").start()
    yield process
    try:
        assert process.stop() == 0, process.stderr()
    finally:
        process.close()


def cli(capsys: pytest.CaptureFixture[str], node: NodeProcess, *argv: str) -> tuple[int, list[str], str]:
    """A client command against the node, its endpoints given as a user of this config must."""
    endpoints = ["--config", str(node.config), "--gateway", node.order_entry]
    if argv[0] == "regulator" and argv[1] not in ("halt", "resume"):
        endpoints += ["--endpoint", node.endpoints["market data"], "--snapshot-endpoint", node.endpoints["snapshot"]]
    status = main([*argv, *endpoints])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def refused(result: tuple[int, list[str], str]) -> str:
    """The one line of a command the engine refused (exit status 1, nothing on stderr)."""
    status, lines, err = result
    assert (status, err, len(lines)) == (1, "", 1), (status, lines, err)
    assert lines[0].endswith("; nothing applied"), lines
    return lines[0]


def done(result: tuple[int, list[str], str]) -> list[str]:
    status, lines, err = result
    assert (status, err) == (0, ""), (status, lines, err)
    return lines


def banner_day(node: NodeProcess) -> dt.date:
    found = [re.match(r"\s+demo\s+trading day (\d{4}-\d\d-\d\d) open", line) for line in node.banner]
    day = next((f[1] for f in found if f), None)
    assert day is not None, node.banner
    return dt.date.fromisoformat(day)


def day_open(node: NodeProcess) -> bool:
    with Subscriber(
        node.endpoints["market data"], node.endpoints["snapshot"], instruments=[], channels=("status",)
    ) as s:
        assert s.wait_synced(5_000)
        status = s.market_status()
    assert status is not None
    return status.day_open


@pytest.mark.per_book
@pytest.mark.e2e
def test_the_regulator_closes_ends_reports_and_reopens_a_demo_day(
    node: NodeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    day = banner_day(node)
    next_day = load_config(node.config).exchange.calendar.next_trading_day(day)
    done(cli(capsys, node, "order", "new", "--member", "M002", "sell", "SHEA2025", "100", "80.00"))
    done(cli(capsys, node, "order", "new", "--member", "M001", "buy", "SHEA2025", "100", "80.00"))
    done(cli(capsys, node, "order", "new", "--member", "M001", "buy", "SHEA2025", "10", "79.00"))  # rests, expires

    # While the morning session is open.
    assert refused(cli(capsys, node, "regulator", "end-of-day")) == (
        "rejected 2019: SESSION_OPEN: session=MORNING (close trading first: carbonx regulator session close)"
        "; nothing applied"
    )
    assert refused(cli(capsys, node, "regulator", "start-of-day")).startswith(
        f"rejected 2016: TRADING_DAY_OPEN: trading_day={day:%Y%m%d} (end the open day first"
    )
    assert refused(cli(capsys, node, "regulator", "session", "morning")).startswith(
        "rejected 2015: INVALID_SESSION_TRANSITION: current=MORNING requested=MORNING (sessions go morning, break,"
    )
    assert refused(cli(capsys, node, "regulator", "end-of-day", "--date", str(next_day))).startswith(
        f"rejected 2018: NOT_A_TRADING_DAY: trading_day={next_day:%Y%m%d} open={day:%Y%m%d}"
    )

    closed = done(cli(capsys, node, "regulator", "session", "close"))
    assert [re.sub(r"^#\d+ ", "", line) for line in closed] == [
        f"session LUNCH_BREAK (trading day {day})",
        f"session AFTERNOON (trading day {day})",
        f"session CLOSED (trading day {day}): trading over for the day; next: carbonx regulator end-of-day",
    ]
    assert refused(cli(capsys, node, "regulator", "session", "afternoon")).startswith(
        "rejected 2015: INVALID_SESSION_TRANSITION: current=CLOSED requested=AFTERNOON"
    )

    ended = done(cli(capsys, node, "regulator", "end-of-day"))
    assert any(line.endswith("bulletin SHEA2025: close 80.00, volume 100 t, 1 trades") for line in ended), ended
    assert any(line.endswith("conservation OK: every instrument and cash adds up") for line in ended), ended
    assert any(f"trading day {day} ended: 1 day orders expired, fees collected 24.00 CNY" in x for x in ended), ended
    assert ended[-1].endswith(f"see: carbonx eod report --date {day}")

    status = main(["eod", "report", "--data-dir", str(node.data_dir), "--account", "A001"])
    report, err = capsys.readouterr()
    assert (status, err) == (0, "")
    lines = report.splitlines()
    assert lines[0] == f"carbonx eod report: trading day {day} (the latest recorded)"
    assert "conservation       OK: every instrument and cash adds up" in lines
    prices = r" +80\.00" * 7  # reference, open, high, low, last, close, vwap; the change in percent
    assert re.search(rf"^SHEA2025{prices} +0\.00% +100 +8,000\.00 +1$", report, re.M)
    assert re.search(r"^  1 +SHEA2025 +buy +100 +80\.00 +8,000\.00 +12\.00$", report, re.M)

    # No day open: the demo node (no scheduler) has not reopened it on its own.
    assert not day_open(node)
    assert refused(cli(capsys, node, "regulator", "end-of-day")) == (
        f"rejected 2017: NO_TRADING_DAY: trading_day={day:%Y%m%d} "
        "(no trading day is open: carbonx regulator start-of-day opens one); nothing applied"
    )
    assert refused(cli(capsys, node, "regulator", "session", "morning")).startswith(
        "rejected 2017: NO_TRADING_DAY: session=MORNING"
    )

    started = done(cli(capsys, node, "regulator", "start-of-day"))
    assert [re.sub(r"^#\d+ ", "", line) for line in started] == [
        f"trading day {next_day} started; no session open yet (carbonx regulator session morning opens trading)"
    ]
    assert refused(cli(capsys, node, "regulator", "session", "close")).startswith(
        "rejected 2015: INVALID_SESSION_TRANSITION: current=CLOSED requested=CLOSED"
    )
    morning = done(cli(capsys, node, "regulator", "session", "morning"))
    assert [re.sub(r"^#\d+ ", "", line) for line in morning] == [f"session MORNING (trading day {next_day})"]
    accepted = done(cli(capsys, node, "order", "new", "--member", "M002", "sell", "SHEA2025", "5", "80.00"))
    assert "accepted order" in accepted[0]


@pytest.mark.not_per_book
@pytest.mark.parametrize(
    ("action", "way_out"),
    [
        (["end-of-day"], "give --endpoint and --snapshot-endpoint, or --date"),
        (["start-of-day"], "give --endpoint and --snapshot-endpoint, or --date"),
        (["session", "close"], "give --endpoint and --snapshot-endpoint"),  # session has no --date
    ],
)
def test_without_the_node_the_market_status_is_one_line_naming_the_way_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, action: list[str], way_out: str
) -> None:
    config = make_config(tmp_path)
    nowhere = ["--endpoint", "tcp://127.0.0.1:9", "--snapshot-endpoint", "tcp://127.0.0.1:9"]

    status = main(["regulator", *action, "--config", str(config), "--timeout-ms", "200", *nowhere])

    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert err == (
        "carbonx regulator: error: no answer from tcp://127.0.0.1:9 within 200 ms (is carbonx serve "
        f"running there? {way_out})\n"
    )


@pytest.mark.not_per_book
def test_the_market_data_endpoint_is_endpoint_as_for_quotes_and_the_former_name_still_works() -> None:
    parser = argparse.ArgumentParser()
    regulator_cmd.add_parser(parser.add_subparsers(dest="command"))

    now = parser.parse_args(["regulator", "end-of-day", "--endpoint", "tcp://h:1"])
    former = parser.parse_args(["regulator", "session", "close", "--market-data", "tcp://h:2"])

    assert (now.endpoint, former.endpoint) == ("tcp://h:1", "tcp://h:2")


@pytest.mark.not_per_book
@pytest.mark.parametrize("action", ["session", "end-of-day", "start-of-day"])
def test_help_of_each_day_command_is_enough_to_start(capsys: pytest.CaptureFixture[str], action: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["regulator", action, "--help"])

    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "examples" in out and f"carbonx regulator {action}" in out
    assert "--endpoint" in out and "--snapshot-endpoint" in out and "--member" in out
    assert "--market-data" not in out  # the former name, taken but no longer shown
    if action != "session":
        assert "--date" in out


# -------------------------------------------------------------------------------------- the CLI's rules


def market(session: Session, *, over: bool = False, day_open: bool = True) -> MarketStatus:
    """What status.MARKET says of a day in ``session`` (``over``: its afternoon has closed)."""
    return MarketStatus(
        epoch=1,
        seq=1,
        ts=0,
        trading_day=DAY1,
        session=session,
        halted=False,
        reason="",
        day_open=day_open,
        sessions_over=over,
    )


@pytest.mark.not_per_book
@pytest.mark.parametrize(
    ("current", "over", "target", "steps"),
    [
        (CLOSED, False, MORNING, [MORNING]),
        (CLOSED, False, AFTERNOON, [MORNING, BREAK, AFTERNOON]),
        (MORNING, False, CLOSED, [BREAK, AFTERNOON, CLOSED]),
        (BREAK, False, AFTERNOON, [AFTERNOON]),
        (AFTERNOON, False, CLOSED, [CLOSED]),
        # behind or current: the session asked alone, for the engine to refuse
        (AFTERNOON, False, MORNING, [MORNING]),
        (MORNING, False, MORNING, [MORNING]),
        (CLOSED, False, CLOSED, [CLOSED]),  # the morning not opened yet: closed already
        (CLOSED, True, MORNING, [MORNING]),  # the afternoon has closed: every session is behind
        (CLOSED, True, AFTERNOON, [AFTERNOON]),
        (CLOSED, True, CLOSED, [CLOSED]),
    ],
)
def test_a_session_is_reached_through_the_ones_in_between_and_never_backwards(
    current: Session, over: bool, target: Session, steps: list[Session]
) -> None:
    assert session_steps(market(current, over=over), target) == [SetSession(session=s) for s in steps]


@pytest.mark.not_per_book
@pytest.mark.parametrize("target", [MORNING, AFTERNOON, CLOSED])
def test_with_no_day_open_the_session_asked_goes_alone_for_the_engine_to_refuse(target: Session) -> None:
    for over in (False, True):
        assert session_steps(market(CLOSED, over=over, day_open=False), target) == [SetSession(session=target)]


DAY = [MORNING, BREAK, AFTERNOON, CLOSED]


@pytest.mark.not_per_book
@pytest.mark.parametrize("passed", range(len(DAY) + 1), ids=["open", *(s.name for s in DAY)])
@pytest.mark.parametrize("target", DAY)
def test_the_steps_are_what_the_engine_accepts_or_refuses_at_the_first(passed: int, target: Session) -> None:
    exchange = Exchange(market_config())
    exchange.apply(StartOfDay(trading_day=DAY1))
    for session in DAY[:passed]:  # the day's sessions so far; none: the day open, its morning not
        exchange.apply(SetSession(session=session))
    now = exchange.market
    status = market(now.session, over=now.sessions_over)

    outcomes = [exchange.apply(step) for step in session_steps(status, target)]

    rejected = [any(isinstance(e, RequestRejected | OrderRejected) for e in events) for events in outcomes]
    moves_on = DAY.index(target) >= passed and not (passed == 0 and target is CLOSED)
    assert rejected == ([False] * len(outcomes) if moves_on else [True])
    assert exchange.market.session is (target if moves_on else now.session)


@pytest.mark.not_per_book
def test_the_days_lines_tell_of_bulk_trades_and_expired_transfers() -> None:
    bulletin = DailyBulletin(
        ts_event=1, trading_day=DAY1, instrument="SHEA2025", reference_price=8000, open=0, high=0, low=0,
        last=0, close=8000, vwap=0, volume=0, turnover=0, trades=0,
    )  # fmt: skip
    bulk = msgspec.structs.replace(bulletin, bulk_volume=150_000, bulk_turnover=1_200_000_000, bulk_trades=1)
    expiry = TransferExpired(
        ts_event=1, transfer_id=3, account="A2", counterparty="A1", instrument="SHEA2025",
        released_cash=0, released_quantity=150_000,
    )  # fmt: skip

    assert describe_day(bulletin) == "bulletin SHEA2025: close 80.00, volume 0 t, 0 trades"
    assert describe_day(bulk) == (
        "bulletin SHEA2025: close 80.00, volume 0 t, 0 trades; bulk 150,000 t in 1 agreement transfer"
    )
    assert describe_day(expiry) == "transfer 3 expired (A2 to A1, SHEA2025): the proposer's freeze is released"


@pytest.mark.not_per_book
def test_a_failed_conservation_check_counts_its_assets_in_words() -> None:
    def checked(*assets: str) -> ConservationChecked:
        mismatches = [ConservationMismatch(asset=a, expected=100, actual=99, difference=-1) for a in assets]
        return ConservationChecked(ts_event=1, trading_day=DAY1, ok=False, mismatches=mismatches)

    assert describe_day(checked("CASH")) == (
        "conservation FAILED: 1 asset does not add up; the end of day halted the market"
    )
    assert describe_day(checked("CASH", "SHEA2025")) == (
        "conservation FAILED: 2 assets do not add up; the end of day halted the market"
    )


@pytest.mark.not_per_book
@pytest.mark.parametrize(
    ("today", "last", "expected"),
    [
        (dt.date(2026, 11, 23), dt.date(2026, 11, 20), dt.date(2026, 11, 23)),  # Monday after Friday: today
        (dt.date(2026, 11, 23), None, dt.date(2026, 11, 23)),  # a new exchange
        (dt.date(2026, 11, 23), dt.date(2026, 11, 23), dt.date(2026, 11, 24)),  # today ended: tomorrow
        (dt.date(2026, 11, 21), dt.date(2026, 11, 20), dt.date(2026, 11, 23)),  # Saturday: Monday
        (dt.date(2026, 11, 24), dt.date(2026, 11, 24), dt.date(2026, 11, 26)),  # the 25th a holiday
        (dt.date(2026, 11, 23), dt.date(2026, 11, 24), dt.date(2026, 11, 26)),  # a later day held: after it
    ],
)
def test_start_of_day_opens_today_or_the_next_trading_day_after_the_last(
    today: dt.date, last: dt.date | None, expected: dt.date
) -> None:
    calendar = Calendar(holidays=[dt.date(2026, 11, 25)])

    assert day_to_open(calendar, today, last) == expected


# ------------------------------------------------------------------ the scheduler and the regulator's hand


def at(day: int, clock: str) -> dt.datetime:
    found = day_from_int(day)
    assert found is not None
    return dt.datetime.combine(found, dt.time.fromisoformat(clock), tzinfo=SHANGHAI)


def scheduled(exchange: Exchange, day: int, *clocks: str) -> list[tuple[str, list[Command]]]:
    """What a calendar-mode node would send at each time, applied as it would be."""
    sent = []
    for clock in clocks:
        commands = due_commands(exchange.market, at(day, clock), Calendar(), SchedulerOptions())
        for command in commands:
            assert not any(isinstance(e, RequestRejected) for e in exchange.apply(command)), command
        sent.append((clock, commands))
    return sent


@pytest.mark.not_per_book
def test_a_day_the_regulator_closed_early_stays_closed_and_is_ended_at_the_scheduled_time() -> None:
    exchange = Exchange(market_config())
    scheduled(exchange, DAY1, "09:00", "09:30")
    for step in session_steps(market(MORNING), CLOSED):  # `carbonx regulator session close` at 10:00
        exchange.apply(step)

    assert scheduled(exchange, DAY1, "11:30", "13:00", "15:00", "15:30") == [
        ("11:30", []),
        ("13:00", []),
        ("15:00", []),
        ("15:30", [EndOfDay(trading_day=DAY1)]),
    ]


@pytest.mark.not_per_book
def test_a_day_the_regulator_ended_early_is_not_reopened_and_the_next_opens_on_time() -> None:
    exchange = Exchange(market_config())
    scheduled(exchange, DAY1, "09:00", "09:30")
    for command in [*session_steps(market(MORNING), CLOSED), EndOfDay(trading_day=DAY1)]:
        exchange.apply(command)

    later = scheduled(exchange, DAY1, "10:00", "13:00", "15:30", "23:59")
    tomorrow = scheduled(exchange, DAY2, "09:00", "09:30")

    assert later == [("10:00", []), ("13:00", []), ("15:30", []), ("23:59", [])]
    assert tomorrow == [("09:00", [StartOfDay(trading_day=DAY2)]), ("09:30", [SetSession(session=MORNING)])]


@pytest.mark.not_per_book
def test_a_day_the_regulator_opened_ahead_waits_for_its_date() -> None:
    exchange = Exchange(market_config())
    scheduled(exchange, DAY1, "09:00")
    for command in [EndOfDay(trading_day=DAY1), StartOfDay(trading_day=DAY2)]:  # at 09:10, by hand
        exchange.apply(command)

    assert scheduled(exchange, DAY1, "09:30", "15:30") == [("09:30", []), ("15:30", [])]
    assert scheduled(exchange, DAY2, "09:00", "09:30") == [("09:00", []), ("09:30", [SetSession(session=MORNING)])]
