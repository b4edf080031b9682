"""`carbonx simulate` runs the whole day to the end-of-day database; `carbonx eod report` reads what it left.

`carbonx simulate --overwrite` on the shipped config (what `make run` did before the node): these tests run
the same command on a copy of config/ whose data_dir points into tmp_path, with --data-dir there too (a
simulation has its own default directory, never the node's).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from carbonx.cli import main
from carbonx.config import load_config
from carbonx.data_dir import apply_commands
from carbonx.simulation import SimulationError, prepare_data_dir, run_simulation
from carbonx.statements_db import DB_FILE, StatementStore
from engine.journal import JOURNAL_FILE, Journal
from engine.messages import DepositCash
from engine.recovery import CONFIG_FILE, recorded_config, recover

ROOT = Path(__file__).resolve().parent.parent
DAY = "2026-11-23"


def shipped_config_with_data_dir(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    data_dir = tmp_path / "var"
    node = config / "node.toml"
    text = node.read_text(encoding="utf-8").replace('data_dir = "var"', f'data_dir = "{data_dir}"')
    node.write_text(text.replace("fsync = true", "fsync = false"), encoding="utf-8")
    return config, data_dir


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def simulated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path, str]:
    config, data_dir = shipped_config_with_data_dir(tmp_path)
    argv = ["--config", str(config), "--data-dir", str(data_dir), "--orders", "800", "--date", DAY, "--overwrite"]
    status, out, err = run(capsys, "simulate", *argv)
    assert (status, err) == (0, "")
    return config, data_dir, out


@pytest.mark.not_per_book
def test_a_simulated_day_makes_its_journal_durable_once_before_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With fsync on (node.toml), the journal is synced once after the end of day, before the
    database that projects it, instead of once per command (which was ~80% of the day's time)."""
    steps: list[str] = []
    real_sync, real_record = Journal.sync, StatementStore.record

    def sync(journal: Journal) -> None:
        steps.append(f"sync at seq {journal.last_seq}")
        real_sync(journal)

    def record(store: StatementStore, events: Any) -> Any:
        steps.append("database")
        return real_record(store, events)

    monkeypatch.setattr(Journal, "sync", sync)
    monkeypatch.setattr(StatementStore, "record", record)
    config = load_config(ROOT / "config").exchange
    result = run_simulation(config, tmp_path / "sim", seed=3, orders=300, trading_day=dt.date(2026, 11, 23), fsync=True)

    assert steps == [f"sync at seq {result.commands}", "database"]
    assert recover(tmp_path / "sim", recorded_config(tmp_path / "sim")).exchange.state_hash() == result.state_hash


@pytest.mark.per_book
def test_simulate_allocates_closes_the_day_and_prints_conservation(simulated: tuple[Path, Path, str]) -> None:
    _, data_dir, out = simulated

    lines = {line.split("  ")[0]: line for line in out.splitlines() if line}
    # 3 covered entities x 500,000 + 1 institution x 600,000 + 3 individuals x 60,000, over 4 instruments' kinds.
    assert lines["opening"].endswith("allocated 4,160,000 t")
    assert lines["conservation"] == "conservation       OK: every tonne and fen accounted for"
    assert f"database {data_dir / DB_FILE}" in lines["statements"]
    assert lines["report"] == f"report             carbonx eod report --date {DAY} --data-dir {data_dir}"
    assert (data_dir / JOURNAL_FILE).exists() and (data_dir / DB_FILE).exists()


@pytest.mark.per_book
def test_eod_report_reads_the_data_simulate_left(
    simulated: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, data_dir, _ = simulated

    status, out, err = run(capsys, "eod", "report", "--date", DAY, "--config", str(config), "--format", "json")

    assert (status, err) == (0, "")
    report = json.loads(out)
    ledger = recover(data_dir, recorded_config(data_dir)).exchange.ledger
    closing = {s["account"]: s["cash"]["closing"] for s in report["accounts"]}
    assert closing == {a: ledger.cash(a).total for a in ledger.accounts() if ledger.cash(a).total}
    assert sum(closing.values()) == ledger.deposited - ledger.withdrawn
    assert sum(m["net"] for m in report["member_settlements"]) == 0
    assert report["conservation"]["ok"] is True
    status, table, _ = run(capsys, "eod", "report", "--date", DAY, "--config", str(config), "--account", "A001")
    assert status == 0 and "Account A001" in table and "Account A002" not in table


@pytest.mark.per_book
def test_an_end_of_day_missing_from_the_database_is_recorded_at_the_next_opening(
    simulated: tuple[Path, Path, str],
) -> None:
    # As if the process stopped after journaling the EndOfDay but before writing the database: the
    # database is a projection of the journal, and the next command applied brings it up to date.
    _, data_dir, _ = simulated
    with StatementStore.open(data_dir / DB_FILE) as store:
        recorded = store.statements(20261123)
    for name in (DB_FILE, DB_FILE + "-wal", DB_FILE + "-shm"):
        (data_dir / name).unlink(missing_ok=True)
    shutil.rmtree(data_dir / "snapshots")

    apply_commands(data_dir, [DepositCash(account="A001", amount=100)], fsync=False)

    with StatementStore.open(data_dir / DB_FILE) as store:
        assert store.statements(20261123) == recorded


def test_overwrite_removes_only_the_exchange_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    (data_dir / "snapshots").mkdir(parents=True)
    for name in (CONFIG_FILE, JOURNAL_FILE, DB_FILE, "snapshots/snapshot-000000000001.cxs", "notes.txt"):
        (data_dir / name).write_text("x", encoding="utf-8")
    (data_dir / "simulate-seed1").mkdir()

    with pytest.raises(SimulationError, match="--overwrite"):
        prepare_data_dir(data_dir, overwrite=False, fsync=False)
    with prepare_data_dir(data_dir, overwrite=True, fsync=False) as journal:
        assert journal.last_seq == 0

    # The journal is emptied in place (the locked file stays the one at the path), the rest removed.
    assert sorted(p.name for p in data_dir.iterdir()) == [JOURNAL_FILE, "notes.txt", "simulate-seed1"]
    assert (data_dir / JOURNAL_FILE).read_bytes() == b"CXJRNL01"


def test_carbonx_files_without_their_config_are_left_alone(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / JOURNAL_FILE).write_bytes(b"CXJRNL01")

    with pytest.raises(SimulationError, match="refusing to touch it"):
        prepare_data_dir(data_dir, overwrite=True, fsync=False)
    assert (data_dir / JOURNAL_FILE).read_bytes() == b"CXJRNL01"
