"""Properties of auction clearing (``engine.auction.clearing``, pure) and of auctions in a full Exchange.

docs/AUCTIONS.md "Clearing". For any bids, terms and seed: nobody pays more than its bid (a
buyback's seller gets no less than its offer); the allocations add up to at most the volume and
their value to at most the budget; every allocation is whole lots of at most what was bid; a
better price is filled before a worse one gets anything; each tied pro-rata bid is within one lot
of its exact share; the same seed gives the same allocation, whatever order the bids come in.

Over random flows of auction commands in an Exchange (announcements of the three kinds,
applications and approvals, bids, amends, withdrawals, closes, clears with the right or a wrong
seed, withdrawals of auctions): after every command cash and allowances are conserved and never
negative, every account's frozen cash and tonnes are exactly what its auctions and live bids
hold, and the fee account holds exactly the fees charged; at the end the commands replayed into a
new Exchange give the same events and state hash, and so does a snapshot taken on the way plus
the commands after it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from itertools import groupby
from typing import TypeVar

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.auction.clearing import ClearingTerms, SealedBid, clear
from engine.exchange import Exchange
from engine.messages import (
    AmendBid,
    AnnounceAuction,
    ApplyAuction,
    ApproveAuction,
    AuctionCleared,
    AuctionKind,
    AuctionStatus,
    AuctionTerms,
    BidAllocated,
    CancelAuction,
    ClearAuction,
    CloseAuction,
    Command,
    Event,
    OpenAuction,
    Pricing,
    Purpose,
    SubmitBid,
    TieBreak,
    WithdrawBid,
)
from engine.view import ExchangeView
from tests.auction_desk import (
    BIDDERS,
    COMMITMENT,
    FEES,
    SEED,
    auction_market,
    buyback,
    one_way,
    reserve_sale,
)
from tests.conftest import Market, assert_balanced

T = TypeVar("T")

# ------------------------------------------------------------------------------ pure clearing


@st.composite
def auctions(draw: st.DrawFn) -> tuple[list[SealedBid], ClearingTerms, bytes]:
    sells = draw(st.booleans(), label="sells")
    lot = draw(st.sampled_from([1, 1, 10, 100]), label="lot")
    count = draw(st.integers(0, 12), label="bids")
    ranks = draw(st.permutations(range(1, count + 1)), label="ranks")
    bids = [
        SealedBid(
            key=key,
            rank=ranks[key],
            price=draw(st.integers(95, 105), label="price"),  # few prices: many ties
            quantity=draw(st.integers(1, 20), label="lots") * lot,
        )
        for key in range(count)
    ]
    volume = draw(st.integers(1, 150), label="volume lots") * lot
    budget = 0
    if not sells and draw(st.booleans(), label="budget?"):
        budget = draw(st.integers(1, 200 * lot * 105), label="budget")
        volume = draw(st.sampled_from([0, volume]), label="volume too?")
    terms = ClearingTerms(
        sells=sells,
        volume=volume,
        budget=budget,
        lot=lot,
        pricing=draw(st.sampled_from(Pricing), label="pricing"),
        tie_break=draw(st.sampled_from(TieBreak), label="tie-break"),
    )
    return bids, terms, draw(st.binary(min_size=32, max_size=32), label="seed")


@given(auctions())
def test_nobody_pays_more_than_its_bid_and_allocations_fit_the_volume_and_budget(
    auction: tuple[list[SealedBid], ClearingTerms, bytes],
) -> None:
    bids, terms, seed = auction
    outcome = clear(bids, terms, seed)

    for b in bids:
        filled, price = outcome.fills[b.key], outcome.prices[b.key]
        assert 0 <= filled <= b.quantity and filled % terms.lot == 0
        if filled:
            assert price <= b.price if terms.sells else price >= b.price
            if terms.pricing is Pricing.UNIFORM:
                assert price == outcome.clearing_price
        else:
            assert price == 0
    if terms.volume:
        assert outcome.volume_sold <= terms.volume
    if terms.budget:
        assert outcome.value <= terms.budget
    # The clearing price is the worst accepted price; with no volume nor budget limit reached, all fill.
    accepted = [b.price for b in bids if outcome.fills[b.key]]
    assert outcome.clearing_price == ((min(accepted) if terms.sells else max(accepted)) if accepted else 0)
    if not terms.budget and sum(b.quantity for b in bids) <= terms.volume:
        assert all(outcome.fills[b.key] == b.quantity for b in bids)


@given(auctions())
def test_a_better_price_fills_before_a_worse_one_gets_anything(
    auction: tuple[list[SealedBid], ClearingTerms, bytes],
) -> None:
    bids, terms, seed = auction
    outcome = clear(bids, terms, seed)

    def better(a: SealedBid, b: SealedBid) -> bool:
        return a.price > b.price if terms.sells else a.price < b.price

    for short in (b for b in bids if outcome.fills[b.key] < b.quantity):
        assert all(outcome.fills[b.key] == 0 for b in bids if better(short, b))


@given(auctions())
def test_each_tied_pro_rata_bid_is_within_one_lot_of_its_exact_share(
    auction: tuple[list[SealedBid], ClearingTerms, bytes],
) -> None:
    bids, terms, seed = auction
    terms = terms._replace(tie_break=TieBreak.PRO_RATA)
    outcome = clear(bids, terms, seed)

    # The marginal level: the one whose bids were not all filled but some were.
    ordered = sorted(bids, key=lambda b: -b.price if terms.sells else b.price)
    before = 0  # tonnes filled at better prices
    for _, group in groupby(ordered, key=lambda b: b.price):
        level = list(group)
        room = sum(outcome.fills[b.key] for b in level)
        total = sum(b.quantity for b in level)
        if 0 < room < total and not terms.budget:
            assert room == terms.volume - before  # every lot of the room is placed
        before += room
        if 0 < room < total:
            for b in level:
                exact = Fraction(room * b.quantity, total)
                assert abs(outcome.fills[b.key] - exact) < terms.lot
            if len(level) > 1:
                assert outcome.cut == frozenset(b.key for b in level if outcome.fills[b.key] < b.quantity)


@given(auctions(), st.randoms(use_true_random=False))
def test_the_same_seed_gives_the_same_allocation_whatever_the_order_of_the_bids(
    auction: tuple[list[SealedBid], ClearingTerms, bytes], rng: random.Random
) -> None:
    bids, terms, seed = auction
    shuffled = list(bids)
    rng.shuffle(shuffled)

    assert clear(bids, terms, seed) == clear(bids, terms, seed)
    assert clear(shuffled, terms, seed).fills == clear(bids, terms, seed).fills


# ------------------------------------------------------------------------------ in the Exchange


_kinds = st.sampled_from(
    ["announce"] * 3
    + ["open"] * 2
    + ["bid"] * 8
    + ["amend"] * 2
    + ["withdraw", "close", "close", "clear", "clear", "cancel"]
)


class AuctionFlow:
    """Draws an example's commands from ``data`` as they are applied to ``market`` (which it reads)."""

    def __init__(self, data: st.DataObject, market: Market) -> None:
        self.data = data
        self.market = market
        self.numbers = iter(range(1, 10_000))

    def draw(self) -> list[Command]:
        kind = self.data.draw(_kinds, label="kind")
        batch: list[Command] = getattr(self, f"_{kind}")()
        return batch

    def _pick(self, options: Sequence[T], label: str) -> T:
        return self.data.draw(st.sampled_from(options), label=label)

    def _auctions(self, *statuses: AuctionStatus) -> list[int]:
        records = ExchangeView(self.market.exchange).auctions()
        return [a.auction_id for a in records if not statuses or a.status in statuses]

    def _announce(self) -> list[Command]:
        draw = self.data.draw
        kind = draw(st.sampled_from(AuctionKind), label="auction kind")
        tie_break = draw(st.sampled_from(TieBreak), label="tie-break")
        common = {
            "pricing": draw(st.sampled_from(Pricing), label="pricing"),
            "tie_break": tie_break,
            "seed_commitment": COMMITMENT if tie_break is not TieBreak.TIME else "",
            "bid_lot_t": draw(st.sampled_from([0, 100]), label="bid lot"),
            "cancel_if_undersubscribed": draw(st.booleans(), label="cancel if undersubscribed"),
            "cancel_below_reference_bp": draw(st.sampled_from([0, 0, 500]), label="cancel below"),
        }
        if kind is AuctionKind.RESERVE_SALE:
            purpose = draw(st.sampled_from([Purpose.COMPLIANCE, Purpose.MARKET_SUPPLY]), label="purpose")
            volume = draw(st.sampled_from([1_000, 20_000, 150_000]), label="sale volume")
            terms = reserve_sale(volume=volume, price=7500, purpose=purpose, **common)
        elif kind is AuctionKind.BUYBACK:
            budget = draw(st.sampled_from([0, 0, 30_000_000]), label="budget")
            volume = 0 if budget else draw(st.sampled_from([1_000, 20_000]), label="buyback volume")
            terms = buyback(volume=volume, budget=budget, price=8000, **common)
        else:
            seller = self._pick(["A1", "A2"], "seller")
            terms = one_way(volume=100_000, price=7600, seller=seller, **common)
            number = len(ExchangeView(self.market.exchange).auctions()) + 1  # its id, if accepted
            approve = ApproveAuction(auction_id=number, seed_commitment=terms.seed_commitment)
            return [
                ApplyAuction(account=terms.auctioneer, terms=msgspec.structs.replace(terms, seed_commitment="")),
                approve,
            ]
        return [AnnounceAuction(terms=terms)]

    def _open(self) -> list[Command]:
        ids = self._auctions(AuctionStatus.ANNOUNCED)
        if not ids:
            return self._announce()
        return [OpenAuction(auction_id=self._pick(ids, "to open"))]

    def _bid(self) -> list[Command]:
        draw = self.data.draw
        ids = self._auctions(AuctionStatus.OPEN)
        if not ids:
            return self._open()
        auction_id = self._pick(ids, "auction")
        record = ExchangeView(self.market.exchange).auction(auction_id)
        assert record is not None
        lot = record.terms.bid_lot_t
        return [
            SubmitBid(
                account=self._pick(self._bidders(record.terms) * 4 + [*BIDDERS, "STAFF"], "bidder"),
                auction_id=auction_id,
                client_bid_id=draw(st.sampled_from([f"b{next(self.numbers)}"] * 9 + ["b1"]), label="client bid id"),
                price=record.price_limit + draw(st.integers(-20, 120), label="ticks") * 10,
                quantity=draw(st.sampled_from([1, 5, 10, 60, 300]), label="lots") * lot
                + draw(st.sampled_from([0] * 9 + [1]), label="off lot"),
            )
        ]

    def _bidders(self, terms: AuctionTerms) -> list[str]:
        """The accounts that may bid in an auction of ``terms``."""
        kinds = {a.id: a.kind for a in self.market.exchange.config.accounts}
        return [b for b in BIDDERS if kinds[b] in (terms.eligible_kinds or ()) and b != terms.auctioneer]

    def _live_bid(self) -> tuple[int, str, int, int] | None:
        bids = [b for b in ExchangeView(self.market.exchange).bids() if b.live]
        if not bids:
            return None
        chosen = self.data.draw(st.sampled_from(bids), label="bid")
        return chosen.bid_id, chosen.account, chosen.price, chosen.quantity

    def _amend(self) -> list[Command]:
        live = self._live_bid()
        if live is None:
            return self._bid()
        bid_id, account, price, quantity = live
        draw = self.data.draw
        return [
            AmendBid(
                account=account,
                bid_id=bid_id,
                price=price + draw(st.integers(-3, 3), label="amend ticks") * 10,
                quantity=max(1, quantity + draw(st.sampled_from([-100, -1, 0, 100, 1_000]), label="amend tonnes")),
            )
        ]

    def _withdraw(self) -> list[Command]:
        live = self._live_bid()
        if live is None:
            return [WithdrawBid(account="A1", bid_id=999)]
        return [WithdrawBid(account=live[1], bid_id=live[0])]

    def _close(self) -> list[Command]:
        ids = self._auctions(AuctionStatus.OPEN)
        if not ids or not ExchangeView(self.market.exchange).bids():
            return self._bid()
        return [CloseAuction(auction_id=self._pick(ids, "to close"))]

    def _clear(self) -> list[Command]:
        ids = self._auctions(AuctionStatus.CLOSED)
        if not ids:
            return self._close()
        seed = self._pick([SEED] * 4 + ["00" * 32], "seed")
        return [ClearAuction(auction_id=self._pick(ids, "to clear"), seed=seed)]

    def _cancel(self) -> list[Command]:
        ids = self._auctions(AuctionStatus.APPLIED, AuctionStatus.ANNOUNCED, AuctionStatus.OPEN, AuctionStatus.CLOSED)
        if not ids:
            return self._announce()
        return [CancelAuction(auction_id=self._pick(ids, "to cancel"))]


def check_freezes_and_fees(market: Market) -> None:
    """Frozen cash and tonnes are exactly the auctioneers' and the live bids'; fees exactly those charged."""
    view = ExchangeView(market.exchange)
    cash: Counter[str] = Counter()
    tonnes: Counter[tuple[str, str]] = Counter()
    for record in view.auctions():
        cash[record.terms.auctioneer] += record.frozen_cash
        tonnes[(record.terms.auctioneer, record.terms.instrument)] += record.frozen_quantity
    instruments = {a.auction_id: a.terms.instrument for a in view.auctions()}
    for b in view.bids():
        cash[b.account] += b.frozen_cash
        tonnes[(b.account, instruments[b.auction_id])] += b.frozen_quantity
    ledger = market.exchange.ledger
    for account in (a.id for a in market.exchange.config.accounts):
        assert ledger.cash(account).frozen == cash[account], account
        for instrument in ("SHEA2025", "T5"):
            assert ledger.holding(account, instrument).frozen == tonnes[(account, instrument)], (account, instrument)
    charged = sum(e.fees for e in market.events if isinstance(e, AuctionCleared))
    assert market.cash(FEES) == (charged, 0)
    state = ledger.state()
    assert all(min(balances) >= 0 for _, *balances in state.cash)
    assert all(min(balances) >= 0 for _, _, *balances in state.holdings)


def check_allocations(market: Market, events: list[Event]) -> None:
    """Nobody pays more than its bid, no seller gets less than its offer; within the volume and budget."""
    kinds = {a.auction_id: a.terms.kind for a in ExchangeView(market.exchange).auctions()}
    for event in events:
        if isinstance(event, BidAllocated) and event.quantity:
            assert event.quantity <= event.bid_quantity
            if kinds[event.auction_id] is AuctionKind.BUYBACK:
                assert event.price >= event.bid_price
            else:
                assert event.price <= event.bid_price
        if isinstance(event, AuctionCleared):
            if event.volume_offered:
                assert event.volume_sold <= event.volume_offered
            if event.budget:
                assert event.revenue <= event.budget


_encode = msgspec.msgpack.Encoder().encode


@settings(max_examples=40)
@given(data=st.data())
def test_auction_flows_conserve_cash_and_allowances_and_replay_to_the_same_hash(data: st.DataObject) -> None:
    market = auction_market("reference")
    flow = AuctionFlow(data, market)
    snapshot_at = data.draw(st.integers(0, 30), label="snapshot after")
    snapshot: tuple[bytes, int] | None = None
    for step in range(data.draw(st.integers(1, 50), label="length")):
        for command in flow.draw():
            check_allocations(market, market.send(command))
            check_freezes_and_fees(market)
            assert_balanced(market)
        if step == snapshot_at:
            snapshot = (market.exchange.snapshot(), len(market.history))

    # Replayed from the start (the setup included), command by command at the same exchange times.
    replay = Exchange(market.exchange.config, book="reference")
    outcomes = [replay.apply(command, ts) for ts, (command, _) in enumerate(market.history, start=1)]
    assert [[_encode(e) for e in events] for events in outcomes] == [
        [_encode(e) for e in events] for _, events in market.history
    ]
    assert replay.state_hash() == market.exchange.state_hash()
    if snapshot is not None:
        restored = Exchange.from_snapshot(market.exchange.config, snapshot[0], book="fast")
        for ts, (command, _) in enumerate(market.history[snapshot[1] :], start=snapshot[1] + 1):
            restored.apply(command, ts)
        assert restored.state_hash() == market.exchange.state_hash()
        restored.validate_internal_state()
