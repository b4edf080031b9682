"""``python -m bench.scheduler_look`` at a tiny size: the node is brought to the calendar, then timed."""

from __future__ import annotations

import datetime as dt

import pytest

from bench.scheduler_look import SHANGHAI, main, measure


def test_the_node_is_timed_with_the_day_the_calendar_says() -> None:
    monday = measure(dt.datetime(2026, 11, 23, 10, 15, tzinfo=SHANGHAI), turns=20)
    sunday = measure(dt.datetime(2026, 11, 22, 10, 15, tzinfo=SHANGHAI), turns=20)

    assert monday["day_open"] == 1.0 and sunday["day_open"] == 0.0
    assert all(figures[name] > 0 for figures in (monday, sunday) for name in ("scheduled", "wait_ms"))


def test_the_command_prints_both_calls_and_refuses_a_bad_time(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--turns", "20", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "(a trading day open), nothing due" in out
    assert "Node._scheduled" in out and "Node._wait_ms" in out and "a turn in all" in out

    with pytest.raises(SystemExit) as stopped:
        main(["--at", "tomorrow"])
    assert stopped.value.code == 2
    assert "--at: 'tomorrow' is not a time like 2026-11-23T10:15" in capsys.readouterr().err
