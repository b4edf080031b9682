"""End to end: the node as a real subprocess over tcp loopback, clients as a member would use them.

One node serves the tests that can share it (each uses its own accounts or instrument); the
restart test runs its own node and kills it. Waits are for messages or process events with a
deadline, never sleeps.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq

import gateway.client
from engine.messages import (
    AllOrdersCancelled,
    CancelReason,
    Event,
    OrderAccepted,
    OrderCancelled,
    Reject,
    RequestRejected,
    Side,
)
from gateway.client import AsyncMemberClient, GatewayError, MemberClient, _Keys
from gateway.client_core import Result
from gateway.keys import load_member_secret, load_server_public
from gateway.protocol import Fill, Logon, LogonAccepted, Refused, drop_copy_decoder, encoder, server_decoder
from market_data.messages import Trade
from market_data.subscriber import Subscriber
from tests.node_process import REPO, NodeProcess, make_config

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def nodes() -> Iterator[dict[str, NodeProcess]]:
    """One node per order book for the module, started when a test on that book first needs it."""
    started: dict[str, NodeProcess] = {}
    yield started
    for process in started.values():
        assert process.stop() == 0, process.stderr()


@pytest.fixture
def node(nodes: dict[str, NodeProcess], book_kind: str, tmp_path_factory: pytest.TempPathFactory) -> NodeProcess:
    if book_kind not in nodes:
        root = tmp_path_factory.mktemp(f"e2e-{book_kind}")
        nodes[book_kind] = NodeProcess(make_config(root), root / "var").start()
    return nodes[book_kind]


def client(node: NodeProcess, member: str, **options: object) -> MemberClient:
    return MemberClient.from_keys(node.order_entry, member, node.keys_dir, timeout_ms=5_000, **options)


def subscriber(node: NodeProcess, **options: object) -> Subscriber:
    return Subscriber(node.endpoints["market data"], node.endpoints["snapshot"], **options)  # type: ignore[arg-type]


def wait_for(poll: Callable[[], list[object]], match: Callable[[object], bool], timeout: float = 5.0) -> object:
    """Poll until a message matches; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in poll():
            if match(message):
                return message
    raise AssertionError("expected message did not arrive")


def of_type(events: list[Event], kind: type[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


# ----------------------------------------------------------------------------------------- trading


@pytest.mark.per_book
def test_a_trade_between_two_members_reports_to_both_and_reaches_market_data(node: NodeProcess) -> None:
    with (
        subscriber(node, instruments=["SHEA2024"]) as md,
        client(node, "M002") as seller,
        client(node, "M001") as buyer,
    ):
        assert md.wait_synced(5_000)
        sold = seller.new_order("A002", "SHEA2024", Side.SELL, 300, 8050)
        bought = buyer.new_order("A001", "SHEA2024", Side.BUY, 300, 8050)

        (accepted,) = of_type(bought.events, OrderAccepted)
        (buyer_fill,) = of_type(bought.events, Fill)
        assert isinstance(buyer_fill, Fill) and isinstance(accepted, OrderAccepted)
        assert (buyer_fill.side, buyer_fill.price, buyer_fill.quantity, buyer_fill.aggressor) == (
            Side.BUY,
            8050,
            300,
            True,
        )
        assert buyer_fill.fee == 3623  # 0.15% of 24,150.00 CNY, half-up to the fen
        assert all(r.request_id == bought.request_id for r in bought.reports)
        seller_report = wait_for(seller.poll, lambda r: isinstance(r.event, Fill))  # type: ignore[attr-defined]
        seller_fill = seller_report.event  # type: ignore[attr-defined]
        assert (seller_fill.side, seller_fill.aggressor, seller_fill.trade_id) == (
            Side.SELL,
            False,
            buyer_fill.trade_id,
        )
        trade = wait_for(lambda: md.poll(200), lambda m: isinstance(m, Trade))
        assert isinstance(trade, Trade)
        assert (trade.instrument, trade.price, trade.quantity, trade.aggressor) == ("SHEA2024", 8050, 300, Side.BUY)
        assert trade.trade_id == buyer_fill.trade_id
        deadline = time.monotonic() + 5
        while (quote := md.quote("SHEA2024")) is None or quote.volume < 300:
            md.poll(200)
            assert time.monotonic() < deadline, "no quote with the trade"
        assert (quote.last, quote.volume) == (8050, 300)
        assert of_type(sold.events, OrderAccepted)


@pytest.mark.per_book
def test_the_resting_side_gets_its_fill_unasked_and_never_the_counterparty(node: NodeProcess) -> None:
    with client(node, "M101") as resting, client(node, "M002") as taker:
        resting.new_order("A101", "CCER", Side.BUY, 100, 8600)
        taker.new_order("A002", "CCER", Side.SELL, 100, 8600)

        report = wait_for(resting.poll, lambda r: isinstance(r.event, Fill))
        fill = report.event  # type: ignore[attr-defined]
        assert report.request_id == 0  # type: ignore[attr-defined]
        assert (fill.account, fill.side, fill.aggressor, fill.quantity) == ("A101", Side.BUY, False, 100)
        assert "A002" not in repr(fill)


@pytest.mark.per_book
def test_a_resent_order_gets_the_original_result_and_never_a_second_order(node: NodeProcess) -> None:
    with client(node, "M101") as member:
        first = member.new_order("A102", "SHEA2025", Side.BUY, 10, 7300, client_order_id="resend-1")
        again = member.new_order("A102", "SHEA2025", Side.BUY, 10, 7300, client_order_id="resend-1")

        assert not first.duplicate and again.duplicate
        assert again.journal_seq == first.journal_seq
        assert [r.seq for r in again.reports] == [r.seq for r in first.reports]
        assert all(r.resent for r in again.reports)
        orders = [o for o in member.list_orders("A102") if o.client_order_id == "resend-1"]
        assert len(orders) == 1


@pytest.mark.per_book
def test_a_client_with_batched_reports_trades_hears_its_fills_and_gets_resends(node: NodeProcess) -> None:
    with client(node, "M101", batch_reports=True) as member, client(node, "M002") as seller:
        assert member.session.batch_reports
        placed = member.new_order("A101", "SHEA2024", Side.BUY, 20, 7600, client_order_id="batched-1")
        seller.new_order("A002", "SHEA2024", Side.SELL, 20, 7600)
        again = member.new_order("A101", "SHEA2024", Side.BUY, 20, 7600, client_order_id="batched-1")

        report = wait_for(member.poll, lambda r: isinstance(r.event, Fill))
        assert report.request_id == 0 and report.event.quantity == 20  # type: ignore[attr-defined]
        assert of_type(placed.events, OrderAccepted) and not placed.duplicate
        assert again.duplicate and [r.seq for r in again.reports] == [r.seq for r in placed.reports]
        assert all(r.resent for r in again.reports)


@pytest.mark.per_book
def test_the_asyncio_client_with_batched_reports_places_an_order(node: NodeProcess) -> None:
    async def scenario() -> Result:
        member = await AsyncMemberClient.connect(node.order_entry, "M101", node.keys_dir, batch_reports=True)
        try:
            assert member.session is not None and member.session.batch_reports
            return await member.new_order("A101", "SHEA2024", Side.BUY, 10, 7500)
        finally:
            await member.close()

    placed = asyncio.run(scenario())

    assert of_type(placed.events, OrderAccepted)


# ----------------------------------------------------------------------------------------- isolation


@pytest.mark.per_book
def test_members_act_only_on_their_own_accounts(node: NodeProcess) -> None:
    with client(node, "M002") as other, client(node, "M001") as member:
        theirs = other.new_order("A002", "SHEA2025", Side.BUY, 10, 7400)
        (their_order,) = of_type(theirs.events, OrderAccepted)
        assert isinstance(their_order, OrderAccepted)

        foreign_account = member.new_order("A002", "SHEA2025", Side.BUY, 10, 7400)
        missing_account = member.new_order("NOPE", "SHEA2025", Side.BUY, 10, 7400)
        foreign_order = member.cancel("A001", their_order.order_id)

        assert foreign_account.refused is not None and missing_account.refused is not None
        assert foreign_account.refused.code is missing_account.refused.code is Reject.UNKNOWN_ACCOUNT
        (rejected,) = foreign_order.events
        assert isinstance(rejected, RequestRejected) and rejected.code is Reject.UNKNOWN_ORDER
        assert all(o.account == "A001" for o in member.list_orders())
        with pytest.raises(GatewayError, match="UNKNOWN_ACCOUNT"):
            member.accounts("A002")
        assert [o.order_id for o in other.list_orders("A002")].count(their_order.order_id) == 1


def test_only_the_regulator_may_halt_and_surveillance_may_not_act(node: NodeProcess) -> None:
    from engine.messages import HaltInstrument, ResumeInstrument

    with (
        client(node, "M001") as member,
        client(node, "EXCHANGE") as surveillance,
        client(node, "REGULATOR") as regulator,
    ):
        assert member.submit(HaltInstrument(instrument="SHCER")).refused.code is Reject.NOT_AUTHORISED  # type: ignore[union-attr]
        assert surveillance.new_order("EXCHANGE-FEES", "SHCER", Side.BUY, 1, 100).refused.code is Reject.NOT_AUTHORISED  # type: ignore[union-attr]
        assert surveillance.session.role == "surveillance"
        assert len(surveillance.accounts()) > 1  # read-only, but it sees every account

        halted = regulator.submit(HaltInstrument(instrument="SHCER", reason="test"))
        resumed = regulator.submit(ResumeInstrument(instrument="SHCER"))
        assert halted.refused is None and resumed.refused is None
        assert [type(e).__name__ for e in halted.events + resumed.events] == ["InstrumentStatusChanged"] * 2


# ----------------------------------------------------------------------------------------- session


def test_an_unknown_key_is_refused(node: NodeProcess) -> None:
    public, secret = zmq.curve_keypair()
    keys = _Keys(load_server_public(node.keys_dir), public, secret)

    with pytest.raises(GatewayError, match="refused the key"):
        MemberClient(node.order_entry, "M001", keys, timeout_ms=3_000)


def test_a_client_whose_logon_fails_leaves_nothing_open(node: NodeProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    # A context left to the garbage collector blocks in term() when a socket still holds a frame for
    # a node that is gone: it hung a later test once.
    made: list[zmq.Context[zmq.Socket[bytes]]] = []

    class Recorded(zmq.Context):  # type: ignore[type-arg]
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(gateway.client.zmq, "Context", Recorded)
    with pytest.raises(GatewayError, match="refused"):
        MemberClient.from_keys(node.order_entry, "M002", node.keys_dir, timeout_ms=3_000, resend_from=-1)

    assert [context.closed for context in made] == [True]


def test_a_malformed_frame_is_refused_and_the_node_carries_on(node: NodeProcess) -> None:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    socket = context.socket(zmq.DEALER)
    # Not M003, whose throttle (1/s, burst 3) the three frames would spend: each costs a token (§4.11).
    _Keys(load_server_public(node.keys_dir), *load_member_secret(node.keys_dir, "M001")).apply(socket)
    socket.connect(node.order_entry)
    try:
        for garbage in (b"\xc1\xff not msgpack", encoder.encode({"type": "Launch", "request_id": 1}), b"x" * 70_000):
            socket.send(garbage)
            assert socket.poll(5_000)
            refused = server_decoder.decode(socket.recv())
            assert isinstance(refused, Refused)
            assert refused.code in (Reject.MALFORMED_MESSAGE, Reject.MESSAGE_TOO_LARGE)
        socket.send(encoder.encode(Logon(request_id=9, member="M001")))
        assert socket.poll(5_000)
        assert isinstance(server_decoder.decode(socket.recv()), LogonAccepted)
    finally:
        socket.close(linger=0)
        context.term()


@pytest.mark.per_book
def test_the_throttle_refuses_a_burst_beyond_the_bucket(node: NodeProcess) -> None:
    # M003 is configured with throttle_per_s = 1, throttle_burst = 3 (tests/node_process.py).
    with client(node, "M003") as member:
        results = [member.new_order("A003", "SHEA2025", Side.BUY, 1, 7300) for _ in range(5)]

    refused = [r.refused for r in results if r.refused is not None]
    assert len(refused) >= 1 and all(r.code is Reject.THROTTLED for r in refused)
    assert results[0].refused is None


@pytest.mark.per_book
def test_cancel_on_disconnect_cancels_the_orders_of_a_lost_session(node: NodeProcess) -> None:
    # M102 is configured with cancel_on_disconnect (tests/node_process.py); heartbeats every 100 ms.
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    drop = context.socket(zmq.SUB)
    _Keys(load_server_public(node.keys_dir), *load_member_secret(node.keys_dir, "EXCHANGE")).apply(drop)
    drop.setsockopt(zmq.SUBSCRIBE, b"dropcopy")
    drop.connect(node.endpoints["drop copy"])
    try:
        with client(node, "M001") as warm:
            # The drop copy is a PUB: wait until our subscription is live before the part that matters.
            deadline = time.monotonic() + 10
            while not drop.poll(100):
                assert time.monotonic() < deadline
                warm.cancel_all("A001", "SHCER")
        lost = client(node, "M102", heartbeat_ms=100)
        placed = lost.new_order("A104", "SHEA2025", Side.BUY, 20, 7350)
        (order,) = of_type(placed.events, OrderAccepted)
        lost.socket.close(linger=0)  # vanish: no logout, no more heartbeats

        def cancelled() -> list[object]:
            return [drop_copy_decoder.decode(drop.recv_multipart()[1]).event] if drop.poll(200) else []

        event = wait_for(cancelled, lambda e: isinstance(e, OrderCancelled) and e.order_id == order.order_id, 10)  # type: ignore[attr-defined]
        assert isinstance(event, OrderCancelled) and event.reason is CancelReason.DISCONNECT
        summary = wait_for(cancelled, lambda e: isinstance(e, AllOrdersCancelled), 5)
        assert isinstance(summary, AllOrdersCancelled) and summary.account == "A104"
    finally:
        drop.close(linger=0)
        context.term()


@pytest.mark.per_book
def test_a_market_data_gap_is_recovered_from_the_snapshot_service(node: NodeProcess) -> None:
    dropped: list[int] = []

    def lose_the_second_trade(topic: str, seq: int) -> bool:
        if topic == "trade.SHEA2025" and not dropped and md.trades("SHEA2025"):
            dropped.append(seq)
            return True
        return False

    md = subscriber(node, instruments=["SHEA2025"], discard=lose_the_second_trade)
    with md, client(node, "M002") as seller, client(node, "M001") as buyer:
        assert md.wait_synced(5_000)
        before = len(md.trades("SHEA2025"))
        for _ in range(3):
            seller.new_order("A002", "SHEA2025", Side.SELL, 10, 8000)
            buyer.new_order("A001", "SHEA2025", Side.BUY, 10, 8000)
        deadline = time.monotonic() + 10
        while len(md.trades("SHEA2025")) < before + 3:
            md.poll(200)
            assert time.monotonic() < deadline, "trades not recovered"

    assert dropped and md.gaps_detected >= 1 and md.recoveries >= 1
    seqs = [t.seq for t in md.trades("SHEA2025")]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))


# ----------------------------------------------------------------------------------------- command line


def run_cli(node: NodeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    config = ["--config", str(node.config), "--gateway", node.order_entry]
    return subprocess.run(
        [sys.executable, "-m", "carbonx", *args, *config], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.per_book
def test_the_order_and_account_commands_trade_against_the_node(node: NodeProcess) -> None:
    placed = run_cli(node, "order", "new", "--member", "M002", "sell", "SHEA2025", "7", "87.00")
    listed = run_cli(node, "order", "list", "--member", "M002")
    account = run_cli(node, "account", "--member", "M002")
    bad = run_cli(node, "order", "new", "--member", "M002", "sell", "SHEA2025", "7", "99.00")

    assert placed.returncode == 0, placed.stderr
    assert "accepted order" in placed.stdout and "@ 87.00" in placed.stdout
    assert "87.00" in listed.stdout
    assert "A002" in account.stdout and "SHEA2025" in account.stdout
    assert bad.returncode == 1 and "PRICE_OUT_OF_BAND" in bad.stdout


@pytest.mark.per_book
def test_the_quote_board_shows_the_book(node: NodeProcess) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    endpoints = ["--endpoint", node.endpoints["market data"], "--snapshot-endpoint", node.endpoints["snapshot"]]
    board = subprocess.run(
        [sys.executable, "-m", "carbonx", "quotes", "SHEA2025", "--once", "--config", str(node.config), *endpoints],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )

    assert board.returncode == 0, board.stderr
    assert board.stdout.startswith("SHEA2025") and "bid 1" in board.stdout and "ask 5" in board.stdout


def run_registry(node: NodeProcess, operation: str, rows: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "carbonx", "registry", operation, str(rows), *extra]
    config = ["--config", str(node.config), "--data-dir", str(node.data_dir)]
    return subprocess.run([*command, *config], capture_output=True, text=True, env=env, timeout=60)


def test_registry_files_go_through_a_running_node(node: NodeProcess, tmp_path: Path) -> None:
    rows = tmp_path / "deposit.csv"
    rows.write_text("account,amount_cny\nA003,10.00\n")

    # No --gateway: the data directory is held by the node, so the file goes through its gateway.
    applied = run_registry(node, "deposit", rows)

    assert applied.returncode == 0, applied.stderr
    assert "deposited 10.00 CNY to A003" in applied.stdout
    assert "applied through the node" in applied.stdout


def test_a_registry_dry_run_against_a_running_node_names_the_rejected_rows(node: NodeProcess, tmp_path: Path) -> None:
    rows = tmp_path / "withdraw.csv"
    rows.write_text("account,amount_cny\nA003,1.00\nA003,999999999.00\n")

    checked = run_registry(node, "withdraw", rows, "--dry-run")

    assert checked.returncode == 2
    assert f"{rows}:3: NOT_WITHDRAWABLE" in checked.stderr
    assert f"{rows}:2" not in checked.stderr


# ----------------------------------------------------------------------------------------- restart


@pytest.mark.per_book
def test_a_node_killed_mid_session_restarts_with_every_acknowledged_order(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    node = NodeProcess(config, tmp_path / "var").start()
    try:
        with client(node, "M101") as member:
            acked = [member.new_order("A101", "SHEA2025", Side.BUY, 10, 7300 + i) for i in range(20)]
            last_report = member.core.expected_report - 1
        order_ids = {e.order_id for r in acked for e in r.events if isinstance(e, OrderAccepted)}
        assert len(order_ids) == 20
        node.kill()

        node = NodeProcess(config, tmp_path / "var").start()
        with client(node, "M101", resend_from=1) as member:
            still_there = {o.order_id for o in member.list_orders("A101")}
            assert order_ids <= still_there
            assert member.session.last_report_seq == last_report  # the numbering survived the crash
            replayed = member.poll(2_000)
            assert replayed and replayed[0].seq == 1 and all(r.resent for r in replayed)
            after = member.new_order("A101", "SHEA2025", Side.BUY, 10, 7299)
            assert after.reports[0].seq == last_report + 1
        assert node.stop() == 0
    finally:
        node.close()


@pytest.mark.per_book
def test_the_asyncio_client_places_orders_and_hears_its_fills(node: NodeProcess) -> None:
    async def scenario() -> tuple[Result, list[Event]]:
        member = await AsyncMemberClient.connect(node.order_entry, "M101", node.keys_dir, heartbeat_ms=200)
        try:
            placed = await member.new_order("A101", "SHEA2024", Side.BUY, 10, 7700)
            with client(node, "M002") as seller:
                seller.new_order("A002", "SHEA2024", Side.SELL, 10, 7700)
            heard: list[Event] = []
            deadline = time.monotonic() + 5
            while not any(isinstance(e, Fill) for e in heard) and time.monotonic() < deadline:
                heard += [r.event for r in await member.reports(timeout_ms=500)]
            return placed, heard
        finally:
            await member.close()

    placed, heard = asyncio.run(scenario())

    assert of_type(placed.events, OrderAccepted)
    (fill,) = of_type(heard, Fill)
    assert isinstance(fill, Fill) and (fill.side, fill.quantity, fill.aggressor) == (Side.BUY, 10, False)


def test_sigusr1_writes_the_stack_of_each_thread_and_the_node_serves_on(node: NodeProcess) -> None:
    stacks = node.stacks()
    # The handler runs on the main thread, so its stack is the "Current thread" one. The signal may land
    # anywhere: at a turn, polling, or before the loop has begun, since "ready" is printed (the test's
    # cue) before the node's run is called. All that is known is that it is under the serve command.
    current = re.search(r"Current thread [^\n]*\n((?:  File [^\n]*\n)+)", stacks)
    assert current, stacks
    assert re.search(r"carbonx[/\\]cli[/\\]serve_cmd\.py\", line \d+ in ", current.group(1)), current.group(1)
    with client(node, "M001") as member:
        assert member.session.trading_day > 0


NO_NODE = ("--gateway", "tcp://127.0.0.1:1", "--timeout-ms", "500")


def test_a_port_in_use_and_an_absent_node_are_one_line_errors(node: NodeProcess, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    toml = (config / "node.toml").read_text()
    (config / "node.toml").write_text(
        toml.replace('endpoint = "tcp://127.0.0.1:*"', f'endpoint = "{node.order_entry}"', 1)
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    serve = [sys.executable, "-m", "carbonx", "serve", "--config", str(config), "--data-dir", str(tmp_path / "var")]

    busy = subprocess.run(serve, capture_output=True, text=True, env=env, timeout=60)
    absent = subprocess.run(
        [sys.executable, "-m", "carbonx", "order", "list", "--member", "M001", "--config", str(config), *NO_NODE],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )

    assert busy.returncode == 2 and busy.stderr.count("\n") == 1
    assert f"{node.order_entry}: cannot bind: address in use" in busy.stderr
    assert absent.returncode == 2 and absent.stderr.count("\n") == 1
    assert "no answer to the logon within 500 ms" in absent.stderr


@pytest.mark.per_book
def test_the_order_commands_amend_and_cancel_and_the_regulator_halts(node: NodeProcess) -> None:
    placed = run_cli(
        node,
        "order",
        "new",
        "--member",
        "M101",
        "--account",
        "A102",
        "buy",
        "SHCER",
        "5",
        "34.00",
        "--client-order-id",
        "cli-1",
    )
    order_id = placed.stdout.split("accepted order ", 1)[1].split(" ", 1)[0]
    amended = run_cli(node, "order", "amend", "--member", "M101", "--account", "A102", order_id, "34.10", "4")
    halted = run_cli(node, "regulator", "halt", "SHCER", "--reason", "drill")
    refused_amend = run_cli(node, "order", "amend", "--member", "M101", "--account", "A102", order_id, "34.20", "4")
    resumed = run_cli(node, "regulator", "resume", "SHCER")
    cancelled = run_cli(node, "order", "cancel", "--member", "M101", "--account", "A102", order_id)
    cancelled_again = run_cli(node, "order", "cancel", "--member", "M101", "--account", "A102", order_id)
    not_regulator = run_cli(node, "regulator", "halt", "--member", "M001")

    assert placed.returncode == 0, placed.stderr
    assert amended.returncode == 0 and f"amended order {order_id}: 4 t @ 34.10 (priority lost)" in amended.stdout
    assert halted.returncode == 0 and "SHCER halted: drill" in halted.stdout
    assert refused_amend.returncode == 1 and "INSTRUMENT_HALTED" in refused_amend.stdout
    assert resumed.returncode == 0 and "SHCER resumed" in resumed.stdout
    assert cancelled.returncode == 0 and f"cancelled order {order_id} (USER): 4 t" in cancelled.stdout
    assert cancelled_again.returncode == 1 and "UNKNOWN_ORDER" in cancelled_again.stdout
    assert not_regulator.returncode == 2 and "NOT_AUTHORISED" in not_regulator.stderr
