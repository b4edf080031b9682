"""Member firms see their own executions (issue 13): ``carbonx fills``, ``carbonx order list --all``
and ``carbonx order new --wait``, against a real node subprocess, as a new user runs them.

The commands call ``carbonx.cli.main`` in this process (one runs as a subprocess, to wait while
another member trades). They do not depend on the order book, so they run once, on the default one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from carbonx.cli import main
from carbonx.config import load_config
from engine.market_day.calendar import day_from_int, day_to_int
from engine.messages import Command, EndOfDay, Session, SetSession, StartOfDay
from gateway.client import MemberClient
from tests.node_process import REPO, NodeProcess, make_config

pytestmark = [pytest.mark.e2e, pytest.mark.not_per_book]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    root = tmp_path_factory.mktemp("cli-fills")
    process = NodeProcess(make_config(root), root / "var").start()
    yield process
    assert process.stop() == 0, process.stderr()


def cli(capsys: pytest.CaptureFixture[str], node: NodeProcess, *args: str) -> tuple[int, str, str]:
    status = main([*args, "--config", str(node.config), "--gateway", node.order_entry])
    out, err = capsys.readouterr()
    return status, out, err


def iso(day: int) -> str:
    found = day_from_int(day)
    assert found is not None
    return found.isoformat()


def trading_day(node: NodeProcess) -> int:
    with MemberClient.from_keys(node.order_entry, "M001", node.keys_dir) as client:
        return client.session.trading_day


# ----------------------------------------------------------------------------------------- fills


def test_both_sides_see_their_fill_and_never_the_other_side(
    capsys: pytest.CaptureFixture[str], node: NodeProcess
) -> None:
    sold = cli(capsys, node, "order", "new", "--member", "M002", "sell", "SHEA2025", "100", "80.00", "--wait", "0")
    bought = cli(capsys, node, "order", "new", "--member", "M001", "buy", "SHEA2025", "100", "80.00")
    table = cli(capsys, node, "fills", "--member", "M002", "--instrument", "SHEA2025")
    as_csv = cli(capsys, node, "fills", "--member", "M002", "--instrument", "SHEA2025", "--format", "csv")
    as_json = cli(capsys, node, "fills", "--member", "M002", "--instrument", "SHEA2025", "--format", "json")

    assert sold[0] == 0 and "accepted order" in sold[1] and "fill" not in sold[1]
    assert bought[0] == 0
    assert "bought 100 t SHEA2025 @ 80.00, fee 12.00 CNY, taker, leaves 0 t" in bought[1]
    day = iso(trading_day(node))
    status, out, err = table
    assert status == 0 and err == ""
    title, header, row, summary = out.splitlines()
    assert title.startswith(f"fills of M002 on trading day {day}") and "Asia/Shanghai" in title
    assert header == "time      trade  order  account  side  instrument  price  quantity t    fee  role"
    assert row.split()[3:] == ["A002", "sell", "SHEA2025", "80.00", "100", "12.00", "maker"]
    assert summary == "1 fill: bought 0 t, sold 100 t, fees 12.00 CNY"
    [record] = list(csv.DictReader(io.StringIO(as_csv[1])))
    assert {k: record[k] for k in ("side", "price_fen_per_t", "quantity_t", "fee_fen", "role", "leaves_t")} == {
        "side": "sell",
        "price_fen_per_t": "8000",
        "quantity_t": "100",
        "fee_fen": "1200",
        "role": "maker",
        "leaves_t": "0",
    }
    assert record["time"].endswith("+08:00") and int(record["ts_event_ns"]) > 0
    assert record["trading_day"] == day  # YYYY-MM-DD, as in eod report and bulletin
    document = json.loads(as_json[1])
    assert document["member"] == "M002" and document["timezone"] == "Asia/Shanghai"
    assert document["trading_day"] == day
    [fill] = document["fills"]
    assert fill["trading_day"] == day
    assert (fill["price_fen_per_t"], fill["quantity_t"], fill["fee_fen"]) == (8000, 100, 1200)
    assert fill["trade_id"] == int(record["trade_id"]) and fill["ts_event_ns"] == int(record["ts_event_ns"])
    for out in (table[1], as_csv[1], as_json[1]):
        assert "A001" not in out and "M001" not in out  # the market is anonymous


def test_fills_of_another_members_account_are_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], node: NodeProcess
) -> None:
    status, out, err = cli(capsys, node, "fills", "--member", "M002", "--account", "A001")

    assert (status, out) == (2, "")
    assert err == "carbonx fills: error: member M002 has no account 'A001' (its accounts: A002)\n"


def test_a_day_not_yet_come_is_a_one_line_error(capsys: pytest.CaptureFixture[str], node: NodeProcess) -> None:
    status, out, err = cli(capsys, node, "fills", "--member", "M002", "--date", "2099-01-05")

    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and "no trading day 2099-01-05 yet: the current one is" in err


# ----------------------------------------------------------------------------------------- order new --wait


def test_order_new_waits_for_its_own_fill_and_stops_at_once(
    capsys: pytest.CaptureFixture[str], node: NodeProcess
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    connection = ["--config", str(node.config), "--gateway", node.order_entry]
    sell = ["order", "new", "--member", "M002", "sell", "CCER", "30", "85.00", "--wait", "30"]
    seller = subprocess.Popen(
        [sys.executable, "-m", "carbonx", *sell, *connection],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert seller.stdout is not None
        ready, _, _ = select.select([seller.stdout], [], [], 20)
        accepted = seller.stdout.readline() if ready else ""
        assert "accepted order" in accepted, seller.stderr.read() if seller.stderr else ""
        started = time.monotonic()

        bought = cli(capsys, node, "order", "new", "--member", "M001", "buy", "CCER", "30", "85.00")
        rest, err = seller.communicate(timeout=30)
    finally:
        seller.kill()
    waited = time.monotonic() - started

    order_id = accepted.split("accepted order ", 1)[1].split(" ", 1)[0]
    assert bought[0] == 0 and "taker" in bought[1]
    assert seller.returncode == 0, err
    assert f"fill order {order_id} " in rest and "sold 30 t CCER @ 85.00" in rest and "maker, leaves 0 t" in rest
    assert "still open" not in rest
    assert waited < 15  # it stopped once the order was filled, not after its 30 s


def test_order_new_says_where_later_fills_are_when_none_came(
    capsys: pytest.CaptureFixture[str], node: NodeProcess
) -> None:
    started = time.monotonic()
    status, out, _ = cli(
        capsys, node, "order", "new", "--member", "M002", "sell", "CCER", "10", "93.00", "--wait", "0.3"
    )
    waited = time.monotonic() - started
    quick, quick_out, _ = cli(
        capsys, node, "order", "new", "--member", "M002", "sell", "CCER", "10", "93.00", "--wait", "0"
    )

    assert status == 0 and 0.3 <= waited < 5
    assert out.splitlines()[-1].endswith("still open after 0.3 s; its later fills: carbonx fills --member M002")
    assert quick == 0 and "still open" not in quick_out and len(quick_out.splitlines()) == 1


def test_a_bad_wait_is_a_usage_error(capsys: pytest.CaptureFixture[str], node: NodeProcess) -> None:
    with pytest.raises(SystemExit) as exited:
        cli(capsys, node, "order", "new", "--member", "M002", "sell", "CCER", "10", "93.00", "--wait", "-1")

    assert exited.value.code == 2
    assert "--wait: -1: from 0 to 3600 seconds" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------- order list --all


def test_order_list_all_shows_the_days_orders_in_every_state(
    capsys: pytest.CaptureFixture[str], node: NodeProcess
) -> None:
    mine = ("--member", "M101", "--account", "A101")
    filled = cli(capsys, node, "order", "new", *mine, "sell", "SHCER", "10", "35.00", "--wait", "0")
    cli(capsys, node, "order", "new", "--member", "M001", "buy", "SHCER", "10", "35.00")
    cancelled = cli(capsys, node, "order", "new", *mine, "sell", "SHCER", "20", "36.00", "--wait", "0")
    cancelled_id = cancelled[1].split("accepted order ", 1)[1].split(" ", 1)[0]
    cli(capsys, node, "order", "cancel", *mine, cancelled_id)
    ioc = cli(capsys, node, "order", "new", *mine, "sell", "SHCER", "30", "38.00", "--type", "ioc")
    rejected = cli(capsys, node, "order", "new", *mine, "sell", "SHCER", "40", "99.00", "--client-order-id", "too-dear")
    still_open = cli(capsys, node, "order", "new", *mine, "sell", "SHCER", "50", "37.00", "--wait", "0")

    status, out, err = cli(capsys, node, "order", "list", "--member", "M101", "--all", "--instrument", "SHCER")
    open_only = cli(capsys, node, "order", "list", "--member", "M101", "--instrument", "SHCER")

    assert (filled[0], ioc[0], rejected[0], still_open[0]) == (0, 0, 1, 0)
    assert status == 0 and err == ""
    title, _, *rows = out.splitlines()
    assert title.startswith(f"orders of trading day {iso(trading_day(node))}")
    statuses = [" ".join(row.split()[10:-1]) for row in rows]
    assert statuses == [
        "filled",
        "cancelled (USER)",
        "cancelled (IOC_REMAINDER)",
        "rejected (PRICE_OUT_OF_BAND)",
        "open",
    ]
    assert rows[0].split()[5:10] == ["limit", "35.00", "10", "10", "0"]  # type, price, quantity, filled, open
    assert rows[3].split()[0] == "-" and rows[3].split()[-1] == "too-dear"
    assert rows[4].split()[5:10] == ["limit", "37.00", "50", "0", "50"]
    assert open_only[0] == 0 and "37.00" in open_only[1] and "35.00" not in open_only[1] and "36.00" not in open_only[1]


# ----------------------------------------------------------------------------------------- trading days


def regulator(node: NodeProcess, *commands: Command) -> None:
    with MemberClient.from_keys(node.order_entry, "REGULATOR", node.keys_dir) as client:
        for command in commands:
            result = client.submit(command)
            assert result.accepted and not any("Rejected" in type(e).__name__ for e in result.events), result.events


def end_day(node: NodeProcess, day: int) -> None:
    """Close trading day ``day``: its sessions, then the end of day (day orders expire, statements)."""
    sessions = [SetSession(session=s) for s in (Session.LUNCH_BREAK, Session.AFTERNOON, Session.CLOSED)]
    regulator(node, *sessions, EndOfDay(trading_day=day))


def next_day(node: NodeProcess, day: int, ended: bool = False) -> int:
    """End trading day ``day`` (unless ``ended``) and open the next one's morning session."""
    if not ended:
        end_day(node, day)
    calendar = load_config(str(node.config)).exchange.calendar
    following = day_to_int(calendar.next_trading_day(day_from_int(day)))  # type: ignore[arg-type]
    regulator(node, StartOfDay(trading_day=following), SetSession(session=Session.MORNING))
    return following


def test_fills_by_trading_day_and_a_day_no_longer_kept(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    node = NodeProcess(make_config(tmp_path), tmp_path / "var").start()
    try:
        day1 = trading_day(node)
        cli(capsys, node, "order", "new", "--member", "M002", "sell", "SHEA2025", "100", "80.00", "--wait", "0")
        cli(capsys, node, "order", "new", "--member", "M001", "buy", "SHEA2025", "100", "80.00")
        cli(capsys, node, "order", "new", "--member", "M002", "sell", "SHEA2025", "7", "87.00", "--wait", "0")
        end_day(node, day1)
        orders_day1 = cli(capsys, node, "order", "list", "--member", "M002", "--all")
        day2 = next_day(node, day1, ended=True)
        cli(capsys, node, "order", "new", "--member", "M002", "sell", "SHEA2025", "20", "81.00", "--wait", "0")
        cli(capsys, node, "order", "new", "--member", "M001", "buy", "SHEA2025", "20", "81.00")

        today = cli(capsys, node, "fills", "--member", "M002")
        yesterday = cli(capsys, node, "fills", "--member", "M002", "--date", iso(day1))
        orders_today = cli(capsys, node, "order", "list", "--member", "M002", "--all")
        day3 = next_day(node, day2)
        gone = cli(capsys, node, "fills", "--member", "M002", "--date", iso(day1))
        kept = cli(capsys, node, "fills", "--member", "M002", "--date", str(day2))
        orders_day3 = cli(capsys, node, "order", "list", "--member", "M002", "--all")
    finally:
        assert node.stop() == 0, node.stderr()

    assert orders_day1[0] == 0 and iso(day1) in orders_day1[1].splitlines()[0]
    day1_orders = [r.split() for r in orders_day1[1].splitlines()[2:]]
    assert [(r[6], r[10]) for r in day1_orders] == [("80.00", "filled"), ("87.00", "expired")]
    assert today[0] == 0 and iso(day2) in today[1].splitlines()[0]
    assert [r.split()[-6:-2] for r in today[1].splitlines()[2:-1]] == [["sell", "SHEA2025", "81.00", "20"]]
    assert yesterday[0] == 0 and iso(day1) in yesterday[1].splitlines()[0]
    assert [r.split()[-6:-2] for r in yesterday[1].splitlines()[2:-1]] == [["sell", "SHEA2025", "80.00", "100"]]
    assert "expired" not in orders_today[1] and "87.00" not in orders_today[1]  # yesterday's order: not today's
    status, out, err = gone
    assert (status, out) == (2, "")
    assert err == (
        f"carbonx fills: error: the node does not keep the reports of {iso(day1)} (only those of {iso(day2)} and "
        f"{iso(day3)}); that day's trades are in its statement: carbonx eod report --date {iso(day1)} --account A002\n"
    )
    assert kept[0] == 0 and "81.00" in kept[1] and "80.00" not in kept[1]
    assert orders_day3[1] == f"no orders on trading day {iso(day3)}\n"
