"""End to end: `surveil watch` follows a running node's drop copy and reports an alert as it fires.

The node is a real subprocess (tests/node_process.py); the watch runs in a thread of the test with
the drop-copy client, reading the node's journal read-only while the node writes it. Waits are for
events with deadlines, never sleeps.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from carbonx.cli import main
from engine.messages import OrderRejected, Reject, Side
from gateway.client import MemberClient
from gateway.drop_copy import DropCopyClient
from surveillance.alerts import Alert
from surveillance.cases import list_alerts
from surveillance.settings import SurveillanceSettings
from surveillance.store import Store
from surveillance.watch import WatchSummary, watch
from tests.node_process import REPO, NodeProcess, make_config

pytestmark = [pytest.mark.e2e, pytest.mark.not_per_book]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    root = tmp_path_factory.mktemp("e2e-surveil")
    process = NodeProcess(make_config(root), root / "var").start()
    yield process
    assert process.stop() == 0


def _live_drop_copy(node: NodeProcess, member: MemberClient) -> DropCopyClient:
    """A drop-copy client whose subscription has reached the node (a PUB drops what comes before)."""
    drop_copy = DropCopyClient.from_keys(node.endpoints["drop copy"], "EXCHANGE", node.keys_dir)
    deadline = time.monotonic() + 10
    while not drop_copy.receive(timeout_ms=100):
        assert time.monotonic() < deadline, "the drop copy never delivered"
        member.cancel_all("A101", "SHCER")
    return drop_copy


def test_watch_reports_a_prohibited_participant_as_the_order_arrives(node: NodeProcess, tmp_path: Path) -> None:
    fired: list[tuple[int, Alert]] = []
    alerted, done = threading.Event(), threading.Event()

    def on_alert(alert_id: int, alert: Alert) -> None:
        fired.append((alert_id, alert))
        alerted.set()

    def stop(summary: WatchSummary) -> bool:
        return done.is_set()

    store_dir = tmp_path / "store"
    with MemberClient.from_keys(node.order_entry, "M101", node.keys_dir, timeout_ms=5_000) as member:
        drop_copy = _live_drop_copy(node, member)
        summaries: list[WatchSummary] = []

        def run() -> None:
            summaries.append(
                watch(node.data_dir, store_dir, SurveillanceSettings(), drop_copy, on_alert, stop=stop, interval_ms=50)
            )  # fmt: skip

        watcher = threading.Thread(target=run)
        watcher.start()
        try:
            # A199 is an exchange staff member's account (config/members.toml): Decree 20 Art. 32.
            result = member.new_order("A199", "SHEA2025", Side.BUY, 10, 7_350)
            (rejected,) = [e for e in result.events if isinstance(e, OrderRejected)]
            assert rejected.code is Reject.PROHIBITED_PARTICIPANT
            assert alerted.wait(20), "no alert within 20 s"
            # While watch runs, the analyst's other commands read the same store from another process.
            listed = subprocess.run(
                [sys.executable, "-m", "carbonx", "surveil", "alerts", "--store", str(store_dir), "--config",
                 str(node.config), "--rule", "prohibited"],
                capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60,
            )  # fmt: skip
            assert listed.returncode == 0, listed.stderr
            assert "A199" in listed.stdout
        finally:
            done.set()
            watcher.join(20)
            drop_copy.close()
    assert not watcher.is_alive()
    prohibited = [(i, a) for i, a in fired if a.rule == "prohibited"]
    assert prohibited and prohibited[0][1].subjects == ["A199"]
    assert summaries[0].drop_copies >= 1 and summaries[0].last_seq >= result.journal_seq
    with Store.open(store_dir, read_only=True) as store:
        stored = list_alerts(store.con, rule="prohibited")
    assert [a.alert_id for a in stored] == [prohibited[0][0]]


def _problem(drop_copy: DropCopyClient) -> str | None:
    deadline = time.monotonic() + 10
    while drop_copy.problem is None and time.monotonic() < deadline:
        drop_copy.receive(timeout_ms=100)
    return drop_copy.problem


def test_the_drop_copy_client_says_when_the_node_refuses_its_key(node: NodeProcess) -> None:
    # M001 is a member firm: the drop copy's ZAP domain admits surveillance keys only.
    with DropCopyClient.from_keys(node.endpoints["drop copy"], "M001", node.keys_dir) as drop_copy:
        problem = _problem(drop_copy)
    assert (
        problem == f"{node.endpoints['drop copy']}: the node refused this key on the drop copy (surveillance keys only)"
    )


def test_the_drop_copy_client_says_when_nothing_answers(node: NodeProcess, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    with DropCopyClient.from_keys(endpoint, "EXCHANGE", node.keys_dir) as drop_copy:
        problem = _problem(drop_copy)
    assert problem == f"{endpoint}: no answer (is the node running?); retrying"


def test_watch_with_a_key_the_node_refuses_ends_with_one_line(
    node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys"
    shutil.copytree(node.keys_dir, keys)
    shutil.copy(keys / "M001.key_secret", keys / "EXCHANGE.key_secret")  # not the key members.toml gives EXCHANGE
    endpoint = node.endpoints["drop copy"]

    status = main(
        ["surveil", "watch", "--config", str(node.config), "--data-dir", str(node.data_dir), "--store",
         str(tmp_path / "store"), "--endpoint", endpoint, "--keys-dir", str(keys), "--seconds", "20"]
    )  # fmt: skip

    err = capsys.readouterr().err.splitlines()
    assert status == 2
    assert err[-1] == (
        f"carbonx surveil: error: {endpoint}: the node refused this key on the drop copy (surveillance keys only)"
    )
