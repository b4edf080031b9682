"""Clearing a sealed-bid auction: pure functions of the bids, the terms and the seed.

The mechanism clears with them, and ``carbonx auction verify`` recomputes a published result
with them from the anonymised bid list alone, so both read the same specification
(docs/AUCTIONS.md "Clearing"):

1. Bids are sorted by price, best for the auctioneer first: descending when it sells, ascending
   when it buys; within a price, by time rank.
2. Price levels are filled in that order while there is room. The room at a level is what the
   volume leaves, and for a buyback with a budget what the budget leaves at that level's price
   (uniform pricing: budget ÷ price − tonnes already accepted, since every accepted offer is paid
   the marginal price; pay-as-bid: (budget − already spent) ÷ price), rounded down to the bid lot.
3. The first level that does not fit is the marginal one: its bids share the room by the
   tie-break — ``time``: earlier first; ``random``: in the seeded random order; ``pro_rata``: each
   gets remainder × its quantity ÷ the level's total, rounded down to the lot, and the leftover
   lots go one at a time in the seeded random order to the bids whose share was rounded down.
   Nothing below it fills.
4. Uniform pricing: every accepted bid pays (or gets) the clearing price, the marginal accepted
   price: the lowest accepted bid of a sale, the highest accepted offer of a buyback.
   Pay-as-bid: each its own price.

Integers only. The random order (``engine.auction.prng``) shuffles the marginal level's bids
taken in time-rank order, so equal seeds give equal allocations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import groupby
from typing import NamedTuple

from engine.auction.prng import SeedStream
from engine.messages.auction import AuctionKind, CancelCause, Pricing, TieBreak

BP = 10_000


class SealedBid(NamedTuple):
    """What clearing needs of a bid: its key (bid id, or its place in a published list), its time
    rank (earlier first), price and quantity."""

    key: int
    rank: int
    price: int
    quantity: int


class ClearingTerms(NamedTuple):
    sells: bool  # the auctioneer sells (bidders buy): the highest prices first
    volume: int  # tonnes offered or sought; 0: no volume limit (a budget-only buyback)
    budget: int  # a buyback's most value spent; 0: none
    lot: int  # the bid lot: allocations are multiples of it
    pricing: Pricing
    tie_break: TieBreak


class Clearing(NamedTuple):
    fills: dict[int, int]  # key -> tonnes allocated, every bid (0 included)
    prices: dict[int, int]  # key -> the price it pays or gets (0 when nothing is allocated)
    clearing_price: int  # the marginal accepted price; 0 when nothing is allocated
    cut: frozenset[int]  # keys tied at the marginal price that the tie-break gave less than they bid

    @property
    def volume_sold(self) -> int:
        return sum(self.fills.values())

    @property
    def value(self) -> int:
        return sum(self.prices[key] * quantity for key, quantity in self.fills.items())


def priority(bids: Iterable[SealedBid], sells: bool) -> list[SealedBid]:
    """The bids in the order they fill: by price (best for the auctioneer first), then time rank."""
    return sorted(bids, key=lambda b: (-b.price if sells else b.price, b.rank))


def needs_seed(tie_break: TieBreak) -> bool:
    return tie_break is not TieBreak.TIME


def clear(bids: Sequence[SealedBid], terms: ClearingTerms, seed: bytes | None) -> Clearing:
    """Allocate ``terms.volume`` (and/or the budget) among ``bids``; ``seed`` for a random or pro-rata tie."""
    fills = dict.fromkeys((b.key for b in bids), 0)
    accepted = spent = clearing_price = 0
    cut: frozenset[int] = frozenset()
    for price, level_bids in groupby(priority(bids, terms.sells), key=lambda b: b.price):
        level = list(level_bids)
        room = _room(terms, price, accepted, spent)
        if room <= 0:
            break
        total = sum(b.quantity for b in level)
        if total <= room:
            allocation = {b.key: b.quantity for b in level}
        else:
            allocation = _share(level, room, terms, seed)
            if len(level) > 1:
                cut = frozenset(b.key for b in level if allocation[b.key] < b.quantity)
        fills.update(allocation)
        filled = sum(allocation.values())
        if filled:
            clearing_price = price
        accepted += filled
        spent += price * filled
        if total > room:
            break
    uniform = terms.pricing is Pricing.UNIFORM
    prices = {b.key: (clearing_price if uniform else b.price) if fills[b.key] else 0 for b in bids}
    return Clearing(fills=fills, prices=prices, clearing_price=clearing_price, cut=cut)


def _room(terms: ClearingTerms, price: int, accepted: int, spent: int) -> int:
    """Tonnes that may still be accepted at ``price``, in whole lots."""
    rooms = []
    if terms.volume:
        rooms.append(terms.volume - accepted)
    if terms.budget:
        if terms.pricing is Pricing.UNIFORM:
            rooms.append(terms.budget // price - accepted)
        else:
            rooms.append((terms.budget - spent) // price)
    room = min(rooms) if rooms else 0
    return room - room % terms.lot if room > 0 else 0


def _share(level: list[SealedBid], room: int, terms: ClearingTerms, seed: bytes | None) -> dict[int, int]:
    """Share ``room`` tonnes among the bids of the marginal level (they bid more than that)."""
    in_time = sorted(level, key=lambda b: b.rank)
    allocation = dict.fromkeys((b.key for b in level), 0)
    if terms.tie_break is TieBreak.TIME:
        order = in_time
    else:
        if seed is None:
            raise ValueError("a random or pro-rata tie-break needs the seed")
        order = SeedStream(seed).shuffle(in_time)
    if terms.tie_break is TieBreak.PRO_RATA:
        lot, total = terms.lot, sum(b.quantity for b in level)
        rounded = set()  # the bids whose exact share is not a whole number of lots
        for b in level:
            share = room * b.quantity // total
            allocation[b.key] = share - share % lot
            if room * b.quantity != allocation[b.key] * total:
                rounded.add(b.key)
        left = room - sum(allocation.values())
        # The leftover lots are the parts of lots the rounding took, which add up to whole lots: fewer
        # than the bids that lost a part. One lot each to those, in the random order, places them all
        # and leaves every bid strictly within one lot of its exact share (none gets a lot it was not
        # owed part of).
        for b in order:
            if left < lot:
                break
            if b.key in rounded:
                allocation[b.key] += lot
                left -= lot
        return allocation
    left = room
    for b in order:
        take = min(b.quantity, left)
        allocation[b.key] = take
        left -= take
    return allocation


def cancel_cause(
    kind: AuctionKind,
    volume: int,
    bid_volume: int,
    clearing_price: int,
    reference_price: int,
    *,
    if_undersubscribed: bool,
    below_reference_bp: int,
) -> CancelCause:
    """Whether the announced cancellation rules cancel a cleared auction (EU Art. 7(5)-(6)).

    Undersubscribed: the bids add up to fewer tonnes than the volume. Beyond the reference: a
    sale's clearing price more than ``below_reference_bp`` below the reference price (the previous
    close); for a buyback, the mirror: more than that above it.
    """
    if if_undersubscribed and volume and bid_volume < volume:
        return CancelCause.UNDERSUBSCRIBED
    if below_reference_bp and clearing_price and reference_price:
        if kind is AuctionKind.BUYBACK:
            beyond = clearing_price * BP > reference_price * (BP + below_reference_bp)
        else:
            beyond = clearing_price * BP < reference_price * (BP - below_reference_bp)
        if beyond:
            return CancelCause.BELOW_REFERENCE
    return CancelCause.NONE


def half_up(numerator: int, denominator: int) -> int:
    """numerator ÷ denominator rounded half-up (both non-negative; 0 when the denominator is)."""
    return (2 * numerator + denominator) // (2 * denominator) if denominator else 0


class Figures(NamedTuple):
    """The public figures of a result that depend only on the bids and their allocations."""

    bid_volume: int
    bid_count: int
    min_bid: int
    median_bid: int
    max_bid: int
    bid_to_cover_bp: int
    hhi: int


def figures(bids: Sequence[SealedBid], volume: int, won_by_bidder: Iterable[int]) -> Figures:
    """Bid statistics and the concentration of allocations (``won_by_bidder``: tonnes per bidder)."""
    prices = sorted(b.price for b in bids)
    bid_volume = sum(b.quantity for b in bids)
    n = len(prices)
    middle = (prices[n // 2] if n % 2 else half_up(prices[n // 2 - 1] + prices[n // 2], 2)) if n else 0
    won = [w for w in won_by_bidder if w]
    sold = sum(won)
    return Figures(
        bid_volume=bid_volume,
        bid_count=n,
        min_bid=prices[0] if n else 0,
        median_bid=middle,
        max_bid=prices[-1] if n else 0,
        bid_to_cover_bp=half_up(bid_volume * BP, volume),
        hhi=half_up(sum(w * w for w in won) * BP, sold * sold),
    )
