"""Agreement transfers through the order gateway (gateway/authorise.py, gateway/reports.py,
gateway/queries.py) and the SDK (gateway/client.py).

Who may send which transfer command (a member on its own ``account`` only, whatever the
counterparty; the regulator a cancel; surveillance nothing); who sees which transfer event (both
parties, once per member, the regulator and surveillance; never a third member), replayed the same
from the journal; what ``ListTransfers`` shows each role; the worked examples of docs/PROTOCOL.md;
then the SDK against a real node. The harness (tests/gateway_helpers.py) plays the node without
sockets. Transfers do not touch the listing, so these tests run on one book.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

import msgspec
import pytest

from engine.config import Account, Member
from engine.messages import (
    AcceptTransfer,
    AllocateAllowances,
    CancelTransfer,
    Command,
    DepositCash,
    Event,
    ProposeTransfer,
    Reject,
    RejectTransfer,
    RequestRejected,
    Session,
    SetSession,
    Side,
    TransferAccepted,
    TransferCancelled,
    TransferExecuted,
    TransferExpired,
    TransferProposed,
    TransferRejected,
    TransferStatus,
    reject_text,
)
from engine.view import TransferRecord
from gateway.access import MemberAccess
from gateway.client import AsyncMemberClient, MemberClient
from gateway.client_core import Result
from gateway.protocol import (
    Ack,
    ExecutionReport,
    ListTransfers,
    Refused,
    ServerMessage,
    TransferList,
    TransferProposal,
)
from gateway.reports import ReportBook
from tests.conftest import CASH, HOLDING, market_config
from tests.gateway_helpers import R1, R2, RR, RS, Harness, member_access, report
from tests.node_process import NodeProcess, make_config
from tests.test_protocol_doc import EXAMPLES, TEXT, section, table_fields

R3 = b"r-m3"
QUANTITY = 100_000  # the smallest transfer (TransferRules.min_quantity_t)
PRICE = 8000  # SHEA2025's reference price: inside the ±30% band


def transfer_harness() -> Harness:
    """The test market in the afternoon session, with a third member M3 (account A5); A1 and A5 hold
    enough SHEA2025 to sell a transfer; M1, M2, M3, the regulator and surveillance logged on."""
    base = market_config()
    config = market_config(
        members=[*base.members, Member(id="M3", name="member three", kind="self_dealing")],
        accounts=[*base.accounts, Account(id="A5", member="M3", kind="covered_entity")],
    )
    access = [*member_access(), MemberAccess(member="M3", role="member", public_key="", accounts=["A5"])]
    h = Harness(config=config, access=access)
    h.open_market()
    h.direct(
        DepositCash(account="A5", amount=CASH),
        AllocateAllowances(account="A5", instrument="SHEA2025", quantity=HOLDING + QUANTITY),
        AllocateAllowances(account="A1", instrument="SHEA2025", quantity=QUANTITY),
        SetSession(session=Session.LUNCH_BREAK),
        SetSession(session=Session.AFTERNOON),
    )
    for routing_id, member in ((R1, "M1"), (R2, "M2"), (R3, "M3"), (RR, "REGU"), (RS, "EXCH")):
        h.logon(routing_id, member)
    return h


def propose(account: str, counterparty: str, side: Side = Side.SELL, client_proposal_id: str = "p1") -> ProposeTransfer:
    return ProposeTransfer(
        account=account,
        client_proposal_id=client_proposal_id,
        side=side,
        counterparty=counterparty,
        instrument="SHEA2025",
        price=PRICE,
        quantity=QUANTITY,
    )


def refused(request_id: int, code: Reject, **context: object) -> Refused:
    return Refused(request_id=request_id, code=code, text=reject_text(code, **context))


def sequenced(h: Harness, routing_id: bytes, member: str, command: Command, request_id: int) -> list[Event]:
    """Send one command, run the node, and return the events it caused."""
    h.submit(routing_id, member, command, request_id=request_id)
    h.step()
    return h.applied[-1].events


def reports_of(messages: list[ServerMessage]) -> list[ExecutionReport]:
    return [m for m in messages if isinstance(m, ExecutionReport)]


# ------------------------------------------------------------------------------ authorisation


@pytest.mark.parametrize(
    "command",
    [
        propose("A2", "A1"),  # another member's account as the proposer
        AcceptTransfer(account="A2", transfer_id=1),
        RejectTransfer(account="A2", transfer_id=1),
        CancelTransfer(account="A2", transfer_id=1),
        propose("NOPE", "A2"),  # an account that does not exist: refused alike
    ],
    ids=["propose", "accept", "reject", "cancel", "unknown"],
)
def test_a_member_sends_transfer_commands_for_its_own_accounts_only(command: Command) -> None:
    h = transfer_harness()

    h.submit(R1, "M1", command, request_id=3)

    assert h.take(R1) == [refused(3, Reject.UNKNOWN_ACCOUNT, account=command.account)]  # type: ignore[attr-defined]
    assert h.step() == [] and h.applied == []


def test_a_member_may_name_another_members_account_as_counterparty() -> None:
    h = transfer_harness()

    events = sequenced(h, R1, "M1", propose("A1", "A2"), 3)

    assert [type(e) for e in events] == [TransferProposed]


def test_a_third_members_accept_gets_the_engines_unknown_transfer_and_nobody_else_hears_of_it() -> None:
    h = transfer_harness()
    sequenced(h, R1, "M1", propose("A1", "A2"), 3)
    h.take_all()

    [rejected] = sequenced(h, R3, "M3", AcceptTransfer(account="A5", transfer_id=1), 4)

    assert isinstance(rejected, RequestRejected) and rejected.code is Reject.UNKNOWN_TRANSFER
    assert rejected.text == reject_text(Reject.UNKNOWN_TRANSFER, transfer_id=1)
    out = h.take_by_connection()
    assert out.pop(R3) == [report(1, 4, rejected), Ack(request_id=4, journal_seq=2, first_report=1, report_count=1)]
    assert out.pop(RS) == [report(2, 0, rejected)]  # the drop copy sees everything
    assert out == {}


@pytest.mark.parametrize(
    ("connection", "member", "command"),
    [
        (RR, "REGU", propose("A1", "A2")),
        (RR, "REGU", AcceptTransfer(account="A2", transfer_id=1)),
        (RR, "REGU", RejectTransfer(account="A2", transfer_id=1)),
        (RS, "EXCH", propose("A1", "A2")),
        (RS, "EXCH", AcceptTransfer(account="A2", transfer_id=1)),
        (RS, "EXCH", RejectTransfer(account="A2", transfer_id=1)),
        (RS, "EXCH", CancelTransfer(account="A1", transfer_id=1)),
    ],
)
def test_the_regulator_does_not_trade_and_surveillance_sends_nothing(
    connection: bytes, member: str, command: Command
) -> None:
    h = transfer_harness()
    role = h.gateway.access[member].role

    h.submit(connection, member, command, request_id=5)

    assert h.take(connection) == [refused(5, Reject.NOT_AUTHORISED, command=type(command).__name__, role=role)]


def test_the_regulator_may_cancel_any_proposal_and_both_parties_hear_of_it() -> None:
    h = transfer_harness()
    sequenced(h, R1, "M1", propose("A1", "A2"), 3)
    h.take_all()

    [cancelled] = sequenced(h, RR, "REGU", CancelTransfer(account="A1", transfer_id=1), 9)

    assert cancelled == TransferCancelled(
        ts_event=cancelled.ts_event,
        transfer_id=1,
        account="A1",
        counterparty="A2",
        instrument="SHEA2025",
        released_cash=0,
        released_quantity=QUANTITY,
    )
    out = h.take_by_connection()
    assert out[RR] == [report(2, 9, cancelled), Ack(request_id=9, journal_seq=2, first_report=2, report_count=1)]
    assert out[R1] == [report(2, 0, cancelled)]
    assert out[R2] == [report(2, 0, cancelled)]
    assert R3 not in out


# ------------------------------------------------------------------------------ routing


def test_a_proposal_and_its_execution_reach_both_parties_and_the_regulator_and_nobody_else() -> None:
    h = transfer_harness()

    [proposed] = sequenced(h, R1, "M1", propose("A1", "A2"), 3)
    first = h.take_by_connection()
    accepted, executed = sequenced(h, R2, "M2", AcceptTransfer(account="A2", transfer_id=1), 4)
    second = h.take_by_connection()

    assert isinstance(proposed, TransferProposed) and isinstance(accepted, TransferAccepted)
    assert executed == TransferExecuted(
        ts_event=executed.ts_event,
        transfer_id=1,
        instrument="SHEA2025",
        price=PRICE,
        quantity=QUANTITY,
        buy_account="A2",
        sell_account="A1",
        buy_fee=executed.buy_fee,
        sell_fee=executed.buy_fee,
        proposer_side=Side.SELL,
    )
    assert first == {
        R1: [report(1, 3, proposed), Ack(request_id=3, journal_seq=1, first_report=1, report_count=1)],
        R2: [report(1, 0, proposed)],
        RR: [report(1, 0, proposed)],
        RS: [report(1, 0, proposed)],
    }
    # The executed transfer is no Fill: the parties of a bilateral trade know each other.
    assert second == {
        R2: [
            report(2, 4, accepted),
            report(3, 4, executed),
            Ack(request_id=4, journal_seq=2, first_report=2, report_count=2),
        ],
        R1: [report(2, 0, accepted), report(3, 0, executed)],
        RR: [report(2, 0, accepted), report(3, 0, executed)],
        RS: [report(2, 0, accepted), report(3, 0, executed)],
    }


def test_a_rejection_reaches_the_proposer_and_the_regulator() -> None:
    h = transfer_harness()
    sequenced(h, R1, "M1", propose("A1", "A2", side=Side.BUY), 3)
    h.take_all()

    [declined] = sequenced(h, R2, "M2", RejectTransfer(account="A2", transfer_id=1), 4)

    assert isinstance(declined, TransferRejected) and declined.released_cash > 0
    out = h.take_by_connection()
    assert out[R2] == [report(2, 4, declined), Ack(request_id=4, journal_seq=2, first_report=2, report_count=1)]
    assert out[R1] == [report(2, 0, declined)]
    assert out[RR] == [report(2, 0, declined)]
    assert R3 not in out


def test_a_transfer_between_two_accounts_of_one_member_reports_each_event_once() -> None:
    h = transfer_harness()
    h.direct(AllocateAllowances(account="A2", instrument="SHEA2025", quantity=QUANTITY))

    [proposed] = sequenced(h, R2, "M2", propose("A2", "A3"), 3)
    accepted, executed = sequenced(h, R2, "M2", AcceptTransfer(account="A3", transfer_id=1), 4)

    out = h.take_by_connection()
    assert reports_of(out[R2]) == [report(1, 3, proposed), report(2, 4, accepted), report(3, 4, executed)]
    assert reports_of(out[RR]) == [report(1, 0, proposed), report(2, 0, accepted), report(3, 0, executed)]
    assert R1 not in out and R3 not in out


def test_open_proposals_expire_to_both_parties_when_the_afternoon_closes() -> None:
    h = transfer_harness()
    sequenced(h, R1, "M1", propose("A1", "A2"), 3)
    h.take_all()

    h.system(SetSession(session=Session.CLOSED))

    [expired] = [e for e in h.applied[-1].events if isinstance(e, TransferExpired)]
    assert (expired.account, expired.counterparty, expired.released_quantity) == ("A1", "A2", QUANTITY)
    out = h.take_by_connection()
    for connection in (R1, R2, RR, RS):
        assert [r.event for r in reports_of(out[connection])].count(expired) == 1, connection
    assert expired not in [r.event for r in reports_of(out.get(R3, []))]


def test_routing_the_journal_again_numbers_every_transfer_report_the_same() -> None:
    h = transfer_harness()
    sequenced(h, R1, "M1", propose("A1", "A2"), 3)
    sequenced(h, R3, "M3", AcceptTransfer(account="A5", transfer_id=1), 4)
    sequenced(h, R2, "M2", AcceptTransfer(account="A2", transfer_id=1), 5)
    sequenced(h, R3, "M3", propose("A5", "A3", client_proposal_id="p2"), 6)
    sequenced(h, RR, "REGU", CancelTransfer(account="A5", transfer_id=2), 7)
    sequenced(h, R1, "M1", propose("A1", "A4", side=Side.BUY, client_proposal_id="p3"), 8)
    h.system(SetSession(session=Session.CLOSED))

    replayed = ReportBook(h.access)
    for a in h.applied:
        replayed.route(a.origin, a.request_id, a.command, a.events, a.seq)

    assert replayed.encode() == h.reports.encode()
    assert [h.reports.last(m) for m in ("EXCH", "REGU", "M1", "M2", "M3")] == [9, 7, 5, 7, 3]


# ------------------------------------------------------------------------------ ListTransfers


def _three_proposals(h: Harness) -> list[TransferProposal]:
    """1: A1 (M1) sells to A2 (M2), accepted; 2: A2 sells to A3 (both M2's), open; 3: A5 (M3) sells to
    A3, open. As ``ListTransfers`` shows them."""
    h.direct(AllocateAllowances(account="A2", instrument="SHEA2025", quantity=QUANTITY))
    sequenced(h, R1, "M1", propose("A1", "A2"), 1)
    sequenced(h, R2, "M2", AcceptTransfer(account="A2", transfer_id=1), 2)
    sequenced(h, R2, "M2", propose("A2", "A3", client_proposal_id="p2"), 3)
    sequenced(h, R3, "M3", propose("A5", "A3", client_proposal_id="p3"), 4)
    h.take_all()
    deals = [
        (1, "A1", "p1", "A2", TransferStatus.EXECUTED, 0),
        (2, "A2", "p2", "A3", TransferStatus.OPEN, QUANTITY),
        (3, "A5", "p3", "A3", TransferStatus.OPEN, QUANTITY),
    ]
    return [
        TransferProposal(
            transfer_id=transfer_id,
            proposer=proposer,
            client_proposal_id=client_proposal_id,
            side=Side.SELL,
            counterparty=counterparty,
            instrument="SHEA2025",
            price=PRICE,
            quantity=QUANTITY,
            status=status,
            frozen_cash=0,
            frozen_quantity=frozen,
        )
        for transfer_id, proposer, client_proposal_id, counterparty, status, frozen in deals
    ]


@pytest.mark.parametrize(
    ("connection", "member", "account", "expected"),
    [
        (R1, "M1", "", [1]),
        (R1, "M1", "A1", [1]),
        (R2, "M2", "", [1, 2, 3]),
        (R2, "M2", "A2", [1, 2]),
        (R2, "M2", "A3", [2, 3]),
        (R2, "M2", "A4", []),
        (R3, "M3", "", [3]),
        (RR, "REGU", "", [1, 2, 3]),
        (RR, "REGU", "A1", [1]),
        (RS, "EXCH", "", [1, 2, 3]),
        (RS, "EXCH", "A5", [3]),
    ],
)
def test_list_transfers_shows_the_proposals_the_sender_may_see(
    connection: bytes, member: str, account: str, expected: list[int]
) -> None:
    h = transfer_harness()
    proposals = _three_proposals(h)

    h.send(connection, member, ListTransfers(request_id=60, account=account))

    assert h.take(connection) == [TransferList(request_id=60, transfers=[proposals[i - 1] for i in expected])]


@pytest.mark.parametrize(
    ("connection", "member", "account"), [(R1, "M1", "A2"), (R3, "M3", "A1"), (RR, "REGU", "NOPE")]
)
def test_listing_the_transfers_of_an_account_the_sender_may_not_see_is_refused(
    connection: bytes, member: str, account: str
) -> None:
    h = transfer_harness()
    _three_proposals(h)

    h.send(connection, member, ListTransfers(request_id=61, account=account))

    assert h.take(connection) == [refused(61, Reject.UNKNOWN_ACCOUNT, account=account)]


def test_the_wire_record_mirrors_the_engines_transfer_record() -> None:
    assert TransferProposal.__struct_fields__ == TransferRecord.__struct_fields__
    assert msgspec.structs.fields(TransferProposal) == msgspec.structs.fields(TransferRecord)


# ------------------------------------------------------------------------------ docs/PROTOCOL.md


def test_the_protocol_document_shows_a_transfer_from_proposal_to_execution() -> None:
    # Every hex example is decoded and re-encoded by tests/test_protocol_doc.py; these must be among them.
    shown = {e.label for e in EXAMPLES}
    assert {
        "Submit(ProposeTransfer)",
        "ExecutionReport(TransferProposed)",
        "ListTransfers",
        "TransferList",
        "Submit(AcceptTransfer)",
        "ExecutionReport(TransferAccepted)",
        "ExecutionReport(TransferExecuted)",
    } <= shown


def test_the_protocol_document_lists_the_transfer_record_and_status() -> None:
    assert table_fields(section(TEXT, "TransferProposal")) == set(TransferProposal.__struct_fields__)
    rows = {tuple(row) for row in _enum_rows(section(TEXT, "TransferStatus"))}
    assert rows == {(int(s), s.name) for s in TransferStatus}


def _enum_rows(body: str) -> list[tuple[int, str]]:
    return [(int(value), name) for value, name in re.findall(r"^\| (\d+) \| `(\w+)` \|", body, re.MULTILINE)]


# ------------------------------------------------------------------------------ the SDK, against a node


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A demo node in the afternoon session: A001 (M001) and A002 (M002) hold 300,000 t of SHEA2024."""
    root = tmp_path_factory.mktemp("transfers")
    process = NodeProcess(make_config(root), root / "var").start()
    try:
        with MemberClient.from_keys(process.order_entry, "REGULATOR", process.keys_dir) as regulator:
            for session in (Session.LUNCH_BREAK, Session.AFTERNOON):
                result = regulator.submit(SetSession(session=session))
                assert result.accepted and not any(isinstance(e, RequestRejected) for e in result.events)
        yield process
    finally:
        assert process.stop() == 0, process.stderr()


def client(node: NodeProcess, member: str) -> MemberClient:
    return MemberClient.from_keys(node.order_entry, member, node.keys_dir, timeout_ms=5_000)


def heard(member: MemberClient, kind: type[Event], transfer_id: int, timeout_s: float = 5.0) -> Event:
    """The first unasked report of ``kind`` about ``transfer_id``, waited for with a deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for r in member.poll(200):
            if isinstance(r.event, kind) and getattr(r.event, "transfer_id", 0) == transfer_id:
                return r.event
    raise AssertionError(f"no {kind.__name__} of transfer {transfer_id} reached {member.member}")


def only(events: list[Event], kind: type[Event]) -> Event:
    [event] = [e for e in events if isinstance(e, kind)]
    return event


def proposed_by(result: Result) -> TransferProposed:
    proposed = only(result.events, TransferProposed)
    assert isinstance(proposed, TransferProposed)
    return proposed


@pytest.mark.e2e
def test_the_sdk_proposes_accepts_rejects_cancels_and_lists_transfers(node: NodeProcess) -> None:
    with client(node, "M001") as m1, client(node, "M002") as m2, client(node, "M003") as m3:
        proposed = proposed_by(m1.propose_transfer("A001", "A002", "SHEA2024", Side.SELL, 7650, QUANTITY, "sdk-1"))
        assert proposed.frozen_quantity == QUANTITY
        tid = proposed.transfer_id
        assert heard(m2, TransferProposed, tid) == proposed
        [listed] = [t for t in m2.list_transfers() if t.transfer_id == tid]
        assert (listed.proposer, listed.counterparty, listed.status) == ("A001", "A002", TransferStatus.OPEN)
        assert m3.list_transfers() == []

        executed = only(m2.accept_transfer("A002", tid).events, TransferExecuted)
        assert isinstance(executed, TransferExecuted)
        assert (executed.buy_account, executed.sell_account, executed.quantity) == ("A002", "A001", QUANTITY)
        assert heard(m1, TransferExecuted, tid) == executed
        assert m1.list_transfers("A001")[-1].status is TransferStatus.EXECUTED

        declined = proposed_by(m1.propose_transfer("A001", "A002", "SHEA2024", Side.SELL, 7650, QUANTITY, "sdk-2"))
        assert [type(e) for e in m2.reject_transfer("A002", declined.transfer_id).events] == [TransferRejected]

        withdrawn = proposed_by(m2.propose_transfer("A002", "A001", "SHEA2024", Side.BUY, 7650, QUANTITY, "sdk-3"))
        stranger = only(m3.accept_transfer("A003", withdrawn.transfer_id).events, RequestRejected)
        assert isinstance(stranger, RequestRejected) and stranger.code is Reject.UNKNOWN_TRANSFER
        assert [type(e) for e in m2.cancel_transfer("A002", withdrawn.transfer_id).events] == [TransferCancelled]

        statuses = [t.status for t in m1.list_transfers()]
        assert statuses == [TransferStatus.EXECUTED, TransferStatus.REJECTED, TransferStatus.CANCELLED]


@pytest.mark.e2e
def test_the_asyncio_sdk_proposes_lists_and_cancels_a_transfer(node: NodeProcess) -> None:
    async def run() -> tuple[list[Event], list[TransferProposal], list[Event]]:
        m1 = await AsyncMemberClient.connect(node.order_entry, "M001", node.keys_dir)
        try:
            proposal = await m1.propose_transfer("A001", "A002", "SHEA2024", Side.SELL, 7650, QUANTITY, "async-1")
            proposed = proposed_by(proposal)
            listed = await m1.list_transfers("A001")
            cancelled = await m1.cancel_transfer("A001", proposed.transfer_id)
            return proposal.events, listed, cancelled.events
        finally:
            await m1.close()

    proposal, listed, cancelled = asyncio.run(run())

    [proposed] = proposal
    assert isinstance(proposed, TransferProposed)
    assert [t.status for t in listed if t.transfer_id == proposed.transfer_id] == [TransferStatus.OPEN]
    assert [type(e) for e in cancelled] == [TransferCancelled]
