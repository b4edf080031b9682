"""The flood benchmark (bench/flood.py) at a tiny size: a real node, a real victim, every flood kind briefly.

The run is ``python -m bench.flood`` as a subprocess, exactly as a user runs it, at a few hundred
ms per phase and gentle rates; the test reads its --json output and asserts that every phase
produced its figures and that the victim's orders were answered. No timing is asserted: the
figures are the benchmark's to report (bench/RESULTS.md), not a test's to judge.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from bench.flood import _kinds, build_parser, main
from bench.flood_victim import over_all_orders
from bench.flood_wire import KINDS, FloodSpec, frame_source

pytestmark = [pytest.mark.e2e, pytest.mark.not_per_book]  # bench.flood runs its own node on the default book

REPO = Path(__file__).resolve().parent.parent
SECONDS, VICTIM_RATE = 0.3, 200
VICTIM_ORDERS = 60  # VICTIM_RATE for SECONDS


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench-flood")
    command = [sys.executable, "-m", "bench.flood", "--seconds", str(SECONDS), "--victim-rate", str(VICTIM_RATE)]
    command += ["--rate", "2000", "--flooder-reports", "200", "--snapshot-topics", "20", "--frame-bytes", "2000"]
    command += ["--long-id-chars", "2000", "--grace", "2", "--settle-seconds", "5", "--no-fsync", "--timeout", "20"]
    command += ["--work-dir", str(out), "--json", str(out / "figures.json")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert done.returncode == 0, f"stdout: {done.stdout}\nstderr: {done.stderr}"
    return done, json.loads((out / "figures.json").read_text())


def test_every_phase_has_figures_and_the_victim_got_acks(run: tuple[Any, dict[str, Any]]) -> None:
    done, figures = run
    assert figures["problems"] == [] and figures["notes"] == []  # nothing killed at this size
    assert [p["kind"] for p in figures["phases"]] == ["quiet", *KINDS]
    for phase in figures["phases"]:
        victim = phase["victim"]
        assert victim["orders"] == VICTIM_ORDERS
        assert victim["acks"] > 0, phase["kind"]
        assert victim["fills"] > 0  # the sells trade with the buys
        assert list(victim["ack_us"]) == ["p50", "p90", "p99", "p99.9", "max"]
        assert all(isinstance(v, int) for v in victim["ack_us"].values())
        assert list(victim["all_us"]) == list(victim["ack_us"])
        node = phase["node"]
        assert node["before"]["rss_kb"] > 0 and node["after"]["rss_kb"] > 0 and node["settled"]["rss_kb"] > 0
        assert node["after"]["hwm_kb"] >= node["after"]["rss_kb"]
        assert phase["peak_rss_kb"] > 0 and phase["killed_at_kb"] == 0
    quiet = figures["phases"][0]
    assert quiet["victim"]["acks"] == VICTIM_ORDERS and quiet["flood"] == {}
    for phase in figures["phases"][1:]:
        assert phase["flood"]["sent"] > 0, phase["kind"]
        assert phase["flood"]["sent_per_s"] > 0 and "problem" not in phase["flood"]
    (node,) = figures["nodes"]
    assert node["exit_status"] == 0 and node["last_seq"] > 0  # stopped with SIGTERM, cleanly
    assert figures["fsync"] is False and figures["machine"]["nproc"] >= 1
    assert "recovery s" in done.stdout and "FAIL" not in done.stdout


def test_the_flooders_that_read_saw_the_gateway_answer(run: tuple[Any, dict[str, Any]]) -> None:
    _, figures = run
    phases = {p["kind"]: p for p in figures["phases"]}
    assert phases["not-logged-on"]["flood"]["received"]  # refusals of one kind or another
    assert phases["logon-heartbeat"]["flood"]["received"]
    assert phases["resend"]["flood"]["reports_in_stream"] >= 200  # the regulator's deposits, at least
    assert phases["resend"]["reads"] is False and phases["throttle"]["reads"] is True


def test_percentiles_over_all_orders_rank_an_order_without_an_ack_last() -> None:
    answered = [1_000 * i for i in range(1, 100)]  # 1 µs .. 99 µs, and one order never answered
    assert over_all_orders(answered, 1) == {"p50": 50, "p90": 90, "p99": 99, "p99.9": None, "max": None}
    assert over_all_orders(answered[:1], 9)["p50"] is None
    assert over_all_orders([2_499], 0) == dict.fromkeys(("p50", "p90", "p99", "p99.9", "max"), 2)
    assert over_all_orders([], 0) == dict.fromkeys(("p50", "p90", "p99", "p99.9", "max"))


def _spec(kind: str, frame_bytes: int = 20_000) -> FloodSpec:
    return FloodSpec(
        kind=kind,
        endpoint="",
        keys="",
        rate=1,
        seconds=1,
        connections=1,
        reads=True,
        frame_bytes=frame_bytes,
        long_id_chars=60_000,
        snapshot_topics=4_000,
        timeout=1,
    )


@pytest.mark.parametrize("size", [1_000, 20_000, 65_536, 70_000])
def test_big_frames_are_exactly_the_size_asked(size: int) -> None:
    frame = frame_source(_spec("big-frames", frame_bytes=size))
    assert len(frame(0)) == len(frame(99)) == size
    assert msgspec.msgpack.decode(frame(7))["type"] == "Submit"


def test_numbered_frames_differ_only_in_their_client_order_id() -> None:
    frame = frame_source(_spec("throttle"))
    first, second = (msgspec.msgpack.decode(frame(n)) for n in (1, 2))
    assert first["command"].pop("client_order_id") != second["command"].pop("client_order_id")
    assert first == second and first["command"]["order_type"] == 2  # LIMIT_IOC: nothing rests
    long_id = msgspec.msgpack.decode(frame_source(_spec("long-id"))(3))
    assert len(long_id["command"]["client_order_id"]) == 60_000
    request = msgspec.msgpack.decode(frame_source(_spec("snapshot"))(0))
    assert request["type"] == "SnapshotRequest" and request["topics"] == ["trade.SHEA2025"] * 4_000
    assert 59_000 < len(frame_source(_spec("snapshot"))(0)) < 61_000  # the issue's 60 KB request


def test_kinds_are_chosen_by_name_or_by_the_issues_letter() -> None:
    assert _kinds(["all"]) == list(KINDS)
    assert _kinds(["c"]) == ["resend", "logon-resend"]
    assert _kinds(["a", "throttle", "e"]) == ["throttle", "snapshot"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kinds", "z"], "unknown flood kind 'z'"),
        (["--rss-cap-mb", "5000"], "--rss-cap-mb must be 1-4000"),
        (["--seconds", "0"], "--seconds must be positive"),
        (["--victim-rate", "450"], "within the victim's throttle"),
        (["--kind-rate", "resend"], "KIND=FRAMES_PER_S"),
        (["--work-dir", "/nonexistent/carbonx"], "--work-dir /nonexistent/carbonx: no such directory"),
    ],
)
def test_bad_parameters_are_one_line_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_help_names_every_measurement_parameter() -> None:
    text = build_parser().format_help()
    options = ("--seconds", "--kinds", "--rate", "--kind-rate", "--victim-rate", "--processes", "--no-fsync", "--json")
    for option in options:
        assert option in text
