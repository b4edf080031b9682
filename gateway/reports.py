"""Execution reports: which member sees which event, numbered per member, kept for resend.

The reports are a projection of the journal: each record names the member that sent it and its
request id (``JournalRecord.origin``), and routing depends only on that, the command and its events.
So a replay of the journal numbers every report exactly as the live node did, and a member that
reconnects after a restart can ask for its reports from any number still kept.

Who sees what:
- the sender of a command sees every event it caused (a member its own fills as ``Fill``);
- every other member sees the events that name one of its accounts, a trade as its own ``Fill``
  (an anonymous market: the counterparty is never named);
- the regulator role also sees large-holder reports and the conservation check;
- the surveillance role sees every event unchanged: it is the drop copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

import msgspec

from engine.messages import (
    AccountsMerged,
    AccountSplit,
    AnyEvent,
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
)
from gateway.access import MemberAccess
from gateway.protocol import DropCopy, ExecutionReport, Fill, ReportEvent

_REGULATOR_EVENTS = (LargeHolderReported, ConservationChecked)


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


class StreamState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    member: str
    first: int
    kept: list[tuple[int, ReportEvent]]


class ReportsState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """Saved beside each snapshot (same seq) so a restart resumes the numbering without a full replay."""

    journal_seq: int
    drop_seq: int
    streams: list[StreamState]
    placed: list[tuple[str, str, Placed]]  # account, client order id, where its result is
    day_starts: list[tuple[str, int]]  # member, first report number of the current trading day


_state_encoder = msgspec.msgpack.Encoder()
_state_decoder = msgspec.msgpack.Decoder(ReportsState)


class Routed(msgspec.Struct, frozen=True, kw_only=True):
    """The reports one command produced, by member, and the sender's range (for its ``Ack``)."""

    reports: list[tuple[str, ExecutionReport]]
    first_report: int
    report_count: int
    drop_copy: list[DropCopy]


class ReportBook:
    def __init__(self, access: Sequence[MemberAccess]) -> None:
        self.access: dict[str, MemberAccess] = {a.member: a for a in access}
        self.owner: dict[str, str] = {account: a.member for a in access for account in a.accounts}
        self.streams: dict[str, Stream] = {a.member: Stream() for a in access}
        self.regulators = [a.member for a in access if a.role == "regulator"]
        self.surveillance = [a.member for a in access if a.role == "surveillance"]
        self.placed: dict[tuple[str, str], Placed] = {}
        # Reports are kept from the start of the previous trading day: enough for a member to catch up
        # after a night's disconnection, bounded for a node that runs for years.
        self.day_starts: dict[str, int] = {m: 1 for m in self.streams}
        self.journal_seq = 0
        self.drop_seq = 0  # every event ever produced: the drop copy's numbering

    # ------------------------------------------------------------------ routing
    def route(self, origin: str, request_id: int, command: object, events: Sequence[Event], journal_seq: int) -> Routed:
        """Number the reports of one applied command; the sender's come first in its stream."""
        self.journal_seq = journal_seq
        out: list[tuple[str, ExecutionReport]] = []
        sender = self.streams.get(origin)
        first = sender.last + 1 if sender is not None else 0
        # Where each stream stands before this command: a new day's reports start here.
        starts = {m: st.last + 1 for m, st in self.streams.items()} if _starts_day(events) else None
        per_member: dict[str, list[Event]] = {}
        drop_copy: list[DropCopy] = []
        for event in events:
            self.drop_seq += 1
            drop_copy.append(
                DropCopy(
                    seq=self.drop_seq,
                    journal_seq=journal_seq,
                    origin=origin,
                    request_id=request_id,
                    event=cast(AnyEvent, event),
                )
            )
            for member, view in self._views(origin, event):
                per_member.setdefault(member, []).append(view)
        for member, views in per_member.items():
            stream = self.streams[member]
            rid = request_id if member == origin else 0
            for view in views:
                seq = stream.add(rid, view)
                out.append((member, ExecutionReport(seq=seq, request_id=rid, event=cast(ReportEvent, view))))
        count = sender.last - first + 1 if sender is not None else 0
        # Only an accepted order uses up its client order id, as in the engine: a rejected one may be sent again.
        if isinstance(command, NewOrder) and sender is not None and any(isinstance(e, OrderAccepted) for e in events):
            key = (command.account, command.client_order_id)
            self.placed.setdefault(
                key, Placed(member=origin, first_report=first, report_count=count, journal_seq=journal_seq)
            )
        for event in events:
            if isinstance(event, TradingDayEnded):
                self.placed.clear()  # client order ids are unique per trading day, as in the engine
            elif isinstance(event, TradingDayStarted) and starts is not None:
                self._trim_to_previous_day(starts)
        return Routed(reports=out, first_report=first, report_count=count, drop_copy=drop_copy)

    def _views(self, origin: str, event: Event) -> Iterable[tuple[str, Event]]:
        """(member, what it sees) for one event; a member appears once per view of it."""
        seen: set[str] = set()
        for member in self.surveillance:
            seen.add(member)
            yield member, event
        if isinstance(event, TradeExecuted):
            for side in (Side.BUY, Side.SELL):
                owner = self.owner.get(event.buy_account if side is Side.BUY else event.sell_account)
                if owner is not None and owner not in self.surveillance:
                    seen.add(owner)
                    yield owner, _fill(event, side)
            if origin in self.regulators and origin not in seen:
                yield origin, event
            return
        targets = [self.owner[a] for a in _accounts(event) if a in self.owner]
        if isinstance(event, MemberSettlement):
            targets.append(event.member)
        if origin:
            targets.append(origin)
        if isinstance(event, _REGULATOR_EVENTS):
            targets.extend(self.regulators)
        for member in targets:
            if member not in seen and member in self.streams:
                seen.add(member)
                yield member, event

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

    def resend(self, member: str, from_seq: int, to_seq: int = 0) -> list[ExecutionReport] | int:
        """The reports ``from_seq`` .. ``to_seq`` (0: the last), or the first number still kept."""
        stream = self.streams[member]
        end = stream.last if to_seq <= 0 else min(to_seq, stream.last)
        if from_seq < stream.first:
            return stream.first
        return [stream.report(seq, resent=True) for seq in range(max(from_seq, 1), end + 1)]

    def placed_order(self, account: str, client_order_id: str) -> Placed | None:
        return self.placed.get((account, client_order_id))

    # ------------------------------------------------------------------ persistence
    def state(self) -> ReportsState:
        return ReportsState(
            journal_seq=self.journal_seq,
            drop_seq=self.drop_seq,
            streams=[
                StreamState(member=m, first=s.first, kept=[(r, cast(ReportEvent, e)) for r, e in s.kept])
                for m, s in sorted(self.streams.items())
            ],
            placed=[(a, c, p) for (a, c), p in sorted(self.placed.items())],
            day_starts=sorted(self.day_starts.items()),
        )

    def encode(self) -> bytes:
        return _state_encoder.encode(self.state())

    def restore(self, blob: bytes) -> None:
        state = _state_decoder.decode(blob)
        self.journal_seq = state.journal_seq
        self.drop_seq = state.drop_seq
        for saved in state.streams:
            stream = self.streams.get(saved.member)
            if stream is None:
                continue  # a member removed from the config since
            stream.first, stream.kept = saved.first, [(r, cast(Event, e)) for r, e in saved.kept]
            stream.last = saved.first + len(saved.kept) - 1
        self.placed = {(a, c): p for a, c, p in state.placed}
        self.day_starts.update(dict(state.day_starts))


def _starts_day(events: Sequence[Event]) -> bool:
    return any(isinstance(e, TradingDayStarted) for e in events)


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
    """The accounts an event names (a merger's successor and a split's parts included)."""
    accounts: list[str] = []
    account = getattr(event, "account", "")
    if account:
        accounts.append(account)
    if isinstance(event, AccountsMerged):
        accounts.append(event.successor)
    elif isinstance(event, AccountSplit):
        accounts.extend(part.account for part in event.parts)
    return accounts
