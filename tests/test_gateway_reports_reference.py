"""Two report books, one judge: ``ReportBook.number`` (the gateway's fast path, a whole request at a
time) against a plain reference router written event by event from the rules in gateway/reports.py's
docstring. Seeded random flows through the gateway (orders that trade, cancels, batches, resent
orders, the regulator's deposits, cancels and mergers, trading-day changes) must give every member the
same reports, numbered alike, the same drop copies and the same record of placed orders.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import pytest

from engine.messages import (
    AccountsMerged,
    AccountSplit,
    CancelAllOrders,
    CancelOrder,
    ConservationChecked,
    DepositCash,
    Event,
    LargeHolderReported,
    MemberSettlement,
    MergeAccounts,
    NewOrder,
    OrderAccepted,
    Side,
    TradeExecuted,
    TradingDayEnded,
    TradingDayStarted,
)
from gateway.access import MemberAccess
from gateway.protocol import Fill, SubmitBatch
from gateway.reports import _fill
from tests.conftest import DAY1, DAY2
from tests.gateway_helpers import R1, R2, RR, Harness, member_access, order, trading_harness

pytestmark = pytest.mark.per_book

DAY3 = 20261125


class ReferenceRouter:
    """The routing rules, one event and one view at a time: who sees what, numbered per member."""

    def __init__(self, access: Sequence[MemberAccess]) -> None:
        self.owner = {account: a.member for a in access for account in a.accounts}
        self.members = [a.member for a in access]
        self.regulators = [a.member for a in access if a.role == "regulator"]
        self.surveillance = [a.member for a in access if a.role == "surveillance"]
        self.kept: dict[str, list[tuple[int, Event]]] = {m: [] for m in self.members}
        self.first: dict[str, int] = dict.fromkeys(self.members, 1)
        self.day_starts: dict[str, int] = dict.fromkeys(self.members, 1)
        self.placed: dict[tuple[str, str], tuple[str, int, int, int]] = {}
        self.drop: list[tuple[int, int, str, int, Event]] = []

    def last(self, member: str) -> int:
        return self.first[member] + len(self.kept[member]) - 1

    def route(self, origin: str, request_id: int, command: object, events: Sequence[Event], journal_seq: int) -> None:
        starts = {m: self.last(m) + 1 for m in self.members}
        first = self.last(origin) + 1 if origin in self.kept else 0
        for event in events:
            self.drop.append((len(self.drop) + 1, journal_seq, origin, request_id, event))
            for member, view in self.views(origin, event):
                self.kept[member].append((request_id if member == origin else 0, view))
        accepted = any(isinstance(e, OrderAccepted) for e in events)
        if isinstance(command, NewOrder) and origin in self.kept and accepted:
            key = (command.account, command.client_order_id)
            self.placed.setdefault(key, (origin, first, self.last(origin) - first + 1, journal_seq))
        for event in events:
            if isinstance(event, TradingDayEnded):
                self.placed.clear()
            elif isinstance(event, TradingDayStarted):
                for member in self.members:
                    drop = self.day_starts[member] - self.first[member]
                    if drop > 0:
                        del self.kept[member][:drop]
                        self.first[member] = self.day_starts[member]
                    self.day_starts[member] = starts[member]

    def views(self, origin: str, event: Event) -> Iterator[tuple[str, Event]]:
        seen = set(self.surveillance)
        for member in self.surveillance:
            yield member, event
        if isinstance(event, TradeExecuted):
            for side, account in ((Side.BUY, event.buy_account), (Side.SELL, event.sell_account)):
                owner = self.owner.get(account)
                if owner is not None and owner not in self.surveillance:
                    seen.add(owner)
                    yield owner, _fill(event, side)
            if origin in self.regulators and origin not in seen:
                yield origin, event
            return
        accounts = [getattr(event, "account", "")]
        if isinstance(event, AccountsMerged):
            accounts.append(event.successor)
        elif isinstance(event, AccountSplit):
            accounts += [part.account for part in event.parts]
        targets = [self.owner[a] for a in accounts if a in self.owner]
        if isinstance(event, MemberSettlement):
            targets.append(event.member)
        if origin:
            targets.append(origin)
        if isinstance(event, LargeHolderReported | ConservationChecked):
            targets += self.regulators
        for member in targets:
            if member not in seen and member in self.kept:
                seen.add(member)
                yield member, event


def _random_flow(h: Harness, rng: random.Random, steps: int) -> None:
    """Orders on both sides (some trade), cancels, batches, resent ids, regulator work, day changes."""
    traders = [(R1, "M1", "A1"), (R2, "M2", "A2"), (R2, "M2", "A3")]
    day, sent = DAY1, 0
    for step in range(steps):
        for _ in range(rng.randint(1, 6)):  # one turn of the node: several requests
            routing_id, member, account = rng.choice(traders)
            roll = rng.random()
            side = Side.BUY if account != "A2" else Side.SELL
            if roll < 0.55:
                sent += 1
                cid = f"c{rng.randint(0, sent)}"  # sometimes an id already used: a resent order
                h.submit(routing_id, member, order(account, side, rng.randint(1, 5) * 10, rng.randint(7980, 8020), cid))
            elif roll < 0.7:
                batch = [order(account, side, 10, rng.randint(7970, 8030), f"b{step}-{k}") for k in range(3)]
                h.send(routing_id, member, SubmitBatch(request_id=h.request_id(), commands=batch))  # type: ignore[arg-type]
            elif roll < 0.8:
                h.submit(routing_id, member, CancelOrder(account=account, order_id=rng.randint(1, 40)))
            elif roll < 0.85:
                h.submit(routing_id, member, CancelAllOrders(account=account))
            elif roll < 0.95:
                h.submit(RR, "REGU", DepositCash(account=rng.choice(["A1", "A2", "A4"]), amount=rng.randint(1, 99)))
            else:
                h.submit(RR, "REGU", CancelOrder(account=account, order_id=rng.randint(1, 40)))
        h.step()
        h.take_all()
        if step in (steps // 3, 2 * steps // 3):
            following = DAY2 if day == DAY1 else DAY3
            h.next_day(day, following)
            day = following
    h.submit(RR, "REGU", MergeAccounts(account="A4", successor="A3"))
    h.step()


@pytest.mark.parametrize("seed", range(6))
def test_the_gateway_numbers_every_report_as_the_reference_router(seed: int) -> None:
    h = trading_harness(access=member_access(cancel_on_disconnect=True))
    _random_flow(h, random.Random(seed), 60)
    h.gateway.tick(h.now + 100 * 10**9)  # every session lost: cancel-on-disconnect from the node
    h.step()

    reference = ReferenceRouter(h.access)
    for a in h.applied:
        reference.route(a.origin, a.request_id, a.command, a.events, a.seq)

    for member, stream in h.reports.streams.items():
        assert (stream.first, stream.last) == (reference.first[member], reference.last(member)), member
        assert stream.kept == reference.kept[member], member
    assert any(isinstance(e, Fill) for _, e in h.reports.streams["M1"].kept)
    assert h.reports.placed == reference.placed
    assert h.reports.drop_seq == len(reference.drop)
    copies = h.gateway.take_drop_copies()
    assert [(c.seq, c.journal_seq, c.origin, c.request_id, c.event) for c in copies] == reference.drop
