"""The end-to-end benchmark (bench/e2e.py) at a tiny size: a real node, real client processes, real figures.

The run is ``python -m bench.e2e`` as a subprocess, exactly as a user runs it; the test reads its
--json output. The bench checks itself (every request answered, nothing refused, journal seq as the
requests imply) and exits 1 otherwise; the test asserts those checks held and the figures are sane.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.e2e import against_targets, build_parser, main
from bench.e2e_disk import run_durable_echo, run_fsync_loop
from bench.e2e_wire import BenchError, percentiles

pytestmark = [pytest.mark.e2e, pytest.mark.not_per_book]  # bench.e2e runs its own node on the default book

REPO = Path(__file__).resolve().parent.parent
ORDERS_PER_CLIENT = 100
CLIENTS = 2
RATE = 500
LATENCY_ORDERS = 100  # RATE for 0.2 s


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench-e2e")
    command = [sys.executable, "-m", "bench.e2e", "--clients", str(CLIENTS), "--orders", str(ORDERS_PER_CLIENT)]
    command += ["--rates", str(RATE), "--latency-seconds", "0.2", "--round-trips", "200", "--no-fsync"]
    command += ["--timeout", "20", "--work-dir", str(out), "--json", str(out / "figures.json")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert done.returncode == 0, f"stdout: {done.stdout}\nstderr: {done.stderr}"
    return done, json.loads((out / "figures.json").read_text())


def assert_percentiles(figures: dict[str, int]) -> None:
    assert list(figures) == ["p50", "p90", "p99", "p99.9", "max"]
    values = list(figures.values())
    assert all(isinstance(v, int) for v in values)
    assert values == sorted(values)
    assert values[0] > 0


def test_every_order_is_acknowledged_and_nothing_refused(run: tuple[Any, dict[str, Any]]) -> None:
    _, figures = run
    assert figures["problems"] == []
    single, batched = figures["throughput"]
    assert (single["batch"], batched["batch"]) == (1, 50)
    for mode in (single, batched):
        assert mode["orders"] == mode["acked_orders"] == CLIENTS * ORDERS_PER_CLIENT
        assert mode["acks"] == mode["requests"]
        assert mode["orders_per_s"] > 0 and mode["problems"] == []
        assert mode["batch_reports"] is True and mode["clients_cpu_s"] > 0  # Reports frames, by default
    assert single["requests"] == CLIENTS * ORDERS_PER_CLIENT
    assert batched["requests"] == CLIENTS * ORDERS_PER_CLIENT // 50
    assert single["trades"] + batched["trades"] > 0  # buy and sell prices overlap, so some orders trade


def test_latency_matches_each_order_to_its_ack_and_its_trade(run: tuple[Any, dict[str, Any]]) -> None:
    _, figures = run
    (latency,) = figures["latency"]
    assert latency["rate"] == RATE
    assert latency["orders"] == latency["acks"] == latency["trades_seen"] == LATENCY_ORDERS
    assert_percentiles(latency["ack_us"])
    assert_percentiles(latency["trade_us"])
    # The trade goes out on market data after the journal write, like the ack: never before the order.
    assert latency["trade_us"]["max"] >= latency["trade_us"]["p50"] > 0


def test_baseline_measures_curve_and_plain_round_trips(run: tuple[Any, dict[str, Any]]) -> None:
    _, figures = run
    curve, plain = figures["baseline"]
    assert (curve["curve"], plain["curve"]) == (True, False)
    for transport in (curve, plain):
        assert transport["round_trips_per_s"] > 0 and transport["pipelined_per_s"] > 0
        assert_percentiles(transport["round_trip_us"])
    assert list(curve["paced_us"]) == [str(RATE)] and plain["paced_us"] == {}
    assert 100 < curve["bytes"] < 300  # the size of one Submit(NewOrder) frame


def test_the_journal_holds_exactly_what_was_sent_and_the_node_stopped_cleanly(run: tuple[Any, dict[str, Any]]) -> None:
    done, figures = run
    journal = figures["journal"]
    resting = figures["latency"][0]["resting_sells"]
    assert journal["orders"] == 2 * CLIENTS * ORDERS_PER_CLIENT + LATENCY_ORDERS + resting
    assert journal["last_seq"] == journal["expected"] == journal["at_ready"] + journal["top_up"] + journal["orders"]
    assert journal["exit_status"] == 0
    assert figures["fsync"] is False and figures["machine"]["nproc"] >= 1
    assert "check:" in done.stdout and "FAIL" not in done.stdout


def test_the_node_figures_are_printed_against_their_targets(run: tuple[Any, dict[str, Any]]) -> None:
    done, figures = run
    targets = done.stdout.split("targets:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    echo = figures["baseline"][0]["pipelined_per_s"]
    single, batched = figures["throughput"]
    assert f"{round(100 * single['orders_per_s'] / echo)}% of the CURVE echo's {echo:,}" in targets[0]
    assert "(target 60%: " in targets[0]
    assert (
        f"batches of 50: {batched['orders_per_s']:,} orders/s" in targets[1] and "stretch target 300,000" in targets[1]
    )
    assert targets[2] == f"  {RATE}/s order -> Ack: no durability baseline (fsync off)"


def test_the_fsync_loop_makes_each_turns_arrivals_durable_and_cleans_up(tmp_path: Path) -> None:
    figures = run_fsync_loop(tmp_path, 2_000, 0.05, 165)
    assert figures["orders"] == 100 and 1 <= figures["writes"] <= 100 and figures["record_bytes"] == 165
    assert_percentiles(figures["us"])
    assert list(tmp_path.iterdir()) == []


def test_percentiles_are_nearest_rank_in_whole_microseconds() -> None:
    values = [1_000 * i for i in range(1, 1_001)]  # 1 µs .. 1000 µs
    assert percentiles(values) == {"p50": 500, "p90": 900, "p99": 990, "p99.9": 999, "max": 1_000}
    assert percentiles([1_499, 2_500]) == {"p50": 1, "p90": 3, "p99": 3, "p99.9": 3, "max": 3}
    assert percentiles([]) == {"p50": 0, "p90": 0, "p99": 0, "p99.9": 0, "max": 0}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--clients", "1"], "--clients must be 2-5"),
        (["--window", "0"], "--window must be positive"),
        (["--orders", "100000"], "lower --orders"),
        (["--work-dir", "/nonexistent/carbonx"], "--work-dir /nonexistent/carbonx: no such directory"),
        (["--json", "/nonexistent/carbonx/e2e.json"], "--json /nonexistent/carbonx/e2e.json: no such directory"),
    ],
)
def test_bad_parameters_are_one_line_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_help_names_every_measurement_parameter() -> None:
    text = build_parser().format_help()
    options = ("--clients", "--window", "--batch", "--rates", "--fsync", "--no-fsync", "--no-batch-reports", "--json")
    for option in options:
        assert option in text


def test_the_scaled_market_has_40_instruments_and_ten_accounts_for_each_traders_one(tmp_path: Path) -> None:
    from bench.e2e_node import scale_config
    from bench.e2e_wire import SCALE_INSTRUMENTS, TRADERS, limit_orders, scaled_accounts
    from carbonx.config import load_config

    shutil.copytree(REPO / "config", tmp_path / "config")
    before = load_config(tmp_path / "config").exchange
    scale_config(tmp_path / "config")
    after = load_config(tmp_path / "config").exchange
    assert len(SCALE_INSTRUMENTS) == 40 and {i.code for i in after.instruments} >= set(SCALE_INSTRUMENTS)
    assert len(after.instruments) == len(before.instruments) + 39
    kinds = {a.id: (a.member, a.kind) for a in after.accounts}
    for member, account in TRADERS:
        assert all(
            kinds[other] == kinds[account] and kinds[other][0] == member for other in scaled_accounts(account, True)
        )
    orders = limit_orders(TRADERS[0][1], 400, 1, "t", scale=True)
    assert {o.instrument for o in orders} == set(SCALE_INSTRUMENTS)  # type: ignore[attr-defined]
    assert {o.account for o in orders} == set(scaled_accounts(TRADERS[0][1], True))  # type: ignore[attr-defined]


def test_python_m_bench_prints_how_each_node_figure_changed_at_scale() -> None:
    from bench.__main__ import compare_node

    out = "\n".join(
        compare_node(
            {"single orders/s": 40_000, "2,000/s Ack p99 µs": 1_000},
            {"single orders/s": 36_000, "2,000/s Ack p99 µs": 1_300},
        )
    )
    assert "40,000 ->       36,000  -10%" in out and "1,000 ->        1,300  +30%" in out
    assert "(no node figure may worsen by more than 20%: short)" in out  # the latency rose 30%


def test_the_web_bench_names_a_json_files_missing_directory_before_it_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.web import main as web_main

    with pytest.raises(SystemExit) as exit_:
        web_main(["--json", "/nonexistent/carbonx/web.json", "--no-browser"])
    assert exit_.value.code == 2
    assert "--json /nonexistent/carbonx/web.json: no such directory /nonexistent/carbonx" in capsys.readouterr().err


def test_the_durable_echo_answers_every_frame_and_cleans_up(tmp_path: Path) -> None:
    figures = run_durable_echo(tmp_path, 2_000, 0.05, 180, 165, 20.0)
    assert (figures["rate"], figures["orders"], figures["record_bytes"]) == (2_000, 100, 165)
    assert_percentiles(figures["us"])
    assert list(tmp_path.iterdir()) == []


def test_the_durable_echo_in_a_missing_directory_is_a_one_line_bench_error(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match=r"the durable echo cannot write its file: .*absent/durable-echo.bin: No such"):
        run_durable_echo(tmp_path / "absent", 2_000, 0.05, 180, 165, 2.0)


def test_the_ack_p99_is_printed_against_the_fsync_loop_and_the_durable_echo() -> None:
    def us(p99: int) -> dict[str, int]:
        return {"p50": p99 // 2, "p90": p99 - 1, "p99": p99, "p99.9": p99, "max": p99}

    figures: dict[str, Any] = {
        "baseline": [{"curve": True, "pipelined_per_s": 100_000, "window": 64}],
        "throughput": [],
        "latency": [{"rate": 500, "ack_us": us(900)}, {"rate": 2_000, "ack_us": us(1_200)}],
        "durability": [{"rate": 500, "us": us(400)}, {"rate": 2_000, "us": us(500)}],
        "floor": [{"rate": 500, "us": us(600)}, {"rate": 2_000, "us": us(800)}],
    }
    assert against_targets(figures)[1:] == [
        "  500/s order -> Ack p99 900 µs = 2.25x the write+fsync loop's 400 µs",
        "    the durable CURVE echo's p99 600 µs = 1.50x: the wire and the fsync alone, no node",
        "  2,000/s order -> Ack p99 1,200 µs = 2.40x the write+fsync loop's 500 µs (target 1.5x: short)",
        "    the durable CURVE echo's p99 800 µs = 1.60x: the wire and the fsync alone, no node",
    ]
    del figures["floor"]  # figures saved before the floor was measured
    assert len(against_targets(figures)) == 3
