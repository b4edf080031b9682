"""An announcement's terms, checked and resolved: defaults filled in and the price limit computed.

Checks, in this order, each failure a reject (INVALID_AUCTION_TERMS names the ``term`` and the
``reason``): the instrument; the auctioneer (a reserve account sells in a reserve sale, a
treasury account buys in a buyback, a trading account of the applicant's sells in one-way
bidding); the purpose (reserve sales only); the volume or budget; the bid lot; the bidding
window; the price rule (AUCTION_NO_REFERENCE_PRICE when a VWAP window holds no listing trade);
one-way bidding's floor and ceiling; eligibility; the caps; the cancellation rule; the seed
commitment (a ``pro_rata`` or ``random`` tie-break needs one).
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from engine.auction.clearing import BP, needs_seed
from engine.auction.history import PriceHistory
from engine.auction.prng import is_commitment
from engine.config import TRADING_ACCOUNT_KINDS, Account, AuctionRules, Instrument, PurposeRules
from engine.mechanism import Rejection
from engine.messages import Reject
from engine.messages.auction import AuctionKind, AuctionTerms, BidCap, Purpose
from engine.prices import band_limits, round_half_up_to_tick

# The account kind that may be each kind of auction's auctioneer (one-way: any trading kind).
_AUCTIONEER_KIND = {AuctionKind.RESERVE_SALE: "reserve", AuctionKind.BUYBACK: "treasury"}


class Resolved(NamedTuple):
    terms: AuctionTerms  # every default filled in
    price_limit: int  # a sale's floor, a buyback's ceiling
    vwap: int  # the VWAP the limit came from; 0 for a fixed price
    bid_ceiling: int  # one-way bidding: the highest bid allowed; 0: none
    reference_price: int  # the instrument's reference price (previous close) at the announcement


def invalid(term: str, reason: str) -> Rejection:
    return Rejection(Reject.INVALID_AUCTION_TERMS, term=term, reason=reason)


class TermsCheck:
    """Checks and resolves terms against the config and the listing's history."""

    def __init__(
        self,
        rules: AuctionRules,
        instruments: dict[str, Instrument],
        accounts: dict[str, Account],
        history: PriceHistory,
    ) -> None:
        self.rules = rules
        self.instruments = instruments
        self.accounts = accounts
        self.history = history

    def resolve(
        self,
        terms: AuctionTerms,
        *,
        reference_price: int,
        closed: frozenset[str] | set[str],
        ts: int,
        applicant: str = "",
        approving: bool = False,
    ) -> Resolved:
        instrument = self.instruments.get(terms.instrument)
        if instrument is None:
            raise Rejection(Reject.UNKNOWN_INSTRUMENT, instrument=terms.instrument)
        self._check_auctioneer(terms, applicant, closed)
        purpose = self._purpose(terms)
        lot = self._lot(terms, instrument)
        self._check_volume(terms, lot)
        cutoff = self._check_window(terms, ts)
        limit, vwap, k = self._price_limit(terms, instrument, purpose)
        bid_ceiling = 0
        if terms.kind is AuctionKind.ONE_WAY:
            lowest, bid_ceiling = self._one_way_band(reference_price, instrument)
            if limit < lowest:
                raise Rejection(
                    Reject.INVALID_AUCTION_TERMS, term="price", reason="below_one_way_floor", price=limit, lower=lowest
                )
            if limit > bid_ceiling:
                raise Rejection(
                    Reject.INVALID_AUCTION_TERMS,
                    term="price",
                    reason="above_bid_ceiling",
                    price=limit,
                    upper=bid_ceiling,
                )
        eligible = self._eligible(terms, purpose)
        caps = self._caps(terms, purpose)
        if terms.cancel_below_reference_bp >= BP:
            raise invalid("cancel_below_reference_bp", "not_below_10000")
        self._check_commitment(terms, needed=applicant == "" or approving)
        resolved = msgspec.structs.replace(
            terms,
            vwap_k_bp=k,
            cutoff_at=cutoff,
            eligible_kinds=eligible,
            caps=caps,
            bid_lot_t=lot,
        )
        return Resolved(resolved, limit, vwap, bid_ceiling, reference_price)

    # ------------------------------------------------------------------ the parts
    def _check_auctioneer(self, terms: AuctionTerms, applicant: str, closed: frozenset[str] | set[str]) -> None:
        account = self.accounts.get(terms.auctioneer)
        if account is None or terms.auctioneer in closed:
            raise invalid("auctioneer", "unknown" if account is None else "closed")
        if terms.kind is AuctionKind.ONE_WAY:
            if not applicant:
                raise invalid("kind", "one_way_by_application_only")
            if terms.auctioneer != applicant:
                raise invalid("auctioneer", "not_the_applicant")
            if account.kind not in TRADING_ACCOUNT_KINDS or account.prohibited:
                raise invalid("auctioneer", "prohibited" if account.prohibited else account.kind)
            return
        if applicant:
            raise invalid("kind", "only_one_way_by_application")
        if account.kind != _AUCTIONEER_KIND[terms.kind]:
            raise invalid("auctioneer", f"{account.kind}_not_{_AUCTIONEER_KIND[terms.kind]}")

    def _purpose(self, terms: AuctionTerms) -> PurposeRules | None:
        if terms.kind is AuctionKind.RESERVE_SALE:
            if terms.purpose is Purpose.COMPLIANCE:
                return self.rules.compliance
            if terms.purpose is Purpose.MARKET_SUPPLY:
                return self.rules.market_supply
            raise invalid("purpose", "compliance_or_market_supply")
        if terms.purpose is not Purpose.NONE:
            raise invalid("purpose", "reserve_sales_only")
        return None

    @staticmethod
    def _lot(terms: AuctionTerms, instrument: Instrument) -> int:
        lot = terms.bid_lot_t or instrument.lot_t
        if lot % instrument.lot_t:
            raise invalid("bid_lot_t", f"not_a_multiple_of_{instrument.lot_t}")
        return lot

    def _check_volume(self, terms: AuctionTerms, lot: int) -> None:
        if terms.kind is AuctionKind.BUYBACK:
            if bool(terms.volume) == bool(terms.budget):
                raise invalid("volume", "volume_or_budget")
        elif terms.budget:
            raise invalid("budget", "buybacks_only")
        elif not terms.volume:
            raise invalid("volume", "zero")
        if terms.volume % lot:
            raise invalid("volume", f"not_a_multiple_of_{lot}")
        if terms.kind is AuctionKind.ONE_WAY and terms.volume < self.rules.one_way_min_t:
            raise Rejection(
                Reject.INVALID_AUCTION_TERMS,
                term="volume",
                reason="below_one_way_minimum",
                volume=terms.volume,
                min=self.rules.one_way_min_t,
            )

    @staticmethod
    def _check_window(terms: AuctionTerms, ts: int) -> int:
        cutoff = terms.cutoff_at or terms.closes_at
        if not 0 < terms.opens_at < terms.closes_at:
            raise invalid("closes_at", "not_after_opens_at")
        if not terms.opens_at < cutoff <= terms.closes_at:
            raise invalid("cutoff_at", "outside_window")
        if terms.closes_at <= ts:
            raise invalid("closes_at", "in_the_past")
        return cutoff

    def _price_limit(
        self, terms: AuctionTerms, instrument: Instrument, purpose: PurposeRules | None
    ) -> tuple[int, int, int]:
        """(limit, vwap, k): a fixed price, or k × the window's VWAP, capped, half-up to the tick."""
        tick = instrument.tick_fen
        if terms.price_cap % tick:
            raise invalid("price_cap", f"not_on_tick_{tick}")
        if terms.price:
            if terms.price % tick:
                raise invalid("price", f"not_on_tick_{tick}")
            if terms.vwap_from or terms.vwap_to or terms.vwap_k_bp or terms.price_cap:
                raise invalid("price", "fixed_price_and_vwap_rule")
            return terms.price, 0, 0
        if not terms.vwap_from or not terms.vwap_to or terms.vwap_from > terms.vwap_to:
            raise invalid("vwap_from", "window_needed")
        k = terms.vwap_k_bp or (purpose.vwap_k_bp if purpose else BP)
        volume, turnover = self.history.sums(instrument.code, terms.vwap_from, terms.vwap_to)
        if not volume:
            raise Rejection(
                Reject.AUCTION_NO_REFERENCE_PRICE,
                instrument=instrument.code,
                vwap_from=terms.vwap_from,
                vwap_to=terms.vwap_to,
            )
        vwap = round_half_up_to_tick(turnover, volume, 1)
        limit = round_half_up_to_tick(k * turnover, BP * volume, tick)
        if terms.price_cap:
            limit = min(limit, terms.price_cap)
        if limit <= 0:
            raise invalid("price", "zero")
        return limit, vwap, k

    def _one_way_band(self, reference: int, instrument: Instrument) -> tuple[int, int]:
        """The lowest floor a one-way seller may set and the highest bid: the previous close ∓ the rule's %."""
        lowest, _ = band_limits(reference, self.rules.one_way_floor_bp, instrument.tick_fen)
        _, highest = band_limits(reference, self.rules.one_way_ceiling_bp, instrument.tick_fen)
        return lowest, highest

    @staticmethod
    def _eligible(terms: AuctionTerms, purpose: PurposeRules | None) -> list[str]:
        if terms.eligible_kinds is not None:
            kinds = terms.eligible_kinds
        elif purpose is not None:
            kinds = purpose.eligible_kinds
        else:
            kinds = sorted(TRADING_ACCOUNT_KINDS)
        if not kinds:
            raise invalid("eligible_kinds", "empty")
        for kind in kinds:
            if kind not in TRADING_ACCOUNT_KINDS:
                raise invalid("eligible_kinds", f"{kind}_cannot_bid")
        return sorted(set(kinds))

    @staticmethod
    def _caps(terms: AuctionTerms, purpose: PurposeRules | None) -> list[BidCap]:
        if terms.caps is not None:
            caps = terms.caps
        elif purpose is not None:
            caps = [BidCap(kind=kind, max_t=tonnes) for kind, tonnes in sorted(purpose.caps_t.items())]
        else:
            caps = []
        kinds = [cap.kind for cap in caps]
        if len(set(kinds)) != len(kinds):
            raise invalid("caps", "kind_twice")
        for cap in caps:
            if cap.kind not in TRADING_ACCOUNT_KINDS:
                raise invalid("caps", f"{cap.kind}_cannot_bid")
            if cap.max_bp > BP:
                raise invalid("caps", "max_bp_above_10000")
            if cap.max_bp and not terms.volume:
                raise invalid("caps", "max_bp_without_volume")
        return sorted(caps, key=lambda cap: cap.kind)

    @staticmethod
    def _check_commitment(terms: AuctionTerms, *, needed: bool) -> None:
        commitment = terms.seed_commitment
        if commitment and not is_commitment(commitment):
            raise invalid("seed_commitment", "not_64_lowercase_hex")
        if needed and needs_seed(terms.tie_break) and not commitment:
            raise invalid("seed_commitment", f"needed_for_{terms.tie_break.name.lower()}")


def cap_for(terms: AuctionTerms, kind: str) -> int | None:
    """The most tonnes one account of ``kind`` may have bid at once; None when uncapped.

    Never above the volume (a bid for more than everything offered cannot be meant).
    """
    limits = [terms.volume] if terms.volume else []
    for cap in terms.caps or ():
        if cap.kind == kind:
            if cap.max_t:
                limits.append(cap.max_t)
            if cap.max_bp:
                limits.append(terms.volume * cap.max_bp // BP)
    return min(limits) if limits else None
