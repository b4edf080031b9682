"""Data directories (issue 12, items 9 and 10): one writer at a time, a journal that stays the file
the node opened, and a snapshot store that does not grow without end.

Item 9: `carbonx simulate --overwrite`, run while a node held `var`, deleted the node's journal; the
node went on acknowledging orders into the deleted file. The rule behind it: every command that
writes a data directory takes the journal's lock for the whole of its writing and refuses, with one
line and nothing changed, a directory someone else holds; `simulate` has its own default directory;
and a node whose journal is deleted or replaced under it stops without acknowledging.

Item 10: snapshots were never pruned, and killed stops left temporary files. The node keeps the
newest ``snapshots_keep`` (with their execution-report companions) and removes stale temporaries at
start.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from carbonx.cli import build_parser, main
from carbonx.config import load_config
from carbonx.data_dir import DataDirUnavailable, apply_commands
from carbonx.endpoints import ENDPOINTS_FILE
from carbonx.errors import ConfigError
from carbonx.node_state import BARS_KIND, REPORTS_KIND, open_node_state
from carbonx.simulation import SIMULATION_DATA_DIR, funding_commands, run_simulation
from engine.journal import (
    JOURNAL_FILE,
    JOURNAL_MAGIC,
    SNAPSHOT_DIR,
    Journal,
    JournalLocked,
    JournalRecord,
    JournalReplaced,
    journal_locked,
    list_snapshots,
    prune_snapshots,
    read_journal,
    remove_stale_temporaries,
    write_snapshot,
)
from engine.messages import DepositCash, OrderAccepted, Side
from engine.recovery import recorded_config, recover
from gateway.client import GatewayError, MemberClient
from tests.node_process import REPO, NodeProcess, make_config

DAY = dt.date(2026, 11, 23)
NOON = 1_795_000_000_000_000_000


def files(directory: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``directory``: its inode and its bytes (what "left exactly as it was" means)."""
    return {
        str(path.relative_to(directory)): (path.stat().st_ino, path.read_bytes())
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def one_line(status: int, err: str) -> str:
    assert status == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return make_config(tmp_path)


@pytest.fixture
def simulated(config_dir: Path, tmp_path: Path) -> Path:
    """A data directory a simulation wrote: journal, config record, database, a snapshot."""
    directory = tmp_path / "var"
    run_simulation(load_config(config_dir).exchange, directory, seed=1, orders=60, trading_day=DAY, fsync=False)
    return directory


@pytest.fixture
def held(simulated: Path) -> Iterator[Path]:
    """The simulated directory while another process holds its journal (as a running node does)."""
    with Journal.open(simulated, fsync=False):
        yield simulated


# ---------------------------------------------------------------------------------------------- the lock


# Every `carbonx` command, by what it does to a data directory. A new command must be placed here,
# and a writer gets a case in WRITERS below.
WRITES_DATA_DIR = {"serve", "simulate", "registry"}
READS_DATA_DIR = {"replay", "eod", "bulletin", "surveil", "web"}
NO_DATA_DIR = {"quotes", "order", "account", "fills", "regulator", "keys", "transfer", "auction"}


@pytest.mark.not_per_book
def test_every_command_is_known_as_a_writer_a_reader_or_neither() -> None:
    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))

    assert set(subcommands.choices) == WRITES_DATA_DIR | READS_DATA_DIR | NO_DATA_DIR


def _simulate(*extra: str) -> Callable[[Path, Path, pytest.CaptureFixture[str]], str]:
    def attempt(directory: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> str:
        argv = ["simulate", "--config", str(config), "--data-dir", str(directory), "--date", str(DAY), *extra]
        status = main([*argv, "--orders", "20"])
        return one_line(status, capsys.readouterr().err)

    return attempt


def _registry_offline(directory: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> str:
    # The offline path itself (with a node up, `carbonx registry` goes through its gateway instead).
    with pytest.raises(DataDirUnavailable) as refused:
        apply_commands(directory, [DepositCash(account="A001", amount=1)], fsync=False)
    return str(refused.value)


def _node_start(directory: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(DataDirUnavailable) as refused:
        open_node_state(load_config(config), directory, clock=lambda: NOON)
    return str(refused.value)


WRITERS = {
    "simulate": _simulate(),
    "simulate --overwrite": _simulate("--overwrite"),
    "registry (offline)": _registry_offline,
    "serve (node start)": _node_start,
}


@pytest.mark.not_per_book
@pytest.mark.parametrize("writer", WRITERS)
def test_a_writer_refuses_a_held_data_directory_with_one_line_and_changes_nothing(
    held: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], writer: str
) -> None:
    before = files(held)

    refusal = WRITERS[writer](held, config_dir, capsys)

    assert str(held) in refusal and "journal locked" in refusal
    assert files(held) == before


@pytest.mark.not_per_book
@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "{dir}"],
        ["eod", "report", "--date", str(DAY), "--data-dir", "{dir}"],
        ["surveil", "ingest", "--data-dir", "{dir}"],  # its store is beside the directory, never in it
        ["surveil", "book", "SHEA2025", "--seq", "20", "--data-dir", "{dir}"],
    ],
)
def test_a_reader_works_on_a_held_data_directory_and_changes_nothing(
    held: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    before = files(held)

    status = main([arg.format(dir=held) for arg in argv])

    assert status == 0, capsys.readouterr().err
    assert files(held) == before


@pytest.mark.not_per_book
def test_the_lock_is_asked_without_taking_it_or_creating_anything(tmp_path: Path) -> None:
    assert not journal_locked(tmp_path)
    assert list(tmp_path.iterdir()) == []

    with Journal.open(tmp_path, fsync=False):
        assert journal_locked(tmp_path)
    assert not journal_locked(tmp_path)


@pytest.mark.not_per_book
def test_a_discarded_journal_keeps_its_file_and_is_discarded_only_under_the_lock(simulated: Path) -> None:
    journal_file = simulated / JOURNAL_FILE
    inode, recorded = journal_file.stat().st_ino, journal_file.read_bytes()

    with Journal.open(simulated, fsync=False), pytest.raises(JournalLocked):
        Journal.open(simulated, fsync=False, discard=True)
    assert journal_file.read_bytes() == recorded

    with Journal.open(simulated, fsync=False, discard=True) as journal:
        assert journal.last_seq == 0
    assert (journal_file.stat().st_ino, journal_file.read_bytes()) == (inode, JOURNAL_MAGIC)


# ---------------------------------------------------------------------------------------------- simulate


@pytest.mark.not_per_book
def test_simulate_writes_its_own_directory_not_the_nodes(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # relative data directories are relative to where the command runs
    node_data_dir = load_config(config_dir).node.data_dir

    status = main(["simulate", "--config", str(config_dir), "--orders", "20", "--date", str(DAY)])

    out = capsys.readouterr().out
    assert status == 0
    assert node_data_dir != SIMULATION_DATA_DIR
    assert (tmp_path / SIMULATION_DATA_DIR / JOURNAL_FILE).is_file()
    assert not (tmp_path / node_data_dir).exists()
    assert f"reproduce          carbonx replay {SIMULATION_DATA_DIR}" in out


@pytest.mark.not_per_book
def test_the_readme_runs_simulate_into_its_own_directory() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    simulate_lines = [line for line in readme.splitlines() if "carbonx simulate" in line]

    assert simulate_lines
    assert not [line for line in simulate_lines if re.search(r"\bvar\b(?!-)", line)]  # the node's var
    assert f"journal            {SIMULATION_DATA_DIR} (" in readme
    assert f"{SIMULATION_DATA_DIR}/" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()


# ---------------------------------------------------------------------------------------------- a replaced journal


def _deposit(seq: int) -> JournalRecord:
    return JournalRecord(seq=seq, ts=NOON, command=DepositCash(account="A1", amount=seq))


def _delete(journal_file: Path) -> None:
    journal_file.unlink()


def _replace(journal_file: Path) -> None:
    other = journal_file.with_name("other.cxj")
    other.write_bytes(JOURNAL_MAGIC)
    os.replace(other, journal_file)


def _move_away(journal_file: Path) -> None:
    journal_file.rename(journal_file.with_name("moved.cxj"))


@pytest.mark.not_per_book
@pytest.mark.parametrize("change", [_delete, _replace, _move_away], ids=lambda f: f.__name__.strip("_"))
def test_an_append_to_a_journal_that_is_no_longer_at_its_path_fails_and_stays_failed(
    tmp_path: Path, change: Callable[[Path], None]
) -> None:
    with Journal.open(tmp_path, fsync=False) as journal:
        journal.append(_deposit(1))
        change(tmp_path / JOURNAL_FILE)

        with pytest.raises(JournalReplaced, match=r"journal\.cxj: the journal file was") as failed:
            journal.append(_deposit(2))
        assert isinstance(failed.value, OSError)  # what the node turns into a stop without acknowledging
        assert journal.last_seq == 1
        with pytest.raises(RuntimeError, match="unusable"):
            journal.append(_deposit(3))


@pytest.mark.not_per_book
def test_a_journal_left_where_it_was_keeps_appending(tmp_path: Path) -> None:
    with Journal.open(tmp_path, fsync=False) as journal:
        for seq in (1, 2, 3):
            journal.append(_deposit(seq))
            journal.check_file()

    assert [r.seq for r in read_journal(tmp_path)] == [1, 2, 3]


@pytest.mark.not_per_book
def test_a_node_does_not_snapshot_over_a_replaced_journal(config_dir: Path, tmp_path: Path) -> None:
    state = open_node_state(load_config(config_dir), tmp_path / "var", clock=lambda: NOON)
    try:
        state.sequencer.submit_batch([DepositCash(account="A001", amount=5)])
        _replace(tmp_path / "var" / JOURNAL_FILE)

        with pytest.raises(JournalReplaced):
            state.snapshot()
    finally:
        state.close()
    assert list_snapshots(tmp_path / "var") == []


# ---------------------------------------------------------------------------------------------- snapshots


def _snapshot_set(directory: Path, seq: int, kinds: tuple[str, ...] = ("snapshot", REPORTS_KIND)) -> None:
    for kind in kinds:
        write_snapshot(directory, seq, b"state %d" % seq, kind=kind)


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in (directory / SNAPSHOT_DIR).iterdir())


@pytest.mark.not_per_book
def test_pruning_keeps_the_newest_complete_snapshots_with_their_companions(tmp_path: Path) -> None:
    for seq in (10, 20, 30, 40, 50):
        _snapshot_set(tmp_path, seq)
    _snapshot_set(tmp_path, 45, kinds=(REPORTS_KIND,))  # a companion a killed stop left alone
    _snapshot_set(tmp_path, 35, kinds=("snapshot",))  # a snapshot the node cannot start from

    removed = prune_snapshots(tmp_path, keep=3, written=50, companions=(REPORTS_KIND,))

    assert _names(tmp_path) == [f"{kind}-{seq:012d}.cxs" for kind in (REPORTS_KIND, "snapshot") for seq in (30, 40, 50)]
    assert len(removed) == 6
    assert list_snapshots(tmp_path) == [30, 40, 50]


@pytest.mark.not_per_book
def test_pruning_never_removes_the_snapshot_just_written(tmp_path: Path) -> None:
    _snapshot_set(tmp_path, 7, kinds=("snapshot",))  # written without its companion: still kept
    _snapshot_set(tmp_path, 5)

    prune_snapshots(tmp_path, keep=1, written=7, companions=(REPORTS_KIND,))

    assert list_snapshots(tmp_path) == [5, 7]
    with pytest.raises(ValueError, match="at least one"):
        prune_snapshots(tmp_path, keep=0, written=7)


@pytest.mark.not_per_book
def test_stale_temporaries_are_removed_and_nothing_else(tmp_path: Path) -> None:
    _snapshot_set(tmp_path, 3)
    folder = tmp_path / SNAPSHOT_DIR
    for name in (".snapshot-000000000009.cxs.k1f2.tmp", ".reports-000000000009.cxs.zz.tmp", "notes.tmp"):
        (folder / name).write_bytes(b"partial")

    removed = remove_stale_temporaries(tmp_path)

    assert [p.name for p in removed] == [".reports-000000000009.cxs.zz.tmp", ".snapshot-000000000009.cxs.k1f2.tmp"]
    assert _names(tmp_path) == ["notes.tmp", "reports-000000000003.cxs", "snapshot-000000000003.cxs"]


def _keep(config_dir: Path, keep: int) -> Path:
    node_toml = config_dir / "node.toml"
    node_toml.write_text(f"snapshots_keep = {keep}\n" + node_toml.read_text())
    return config_dir


def test_the_node_keeps_its_newest_snapshots_and_recovers_from_the_newest(config_dir: Path, tmp_path: Path) -> None:
    loaded = load_config(_keep(config_dir, 2))
    data_dir = tmp_path / "var"
    state = open_node_state(loaded, data_dir, clock=lambda: NOON)
    try:
        for amount in range(1, 5):  # snapshots_keep + 2 snapshots
            state.sequencer.submit_batch([DepositCash(account="A001", amount=amount)])
            state.snapshot()
        written = state.journal.last_seq
        state_hash = state.exchange.state_hash()
    finally:
        state.close()

    assert list_snapshots(data_dir) == [written - 1, written]
    assert _names(data_dir) == [
        f"{kind}-{seq:012d}.cxs" for kind in (BARS_KIND, REPORTS_KIND, "snapshot") for seq in (3, 4)
    ]
    restarted = open_node_state(loaded, data_dir, clock=lambda: NOON)
    try:
        assert (restarted.snapshot_seq, restarted.replayed) == (written, 0)
        assert restarted.exchange.state_hash() == state_hash
    finally:
        restarted.close()


@pytest.mark.not_per_book
def test_the_node_removes_stale_temporaries_at_start(config_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    stale = data_dir / SNAPSHOT_DIR / ".snapshot-000000000004.cxs.x7.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a snapshot")

    open_node_state(load_config(config_dir), data_dir, clock=lambda: NOON).close()

    assert not stale.exists()


@pytest.mark.not_per_book
@pytest.mark.parametrize("keep", [0, -1])
def test_snapshots_keep_below_one_is_a_one_line_config_error(config_dir: Path, keep: int) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(_keep(config_dir, keep))

    assert str(error.value) == f"{config_dir / 'node.toml'}: snapshots_keep: must be >= 1, got {keep}"


# ---------------------------------------------------------------------------------------------- end to end


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "carbonx", *argv]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def _buy(node: NodeProcess, price: int, timeout_ms: int = 5_000) -> list[object]:
    with MemberClient.from_keys(node.order_entry, "M001", node.keys_dir, timeout_ms=timeout_ms) as member:
        return list(member.new_order("A001", "SHEA2025", Side.BUY, 10, price).events)


@pytest.mark.e2e
@pytest.mark.not_per_book
def test_simulate_overwrite_on_a_running_nodes_directory_is_refused_and_the_node_is_untouched(tmp_path: Path) -> None:
    # Issue 12 item 9, as reported: `carbonx simulate --overwrite` into the directory of a running node.
    config = make_config(tmp_path)
    node = NodeProcess(config, tmp_path / "var").start()
    try:
        assert any(isinstance(e, OrderAccepted) for e in _buy(node, 7900))
        before = files(node.data_dir)

        simulate = _cli("simulate", "--config", str(config), "--data-dir", str(node.data_dir), "--overwrite")

        assert simulate.returncode == 2 and simulate.stdout == ""
        assert simulate.stderr == (
            f"carbonx simulate: error: {node.data_dir}: in use by a running carbonx node (journal locked); "
            "nothing changed\n"
        )
        assert files(node.data_dir) == before
        assert any(isinstance(e, OrderAccepted) for e in _buy(node, 7901))  # the node goes on, journaled
        assert node.stop() == 0
    finally:
        node.close()
    recovered = recover(node.data_dir, recorded_config(node.data_dir))
    funded = sum(c.amount for c in funding_commands(recovered.exchange.config) if isinstance(c, DepositCash))
    assert recovered.exchange.ledger.deposited == funded  # the demo funding once: no simulation mixed in
    assert recovered.exchange.ledger.conservation() == []
    assert [r.command.price for r in read_journal(node.data_dir) if hasattr(r.command, "price")] == [7900, 7901]


@pytest.mark.e2e
@pytest.mark.not_per_book
@pytest.mark.parametrize("change", [_delete, _replace], ids=["deleted", "replaced"])
def test_a_node_whose_journal_is_deleted_or_replaced_halts_without_acknowledging(
    tmp_path: Path, change: Callable[[Path], None]
) -> None:
    node = NodeProcess(make_config(tmp_path), tmp_path / "var").start()
    try:
        snapshots_before = list_snapshots(node.data_dir)
        change(node.data_dir / JOURNAL_FILE)

        with pytest.raises(GatewayError, match="no answer"):
            _buy(node, 7900, timeout_ms=2_000)
        assert node.process is not None
        status = node.process.wait(20)
        stderr = node.stderr()
    finally:
        node.close()

    assert status != 0
    assert "Traceback" not in stderr
    critical = [line for line in stderr.splitlines() if '"level": "critical"' in line or '"level":"critical"' in line]
    assert len(critical) == 1 and "journal.append_failed" in critical[0], stderr
    assert list_snapshots(node.data_dir) == snapshots_before  # nothing written beside a journal that is not its own
    assert not (node.data_dir / ENDPOINTS_FILE).exists()  # no tool is sent to a node that is gone


@pytest.mark.e2e
@pytest.mark.not_per_book
def test_a_running_node_prunes_its_snapshots_and_clears_stale_temporaries(tmp_path: Path) -> None:
    config = _keep(make_config(tmp_path), 1)
    data_dir = tmp_path / "var"
    node = NodeProcess(config, data_dir).start()
    try:
        _buy(node, 7900)
        assert node.stop() == 0
    finally:
        node.close()
    (first,) = list_snapshots(data_dir)
    stale = [data_dir / SNAPSHOT_DIR / f".{kind}-000000000999.cxs.killed.tmp" for kind in ("snapshot", REPORTS_KIND)]
    for path in stale:
        path.write_bytes(b"a stop killed mid-write")

    node = NodeProcess(config, data_dir).start()
    try:
        assert not any(path.exists() for path in stale)  # removed before the node said "ready"
        _buy(node, 7901)
        assert node.stop() == 0
    finally:
        node.close()

    (second,) = list_snapshots(data_dir)
    assert second > first
    assert _names(data_dir) == [f"{kind}-{second:012d}.cxs" for kind in (BARS_KIND, REPORTS_KIND, "snapshot")]
    node = NodeProcess(config, data_dir).start()
    try:
        assert f"0 replayed after snapshot {second:,}" in node.banner[0]
        assert node.stop() == 0
    finally:
        node.close()
