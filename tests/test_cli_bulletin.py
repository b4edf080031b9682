"""`carbonx bulletin`: the daily bulletin from a node's snapshot service, or from a data directory.

The node's bulletin is the one its snapshot service keeps per instrument after an end of day
(the in-process node of tests/test_market_data_subscriber.py, and a real node whose bulletin must
read the same online as from its data directory); a data directory's comes from its carbonx.db.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from carbonx.cli import main
from engine.messages import EndOfDay, NewOrder, OrderType, Session, SetSession, Side
from gateway.client import MemberClient
from tests.conftest import Market
from tests.node_process import REPO, NodeProcess, make_config
from tests.test_market_data_subscriber import Node, trade

pytestmark = pytest.mark.not_per_book  # the bulletin is the engine's figures; either book makes them alike

CONFIG = REPO / "config"


@pytest.fixture(autouse=True)
def logs() -> Iterator[None]:
    with capture_logs():
        yield


@pytest.fixture
def node(market: Market) -> Iterator[Node]:
    running = Node(market)
    yield running
    running.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def online(node: Node, *argv: str) -> list[str]:
    return ["bulletin", *argv, "--endpoint", node.endpoint, "--snapshot-endpoint", node.snapshot_endpoint]


def one_line_error(result: tuple[int, str, str], *fragments: str) -> None:
    status, out, err = result
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("carbonx bulletin: error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


def end_the_day(node: Node) -> None:
    """Two trades of SHEA2025 (10 t at 80.12, 30 t at 80.30: the close, their VWAP, 80.255 -> 80.26) and
    one of CCER, then the end of day."""

    def day(market: Market) -> None:
        trade(market, 10, 8012)
        trade(market, 30, 8030)
        market.sell("A1", 5, 8400, instrument="CCER")
        market.buy("A2", 5, 8400, instrument="CCER")
        market.close_day()

    node.act(day)


def test_the_bulletin_of_a_node_as_a_table(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    end_the_day(node)
    status, out, err = run(capsys, *online(node))
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        f"Daily bulletin, trading day 2026-11-23, from the node at {node.snapshot_endpoint}",
        "prices CNY/t, volume t, turnover CNY",
        "instrument  reference   open   high    low  close  change  volume t  turnover",
        "CCER            85.00  84.00  84.00  84.00  84.00  -1.18%         5    420.00",
        "SHEA2025        80.00  80.12  80.30  80.12  80.26  +0.33%        40  3,210.20",
        "T5              77.75      -      -      -  77.75   0.00%         0      0.00",
        "reference: the previous close; change: the close against it, in percent",
        "the change in CNY, the last trade's price, VWAP and trades: --format csv or json",
    ]


def test_the_bulletin_of_a_node_as_csv_and_json(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    end_the_day(node)
    status, out, _ = run(capsys, *online(node, "--format", "csv", "--date", "2026-11-23"))
    assert status == 0
    assert out.splitlines()[:3] == [
        "trading_day,instrument,reference_price_fen_per_t,open_fen_per_t,high_fen_per_t,low_fen_per_t,"
        "last_fen_per_t,close_fen_per_t,vwap_fen_per_t,change_fen_per_t,change_bp,volume_t,turnover_fen,trades,"
        "bulk_volume_t,bulk_turnover_fen,bulk_trades",
        "2026-11-23,CCER,8500,8400,8400,8400,8400,8400,8400,-100,-118,5,42000,1,0,0,0",
        "2026-11-23,SHEA2025,8000,8012,8030,8012,8030,8026,8026,26,33,40,321020,2,0,0,0",
    ]
    status, out, _ = run(capsys, *online(node, "--format", "json"))
    document = json.loads(out)
    assert status == 0 and document["trading_day"] == "2026-11-23"
    assert document["source"] == f"the node at {node.snapshot_endpoint}"
    assert document["instruments"][1] == {
        "instrument": "SHEA2025",
        "reference_price": 8000,
        "open": 8012,
        "high": 8030,
        "low": 8012,
        "last": 8030,
        "close": 8026,
        "vwap": 8026,
        "change": 26,
        "change_bp": 33,
        "volume": 40,
        "turnover": 321020,
        "trades": 2,
        "bulk_volume": 0,
        "bulk_turnover": 0,
        "bulk_trades": 0,
    }


def test_a_node_holds_only_its_latest_bulletin_and_says_where_the_others_are(
    node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    one_line_error(run(capsys, *online(node)), "holds no bulletin yet", "end of the trading day", "--data-dir DIR")
    end_the_day(node)
    one_line_error(
        run(capsys, *online(node, "--date", "2026-11-20")),
        "holds the bulletin of 2026-11-23 only, not of 2026-11-20",
        "--data-dir DIR",
    )


def test_no_node_is_one_line(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    node.answering.clear()
    status, out, err = run(capsys, *online(node, "--timeout-ms", "150"))
    assert (status, out) == (2, "")
    assert err == (
        f"carbonx bulletin: error: no answer from {node.snapshot_endpoint} within 150 ms"
        " (is carbonx serve running there?)\n"
    )


# ------------------------------------------------------------------------------------ a data directory


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with one recorded end of day: a seeded simulated trading day, 2026-11-23."""
    data_dir = tmp_path_factory.mktemp("bulletin") / "var"
    argv = ["simulate", "--config", str(CONFIG), "--data-dir", str(data_dir), "--orders", "400", "--date", "2026-11-23"]
    assert main(argv) == 0
    return data_dir


def test_the_bulletin_of_a_data_directory(simulated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    status, out, err = run(capsys, "bulletin", "--data-dir", str(simulated))
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"Daily bulletin, trading day 2026-11-23, from {simulated / 'carbonx.db'}"
    assert [line.split()[0] for line in lines[3:7]] == ["CCER", "SHCER", "SHEA2024", "SHEA2025"]
    assert max(map(len, lines[1:])) <= 80  # (the first names the database's path)
    status, dated, _ = run(capsys, "bulletin", "--data-dir", str(simulated), "--date", "20261123")
    assert (status, dated) == (0, out)


def test_the_bulletin_reads_as_in_the_end_of_day_report(simulated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    bulletin = run(capsys, "bulletin", "--data-dir", str(simulated))
    report = run(capsys, "eod", "report", "--data-dir", str(simulated))

    assert bulletin[0] == report[0] == 0
    compact = [line.split() for line in bulletin[1].splitlines()[2:7]]  # the header and four instruments
    full = [
        line.split()
        for line in report[1].split("Daily bulletin (prices CNY/t, volume t, turnover CNY)\n")[1].splitlines()[:5]
    ]
    # The report is the whole record: it adds the last price, the VWAP and the number of trades.
    assert [row[:5] + row[6:7] + row[8:11] for row in full[1:]] == compact[1:]
    assert " ".join(compact[0]) == "instrument reference open high low close change volume t turnover"
    assert full[0][5:8] == ["last", "close", "vwap"] and full[0][-1] == "trades"


def test_a_day_the_data_directory_does_not_have_is_one_line(
    simulated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    one_line_error(
        run(capsys, "bulletin", "--data-dir", str(simulated), "--date", "2026-11-24"),
        "no end of day recorded for 2026-11-24; available: 2026-11-23",
    )
    one_line_error(run(capsys, "bulletin", "--data-dir", str(tmp_path)), "holds no journal")
    with pytest.raises(SystemExit) as exit_info:  # argparse's usage line, then the error
        main(["bulletin", "--data-dir", str(tmp_path), "--date", "2026-02-30"])
    assert exit_info.value.code == 2 and "not a date YYYY-MM-DD or YYYYMMDD: '2026-02-30'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ a real node


@pytest.mark.e2e
def test_a_real_nodes_bulletin_reads_the_same_online_and_from_its_data_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = NodeProcess(make_config(tmp_path), tmp_path / "var").start()
    try:
        day = int(
            next(line for line in node.banner if "trading day" in line).split("trading day ")[1][:10].replace("-", "")
        )
        with (
            MemberClient.from_keys(node.order_entry, "M002", node.keys_dir, timeout_ms=5_000) as seller,
            MemberClient.from_keys(node.order_entry, "M001", node.keys_dir, timeout_ms=5_000) as buyer,
            MemberClient.from_keys(node.order_entry, "REGULATOR", node.keys_dir, timeout_ms=5_000) as regulator,
        ):
            for client, account, side in ((seller, "A002", Side.SELL), (buyer, "A001", Side.BUY)):
                order = NewOrder(
                    account=account,
                    instrument="SHEA2025",
                    client_order_id=f"bulletin-{account}",
                    side=side,
                    order_type=OrderType.LIMIT,
                    quantity=120,
                    price=8050,
                )
                assert client.submit(order).events
            for session in (Session.LUNCH_BREAK, Session.AFTERNOON, Session.CLOSED):
                regulator.submit(SetSession(session=session))
            regulator.submit(EndOfDay(trading_day=day))
        feed = ["--endpoint", node.endpoints["market data"], "--snapshot-endpoint", node.endpoints["snapshot"]]
        from_node = run(capsys, "bulletin", "--format", "csv", "--config", str(node.config), *feed)
        from_disk = run(capsys, "bulletin", "--format", "csv", "--data-dir", str(node.data_dir))
        assert node.stop() == 0
        node.start()  # a restarted node holds the bulletin it held before
        feed = ["--endpoint", node.endpoints["market data"], "--snapshot-endpoint", node.endpoints["snapshot"]]
        after_restart = run(capsys, "bulletin", "--format", "csv", "--config", str(node.config), *feed)
    finally:
        node.close()
    assert from_node[0] == from_disk[0] == after_restart[0] == 0
    assert from_node[1] == from_disk[1] == after_restart[1]
    shea = next(row for row in from_node[1].splitlines() if ",SHEA2025," in row).split(",")
    # reference, open, high, low, last, close, vwap, change, change_bp, volume, turnover, trades, bulk (none)
    assert shea[1:] == ["SHEA2025", "8000", *["8050"] * 6, "50", "63", "120", "966000", "1", "0", "0", "0"]
    assert shea[0] == f"{day // 10000}-{day // 100 % 100:02d}-{day % 100:02d}"  # the day the node opened
