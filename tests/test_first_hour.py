"""The README's "first hour", in its order, against a real demo node (issue 13, "Done when"):
trade as two members and see both sides' fills; close the demo day as the regulator; read the
statement and the bulletin; watch all instruments on one 80x24 screen.

Each step is the README's command, with the test node's config and data directory added (the
node listens on free ports, not the defaults). tests/test_readme_commands.py checks that the
README's lines are commands carbonx takes; this one checks what they do.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from carbonx.cli import main
from tests.node_process import NodeProcess, make_config

pytestmark = [pytest.mark.e2e, pytest.mark.not_per_book]

INSTRUMENTS = ("SHEA2024", "SHEA2025", "CCER", "SHCER")


@pytest.fixture
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    root = tmp_path_factory.mktemp("first-hour")
    process = NodeProcess(make_config(root), root / "var").start()
    yield process
    assert process.stop() == 0, process.stderr()


def test_the_first_hour_of_members_subscribers_and_the_regulator(
    node: NodeProcess, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def carbonx(*argv: str) -> tuple[int, str]:
        status = main(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return status, out

    # The test node's config binds free ports: each command is told where they are.
    config = ("--config", str(node.config))
    feed = ("--endpoint", node.endpoints["market data"], "--snapshot-endpoint", node.endpoints["snapshot"])
    on_node = (*config, "--gateway", node.order_entry)
    as_regulator = (*on_node, *feed)  # the regulator reads the market data as quotes does

    # Member firms: M002 sells, M001 buys from it; each sees its own side of the trade.
    sold = carbonx("order", "new", "--member", "M002", "sell", "SHEA2025", "100", "80.00", "--wait", "0", *on_node)
    bought = carbonx("order", "new", "--member", "M001", "buy", "SHEA2025", "100", "80.00", *on_node)
    seller_fills = carbonx("fills", "--member", "M002", *on_node)
    buyer_fills = carbonx("fills", "--member", "M001", *on_node)
    buyer_orders = carbonx("order", "list", "--member", "M001", "--all", *on_node)

    assert sold[0] == 0 and "accepted order" in sold[1]
    assert bought[0] == 0 and "bought 100 t SHEA2025 @ 80.00, fee 12.00 CNY, taker" in bought[1]
    assert seller_fills[0] == 0
    assert seller_fills[1].splitlines()[2].split()[3:] == ["A002", "sell", "SHEA2025", "80.00", "100", "12.00", "maker"]
    assert "M001" not in seller_fills[1] and "A001" not in seller_fills[1]  # the counterparty is never named
    assert buyer_fills[1].splitlines()[2].split()[3:] == ["A001", "buy", "SHEA2025", "80.00", "100", "12.00", "taker"]
    assert "M002" not in buyer_fills[1] and "A002" not in buyer_fills[1]
    assert buyer_orders[0] == 0 and "filled" in buyer_orders[1]

    # The regulator closes the demo day: end of day is refused while a session is open, in one line.
    too_soon = carbonx("regulator", "end-of-day", *as_regulator)
    closed = carbonx("regulator", "session", "close", *as_regulator)
    ended = carbonx("regulator", "end-of-day", *as_regulator)

    assert too_soon[0] == 1 and len(too_soon[1].splitlines()) == 1 and "SESSION_OPEN" in too_soon[1]
    assert closed[0] == 0 and "session CLOSED" in closed[1]
    assert ended[0] == 0 and "ended" in ended[1]
    day = ended[1].split("see: carbonx eod report --date ")[1].split()[0]

    # The statement and the bulletin of the day just closed.
    report = carbonx("eod", "report", "--data-dir", str(node.data_dir))
    statement = carbonx("eod", "report", "--data-dir", str(node.data_dir), "--account", "A002")
    bulletin = carbonx("bulletin", *config, *feed)

    assert report[0] == 0
    assert report[1].splitlines()[0] == f"carbonx eod report: trading day {day} (the latest recorded)"
    assert statement[0] == 0
    trade_line = next(line for line in statement[1].splitlines() if line.split()[:3] == ["1", "SHEA2025", "sell"])
    assert trade_line.split()[3:] == ["100", "80.00", "8,000.00", "12.00"]
    assert bulletin[0] == 0 and f"trading day {day}" in bulletin[1]
    shea = next(line for line in bulletin[1].splitlines() if line.startswith("SHEA2025"))
    assert shea.split()[5] == "80.00" and shea.split()[-2:] == ["100", "8,000.00"]  # close, volume, turnover

    # A new day, and every instrument on one 80x24 screen.
    assert carbonx("regulator", "start-of-day", *as_regulator)[0] == 0
    assert carbonx("regulator", "session", "morning", *as_regulator)[0] == 0
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    status, screen = carbonx("quotes", "--once", *config, *feed)

    lines = screen.splitlines()
    assert status == 0 and len(lines) <= 24 and max(len(line) for line in lines) <= 80
    assert [line.split()[0] for line in lines if line.split()[0] in INSTRUMENTS] == list(INSTRUMENTS)
    shea_row = next(line for line in lines if line.startswith("SHEA2025")).split()
    assert shea_row[-1] == "trading" and "STALE" not in screen
