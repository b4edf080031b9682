"""What the auction tests share: a funded market with a treasury, terms of each kind, and each event built by hand.

docs/AUCTIONS.md. The market is ``market_config()`` (SHEA2025 at 80.00 with a 1-fen tick and a 1 t
lot; T5 at 77.75 with a 5-fen tick and a 10 t lot) plus a TREASURY account (kind ``treasury``, of
the regulator REGU) and a second covered entity B1 (member M1). On DAY1's morning session:

- RESERVE holds RESERVE_T of SHEA2025 and of T5 (what reserve sales sell);
- TREASURY holds TREASURY_CASH (what buybacks spend);
- every bidder (A1, A2, A3, A4, B1) holds BIDDER_CASH, and A1 and A2 hold HOLDER_T of SHEA2025 and
  of T5 (what buybacks buy and one-way sales sell).

Rules are restated here, not borrowed from the engine: the fee (a rate per side in parts per
million of the traded value, half-up to the fen; 0 for reserve sales and buybacks, 0.10% for
one-way bidding), the purposes' defaults, the one-way band.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import msgspec

from engine.config import Account, ExchangeConfig
from engine.exchange import Exchange
from engine.messages import (
    AllocateAllowances,
    AmendBid,
    AnnounceAuction,
    ApplyAuction,
    ApproveAuction,
    AuctionAnnounced,
    AuctionApplied,
    AuctionCleared,
    AuctionKind,
    AuctionOpened,
    AuctionSettled,
    AuctionTerms,
    BidAccepted,
    BidAllocated,
    BidCap,
    CancelCause,
    ClearAuction,
    CloseAuction,
    Command,
    DailyFiguresLoaded,
    DayFigures,
    DepositCash,
    Event,
    LoadDailyFigures,
    OpenAuction,
    Purpose,
    Session,
    StartOfDay,
    SubmitBid,
    WithdrawBid,
)
from tests.conftest import DAY1, Market, market_config

SHEA, T5 = "SHEA2025", "T5"
RESERVE, TREASURY, FEES = "RESERVE", "TREASURY", "EXCHANGE-FEES"
BIDDERS = ("A1", "A2", "A3", "A4", "B1")
HOLDERS = ("A1", "A2")
RESERVE_T = 3_000_000  # tonnes of SHEA2025 and of T5 in the reserve account
TREASURY_CASH = 5_000_000_000  # fen: 50,000,000.00 CNY
BIDDER_CASH = 2_000_000_000  # fen: 20,000,000.00 CNY each
HOLDER_T = 200_000  # tonnes of SHEA2025 and of T5 allocated to A1 and A2
OPENS = 1  # bidding window (ns since the epoch): from the first moment...
CLOSES = 2**62  # ... to 2116: no test reaches it unless it says so
ONE_WAY_PPM = 1000  # auction.one_way_fee_ppm: 0.10% a side (as agreement transfer)
SHEA_REFERENCE, T5_REFERENCE = 8000, 7775

# A seed and its commitment, restated: the SHA-256 of the seed's 32 bytes, in hex.
SEED = "00" * 31 + "2a"
COMMITMENT = hashlib.sha256(bytes.fromhex(SEED)).hexdigest()


def fee(value: int, ppm: int) -> int:
    """A fee of ``ppm`` parts per million on a traded value, half-up to the fen: the rule restated."""
    return (value * ppm + 500_000) // 1_000_000


def auction_config(**overrides: object) -> ExchangeConfig:
    """``market_config()`` with a TREASURY account of the regulator and a second covered entity B1."""
    base = market_config()
    accounts = [
        *base.accounts,
        Account(id=TREASURY, member="REGU", kind="treasury"),
        Account(id="B1", member="M1", kind="covered_entity"),
    ]
    fields: dict[str, Any] = {"accounts": accounts}
    fields.update(overrides)
    return market_config(**fields)


def auction_market(book_kind: str, config: ExchangeConfig | None = None, before: Sequence[Command] = ()) -> Market:
    """DAY1's morning, funded as the module says; no events kept. ``before``: commands sent before
    the day starts (a merger); an account they closed is not funded."""
    market = Market(Exchange(config or auction_config(), book=book_kind))
    for command in before:
        market.send(command)
    market.send(StartOfDay(trading_day=DAY1))
    for instrument in (SHEA, T5):
        market.send(AllocateAllowances(account=RESERVE, instrument=instrument, quantity=RESERVE_T))
        for holder in HOLDERS:
            market.send(AllocateAllowances(account=holder, instrument=instrument, quantity=HOLDER_T))
    market.send(DepositCash(account=TREASURY, amount=TREASURY_CASH))
    for bidder in BIDDERS:
        if bidder not in market.exchange.ledger.closed:
            market.send(DepositCash(account=bidder, amount=BIDDER_CASH))
    market.session(Session.MORNING)
    market.events.clear()
    return market


# ------------------------------------------------------------------------------------ terms


def _terms(kind: AuctionKind, instrument: str, auctioneer: str, volume: int, price: int, **fields: Any) -> AuctionTerms:
    """Terms with the whole day as the bidding window unless ``fields`` say otherwise."""
    window: dict[str, Any] = {"opens_at": OPENS, "closes_at": CLOSES}
    window.update(fields)
    return AuctionTerms(kind=kind, instrument=instrument, auctioneer=auctioneer, volume=volume, price=price, **window)


def reserve_sale(
    volume: int = 100_000,
    price: int = 4800,
    purpose: Purpose = Purpose.MARKET_SUPPLY,
    instrument: str = SHEA,
    **fields: Any,
) -> AuctionTerms:
    """The reserve sells ``volume`` at a fixed floor of ``price`` (unless the fields give a VWAP rule)."""
    return _terms(AuctionKind.RESERVE_SALE, instrument, RESERVE, volume, price, purpose=purpose, **fields)


def buyback(volume: int = 10_000, price: int = 7000, instrument: str = SHEA, **fields: Any) -> AuctionTerms:
    """The treasury buys back ``volume`` (or a ``budget=``, with volume 0) at a ceiling of ``price``."""
    return _terms(AuctionKind.BUYBACK, instrument, TREASURY, volume, price, **fields)


def one_way(
    volume: int = 100_000, price: int = 7200, seller: str = "A1", instrument: str = SHEA, **fields: Any
) -> AuctionTerms:
    """``seller`` sells ``volume`` by one-way bidding at a floor of ``price``."""
    return _terms(AuctionKind.ONE_WAY, instrument, seller, volume, price, **fields)


MARKET_SUPPLY_CAPS = [BidCap(kind="covered_entity", max_t=100_000), BidCap(kind="institution", max_t=50_000)]
ALL_KINDS = ["covered_entity", "individual", "institution"]


def resolved(terms: AuctionTerms, **fields: Any) -> AuctionTerms:
    """``terms`` as the announcement publishes them, restated by the test: the defaults of the
    purpose (compliance: covered entities, no caps; market supply: covered entities and
    institutions, capped at 100,000 t and 50,000 t; otherwise every trading kind, no caps), the
    cut-off at the close, the instrument's lot; ``fields`` override."""
    if terms.purpose is Purpose.COMPLIANCE:
        eligible, caps = ["covered_entity"], []
    elif terms.purpose is Purpose.MARKET_SUPPLY:
        eligible, caps = ["covered_entity", "institution"], list(MARKET_SUPPLY_CAPS)
    else:
        eligible, caps = list(ALL_KINDS), []
    defaults: dict[str, Any] = {
        "cutoff_at": terms.cutoff_at or terms.closes_at,
        "eligible_kinds": eligible if terms.eligible_kinds is None else sorted(set(terms.eligible_kinds)),
        "caps": caps if terms.caps is None else sorted(terms.caps, key=lambda c: c.kind),
        "bid_lot_t": terms.bid_lot_t or (10 if terms.instrument == T5 else 1),
    }
    defaults.update(fields)
    return msgspec.structs.replace(terms, **defaults)


# ------------------------------------------------------------------------------------ commands


DAY0 = 20261120  # the Friday before DAY1: a day before go-live


def figures(day: int, volume: int, turnover: int, close: int = 8000) -> DayFigures:
    """One day's listing figures: tonnes, turnover (fen) and close."""
    return DayFigures(trading_day=day, volume=volume, turnover=turnover, close=close)


def load(market: Market, instrument: str, *days: DayFigures) -> None:
    """The regulator loads ``days`` of ``instrument``: accepted."""
    assert market.send(LoadDailyFigures(instrument=instrument, days=list(days))) == [
        DailyFiguresLoaded(
            ts_event=market.ts,
            instrument=instrument,
            days=len(days),
            first_day=days[0].trading_day,
            last_day=days[-1].trading_day,
        )
    ]


def announce(market: Market, terms: AuctionTerms) -> list[Event]:
    return market.send(AnnounceAuction(terms=terms))


def announce_open(market: Market, terms: AuctionTerms) -> int:
    """Announce and open ``terms``; the auction's id."""
    (event,) = announce(market, terms)
    assert isinstance(event, AuctionAnnounced), event
    assert market.send(OpenAuction(auction_id=event.auction_id)) == [
        AuctionOpened(ts_event=market.ts, auction_id=event.auction_id, instrument=terms.instrument)
    ]
    return event.auction_id


def apply_approve_open(market: Market, terms: AuctionTerms, commitment: str = "") -> int:
    """A one-way sale applied for by its seller, approved and opened; the auction's id."""
    (applied,) = market.send(ApplyAuction(account=terms.auctioneer, terms=terms))
    assert isinstance(applied, AuctionApplied), applied
    auction_id = applied.auction_id
    (approved,) = market.send(ApproveAuction(auction_id=auction_id, seed_commitment=commitment))
    assert isinstance(approved, AuctionAnnounced), approved
    market.send(OpenAuction(auction_id=auction_id))
    return auction_id


def bid_command(account: str, auction_id: int, price: int, quantity: int, cid: str = "b1") -> SubmitBid:
    return SubmitBid(account=account, auction_id=auction_id, client_bid_id=cid, price=price, quantity=quantity)


def bid(market: Market, account: str, auction_id: int, price: int, quantity: int, cid: str = "") -> int:
    """A bid that must be accepted; its bid id."""
    (event,) = market.send(bid_command(account, auction_id, price, quantity, cid or f"c{market.ts + 1}"))
    assert isinstance(event, BidAccepted), event
    return event.bid_id


def amend(market: Market, account: str, bid_id: int, price: int, quantity: int) -> list[Event]:
    return market.send(AmendBid(account=account, bid_id=bid_id, price=price, quantity=quantity))


def withdraw(market: Market, account: str, bid_id: int) -> list[Event]:
    return market.send(WithdrawBid(account=account, bid_id=bid_id))


def close(market: Market, auction_id: int) -> list[Event]:
    return market.send(CloseAuction(auction_id=auction_id))


def clear(market: Market, auction_id: int, seed: str = SEED) -> list[Event]:
    return market.send(ClearAuction(auction_id=auction_id, seed=seed))


# -------------------------------------------------------------------------------------- events


def announced(
    ts: int,
    auction_id: int,
    terms: AuctionTerms,
    price_limit: int,
    *,
    vwap: int = 0,
    bid_ceiling: int = 0,
) -> AuctionAnnounced:
    """The announcement of ``terms`` (already resolved): the auctioneer freezes a sale's volume, or a
    buyback's volume × ceiling (its budget, when it has one)."""
    buys = terms.kind is AuctionKind.BUYBACK
    return AuctionAnnounced(
        ts_event=ts,
        auction_id=auction_id,
        terms=terms,
        price_limit=price_limit,
        vwap=vwap,
        bid_ceiling=bid_ceiling,
        frozen_cash=(terms.budget or terms.volume * price_limit) if buys else 0,
        frozen_quantity=0 if buys else terms.volume,
    )


def buyer_freeze(price: int, quantity: int, ppm: int = 0) -> int:
    """A buying bid's freeze: its value and the fee on it."""
    return price * quantity + fee(price * quantity, ppm)


def accepted(
    ts: int,
    bid_id: int,
    command: SubmitBid,
    rank: int,
    *,
    ppm: int = 0,
    offer: bool = False,
) -> BidAccepted:
    """``command`` accepted as ``bid_id`` with time rank ``rank``; ``offer``: a buyback's offer (it freezes tonnes)."""
    return BidAccepted(
        ts_event=ts,
        bid_id=bid_id,
        auction_id=command.auction_id,
        account=command.account,
        client_bid_id=command.client_bid_id,
        price=command.price,
        quantity=command.quantity,
        time_rank=rank,
        frozen_cash=0 if offer else buyer_freeze(command.price, command.quantity, ppm),
        frozen_quantity=command.quantity if offer else 0,
    )


def allocated(
    ts: int,
    bid_id: int,
    auction_id: int,
    account: str,
    bid: tuple[int, int],
    won: tuple[int, int] = (0, 0),
    *,
    ppm: int = 0,
    offer: bool = False,
    cut: bool = False,
    compliance_only: bool = False,
) -> BidAllocated:
    """Bid ``bid_id`` (``bid`` = its price and quantity) won ``won`` (tonnes, price per tonne): it
    pays (an offer: gets) the value, with the fee; the rest of its freeze comes back."""
    (bid_price, bid_quantity), (quantity, price) = bid, won
    value = price * quantity
    charged = fee(value, ppm)
    return BidAllocated(
        ts_event=ts,
        bid_id=bid_id,
        auction_id=auction_id,
        account=account,
        bid_price=bid_price,
        bid_quantity=bid_quantity,
        quantity=quantity,
        price=price if quantity else 0,
        value=value,
        fee=charged,
        cut_by_tie_break=cut,
        released_cash=0 if offer else buyer_freeze(bid_price, bid_quantity, ppm) - value - charged,
        released_quantity=bid_quantity - quantity if offer else 0,
        compliance_only=compliance_only and quantity > 0,
    )


def settled(
    ts: int,
    auction_id: int,
    terms: AuctionTerms,
    price_limit: int,
    quantity: int = 0,
    value: int = 0,
    fee: int = 0,
) -> AuctionSettled:
    """The auctioneer's side, restated: a sale delivers ``quantity`` of its frozen volume for ``value``
    and gets the rest back (a reserve sale's revenue, less no fee, passes on to the treasury); a
    buyback pays ``value`` for ``quantity`` out of its frozen volume × ceiling (or budget), gets the
    rest back, and the tonnes pass on to the reserve. ``fee``: a one-way seller's."""
    buys = terms.kind is AuctionKind.BUYBACK
    frozen_cash = (terms.budget or terms.volume * price_limit) if buys else 0
    passed_to = ""
    if terms.kind is AuctionKind.RESERVE_SALE and value:
        passed_to = TREASURY
    elif buys and quantity:
        passed_to = RESERVE
    return AuctionSettled(
        ts_event=ts,
        auction_id=auction_id,
        account=terms.auctioneer,
        instrument=terms.instrument,
        quantity=quantity,
        value=value,
        fee=fee,
        released_cash=frozen_cash - value if buys else 0,
        released_quantity=0 if buys else terms.volume - quantity,
        passed_to=passed_to,
        passed_cash=value - fee if passed_to == TREASURY else 0,
        passed_quantity=quantity if passed_to == RESERVE else 0,
    )


def cleared(ts: int, auction_id: int, terms: AuctionTerms, price_limit: int, **fields: Any) -> AuctionCleared:
    """The public results; ``fields`` give every figure the auction's bids make (nothing is computed here)."""
    base: dict[str, Any] = {
        "ts_event": ts,
        "auction_id": auction_id,
        "kind": terms.kind,
        "instrument": terms.instrument,
        "volume_offered": terms.volume,
        "budget": terms.budget,
        "price_limit": price_limit,
        "cancelled": False,
        "cancel_cause": CancelCause.NONE,
        "reference_price": 0,
        "cancel_below_reference_bp": terms.cancel_below_reference_bp,
        "seed_commitment": terms.seed_commitment,
        "seed": "",
        "fees": 0,
    }
    base.update(fields)
    return AuctionCleared(**base)
