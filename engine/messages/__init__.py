"""Commands and events of the carbonx engine: the internal contract and the wire format.

Every command and event is a frozen, tagged ``msgspec.Struct``. Commands are imperatives
(``NewOrder``), events past participles (``OrderAccepted``). Units are integers throughout:
prices in fen per tonne, quantities in tonnes, money in fen, time in ns since the epoch (UTC).

Compatibility rules (the journal and the wire depend on them): new fields go at the end and
always have defaults; fields are never reordered, renamed or retyped; a retired reject code
stays reserved as a comment and its number is never reused.

The modules: ``base`` (enums, base classes), ``reject`` (codes), ``trading`` (orders, the day,
halts), ``registry`` (funding and registry operations), ``registry_file`` (the record of a
registry file, applied once), ``end_of_day`` (bulletin, statements), ``transfer`` (agreement
transfers), ``auction`` (sealed-bid auctions).
"""

from __future__ import annotations

import msgspec

from engine.messages.auction import (
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
    DailyFiguresLoaded,
    DayFigures,
    LoadDailyFigures,
    OpenAuction,
    Pricing,
    Purpose,
    SubmitBid,
    TieBreak,
    WithdrawBid,
)
from engine.messages.base import CancelReason, Command, Event, Message, OrderType, Session, Side, StpMode
from engine.messages.end_of_day import (
    AccountStatement,
    ConservationChecked,
    DailyBulletin,
    LargeHolderReported,
    MemberSettlement,
    TradingDayEnded,
)
from engine.messages.registry import (
    AccountsMerged,
    AccountSplit,
    AllocateAllowances,
    AllowancesAllocated,
    AllowancesCancelled,
    AllowancesCarriedOver,
    AllowancesSurrendered,
    CancelAllowances,
    CarryOverAllowances,
    CashDeposited,
    CashWithdrawn,
    DepositCash,
    MergeAccounts,
    SplitAccount,
    SplitPart,
    SurrenderAllowances,
    WithdrawCash,
)
from engine.messages.registry_file import RecordRegistryFile, RegistryFileRecorded
from engine.messages.reject import Reject, reject_text
from engine.messages.trading import (
    AllOrdersCancelled,
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    EndOfDay,
    HaltInstrument,
    HaltMarket,
    InstrumentStatusChanged,
    MarketStatusChanged,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderConvertedToLimit,
    OrderRejected,
    RequestRejected,
    ResumeInstrument,
    ResumeMarket,
    SessionChanged,
    SetSession,
    StartOfDay,
    TradeExecuted,
    TradingDayStarted,
)
from engine.messages.transfer import (
    AcceptTransfer,
    CancelTransfer,
    ProposeTransfer,
    RejectTransfer,
    TransferAccepted,
    TransferCancelled,
    TransferExecuted,
    TransferExpired,
    TransferProposed,
    TransferRejected,
    TransferStatus,
)
from settlement.statements import CashStatement, ConservationMismatch, HoldingStatement, StatementTrade, Units

AnyCommand = (
    NewOrder
    | CancelOrder
    | AmendOrder
    | StartOfDay
    | SetSession
    | EndOfDay
    | HaltInstrument
    | ResumeInstrument
    | HaltMarket
    | ResumeMarket
    | DepositCash
    | AllocateAllowances
    | WithdrawCash
    | SurrenderAllowances
    | CancelAllowances
    | CarryOverAllowances
    | MergeAccounts
    | SplitAccount
    | CancelAllOrders
    | RecordRegistryFile
    | ProposeTransfer
    | AcceptTransfer
    | RejectTransfer
    | CancelTransfer
    | AnnounceAuction
    | ApplyAuction
    | ApproveAuction
    | OpenAuction
    | CloseAuction
    | ClearAuction
    | CancelAuction
    | SubmitBid
    | AmendBid
    | WithdrawBid
    | LoadDailyFigures
)

AnyEvent = (
    OrderAccepted
    | OrderRejected
    | RequestRejected
    | TradeExecuted
    | OrderCancelled
    | OrderAmended
    | OrderConvertedToLimit
    | TradingDayStarted
    | SessionChanged
    | InstrumentStatusChanged
    | MarketStatusChanged
    | CashDeposited
    | AllowancesAllocated
    | DailyBulletin
    | TradingDayEnded
    | CashWithdrawn
    | AllowancesSurrendered
    | AllowancesCancelled
    | AllowancesCarriedOver
    | AccountsMerged
    | AccountSplit
    | AccountStatement
    | MemberSettlement
    | LargeHolderReported
    | ConservationChecked
    | AllOrdersCancelled
    | RegistryFileRecorded
    | TransferProposed
    | TransferAccepted
    | TransferRejected
    | TransferCancelled
    | TransferExpired
    | TransferExecuted
    | AuctionAnnounced
    | AuctionApplied
    | AuctionOpened
    | AuctionClosed
    | AuctionCancelled
    | BidAccepted
    | BidAmended
    | BidWithdrawn
    | BidAllocated
    | AuctionSettled
    | AuctionCleared
    | DailyFiguresLoaded
)

COMMAND_TYPES: tuple[type[Command], ...] = AnyCommand.__args__
EVENT_TYPES: tuple[type[Event], ...] = AnyEvent.__args__

command_encoder = msgspec.msgpack.Encoder()
command_decoder: msgspec.msgpack.Decoder[AnyCommand] = msgspec.msgpack.Decoder(AnyCommand)
event_decoder: msgspec.msgpack.Decoder[AnyEvent] = msgspec.msgpack.Decoder(AnyEvent)

__all__ = [
    "COMMAND_TYPES",
    "EVENT_TYPES",
    "AcceptTransfer",
    "AccountSplit",
    "AccountStatement",
    "AccountsMerged",
    "AllOrdersCancelled",
    "AllocateAllowances",
    "AllowancesAllocated",
    "AllowancesCancelled",
    "AllowancesCarriedOver",
    "AllowancesSurrendered",
    "AmendBid",
    "AmendOrder",
    "AnnounceAuction",
    "AnyCommand",
    "AnyEvent",
    "ApplyAuction",
    "ApproveAuction",
    "AuctionAnnounced",
    "AuctionApplied",
    "AuctionCancelled",
    "AuctionCleared",
    "AuctionClosed",
    "AuctionKind",
    "AuctionOpened",
    "AuctionSettled",
    "AuctionStatus",
    "AuctionTerms",
    "BidAccepted",
    "BidAllocated",
    "BidAmended",
    "BidCap",
    "BidWithdrawn",
    "CancelAllOrders",
    "CancelAllowances",
    "CancelAuction",
    "CancelCause",
    "CancelOrder",
    "CancelReason",
    "CancelTransfer",
    "CarryOverAllowances",
    "CashDeposited",
    "CashStatement",
    "CashWithdrawn",
    "ClearAuction",
    "CloseAuction",
    "Command",
    "ConservationChecked",
    "ConservationMismatch",
    "DailyBulletin",
    "DailyFiguresLoaded",
    "DayFigures",
    "DepositCash",
    "EndOfDay",
    "Event",
    "HaltInstrument",
    "HaltMarket",
    "HoldingStatement",
    "InstrumentStatusChanged",
    "LargeHolderReported",
    "LoadDailyFigures",
    "MarketStatusChanged",
    "MemberSettlement",
    "MergeAccounts",
    "Message",
    "NewOrder",
    "OpenAuction",
    "OrderAccepted",
    "OrderAmended",
    "OrderCancelled",
    "OrderConvertedToLimit",
    "OrderRejected",
    "OrderType",
    "Pricing",
    "ProposeTransfer",
    "Purpose",
    "RecordRegistryFile",
    "RegistryFileRecorded",
    "Reject",
    "RejectTransfer",
    "RequestRejected",
    "ResumeInstrument",
    "ResumeMarket",
    "Session",
    "SessionChanged",
    "SetSession",
    "Side",
    "SplitAccount",
    "SplitPart",
    "StartOfDay",
    "StatementTrade",
    "StpMode",
    "SubmitBid",
    "SurrenderAllowances",
    "TieBreak",
    "TradeExecuted",
    "TradingDayEnded",
    "TradingDayStarted",
    "TransferAccepted",
    "TransferCancelled",
    "TransferExecuted",
    "TransferExpired",
    "TransferProposed",
    "TransferRejected",
    "TransferStatus",
    "Units",
    "WithdrawBid",
    "WithdrawCash",
    "command_decoder",
    "command_encoder",
    "event_decoder",
    "reject_text",
]
