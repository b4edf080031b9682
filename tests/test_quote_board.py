"""The quote board: exact lines for a known state, integer percent, and `carbonx quotes`.

The table of every instrument, STALE and colour have their tests in tests/test_cli_quotes.py."""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from carbonx.cli import quotes_cmd
from carbonx.errors import CarbonxError
from engine.messages import HaltMarket, Session, Side
from engine.prices import band_limits
from market_data.board import percent_change, render, yuan
from market_data.messages import Depth, InstrumentStatus, Level, MarketStatus, Quote, Trade
from tests.conftest import Market
from tests.test_market_data_subscriber import Node, trade

CONFIG = Path(__file__).resolve().parent.parent / "config"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def exchange_time(hour: int, minute: int, second: int) -> int:
    """ns UTC of a time of DAY1 (2026-11-23) in Shanghai, as the sequencer stamps it."""
    return int(dt.datetime(2026, 11, 23, hour, minute, second, tzinfo=SHANGHAI).timestamp()) * 1_000_000_000


class State:
    """A subscriber's state, fixed by hand (the board reads nothing else)."""

    def __init__(self, market: MarketStatus | None = None) -> None:
        self.quotes: dict[str, Quote] = {}
        self.depths: dict[str, Depth] = {}
        self.statuses: dict[str, InstrumentStatus] = {}
        self.trade_lists: dict[str, list[Trade]] = {}
        self.market = market

    def quote(self, instrument: str) -> Quote | None:
        return self.quotes.get(instrument)

    def depth(self, instrument: str) -> Depth | None:
        return self.depths.get(instrument)

    def status(self, instrument: str) -> InstrumentStatus | None:
        return self.statuses.get(instrument)

    def market_status(self) -> MarketStatus | None:
        return self.market

    def trades(self, instrument: str) -> list[Trade]:
        return self.trade_lists.get(instrument, [])


def make_quote(instrument: str, reference: int, last: int = 0, ts: int = 0, **figures: int) -> Quote:
    fields = dict.fromkeys(("open", "high", "low", "volume", "turnover", "trades", "bid", "bid_quantity"), 0)
    limit_down, limit_up = band_limits(reference, 1000, 1)  # ±10%, a 0.01 tick: the engine's rule
    fields.update(ask=0, ask_quantity=0, limit_up=limit_up, limit_down=limit_down)
    fields.update(figures)
    change = last - reference if fields["trades"] else 0
    return Quote(
        epoch=1, seq=1, ts=ts, instrument=instrument, reference_price=reference, last=last, change=change, **fields
    )


def make_trade(seq: int, ts: int, price: int, quantity: int, aggressor: Side = Side.BUY) -> Trade:
    return Trade(
        epoch=1,
        seq=seq,
        ts=ts,
        instrument="SHEA2025",
        trade_id=seq,
        price=price,
        quantity=quantity,
        aggressor=aggressor,
    )


def morning(halted: bool = False, reason: str = "") -> MarketStatus:
    return MarketStatus(
        epoch=1, seq=1, ts=1, trading_day=20261123, session=Session.MORNING, halted=halted, reason=reason, day_open=True
    )


def known_state() -> State:
    state = State(morning())
    state.quotes["SHEA2025"] = make_quote(
        "SHEA2025",
        8000,
        8012,
        ts=exchange_time(10, 31, 2),
        open=8000,
        high=8020,
        low=7990,
        volume=1200,
        turnover=9_614_400,
        trades=3,
    )
    state.trade_lists["SHEA2025"] = [
        make_trade(1, exchange_time(9, 30, 5), 8000, 500),
        make_trade(2, exchange_time(9, 41, 0), 8020, 400),
        make_trade(3, exchange_time(10, 31, 2), 7990, 300, Side.SELL),
    ]
    state.depths["SHEA2025"] = Depth(
        epoch=1,
        seq=1,
        ts=exchange_time(10, 31, 7),  # an order that did not trade: the depth is newer than the quote
        instrument="SHEA2025",
        bids=[Level(8010, 200, 1), Level(8000, 1050, 12)],
        asks=[Level(8020, 300, 2), Level(8030, 100, 1), Level(8050, 99_999, 3)],
    )
    state.quotes["CCER"] = make_quote("CCER", 8500)
    state.statuses["CCER"] = InstrumentStatus(
        epoch=1, seq=1, ts=exchange_time(9, 0, 0), instrument="CCER", halted=True, reason="technical"
    )
    return state


def test_board_lines_for_a_known_state() -> None:
    assert render(known_state(), ["SHEA2025", "CCER", "T5"], 80) == [
        "SHEA2025  80.12  +0.12 (+0.15%)  updated 10:31:07",
        "  reference 80.00  open 80.00  high 80.20  low 79.90",
        "  limit up 88.00  limit down 72.00",
        "  volume 1,200 t  turnover 96,144.00  trades 3",
        "             price   quantity t  orders",
        "  ask 5          —",
        "  ask 4          —",
        "  ask 3      80.50       99,999       3",
        "  ask 2      80.30          100       1",
        "  ask 1      80.20          300       2",
        "  bid 1      80.10          200       1",
        "  bid 2      80.00        1,050      12",
        "  bid 3          —",
        "  bid 4          —",
        "  bid 5          —",
        "  time       price   quantity t  aggressor",
        "  10:31:02   79.90          300  sell",
        "  09:41:00   80.20          400  buy",
        "  09:30:05   80.00          500  buy",
        "  status  day 2026-11-23 MORNING · trading",
        "",
        "CCER  —  no trade today  updated 09:00:00",  # the halt is the newest change
        "  reference 85.00  open —  high —  low —",
        "  limit up 93.50  limit down 76.50",
        "  volume 0 t  turnover 0.00  trades 0",
        "             price   quantity t  orders",
        *(f"  ask {n}          —" for n in (5, 4, 3, 2, 1)),
        *(f"  bid {n}          —" for n in (1, 2, 3, 4, 5)),
        "  status  day 2026-11-23 MORNING · HALTED (technical)",
        "",
        "T5  no data yet",
    ]


def test_board_shows_a_fall_a_market_halt_and_a_closed_day() -> None:
    state = State(morning(halted=True, reason="drill"))
    state.quotes["SHEA2025"] = make_quote("SHEA2025", 8000, 7900, trades=1, volume=10, turnover=79_000)
    lines = render(state, ["SHEA2025"], 80)
    assert lines[0] == "SHEA2025  79.00  -1.00 (-1.25%)  updated —"
    # A trade of today that the node no longer holds (it restarted after it): said, not invented.
    assert "  last trades: not held (the node restarted after them)" in lines
    assert lines[-1] == "  status  day 2026-11-23 MORNING · MARKET HALTED (drill)"
    state.market = MarketStatus(
        epoch=1, seq=2, ts=2, trading_day=20261123, session=Session.CLOSED, halted=False, reason="", day_open=False
    )
    assert render(state, ["SHEA2025"], 80)[-1] == "  status  day 2026-11-23 closed"
    state.market = None
    assert render(state, ["SHEA2025"], 80)[-1] == "  status  session unknown"


def test_board_lines_never_exceed_the_width() -> None:
    lines = render(known_state(), ["SHEA2025"], 20)
    assert max(len(line) for line in lines) == 20
    assert lines[0] == "SHEA2025  80.12  +0."


def test_one_instrument_fits_an_80_by_24_terminal_with_the_days_last_five_trades() -> None:
    state = known_state()
    state.trade_lists["SHEA2025"] = [make_trade(n, exchange_time(10, n, 0), 8000 + n, 10 * n) for n in range(1, 9)]
    state.quotes["SHEA2025"] = make_quote("SHEA2025", 8000, 8008, trades=8, volume=360, turnover=2_880_000)
    lines = render(state, ["SHEA2025"], 80)
    assert len(lines) <= 24 and max(map(len, lines)) <= 80
    header = lines.index("  time       price   quantity t  aggressor")
    assert lines[header + 1 : header + 6] == [  # newest first
        "  10:08:00   80.08           80  buy",
        "  10:07:00   80.07           70  buy",
        "  10:06:00   80.06           60  buy",
        "  10:05:00   80.05           50  buy",
        "  10:04:00   80.04           40  buy",
    ]
    assert lines[header + 6].startswith("  status")


def test_the_board_says_stale() -> None:
    lines = render(known_state(), ["SHEA2025", "T5"], 80, stale=True)
    assert lines[0] == "SHEA2025  80.12  +0.12 (+0.15%)  updated 10:31:07  STALE"
    assert lines[-1] == "T5  no data yet  STALE"


@pytest.mark.parametrize(
    ("change", "reference", "text"),
    [
        (12, 8000, "+0.15%"),
        (-12, 8000, "-0.15%"),
        (0, 8000, "0.00%"),
        (4, 8000, "+0.05%"),  # 0.05% exactly
        (1, 8000, "+0.01%"),  # 0.0125% -> 0.01
        (3, 8000, "+0.04%"),  # 0.0375% -> 0.04
        (1, 20000, "+0.01%"),  # 0.005% exactly: half away from zero
        (-1, 20000, "-0.01%"),
        (-1, 30000, "0.00%"),  # rounds to zero: no sign
        (800, 8000, "+10.00%"),
        (1, 3, "+33.33%"),
        (2, 3, "+66.67%"),
    ],
)
def test_percent_change_is_integer_arithmetic_rounded_half_away_from_zero(
    change: int, reference: int, text: str
) -> None:
    assert percent_change(change, reference) == text


def test_yuan_from_fen() -> None:
    assert [yuan(f) for f in (0, 5, 8012, 9_614_400, -150)] == ["0.00", "0.05", "80.12", "96,144.00", "-1.50"]


# ---------------------------------------------------------------------------------- carbonx quotes


def quotes_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="carbonx")
    quotes_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["quotes", *argv])


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[dict[str, object]]]:
    """The SDK's log lines, captured: never written to a stream an earlier test may have closed."""
    with capture_logs() as entries:
        yield entries


@pytest.fixture
def node(market: Market) -> Iterator[Node]:
    running = Node(market)
    yield running
    running.close()


@pytest.mark.per_book
def test_quotes_once_prints_the_board(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    node.act(lambda m: (m.buy("A3", 70, 7990), trade(m, 10, 8012), m.send(HaltMarket(reason="drill"))))
    args = quotes_args("SHEA2025", "--endpoint", node.endpoint, "--snapshot-endpoint", node.snapshot_endpoint, "--once")
    assert args.run(args) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    # The test market's clock counts ns from the epoch: 08:00:00 in Shanghai.
    assert lines[0] == "SHEA2025  80.12  +0.12 (+0.15%)  updated 08:00:00"
    assert "  limit up 88.00  limit down 72.00" in lines
    assert "  bid 1      79.90           70       1" in lines
    assert lines[-3:] == [
        "  time       price   quantity t  aggressor",
        "  08:00:00   80.12           10  buy",
        "  status  day 2026-11-23 MORNING · MARKET HALTED (drill)",
    ]
    assert err == ""


def test_quotes_once_shows_every_instrument_in_a_table_by_default(
    node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    args = quotes_args("--endpoint", node.endpoint, "--snapshot-endpoint", node.snapshot_endpoint, "--once")
    assert args.run(args) == 0
    assert capsys.readouterr().out.splitlines() == [
        "day 2026-11-23 MORNING · trading · updated —",
        "code      last  change  bid  ask  volume t  turnover  status",
        "SHEA2025     —       —    —    —         0      0.00  trading",
        "CCER         —       —    —    —         0      0.00  trading",
        "T5           —       —    —    —         0      0.00  trading",
    ]


def test_quotes_unknown_instrument_lists_the_known_ones(node: Node) -> None:
    args = quotes_args("NOPE", "--endpoint", node.endpoint, "--snapshot-endpoint", node.snapshot_endpoint, "--once")
    with pytest.raises(CarbonxError, match=r"^unknown instrument NOPE; known: SHEA2025, CCER, T5$"):
        args.run(args)


def test_quotes_without_a_node_says_so_in_one_line(
    node: Node, capsys: pytest.CaptureFixture[str], logs: list[dict[str, object]]
) -> None:
    node.answering.clear()
    args = quotes_args(
        "--endpoint", node.endpoint, "--snapshot-endpoint", node.snapshot_endpoint, "--once", "--timeout-ms", "150"
    )
    with pytest.raises(CarbonxError) as refused:
        args.run(args)
    assert str(refused.value) == (
        f"no answer from {node.snapshot_endpoint} within 150 ms (is carbonx serve running there?)"
    )
    # The CLI writes JSON log lines at warning and above: the SDK's timeout note stays below that.
    assert [entry for entry in logs if entry["log_level"] != "info"] == []
    assert capsys.readouterr().out == ""


def test_quotes_endpoints_default_from_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    node_toml = config / "node.toml"
    text = node_toml.read_text()
    text = text.replace('endpoint = "tcp://127.0.0.1:7002"', 'endpoint = "tcp://127.0.0.1:2"')
    text = text.replace('snapshot_endpoint = "tcp://127.0.0.1:7003"', 'snapshot_endpoint = "tcp://127.0.0.1:1"')
    node_toml.write_text(text)
    args = quotes_args("--config", str(config), "--once", "--timeout-ms", "100")
    with pytest.raises(CarbonxError, match=r"^no answer from tcp://127\.0\.0\.1:1 within 100 ms"):
        args.run(args)
    args = quotes_args("--config", str(tmp_path / "no-such-directory"), "--once")
    with pytest.raises(CarbonxError):
        args.run(args)
