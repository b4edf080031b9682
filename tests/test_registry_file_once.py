"""A registry file is applied once (issue 12, item 11).

The same registry file applied twice credited twice. The rule behind it: a file's batch starts with
its record (operation, SHA-256 of its bytes, name), the exchange keeps every file it applied, and a
second batch of the same operation and content is rejected at that record, so the atomic batch
applies nothing, whatever the operation, whichever way the file arrives (offline or through a
running node), dry run or not. ``--again`` applies it once more, on purpose.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest

from carbonx.cli import main
from carbonx.config import load_config
from carbonx.data_dir import open_exchange
from engine.exchange import Exchange
from engine.journal import JOURNAL_FILE, read_journal
from engine.messages import (
    DepositCash,
    HaltInstrument,
    RecordRegistryFile,
    RegistryFileRecorded,
    Reject,
    RequestRejected,
    WithdrawCash,
    reject_text,
)
from engine.recovery import record_config, recorded_config, recover
from gateway.authorise import authorise
from gateway.protocol import Refused, SubmitBatch
from gateway.reports import ReportBook
from tests.conftest import Market
from tests.gateway_helpers import RR, member_access, trading_harness
from tests.node_process import REPO, NodeProcess, make_config
from tests.test_registry_cli import documented_example_runs

ROOT = Path(__file__).resolve().parent.parent
SHA = "5e" * 32


def record(operation: str = "deposit", name: str = "deposit.csv", again: bool = False) -> RecordRegistryFile:
    return RecordRegistryFile(operation=operation, sha256=SHA, name=name, commands=1, again=again)


# ---------------------------------------------------------------------------------------------- the engine


def test_a_file_is_recorded_and_the_same_again_is_refused_naming_the_first(market: Market) -> None:
    (recorded,) = market.send(record())
    first_ts = market.ts

    (refused,) = market.send(record(name="renamed.csv"))

    assert recorded == RegistryFileRecorded(
        ts_event=first_ts, operation="deposit", sha256=SHA, name="deposit.csv", commands=1, again=False, applications=1
    )
    assert isinstance(refused, RequestRejected)
    assert refused.code is Reject.REGISTRY_FILE_ALREADY_APPLIED
    assert refused.text == (
        f"REGISTRY_FILE_ALREADY_APPLIED: operation=deposit digest={SHA} name=deposit.csv "
        f"first_ts={first_ts} applications=1"
    )


def test_again_applies_it_once_more_and_a_later_refusal_still_names_the_first(market: Market) -> None:
    market.send(record())
    first_ts = market.ts

    (again,) = market.send(record(again=True))
    (refused,) = market.send(record())

    assert isinstance(again, RegistryFileRecorded) and (again.again, again.applications) == (True, 2)
    assert isinstance(refused, RequestRejected)
    assert f"first_ts={first_ts} applications=2" in refused.text


def test_the_same_bytes_for_another_operation_are_another_file(market: Market) -> None:
    # A deposit file and a withdrawal file can hold the same accounts and amounts, byte for byte.
    market.send(record(operation="deposit"))

    (other,) = market.send(record(operation="withdraw", name="withdraw.csv"))

    assert isinstance(other, RegistryFileRecorded) and other.applications == 1


def test_the_files_applied_are_part_of_the_state(market: Market, book_kind: str) -> None:
    market.send(record())
    exchange = market.exchange

    restored = Exchange.from_snapshot(exchange.config, exchange.snapshot(), book_kind)

    assert restored.state_hash() == exchange.state_hash()
    assert restored.registry.state().registry_files == exchange.registry.state().registry_files
    (refused,) = restored.apply(record(), ts=99)
    assert isinstance(refused, RequestRejected) and refused.code is Reject.REGISTRY_FILE_ALREADY_APPLIED


def version_1_snapshot(exchange: Exchange, with_files: bool) -> bytes:
    """The exchange's state in the layout of snapshots written before the state came in parts:
    one flat record (``engine.legacy_state``), and before that without the files applied."""
    state = exchange.state()
    parts = {name: msgspec.msgpack.decode(raw) for name, raw in state.parts}
    instruments, orders, client_order_ids, next_order_id, next_trade_id = parts["listing"]
    *market, halts = parts["market_day"]  # version 1 kept an instrument's halt with its figures
    instruments = [
        [code, reference, code in halts, halts.get(code, ""), *figures] for code, reference, *figures in instruments
    ]
    fees_today = 0  # version 1 kept the listing's fees of the day; the end of day now asks the ledger
    compliance, files = parts["registry"]
    ledger = msgspec.msgpack.decode(msgspec.msgpack.encode(state.ledger))
    flat = [market, instruments, orders, ledger, client_order_ids, next_order_id, next_trade_id,
            fees_today, compliance]  # fmt: skip
    return msgspec.msgpack.encode([*flat, files] if with_files else flat)


@pytest.mark.per_book
@pytest.mark.parametrize("with_files", [True, False], ids=["version 1", "before the files were kept"])
def test_a_snapshot_of_an_earlier_layout_still_loads(market: Market, book_kind: str, with_files: bool) -> None:
    market.buy("A2", 100, 8000)  # an order resting, its cash frozen
    market.send(HaltInstrument(instrument="CCER", reason="news pending"))
    if with_files:
        market.send(record())
    exchange = market.exchange

    restored = Exchange.from_snapshot(exchange.config, version_1_snapshot(exchange, with_files), book_kind)

    assert restored.state_hash() == exchange.state_hash()


# ---------------------------------------------------------------------------------------------- the gateway


def test_only_the_regulator_may_send_a_file_record() -> None:
    access = {a.role: a for a in member_access()}

    assert authorise(access["regulator"], record()) is None
    for role in ("member", "surveillance"):
        problem = authorise(access[role], record())
        assert problem is not None and problem[0] is Reject.NOT_AUTHORISED


def test_a_file_record_outside_an_atomic_batch_is_refused() -> None:
    # Alone it would record a file never applied, and refuse the real one later.
    h = trading_harness()

    h.submit(RR, "REGU", record(), request_id=3)
    h.send(RR, "REGU", SubmitBatch(request_id=4, commands=[record()]))  # type: ignore[list-item]

    text = reject_text(Reject.NOT_AUTHORISED, command="RecordRegistryFile", atomic=False)
    assert h.take(RR) == [Refused(request_id=n, code=Reject.NOT_AUTHORISED, text=text) for n in (3, 4)]
    assert h.gateway.work == []


def test_the_record_is_reported_to_the_regulator_that_sent_it() -> None:
    book = ReportBook(member_access())
    event = RegistryFileRecorded(operation="deposit", sha256=SHA, name="d.csv", commands=1, again=False, applications=1)

    routed = book.route("REGU", 7, record(), [event], journal_seq=1)

    assert [(member, report.request_id, report.event) for member, report in routed.reports] == [
        ("EXCH", 0, event),  # surveillance sees every event
        ("REGU", 7, event),
    ]


# ---------------------------------------------------------------------------------------------- the command, offline


def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "var"
    record_config(directory, load_config(ROOT / "config").exchange)
    return directory


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def registry(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["registry", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def first_application_line(path: Path, directory: Path, seq: int, name: str, operation: str = "deposit") -> str:
    (first,) = [r for r in read_journal(directory) if r.seq == seq]
    when = dt.datetime.fromtimestamp(first.ts // 1_000_000_000, ZoneInfo("Asia/Shanghai")).isoformat(sep=" ")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return (
        f"carbonx registry: error: {path}: already applied: the same {operation} file (sha256 {sha[:16]}...) "
        f"was applied as {name} at journal seq {seq:,}, {when}; nothing applied (--again applies it once more)\n"
    )


def cash(directory: Path, account: str) -> int:
    return open_exchange(directory).exchange.ledger.cash(account).total


def test_the_same_file_applied_twice_credits_once(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = data_dir(tmp_path)
    path = write(tmp_path, "deposit.csv", "account,amount_fen\nA001,700\n")
    assert registry(capsys, "deposit", str(path), "--data-dir", str(directory))[0] == 0
    journal = (directory / JOURNAL_FILE).read_bytes()

    status, out, err = registry(capsys, "deposit", str(path), "--data-dir", str(directory))

    assert (status, out) == (2, "")
    assert err == first_application_line(path, directory, 1, "deposit.csv")
    assert (directory / JOURNAL_FILE).read_bytes() == journal
    assert cash(directory, "A001") == 700


def test_the_same_content_under_another_name_is_the_same_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    directory = data_dir(tmp_path)
    path = write(tmp_path, "deposit.csv", "account,amount_fen\nA001,700\n")
    copy = write(tmp_path, "deposit-copy.csv", path.read_text(encoding="utf-8"))
    registry(capsys, "deposit", str(path), "--data-dir", str(directory))

    status, _, err = registry(capsys, "deposit", str(copy), "--data-dir", str(directory))

    assert status == 2
    assert err == first_application_line(copy, directory, 1, "deposit.csv")


def test_a_dry_run_reports_the_duplicate_too(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = data_dir(tmp_path)
    path = write(tmp_path, "deposit.csv", "account,amount_fen\nA001,700\n")
    registry(capsys, "deposit", str(path), "--data-dir", str(directory))

    status, out, err = registry(capsys, "deposit", str(path), "--data-dir", str(directory), "--dry-run")

    assert (status, out) == (2, "")
    assert err == first_application_line(path, directory, 1, "deposit.csv")


def test_again_applies_the_file_once_more(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = data_dir(tmp_path)
    path = write(tmp_path, "deposit.csv", "account,amount_fen\nA001,700\n")
    registry(capsys, "deposit", str(path), "--data-dir", str(directory))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()

    status, out, _ = registry(capsys, "deposit", str(path), "--data-dir", str(directory), "--again")

    assert status == 0
    assert f"file deposit.csv recorded: sha256 {sha}, application 2 (--again)" in out.splitlines()
    assert cash(directory, "A001") == 1_400
    records = [r.command for r in read_journal(directory) if isinstance(r.command, RecordRegistryFile)]
    assert [(r.sha256, r.again) for r in records] == [(sha, False), (sha, True)]
    # Without --again a third time is refused, still naming the first application.
    status, _, err = registry(capsys, "deposit", str(path), "--data-dir", str(directory))
    assert status == 2 and err == first_application_line(path, directory, 1, "deposit.csv")


def test_a_deposit_and_a_withdrawal_with_the_same_bytes_both_apply(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    directory = data_dir(tmp_path)
    rows = "account,amount_fen\nA001,700\n"
    deposit, withdraw = write(tmp_path, "in.csv", rows), write(tmp_path, "out.csv", rows)

    files = (("deposit", deposit), ("withdraw", withdraw))
    statuses = [registry(capsys, op, str(path), "--data-dir", str(directory))[0] for op, path in files]

    assert statuses == [0, 0]
    assert [type(r.command) for r in read_journal(directory)] == [
        RecordRegistryFile,
        DepositCash,
        RecordRegistryFile,
        WithdrawCash,
    ]
    assert cash(directory, "A001") == 0


@pytest.mark.not_per_book
def test_every_example_file_applied_a_second_time_is_refused_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The general rule, over every operation: each documented example applies, then is refused.
    directory = data_dir(tmp_path)
    for operation, relative in documented_example_runs():
        path = ROOT / relative
        assert registry(capsys, operation, str(path), "--data-dir", str(directory))[0] == 0, relative
        seq = max(r.seq for r in read_journal(directory) if isinstance(r.command, RecordRegistryFile))
        state, journal = open_exchange(directory).exchange.state_hash(), (directory / JOURNAL_FILE).read_bytes()

        status, out, err = registry(capsys, operation, str(path), "--data-dir", str(directory))

        assert (status, out) == (2, ""), relative
        assert err == first_application_line(path, directory, seq, path.name, operation)
        assert open_exchange(directory).exchange.state_hash() == state
        assert (directory / JOURNAL_FILE).read_bytes() == journal


# ---------------------------------------------------------------------------------------------- through a running node


def run_registry(node: NodeProcess, rows: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "carbonx", "registry", "deposit", str(rows), *extra]
    config = ["--config", str(node.config), "--data-dir", str(node.data_dir)]
    return subprocess.run([*command, *config], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.e2e
@pytest.mark.not_per_book
def test_through_a_running_node_the_same_file_is_applied_once_unless_again(tmp_path: Path) -> None:
    node = NodeProcess(make_config(tmp_path), tmp_path / "var").start()
    try:
        before = recover(node.data_dir, recorded_config(node.data_dir)).exchange.ledger.cash("A003").total
        rows = write(tmp_path, "deposit.csv", "account,amount_cny\nA003,10.00\n")

        applied = run_registry(node, rows)
        assert applied.returncode == 0, applied.stderr
        assert "applied through the node" in applied.stdout
        assert f"file deposit.csv recorded: sha256 {hashlib.sha256(rows.read_bytes()).hexdigest()}" in applied.stdout
        (seq,) = [r.seq for r in read_journal(node.data_dir) if isinstance(r.command, RecordRegistryFile)]

        for extra in ((), ("--dry-run",)):
            refused = run_registry(node, rows, *extra)
            assert (refused.returncode, refused.stdout) == (2, ""), refused.stderr
            assert refused.stderr == first_application_line(rows, node.data_dir, seq, "deposit.csv")

        again = run_registry(node, rows, "--again")
        assert again.returncode == 0, again.stderr
        assert "application 2 (--again)" in again.stdout
        assert node.stop() == 0
    finally:
        node.close()
    after = recover(node.data_dir, recorded_config(node.data_dir)).exchange.ledger
    assert after.cash("A003").total == before + 2 * 1_000  # 10.00 CNY twice: once, then once on purpose
    deposits = [r for r in read_journal(node.data_dir) if isinstance(r.command, DepositCash)]
    assert [r.command for r in deposits][-2:] == [DepositCash(account="A003", amount=1_000)] * 2
