"""`carbonx quotes`: the table of every instrument (80×24, pages), STALE, colour.

The table and the staleness rule are pure and tested on a state fixed by hand; the command runs
against the in-process node of tests/test_market_data_subscriber.py (the real publisher, snapshot
service and heartbeats over TCP) and, where a process matters (a node that goes away), against a
real node. Time is injected, never waited for: ``quotes_cmd.clock`` is the clock STALE is judged
by; the one real wait is for a killed node's board to say STALE, bounded by a deadline.
"""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from carbonx.cli import main, quotes_cmd
from carbonx.cli.feed import Feed
from carbonx.cli.quotes_cmd import Screen
from carbonx.config import load_config
from engine.config import Instrument
from market_data.board import EXCHANGE_TZ
from market_data.messages import InstrumentStatus
from market_data.overview import overview
from market_data.subscriber import Subscriber
from market_data.terminal import Paint, clip, visible_width
from tests.conftest import Market, assert_balanced, funded_market, market_config
from tests.node_process import REPO, NodeProcess, make_config
from tests.test_market_data_subscriber import HEARTBEAT_MS, Node, joined, subscriber, trade
from tests.test_quote_board import State, make_quote, morning

pytestmark = pytest.mark.not_per_book  # market data shows what the engine did; either book does it alike

CONFIG = REPO / "config"
RED, GREEN, RESET = "\x1b[31m", "\x1b[32m", "\x1b[0m"


@pytest.fixture(autouse=True)
def logs() -> Iterator[None]:
    """The SDK's log lines, captured: never written to a stream an earlier test may have closed."""
    with capture_logs():
        yield


@pytest.fixture
def node(market: Market) -> Iterator[Node]:
    running = Node(market)
    yield running
    running.close()


def endpoints(node: Node) -> list[str]:
    return ["--endpoint", node.endpoint, "--snapshot-endpoint", node.snapshot_endpoint]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# ---------------------------------------------------------------------------------------- the table


def test_the_table_lines_for_a_known_state() -> None:
    state = State(morning())
    state.quotes["SHEA2025"] = make_quote(
        "SHEA2025", 8000, 8012, ts=1, trades=3, volume=1200, turnover=9_614_400, bid=8010, ask=8020
    )
    state.quotes["CCER"] = make_quote("CCER", 8500, 8400, trades=1, volume=10, turnover=84_000, bid=8390)
    state.quotes["T5"] = make_quote("T5", 7775)
    state.statuses["T5"] = InstrumentStatus(epoch=1, seq=1, ts=0, instrument="T5", halted=True, reason="drill")
    assert overview(state, ["SHEA2025", "CCER", "T5", "NEW"]) == [
        "day 2026-11-23 MORNING · trading · updated 08:00:00",
        "code       last  change    bid    ask  volume t   turnover  status",
        "SHEA2025  80.12  +0.15%  80.10  80.20     1,200  96,144.00  trading",
        "CCER      84.00  -1.18%  83.90      —        10     840.00  trading",
        "T5            —       —      —      —         0       0.00  HALTED",
        "NEW           —       —      —      —         —          —  no data",
    ]


def big_day(codes: list[str]) -> State:
    """Every instrument at its limit up above 1,000 CNY/t, on a day with five years' volume (10 Mt)."""
    state = State(morning())
    for code in codes:
        state.quotes[code] = make_quote(
            code,
            99_999,
            109_998,
            trades=99_999,
            volume=9_999_999,
            turnover=109_998 * 9_999_999,
            bid=109_998,
            ask=109_998,
        )
    return state


def test_the_table_of_the_default_instruments_fits_80_by_24_on_a_record_day() -> None:
    codes = [instrument.code for instrument in load_config(CONFIG).exchange.instruments]
    lines = overview(big_day(codes), codes, width=80, height=24)
    assert len(lines) == 2 + len(codes) <= 24
    assert max(map(len, lines)) <= 80
    assert [line.split()[0] for line in lines[2:]] == codes
    assert lines[2] == "SHEA2024 1,099.98 +10.00% 1,099.98 1,099.98 9,999,999 10,999,798,900.02 trading"


def test_more_instruments_than_fit_are_shown_a_page_at_a_time_and_counted() -> None:
    codes = [f"I{n:02d}" for n in range(1, 41)]
    state = big_day(codes)
    first = overview(state, codes, width=80, height=24)
    assert len(first) == 24 and max(map(len, first)) <= 80
    assert [line.split()[0] for line in first[2:-1]] == codes[:21]
    assert first[-1] == "page 1/2: 1-21 of 40; 19 not shown (--page N, or carbonx quotes CODE)"
    second = overview(state, codes, width=80, height=24, page=2)
    assert [line.split()[0] for line in second[2:-1]] == codes[21:]
    assert second[-1] == "page 2/2: 22-40 of 40; 21 not shown (--page N, or carbonx quotes CODE)"
    assert overview(state, codes, width=80, height=24, page=9) == second  # beyond the last: the last
    assert len(overview(state, codes, width=80)) == 42  # no height (not a terminal): every instrument


def test_a_narrow_terminal_gets_single_spaces_then_cut_lines() -> None:
    state = big_day(["SHEA2025"])
    wide, fitting, narrow = (overview(state, ["SHEA2025"], width=width) for width in (100, 80, 72))
    assert "  " in wide[2] and "  " not in fitting[2] and len(fitting[2]) == 79
    assert max(map(len, narrow)) <= 72
    assert narrow[2] == fitting[2][:72].rstrip()


# ---------------------------------------------------------------------------------------------- STALE


def test_stale_is_three_heartbeat_intervals_without_a_word_from_the_feed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("market_data.subscriber.time.monotonic", lambda: 5.0)  # listening begins at 5.0
    nowhere = "tcp://127.0.0.1:9"
    with Subscriber(nowhere, nowhere, channels=("status",)) as sub:
        configured = Screen(sub, [], Feed(nowhere, nowhere, 1000, EXCHANGE_TZ), None, colour=False)
        unknown = Screen(sub, [], Feed(nowhere, nowhere, 0, EXCHANGE_TZ), None, colour=False)
        # Nothing heard yet: counted from when listening began, by node.toml's interval.
        assert configured.stale_at() == sub.silent_at(1000) == 8.0
        assert not configured.stale(7.999) and configured.stale(8.0)
        # A feed of unknown rhythm (no interval told or configured) is never called stale.
        assert unknown.stale_at() is None and not unknown.stale(1e9)
        sub.heartbeat_ms = 200  # as the feed's heartbeats tell it: it wins over the config's
        assert configured.stale_at() == unknown.stale_at() == pytest.approx(5.6)
        assert not configured.stale(5.599) and configured.stale(5.6)


def test_the_subscriber_notes_when_each_heartbeat_came(node: Node) -> None:
    with subscriber(node) as sub:
        none_yet = sub.last_heartbeat_at
        before = time.monotonic()
        joined(sub)  # until a heartbeat came
        heard = sub.last_heartbeat_at
        assert none_yet is None
        assert sub.heartbeat_ms == HEARTBEAT_MS
        assert heard is not None and before <= heard <= time.monotonic()


def test_quotes_says_stale_once_the_clock_passes_three_intervals_without_a_heartbeat(
    node: Node, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    node.act(lambda m: trade(m, 10, 8012))
    start = time.monotonic()
    monkeypatch.setattr(quotes_cmd, "clock", lambda: start)  # before the subscriber even connects: fresh
    argv = ["quotes", "--once", "--config", str(CONFIG), *endpoints(node)]
    status, fresh, _ = run(capsys, *argv)
    board_status, board_fresh, _ = run(capsys, *argv[:1], "SHEA2025", *argv[1:])
    assert (status, board_status) == (0, 0)
    assert "STALE" not in fresh + board_fresh

    # An hour later by the clock: whichever interval applies (the feed's 20 ms, or node.toml's 1,000
    # ms until a heartbeat tells it), nothing came within three of them.
    monkeypatch.setattr(quotes_cmd, "clock", lambda: start + 3600)
    status, stale, _ = run(capsys, *argv)
    assert status == 0 and stale.splitlines()[0].endswith(" · STALE")
    status, board, _ = run(capsys, *argv[:1], "SHEA2025", *argv[1:])
    assert status == 0 and board.splitlines()[0].startswith("SHEA2025  80.12  +0.12 (+0.15%)  updated ")
    assert board.splitlines()[0].endswith("  STALE")


def read_until(process: subprocess.Popen[bytes], text: str, timeout: float = 20.0) -> str:
    """The process's stdout until ``text`` appeared, read as it comes; fails after ``timeout`` s."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = b""
    fd = process.stdout.fileno()
    while text.encode() not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 65536) if ready else b""
        assert chunk, f"no {text!r} within {timeout} s; got {seen.decode()[-2000:]!r}"
        seen += chunk
    return seen.decode()


@pytest.mark.e2e
def test_the_live_board_and_table_say_stale_when_the_node_is_gone(tmp_path: Path) -> None:
    node = NodeProcess(make_config(tmp_path), tmp_path / "var").start()  # heartbeats every 200 ms
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    feed = ["--endpoint", node.endpoints["market data"], "--snapshot-endpoint", node.endpoints["snapshot"]]
    common = [sys.executable, "-m", "carbonx", "quotes", "--config", str(node.config), *feed]
    viewers = [
        subprocess.Popen([*common, *codes], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for codes in ([], ["SHEA2025"])
    ]
    try:
        table, board = (read_until(viewer, "\n\n") for viewer in viewers)  # each draw ends with a blank line
        assert table.startswith("day ") and "STALE" not in table
        assert board.startswith("SHEA2025  ") and "limit up 88.00  limit down 72.00" in board
        assert "STALE" not in board

        node.kill()
        for viewer, first_word in zip(viewers, ("day", "SHEA2025"), strict=True):
            lines = read_until(viewer, "STALE").splitlines()  # about 3 × 200 ms after the last heartbeat
            stale = next(n for n, line in enumerate(lines) if "STALE" in line)
            assert (lines[stale - 1] if stale else "") == ""  # the first line of a new draw
            assert lines[stale].split()[0] == first_word
            viewer.send_signal(signal.SIGINT)
            assert viewer.wait(10) == 0
    finally:
        for viewer in viewers:
            if viewer.poll() is None:
                viewer.kill()
                viewer.wait(10)
        node.close()


# --------------------------------------------------------------------------------------------- colour


class Stream(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.mark.parametrize(
    ("choice", "terminal", "environ", "wanted"),
    [
        ("auto", True, {"TERM": "xterm-256color"}, True),
        ("auto", True, {"TERM": "xterm-256color", "NO_COLOR": "1"}, False),
        ("auto", True, {"TERM": "xterm-256color", "NO_COLOR": ""}, True),  # no-color.org: empty does not count
        ("auto", True, {"TERM": "dumb"}, False),
        ("auto", False, {"TERM": "xterm-256color"}, False),
        ("always", False, {"NO_COLOR": "1"}, True),
        ("never", True, {"TERM": "xterm-256color"}, False),
    ],
)
def test_colour_is_for_terminals_that_take_it(
    monkeypatch: pytest.MonkeyPatch, choice: str, terminal: bool, environ: dict[str, str], wanted: bool
) -> None:
    for name in ("TERM", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert quotes_cmd.colour_wanted(choice, Stream(terminal)) is wanted


def test_clip_counts_only_what_a_terminal_shows() -> None:
    paint = Paint(True)
    line = f"{paint('80.12', 'rise')}  {paint('-1.18%', 'fall')}   "
    assert visible_width(line) == 16
    assert clip(line, 80) == f"{RED}80.12{RESET}  {GREEN}-1.18%{RESET}"
    assert clip(line, 9) == f"{RED}80.12{RESET}  {GREEN}-1{RESET}"
    assert Paint(False)("80.12", "rise") == "80.12"


def rising_and_falling(node: Node) -> None:
    """SHEA2025 trades above its reference price (80.00), CCER below its own (85.00)."""

    def trades(market: Market) -> None:
        trade(market, 10, 8012)
        market.sell("A1", 10, 8400, instrument="CCER")
        market.buy("A2", 10, 8400, instrument="CCER")

    node.act(trades)


def test_quotes_on_a_terminal_shows_a_rise_in_red_and_a_fall_in_green(
    node: Node, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rising_and_falling(node)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    status, table, _ = run(capsys, "quotes", "--once", *endpoints(node))
    assert status == 0
    assert f"{RED}80.12{RESET}  {RED}+0.15%{RESET}" in table
    assert f"{GREEN}84.00{RESET}  {GREEN}-1.18%{RESET}" in table
    assert max(visible_width(line) for line in table.splitlines()) <= 80
    status, board, _ = run(capsys, "quotes", "SHEA2025", "--once", *endpoints(node))
    assert board.startswith(f"SHEA2025  {RED}80.12  +0.12 (+0.15%){RESET}  updated ")
    assert f"limit up {RED}88.00{RESET}  limit down {GREEN}72.00{RESET}" in board

    monkeypatch.setenv("NO_COLOR", "1")
    status, plain, _ = run(capsys, "quotes", "--once", *endpoints(node))
    assert status == 0 and "\x1b" not in plain and "+0.15%" in plain


def test_quotes_not_on_a_terminal_has_no_colour_unless_asked(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    rising_and_falling(node)
    status, plain, _ = run(capsys, "quotes", "--once", *endpoints(node))
    assert status == 0 and "\x1b" not in plain and "84.00  -1.18%" in plain
    status, forced, _ = run(capsys, "quotes", "--once", "--color", "always", *endpoints(node))
    assert status == 0 and f"{GREEN}84.00{RESET}" in forced


# ------------------------------------------------------------------------- the terminal and its pages


@pytest.fixture
def crowded(book_kind: str) -> Iterator[Node]:
    """A node publishing 33 instruments: more than a 24-line terminal shows at once."""
    extra = [
        Instrument(code=f"X{n:02d}", name=f"extra {n}", kind="allowance", reference_price_fen=8000)
        for n in range(1, 31)
    ]
    config = market_config()
    market = funded_market(market_config(instruments=[*config.instruments, *extra]), book_kind)
    running = Node(market)
    yield running
    running.close()
    market.exchange.validate_internal_state()
    assert_balanced(market)


def draw_once_then_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live display draws once, then meets Ctrl-C (as a person would press it)."""
    draw = quotes_cmd._draw

    def once(screen: quotes_cmd.Screen, terminal: bool) -> None:
        draw(screen, terminal)
        raise KeyboardInterrupt

    monkeypatch.setattr(quotes_cmd, "_draw", once)


def test_on_an_80_by_24_terminal_the_live_table_fills_the_screen_and_pages(
    crowded: Node, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    monkeypatch.setenv("NO_COLOR", "1")
    draw_once_then_stop(monkeypatch)

    status, out, _ = run(capsys, "quotes", *endpoints(crowded))
    assert status == 0
    assert out.startswith(quotes_cmd.CLEAR_HOME)
    screen = out.removeprefix(quotes_cmd.CLEAR_HOME).removesuffix("\n").split("\n")  # Ctrl-C's newline
    assert len(screen) == 24 and max(map(len, screen)) <= 80
    assert screen[2].startswith("SHEA2025 ") and screen[-2].startswith("X18 ")
    assert screen[-1] == "page 1/2: 1-21 of 33; 12 not shown (--page N, or carbonx quotes CODE)"

    status, out, _ = run(capsys, "quotes", "--page", "2", *endpoints(crowded))
    screen = out.removeprefix(quotes_cmd.CLEAR_HOME).removesuffix("\n").split("\n")
    assert status == 0 and screen[2].startswith("X19 ") and screen[-2].startswith("X30 ")
    assert screen[-1] == "page 2/2: 22-33 of 33; 21 not shown (--page N, or carbonx quotes CODE)"

    # Printed once for a script: every instrument, whatever the terminal's height.
    status, out, _ = run(capsys, "quotes", "--once", *endpoints(crowded))
    assert status == 0 and len(out.splitlines()) == 2 + 33


def test_a_page_below_one_is_a_one_line_error(node: Node, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "quotes", "--page", "0", "--once", *endpoints(node))
    assert (status, out, err) == (2, "", "carbonx quotes: error: --page must be >= 1, got 0\n")


# -------------------------------------------------------------------------------- against a real node


@pytest.mark.e2e
def test_the_table_of_a_real_node_with_the_default_instruments_fits_80_by_24(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = NodeProcess(make_config(tmp_path), tmp_path / "var").start()
    try:
        feed = ["--endpoint", node.endpoints["market data"], "--snapshot-endpoint", node.endpoints["snapshot"]]
        status, out, err = run(capsys, "quotes", "--once", "--config", str(node.config), *feed)
    finally:
        node.close()
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) <= 24 and max(map(len, lines)) <= 80
    assert lines[1].split() == ["code", "last", "change", "bid", "ask", "volume", "t", "turnover", "status"]
    assert [line.split()[0] for line in lines[2:]] == ["SHEA2024", "SHEA2025", "CCER", "SHCER"]
    assert all(line.endswith("trading") for line in lines[2:])


@pytest.mark.parametrize("command", ["quotes", "bulletin"])
def test_help_explains_the_command_with_examples(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert f"usage: carbonx {command}" in out and "examples:" in out
    words = {
        "quotes": ["80x24", "limit-up", "last 5 trades", "STALE", "NO_COLOR", "--page", "--once", "red"],
        "bulletin": ["--date", "--data-dir", "--format", "snapshot service", "carbonx.db", "close"],
    }[command]
    for word in words:
        assert word in out
