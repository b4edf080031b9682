"""The `carbonx` command line: help, simulate → replay with the same hash, one-line user errors."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from carbonx.cli import main
from engine.journal import JOURNAL_FILE

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
HASH = re.compile(r"^state hash\s+([0-9a-f]{64})$", re.MULTILINE)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def simulate(capsys: pytest.CaptureFixture[str], data_dir: Path, *extra: str) -> tuple[int, str, str]:
    return run(
        capsys,
        "simulate",
        "--config",
        str(CONFIG),
        "--data-dir",
        str(data_dir),
        "--orders",
        "600",
        "--date",
        "2026-11-23",
        *extra,
    )


def one_line_error(status: int, out: str, err: str, *fragments: str) -> None:
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("carbonx ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


@pytest.mark.parametrize("argv", [["--help"], ["simulate", "--help"], ["replay", "--help"]])
def test_help_explains_each_command(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "usage: carbonx" in out
    for word in {
        "--help": ["simulate", "replay", "examples"],
        "simulate": ["--seed", "--orders", "bulletin"],
        "replay": ["DIR", "--no-snapshot", "hash"],
    }[argv[0]]:
        assert word in out


@pytest.mark.per_book
def test_simulate_prints_the_bulletin_and_replay_reproduces_the_hash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, err = simulate(capsys, tmp_path / "day")
    assert status == 0 and err == ""
    for instrument in ("SHEA2024", "SHEA2025", "CCER", "SHCER"):
        assert re.search(rf"^{instrument}\s+[\d.]+", out, re.MULTILINE)
    assert "fees collected" in out and "trades" in out
    simulated = HASH.search(out)
    assert simulated is not None

    for extra in ([], ["--no-snapshot"]):
        status, replay_out, _ = run(capsys, "replay", str(tmp_path / "day"), *extra)
        replayed = HASH.search(replay_out)
        assert status == 0 and replayed is not None
        assert replayed.group(1) == simulated.group(1)


@pytest.mark.per_book
def test_same_seed_same_day_same_hash(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, first, _ = simulate(capsys, tmp_path / "a")
    _, second, _ = simulate(capsys, tmp_path / "b")
    _, other_seed, _ = simulate(capsys, tmp_path / "c", "--seed", "2")
    hashes = [HASH.search(out).group(1) for out in (first, second, other_seed)]  # type: ignore[union-attr]
    assert hashes[0] == hashes[1] != hashes[2]


@pytest.mark.per_book
def test_simulate_refuses_to_overwrite_without_the_flag(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    simulate(capsys, tmp_path / "day")
    one_line_error(*simulate(capsys, tmp_path / "day"), str(tmp_path / "day"), "--overwrite")
    status, _, _ = simulate(capsys, tmp_path / "day", "--overwrite")
    assert status == 0


def test_simulate_on_a_weekend_is_a_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, err = run(
        capsys, "simulate", "--config", str(CONFIG), "--data-dir", str(tmp_path), "--date", "2026-11-22"
    )
    one_line_error(status, out, err, "2026-11-22", "not a trading day")


def test_bad_config_is_a_one_line_error_naming_file_and_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "config"
    shutil.copytree(CONFIG, bad)
    text = (bad / "instruments.toml").read_text(encoding="utf-8")
    (bad / "instruments.toml").write_text(re.sub(r"(?m)^tick_fen = 1$", 'tick_fen = "one"', text, count=1))

    status, out, err = run(capsys, "simulate", "--config", str(bad), "--data-dir", str(tmp_path / "d"))

    one_line_error(status, out, err, "instruments.toml", "tick_fen")


@pytest.mark.per_book
@pytest.mark.parametrize("case", ["missing", "not_data_dir", "corrupt"])
def test_replay_problems_are_one_line_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str) -> None:
    target = tmp_path / "day"
    if case == "not_data_dir":
        target.mkdir()
    elif case == "corrupt":
        simulate(capsys, target)
        journal = target / JOURNAL_FILE
        data = bytearray(journal.read_bytes())
        data[40] ^= 0xFF  # damage inside the first record: not a torn tail
        journal.write_bytes(bytes(data))
        shutil.rmtree(target / "snapshots")

    status, out, err = run(capsys, "replay", str(target))

    one_line_error(status, out, err, str(target))


def test_the_installed_entry_point_runs_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "carbonx", "simulate", "--config", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(tmp_path / "nowhere") in result.stderr and result.stderr.count("\n") == 1


def test_carbonx_help_lists_every_command_as_the_whole_command_line_does() -> None:
    from carbonx.cli import build_parser
    from carbonx.cli.commands import COMMANDS

    whole, listed = build_parser(), build_parser("")
    assert listed.format_help() == whole.format_help()
    (commands,) = [a for a in whole._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(commands.choices) == list(COMMANDS)
    assert {a.dest: a.help for a in commands._choices_actions} == {name: help for name, (_, help) in COMMANDS.items()}


# A client command loads neither the engine (numba) nor the other commands; the node's loads the engine.
_LOADED = """
import sys
from carbonx.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("numba" in sys.modules, "carbonx.cli.serve_cmd" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("argv", "engine"),
    [
        (["--help"], False),
        (["--version"], False),
        (["keys", "--help"], False),
        (["order", "--help"], False),
        (["account", "--help"], False),
        (["quotes", "--help"], False),
        (["fills", "--help"], False),
        (["transfer", "--help"], False),
        (["auction", "--help"], False),
        (["regulator", "--help"], False),
        (["surveil", "--help"], False),
        (["web", "--help"], False),
        (["bulletin", "--help"], False),
        (["eod", "--help"], False),
        (["registry", "--help"], False),
        (["replay", "--help"], True),
    ],
)
def test_a_command_loads_only_what_it_uses(argv: list[str], engine: bool) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LOADED, *argv], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.stderr.splitlines()[-1] == f"{engine} False", result.stderr
    assert result.stdout  # the help or the version was printed
