"""The exchange as its readers see it: a read-only face of the engine's state.

Whatever answers a query or publishes data reads the exchange through ``ExchangeView`` and nothing
else: the gateway's queries, market data, ``carbonx replay``, the simulated members' account query,
and the surveillance to come. It answers in plain values and frozen records copied out of the
state, never the engine's own objects, so a reader cannot change the exchange by mistake, and the
mechanisms behind it (two books, a ledger on arrays) can change without a reader changing.

It reads the state as it is at the call: a record it returned does not follow later changes. It is
cheap to build and to call, since market data reads the quote and depth of every instrument a
batch touched after each batch.
"""

from __future__ import annotations

from collections.abc import Collection
from operator import attrgetter

import msgspec

from engine.auction.state import Auction, PublishedBid
from engine.config import ExchangeConfig
from engine.exchange import Exchange
from engine.listing.book import DepthLevel
from engine.listing.orders import Order
from engine.messages import (
    AuctionCleared,
    AuctionStatus,
    AuctionTerms,
    BidAllocated,
    OrderType,
    Session,
    Side,
    TransferStatus,
)

__all__ = [
    "AccountCash",
    "AccountHolding",
    "AuctionRecord",
    "BidRecord",
    "CashTotals",
    "DayFigures",
    "DepthLevel",
    "ExchangeView",
    "MarketStatus",
    "PublishedBid",
    "RestingOrder",
    "TransferRecord",
]


class MarketStatus(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The market as a whole: the trading day, its session and the market-wide halt (临时停市)."""

    trading_day: int  # the open trading day, or the last one when none is open (0: never)
    day_open: bool
    session: Session
    halted: bool
    halt_reason: str
    sessions_over: bool  # the afternoon has closed: no session reopens before the end of day


class DayFigures(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One instrument today: its status, the band's reference price and its listing-trade figures.

    Open, high, low and last are 0 before the day's first trade; turnover is in fen.
    """

    code: str
    reference_price: int
    halted: bool
    halt_reason: str
    open: int
    high: int
    low: int
    last: int
    volume: int
    turnover: int
    trades: int


class RestingOrder(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An open order on the book, as its member may see it."""

    order_id: int
    account: str
    instrument: str
    client_order_id: str
    side: Side
    order_type: OrderType
    price: int
    leaves: int  # open quantity
    filled: int


class TransferRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An agreement transfer proposal of today, open or closed, as its two parties may see it.

    ``side`` is the proposer's; ``frozen_cash`` / ``frozen_quantity`` what the proposer has frozen
    for it now (nothing once it is closed).
    """

    transfer_id: int
    proposer: str
    client_proposal_id: str
    side: Side
    counterparty: str
    instrument: str
    price: int
    quantity: int
    status: TransferStatus
    frozen_cash: int
    frozen_quantity: int


class AuctionRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An auction as the exchange keeps it: live, or among the last finished ones kept.

    ``terms`` are resolved (an application's as applied until it is approved); ``applicant`` is
    the one-way seller that applied ("" for the regulator's own auctions); ``bids`` counts the live
    bids, ``published_bids`` the anonymised list of a cleared one (``ExchangeView.published_bids``).
    """

    auction_id: int
    status: AuctionStatus
    terms: AuctionTerms
    applicant: str
    price_limit: int
    vwap: int
    bid_ceiling: int
    reference_price: int
    frozen_cash: int
    frozen_quantity: int
    bids: int
    bids_received: int
    published_bids: int
    results: AuctionCleared | None
    cancel_reason: str


class BidRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A bid of an auction not yet cleared (``live`` false: withdrawn). Private to its bidder, the
    regulator and surveillance; a cleared auction's bidders read their ``BidAllocated`` reports."""

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


class AccountCash(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An account's cash (fen). Withdrawable is the available cash less today's sale proceeds."""

    available: int
    frozen: int
    withdrawable: int

    @property
    def total(self) -> int:
        return self.available + self.frozen


class AccountHolding(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An account's units of one instrument (t), by bucket: only ``available`` may be sold today.

    ``restricted``: bought today, sellable from the next trading day; ``compliance``: usable only to
    surrender.
    """

    instrument: str
    available: int
    frozen: int
    restricted: int
    compliance: int


class CashTotals(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The cash every account holds together, and what the registry paid in and out: conservation
    holds when ``held == deposited - withdrawn``."""

    held: int
    deposited: int
    withdrawn: int


class ExchangeView:
    """Read-only answers about one exchange: instruments, books, accounts and the market.

    It keeps the exchange, not its parts, and looks them up at each call, so it stays right across
    anything the exchange rebuilds inside itself.
    """

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self.config: ExchangeConfig = exchange.config  # frozen: safe to hand out
        self._instruments = tuple(i.code for i in exchange.config.instruments)

    # ------------------------------------------------------------------ the market
    def instruments(self) -> tuple[str, ...]:
        """Instrument codes in config order (the order topics and tables list them in)."""
        return self._instruments

    def market(self) -> MarketStatus:
        m = self._exchange.market
        return MarketStatus(
            trading_day=m.trading_day,
            day_open=m.day_open,
            session=m.session,
            halted=m.halted,
            halt_reason=m.halt_reason,
            sessions_over=m.sessions_over,
        )

    # ------------------------------------------------------------------ an instrument
    def figures(self, instrument: str) -> DayFigures:
        """The instrument's status and today's figures (``KeyError``: not an instrument)."""
        d = self._exchange.listing.days[instrument]
        halts = self._exchange.market.instrument_halts
        return DayFigures(
            code=d.code,
            reference_price=d.reference_price,
            halted=instrument in halts,
            halt_reason=halts.get(instrument, ""),
            open=d.open,
            high=d.high,
            low=d.low,
            last=d.last,
            volume=d.volume,
            turnover=d.turnover,
            trades=d.trades,
        )

    def band(self, instrument: str) -> tuple[int, int]:
        """The day's price band (lower, upper): the engine's own limits, the ones orders are checked against."""
        return self._exchange.listing.band(instrument)

    def depth(self, instrument: str, side: Side, levels: int) -> list[DepthLevel]:
        """The ``levels`` best price levels of one side, best first: (price, quantity, orders) each."""
        return self._exchange.listing.books[instrument].depth(side, levels)

    def top(self, instrument: str, levels: int) -> tuple[list[DepthLevel], list[DepthLevel]]:
        """The ``levels`` best price levels of each side, in one look: (bids, asks), as ``depth`` gives them."""
        return self._exchange.listing.books[instrument].top(levels)

    def best(self, instrument: str, side: Side) -> int | None:
        """The best bid (BUY) or ask (SELL) price; None when that side is empty."""
        return self._exchange.listing.books[instrument].best(side)

    def resting(self, instrument: str) -> int:
        """How many orders rest on the instrument's book, both sides."""
        return len(self._exchange.listing.books[instrument])

    def book(self, instrument: str) -> list[RestingOrder]:
        """Every order resting on ``instrument``'s book in priority order: bids best price first, then
        asks best price first, each level first come first served (both books keep this order)."""
        books = self._exchange.listing.books
        if instrument not in books:
            return []
        return [_resting(o) for o in books[instrument].orders()]

    # ------------------------------------------------------------------ accounts
    def open_orders(
        self, accounts: str | Collection[str] | None = None, instrument: str | None = None
    ) -> list[RestingOrder]:
        """The open orders of ``accounts`` (one, several, or None: every account) on ``instrument``
        (None: every one), by order id. An instrument the exchange does not list has no orders."""
        listing = self._exchange.listing
        if instrument is None:
            codes: tuple[str, ...] = self._instruments
        else:
            codes = (instrument,) if instrument in listing.books else ()
        if isinstance(accounts, str):
            accounts = (accounts,)  # one account, not the characters of its id
        return [_resting(o) for o in listing.open_orders(accounts, codes)]

    def transfers(self, accounts: str | Collection[str] | None = None) -> list[TransferRecord]:
        """Today's agreement transfer proposals that ``accounts`` (one, several, or None: every
        account) are a party to, as proposer or counterparty, by transfer id."""
        if isinstance(accounts, str):
            accounts = (accounts,)
        wanted = None if accounts is None else frozenset(accounts)
        return [
            TransferRecord(**msgspec.structs.asdict(p))  # the same fields: a frozen copy
            for p in self._exchange.transfers.proposals.values()
            if wanted is None or p.proposer in wanted or p.counterparty in wanted
        ]

    def auctions(self) -> list[AuctionRecord]:
        """Every auction kept, by id: live ones and the last finished ones (config ``results_kept``)."""
        return [self._auction_record(a) for a in self._exchange.auctions.auctions.values()]

    def auction_times(self) -> list[tuple[int, AuctionStatus, int, int]]:
        """(id, status, opens_at, closes_at) of every announced or open auction: what the node's
        scheduler reads on each poll, without the cost of the full records."""
        wanted = (AuctionStatus.ANNOUNCED, AuctionStatus.OPEN)
        return [
            (a.auction_id, a.status, a.terms.opens_at, a.terms.closes_at)
            for a in self._exchange.auctions.auctions.values()
            if a.status in wanted
        ]

    def auction(self, auction_id: int) -> AuctionRecord | None:
        found = self._exchange.auctions.auctions.get(auction_id)
        return None if found is None else self._auction_record(found)

    def _auction_record(self, auction: Auction) -> AuctionRecord:
        live = self._exchange.auctions.live_totals
        return AuctionRecord(
            auction_id=auction.auction_id,
            status=auction.status,
            terms=auction.terms,
            applicant=auction.applicant,
            price_limit=auction.price_limit,
            vwap=auction.vwap,
            bid_ceiling=auction.bid_ceiling,
            reference_price=auction.reference_price,
            frozen_cash=auction.frozen_cash,
            frozen_quantity=auction.frozen_quantity,
            bids=sum(t[0] for (a, _), t in live.items() if a == auction.auction_id),
            bids_received=auction.bids_received,
            published_bids=len(auction.published),
            results=auction.results,
            cancel_reason=auction.cancel_reason,
        )

    def bids(self, auction_id: int | None = None, accounts: str | Collection[str] | None = None) -> list[BidRecord]:
        """Bids of auctions not yet cleared, of one auction (or all) and of ``accounts`` (or all), by id."""
        if isinstance(accounts, str):
            accounts = (accounts,)
        auctions = self._exchange.auctions
        if accounts is None:
            found = [b for b in auctions.bids.values() if auction_id is None or b.auction_id == auction_id]
        else:  # an account's own bids from the index, not a walk of every bid (a member's ``ListBids``)
            keys = [
                (a, account)
                for a in (auctions.auctions if auction_id is None else (auction_id,))
                for account in set(accounts)
            ]
            found = [auctions.bids[i] for key in keys for i in auctions.sent.get(key, ())]
            found.sort(key=_BID_ID)
        return [BidRecord(**msgspec.structs.asdict(b)) for b in found]  # the same fields: a frozen copy

    def allocations(self, auction_id: int, accounts: str | Collection[str] | None = None) -> list[BidAllocated]:
        """A cleared auction's outcome of each bid of ``accounts`` (or of every bidder), by bid id:
        private, as the ``BidAllocated`` reports the bidders received."""
        if isinstance(accounts, str):
            accounts = (accounts,)
        found = self._exchange.auctions.auctions.get(auction_id)
        if found is None:
            return []
        return [a for a in found.allocations if accounts is None or a.account in accounts]

    def published_bids(self, auction_id: int, offset: int = 0, limit: int | None = None) -> list[PublishedBid]:
        """A page of a cleared auction's anonymised bid list, in time-rank order (empty: none kept)."""
        found = self._exchange.auctions.auctions.get(auction_id)
        if found is None or offset < 0:
            return []
        end = None if limit is None else offset + max(0, limit)
        return found.published[offset:end]

    def cash(self, account: str) -> AccountCash:
        """The account's cash (``KeyError``: not an account)."""
        c = self._exchange.ledger.cash(account)
        return AccountCash(available=c.available, frozen=c.frozen, withdrawable=c.withdrawable)

    def holdings(self, account: str) -> list[AccountHolding]:
        """The account's holdings that are not empty, in the ledger's order (by instrument code)."""
        return [
            AccountHolding(
                instrument=instrument,
                available=h.available,
                frozen=h.frozen,
                restricted=h.restricted,
                compliance=h.compliance,
            )
            for instrument, h in self._exchange.ledger.holdings_of(account)
        ]

    def holding(self, account: str, instrument: str) -> AccountHolding:
        """The account's units of one instrument; all zero when it holds none."""
        ledger = self._exchange.ledger
        # Read only what is held: asking the reference ledger for a holding it lacks would create one.
        if not ledger.total_held((account, instrument)):
            return AccountHolding(instrument=instrument, available=0, frozen=0, restricted=0, compliance=0)
        h = ledger.holding(account, instrument)
        return AccountHolding(
            instrument=instrument,
            available=h.available,
            frozen=h.frozen,
            restricted=h.restricted,
            compliance=h.compliance,
        )

    def cash_totals(self) -> CashTotals:
        ledger = self._exchange.ledger
        return CashTotals(held=ledger.total_cash(), deposited=ledger.deposited, withdrawn=ledger.withdrawn)


_BID_ID = attrgetter("bid_id")


def _resting(o: Order) -> RestingOrder:
    return RestingOrder(
        order_id=o.order_id,
        account=o.account,
        instrument=o.instrument,
        client_order_id=o.client_order_id,
        side=o.side,
        order_type=o.order_type,
        price=o.price,
        leaves=o.leaves,
        filled=o.filled,
    )
