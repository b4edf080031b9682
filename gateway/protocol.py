"""The order-entry wire protocol: every frame a member, regulator or surveillance client exchanges
with the gateway (docs/PROTOCOL.md is the specification for writers of clients in other languages).

A frame is one ZeroMQ message part holding one msgpack map; its ``type`` key names the message.
Engine commands travel inside ``Submit`` and ``SubmitBatch`` exactly as ``engine.messages`` encodes
them, and engine events inside ``ExecutionReport``. Integers only: prices in fen per tonne,
quantities in tonnes, money in fen, time in ns since the epoch (UTC).

Compatibility (protocol version 1): new fields go at the end with defaults, and readers ignore
keys they do not know; a field is never renamed, reordered or retyped. A change that breaks
these rules raises ``PROTOCOL_VERSION``, and a logon asking for another version is refused.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from engine.messages import (
    AnyCommand,
    AnyEvent,
    AuctionCleared,
    AuctionStatus,
    AuctionTerms,
    BidAllocated,
    CancelReason,
    Event,
    OrderType,
    Reject,
    Side,
    TransferStatus,
)
from engine.messages.limits import AccountId, InstrumentCode, MemberId, OrderId, ReportSeq, RequestId

PROTOCOL_VERSION = 1

# Bounds of the session's own fields (the commands' are in engine.messages.limits).
HeartbeatMs = Annotated[int, msgspec.Meta(ge=0, le=3_600_000)]  # then clamped to the gateway's bounds
ProtocolVersion = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
FromSeq = Annotated[int, msgspec.Meta(ge=1, le=2**62)]  # report numbers start at 1
Position = Annotated[int, msgspec.Meta(ge=0, le=2**62)]  # an offset or a count in a paged list


class WireMessage(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every order-entry frame."""


# ---------------------------------------------------------------------------------- client → gateway


class Logon(WireMessage, frozen=True, kw_only=True, tag=True):
    """Bind this connection to ``member``: the CURVE key it connected with must be that member's."""

    request_id: RequestId
    member: MemberId
    heartbeat_ms: HeartbeatMs = 1000  # how often each side sends when it has nothing else to send
    resend_from: ReportSeq = 0  # resend this member's execution reports from this number (0: none)
    protocol: ProtocolVersion = PROTOCOL_VERSION
    batch_reports: bool = False  # live execution reports and acks come in ``Reports`` frames (fewer frames)


class Heartbeat(WireMessage, frozen=True, kw_only=True, tag=True):
    """Liveness, both ways. From the gateway it carries the member's last execution report number."""

    last_report_seq: ReportSeq = 0


class Logout(WireMessage, frozen=True, kw_only=True, tag=True):
    request_id: RequestId = 0


class Submit(WireMessage, frozen=True, kw_only=True, tag=True):
    """One engine command. The answer is an ``Ack`` (sequenced) or a ``Refused`` (not sequenced)."""

    request_id: RequestId
    command: AnyCommand


class SubmitBatch(WireMessage, frozen=True, kw_only=True, tag=True):
    """Several commands in one frame, sequenced together in order, answered by one ``Ack``.

    ``atomic`` (regulator only): rehearse the whole batch first and apply it only if the engine
    would accept every command; otherwise nothing is applied and a ``Rehearsal`` names the rejects.
    ``dry_run`` (with ``atomic``): rehearse only and answer with the ``Rehearsal``.
    """

    request_id: RequestId
    commands: list[AnyCommand]
    atomic: bool = False
    dry_run: bool = False


class ResendRequest(WireMessage, frozen=True, kw_only=True, tag=True):
    """Send again this member's execution reports ``from_seq`` .. ``to_seq`` (0: up to the last)."""

    request_id: RequestId
    from_seq: FromSeq
    to_seq: ReportSeq = 0


class ListOrders(WireMessage, frozen=True, kw_only=True, tag=True):
    """The open orders of one account, or of every account the sender may see (empty ``account``)."""

    request_id: RequestId
    account: AccountId = ""
    instrument: InstrumentCode = ""


class QueryAccounts(WireMessage, frozen=True, kw_only=True, tag=True):
    """Cash and holdings of one account, or of every account the sender may see."""

    request_id: RequestId
    account: AccountId = ""


class ListTransfers(WireMessage, frozen=True, kw_only=True, tag=True):
    """Today's agreement transfer proposals (open and closed) that one account is a party to, or
    that any account the sender may see is a party to (empty ``account``)."""

    request_id: RequestId
    account: AccountId = ""


class ListAuctions(WireMessage, frozen=True, kw_only=True, tag=True):
    """The auctions the sender may see: every one announced (public), and the one-way applications
    of its own accounts (the regulator and surveillance: every application)."""

    request_id: RequestId


class ListBids(WireMessage, frozen=True, kw_only=True, tag=True):
    """The bids of auctions not yet cleared, of one account or of every account the sender may see
    (a member: its own; the regulator and surveillance: everybody's), of one auction or of all (0).
    Of one cleared auction (still kept), the outcome of each of those bids: ``BidList.allocations``."""

    request_id: RequestId
    auction_id: OrderId = 0
    account: AccountId = ""


class ListAuctionBids(WireMessage, frozen=True, kw_only=True, tag=True):
    """A page of a cleared auction's anonymised bid list (public), from ``offset``, at most ``limit``
    bids (0, or more than the gateway's page: the page the gateway's frame limit allows)."""

    request_id: RequestId
    auction_id: OrderId
    offset: Position = 0
    limit: Position = 0


ClientMessage = (
    Logon
    | Heartbeat
    | Logout
    | Submit
    | SubmitBatch
    | ResendRequest
    | ListOrders
    | QueryAccounts
    | ListTransfers
    | ListAuctions
    | ListBids
    | ListAuctionBids
)


# ---------------------------------------------------------------------------------- gateway → client


class LogonAccepted(WireMessage, frozen=True, kw_only=True, tag=True):
    request_id: int
    member: str
    role: str  # "member", "regulator" or "surveillance"
    accounts: list[str]  # the accounts this member acts for (all of them for regulator and surveillance)
    heartbeat_ms: int  # the interval granted (the request, clamped to the gateway's bounds)
    last_report_seq: int  # the number of this member's newest execution report (0: none yet)
    protocol: int = PROTOCOL_VERSION
    batch_reports: bool = False  # the logon's ``batch_reports``, granted (a gateway that predates it says nothing)
    # Which kept reports belong to which trading day (0: a gateway that predates these fields):
    trading_day: int = 0  # YYYYMMDD: the trading day open now, or the last one ended (0: none yet)
    day_first_report: int = 0  # the number of this member's first report of ``trading_day``
    first_kept_report: int = 0  # the oldest report a resend still sends (the previous trading day's first)


class LoggedOut(WireMessage, frozen=True, kw_only=True, tag=True):
    request_id: int = 0
    reason: str = ""


class Refused(WireMessage, frozen=True, kw_only=True, tag=True):
    """The gateway refused a frame before sequencing it: nothing was journaled or applied."""

    request_id: int
    code: Reject
    text: str


class Ack(WireMessage, frozen=True, kw_only=True, tag=True):
    """The request was journaled (fsynced) and applied; its results are this member's execution
    reports ``first_report`` .. ``first_report + report_count - 1``, sent before this ack.

    ``duplicate``: a ``NewOrder`` whose account and client order id were already used today; nothing
    new happened, and the reports named are the original order's (sent again, ``resent`` set).
    """

    request_id: int
    journal_seq: int  # the last journal sequence number of the request's commands
    first_report: int
    report_count: int
    duplicate: bool = False


class Fill(Event, frozen=True, kw_only=True, tag=True):
    """One side of a trade, as its owner sees it (the counterparty is never named)."""

    trade_id: int
    order_id: int
    account: str
    instrument: str
    side: Side
    price: int
    quantity: int
    fee: int
    leaves: int
    aggressor: bool  # this order took liquidity
    released_cash: int = 0  # a buy's cash no longer needed frozen (price improvement, unused fee)


ReportEvent = AnyEvent | Fill


class ExecutionReport(WireMessage, frozen=True, kw_only=True, tag=True):
    """An event that concerns this member, numbered 1, 2, 3 ... per member for the member's lifetime.

    ``request_id`` is the request that caused it (0: caused by someone else, e.g. a fill of a
    resting order, an end-of-day statement). Surveillance receives every engine event unchanged.
    """

    seq: int
    request_id: int
    event: ReportEvent
    resent: bool = False


class ResendEnd(WireMessage, frozen=True, kw_only=True, tag=True):
    """Ends the answer to a resend (``ResendRequest``, or ``Logon.resend_from`` with request id 0): the
    reports ``first_seq`` .. ``last_seq`` were sent again, before it (none when ``last_seq`` <
    ``first_seq``). A resend sends at most a page (``resend_page``) and no more reports than the
    member's throttle holds tokens: ``more`` says reports of the range asked are left; ask again from
    ``last_seq + 1`` (up to ``to_seq``, as asked: 0 is the newest)."""

    request_id: int
    first_seq: int
    last_seq: int
    to_seq: int = 0
    more: bool = False


class Reports(WireMessage, frozen=True, kw_only=True, tag=True):
    """What one turn of the node sends a session that logged on with ``batch_reports``: its member's new
    execution reports in number order, then the ``Ack``s of its requests that turn (each request's
    reports are among ``reports`` or in an earlier frame). Read the reports first, then the acks.

    Per connection it takes the place of separate ``ExecutionReport`` and ``Ack`` frames and changes
    nothing else: reports keep their numbers, resends come as single ``ExecutionReport`` frames.
    """

    reports: list[ExecutionReport]
    acks: list[Ack] = []


class DropCopy(WireMessage, frozen=True, kw_only=True, tag=True):
    """Every engine event, unchanged, on the drop-copy PUB socket (topic ``dropcopy``; surveillance keys only).

    ``seq`` counts every event the exchange has produced (1, 2, 3 ...); ``origin`` is the member whose
    request caused it ("" for the node's own commands: the scheduler, cancel-on-disconnect).
    """

    seq: int
    journal_seq: int
    origin: str
    request_id: int
    event: AnyEvent


class BatchRejection(msgspec.Struct, frozen=True, kw_only=True):
    index: int  # position of the command in the batch, from 0
    code: Reject
    text: str


class Rehearsal(WireMessage, frozen=True, kw_only=True, tag=True):
    """The outcome of an atomic batch rehearsed on a copy of the exchange; nothing was applied."""

    request_id: int
    events: list[list[AnyEvent]]  # per command, the events it would cause
    rejections: list[BatchRejection]


class OpenOrder(msgspec.Struct, frozen=True, kw_only=True):
    order_id: int
    account: str
    instrument: str
    client_order_id: str
    side: Side
    order_type: OrderType
    price: int
    leaves: int  # open quantity
    filled: int


class OrderList(WireMessage, frozen=True, kw_only=True, tag=True):
    request_id: int
    orders: list[OpenOrder]


class HoldingBalance(msgspec.Struct, frozen=True, kw_only=True):
    instrument: str
    available: int  # may be sold
    frozen: int  # held by open sell orders
    restricted: int  # bought today: sellable from the next trading day
    compliance: int  # compliance-only units: surrender only, never sold


class AccountBalance(msgspec.Struct, frozen=True, kw_only=True):
    account: str
    member: str
    kind: str
    cash_available: int
    cash_frozen: int
    cash_withdrawable: int
    holdings: list[HoldingBalance]


class AccountList(WireMessage, frozen=True, kw_only=True, tag=True):
    request_id: int
    accounts: list[AccountBalance]


class TransferProposal(msgspec.Struct, frozen=True, kw_only=True):
    """One agreement transfer proposal of today, as its parties see it (``engine.view.TransferRecord``)."""

    transfer_id: int
    proposer: str
    client_proposal_id: str
    side: Side  # the proposer's side
    counterparty: str
    instrument: str
    price: int
    quantity: int
    status: TransferStatus
    frozen_cash: int  # what the proposer has frozen for it now (0 once it is closed)
    frozen_quantity: int


class TransferList(WireMessage, frozen=True, kw_only=True, tag=True):
    request_id: int
    transfers: list[TransferProposal]


class AuctionInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One auction as the sender may see it (``engine.view.AuctionRecord``'s fields). A member is not
    told how many bids an auction holds before it clears (``bids``, ``bids_received`` are 0): the
    results publish the count; nor who sells in another member's one-way sale (``applicant`` and
    ``terms.auctioneer`` are "")."""

    auction_id: int
    status: AuctionStatus
    terms: AuctionTerms  # as resolved (an application's as applied until it is approved)
    applicant: str  # the one-way seller that applied ("" for the regulator's own auctions)
    price_limit: int  # the floor of a sale, the ceiling of a buyback (fen/t)
    vwap: int
    bid_ceiling: int
    reference_price: int
    frozen_cash: int  # the auctioneer's freeze now
    frozen_quantity: int
    bids: int  # live bids now
    bids_received: int
    published_bids: int  # the length of the anonymised bid list (``ListAuctionBids``) once cleared
    results: AuctionCleared | None
    cancel_reason: str


class AuctionList(WireMessage, frozen=True, kw_only=True, tag=True):
    request_id: int
    auctions: list[AuctionInfo]


class BidInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One bid of an auction not yet cleared (``engine.view.BidRecord``'s fields; ``live`` false: withdrawn)."""

    bid_id: int
    auction_id: int
    account: str
    client_bid_id: str
    price: int
    quantity: int
    time_rank: int
    frozen_cash: int
    frozen_quantity: int
    live: bool


class BidList(WireMessage, frozen=True, kw_only=True, tag=True):
    request_id: int
    bids: list[BidInfo]
    # A cleared auction's outcome of each bid asked for (``ListBids`` naming the auction): what its
    # bidder was told in its ``BidAllocated`` report, to ask again at any time while it is kept.
    allocations: list[BidAllocated] = msgspec.field(default_factory=list)


class PublishedBidInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One bid of a cleared auction's anonymised list (``engine.auction.state.PublishedBid``'s fields)."""

    bidder: int  # the bidder's pseudonym in this auction: 1, 2, ... by its earliest bid
    time_rank: int
    price: int
    quantity: int
    allocated: int
    allocation_price: int


class AuctionBidsPage(WireMessage, frozen=True, kw_only=True, tag=True):
    """A page of ``ListAuctionBids``: ``bids`` from ``offset`` of ``total`` (0: no such list kept)."""

    request_id: int
    auction_id: int
    offset: int
    total: int
    bids: list[PublishedBidInfo]


ServerMessage = (
    LogonAccepted
    | Heartbeat
    | LoggedOut
    | Refused
    | Ack
    | ExecutionReport
    | Reports
    | Rehearsal
    | OrderList
    | AccountList
    | ResendEnd
    | TransferList
    | AuctionList
    | BidList
    | AuctionBidsPage
)

encoder = msgspec.msgpack.Encoder()
client_decoder: msgspec.msgpack.Decoder[ClientMessage] = msgspec.msgpack.Decoder(ClientMessage)
server_decoder: msgspec.msgpack.Decoder[ServerMessage] = msgspec.msgpack.Decoder(ServerMessage)
drop_copy_decoder: msgspec.msgpack.Decoder[DropCopy] = msgspec.msgpack.Decoder(DropCopy)

__all__ = [
    "PROTOCOL_VERSION",
    "AccountBalance",
    "AccountList",
    "Ack",
    "AuctionBidsPage",
    "AuctionInfo",
    "AuctionList",
    "BatchRejection",
    "BidInfo",
    "BidList",
    "CancelReason",
    "ClientMessage",
    "DropCopy",
    "ExecutionReport",
    "Fill",
    "Heartbeat",
    "HoldingBalance",
    "ListAuctionBids",
    "ListAuctions",
    "ListBids",
    "ListOrders",
    "ListTransfers",
    "LoggedOut",
    "Logon",
    "LogonAccepted",
    "Logout",
    "OpenOrder",
    "OrderList",
    "PublishedBidInfo",
    "QueryAccounts",
    "Refused",
    "Rehearsal",
    "ReportEvent",
    "Reports",
    "ResendEnd",
    "ResendRequest",
    "ServerMessage",
    "Submit",
    "SubmitBatch",
    "TransferList",
    "TransferProposal",
    "WireMessage",
    "client_decoder",
    "drop_copy_decoder",
    "encoder",
    "server_decoder",
]
