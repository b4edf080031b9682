"""Clearing an auction into the ledger: allocations settle, freezes are released, results published.

- A sale (reserve sale, one-way bidding): each allocation settles delivery versus payment from
  the auctioneer's frozen tonnes against the bidder's frozen cash, at the allocation price, with
  the auction's fee on each side; the rest of every freeze is released. In a reserve sale the
  revenue then passes from the reserve account to the treasury (Decree 20; reform plan §5), and
  the tonnes a compliance auction allocates go to the bidder's compliance-only bucket.
- A buyback: the treasury's frozen cash pays each seller for its frozen tonnes; what it bought
  then passes to the reserve account.
- Fees: each bidder pays the auction's rate on its allocation (``fees.auction_ppm`` for reserve
  sales and buybacks, 0 by default; ``auction.one_way_fee_ppm`` for one-way bidding); a one-way
  seller pays it too, out of its proceeds; the reserve and the treasury pay none.
- Cancelled by its own rules: nothing settles, everything is released.

Each trade is logged by the ledger with ``METHOD_AUCTION`` (trade id = the bid id): outside the
listing's open, close and band, in the statements with its fee.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable

from engine.auction.clearing import BP, ClearingTerms, SealedBid, cancel_cause, clear, figures, half_up
from engine.auction.state import Auction, Bid, PublishedBid
from engine.messages import Event
from engine.messages.auction import (
    AuctionCleared,
    AuctionKind,
    AuctionSettled,
    AuctionStatus,
    BidAllocated,
    CancelCause,
)
from settlement.arrays import METHOD_AUCTION
from settlement.ledger import Ledger, fee_for


class Settlement:
    """What clearing needs beyond the auction and its bids."""

    def __init__(
        self,
        ledger: Ledger,
        fee_rate: Callable[[AuctionKind], int],
        account_kind: Callable[[str], str],
        treasury: str | None,
        reserve: str | None,
        compliance_only: Callable[[Auction], bool],
    ) -> None:
        self.ledger = ledger
        self.fee_rate = fee_rate
        self.account_kind = account_kind
        self.treasury = treasury
        self.reserve = reserve
        self.compliance_only = compliance_only

    def clear(
        self, auction: Auction, bids: list[Bid], seed: bytes | None, seed_text: str, reference_price: int, ts: int
    ) -> list[Event]:
        """Clear ``auction`` over its live ``bids`` (by id), settle and publish; it becomes CLEARED."""
        terms = auction.terms
        sells = terms.kind is not AuctionKind.BUYBACK
        sealed = [SealedBid(b.bid_id, b.time_rank, b.price, b.quantity) for b in bids]
        clearing_terms = ClearingTerms(
            sells, terms.volume, terms.budget, terms.bid_lot_t, terms.pricing, terms.tie_break
        )
        outcome = clear(sealed, clearing_terms, seed)
        bid_volume = sum(b.quantity for b in bids)
        test_reference = reference_price if terms.cancel_below_reference_bp else 0
        cause = cancel_cause(
            terms.kind,
            terms.volume,
            bid_volume,
            outcome.clearing_price,
            test_reference,
            if_undersubscribed=terms.cancel_if_undersubscribed,
            below_reference_bp=terms.cancel_below_reference_bp,
        )
        cancelled = cause is not CancelCause.NONE
        rate = self.fee_rate(terms.kind)
        compliance_only = self.compliance_only(auction) and not cancelled
        events: list[Event] = []
        sold = revenue = fees = auctioneer_fees = net_to_auctioneer = 0
        won: Counter[str] = Counter()
        for bid in bids:
            quantity = 0 if cancelled else outcome.fills[bid.bid_id]
            price = outcome.prices[bid.bid_id] if quantity else 0
            value = price * quantity
            fee = fee_for(value, rate) if quantity else 0
            # The reserve and the treasury pay no fee; a one-way seller pays it as any seller does.
            auctioneer_fee = fee if terms.kind is AuctionKind.ONE_WAY else 0
            if quantity:
                buyer, seller = (bid.account, terms.auctioneer) if sells else (terms.auctioneer, bid.account)
                self.ledger.settle_trade(
                    trade_id=bid.bid_id,
                    buyer=buyer,
                    seller=seller,
                    instrument=terms.instrument,
                    price=price,
                    quantity=quantity,
                    buyer_fee=fee if sells else auctioneer_fee,  # the bidder's fee on its own side
                    seller_fee=auctioneer_fee if sells else fee,
                    method=METHOD_AUCTION,
                    compliance_only=compliance_only,
                )
                sold += quantity
                revenue += value
                fees += fee + auctioneer_fee
                auctioneer_fees += auctioneer_fee
                net_to_auctioneer += value - auctioneer_fee
                won[bid.account] += quantity
            released_cash = released_quantity = 0
            if sells:
                released_cash = bid.frozen_cash - (value + fee)
                if released_cash:
                    self.ledger.release_cash(bid.account, released_cash)
            else:
                released_quantity = bid.frozen_quantity - quantity
                if released_quantity:
                    self.ledger.release_allowances(bid.account, terms.instrument, released_quantity)
            bid.frozen_cash = bid.frozen_quantity = 0
            events.append(
                BidAllocated(
                    ts_event=ts,
                    bid_id=bid.bid_id,
                    auction_id=auction.auction_id,
                    account=bid.account,
                    bid_price=bid.price,
                    bid_quantity=bid.quantity,
                    quantity=quantity,
                    price=price,
                    value=value,
                    fee=fee,
                    cut_by_tie_break=not cancelled and bid.bid_id in outcome.cut,
                    released_cash=released_cash,
                    released_quantity=released_quantity,
                    compliance_only=compliance_only and quantity > 0,
                )
            )
        released_cash, released_quantity = self._release_auctioneer(auction, sold, revenue)
        passed_to, passed_cash, passed_quantity = self._pass_on(auction, sold, net_to_auctioneer)
        events.append(
            AuctionSettled(
                ts_event=ts,
                auction_id=auction.auction_id,
                account=terms.auctioneer,
                instrument=terms.instrument,
                quantity=sold,
                value=revenue,
                fee=auctioneer_fees,
                released_cash=released_cash,
                released_quantity=released_quantity,
                passed_to=passed_to,
                passed_cash=passed_cash,
                passed_quantity=passed_quantity,
            )
        )
        published = self._publish(bids, outcome.fills if not cancelled else {}, outcome.prices)
        auction.published = published
        auction.allocations = [e for e in events if isinstance(e, BidAllocated)]
        auction.status = AuctionStatus.CLEARED
        stats = figures(sealed, terms.volume, won.values())
        covered = sum(q for account, q in won.items() if self.account_kind(account) == "covered_entity")
        auction.results = AuctionCleared(
            ts_event=ts,
            auction_id=auction.auction_id,
            kind=terms.kind,
            instrument=terms.instrument,
            volume_offered=terms.volume,
            budget=terms.budget,
            price_limit=auction.price_limit,
            bid_volume=stats.bid_volume,
            bid_count=stats.bid_count,
            bidders=len({b.account for b in bids}),
            successful_bidders=len(won),
            volume_sold=sold,
            clearing_price=0 if cancelled else outcome.clearing_price,
            revenue=revenue,
            bid_to_cover_bp=stats.bid_to_cover_bp,
            min_bid=stats.min_bid,
            median_bid=stats.median_bid,
            max_bid=stats.max_bid,
            covered_share_bp=half_up(covered * BP, sold),
            hhi=stats.hhi,
            cancelled=cancelled,
            cancel_cause=cause,
            reference_price=test_reference,
            cancel_below_reference_bp=terms.cancel_below_reference_bp,
            seed_commitment=terms.seed_commitment,
            seed=seed_text,
            fees=fees,
        )
        events.append(auction.results)
        return events

    def _release_auctioneer(self, auction: Auction, sold: int, spent: int) -> tuple[int, int]:
        """Give the auctioneer back what it froze and did not deliver (a sale) or spend (a buyback)."""
        terms = auction.terms
        cash = auction.frozen_cash - spent if auction.frozen_cash else 0
        quantity = auction.frozen_quantity - sold if auction.frozen_quantity else 0
        if quantity:
            self.ledger.release_allowances(terms.auctioneer, terms.instrument, quantity)
        if cash:
            self.ledger.release_cash(terms.auctioneer, cash)
        auction.frozen_cash = auction.frozen_quantity = 0
        return cash, quantity

    def _pass_on(self, auction: Auction, sold: int, net: int) -> tuple[str, int, int]:
        """A reserve sale's revenue to the treasury; a buyback's tonnes to the reserve account:
        (to whom, cash, tonnes)."""
        terms = auction.terms
        if terms.kind is AuctionKind.RESERVE_SALE and net > 0 and self.treasury:
            self.ledger.transfer(terms.auctioneer, self.treasury, net, [])
            return self.treasury, net, 0
        if terms.kind is AuctionKind.BUYBACK and sold and self.reserve:
            self.ledger.transfer(terms.auctioneer, self.reserve, 0, [(terms.instrument, "restricted", sold)])
            return self.reserve, 0, sold
        return "", 0, 0

    @staticmethod
    def _publish(bids: list[Bid], fills: dict[int, int], prices: dict[int, int]) -> list[PublishedBid]:
        """The anonymised bid list, in time-rank order, each bidder by its pseudonym."""
        in_time = sorted(bids, key=lambda b: b.time_rank)
        pseudonyms: dict[str, int] = defaultdict(lambda: len(pseudonyms) + 1)
        for bid in in_time:
            _ = pseudonyms[bid.account]
        return [
            PublishedBid(
                bidder=pseudonyms[bid.account],
                time_rank=bid.time_rank,
                price=bid.price,
                quantity=bid.quantity,
                allocated=fills.get(bid.bid_id, 0),
                allocation_price=prices[bid.bid_id] if fills.get(bid.bid_id, 0) else 0,
            )
            for bid in in_time
        ]
