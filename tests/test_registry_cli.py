"""`carbonx registry ...`: files applied to a data directory through the journal, whole or not at all."""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

import msgspec
import pytest
from structlog.testing import capture_logs

from carbonx.cli import main, registry_cmd
from carbonx.config import load_config
from carbonx.data_dir import CommandsRejected, DataDirUnavailable, apply_commands, open_exchange
from carbonx.logs import configure_logging
from carbonx.registry_files import RegistryFileError
from engine.config import ExchangeConfig
from engine.journal import JOURNAL_FILE, Journal, read_journal
from engine.messages import (
    AllocateAllowances,
    AllowancesAllocated,
    CashDeposited,
    Command,
    DepositCash,
    RecordRegistryFile,
    SurrenderAllowances,
    WithdrawCash,
)
from engine.recovery import DataDirError, record_config, recover
from tests.conftest import market_config

ROOT = Path(__file__).resolve().parent.parent
REAL_CONFIG = load_config(ROOT / "config").exchange
EXAMPLE_RUN = re.compile(r"^\s+carbonx registry (\S+) (examples/registry/\S+)$", re.MULTILINE)


def data_dir(tmp_path: Path, config: ExchangeConfig = REAL_CONFIG) -> Path:
    directory = tmp_path / "var"
    record_config(directory, config)
    return directory


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def last_seq(directory: Path) -> int:
    return recover(directory, REAL_CONFIG).last_seq


def journaled(directory: Path) -> list[Command]:
    return [record.command for record in read_journal(directory)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_record(path: Path, operation: str, commands: int, again: bool = False) -> RecordRegistryFile:
    """The record that leads a file's batch in the journal."""
    return RecordRegistryFile(operation=operation, sha256=sha256(path), name=path.name, commands=commands, again=again)


def run_registry(*argv: str) -> int:
    """Run ``carbonx registry ...`` through the subcommand's own parser (as main will, once wired)."""
    parser = argparse.ArgumentParser(prog="carbonx")
    registry_cmd.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["registry", *argv])
    configure_logging("warning")
    status: int = args.run(args)
    return status


def registry(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """A successful run's stdout lines."""
    capsys.readouterr()  # what the arrangement printed (structlog's default renderer writes to stdout)
    assert run_registry(*argv) == 0
    return capsys.readouterr().out.splitlines()


def registry_error(*argv: str) -> RegistryFileError:
    with pytest.raises(RegistryFileError) as error:
        run_registry(*argv)
    return error.value


# ---------------------------------------------------------------------------------------------- apply


def test_apply_journals_exactly_the_commands_as_one_batch_and_replay_shows_them(tmp_path: Path) -> None:
    directory = data_dir(tmp_path, market_config())
    commands: list[Command] = [
        DepositCash(account="A2", amount=500_000),
        AllocateAllowances(account="A2", instrument="CCER", quantity=700),
    ]

    outcomes = apply_commands(directory, commands, fsync=False, clock=lambda: 1_700_000_000_000_000_000)

    assert outcomes == [
        [CashDeposited(ts_event=1_700_000_000_000_000_000, account="A2", amount=500_000)],
        [AllowancesAllocated(ts_event=1_700_000_000_000_000_000, account="A2", instrument="CCER", quantity=700)],
    ]
    records = list(read_journal(directory))
    assert [(r.seq, r.ts, r.command) for r in records] == [
        (1, 1_700_000_000_000_000_000, commands[0]),
        (2, 1_700_000_000_000_000_000, commands[1]),
    ]
    replayed = recover(directory, market_config()).exchange
    assert replayed.ledger.cash("A2").available == 500_000
    assert replayed.ledger.holding("A2", "CCER").available == 700


def test_an_applied_batch_is_logged_once_at_the_boundary(tmp_path: Path) -> None:
    directory = data_dir(tmp_path, market_config())
    configure_logging("info")  # as `carbonx --log-level info` does; an earlier test may have left warning

    with capture_logs() as logs:
        apply_commands(
            directory, [DepositCash(account="A2", amount=1), DepositCash(account="A3", amount=2)], fsync=False
        )

    assert logs == [
        {"event": "commands.applied", "log_level": "info", "directory": str(directory), "commands": 2, "last_seq": 2}
    ]


def test_a_rejected_command_applies_nothing(tmp_path: Path) -> None:
    directory = data_dir(tmp_path, market_config())
    apply_commands(directory, [DepositCash(account="A2", amount=100)], fsync=False)

    with pytest.raises(CommandsRejected) as error:
        apply_commands(
            directory,
            [DepositCash(account="A3", amount=5), WithdrawCash(account="A2", amount=101)],
            fsync=False,
        )

    assert error.value.rejections == [(1, "NOT_WITHDRAWABLE: amount=101 withdrawable=100")]
    assert journaled(directory) == [DepositCash(account="A2", amount=100)]


def test_a_data_directory_held_by_a_running_node_is_refused(tmp_path: Path) -> None:
    directory = data_dir(tmp_path, market_config())

    with Journal.open(directory, fsync=False), pytest.raises(DataDirUnavailable) as error:
        apply_commands(directory, [DepositCash(account="A2", amount=1)], fsync=False)

    assert str(error.value) == f"{directory}: in use by a running carbonx node (journal locked)"


def test_missing_or_foreign_directory_is_one_line_and_left_untouched(tmp_path: Path) -> None:
    foreign = tmp_path / "not-a-data-dir"
    foreign.mkdir()

    with pytest.raises(DataDirUnavailable) as missing:
        apply_commands(tmp_path / "nope", [DepositCash(account="A2", amount=1)], fsync=False)
    with pytest.raises(DataDirError) as not_data:
        apply_commands(foreign, [DepositCash(account="A2", amount=1)], fsync=False)

    assert str(missing.value) == f"{tmp_path / 'nope'}: no such data directory"
    assert str(not_data.value) == f"{foreign}: not a carbonx data directory (no exchange-config.json)"
    assert not (tmp_path / "nope").exists()
    assert list(foreign.iterdir()) == []


# ---------------------------------------------------------------------------------------------- the command


def test_allocate_prints_each_row_totals_and_the_journal(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = data_dir(tmp_path)
    path = write(
        tmp_path,
        "allocate.csv",
        "account,instrument,quantity,compliance_only\nA001,SHEA2025,300000,\nA002,SHEA2025,20000,true\nA002,CCER,50,\n",
    )

    out = registry(capsys, "allocate", str(path), "--data-dir", str(directory))

    assert out == [
        "carbonx registry allocate: 3 commands applied",
        "allocated 300,000 t SHEA2025 to A001",
        "allocated 20,000 t SHEA2025 to A002 (compliance-only)",
        "allocated 50 t CCER to A002",
        "total allocated: 50 t CCER",
        "total allocated: 320,000 t SHEA2025",
        f"file allocate.csv recorded: sha256 {sha256(path)}",
        f"journal {directory}: seq 1-4 appended, last seq 4",
    ]
    assert journaled(directory) == [
        file_record(path, "allocate", 3),
        AllocateAllowances(account="A001", instrument="SHEA2025", quantity=300_000),
        AllocateAllowances(account="A002", instrument="SHEA2025", quantity=20_000, compliance_only=True),
        AllocateAllowances(account="A002", instrument="CCER", quantity=50),
    ]
    holding = recover(directory, REAL_CONFIG).exchange.ledger.holding("A002", "SHEA2025")
    assert (holding.available, holding.compliance) == (0, 20_000)


def test_surrender_reports_coverage_and_shortfall(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = data_dir(tmp_path)
    apply_commands(directory, [AllocateAllowances(account="A001", instrument="SHEA2025", quantity=95_000)], fsync=False)
    path = write(
        tmp_path,
        "surrender.toml",
        '[[surrender]]\naccount = "A001"\ncompliance_year = 2025\nverified_emissions = 100_000\n',
    )

    out = registry(capsys, "surrender", str(path), "--data-dir", str(directory))

    assert out[:2] == [
        "carbonx registry surrender: 1 command applied",
        "surrendered for 2025: A001 covered 95,000/100,000 t, short 5,000 t (SHEA2025 95,000 t)",
    ]
    assert journaled(directory)[-1] == SurrenderAllowances(
        account="A001", compliance_year=2025, verified_emissions=100_000
    )


def test_rows_the_exchange_would_reject_are_all_named_and_nothing_is_journaled(tmp_path: Path) -> None:
    directory = data_dir(tmp_path)
    apply_commands(directory, [DepositCash(account="A101", amount=25_000_050)], fsync=False)
    before = last_seq(directory)
    path = write(
        tmp_path,
        "withdraw.csv",
        "account,amount_cny\nA101,100.00\nA101,250000.00\nA999,1\n",
    )

    error = registry_error("withdraw", str(path), "--data-dir", str(directory))

    assert error.problems == [
        f"{path}:3: NOT_WITHDRAWABLE: amount=250,000.00 CNY withdrawable=249,900.50 CNY",
        f"{path}:4: UNKNOWN_ACCOUNT: account=A999",
    ]
    assert str(error).splitlines()[0] == f"{path}: 2 rows rejected by the exchange; nothing applied"
    assert last_seq(directory) == before
    assert journaled(directory) == [DepositCash(account="A101", amount=25_000_050)]


def test_a_bad_row_stops_the_file_before_the_data_directory_is_touched(tmp_path: Path) -> None:
    directory = data_dir(tmp_path)
    path = write(tmp_path, "allocate.csv", "account,instrument,quantity\nA001,SHEA2025,100\nA001,SHEA2025,12.5\n")

    error = registry_error("allocate", str(path), "--data-dir", str(directory))

    assert error.problems == [f'{path}:3: quantity: expected a whole number of tonnes, got "12.5"']
    assert not (directory / JOURNAL_FILE).exists()


def test_dry_run_shows_what_would_be_applied_and_journals_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    directory = data_dir(tmp_path)
    apply_commands(directory, [DepositCash(account="A001", amount=100)], fsync=False)
    path = write(tmp_path, "deposit.csv", "account,amount_cny\nA002,1234.50\n")

    out = registry(capsys, "deposit", str(path), "--data-dir", str(directory), "--dry-run")

    assert out == [
        "carbonx registry deposit: 1 command checked, dry run: nothing applied; would apply",
        "  deposited 1,234.50 CNY to A002",
        "total deposited: 1,234.50 CNY",
        f"  file deposit.csv would record: sha256 {sha256(path)}",
    ]
    assert journaled(directory) == [DepositCash(account="A001", amount=100)]


def test_dry_run_reports_rejects_too(tmp_path: Path) -> None:
    directory = data_dir(tmp_path)
    path = write(tmp_path, "merge.csv", "account,successor\nA103,A103\n")

    error = registry_error("merge", str(path), "--data-dir", str(directory), "--dry-run")

    assert error.problems == [f"{path}:2: INVALID_SUCCESSOR: account=A103 successor=A103"]


def test_the_data_directory_defaults_to_the_node_data_dir_of_the_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    for source in (ROOT / "config").glob("*.toml"):
        (config_dir / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    directory = tmp_path / "node-var"
    (config_dir / "node.toml").write_text(f'data_dir = "{directory}"\nfsync = false\n', encoding="utf-8")
    record_config(directory, load_config(config_dir).exchange)
    path = write(tmp_path, "deposit.toml", '[[deposit]]\naccount = "A001"\namount_fen = 5\n')

    out = registry(capsys, "deposit", str(path), "--config", str(config_dir))

    assert out[-1] == f"journal {directory}: seq 1-2 appended, last seq 2"
    assert journaled(directory) == [file_record(path, "deposit", 1), DepositCash(account="A001", amount=5)]


def test_help_lists_every_operation_and_each_shows_its_columns(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="carbonx")
    registry_cmd.add_parser(parser.add_subparsers(dest="command"))

    with pytest.raises(SystemExit):
        parser.parse_args(["registry", "--help"])
    listing = capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["registry", "split", "--help"])
    split_help = capsys.readouterr().out

    for operation in ("allocate", "deposit", "withdraw", "surrender", "cancel", "carry-over", "merge", "split"):
        assert re.search(rf"^\s+{operation}\s+\S", listing, re.MULTILINE), operation
    assert "account,to_account,cash_fen,instrument,quantity" in split_help
    assert "[[split.part]]" in split_help
    assert "--dry-run" in split_help


# ---------------------------------------------------------------------------------------------- the examples


def documented_example_runs() -> list[tuple[str, str]]:
    text = (ROOT / "docs" / "REGISTRY.md").read_text(encoding="utf-8")
    return EXAMPLE_RUN.findall(text)


def test_the_documented_example_order_covers_every_example_file() -> None:
    runs = documented_example_runs()

    assert sorted(path for _, path in runs) == sorted(
        f"examples/registry/{p.name}" for p in (ROOT / "examples" / "registry").iterdir()
    )
    assert [operation for operation, _ in runs][:1] == ["allocate"]


def test_every_example_applies_in_the_documented_order_to_the_real_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    directory = data_dir(tmp_path)

    for operation, path in documented_example_runs():
        registry(capsys, operation, str(ROOT / path), "--data-dir", str(directory), "--dry-run")
        registry(capsys, operation, str(ROOT / path), "--data-dir", str(directory))

    exchange = open_exchange(directory).exchange
    ledger = exchange.ledger
    assert ledger.conservation() == []
    assert ledger.cash("A101").available == 10_000_050  # 250,000.50 − 50,000.00 − 100,000.00 by the split
    assert ledger.holding("A101", "SHEA2025").available == 16_000  # 10,000 + 10,000 carried over − 4,000
    assert ledger.cash("A102").available == 2_500_025  # 5,000.25 + 20,000.00 from the merger of A103
    assert ledger.holding("A001", "SHEA2025").available == 15_000  # 30,000 after surrender − 15,000 by the split
    assert "A103" in ledger.closed
    record = {(r.account, r.compliance_year): r for r in exchange.registry.state().compliance}
    assert (record["A002", 2024].covered, record["A002", 2024].complete) == (53_000, False)


# ---------------------------------------------------------------------------------------------- wired into main


def test_main_prints_a_bad_row_as_one_error_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = data_dir(tmp_path)
    path = write(tmp_path, "cancel.csv", "account,instrument,quantity\nA001,CCER,1e3\n")

    status = main(["registry", "cancel", str(path), "--data-dir", str(directory)])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert (
        captured.err == f'carbonx registry: error: {path}:2: quantity: expected a whole number of tonnes, got "1e3"\n'
    )


def test_main_applies_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = data_dir(tmp_path)
    path = write(tmp_path, "deposit.csv", "account,amount_fen\nA001,700\n")

    status = main(["registry", "deposit", str(path), "--data-dir", str(directory)])

    assert status == 0
    assert capsys.readouterr().out.splitlines()[1] == "deposited 7.00 CNY to A001"
    assert msgspec.structs.asdict(journaled(directory)[1]) == {"version": 1, "account": "A001", "amount": 700}
