"""Execution reports: which member sees which event, numbered per member, kept for resend.

The reports are a projection of the journal: each record names the member that sent it and its
request id (``JournalRecord.origin``), and routing depends only on that, the command and its events.
So a replay of the journal numbers every report exactly as the live node did, and a member that
reconnects after a restart can ask for its reports from any number still kept.

Who sees what:
- the sender of a command sees every event it caused (a member its own fills as ``Fill``);
- every other member sees the events that name one of its accounts, a trade as its own ``Fill``
  (an anonymous market: the counterparty is never named);
- an agreement transfer's events name both parties (proposer and counterparty, or buyer and seller):
  each party's member sees them unchanged, once even when it holds both accounts, and the executed
  transfer is no ``Fill``: the parties of a bilateral trade know each other. Nobody else does;
- a bid's events and a one-way application go to the bidder's member (never another's); an auction's
  notices and state changes to the auctioneer's member (gateway/auction_reports.py);
- the regulator role also sees large-holder reports, the conservation check, every transfer event and
  every auction event;
- the surveillance role sees every event unchanged: it is the drop copy.
"""

from __future__ import annotations

import gc
from collections.abc import Container, Iterable, Sequence
from typing import Any, cast

import msgspec

from engine.messages import (
    AccountsMerged,
    AccountSplit,
    AmendOrder,
    AnyEvent,
    CancelOrder,
    ConservationChecked,
    Event,
    LargeHolderReported,
    MemberSettlement,
    NewOrder,
    OrderAccepted,
    Side,
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
from gateway.access import MemberAccess
from gateway.auction_reports import AUCTION_EVENTS, Auctioneers
from gateway.protocol import DropCopy, ExecutionReport, Fill, ReportEvent

_REGULATOR_EVENTS = (LargeHolderReported, ConservationChecked)
# Agreement transfers: both parties, the regulator and surveillance see each event (PROTOCOL.md §4.7).
_TRANSFER_EVENTS = (
    TransferProposed,
    TransferAccepted,
    TransferRejected,
    TransferCancelled,
    TransferExpired,
    TransferExecuted,
)
# Every regulator sees them. Sets of exact types: each trade passes these tests on its way, and a
# membership test costs a fraction of an ``isinstance`` over a tuple of seventeen classes.
_SUPERVISED: frozenset[type] = frozenset({*_TRANSFER_EVENTS, *AUCTION_EVENTS})
_AUCTION_TYPES: frozenset[type] = frozenset(AUCTION_EVENTS)
# Trades (a Fill per side) and events that may name several members; every other event names at most
# one account.
_SPECIAL: frozenset[type] = frozenset(
    {TradeExecuted, AccountsMerged, AccountSplit, MemberSettlement, *_REGULATOR_EVENTS, *_SUPERVISED}
)
# Commands that never start or end a trading day: their events need no look for a day change.
_ORDER_COMMANDS: frozenset[type] = frozenset({NewOrder, CancelOrder, AmendOrder})


class Stream:
    """One member's numbered reports; ``first`` is the number of ``kept[0]``."""

    __slots__ = ("first", "kept", "last")

    def __init__(self) -> None:
        self.first = 1
        self.last = 0
        self.kept: list[tuple[int, Event]] = []  # (request_id, event): engine events and Fills

    def add(self, request_id: int, event: Event) -> int:
        self.kept.append((request_id, event))
        self.last += 1
        return self.last

    def report(self, seq: int, resent: bool = False) -> ExecutionReport:
        request_id, event = self.kept[seq - self.first]
        return ExecutionReport(seq=seq, request_id=request_id, event=cast(ReportEvent, event), resent=resent)


class Placed(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """Where a new order's original result is: for an idempotent answer to a resent order."""

    member: str
    first_report: int
    report_count: int
    journal_seq: int


# A ``Placed`` as a tuple: member, first report, report count, journal seq (the same encoding).
PlacedRecord = tuple[str, int, int, int]


class StreamState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    member: str
    first: int
    kept: list[tuple[int, ReportEvent]]


class ReportsState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """Saved beside each snapshot (same seq) so a restart resumes the numbering without a full replay."""

    journal_seq: int
    drop_seq: int
    streams: list[StreamState]
    placed: list[tuple[str, str, PlacedRecord]]  # account, client order id, where its result is
    day_starts: list[tuple[str, int]]  # member, first report number of the current trading day
    auctioneers: list[tuple[int, str]] = []  # auction id, auctioneer account: the live auctions


_state_encoder = msgspec.msgpack.Encoder()
_state_decoder = msgspec.msgpack.Decoder(ReportsState)


class Routed(msgspec.Struct, frozen=True, kw_only=True):
    """The reports one command produced, by member, and the sender's range (for its ``Ack``)."""

    reports: list[tuple[str, ExecutionReport]]
    first_report: int
    report_count: int
    drop_copy: list[DropCopy]


# Member, report number, request id, what the member sees (an engine event or a Fill: a ReportEvent).
Delivery = tuple[str, int, int, Any]
# Per request: its first drop copy seq, its commands' journal seqs, origin, request id, its commands' events.
DropCopies = tuple[int, Sequence[int], str, int, Sequence[Sequence[Event]]]


class ReportBook:
    def __init__(self, access: Sequence[MemberAccess]) -> None:
        self.access: dict[str, MemberAccess] = {a.member: a for a in access}
        self.owner: dict[str, str] = {account: a.member for a in access for account in a.accounts}
        self.streams: dict[str, Stream] = {a.member: Stream() for a in access}
        self.regulators = [a.member for a in access if a.role == "regulator"]
        self.surveillance = [a.member for a in access if a.role == "surveillance"]
        self._surveillance = [(m, self.streams[m]) for m in self.surveillance]
        self._surveilled = frozenset(self.surveillance)
        # Senders that see what their commands caused, besides surveillance (which sees everything anyway).
        self._routable = frozenset(m for m in self.streams if m and m not in self._surveilled)
        # (account, client order id) -> where its result is, as a ``Placed`` record (a tuple: cheaper per order).
        self.placed: dict[tuple[str, str], PlacedRecord] = {}
        # Reports are kept from the start of the previous trading day: enough for a member to catch up
        # after a night's disconnection, bounded for a node that runs for years.
        self.day_starts: dict[str, int] = {m: 1 for m in self.streams}
        self.journal_seq = 0
        self.drop_seq = 0  # every event ever produced: the drop copy's numbering
        self.auctioneers = Auctioneers()  # who auctions what: the later notices do not name it

    # ------------------------------------------------------------------ routing
    def route(self, origin: str, request_id: int, command: object, events: Sequence[Event], journal_seq: int) -> Routed:
        """Number the reports of one applied command; the sender's come first in its stream."""
        deliveries: list[Delivery] = []
        drops: list[DropCopies] = []
        first, count = self.number(origin, request_id, [command], [events], [journal_seq], deliveries, None, drops)
        per_member: dict[str, list[ExecutionReport]] = {}
        for member, seq, rid, view in deliveries:
            report = ExecutionReport(seq=seq, request_id=rid, event=view)
            per_member.setdefault(member, []).append(report)
        out = [(member, report) for member, reports in per_member.items() for report in reports]
        return Routed(reports=out, first_report=first, report_count=count, drop_copy=drop_copies(drops))

    def number(
        self,
        origin: str,
        request_id: int,
        commands: Sequence[object],
        outcomes: Sequence[Sequence[Event]],
        journal_seqs: Sequence[int],
        deliveries: list[Delivery] | None = None,
        listening: Container[str] | None = None,
        drops: list[DropCopies] | None = None,
    ) -> tuple[int, int]:
        """Number the reports of one request's applied commands in every stream; the sender's (first, count).

        Each report is appended to ``deliveries`` as (member, number, request id, view) when the
        member is in ``listening`` (None: every member), in event order: per member, that is
        number order. Each command with events adds its drop copies to ``drops``.
        """
        if journal_seqs:
            self.journal_seq = journal_seqs[-1]
        sender = self.streams.get(origin)
        first = sender.last + 1 if sender is not None else 0
        sink: list[Delivery] = [] if deliveries is None else deliveries
        hearing: Container[str] = () if deliveries is None else self.streams if listening is None else listening
        if len(commands) == 1:  # the usual request: one order, cancel or amend
            everything, orders_only = len(outcomes[0]), type(commands[0]) in _ORDER_COMMANDS
        else:
            everything = sum(map(len, outcomes))
            orders_only = all(type(command) in _ORDER_COMMANDS for command in commands)
        if orders_only:
            # Orders, cancels and amends never change the trading day: the whole request at once.
            if everything:
                if drops is not None:
                    drops.append((self.drop_seq + 1, journal_seqs, origin, request_id, outcomes))
                self.drop_seq += everything
                self._watch(origin, request_id, outcomes, sink, hearing)
            for command, events, journal_seq in zip(commands, outcomes, journal_seqs, strict=True):
                self._route(origin, request_id, command, events, journal_seq, sink, hearing)
        else:
            for command, events, journal_seq in zip(commands, outcomes, journal_seqs, strict=True):
                self._number_one(origin, request_id, command, events, journal_seq, sink, hearing, drops)
        count = sender.last - first + 1 if sender is not None else 0
        return first, count

    def _watch(
        self,
        origin: str,
        request_id: int,
        outcomes: Sequence[Sequence[Event]],
        sink: list[Delivery],
        hearing: Container[str],
    ) -> None:
        """Surveillance sees every event unchanged, in order: its streams take a request's at once."""
        for member, stream in self._surveillance:
            rid = request_id if member == origin else 0
            base = stream.last
            stream.kept += [(rid, event) for events in outcomes for event in events]
            stream.last = stream.first + len(stream.kept) - 1
            if member in hearing:
                for seq, (_, event) in enumerate(stream.kept[base - stream.first + 1 :], base + 1):
                    sink.append((member, seq, rid, event))

    def _route(
        self,
        origin: str,
        request_id: int,
        command: object,
        events: Sequence[Event],
        journal_seq: int,
        sink: list[Delivery],
        hearing: Container[str],
    ) -> None:
        """Every view of one command's events but surveillance's, in each member's stream."""
        streams, owner, surveilled = self.streams, self.owner, self._surveilled
        sender = streams.get(origin)
        command_first = sender.last + 1 if sender is not None else 0
        to_origin = origin in self._routable
        accepted = False
        for event in events:
            kind = type(event)
            if kind not in _SPECIAL:
                # Most events name one account: its owner, then the sender.
                accepted = accepted or kind is OrderAccepted
                account = getattr(event, "account", "")
                holder = owner.get(account) if account else None
                if holder is not None and holder not in surveilled:
                    stream = streams[holder]
                    rid = request_id if holder == origin else 0
                    stream.kept.append((rid, event))
                    stream.last += 1
                    if holder in hearing:
                        sink.append((holder, stream.last, rid, event))
                if to_origin and origin != holder:
                    stream = streams[origin]
                    stream.kept.append((request_id, event))
                    stream.last += 1
                    if origin in hearing:
                        sink.append((origin, stream.last, request_id, event))
                continue
            if isinstance(event, TradeExecuted):
                views = self._trade_views(origin, event)
            else:
                views = [(member, event) for member in self._members_named(origin, event)]
            for member, view in views:
                stream = streams[member]
                rid = request_id if member == origin else 0
                stream.kept.append((rid, view))
                stream.last += 1
                if member in hearing:
                    sink.append((member, stream.last, rid, view))
        # Only an accepted order uses up its client order id, as in the engine: a rejected one may be sent again.
        if accepted and type(command) is NewOrder and sender is not None:
            # The first order with the id keeps it (one look-up in a dict of every order of the day).
            placed = (origin, command_first, sender.last - command_first + 1, journal_seq)
            self.placed.setdefault((command.account, command.client_order_id), placed)

    def _trade_views(self, origin: str, trade: TradeExecuted) -> list[tuple[str, Event]]:
        """Each side's owner its own Fill (the market is anonymous); the regulator that caused it, the trade."""
        views: list[tuple[str, Event]] = []
        buyer, seller = self.owner.get(trade.buy_account), self.owner.get(trade.sell_account)
        if buyer is not None and buyer not in self._surveilled:
            views.append((buyer, _fill(trade, Side.BUY)))
        if seller is not None and seller not in self._surveilled:
            views.append((seller, _fill(trade, Side.SELL)))
        if origin in self.regulators and origin not in self._surveilled and origin != buyer and origin != seller:
            views.append((origin, trade))
        return views

    def _number_one(
        self,
        origin: str,
        request_id: int,
        command: object,
        events: Sequence[Event],
        journal_seq: int,
        sink: list[Delivery],
        hearing: Container[str],
        drops: list[DropCopies] | None,
    ) -> None:
        """One command of a request that may change the trading day (``number``'s general case)."""
        if not events:
            return
        if drops is not None:
            drops.append((self.drop_seq + 1, [journal_seq], origin, request_id, [events]))
        self.drop_seq += len(events)
        starts = None
        if any(type(e) is TradingDayStarted for e in events):
            # Where each stream stands before this command: the new day's reports start there.
            starts = {m: st.last + 1 for m, st in self.streams.items()}
        self._watch(origin, request_id, [events], sink, hearing)
        self._route(origin, request_id, command, events, journal_seq, sink, hearing)
        for event in events:
            if type(event) is TradingDayEnded:
                self.placed.clear()  # client order ids are unique per trading day, as in the engine
            elif type(event) is TradingDayStarted and starts is not None:
                self._trim_to_previous_day(starts)

    def _members_named(self, origin: str, event: Event) -> list[str]:
        """Who sees an event that may name several members (surveillance aside), in order."""
        seen: set[str] = set(self.surveillance)
        accounts = _accounts(event)
        if type(event) in _AUCTION_TYPES:
            accounts.append(self.auctioneers.of(event))  # "" for a bid: its bidder's member alone
        targets = [self.owner[a] for a in accounts if a in self.owner]
        if isinstance(event, MemberSettlement):
            targets.append(event.member)
        if isinstance(event, _REGULATOR_EVENTS):
            # The regulator's alone, whoever's command caused them: a conservation check after a
            # member's command failed (INTERNAL_ERROR) holds market-wide totals.
            targets.extend(self.regulators)
        else:
            if type(event) in _SUPERVISED:
                targets.extend(self.regulators)  # the supervisor sees every proposal, auction and bid
            if origin:
                targets.append(origin)
        members: list[str] = []
        for member in targets:
            if member not in seen and member in self.streams:
                seen.add(member)
                members.append(member)
        return members

    def _trim_to_previous_day(self, starts: dict[str, int]) -> None:
        """Drop what came before the previous day's start; the new day starts at ``starts``."""
        for member, stream in self.streams.items():
            keep_from = self.day_starts.get(member, 1)
            drop = keep_from - stream.first
            if drop > 0:
                del stream.kept[:drop]
                stream.first = keep_from
            self.day_starts[member] = starts[member]

    # ------------------------------------------------------------------ reading
    def last(self, member: str) -> int:
        return self.streams[member].last

    def kept_days(self, member: str) -> tuple[int, int]:
        """The number of the member's oldest kept report (the previous trading day's first), and of
        its first report of the current trading day: the reports before it are the previous day's."""
        return self.streams[member].first, self.day_starts.get(member, 1)

    def resend_span(self, member: str, from_seq: int, to_seq: int = 0) -> tuple[int, int] | int:
        """The numbers a resend of ``from_seq`` .. ``to_seq`` (0: the last) covers, as (first, last),
        empty when ``last < first``; or, when ``from_seq`` is older than the oldest kept, that number."""
        stream = self.streams[member]
        if from_seq < stream.first:
            return stream.first
        return max(from_seq, 1), stream.last if to_seq <= 0 else min(to_seq, stream.last)

    def resend(self, member: str, from_seq: int, to_seq: int = 0) -> list[ExecutionReport] | int:
        """The reports ``from_seq`` .. ``to_seq`` (0: the last), or the first number still kept."""
        stream = self.streams[member]
        end = stream.last if to_seq <= 0 else min(to_seq, stream.last)
        if from_seq < stream.first:
            return stream.first
        return [stream.report(seq, resent=True) for seq in range(max(from_seq, 1), end + 1)]

    def placed_order(self, account: str, client_order_id: str) -> Placed | None:
        found = self.placed.get((account, client_order_id))
        if found is None:
            return None
        member, first_report, report_count, journal_seq = found
        return Placed(member=member, first_report=first_report, report_count=report_count, journal_seq=journal_seq)

    # ------------------------------------------------------------------ persistence
    def state(self) -> ReportsState:
        return ReportsState(
            journal_seq=self.journal_seq,
            drop_seq=self.drop_seq,
            streams=[
                StreamState(member=m, first=s.first, kept=cast(list[tuple[int, ReportEvent]], s.kept))
                for m, s in sorted(self.streams.items())
            ],
            # In the order orders were placed: the same on a replay, and kept by ``restore``.
            placed=[(a, c, p) for (a, c), p in self.placed.items()],
            day_starts=sorted(self.day_starts.items()),
            auctioneers=sorted(self.auctioneers.by_auction.items()),
        )

    def encode(self) -> bytes:
        return _state_encoder.encode(self.state())

    def restore(self, blob: bytes) -> None:
        # Millions of reports decoded at once hold no cycles: the cyclic collector would only scan them
        # again and again as they are made (several times the time of the decoding itself).
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._restore(_state_decoder.decode(blob))
        finally:
            if collecting:
                gc.enable()

    def _restore(self, state: ReportsState) -> None:
        self.journal_seq = state.journal_seq
        self.drop_seq = state.drop_seq
        for saved in state.streams:
            stream = self.streams.get(saved.member)
            if stream is None:
                continue  # a member removed from the config since
            stream.first, stream.kept = saved.first, cast(list[tuple[int, Event]], saved.kept)
            stream.last = saved.first + len(saved.kept) - 1
        self.placed = {(a, c): p for a, c, p in state.placed}
        self.day_starts.update(dict(state.day_starts))
        self.auctioneers.by_auction = dict(state.auctioneers)


def drop_copies(pending: Iterable[DropCopies]) -> list[DropCopy]:
    """The drop copy messages of requests numbered by ``ReportBook.number``: one per event."""
    copies: list[DropCopy] = []
    for seq, journal_seqs, origin, request_id, outcomes in pending:
        for journal_seq, events in zip(journal_seqs, outcomes, strict=True):
            for event in events:
                copy = DropCopy(
                    seq=seq, journal_seq=journal_seq, origin=origin, request_id=request_id, event=cast(AnyEvent, event)
                )
                copies.append(copy)
                seq += 1
    return copies


def _fill(trade: TradeExecuted, side: Side) -> Fill:
    buy = side is Side.BUY
    return Fill(
        ts_event=trade.ts_event,
        trade_id=trade.trade_id,
        order_id=trade.buy_order_id if buy else trade.sell_order_id,
        account=trade.buy_account if buy else trade.sell_account,
        instrument=trade.instrument,
        side=side,
        price=trade.price,
        quantity=trade.quantity,
        fee=trade.buy_fee if buy else trade.sell_fee,
        leaves=trade.buy_leaves if buy else trade.sell_leaves,
        aggressor=trade.aggressor is side,
        released_cash=trade.buy_released_cash if buy else 0,
    )


def _accounts(event: Event) -> list[str]:
    """The accounts an event names (a merger's successor, a split's parts and a transfer's other party included)."""
    accounts: list[str] = []
    account = getattr(event, "account", "")
    if account:
        accounts.append(account)
    if isinstance(event, AccountsMerged):
        accounts.append(event.successor)
    elif isinstance(event, AccountSplit):
        accounts.extend(part.account for part in event.parts)
    elif isinstance(event, TransferProposed | TransferCancelled | TransferExpired):
        accounts.append(event.counterparty)
    elif isinstance(event, TransferAccepted | TransferRejected):
        accounts.append(event.proposer)
    elif isinstance(event, TransferExecuted):
        accounts += [event.buy_account, event.sell_account]
    return accounts
