"""Sealed-bid auctions through the order gateway (gateway/authorise.py, gateway/reports.py with
gateway/auction_reports.py, gateway/auction_queries.py) and the SDK (gateway/client_auctions.py).

Who may send which auction command (a member bids and applies on its own accounts only; the
regulator announces, approves, opens, closes, clears, cancels and loads figures; surveillance
nothing); who hears of which auction event (a bid: its bidder's member, the regulator and
surveillance, never another member; an auction's notices: the regulator and the auctioneer's
member), replayed the same from the journal and from a saved report book; what ``ListAuctions``,
``ListBids`` and the pages of ``ListAuctionBids`` show each role; the tables and worked examples of
docs/PROTOCOL.md; then the SDK against a real node. The harness (tests/gateway_helpers.py) plays the
node without sockets. Auctions do not touch the listing, so these tests run on one book.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from enum import IntEnum

import msgspec
import pytest

from engine.auction.state import PublishedBid
from engine.config import Account
from engine.messages import (
    AllocateAllowances,
    AmendBid,
    AnnounceAuction,
    ApplyAuction,
    ApproveAuction,
    AuctionAnnounced,
    AuctionApplied,
    AuctionCancelled,
    AuctionCleared,
    AuctionClosed,
    AuctionKind,
    AuctionOpened,
    AuctionSettled,
    AuctionStatus,
    AuctionTerms,
    BidAccepted,
    BidAllocated,
    BidAmended,
    BidCap,
    BidWithdrawn,
    CancelAuction,
    CancelCause,
    ClearAuction,
    CloseAuction,
    Command,
    DailyFiguresLoaded,
    DayFigures,
    Event,
    LoadDailyFigures,
    OpenAuction,
    Pricing,
    Purpose,
    Reject,
    RequestRejected,
    SubmitBid,
    TieBreak,
    WithdrawBid,
    reject_text,
)
from engine.view import AuctionRecord, BidRecord
from gateway.access import GatewayOptions
from gateway.auction_queries import _BID_BYTES, _PAGE_BYTES, page_size
from gateway.client import AsyncMemberClient, MemberClient
from gateway.client_core import Result
from gateway.protocol import (
    Ack,
    AuctionBidsPage,
    AuctionInfo,
    AuctionList,
    BidInfo,
    BidList,
    ExecutionReport,
    ListAuctionBids,
    ListAuctions,
    ListBids,
    PublishedBidInfo,
    Refused,
    ServerMessage,
    encoder,
    server_decoder,
)
from gateway.reports import ReportBook
from tests.conftest import market_config
from tests.gateway_helpers import R1, R2, RR, RS, Harness, member_access, report
from tests.node_process import NodeProcess, make_config
from tests.test_protocol_doc import EXAMPLES, TEXT, section, table_fields

VOLUME = 1_000  # tonnes the reserve sells
FLOOR = 4800  # the floor of the reserve sale, fen/t
ONE_WAY_T = 100_000  # the smallest one-way sale (AuctionRules.one_way_min_t)


def auction_harness(options: GatewayOptions | None = None) -> Harness:
    """The test market with a TREASURY account (the regulator's), RESERVE holding ``VOLUME`` t of
    SHEA2025, A2 enough to sell a one-way auction, every trader funded (open_market); M1, M2, the
    regulator and surveillance logged on."""
    base = market_config()
    config = market_config(accounts=[*base.accounts, Account(id="TREASURY", member="REGU", kind="treasury")])
    access = [
        msgspec.structs.replace(a, accounts=[*a.accounts, "TREASURY"]) if a.member == "REGU" else a
        for a in member_access()
    ]
    h = Harness(config=config, access=access, options=options)
    h.open_market()
    h.direct(
        AllocateAllowances(account="RESERVE", instrument="SHEA2025", quantity=VOLUME),
        AllocateAllowances(account="A2", instrument="SHEA2025", quantity=ONE_WAY_T),
    )
    for routing_id, member in ((R1, "M1"), (R2, "M2"), (RR, "REGU"), (RS, "EXCH")):
        h.logon(routing_id, member)
    return h


def reserve_sale(h: Harness, volume: int = VOLUME) -> AuctionTerms:
    """A market-supply reserve sale at a fixed floor, its window open from now on (time tie-break)."""
    return AuctionTerms(
        kind=AuctionKind.RESERVE_SALE,
        purpose=Purpose.MARKET_SUPPLY,
        instrument="SHEA2025",
        auctioneer="RESERVE",
        volume=volume,
        price=FLOOR,
        opens_at=h.ts + 1,
        closes_at=h.ts + 10**12,
    )


def one_way_sale(h: Harness) -> AuctionTerms:
    """A2 (M2) sells 100,000 t by one-way bidding at a floor of 78.00 (the reference is 80.00)."""
    return AuctionTerms(
        kind=AuctionKind.ONE_WAY,
        instrument="SHEA2025",
        auctioneer="A2",
        volume=ONE_WAY_T,
        price=7800,
        opens_at=h.ts + 1,
        closes_at=h.ts + 10**12,
    )


def bid(account: str, price: int, quantity: int, client_bid_id: str, auction_id: int = 1) -> SubmitBid:
    return SubmitBid(
        account=account, auction_id=auction_id, client_bid_id=client_bid_id, price=price, quantity=quantity
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


def events_of(messages: list[ServerMessage]) -> list[Event]:
    return [r.event for r in reports_of(messages)]


def open_sale(h: Harness) -> None:
    """Announce and open the reserve sale (auction 1) through the gateway; the outbox is drained."""
    sequenced(h, RR, "REGU", AnnounceAuction(terms=reserve_sale(h)), 1)
    sequenced(h, RR, "REGU", OpenAuction(auction_id=1), 2)
    h.take_all()


# ------------------------------------------------------------------------------ authorisation


@pytest.mark.parametrize(
    "command",
    [
        AnnounceAuction(
            terms=AuctionTerms(kind=AuctionKind.RESERVE_SALE, instrument="SHEA2025", auctioneer="RESERVE", volume=1)
        ),
        ApproveAuction(auction_id=1),
        OpenAuction(auction_id=1),
        CloseAuction(auction_id=1),
        ClearAuction(auction_id=1),
        CancelAuction(auction_id=1),  # without an account: the regulator's withdrawal
        LoadDailyFigures(
            instrument="SHEA2025", days=[DayFigures(trading_day=20261120, volume=1, turnover=8000, close=8000)]
        ),
    ],
    ids=lambda c: type(c).__name__,
)
def test_a_member_may_not_send_the_regulators_auction_commands(command: Command) -> None:
    h = auction_harness()

    h.submit(R1, "M1", command, request_id=3)

    assert h.take(R1) == [refused(3, Reject.NOT_AUTHORISED, command=type(command).__name__, role="member")]
    assert h.step() == [] and h.applied == []


@pytest.mark.parametrize(
    "command",
    [
        bid("A2", FLOOR, 100, "b1"),  # another member's account
        AmendBid(account="A2", bid_id=1, price=FLOOR, quantity=100),
        WithdrawBid(account="A2", bid_id=1),
        ApplyAuction(
            account="A2", terms=AuctionTerms(kind=AuctionKind.ONE_WAY, instrument="SHEA2025", auctioneer="A2")
        ),
        CancelAuction(auction_id=1, account="A2"),
        bid("NOPE", FLOOR, 100, "b1"),  # an account that does not exist: refused alike
    ],
    ids=["bid", "amend", "withdraw", "apply", "cancel", "unknown"],
)
def test_a_member_bids_and_applies_for_its_own_accounts_only(command: Command) -> None:
    h = auction_harness()
    open_sale(h)
    applied = len(h.applied)

    h.submit(R1, "M1", command, request_id=3)

    assert h.take(R1) == [refused(3, Reject.UNKNOWN_ACCOUNT, account=command.account)]  # type: ignore[attr-defined]
    assert h.step() == [] and len(h.applied) == applied


@pytest.mark.parametrize(
    ("connection", "member", "command"),
    [
        (RR, "REGU", bid("A1", FLOOR, 100, "b1")),
        (
            RR,
            "REGU",
            ApplyAuction(
                account="A2", terms=AuctionTerms(kind=AuctionKind.ONE_WAY, instrument="SHEA2025", auctioneer="A2")
            ),
        ),
        (RS, "EXCH", bid("A1", FLOOR, 100, "b1")),
        (RS, "EXCH", OpenAuction(auction_id=1)),
        (RS, "EXCH", CancelAuction(auction_id=1)),
    ],
    ids=["regulator-bid", "regulator-apply", "surveillance-bid", "surveillance-open", "surveillance-cancel"],
)
def test_the_regulator_does_not_bid_and_surveillance_sends_nothing(
    connection: bytes, member: str, command: Command
) -> None:
    h = auction_harness()
    role = h.gateway.access[member].role

    h.submit(connection, member, command, request_id=5)

    assert h.take(connection) == [refused(5, Reject.NOT_AUTHORISED, command=type(command).__name__, role=role)]


def test_another_members_bid_id_is_the_engines_unknown_bid_and_its_bidder_hears_nothing() -> None:
    h = auction_harness()
    open_sale(h)
    sequenced(h, R2, "M2", bid("A2", FLOOR, 100, "b1"), 3)
    h.take_all()

    [rejected] = sequenced(h, R1, "M1", WithdrawBid(account="A1", bid_id=1), 4)

    assert isinstance(rejected, RequestRejected) and rejected.code is Reject.UNKNOWN_BID
    assert rejected.text == reject_text(Reject.UNKNOWN_BID, bid_id=1)
    out = h.take_by_connection()
    assert out.pop(R1) == [report(1, 4, rejected), Ack(request_id=4, journal_seq=4, first_report=1, report_count=1)]
    assert out.pop(RS) == [report(4, 0, rejected)]  # the drop copy sees everything
    assert out == {}


# ------------------------------------------------------------------------------ routing


def test_a_reserve_sale_is_announced_and_opened_to_the_regulator_and_surveillance_only() -> None:
    h = auction_harness()

    [announced] = sequenced(h, RR, "REGU", AnnounceAuction(terms=reserve_sale(h)), 1)
    [opened] = sequenced(h, RR, "REGU", OpenAuction(auction_id=1), 2)

    assert isinstance(announced, AuctionAnnounced) and announced.frozen_quantity == VOLUME
    assert opened == AuctionOpened(ts_event=opened.ts_event, auction_id=1, instrument="SHEA2025")
    # The notices reach members through market data; as reports, the auctioneer's (RESERVE: the
    # regulator's own) and surveillance's.
    assert h.take_by_connection() == {
        RR: [
            report(1, 1, announced),
            Ack(request_id=1, journal_seq=1, first_report=1, report_count=1),
            report(2, 2, opened),
            Ack(request_id=2, journal_seq=2, first_report=2, report_count=1),
        ],
        RS: [report(1, 0, announced), report(2, 0, opened)],
    }


def test_a_bid_reaches_its_bidder_the_regulator_and_surveillance_and_no_other_member() -> None:
    h = auction_harness()
    open_sale(h)

    [accepted] = sequenced(h, R1, "M1", bid("A1", 5000, 600, "b1"), 3)
    first = h.take_by_connection()
    [amended] = sequenced(h, R1, "M1", AmendBid(account="A1", bid_id=1, price=5000, quantity=500), 4)
    second = h.take_by_connection()

    assert accepted == BidAccepted(
        ts_event=accepted.ts_event,
        bid_id=1,
        auction_id=1,
        account="A1",
        client_bid_id="b1",
        price=5000,
        quantity=600,
        time_rank=1,
        frozen_cash=5000 * 600,
        frozen_quantity=0,
    )
    assert isinstance(amended, BidAmended) and (amended.quantity, amended.time_rank) == (500, 1)
    assert first == {
        R1: [report(1, 3, accepted), Ack(request_id=3, journal_seq=3, first_report=1, report_count=1)],
        RR: [report(3, 0, accepted)],
        RS: [report(3, 0, accepted)],
    }
    assert second == {
        R1: [report(2, 4, amended), Ack(request_id=4, journal_seq=4, first_report=2, report_count=1)],
        RR: [report(4, 0, amended)],
        RS: [report(4, 0, amended)],
    }


def test_a_refused_bid_reaches_its_bidder_and_surveillance() -> None:
    h = auction_harness()
    open_sale(h)

    [rejected] = sequenced(h, R1, "M1", bid("A1", FLOOR - 100, 100, "b1"), 3)

    assert isinstance(rejected, RequestRejected) and rejected.code is Reject.BID_BELOW_FLOOR
    assert rejected.text == reject_text(Reject.BID_BELOW_FLOOR, auction_id=1, price=FLOOR - 100, floor=FLOOR)
    assert h.take_by_connection() == {
        R1: [report(1, 3, rejected), Ack(request_id=3, journal_seq=3, first_report=1, report_count=1)],
        RS: [report(3, 0, rejected)],
    }


def test_a_refused_regulators_command_reaches_the_regulator_and_surveillance() -> None:
    h = auction_harness()

    [rejected] = sequenced(h, RR, "REGU", OpenAuction(auction_id=7), 1)

    assert isinstance(rejected, RequestRejected) and rejected.code is Reject.UNKNOWN_AUCTION
    assert h.take_by_connection() == {
        RR: [report(1, 1, rejected), Ack(request_id=1, journal_seq=1, first_report=1, report_count=1)],
        RS: [report(1, 0, rejected)],
    }


def test_clearing_tells_each_bidder_its_own_allocation_and_nobody_else() -> None:
    h = auction_harness()
    open_sale(h)
    sequenced(h, R1, "M1", bid("A1", 5000, 600, "b1"), 3)
    sequenced(h, R2, "M2", bid("A2", 4900, 600, "b2"), 4)
    h.take_all()

    closed, won, cut, settled, cleared = sequenced(h, RR, "REGU", CloseAuction(auction_id=1), 5)

    assert closed == AuctionClosed(ts_event=closed.ts_event, auction_id=1, instrument="SHEA2025", bids=2)
    assert isinstance(won, BidAllocated) and (won.account, won.quantity, won.price) == ("A1", 600, 4900)
    assert isinstance(cut, BidAllocated) and (cut.account, cut.quantity, cut.price) == ("A2", 400, 4900)
    assert isinstance(settled, AuctionSettled) and (settled.account, settled.quantity) == ("RESERVE", VOLUME)
    assert isinstance(cleared, AuctionCleared)
    assert (cleared.volume_sold, cleared.clearing_price, cleared.revenue) == (VOLUME, 4900, 4900 * VOLUME)
    assert h.take_by_connection() == {
        RR: [
            report(5, 5, closed),
            report(6, 5, won),
            report(7, 5, cut),
            report(8, 5, settled),
            report(9, 5, cleared),
            Ack(request_id=5, journal_seq=5, first_report=5, report_count=5),
        ],
        R1: [report(2, 0, won)],
        R2: [report(2, 0, cut)],
        RS: [report(5, 0, closed), report(6, 0, won), report(7, 0, cut), report(8, 0, settled), report(9, 0, cleared)],
    }


def test_after_clearing_each_bidder_lists_its_own_allocations_again_and_the_regulator_all() -> None:
    h = auction_harness()
    open_sale(h)
    sequenced(h, R1, "M1", bid("A1", 5000, 600, "b1"), 3)
    sequenced(h, R2, "M2", bid("A2", 4900, 600, "b2"), 4)
    _closed, won, cut, _settled, _cleared = sequenced(h, RR, "REGU", CloseAuction(auction_id=1), 5)
    h.take_all()

    h.send(R1, "M1", ListBids(request_id=70, auction_id=1))
    h.send(R2, "M2", ListBids(request_id=71, auction_id=1))
    h.send(RR, "REGU", ListBids(request_id=72, auction_id=1))

    assert h.take_by_connection() == {
        R1: [BidList(request_id=70, bids=[], allocations=[won])],
        R2: [BidList(request_id=71, bids=[], allocations=[cut])],
        RR: [BidList(request_id=72, bids=[], allocations=[won, cut])],
    }


def test_the_scheduler_closing_an_auction_still_tells_the_regulator_every_allocation() -> None:
    h = auction_harness()
    open_sale(h)
    sequenced(h, R1, "M1", bid("A1", 5000, 600, "b1"), 3)
    h.take_all()

    h.system(CloseAuction(auction_id=1))

    closed, won, settled, cleared = h.applied[-1].events
    assert isinstance(won, BidAllocated) and won.account == "A1"
    out = h.take_by_connection()
    assert out[RR] == [report(4, 0, closed), report(5, 0, won), report(6, 0, settled), report(7, 0, cleared)]
    assert out[R1] == [report(2, 0, won)]
    assert R2 not in out


def test_a_cancelled_auction_releases_each_bid_to_its_own_bidder() -> None:
    h = auction_harness()
    open_sale(h)
    sequenced(h, R1, "M1", bid("A1", 5000, 100, "b1"), 3)
    sequenced(h, R2, "M2", bid("A2", 4900, 100, "b2"), 4)
    h.take_all()

    first, second, cancelled = sequenced(h, RR, "REGU", CancelAuction(auction_id=1, reason="drill"), 5)

    assert isinstance(first, BidWithdrawn) and first.account == "A1" and first.released_cash == 5000 * 100
    assert isinstance(second, BidWithdrawn) and second.account == "A2"
    assert cancelled == AuctionCancelled(
        ts_event=cancelled.ts_event,
        auction_id=1,
        instrument="SHEA2025",
        auctioneer="RESERVE",
        reason="drill",
        released_cash=0,
        released_quantity=VOLUME,
    )
    out = h.take_by_connection()
    assert events_of(out[R1]) == [first]
    assert events_of(out[R2]) == [second]
    assert events_of(out[RR]) == [first, second, cancelled]


def test_a_one_way_sale_is_followed_by_its_seller_but_its_bids_only_by_their_bidders() -> None:
    h = auction_harness()

    [applied] = sequenced(h, R2, "M2", ApplyAuction(account="A2", terms=one_way_sale(h)), 1)
    on_apply = h.take_by_connection()
    [announced] = sequenced(h, RR, "REGU", ApproveAuction(auction_id=1), 2)
    [opened] = sequenced(h, RR, "REGU", OpenAuction(auction_id=1), 3)
    on_open = h.take_by_connection()
    [accepted] = sequenced(h, R1, "M1", bid("A1", 8000, 40_000, "b1"), 4)
    on_bid = h.take_by_connection()
    closed, allocated, settled, cleared = sequenced(h, RR, "REGU", CloseAuction(auction_id=1), 5)
    on_close = h.take_by_connection()

    assert isinstance(applied, AuctionApplied) and applied.frozen_quantity == ONE_WAY_T
    assert isinstance(announced, AuctionAnnounced) and announced.terms.auctioneer == "A2"
    assert isinstance(accepted, BidAccepted)
    assert isinstance(allocated, BidAllocated) and allocated.quantity == 40_000
    assert isinstance(cleared, AuctionCleared) and cleared.volume_sold == 40_000
    # The application: the applicant's member, the regulator, surveillance; never M1.
    assert on_apply == {
        R2: [report(1, 1, applied), Ack(request_id=1, journal_seq=1, first_report=1, report_count=1)],
        RR: [report(1, 0, applied)],
        RS: [report(1, 0, applied)],
    }
    # Its approval and opening: the seller follows its own auction.
    assert events_of(on_open[R2]) == [announced, opened]
    assert R1 not in on_open
    # The bid is sealed, from the seller too.
    assert set(on_bid) == {R1, RR, RS}
    # The seller hears its own side of the clearing (AuctionSettled); each bidder its own allocation.
    assert isinstance(settled, AuctionSettled) and (settled.account, settled.quantity) == ("A2", 40_000)
    assert events_of(on_close[R2]) == [closed, settled, cleared]
    assert events_of(on_close[R1]) == [allocated]
    assert events_of(on_close[RR]) == [closed, allocated, settled, cleared]


def test_an_applicant_withdrawing_its_application_is_heard_by_it_and_the_regulator() -> None:
    h = auction_harness()
    sequenced(h, R2, "M2", ApplyAuction(account="A2", terms=one_way_sale(h)), 1)
    h.take_all()

    [cancelled] = sequenced(h, R2, "M2", CancelAuction(auction_id=1, account="A2"), 2)

    assert isinstance(cancelled, AuctionCancelled) and cancelled.released_quantity == ONE_WAY_T
    out = h.take_by_connection()
    assert out == {
        R2: [report(2, 2, cancelled), Ack(request_id=2, journal_seq=2, first_report=2, report_count=1)],
        RR: [report(2, 0, cancelled)],
        RS: [report(2, 0, cancelled)],
    }
    assert h.reports.auctioneers.by_auction == {}


def test_loaded_daily_figures_are_the_regulators() -> None:
    h = auction_harness()
    days = [DayFigures(trading_day=20261120, volume=1_000, turnover=8_000_000, close=8000)]

    [loaded] = sequenced(h, RR, "REGU", LoadDailyFigures(instrument="SHEA2025", days=days), 1)

    assert loaded == DailyFiguresLoaded(
        ts_event=loaded.ts_event, instrument="SHEA2025", days=1, first_day=20261120, last_day=20261120
    )
    assert set(h.take_by_connection()) == {RR, RS}


def _one_way_journal(h: Harness) -> int:
    """Run a one-way sale through the gateway; the number of commands applied when it had opened."""
    sequenced(h, R2, "M2", ApplyAuction(account="A2", terms=one_way_sale(h)), 1)
    sequenced(h, RR, "REGU", ApproveAuction(auction_id=1), 2)
    sequenced(h, RR, "REGU", OpenAuction(auction_id=1), 3)
    opened_at = len(h.applied)
    sequenced(h, R1, "M1", bid("A1", 8000, 40_000, "b1"), 4)
    sequenced(h, R1, "M1", AmendBid(account="A1", bid_id=1, price=8100, quantity=40_000), 5)
    h.system(CloseAuction(auction_id=1))
    return opened_at


def test_routing_the_journal_again_numbers_every_auction_report_the_same() -> None:
    h = auction_harness()
    _one_way_journal(h)

    replayed = ReportBook(h.access)
    for a in h.applied:
        replayed.route(a.origin, a.request_id, a.command, a.events, a.seq)

    assert replayed.encode() == h.reports.encode()
    assert [h.reports.last(m) for m in ("EXCH", "REGU", "M1", "M2")] == [9, 9, 3, 6]


def test_a_report_book_saved_while_an_auction_is_open_routes_its_close_to_the_seller() -> None:
    h = auction_harness()
    opened_at = _one_way_journal(h)
    midway = ReportBook(h.access)
    for a in h.applied[:opened_at]:
        midway.route(a.origin, a.request_id, a.command, a.events, a.seq)

    restored = ReportBook(h.access)
    restored.restore(midway.encode())
    for a in h.applied[opened_at:]:
        restored.route(a.origin, a.request_id, a.command, a.events, a.seq)

    assert midway.auctioneers.by_auction == {1: "A2"}
    assert restored.encode() == h.reports.encode()


# ------------------------------------------------------------------------------ ListAuctions, ListBids


def _sale_and_application(h: Harness) -> None:
    """Auction 1: the open reserve sale, with bids 1 (A1), 2 (A2), 3 (A2, withdrawn); auction 2: A2's
    one-way application, not yet approved."""
    open_sale(h)
    sequenced(h, R1, "M1", bid("A1", 5000, 600, "b1"), 3)
    sequenced(h, R2, "M2", bid("A2", 4900, 600, "b2"), 4)
    sequenced(h, R2, "M2", bid("A2", 4800, 100, "b3"), 5)
    sequenced(h, R2, "M2", WithdrawBid(account="A2", bid_id=3), 6)
    sequenced(h, R2, "M2", ApplyAuction(account="A2", terms=one_way_sale(h)), 7)
    h.take_all()


def _auction_infos(h: Harness) -> list[AuctionInfo]:
    return [AuctionInfo(**msgspec.structs.asdict(r)) for r in h.gateway.view.auctions()]


@pytest.mark.parametrize(
    ("connection", "member", "expected"),
    [(R1, "M1", [1]), (R2, "M2", [1, 2]), (RR, "REGU", [1, 2]), (RS, "EXCH", [1, 2])],
)
def test_list_auctions_shows_announced_auctions_to_all_and_an_application_to_its_applicant(
    connection: bytes, member: str, expected: list[int]
) -> None:
    h = auction_harness()
    _sale_and_application(h)
    infos = {i.auction_id: i for i in _auction_infos(h)}

    h.send(connection, member, ListAuctions(request_id=60))

    [answer] = h.take(connection)
    assert isinstance(answer, AuctionList) and answer.request_id == 60
    assert [a.auction_id for a in answer.auctions] == expected
    sale = answer.auctions[0]
    assert (sale.status, sale.terms.auctioneer, sale.price_limit) == (AuctionStatus.OPEN, "RESERVE", FLOOR)
    if h.gateway.access[member].role == "member":
        # Sealed bids: how many there are is not told before the results.
        assert (sale.bids, sale.bids_received) == (0, 0)
        assert answer.auctions == [msgspec.structs.replace(infos[i], bids=0, bids_received=0) for i in expected]
    else:
        assert (sale.bids, sale.bids_received) == (2, 3)
        assert answer.auctions == [infos[i] for i in expected]


def test_list_auctions_shows_a_cleared_auctions_results_and_bid_count_to_members() -> None:
    h = auction_harness()
    open_sale(h)
    sequenced(h, R1, "M1", bid("A1", 5000, 600, "b1"), 3)
    sequenced(h, RR, "REGU", CloseAuction(auction_id=1), 4)
    h.take_all()

    h.send(R2, "M2", ListAuctions(request_id=61))

    [answer] = h.take(R2)
    assert isinstance(answer, AuctionList)
    [sale] = answer.auctions
    assert sale.status is AuctionStatus.CLEARED and sale.bids_received == 1 and sale.published_bids == 1
    assert isinstance(sale.results, AuctionCleared) and sale.results.bid_count == 1


@pytest.mark.parametrize(("connection", "member", "seller"), [(R1, "M1", ""), (R2, "M2", "A2"), (RR, "REGU", "A2")])
def test_a_one_way_seller_is_named_to_its_own_member_and_the_regulator_only(
    connection: bytes, member: str, seller: str
) -> None:
    h = auction_harness()
    sequenced(h, R2, "M2", ApplyAuction(account="A2", terms=one_way_sale(h)), 1)
    sequenced(h, RR, "REGU", ApproveAuction(auction_id=1), 2)
    h.take_all()

    h.send(connection, member, ListAuctions(request_id=64))

    [answer] = h.take(connection)
    assert isinstance(answer, AuctionList)
    [sale] = answer.auctions
    assert sale.status is AuctionStatus.ANNOUNCED and sale.terms.volume == ONE_WAY_T
    assert (sale.applicant, sale.terms.auctioneer) == (seller, seller)


def _bid_infos(h: Harness) -> dict[int, BidInfo]:
    return {b.bid_id: BidInfo(**msgspec.structs.asdict(b)) for b in h.gateway.view.bids()}


@pytest.mark.parametrize(
    ("connection", "member", "auction_id", "account", "expected"),
    [
        (R1, "M1", 0, "", [1]),
        (R1, "M1", 1, "A1", [1]),
        (R2, "M2", 0, "", [2, 3]),
        (R2, "M2", 1, "A2", [2, 3]),
        (R2, "M2", 2, "", []),
        (R2, "M2", 0, "A3", []),
        (RR, "REGU", 0, "", [1, 2, 3]),
        (RR, "REGU", 0, "A1", [1]),
        (RS, "EXCH", 1, "", [1, 2, 3]),
    ],
)
def test_list_bids_shows_a_member_its_own_bids_and_the_regulator_every_bid(
    connection: bytes, member: str, auction_id: int, account: str, expected: list[int]
) -> None:
    h = auction_harness()
    _sale_and_application(h)
    bids = _bid_infos(h)

    h.send(connection, member, ListBids(request_id=62, auction_id=auction_id, account=account))

    assert h.take(connection) == [BidList(request_id=62, bids=[bids[i] for i in expected])]
    assert bids[3].live is False and bids[3].frozen_cash == 0


@pytest.mark.parametrize(
    ("connection", "member", "account"), [(R1, "M1", "A2"), (R2, "M2", "A1"), (RR, "REGU", "NOPE")]
)
def test_listing_the_bids_of_an_account_the_sender_may_not_see_is_refused(
    connection: bytes, member: str, account: str
) -> None:
    h = auction_harness()
    _sale_and_application(h)

    h.send(connection, member, ListBids(request_id=63, account=account))

    assert h.take(connection) == [refused(63, Reject.UNKNOWN_ACCOUNT, account=account)]


# ------------------------------------------------------------------------------ ListAuctionBids: paging

SMALL_FRAME = 2_048  # bytes: a gateway whose frames hold a page of a few bids only
BIDS_EACH = 60  # bids of A1 and of A2 in the paged auction


def _cleared_with_many_bids(options: GatewayOptions | None = None) -> Harness:
    """Auction 1 cleared with 120 bids: A1 and A2 (M1, M2) bid 60 times each, alternately, at prices
    that tie in pairs; set up behind the gateway (no reports)."""
    h = auction_harness(options)
    h.direct(AnnounceAuction(terms=reserve_sale(h)), OpenAuction(auction_id=1))
    for n in range(BIDS_EACH):
        price = FLOOR + 10 * (n % 7)
        h.direct(bid("A1", price, 10, f"a{n}"), bid("A2", price, 7, f"b{n}"))
    [cleared] = [e for e in h.direct(CloseAuction(auction_id=1)) if isinstance(e, AuctionCleared)]
    assert cleared.bid_count == 2 * BIDS_EACH
    return h


def _page_frames(h: Harness, connection: bytes, member: str, query: ListAuctionBids) -> list[bytes]:
    h.send(connection, member, query)
    return [frame for rid, frame in h.gateway.take_outbox() if rid == connection]


def test_the_pages_of_a_cleared_auction_give_every_published_bid_once_each_within_the_frame_limit() -> None:
    h = _cleared_with_many_bids(GatewayOptions(max_frame_bytes=SMALL_FRAME))
    published = [PublishedBidInfo(**msgspec.structs.asdict(b)) for b in h.gateway.view.published_bids(1)]
    size = page_size(SMALL_FRAME)

    pages: list[AuctionBidsPage] = []
    offset = 0
    while True:
        [frame] = _page_frames(h, R1, "M1", ListAuctionBids(request_id=70 + len(pages), auction_id=1, offset=offset))
        assert len(frame) <= SMALL_FRAME
        page = server_decoder.decode(frame)
        assert isinstance(page, AuctionBidsPage)
        if not page.bids:
            break
        pages.append(page)
        offset += len(page.bids)

    assert len(published) == 2 * BIDS_EACH and 1 < size < len(published)
    assert [len(p.bids) for p in pages] == [size] * (len(published) // size) + [len(published) % size]
    assert [b for p in pages for b in p.bids] == published
    assert {(p.auction_id, p.total) for p in pages} == {(1, len(published))}
    assert [p.offset for p in pages] == list(range(0, len(published), size))
    assert {b.bidder for b in published} == {1, 2}  # pseudonyms, never accounts


@pytest.mark.parametrize(
    ("offset", "limit", "expected"),
    [
        (0, 5, (0, 5)),
        (10, 0, (10, 10 + page_size(SMALL_FRAME))),
        (3, 10**6, (3, 3 + page_size(SMALL_FRAME))),
        (200, 0, (0, 0)),
    ],
    ids=["limit", "default", "clamped", "beyond"],
)
def test_a_page_holds_at_most_the_limit_asked_and_never_more_than_the_frame_allows(
    offset: int, limit: int, expected: tuple[int, int]
) -> None:
    h = _cleared_with_many_bids(GatewayOptions(max_frame_bytes=SMALL_FRAME))
    published = [PublishedBidInfo(**msgspec.structs.asdict(b)) for b in h.gateway.view.published_bids(1)]

    [frame] = _page_frames(h, R2, "M2", ListAuctionBids(request_id=80, auction_id=1, offset=offset, limit=limit))

    start, end = expected
    assert server_decoder.decode(frame) == AuctionBidsPage(
        request_id=80, auction_id=1, offset=offset, total=len(published), bids=published[start:end]
    )


@pytest.mark.parametrize("auction_id", [1, 2, 99], ids=["open", "application", "unknown"])
def test_an_auction_without_a_published_list_has_an_empty_page(auction_id: int) -> None:
    h = auction_harness()
    _sale_and_application(h)

    h.send(R1, "M1", ListAuctionBids(request_id=81, auction_id=auction_id))

    assert h.take(R1) == [AuctionBidsPage(request_id=81, auction_id=auction_id, offset=0, total=0, bids=[])]


@pytest.mark.parametrize("max_frame_bytes", [300, SMALL_FRAME, GatewayOptions().max_frame_bytes])
def test_a_full_page_of_the_widest_numbers_fits_the_frame_and_one_bid_more_would_not(max_frame_bytes: int) -> None:
    widest = 2**64 - 1
    one = PublishedBidInfo(
        bidder=widest, time_rank=widest, price=widest, quantity=widest, allocated=widest, allocation_price=widest
    )
    size = page_size(max_frame_bytes)

    def encoded(count: int) -> int:
        page = AuctionBidsPage(request_id=2**63 - 1, auction_id=widest, offset=widest, total=widest, bids=[one] * count)
        return len(encoder.encode(page))

    assert encoded(size) <= max_frame_bytes < encoded(size + 1) + 4  # + 4: the list header's widest form
    assert page_size(GatewayOptions().max_frame_bytes) >= 500


def test_the_wire_records_mirror_the_engines_auction_records() -> None:
    assert msgspec.structs.fields(AuctionInfo) == msgspec.structs.fields(AuctionRecord)
    assert msgspec.structs.fields(BidInfo) == msgspec.structs.fields(BidRecord)
    assert PublishedBidInfo.__struct_fields__ == PublishedBid.__struct_fields__


# ------------------------------------------------------------------------------ docs/PROTOCOL.md


def test_the_protocol_document_shows_a_reserve_sale_from_announcement_to_its_results() -> None:
    # Every hex example is decoded and re-encoded by tests/test_protocol_doc.py; these must be among them.
    shown = {e.label for e in EXAMPLES}
    assert {
        "Submit(AnnounceAuction)",
        "ExecutionReport(AuctionAnnounced)",
        "Submit(SubmitBid)",
        "ExecutionReport(BidAccepted)",
        "ListBids",
        "BidList",
        "ListAuctions",
        "AuctionList",
        "ExecutionReport(BidAllocated)",
        "ListAuctionBids",
        "AuctionBidsPage",
    } <= shown


def test_the_protocol_document_gives_the_page_size_the_gateway_uses() -> None:
    default = GatewayOptions().max_frame_bytes
    assert f"⌊(`max_frame_bytes` − {_PAGE_BYTES}) ÷ {_BID_BYTES}⌋ bids ({page_size(default)} by default;" in TEXT
    assert f"as many bids as fit `max_frame_bytes` ({page_size(default)} at {default:,} bytes)" in TEXT


@pytest.mark.parametrize(
    "kind", [AuctionTerms, BidCap, DayFigures, AuctionInfo, BidInfo, PublishedBidInfo], ids=lambda k: k.__name__
)
def test_the_protocol_document_lists_every_field_of_the_auction_records(kind: type[msgspec.Struct]) -> None:
    assert table_fields(section(TEXT, kind.__name__)) == set(kind.__struct_fields__)


@pytest.mark.parametrize(
    "enum", [AuctionKind, Purpose, Pricing, TieBreak, AuctionStatus, CancelCause], ids=lambda e: e.__name__
)
def test_the_protocol_document_lists_every_auction_enum_value(enum: type[IntEnum]) -> None:
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", section(TEXT, enum.__name__), re.MULTILINE)
    assert {(int(value), name) for value, name in rows} == {(int(m), m.name) for m in enum}


# ------------------------------------------------------------------------------ the SDK, against a node


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A demo node; the regulator has given RESERVE 10,000 t of SHEA2025 to auction."""
    root = tmp_path_factory.mktemp("auctions")
    process = NodeProcess(make_config(root), root / "var").start()
    try:
        with MemberClient.from_keys(process.order_entry, "REGULATOR", process.keys_dir) as regulator:
            result = regulator.submit(AllocateAllowances(account="RESERVE", instrument="SHEA2025", quantity=10_000))
            assert result.accepted and not any(isinstance(e, RequestRejected) for e in result.events)
        yield process
    finally:
        assert process.stop() == 0, process.stderr()


def client(node: NodeProcess, member: str) -> MemberClient:
    return MemberClient.from_keys(node.order_entry, member, node.keys_dir, timeout_ms=5_000)


def only(result: Result, kind: type[Event]) -> Event:
    assert result.accepted, result.refused
    [event] = [e for e in result.events if isinstance(e, kind)]
    return event


def sdk_sale(volume: int, tie_break: TieBreak = TieBreak.TIME) -> AuctionTerms:
    now = time.time_ns()
    return AuctionTerms(
        kind=AuctionKind.RESERVE_SALE,
        purpose=Purpose.MARKET_SUPPLY,
        instrument="SHEA2025",
        auctioneer="RESERVE",
        volume=volume,
        price=FLOOR,
        opens_at=now,
        closes_at=now + 3_600 * 10**9,
        caps=[BidCap(kind="covered_entity", max_t=volume)],
        tie_break=tie_break,
    )


@pytest.mark.e2e
def test_the_sdk_runs_a_reserve_sale_from_announcement_to_its_pages(node: NodeProcess) -> None:
    with client(node, "REGULATOR") as regulator, client(node, "M001") as m1, client(node, "M002") as m2:
        announced = only(regulator.announce_auction(sdk_sale(1_000)), AuctionAnnounced)
        assert isinstance(announced, AuctionAnnounced)
        auction_id = announced.auction_id
        assert isinstance(only(regulator.open_auction(auction_id), AuctionOpened), AuctionOpened)

        first = only(m1.submit_bid("A001", auction_id, 5000, 600, "sdk-1"), BidAccepted)
        second = only(m2.submit_bid("A002", auction_id, 4900, 600), BidAccepted)  # a random client bid id
        assert isinstance(first, BidAccepted) and isinstance(second, BidAccepted) and second.client_bid_id
        amended = only(m1.amend_bid("A001", first.bid_id, 5000, 500), BidAmended)
        assert isinstance(amended, BidAmended) and amended.quantity == 500
        extra = only(m1.submit_bid("A001", auction_id, 4800, 100, "sdk-2"), BidAccepted)
        assert isinstance(extra, BidAccepted)
        assert [type(e) for e in m1.withdraw_bid("A001", extra.bid_id).events] == [BidWithdrawn]

        assert [(b.bid_id, b.live) for b in m1.list_bids(auction_id)] == [(first.bid_id, True), (extra.bid_id, False)]
        assert [b.account for b in m2.list_bids()] == ["A002"]
        assert {b.account for b in regulator.list_bids(auction_id)} == {"A001", "A002"}
        with pytest.raises(Exception, match="UNKNOWN_ACCOUNT"):
            m1.list_bids(account="A002")
        [listed] = [a for a in m2.list_auctions() if a.auction_id == auction_id]
        assert (listed.status, listed.bids) == (AuctionStatus.OPEN, 0)

        close = regulator.close_auction(auction_id)
        cleared = only(close, AuctionCleared)
        assert isinstance(cleared, AuctionCleared) and (cleared.volume_sold, cleared.clearing_price) == (1_000, 4900)
        page = m2.auction_bids_page(auction_id, limit=1)
        assert (page.total, len(page.bids), page.bids[0].time_rank) == (2, 1, 1)
        # In time-rank order; the withdrawn bid is not among them.
        assert [(b.time_rank, b.price, b.allocated) for b in m2.auction_bids(auction_id)] == [
            (1, 5000, 500),
            (2, 4900, 500),
        ]
        [done] = [a for a in m1.list_auctions() if a.auction_id == auction_id]
        assert done.status is AuctionStatus.CLEARED and done.results == cleared


@pytest.mark.e2e
def test_the_sdk_refuses_what_a_role_may_not_send(node: NodeProcess) -> None:
    with client(node, "REGULATOR") as regulator, client(node, "M001") as m1:
        refused_announce = m1.announce_auction(sdk_sale(1_000))
        assert refused_announce.refused is not None and refused_announce.refused.code is Reject.NOT_AUTHORISED
        refused_bid = regulator.submit_bid("A001", 1, FLOOR, 100)
        assert refused_bid.refused is not None and refused_bid.refused.code is Reject.NOT_AUTHORISED
        rejected = only(m1.cancel_auction(99, account="A001"), RequestRejected)
        assert isinstance(rejected, RequestRejected) and rejected.code is Reject.UNKNOWN_AUCTION
        withdrawn = only(regulator.cancel_auction(99, reason="drill"), RequestRejected)
        assert isinstance(withdrawn, RequestRejected) and withdrawn.code is Reject.UNKNOWN_AUCTION
        figures = regulator.load_daily_figures(
            "SHEA2025", [DayFigures(trading_day=20240102, volume=100, turnover=760_000, close=7600)]
        )
        assert isinstance(only(figures, DailyFiguresLoaded), DailyFiguresLoaded)


@pytest.mark.e2e
def test_the_asyncio_sdk_bids_lists_and_pages(node: NodeProcess) -> None:
    with client(node, "REGULATOR") as regulator:
        announced = only(regulator.announce_auction(sdk_sale(500)), AuctionAnnounced)
        assert isinstance(announced, AuctionAnnounced)
        auction_id = announced.auction_id
        regulator.open_auction(auction_id)

    async def run() -> tuple[Result, list[BidInfo], list[AuctionInfo], AuctionBidsPage]:
        m1 = await AsyncMemberClient.connect(node.order_entry, "M001", node.keys_dir)
        regulator = await AsyncMemberClient.connect(node.order_entry, "REGULATOR", node.keys_dir)
        try:
            accepted = await m1.submit_bid("A001", auction_id, 5000, 200, "async-1")
            bids = await m1.list_bids(auction_id)
            await regulator.close_auction(auction_id)
            auctions = await m1.list_auctions()
            page = await m1.auction_bids_page(auction_id)
            return accepted, bids, auctions, page
        finally:
            await m1.close()
            await regulator.close()

    accepted, bids, auctions, page = asyncio.run(run())

    event = only(accepted, BidAccepted)
    assert isinstance(event, BidAccepted)
    assert [(b.bid_id, b.quantity) for b in bids] == [(event.bid_id, 200)]
    [done] = [a for a in auctions if a.auction_id == auction_id]
    assert done.status is AuctionStatus.CLEARED
    assert (page.total, [(b.bidder, b.allocated) for b in page.bids]) == (1, [(1, 200)])
