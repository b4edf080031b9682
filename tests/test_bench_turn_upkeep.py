"""``python -m bench.turn_upkeep`` at a tiny size: the node is brought to the calendar, its sessions
logged on, and each call of a turn timed."""

from __future__ import annotations

import datetime as dt

import pytest

from bench.turn_upkeep import CALLS, SHANGHAI, main, measure


def test_the_node_is_timed_with_the_day_the_calendar_says_and_every_session_logged_on() -> None:
    monday = measure(dt.datetime(2026, 11, 23, 10, 15, tzinfo=SHANGHAI), sessions=9, turns=20)
    sunday = measure(dt.datetime(2026, 11, 22, 10, 15, tzinfo=SHANGHAI), sessions=0, turns=20)

    assert (monday["day_open"], monday["sessions"]) == (1.0, 9.0)
    assert (sunday["day_open"], sunday["sessions"]) == (0.0, 0.0)
    assert all(figures[name] > 0 for figures in (monday, sunday) for name in CALLS)


def test_the_command_prints_a_row_per_count_and_refuses_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sessions", "0", "3", "--turns", "20", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "calendar mode, the clock held at 2026-11-23 10:15 Shanghai, nothing due" in out
    rows = [line.split() for line in out.splitlines() if "(a trading day open;" in line]
    assert [row[0] for row in rows] == ["0", "3"]

    for bad, said in ((["--at", "tomorrow"], "--at: 'tomorrow' is not a time"), (["--sessions", "-1"], "0 or more")):
        with pytest.raises(SystemExit) as stopped:
            main(bad)
        assert stopped.value.code == 2
        assert said in capsys.readouterr().err
