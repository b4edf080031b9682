"""The engine's events as store rows: one function per event type, filling per-table row lists.

``Rows.add(seq, ts, origin, command, events)`` turns what one journaled command caused into rows of
the tables of ``surveillance.schema``; ``take()`` hands them over and starts afresh. The same code
serves ingest (events from the journal's replay) and ``surveil watch`` (events from the drop copy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from engine.config import ExchangeConfig
from engine.messages import (
    AccountStatement,
    AllowancesAllocated,
    AuctionAnnounced,
    AuctionApplied,
    AuctionCancelled,
    AuctionCleared,
    AuctionClosed,
    AuctionOpened,
    BidAccepted,
    BidAllocated,
    BidAmended,
    BidWithdrawn,
    Command,
    DailyBulletin,
    Event,
    LargeHolderReported,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderConvertedToLimit,
    OrderRejected,
    RequestRejected,
    TradeExecuted,
    TradingDayEnded,
    TradingDayStarted,
    TransferAccepted,
    TransferCancelled,
    TransferExecuted,
    TransferExpired,
    TransferProposed,
    TransferRejected,
)
from surveillance.schema import ACTIVITY_TABLES
from surveillance.tracker import AuctionTermsSeen, DayRow, Proposal, Tracker

Row = tuple[Any, ...]
_SIDE = {1: "BUY", 2: "SELL"}
_TRANSFER_EVENTS: dict[type, str] = {
    TransferAccepted: "accepted",
    TransferRejected: "rejected",
    TransferCancelled: "cancelled",
    TransferExpired: "expired",
}


class Rows:
    def __init__(self, tracker: Tracker, config: ExchangeConfig) -> None:
        self.tracker = tracker
        self.member_of = {a.id: a.member for a in config.accounts}
        risk = config.risk
        # engine.risk.PositionLimits: the kind's limit, plus a covered entity's own free allocation.
        self.limits = {a.id: risk.position_limit_t.get(a.kind, 0) for a in config.accounts}
        self.add_allocation = frozenset(a.id for a in config.accounts if a.kind in risk.allocation_kinds)
        self.tables: dict[str, list[Row]] = {name: [] for name in ACTIVITY_TABLES if name != "days"}
        self.events = 0
        self.touched_days: set[int] = set()
        self.days_done: list[DayRow] = []  # days that ended and gave way to a new one since the last take
        self._market_sides: dict[int, int] = {}  # market orders of the current command: their side
        self._order_events = self.tables["order_events"]
        self._handlers: dict[type, Callable[[int, int, int, str, Command | None, Any], None]] = {
            OrderAccepted: self._accepted,
            OrderRejected: self._order_rejected,
            TradeExecuted: self._trade,
            OrderCancelled: self._cancelled,
            OrderAmended: self._amended,
            OrderConvertedToLimit: self._converted,
            RequestRejected: self._request_rejected,
            TransferProposed: self._proposed,
            TransferExecuted: self._transfer_executed,
            **dict.fromkeys(_TRANSFER_EVENTS, self._transfer_step),
            AuctionAnnounced: self._announced,
            AuctionApplied: self._applied,
            AuctionOpened: self._auction_step,
            AuctionClosed: self._auction_step,
            AuctionCancelled: self._auction_cancelled,
            AuctionCleared: self._cleared,
            BidAccepted: self._bid,
            BidAmended: self._bid,
            BidWithdrawn: self._bid_withdrawn,
            BidAllocated: self._allocated,
            AllowancesAllocated: self._allocation,
            DailyBulletin: self._bulletin,
            AccountStatement: self._statement,
            LargeHolderReported: self._large_holder,
            TradingDayStarted: self._day_started,
            TradingDayEnded: self._day_ended,
        }

    def add(self, seq: int, ts: int, origin: str, command: Command | None, events: Sequence[Event]) -> None:
        """The rows of one command's events (``command`` None: events seen without it, the drop copy)."""
        handlers = self._handlers
        day = self.tracker.state.day
        if day is not None and not day.ended:
            day.last_seq, day.end_ts = seq, ts
        for ev, event in enumerate(events):
            handler = handlers.get(type(event))
            if handler is not None:
                handler(seq, ev, ts, origin, command, event)
        self.events += len(events)
        self._market_sides.clear()
        if events:
            self.touched_days.add(self.tracker.day)

    def take(self) -> dict[str, list[Row]]:
        """The rows so far, ``days`` included (every day row changed: replace them by day)."""
        tables = self.tables
        current = self.tracker.state.day
        days = [*self.days_done, *([current] if current is not None else [])]
        tables["days"] = [(d.day, d.first_seq, d.start_ts, d.last_seq, d.end_ts, d.ended) for d in days]
        self.tables = {name: [] for name in tables if name != "days"}
        self._order_events = self.tables["order_events"]
        self.days_done = []
        return tables

    # ------------------------------------------------------------------ listing
    def _accepted(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: OrderAccepted) -> None:
        tracker = self.tracker
        best_bid, best_ask = tracker.best(e.instrument)
        self._order_events.append(
            (seq, ev, ts, tracker.day, origin, "accepted", e.order_id, e.account, e.instrument, e.client_order_id,
             _SIDE[e.side], e.order_type.name, e.price, e.quantity, e.quantity, 0, "", best_bid, best_ask, "", 0, "")
        )  # fmt: skip
        tracker.rest(e.order_id, e.instrument, e.side, e.price, e.quantity)
        if e.order_type.is_market:
            self._market_sides[e.order_id] = e.side  # it rests only if converted, in this command

    def _order_rejected(
        self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: OrderRejected
    ) -> None:
        day = self.tracker.day
        side = _SIDE.get(int(getattr(command, "side", 0)), "")
        order_type = getattr(command, "order_type", None)
        self._order_events.append(
            (seq, ev, ts, day, origin, "rejected", 0, e.account, e.instrument, e.client_order_id, side,
             order_type.name if order_type is not None else "", getattr(command, "price", 0),
             getattr(command, "quantity", 0), 0, 0, "", 0, 0, e.code.name, int(e.code), e.text)
        )  # fmt: skip
        self.tables["rejects"].append(
            (seq, ev, ts, day, origin, "NewOrder", e.account, e.instrument, e.client_order_id, 0, int(e.code),
             e.code.name, e.text)
        )  # fmt: skip

    def _trade(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: TradeExecuted) -> None:
        tracker, day, member_of = self.tracker, self.tracker.day, self.member_of
        self.tables["trades"].append(
            (seq, ev, ts, day, e.trade_id, e.instrument, e.price, e.quantity, _SIDE[e.aggressor], e.buy_order_id,
             e.sell_order_id, e.buy_account, e.sell_account, member_of.get(e.buy_account, ""),
             member_of.get(e.sell_account, ""), e.buy_fee, e.sell_fee)
        )  # fmt: skip
        out = self._order_events
        out.append(
            (seq, ev, ts, day, origin, "filled", e.buy_order_id, e.buy_account, e.instrument, "", "BUY", "", e.price,
             e.quantity, e.buy_leaves, e.trade_id, e.sell_account, 0, 0, "", 0, "")
        )  # fmt: skip
        out.append(
            (seq, ev, ts, day, origin, "filled", e.sell_order_id, e.sell_account, e.instrument, "", "SELL", "", e.price,
             e.quantity, e.sell_leaves, e.trade_id, e.buy_account, 0, 0, "", 0, "")
        )  # fmt: skip
        tracker.reduce(e.buy_order_id, e.buy_leaves)
        tracker.reduce(e.sell_order_id, e.sell_leaves)

    def _cancelled(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: OrderCancelled) -> None:
        self._order_events.append(
            (seq, ev, ts, self.tracker.day, origin, "cancelled", e.order_id, e.account, e.instrument, "", "", "", 0,
             e.cancelled_quantity, 0, 0, "", 0, 0, e.reason.name, 0, "")
        )  # fmt: skip
        self.tracker.reduce(e.order_id, 0)

    def _amended(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: OrderAmended) -> None:
        self._order_events.append(
            (seq, ev, ts, self.tracker.day, origin, "amended", e.order_id, e.account, e.instrument, "", "", "", e.price,
             e.quantity, e.quantity, 0, "", 0, 0, "priority kept" if e.priority_kept else "priority lost", 0, "")
        )  # fmt: skip
        self.tracker.move(e.order_id, e.price, e.quantity)

    def _converted(
        self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: OrderConvertedToLimit
    ) -> None:
        self._order_events.append(
            (seq, ev, ts, self.tracker.day, origin, "converted", e.order_id, e.account, e.instrument, "", "", "",
             e.price, e.quantity, e.quantity, 0, "", 0, 0, "", 0, "")
        )  # fmt: skip
        side = self._market_sides.pop(e.order_id, 0)
        if side:
            self.tracker.rest(e.order_id, e.instrument, side, e.price, e.quantity)

    def _request_rejected(
        self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: RequestRejected
    ) -> None:
        client_id = ""
        for name in ("client_order_id", "client_bid_id", "client_proposal_id"):
            client_id = client_id or str(getattr(command, name, ""))
        target = 0
        for name in ("order_id", "bid_id", "transfer_id", "auction_id"):
            target = target or int(getattr(command, name, 0))
        self.tables["rejects"].append(
            (seq, ev, ts, self.tracker.day, origin, e.request, e.account or str(getattr(command, "account", "")),
             str(getattr(command, "instrument", "")), client_id, target or e.order_id, int(e.code), e.code.name, e.text)
        )  # fmt: skip

    # ------------------------------------------------------------------ agreement transfers
    def _proposed(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: TransferProposed) -> None:
        proposal = Proposal(e.account, e.counterparty, e.instrument, _SIDE[e.side], e.price, e.quantity)
        self.tracker.state.proposals[e.transfer_id] = proposal
        self._transfer_row(seq, ev, ts, origin, "proposed", e.transfer_id, proposal, "", "")

    def _transfer_step(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: Any) -> None:
        proposals = self.tracker.state.proposals
        proposal = proposals.get(e.transfer_id)
        if proposal is None:
            return
        event = _TRANSFER_EVENTS[type(e)]
        if event != "accepted":
            del proposals[e.transfer_id]  # accepted: executed follows in the same command
        self._transfer_row(seq, ev, ts, origin, event, e.transfer_id, proposal, "", "")

    def _transfer_executed(
        self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: TransferExecuted
    ) -> None:
        proposal = self.tracker.state.proposals.pop(e.transfer_id, None)
        if proposal is None:
            side = _SIDE[e.proposer_side]
            proposer, counterparty = (
                (e.buy_account, e.sell_account) if side == "BUY" else (e.sell_account, e.buy_account)
            )
            proposal = Proposal(proposer, counterparty, e.instrument, side, e.price, e.quantity)
        settled = Proposal(proposal.proposer, proposal.counterparty, e.instrument, proposal.side, e.price, e.quantity)
        self._transfer_row(seq, ev, ts, origin, "executed", e.transfer_id, settled, e.buy_account, e.sell_account)

    def _transfer_row(
        self,
        seq: int,
        ev: int,
        ts: int,
        origin: str,
        event: str,
        transfer_id: int,
        p: Proposal,
        buyer: str,
        seller: str,
    ) -> None:
        self.tables["transfer_events"].append(
            (seq, ev, ts, self.tracker.day, origin, event, transfer_id, p.instrument, p.proposer, p.counterparty,
             p.side, p.price, p.quantity, buyer, seller)
        )  # fmt: skip

    # ------------------------------------------------------------------ auctions
    def _announced(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: AuctionAnnounced) -> None:
        terms = e.terms
        seen = AuctionTermsSeen(
            terms.kind.name, terms.instrument, terms.auctioneer, terms.volume, terms.budget, e.price_limit
        )
        self.tracker.state.auctions[e.auction_id] = seen
        self._auction_row(seq, ev, ts, "announced", e.auction_id, seen)

    def _applied(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: AuctionApplied) -> None:
        terms = e.terms
        seen = AuctionTermsSeen(terms.kind.name, terms.instrument, e.account, terms.volume, terms.budget, terms.price)
        self.tracker.state.auctions[e.auction_id] = seen
        self._auction_row(seq, ev, ts, "applied", e.auction_id, seen)

    def _auction_step(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: Any) -> None:
        seen = self.tracker.state.auctions.get(e.auction_id)
        if seen is not None:
            self._auction_row(seq, ev, ts, "opened" if isinstance(e, AuctionOpened) else "closed", e.auction_id, seen)

    def _auction_cancelled(
        self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: AuctionCancelled
    ) -> None:
        seen = self.tracker.state.auctions.pop(e.auction_id, None)
        if seen is not None:
            self._auction_row(seq, ev, ts, "cancelled", e.auction_id, seen, cancelled=True, reason=e.reason)

    def _cleared(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: AuctionCleared) -> None:
        seen = self.tracker.state.auctions.pop(e.auction_id, None)
        auctioneer = seen.auctioneer if seen is not None else ""
        self.tables["auction_events"].append(
            (seq, ev, ts, self.tracker.day, "cleared", e.auction_id, e.kind.name, e.instrument, auctioneer,
             e.volume_offered, e.budget, e.price_limit, e.clearing_price, e.volume_sold, e.revenue, e.bid_count,
             e.bidders, e.cancelled, e.cancel_cause.name if e.cancelled else "", e.seed)
        )  # fmt: skip

    def _auction_row(
        self, seq: int, ev: int, ts: int, event: str, auction_id: int, seen: AuctionTermsSeen, *,
        cancelled: bool = False, reason: str = "",
    ) -> None:  # fmt: skip
        self.tables["auction_events"].append(
            (seq, ev, ts, self.tracker.day, event, auction_id, seen.kind, seen.instrument, seen.auctioneer, seen.volume,
             seen.budget, seen.price_limit, 0, 0, 0, 0, 0, cancelled, reason, "")
        )  # fmt: skip

    def _bid(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: Any) -> None:
        accepted = isinstance(e, BidAccepted)
        client_bid_id = e.client_bid_id if accepted else ""
        self.tables["bid_events"].append(
            (seq, ev, ts, self.tracker.day, origin, "accepted" if accepted else "amended", e.bid_id, e.auction_id,
             e.account, client_bid_id, e.price, e.quantity, 0, 0)
        )  # fmt: skip

    def _bid_withdrawn(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: BidWithdrawn) -> None:
        self.tables["bid_events"].append(
            (seq, ev, ts, self.tracker.day, origin, "withdrawn", e.bid_id, e.auction_id, e.account, "", 0, 0, 0, 0)
        )

    def _allocated(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: BidAllocated) -> None:
        self.tables["bid_events"].append(
            (seq, ev, ts, self.tracker.day, origin, "allocated", e.bid_id, e.auction_id, e.account, "", e.bid_price,
             e.bid_quantity, e.quantity, e.price)
        )  # fmt: skip

    # ------------------------------------------------------------------ end of day and the day
    def _bulletin(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: DailyBulletin) -> None:
        self.tables["bulletins"].append(
            (e.trading_day, e.instrument, e.reference_price, e.open, e.high, e.low, e.last, e.close, e.vwap, e.volume,
             e.turnover, e.trades, e.bulk_volume, e.bulk_turnover)
        )  # fmt: skip

    def _allocation(
        self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: AllowancesAllocated
    ) -> None:
        if e.account in self.add_allocation:
            allocated = self.tracker.state.allocated
            key = f"{e.account} {e.instrument}"
            allocated[key] = allocated.get(key, 0) + e.quantity

    def _statement(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: AccountStatement) -> None:
        rows = self.tables["holdings"]
        limit = self.limits.get(e.account, 0)
        allocated = self.tracker.state.allocated
        for h in e.holdings:
            in_force = limit + allocated.get(f"{e.account} {h.instrument}", 0) if limit else 0
            rows.append((e.trading_day, e.account, h.instrument, h.closing, h.bought, h.sold, in_force))

    def _large_holder(
        self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: LargeHolderReported
    ) -> None:
        self.tables["large_holders"].append((e.trading_day, e.account, e.member, e.instrument, e.holding, e.threshold))

    def _day_started(
        self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: TradingDayStarted
    ) -> None:
        previous = self.tracker.state.day
        if previous is not None:
            self.days_done.append(msgspec.structs.replace(previous))
        self.tracker.state.day = DayRow(e.trading_day, seq, ts, seq, ts, False)
        self.touched_days.add(e.trading_day)

    def _day_ended(self, seq: int, ev: int, ts: int, origin: str, command: Command | None, e: TradingDayEnded) -> None:
        day = self.tracker.state.day
        if day is not None and day.day == e.trading_day:
            day.last_seq, day.end_ts, day.ended = seq, ts, True
