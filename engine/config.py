"""The validated configuration the engine runs on.

These Structs are what ``carbonx.config`` builds from the TOML files in ``config/``. The engine
only reads them; every number of the market rules (docs/RULES_COVERAGE.md) lives here, never as a
literal in the rules code.
Integers only: prices in fen per tonne, quantities in tonnes, rates in parts per million.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

InstrumentKind = Literal["allowance", "ccer", "shcer"]
MemberKind = Literal["self_dealing", "comprehensive", "exchange", "regulator"]
AccountKind = Literal["covered_entity", "institution", "individual", "exchange_fees", "reserve", "treasury", "registry"]
StpName = Literal["cancel_resting", "cancel_incoming", "cancel_both"]

# Account kinds that may send orders; the system accounts only receive fees, revenue or issuance.
TRADING_ACCOUNT_KINDS: frozenset[str] = frozenset({"covered_entity", "institution", "individual"})


class Instrument(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: str
    name: str
    kind: InstrumentKind
    reference_price_fen: int  # the previous close before the first trading day
    vintage: int = 0
    tick_fen: int = 1
    lot_t: int = 1


class SessionTimes(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    morning_open: dt.time = dt.time(9, 30)
    morning_close: dt.time = dt.time(11, 30)
    afternoon_open: dt.time = dt.time(13, 0)
    afternoon_close: dt.time = dt.time(15, 0)


class Calendar(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    timezone: str = "Asia/Shanghai"
    weekdays: list[int] = msgspec.field(default_factory=lambda: [1, 2, 3, 4, 5])  # ISO: Monday = 1
    holidays: list[dt.date] = msgspec.field(default_factory=list)
    sessions: SessionTimes = msgspec.field(default_factory=SessionTimes)

    def is_trading_day(self, day: dt.date) -> bool:
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def next_trading_day(self, after: dt.date) -> dt.date:
        day = after + dt.timedelta(days=1)
        for _ in range(3660):
            if self.is_trading_day(day):
                return day
            day += dt.timedelta(days=1)
        raise ValueError(f"no trading day within ten years after {after}")


class Member(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    kind: MemberKind


class Account(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    member: str
    kind: AccountKind
    name: str = ""
    prohibited: bool = False  # Decree 20 Art. 32: staff of the regulator, registry, exchange
    # The beneficial-owner group the account belongs to ("" none): accounts of different members that
    # one owner controls. Surveillance treats trades within a group as it treats trades within a member.
    owner_group: str = ""


class Fees(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fee rates per side of traded value, per trading method, in parts per million."""

    listing_ppm: int = 1500  # 0.15% (assumed)
    agreement_ppm: int = 1000  # 0.10% (assumed)
    auction_ppm: int = 0  # reserve sales and buybacks
    fee_account: str = "EXCHANGE-FEES"


class ListingLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    band_bp: int = 1000  # ±10.00% of the reference price, in basis points
    min_quantity_t: int = 1
    max_quantity_t: int = 99_999  # 100,000 t and more go through agreement transfer
    market_levels: int = 5  # best-five-levels market orders
    default_stp: StpName = "cancel_resting"
    client_order_id_max_length: int = 36


def _per_trading_kind(tonnes: int) -> dict[str, int]:
    return dict.fromkeys(sorted(TRADING_ACCOUNT_KINDS), tonnes)


SessionName = Literal["morning", "afternoon"]


class TransferRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Agreement transfer (协议转让): bulk bilateral trades (docs/RULES_COVERAGE.md "Agreement transfer")."""

    min_quantity_t: int = 100_000  # a transfer is at least this many tonnes
    band_bp: int = 3000  # price within ± this many basis points of the reference price, rounded inward
    free_price_from_t: int = 500_000  # from this quantity the price is free (Shanghai 2015 rule)
    sessions: list[SessionName] = msgspec.field(default_factory=lambda: ["afternoon"])  # 13:00-15:00
    client_proposal_id_max_length: int = 36
    # Proposals one account may make in a trading day (assumed): each is kept until the end of day,
    # so a proposer that proposes and cancels in a loop cannot grow the day's record without end.
    max_proposals_per_day: int = 1000


class PurposeRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The defaults of a reserve sale's purpose (RULES.md §3), used where an announcement leaves them out."""

    vwap_k_bp: int  # k of the floor rule "k × VWAP", in basis points
    eligible_kinds: list[str]
    caps_t: dict[str, int] = msgspec.field(default_factory=dict)  # per account kind, tonnes
    compliance_only: bool = False  # won allowances can only be surrendered


def _compliance() -> PurposeRules:
    return PurposeRules(vwap_k_bp=12_000, eligible_kinds=["covered_entity"], compliance_only=True)


def _market_supply() -> PurposeRules:
    return PurposeRules(
        vwap_k_bp=10_000,
        eligible_kinds=["covered_entity", "institution"],
        caps_t={"covered_entity": 100_000, "institution": 50_000},
    )


class AuctionRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Sealed-bid auctions: reserve sales, buybacks, one-way bidding (docs/AUCTIONS.md)."""

    compliance: PurposeRules = msgspec.field(default_factory=_compliance)
    market_supply: PurposeRules = msgspec.field(default_factory=_market_supply)
    one_way_min_t: int = 100_000  # a one-way sale is at least this many tonnes
    one_way_floor_bp: int = 1000  # the seller's floor is at least the previous close − 10%
    one_way_ceiling_bp: int = 1000  # bids are at most the previous close + 10%
    one_way_fee_ppm: int = 1000  # per side, as agreement transfer (0.10%, assumed)
    history_days: int = 250  # trading days of listing figures kept for VWAP windows
    max_bids_per_account: int = 100  # live bids of one account in one auction
    max_bids_per_auction: int = 100_000  # bids one auction takes (each is kept until it is cleared)
    # Bids one account may send to one auction, withdrawn ones included, so that no account can use up
    # ``max_bids_per_auction`` by bidding and withdrawing and lock the others out. 0: no such limit,
    # what a data directory recorded before the limit existed replays with (config/auctions.toml: 1,000).
    max_bids_sent_per_account: int = 0
    max_live_auctions: int = 32  # the regulator's auctions announced, open or closed at once
    # One-way applications live at once (applied for, announced, open or closed), in all and per
    # account: members' applications never take the regulator's room, nor one member all of theirs.
    max_live_applications: int = 16
    max_applications_per_account: int = 2
    results_kept: int = 64  # cleared auctions whose anonymised bid lists are kept for paging
    client_bid_id_max_length: int = 36


class RiskLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Position limits (持有量限制) and the large-holder report (大户报告), per instrument.

    Defaults from the Beijing rule, assumed for Shanghai (docs/RULES_COVERAGE.md "End of day, the registry
    and risk control"). An account of a kind in ``allocation_kinds`` has its own free allocation of the
    instrument added to both.
    """

    position_limit_t: dict[str, int] = msgspec.field(default_factory=lambda: _per_trading_kind(1_000_000))
    large_holder_t: dict[str, int] = msgspec.field(default_factory=lambda: _per_trading_kind(500_000))
    allocation_kinds: list[str] = msgspec.field(default_factory=lambda: ["covered_entity"])


class CarryOverRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Surplus units of ``from_instrument`` may be carried over into ``to_instrument`` (a later vintage)."""

    from_instrument: str
    to_instrument: str
    # A covered entity may carry over only once its surrender for the old vintage's year is complete.
    requires_compliance: bool = True


class RegistryRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    offset_cap_bp: int = 500  # CCER/SHCER may cover at most 5% of verified emissions (assumed)
    carry_over: list[CarryOverRule] = msgspec.field(default_factory=list)


class ExchangeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    instruments: list[Instrument]
    members: list[Member]
    accounts: list[Account]
    calendar: Calendar = msgspec.field(default_factory=Calendar)
    fees: Fees = msgspec.field(default_factory=Fees)
    listing: ListingLimits = msgspec.field(default_factory=ListingLimits)
    risk: RiskLimits = msgspec.field(default_factory=RiskLimits)
    registry: RegistryRules = msgspec.field(default_factory=RegistryRules)
    transfer: TransferRules = msgspec.field(default_factory=TransferRules)
    auction: AuctionRules = msgspec.field(default_factory=AuctionRules)
