"""Agreement transfers end to end: a real demo node (a subprocess over tcp loopback), the members'
SDK clients and a market-data subscriber, as the exchange's users meet them.

Two members agree a 150,000 t transfer: each hears the proposal, the acceptance and the execution;
a third member hears nothing of it; market data shows only the bulk trade, without the parties.
Rejected, cancelled and expired proposals release their freezes, and the day still conserves every
tonne and fen. Waits are for messages with a deadline, never sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest

from engine.messages import (
    ConservationChecked,
    EndOfDay,
    Event,
    Reject,
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
)
from gateway.client import AsyncMemberClient, MemberClient
from gateway.client_core import Result
from gateway.protocol import AccountBalance, ExecutionReport
from market_data.messages import BulkTrade, Quote, Trade
from market_data.subscriber import Subscriber
from tests.node_process import NodeProcess, make_config

pytestmark = [pytest.mark.e2e, pytest.mark.per_book]

# The demo funding (carbonx.simulation.funding_commands): a covered entity has 30,000,000.00 CNY and
# 300,000 t of each allowance; the agreement fee is 0.10% a side (config/fees.toml), half-up to the fen.
PRICE, QUANTITY = 8000, 150_000  # 80.00 CNY/t, the demo reference price of SHEA2025
VALUE = PRICE * QUANTITY  # 12,000,000.00 CNY
FEE = (VALUE * 1000 + 500_000) // 1_000_000  # 12,000.00 CNY


@pytest.fixture
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A demo node moved on to the afternoon session, the only one that takes transfers by default."""
    root = tmp_path_factory.mktemp("e2e-transfer")
    process = NodeProcess(make_config(root), root / "var").start()
    try:
        with client(process, "REGULATOR") as regulator:
            opened = regulator.submit_atomic(
                [SetSession(session=Session.LUNCH_BREAK), SetSession(session=Session.AFTERNOON)]
            )
        assert isinstance(opened, Result) and opened.refused is None, opened
        yield process
        assert process.stop() == 0, process.stderr()
    finally:
        process.close()


def client(node: NodeProcess, member: str) -> MemberClient:
    return MemberClient.from_keys(node.order_entry, member, node.keys_dir, timeout_ms=5_000)


def subscriber(node: NodeProcess, instrument: str) -> Subscriber:
    return Subscriber(node.endpoints["market data"], node.endpoints["snapshot"], instruments=[instrument])


def hear(member: MemberClient, until: Callable[[Event], bool], timeout: float = 5.0) -> list[Event]:
    """The reports others' commands brought the member (request id 0; ``poll`` also hands back those of
    its own requests), up to and including the first that ``until`` matches."""
    heard: list[Event] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for report in member.poll(200):
            if report.request_id:
                continue
            heard.append(report.event)
            if until(report.event):
                return heard
    raise AssertionError(f"{member.member} did not hear it; heard {heard!r}")


def balance(member: MemberClient, account: str) -> tuple[int, int, int]:
    """(cash available, SHEA2025 available, SHEA2025 restricted) of ``account``."""
    (found,) = member.accounts(account)
    assert isinstance(found, AccountBalance)
    shea = next(h for h in found.holdings if h.instrument == "SHEA2025")
    return found.cash_available, shea.available, shea.restricted


def transfer_events(reports: list[ExecutionReport]) -> list[Event]:
    kinds = (TransferProposed, TransferAccepted, TransferExecuted, TransferRejected, TransferCancelled, TransferExpired)
    return [r.event for r in reports if isinstance(r.event, kinds)]


# ------------------------------------------------------------------------------------------ the deal


def test_two_members_agree_a_transfer_and_only_they_and_the_bulk_channel_hear_of_it(node: NodeProcess) -> None:
    with (
        subscriber(node, "SHEA2025") as md,
        client(node, "M002") as seller,
        client(node, "M001") as buyer,
        client(node, "M101") as bystander,
    ):
        assert md.wait_synced(5_000)
        quote_before = md.quote("SHEA2025")
        assert isinstance(quote_before, Quote)
        seller_before, buyer_before = balance(seller, "A002"), balance(buyer, "A001")
        bystander_seen = bystander.session.last_report_seq

        # Arrange / act: M002 proposes to sell to A001, M001 accepts.
        proposed = seller.propose_transfer("A002", "A001", "SHEA2025", Side.SELL, PRICE, QUANTITY, "deal-1")
        (proposal,) = proposed.events
        assert isinstance(proposal, TransferProposed)
        transfer_id = proposal.transfer_id
        offered = hear(buyer, lambda e: isinstance(e, TransferProposed))
        (listed,) = buyer.list_transfers()
        accepted = buyer.accept_transfer("A001", transfer_id)
        seller_heard = hear(seller, lambda e: isinstance(e, TransferExecuted))

        # Both parties: the proposal, then the acceptance and the execution, in that order.
        assert (proposal.account, proposal.counterparty, proposal.side, proposal.client_proposal_id) == (
            "A002",
            "A001",
            Side.SELL,
            "deal-1",
        )
        assert (proposal.frozen_cash, proposal.frozen_quantity) == (0, QUANTITY)
        assert offered == [proposal]
        assert (listed.transfer_id, listed.status, listed.proposer, listed.quantity) == (
            transfer_id,
            TransferStatus.OPEN,
            "A002",
            QUANTITY,
        )
        acceptance, execution = accepted.events
        assert isinstance(acceptance, TransferAccepted) and isinstance(execution, TransferExecuted)
        assert (acceptance.account, acceptance.frozen_cash, acceptance.frozen_quantity) == ("A001", VALUE + FEE, 0)
        assert (execution.buy_account, execution.sell_account, execution.price, execution.quantity) == (
            "A001",
            "A002",
            PRICE,
            QUANTITY,
        )
        assert (execution.buy_fee, execution.sell_fee, execution.proposer_side) == (FEE, FEE, Side.SELL)
        assert seller_heard == [acceptance, execution]
        assert [t.status for t in seller.list_transfers()] == [TransferStatus.EXECUTED]

        # Delivery versus payment, each side paying the fee; bought tonnes restricted until tomorrow.
        cash, available, restricted = buyer_before
        assert balance(buyer, "A001") == (cash - VALUE - FEE, available, restricted + QUANTITY)
        cash, available, restricted = seller_before
        assert balance(seller, "A002") == (cash + VALUE - FEE, available - QUANTITY, restricted)

        # A third member: the transfer id is unknown to it, and the reject is its very next report.
        foreign = bystander.accept_transfer("A101", transfer_id)
        (unknown,) = foreign.events
        assert isinstance(unknown, RequestRejected) and unknown.code is Reject.UNKNOWN_TRANSFER
        assert [r.seq for r in foreign.reports] == [bystander_seen + 1]
        assert bystander.list_transfers() == []
        assert transfer_events(bystander.resend(1)) == []

        # Market data: one bulk trade, no listing trade, the listing's figures untouched.
        messages: list[object] = []
        deadline = time.monotonic() + 5
        while (quote := md.quote("SHEA2025")) is None or quote.bulk_volume < quote_before.bulk_volume + QUANTITY:
            messages += md.poll(200)
            assert time.monotonic() < deadline, f"no quote with the bulk trade; got {messages!r}"
        bulk = [m for m in messages if isinstance(m, BulkTrade)]
        assert [(b.instrument, b.transfer_id, b.price, b.quantity) for b in bulk] == [
            ("SHEA2025", transfer_id, PRICE, QUANTITY)
        ]
        assert not [m for m in messages if isinstance(m, Trade)]
        assert not any(party in repr(bulk) for party in ("A001", "A002", "M001", "M002", "deal-1"))
        assert (quote.last, quote.volume, quote.turnover, quote.trades) == (
            quote_before.last,
            quote_before.volume,
            quote_before.turnover,
            quote_before.trades,
        )
        assert (quote.bulk_volume, quote.bulk_turnover, quote.bulk_trades) == (
            quote_before.bulk_volume + QUANTITY,
            quote_before.bulk_turnover + VALUE,
            quote_before.bulk_trades + 1,
        )


# ------------------------------------------------------------------------- proposals that do not trade


def test_rejected_cancelled_and_expired_proposals_release_their_freezes_and_the_day_conserves(
    node: NodeProcess,
) -> None:
    with (
        client(node, "M101") as proposer,
        client(node, "M002") as seller,
        client(node, "M001") as buyer,
        client(node, "REGULATOR") as regulator,
    ):
        cash_before = balance(proposer, "A101")[0]

        # M101 bids for 100,000 t of SHEA2025 from M102's A104; M102 (the asyncio client) declines.
        bid = proposer.propose_transfer("A101", "A104", "SHEA2025", Side.BUY, 7500, 100_000, "bid-1")
        (bid_proposed,) = bid.events
        assert isinstance(bid_proposed, TransferProposed)
        frozen = 7500 * 100_000 + (7500 * 100_000 * 1000 + 500_000) // 1_000_000
        assert bid_proposed.frozen_cash == frozen and balance(proposer, "A101")[0] == cash_before - frozen
        declined = asyncio.run(_reject_as_m102(node, bid_proposed.transfer_id))
        (rejection,) = declined.events
        assert isinstance(rejection, TransferRejected)
        assert (rejection.account, rejection.proposer, rejection.released_cash) == ("A104", "A101", frozen)
        assert hear(proposer, lambda e: isinstance(e, TransferRejected)) == [rejection]
        assert balance(proposer, "A101")[0] == cash_before

        # M101 offers tonnes to A001 and withdraws the offer.
        offer = proposer.propose_transfer("A101", "A001", "SHEA2025", Side.SELL, 8000, 100_000, "offer-1")
        (offer_proposed,) = offer.events
        assert isinstance(offer_proposed, TransferProposed)
        withdrawn = proposer.cancel_transfer("A101", offer_proposed.transfer_id)
        (cancelled,) = withdrawn.events
        assert isinstance(cancelled, TransferCancelled) and cancelled.released_quantity == 100_000
        assert hear(buyer, lambda e: isinstance(e, TransferCancelled))[-1] == cancelled

        # M002's offer to A001 is still open when the regulator closes the afternoon: it expires.
        left_open = seller.propose_transfer("A002", "A001", "SHEA2025", Side.SELL, 8100, 120_000, "late-1")
        (late,) = left_open.events
        assert isinstance(late, TransferProposed)
        statuses = {t.transfer_id: t.status for t in regulator.list_transfers()}
        assert statuses == {
            bid_proposed.transfer_id: TransferStatus.REJECTED,
            offer_proposed.transfer_id: TransferStatus.CANCELLED,
            late.transfer_id: TransferStatus.OPEN,
        }
        closed = regulator.submit_atomic([SetSession(session=Session.CLOSED)])
        assert isinstance(closed, Result)
        (expired,) = [e for e in closed.events if isinstance(e, TransferExpired)]
        assert (expired.transfer_id, expired.account, expired.released_quantity) == (late.transfer_id, "A002", 120_000)
        assert hear(seller, lambda e: isinstance(e, TransferExpired))[-1] == expired
        assert hear(buyer, lambda e: isinstance(e, TransferExpired))[-1] == expired

        # The end of day: every tonne and fen accounted for (the ledger's conservation check).
        ended = regulator.submit_atomic([EndOfDay(trading_day=regulator.session.trading_day)])
        assert isinstance(ended, Result)
        (conservation,) = [e for e in ended.events if isinstance(e, ConservationChecked)]
        assert conservation.ok and not conservation.mismatches


async def _reject_as_m102(node: NodeProcess, transfer_id: int) -> Result:
    member = await AsyncMemberClient.connect(node.order_entry, "M102", node.keys_dir)
    try:
        return await member.reject_transfer("A104", transfer_id)
    finally:
        await member.close()
