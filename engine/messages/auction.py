"""Commands and events of the sealed-bid auctions: reserve sales, buybacks and one-way bidding.

One mechanism serves the three (docs/AUCTIONS.md): an **auctioneer** account on one side with a
volume (or, for a buyback, a budget), **bidders** on the other.

- ``reserve_sale`` (储备配额有偿竞价发放, Decree 20 Art. 34): the reserve account sells; the regulator
  announces it (``AnnounceAuction``); the revenue goes to the treasury.
- ``buyback`` (配额回购): the treasury buys up to a volume or a budget at or below a ceiling;
  bidders offer allowances; what it buys goes to the reserve account.
- ``one_way`` (单向竞价): a member applies to sell (``ApplyAuction``), the regulator approves it
  (``ApproveAuction``), buyers bid; delivery versus payment with the one-way fee.

The regulator (or the node's scheduler at the announced times) opens and closes bidding; an
auction with a ``time`` tie-break clears when it closes, one with a ``pro_rata`` or ``random``
tie-break when the regulator reveals the seed it committed to (``ClearAuction``). Bids
(``SubmitBid``, ``AmendBid``, ``WithdrawBid``) are private: the bidder, the regulator and
surveillance see them; market data publishes only the notice, the state and the results.

Prices in fen per tonne, quantities in tonnes, money in fen, times in ns since the epoch (UTC),
shares in basis points (1/10,000): integers throughout.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated

import msgspec

from engine.messages.base import Command, Event
from engine.messages.limits import (
    MAX_TRADING_DAY,
    AccountId,
    Amount,
    ClientOrderId,
    InstrumentCode,
    OrderId,
    Price,
    Quantity,
    Text,
    TradingDay,
)

MAX_SEED_LENGTH = 128  # hex characters of a seed or a commitment (a SHA-256 is 64)
MAX_CAPS = 16  # bid caps in one announcement
MAX_ELIGIBLE_KINDS = 8
MAX_LOADED_DAYS = 1000  # days of listing figures in one LoadDailyFigures
MAX_BASIS_POINTS = 1_000_000  # 100 × 100%: a k of 100 is far beyond any rule

Seed = Annotated[str, msgspec.Meta(max_length=MAX_SEED_LENGTH)]
BasisPoints = Annotated[int, msgspec.Meta(ge=0, le=MAX_BASIS_POINTS)]
Timestamp = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
KindName = Annotated[str, msgspec.Meta(max_length=32)]
DayOrNone = Annotated[int, msgspec.Meta(ge=0, le=MAX_TRADING_DAY)]  # YYYYMMDD, or 0: none


class AuctionKind(IntEnum):
    RESERVE_SALE = 1  # the reserve account sells (储备配额有偿竞价发放)
    BUYBACK = 2  # the treasury buys back (配额回购)
    ONE_WAY = 3  # a member sells (单向竞价)


class Purpose(IntEnum):
    """What a reserve sale is for (RULES.md §3); each has its defaults in config ``[auction]``."""

    NONE = 0  # buybacks and one-way bidding
    COMPLIANCE = 1  # covered entities only; won allowances can only be surrendered
    MARKET_SUPPLY = 2  # covered entities and institutions, with per-kind caps


class Pricing(IntEnum):
    UNIFORM = 1  # everybody pays (or gets) the clearing price
    PAY_AS_BID = 2  # each accepted bid pays (or gets) its own price


class TieBreak(IntEnum):
    TIME = 1  # the earlier bid first (Shanghai)
    PRO_RATA = 2  # shares of the remainder, leftover lots in a seeded random order (California-Québec)
    RANDOM = 3  # a seeded random order (EU)


class AuctionStatus(IntEnum):
    APPLIED = 1  # a one-way application waiting for the regulator
    ANNOUNCED = 2  # announced (or approved); bidding not open yet
    OPEN = 3  # taking bids
    CLOSED = 4  # bidding over; waiting for the seed to clear
    CLEARED = 5  # cleared and settled (or cancelled by its cancellation rules)
    CANCELLED = 6  # withdrawn before clearing (or an application declined); every freeze released


class CancelCause(IntEnum):
    """Why a cleared auction was cancelled by its own rules (EU Art. 7(5)-(6)); NONE when it was not."""

    NONE = 0
    UNDERSUBSCRIBED = 1  # the bids together were fewer tonnes than the volume offered
    BELOW_REFERENCE = 2  # the clearing price was beyond the allowed distance from the reference price


class BidCap(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The most one account of ``kind`` may have bid at once in one auction: ``max_t`` tonnes,
    ``max_bp`` basis points of the volume, or the smaller of the two (0: that one does not apply)."""

    kind: KindName
    max_t: Quantity = 0
    max_bp: BasisPoints = 0


class AuctionTerms(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything an announcement (or a one-way application) fixes. A field left at its default
    takes the value config ``[auction]`` gives for the kind and purpose; ``AuctionAnnounced``
    carries the terms as resolved, so everybody reads the numbers that apply.

    The price limit is the floor of a sale (bids at or above it) or the ceiling of a buyback
    (offers at or below it): ``price`` when given, otherwise ``vwap_k_bp`` × the VWAP of listing
    trades from ``vwap_from`` to ``vwap_to`` (trading days, inclusive), capped by ``price_cap``
    when given, rounded half-up to the tick.
    """

    kind: AuctionKind
    instrument: InstrumentCode
    auctioneer: AccountId  # reserve sale: a reserve account; buyback: a treasury account; one-way: the seller
    volume: Quantity = 0  # tonnes offered (a sale) or sought (a buyback); 0 for a budget-only buyback
    budget: Amount = 0  # a buyback's most money spent (value, fees apart) instead of a volume; 0: none
    purpose: Purpose = Purpose.NONE  # reserve sales only
    price: Price = 0  # a fixed floor (sale) or ceiling (buyback); 0: from the VWAP rule
    vwap_k_bp: BasisPoints = 0  # k in basis points (12,000 = 1.2); 0: the purpose's default
    vwap_from: DayOrNone = 0  # first trading day of the VWAP window (YYYYMMDD)
    vwap_to: DayOrNone = 0  # last trading day of the VWAP window
    price_cap: Price = 0  # caps a VWAP-derived price limit; 0: no cap
    opens_at: Timestamp = 0  # bidding opens (ns since the epoch, UTC)
    closes_at: Timestamp = 0  # bidding closes
    cutoff_at: Timestamp = 0  # bids are entered, changed or withdrawn before it; 0: ``closes_at``
    # None: the purpose's default (a reserve sale's), or every trading kind
    eligible_kinds: Annotated[list[KindName], msgspec.Meta(max_length=MAX_ELIGIBLE_KINDS)] | None = None
    caps: Annotated[list[BidCap], msgspec.Meta(max_length=MAX_CAPS)] | None = None  # None: the purpose's default
    bid_lot_t: Quantity = 0  # 0: the instrument's lot
    pricing: Pricing = Pricing.UNIFORM
    tie_break: TieBreak = TieBreak.TIME
    cancel_if_undersubscribed: bool = False
    cancel_below_reference_bp: BasisPoints = 0  # 0: off
    seed_commitment: Seed = ""  # SHA-256 of the seed, hex; required for pro_rata and random
    name: Text = ""  # the regulator's (or applicant's) label, e.g. "2026 compliance auction 1"


class DayFigures(msgspec.Struct, frozen=True, kw_only=True, array_like=True, forbid_unknown_fields=True):
    """One instrument's listing figures of one trading day: what a VWAP window adds up."""

    trading_day: TradingDay
    volume: Quantity  # tonnes of listing trades
    turnover: Annotated[int, msgspec.Meta(ge=0, le=2**62)]  # fen: Σ price × quantity
    close: Price  # the day's close (the next day's reference price)


# ---------------------------------------------------------------------------------- commands


class AnnounceAuction(Command, frozen=True, kw_only=True, tag=True):
    """The regulator announces a reserve sale or a buyback (one-way bidding comes by application)."""

    terms: AuctionTerms


class ApplyAuction(Command, frozen=True, kw_only=True, tag=True):
    """A member applies to sell by one-way bidding; its tonnes are frozen from the application."""

    account: AccountId  # the seller: ``terms.auctioneer`` must be it
    terms: AuctionTerms


class ApproveAuction(Command, frozen=True, kw_only=True, tag=True):
    """The regulator approves a one-way application: it is announced with this seed commitment."""

    auction_id: OrderId
    seed_commitment: Seed = ""


class OpenAuction(Command, frozen=True, kw_only=True, tag=True):
    """Bidding opens (the node's scheduler at ``opens_at``, or the regulator by hand)."""

    auction_id: OrderId


class CloseAuction(Command, frozen=True, kw_only=True, tag=True):
    """Bidding closes (at ``closes_at``, or by hand); a ``time`` tie-break clears at once."""

    auction_id: OrderId


class ClearAuction(Command, frozen=True, kw_only=True, tag=True):
    """Clear a closed auction, revealing the seed whose SHA-256 the announcement carried."""

    auction_id: OrderId
    seed: Seed = ""  # hex; not needed for a ``time`` tie-break


class CancelAuction(Command, frozen=True, kw_only=True, tag=True):
    """Withdraw an auction before it clears (the regulator), or one's own application (the applicant)."""

    auction_id: OrderId
    account: AccountId = ""  # the applicant withdrawing its application; "" for the regulator
    reason: Text = ""


class SubmitBid(Command, frozen=True, kw_only=True, tag=True):
    """A sealed bid (a buy in a sale, an offer to sell in a buyback) while bidding is open."""

    account: AccountId
    auction_id: OrderId
    client_bid_id: ClientOrderId
    price: Price
    quantity: Quantity


class AmendBid(Command, frozen=True, kw_only=True, tag=True):
    """Change a live bid until the cut-off: a lower quantity keeps its time rank, anything else takes a new one."""

    account: AccountId
    bid_id: OrderId
    price: Price
    quantity: Quantity


class WithdrawBid(Command, frozen=True, kw_only=True, tag=True):
    account: AccountId
    bid_id: OrderId


class LoadDailyFigures(Command, frozen=True, kw_only=True, tag=True):
    """The regulator loads the listing figures of days before go-live (for VWAP windows)."""

    instrument: InstrumentCode
    days: Annotated[list[DayFigures], msgspec.Meta(max_length=MAX_LOADED_DAYS)]


# ---------------------------------------------------------------------------------- events


class AuctionAnnounced(Event, frozen=True, kw_only=True, tag=True):
    """An auction is announced (or a one-way application approved): its resolved terms and price limit."""

    auction_id: int
    terms: AuctionTerms  # as resolved: every default filled in
    price_limit: int  # the floor (sale) or the ceiling (buyback), fen/t
    vwap: int  # the VWAP the limit came from (0: a fixed price)
    bid_ceiling: int  # one-way bidding: the highest bid price allowed (0: none)
    frozen_cash: int  # what the auctioneer has frozen: a buyback's cash
    frozen_quantity: int  # a sale's tonnes


class AuctionApplied(Event, frozen=True, kw_only=True, tag=True):
    """A member applied for one-way bidding; its tonnes are frozen until the auction clears or is cancelled."""

    auction_id: int
    account: str
    terms: AuctionTerms
    frozen_quantity: int


class AuctionOpened(Event, frozen=True, kw_only=True, tag=True):
    auction_id: int
    instrument: str


class AuctionClosed(Event, frozen=True, kw_only=True, tag=True):
    auction_id: int
    instrument: str
    bids: int  # live bids at the close


class AuctionCancelled(Event, frozen=True, kw_only=True, tag=True):
    """Withdrawn before clearing; every bid and the auctioneer's freeze are released."""

    auction_id: int
    instrument: str
    auctioneer: str
    reason: str
    released_cash: int  # the auctioneer's
    released_quantity: int


class BidAccepted(Event, frozen=True, kw_only=True, tag=True):
    bid_id: int
    auction_id: int
    account: str
    client_bid_id: str
    price: int
    quantity: int
    time_rank: int  # the bid's place in time within the auction (1 = first)
    frozen_cash: int  # a buyer's: price × quantity + the maximum fee
    frozen_quantity: int  # a seller's (buyback): the tonnes offered


class BidAmended(Event, frozen=True, kw_only=True, tag=True):
    bid_id: int
    auction_id: int
    account: str
    price: int
    quantity: int
    time_rank: int
    frozen_cash: int  # what the bid holds frozen now
    frozen_quantity: int


class BidWithdrawn(Event, frozen=True, kw_only=True, tag=True):
    bid_id: int
    auction_id: int
    account: str
    released_cash: int
    released_quantity: int


class BidAllocated(Event, frozen=True, kw_only=True, tag=True):
    """One bid's outcome, to its bidder alone: what it won, at what price, what it paid or got."""

    bid_id: int
    auction_id: int
    account: str
    bid_price: int
    bid_quantity: int
    quantity: int  # tonnes allocated (0: none)
    price: int  # fen/t paid (a sale) or received (a buyback); 0 when nothing was allocated
    value: int  # price × quantity
    fee: int
    cut_by_tie_break: bool  # tied at the marginal price, and the tie-break gave it less than it bid
    released_cash: int  # the rest of its freeze, given back
    released_quantity: int
    compliance_only: bool = False  # the tonnes went to the compliance-only bucket


class AuctionSettled(Event, frozen=True, kw_only=True, tag=True):
    """The auctioneer's side of a cleared (or self-cancelled) auction, to it alone: what it delivered
    (a sale) or bought (a buyback), for what, its fee (a one-way seller's), what was released, and
    what passed on (a reserve sale's revenue to the treasury, a buyback's tonnes to the reserve)."""

    auction_id: int
    account: str  # the auctioneer's
    instrument: str
    quantity: int  # tonnes delivered (a sale) or bought (a buyback)
    value: int  # Σ price × quantity: received (a sale) or paid (a buyback)
    fee: int
    released_cash: int
    released_quantity: int
    passed_to: str  # the treasury (a reserve sale's revenue) or the reserve (a buyback's tonnes); "" none
    passed_cash: int
    passed_quantity: int


class AuctionCleared(Event, frozen=True, kw_only=True, tag=True):
    """The public results (RULES.md "Auction details common to §3-§5"). The anonymised bid list
    is served in pages (``engine.view``; gateway ``ListAuctionBids``; the snapshot service)."""

    auction_id: int
    kind: AuctionKind
    instrument: str
    volume_offered: int  # 0 for a budget-only buyback
    budget: int
    price_limit: int
    bid_volume: int
    bid_count: int
    bidders: int
    successful_bidders: int
    volume_sold: int  # tonnes allocated (bought, for a buyback)
    clearing_price: int  # uniform: the price; pay-as-bid: the marginal accepted price (0: nothing sold)
    revenue: int  # Σ price × quantity allocated (spent, for a buyback)
    bid_to_cover_bp: int  # bid volume ÷ volume offered, in basis points (0 for a budget-only buyback)
    min_bid: int
    median_bid: int  # of the bid prices, the mean of the two middle ones for an even count, half-up
    max_bid: int
    covered_share_bp: int  # share of the volume sold won by covered entities
    hhi: int  # Herfindahl-Hirschman index of the allocations per bidder (0-10,000)
    cancelled: bool
    cancel_cause: CancelCause
    reference_price: int  # the previous close the cancellation test used (0: no such test)
    cancel_below_reference_bp: int
    seed_commitment: str
    seed: str
    fees: int  # the fees charged on both sides


class DailyFiguresLoaded(Event, frozen=True, kw_only=True, tag=True):
    instrument: str
    days: int  # days loaded
    first_day: int
    last_day: int
