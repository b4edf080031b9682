"""A data directory that cannot be used gives one line, never a raw errno (issue 13), for every
command that takes one: serve, simulate, registry (offline), replay, eod report, bulletin. And the
readers (replay, eod report, bulletin) on a directory without a journal say so and create nothing, not even the
directory.

Unwritable, honestly, as root (the tests run as root, and chmod does not stop root): a directory
under a file cannot be created by anyone; sysfs refuses new files even to root (skipped where it
does not); the non-root chmod case runs when the tests do not run as root; and a read-only mount,
which a test cannot make, is the write probe failing with EROFS.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from carbonx import data_dir
from carbonx.cli import main
from carbonx.config import load_config
from carbonx.simulation import run_simulation
from carbonx.statements_db import DB_FILE, StatementStore
from engine.journal import JOURNAL_FILE
from tests.node_process import REPO, make_config
from tests.test_eod_report import record

pytestmark = pytest.mark.not_per_book

DAY = dt.date(2026, 11, 23)
DEPOSIT = str(REPO / "examples" / "registry" / "deposit.csv")
SYSFS = Path("/sys/fs")  # a directory no one may create files in, root included


def files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The error line of a command that must fail with exit status 2, nothing else printed."""
    status = main(argv)
    out, err = capsys.readouterr()
    assert (status, out) == (2, ""), (status, out, err)
    assert err.count("\n") == 1 and "Traceback" not in err and "Errno" not in err, err
    return err.rstrip("\n")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return make_config(tmp_path)


# Every command that takes a data directory, as argv for a directory and a config.
COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "serve": lambda d, c: ["serve", "--demo", "--config", str(c), "--data-dir", str(d)],
    "simulate": lambda d, c: ["simulate", "--config", str(c), "--data-dir", str(d), "--date", str(DAY)],
    "registry": lambda d, c: ["registry", "deposit", DEPOSIT, "--data-dir", str(d)],
    "replay": lambda d, c: ["replay", str(d)],
    "eod": lambda d, c: ["eod", "report", "--data-dir", str(d)],
    "bulletin": lambda d, c: ["bulletin", "--data-dir", str(d)],
}
WRITERS_THAT_CREATE = ("serve", "simulate")  # a missing directory is made; registry needs an exchange there


@pytest.mark.parametrize("command", COMMANDS)
def test_a_file_in_place_of_the_data_directory_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path, command: str
) -> None:
    path = tmp_path / "var"
    path.write_text("not a directory")

    line = one_line(capsys, COMMANDS[command](path, config))

    assert line == f"carbonx {command}: error: {path}: is a file, not a data directory"
    assert path.read_text() == "not a directory"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_data_directory_under_a_file_is_one_line_naming_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path, command: str
) -> None:
    blocking = tmp_path / "var"
    blocking.write_text("")
    path = blocking / "data"

    line = one_line(capsys, COMMANDS[command](path, config))

    what = "cannot create the data directory: " if command in WRITERS_THAT_CREATE else "no such data directory ("
    assert line.startswith(f"carbonx {command}: error: {path}: {what}{blocking}"), line
    assert line.endswith(f"{blocking} is a file" + ("" if command in WRITERS_THAT_CREATE else ")"))


@pytest.mark.parametrize("command", ["registry", "replay", "eod"])
def test_a_missing_data_directory_is_one_line_and_not_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path, command: str
) -> None:
    path = tmp_path / "nowhere" / "var"

    line = one_line(capsys, COMMANDS[command](path, config))

    assert line == f"carbonx {command}: error: {path}: no such data directory"
    assert list(tmp_path.iterdir()) == [tmp_path / "config"]


@pytest.mark.parametrize("command", ["replay", "eod", "bulletin"])
def test_a_reader_on_a_directory_without_a_journal_says_so_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path, command: str
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    line = one_line(capsys, COMMANDS[command](empty, config))

    assert line == (
        f"carbonx {command}: error: {empty}: holds no journal ({JOURNAL_FILE}): not a carbonx data directory "
        "(carbonx serve and carbonx simulate write one)"
    )
    assert list(empty.iterdir()) == []


def test_a_reader_on_a_directory_with_only_a_config_record_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path
) -> None:
    directory = tmp_path / "var"
    directory.mkdir()
    (directory / "exchange-config.json").write_text("{}")  # never replayed into an empty exchange
    before = files(directory)

    line = one_line(capsys, ["replay", str(directory)])

    assert line.startswith(f"carbonx replay: error: {directory}: holds no journal")
    assert files(directory) == before


def test_the_end_of_day_database_alone_is_still_read(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    simulated = tmp_path / "var"
    run_simulation(load_config(REPO / "config").exchange, simulated, seed=1, orders=40, trading_day=DAY, fsync=False)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / DB_FILE).write_bytes((simulated / DB_FILE).read_bytes())  # a database kept without its journal

    status = main(["eod", "report", "--data-dir", str(copy)])

    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    assert out.splitlines()[0] == f"carbonx eod report: trading day {DAY} (the latest recorded)"


# ------------------------------------------------------------------------------------------ unwritable


def _writable_by_a_new_file(directory: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not SYSFS.is_dir() or _writable_by_a_new_file(SYSFS), reason="no read-only sysfs here")
@pytest.mark.parametrize("command", WRITERS_THAT_CREATE)
def test_a_directory_no_one_may_write_in_is_one_line(
    capsys: pytest.CaptureFixture[str], config: Path, command: str
) -> None:
    line = one_line(capsys, COMMANDS[command](SYSFS, config))

    assert line.startswith(f"carbonx {command}: error: {SYSFS}: cannot write in the data directory: "), line


@pytest.mark.skipif(not SYSFS.is_dir() or _writable_by_a_new_file(SYSFS), reason="no read-only sysfs here")
@pytest.mark.parametrize("command", WRITERS_THAT_CREATE)
def test_a_directory_no_one_may_create_is_one_line(
    capsys: pytest.CaptureFixture[str], config: Path, command: str
) -> None:
    path = SYSFS / "carbonx-var"

    line = one_line(capsys, COMMANDS[command](path, config))

    assert line.startswith(f"carbonx {command}: error: {path}: cannot create the data directory: "), line
    assert not path.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes whatever the mode says")
@pytest.mark.parametrize("command", WRITERS_THAT_CREATE)
def test_a_directory_without_write_permission_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path, command: str
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        line = one_line(capsys, COMMANDS[command](locked, config))
    finally:
        locked.chmod(0o700)

    assert line == f"carbonx {command}: error: {locked}: cannot write in the data directory: permission denied"


@pytest.mark.parametrize("command", ["serve", "simulate", "registry"])
def test_a_read_only_mount_is_one_line_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, config: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "var"
    run_simulation(load_config(config).exchange, directory, seed=1, orders=20, trading_day=DAY, fsync=False)
    before = files(directory)

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(data_dir.tempfile, "TemporaryFile", read_only)  # the probe, as a read-only mount answers it
    argv = COMMANDS[command](directory, config)
    line = one_line(capsys, [*argv, "--overwrite"] if command == "simulate" else argv)

    assert line == f"carbonx {command}: error: {directory}: cannot write in the data directory: read-only file system"
    assert files(directory) == before


def test_the_write_probe_leaves_nothing_behind(tmp_path: Path) -> None:
    data_dir.writable_data_dir(tmp_path / "new" / "var")

    assert list((tmp_path / "new" / "var").iterdir()) == []


# ------------------------------------------------------------------------------------- eod without date


def test_eod_report_without_a_date_shows_the_latest_day_and_names_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    directory = record(tmp_path / "var", two_days=True)  # 2026-11-23 and 2026-11-24

    latest = main(["eod", "report", "--data-dir", str(directory)])
    latest_out, latest_err = capsys.readouterr()
    dated = main(["eod", "report", "--data-dir", str(directory), "--date", "2026-11-23"])
    dated_out = capsys.readouterr().out

    assert (latest, latest_err) == (0, "")
    assert latest_out.splitlines()[0] == "carbonx eod report: trading day 2026-11-24 (the latest recorded)"
    assert dated == 0 and dated_out.splitlines()[0] == "carbonx eod report: trading day 2026-11-23"


def test_eod_report_without_a_date_and_no_day_recorded_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with StatementStore.open(tmp_path / DB_FILE):
        pass

    line = one_line(capsys, ["eod", "report", "--data-dir", str(tmp_path)])

    assert line == (
        f"carbonx eod: error: {tmp_path / DB_FILE}: no end of day recorded yet (a day is recorded when it ends)"
    )
