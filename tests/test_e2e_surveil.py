"""End to end: `surveil watch` follows a running node's drop copy and reports an alert as it fires.

The node is a real subprocess (tests/node_process.py); the watch runs in a thread of the test with
the drop-copy client, reading the node's journal read-only while the node writes it. Waits are for
events with deadlines, never sleeps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.messages import OrderRejected, Reject, Side
from gateway.client import MemberClient
from gateway.drop_copy import DropCopyClient
from surveillance.alerts import Alert
from surveillance.cases import list_alerts
from surveillance.settings import SurveillanceSettings
from surveillance.store import Store
from surveillance.watch import WatchSummary, watch
from tests.node_process import NodeProcess, make_config

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
        store = Store.open(store_dir)
        summaries: list[WatchSummary] = []

        def run() -> None:
            summaries.append(
                watch(node.data_dir, store, store_dir, SurveillanceSettings(), drop_copy, on_alert, stop=stop,
                      interval_ms=50)
            )  # fmt: skip

        watcher = threading.Thread(target=run)
        watcher.start()
        try:
            # A199 is an exchange staff member's account (config/members.toml): Decree 20 Art. 32.
            result = member.new_order("A199", "SHEA2025", Side.BUY, 10, 7_350)
            (rejected,) = [e for e in result.events if isinstance(e, OrderRejected)]
            assert rejected.code is Reject.PROHIBITED_PARTICIPANT
            assert alerted.wait(20), "no alert within 20 s"
        finally:
            done.set()
            watcher.join(20)
            drop_copy.close()
    assert not watcher.is_alive()
    prohibited = [(i, a) for i, a in fired if a.rule == "prohibited"]
    assert prohibited and prohibited[0][1].subjects == ["A199"]
    assert summaries[0].drop_copies >= 1 and summaries[0].last_seq >= result.journal_seq
    stored = list_alerts(store.con, rule="prohibited")
    assert [a.alert_id for a in stored] == [prohibited[0][0]]
    store.close()
