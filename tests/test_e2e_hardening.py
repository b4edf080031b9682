"""End to end, the attacks of issue 12 against order entry: each was reproduced on a running node, and
each now gets a refusal while the node goes on (tcp loopback, CURVE keys; waits are for messages,
with deadlines, never sleeps)."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest
import zmq

from engine.messages import Reject, Side, StartOfDay
from gateway.client import MemberClient, _Keys
from gateway.keys import load_member_secret, load_server_public
from gateway.protocol import (
    ListOrders,
    Logon,
    LogonAccepted,
    Refused,
    ServerMessage,
    Submit,
    encoder,
    server_decoder,
)
from tests.gateway_helpers import order
from tests.node_process import NodeProcess, make_config

pytestmark = [pytest.mark.e2e, pytest.mark.not_per_book]

SHARED = b"shared-rid"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    root = tmp_path_factory.mktemp("hardening")
    process = NodeProcess(make_config(root), root / "var").start()
    yield process
    assert process.stop() == 0, process.stderr()


@pytest.fixture
def context() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield context
    context.destroy(linger=0)


def dealer(
    context: zmq.Context[zmq.Socket[bytes]], node: NodeProcess, member: str, routing_id: bytes | None = None
) -> zmq.Socket[bytes]:
    socket = context.socket(zmq.DEALER)
    socket.linger = 0
    _Keys(load_server_public(node.keys_dir), *load_member_secret(node.keys_dir, member)).apply(socket)
    if routing_id is not None:
        socket.setsockopt(zmq.ROUTING_ID, routing_id)
    socket.connect(node.order_entry)
    return socket


def ask(socket: zmq.Socket[bytes], frame: bytes, timeout_ms: int = 5_000) -> ServerMessage | None:
    """Send one frame; the first frame that comes back (None: nothing within the deadline)."""
    socket.send(frame)
    if not socket.poll(timeout_ms):
        return None
    return server_decoder.decode(socket.recv())


def client(node: NodeProcess, member: str) -> MemberClient:
    return MemberClient.from_keys(node.order_entry, member, node.keys_dir, timeout_ms=5_000)


def test_a_connection_on_a_closed_sessions_routing_id_receives_none_of_its_traffic(
    node: NodeProcess, context: zmq.Context[zmq.Socket[bytes]]
) -> None:
    # M001 logs on with a routing id of its choosing, rests a sell and closes without logging out.
    owner = dealer(context, node, "M001", SHARED)
    assert isinstance(ask(owner, encoder.encode(Logon(request_id=1, member="M001"))), LogonAccepted)
    owner.send(encoder.encode(Submit(request_id=2, command=order("A001", Side.SELL, 10, 7_700, "shared-sell"))))
    acked = False
    while not acked and owner.poll(5_000):
        acked = type(server_decoder.decode(owner.recv())).__name__ == "Ack"
    assert acked
    owner.close(linger=0)

    # M003 connects with the same routing id and never logs on. Until the node has dropped M001's
    # connection, libzmq ignores a second connection with a routing id in use: ask until answered.
    eavesdropper, first = None, None
    for _ in range(20):
        eavesdropper = dealer(context, node, "M003", SHARED)
        first = ask(eavesdropper, encoder.encode(ListOrders(request_id=3)), timeout_ms=500)
        if first is not None:
            break
        eavesdropper.close(linger=0)
    assert eavesdropper is not None
    assert first == Refused(request_id=3, code=Reject.ROUTING_ID_IN_USE, text="ROUTING_ID_IN_USE")

    # M002 hits M001's sell; then M003 asks again: the first frame it gets is its own refusal, so
    # nothing of M001's (the Fill) came before it on its connection.
    with client(node, "M002") as buyer:
        assert buyer.new_order("A002", "SHEA2025", Side.BUY, 10, 7_700).refused is None
    again = ask(eavesdropper, encoder.encode(ListOrders(request_id=4)))
    assert again == Refused(request_id=4, code=Reject.ROUTING_ID_IN_USE, text="ROUTING_ID_IN_USE")


def test_a_frame_nested_a_thousand_deep_is_refused_with_its_request_id(
    node: NodeProcess, context: zmq.Context[zmq.Socket[bytes]]
) -> None:
    socket = dealer(context, node, "M003")
    # The frame that killed the node through the snapshot service, sent to order entry as a Submit.
    nested = b"\x83\xa4type\xa6Submit\xaarequest_id\x07\xa1x" + b"\x91" * 1_000 + b"\xc0"

    answer = ask(socket, nested)

    assert answer == Refused(
        request_id=7,
        code=Reject.MALFORMED_MESSAGE,
        text='MALFORMED_MESSAGE: reason=malformed detail="nested too deeply"',
    )
    assert isinstance(ask(socket, encoder.encode(Logon(request_id=8, member="M003"))), LogonAccepted)


def test_a_start_of_day_beyond_any_date_is_refused_before_the_journal(node: NodeProcess) -> None:
    journal = node.data_dir / "journal.cxj"
    size = journal.stat().st_size
    with client(node, "REGULATOR") as regulator:
        result = regulator.submit(StartOfDay(trading_day=2**62))

    assert result.refused is not None
    assert result.refused.code is Reject.INVALID_FIELD
    assert result.refused.text == 'INVALID_FIELD: field=$.command.trading_day error="Expected `int` <= 99991231"'
    assert journal.stat().st_size == size  # nothing journaled: nothing a restart could choke on


def test_a_huge_client_order_id_is_refused_before_the_journal(
    node: NodeProcess, context: zmq.Context[zmq.Socket[bytes]]
) -> None:
    socket = dealer(context, node, "M002")
    assert isinstance(ask(socket, encoder.encode(Logon(request_id=1, member="M002"))), LogonAccepted)
    journal = node.data_dir / "journal.cxj"
    size = journal.stat().st_size
    huge = msgspec.structs.replace(order("A002", Side.BUY, 10, 7_700, "x"), client_order_id="c" * 60_000)

    answer = ask(socket, encoder.encode(Submit(request_id=2, command=huge)))

    assert answer == Refused(
        request_id=2,
        code=Reject.INVALID_FIELD,
        text='INVALID_FIELD: field=$.command.client_order_id error="Expected `str` of length <= 64"',
    )
    assert journal.stat().st_size == size


def test_a_member_catching_up_on_more_than_a_page_gets_every_report(node: NodeProcess) -> None:
    # A resend sends one page (resend_page, 500) then ResendEnd(more=True); the SDK asks for the next.
    with client(node, "M001") as member:
        first = member.session.last_report_seq + 1
        for batch in range(2):  # 300 orders a frame: a frame holds 64 KiB
            orders = [order("A001", Side.BUY, 1, 7_300, f"page-{batch}-{n}") for n in range(300)]
            result = member.submit_batch(orders)
            assert result.refused is None and len(result.reports) == 300
        last = result.reports[-1].seq

    keys = node.keys_dir
    with MemberClient.from_keys(node.order_entry, "M001", keys, timeout_ms=5_000, resend_from=first) as late:
        seen: list[int] = []
        deadline = 200
        while (not seen or seen[-1] < last) and deadline:
            seen += [report.seq for report in late.poll(100)]
            deadline -= 1

    # Every report, once, in order (the SDK may also fill the gap below ``first`` it sees at logon).
    assert seen == sorted(set(seen))
    assert set(range(first, last + 1)) <= set(seen)
    assert last - first + 1 > 500  # more than one page was needed
