"""A socket-free harness for the order gateway: a ``Gateway`` over a real ``Exchange``, clients that
send encoded frames from routing ids, and a fake node step that sequences the gateway's work the
way ``carbonx.node.Node._sequence`` does (journal seq counter, apply, then ``Gateway.applied``).

Used by tests/test_gateway_session.py and tests/test_gateway_reports.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import cast

import msgspec

from engine.config import ExchangeConfig
from engine.exchange import Exchange
from engine.messages import (
    AllocateAllowances,
    Command,
    DepositCash,
    EndOfDay,
    Event,
    NewOrder,
    OrderType,
    Session,
    SetSession,
    Side,
    StartOfDay,
)
from gateway.access import GatewayOptions, MemberAccess
from gateway.protocol import (
    BatchRejection,
    ExecutionReport,
    Logon,
    Rehearsal,
    ReportEvent,
    ServerMessage,
    Submit,
    encoder,
    server_decoder,
)
from gateway.reports import ReportBook
from gateway.session import Gateway
from gateway.submission import Submission
from tests.conftest import CASH, DAY1, HOLDING, TRADERS, market_config

NS = 1_000_000_000  # one second in ns
MS = 1_000_000  # one millisecond in ns
T0 = 1_000 * NS  # the monotonic time the harness starts at
DAY3 = 20261125  # the Wednesday after conftest's DAY1 and DAY2

# routing ids: one connection each
R1, R1B, R2, RR, RS = b"r-m1", b"r-m1-second", b"r-m2", b"r-regu", b"r-exch"


def member_access(**m1: object) -> list[MemberAccess]:
    """The test market's members as the gateway sees them; ``m1`` overrides M1's options."""
    return [
        MemberAccess(member="EXCH", role="surveillance", public_key="", accounts=["EXCHANGE-FEES"]),
        MemberAccess(member="REGU", role="regulator", public_key="", accounts=["RESERVE"]),
        MemberAccess(member="M1", role="member", public_key="", accounts=["A1"], **m1),  # type: ignore[arg-type]
        MemberAccess(member="M2", role="member", public_key="", accounts=["A2", "A3", "A4", "STAFF"]),
    ]


class Applied(msgspec.Struct, frozen=True, kw_only=True):
    """One command as the journal would hold it, with its events: the input of a report replay."""

    origin: str
    request_id: int
    command: Command
    events: list[Event]
    seq: int


class Harness:
    """A gateway with its exchange and report book, driven by hand: no sockets, no clock."""

    def __init__(
        self,
        config: ExchangeConfig | None = None,
        access: Sequence[MemberAccess] | None = None,
        options: GatewayOptions | None = None,
        now: int = T0,
    ) -> None:
        self.access = list(access if access is not None else member_access())
        self.exchange = Exchange(config or market_config())
        self.reports = ReportBook(self.access)
        self.gateway = Gateway(self.exchange, self.access, options or GatewayOptions(), self.reports, now)
        self.now = now
        self.seq = 0  # the journal's last seq
        self.ts = 0  # exchange time: one ns per sequenced command
        self.applied: list[Applied] = []  # every sequenced command, for replays
        self._request_ids = itertools.count(1)

    # ------------------------------------------------------------------ the market, behind the gateway
    def direct(self, *commands: Command) -> list[Event]:
        """Apply commands to the exchange without the gateway (setup: no reports, no journal)."""
        events: list[Event] = []
        for command in commands:
            self.ts += 1
            events += self.exchange.apply(command, self.ts)
        return events

    def open_market(self) -> None:
        """DAY1 open in the morning session, every trader funded (applied directly: no reports)."""
        self.direct(StartOfDay(trading_day=DAY1))
        for account in TRADERS:
            self.direct(DepositCash(account=account, amount=CASH))
            for instrument in ("SHEA2025", "CCER"):
                self.direct(AllocateAllowances(account=account, instrument=instrument, quantity=HOLDING))
        self.direct(SetSession(session=Session.MORNING))

    def system(self, *commands: Command) -> list[Submission]:
        """The node's own commands (scheduler): sequenced through the gateway with an empty origin."""
        self.gateway.work.append(Submission(routing_id=b"", member="", request_id=0, commands=list(commands)))
        return self.step()

    def next_day(self, day: int, to: int) -> None:
        """Close trading day ``day`` (its sessions, then EndOfDay) and open ``to`` in the morning."""
        order = [Session.MORNING, Session.LUNCH_BREAK, Session.AFTERNOON, Session.CLOSED]
        current = self.exchange.market.session
        rest = order[order.index(current) + 1 :] if current is not Session.CLOSED else []
        self.system(*(SetSession(session=s) for s in rest))
        self.system(EndOfDay(trading_day=day))
        self.system(StartOfDay(trading_day=to), SetSession(session=Session.MORNING))

    # ------------------------------------------------------------------ clients
    def request_id(self) -> int:
        return next(self._request_ids)

    def frame(self, routing_id: bytes, member: str, frame: bytes, now: int | None = None) -> None:
        self.raw(routing_id, member, [frame], now)

    def raw(self, routing_id: bytes, member: str, parts: Sequence[bytes], now: int | None = None) -> None:
        self.gateway.receive(routing_id, parts, member, self.now if now is None else now)

    def send(self, routing_id: bytes, member: str, message: msgspec.Struct, now: int | None = None) -> None:
        self.frame(routing_id, member, encoder.encode(message), now)

    def logon(self, routing_id: bytes, member: str, **fields: object) -> list[ServerMessage]:
        """Log on and return what the gateway answered (the outbox is drained)."""
        fields.setdefault("request_id", 0)
        self.send(routing_id, member, Logon(member=member, **fields))  # type: ignore[arg-type]
        return self.take(routing_id)

    def submit(
        self, routing_id: bytes, member: str, command: Command, request_id: int | None = None, now: int | None = None
    ) -> int:
        rid = self.request_id() if request_id is None else request_id
        self.send(routing_id, member, Submit(request_id=rid, command=command), now)  # type: ignore[arg-type]
        return rid

    # ------------------------------------------------------------------ the node
    def step(self) -> list[Submission]:
        """Sequence the gateway's work as the node does: plain submissions together, atomic alone."""
        work = self.gateway.take_work()
        batch: list[Submission] = []
        for submission in work:
            if submission.atomic:
                self._apply(batch)
                batch = []
                self._apply_atomic(submission)
            else:
                batch.append(submission)
        self._apply(batch)
        return work

    def _apply(self, batch: Sequence[Submission]) -> None:
        outcomes: list[tuple[Submission, list[list[Event]], list[int]]] = []
        for submission in batch:
            events, seqs = [], []
            for command in submission.commands:
                self.seq += 1
                self.ts += 1
                produced = self.exchange.apply(command, self.ts)
                self.applied.append(
                    Applied(
                        origin=submission.member,
                        request_id=submission.request_id,
                        command=command,
                        events=produced,
                        seq=self.seq,
                    )
                )
                events.append(produced)
                seqs.append(self.seq)
            outcomes.append((submission, events, seqs))
        # The node journals and applies the whole batch before it routes any of it.
        for submission, events, seqs in outcomes:
            self.gateway.applied(submission, events, seqs)

    def _apply_atomic(self, submission: Submission) -> None:
        rehearsal = self.exchange.rehearse(submission.commands, self.ts + 1)
        if not rehearsal.accepted or submission.dry_run:
            rejections = [BatchRejection(index=r.index, code=r.code, text=r.text) for r in rehearsal.rejections]
            events = rehearsal.events
            answer = Rehearsal(request_id=submission.request_id, events=events, rejections=rejections)  # type: ignore[arg-type]
            self.gateway.rehearsed(submission, answer)
            return
        self._apply([submission])

    # ------------------------------------------------------------------ what came out
    def take_all(self) -> list[tuple[bytes, ServerMessage]]:
        return [(rid, server_decoder.decode(frame)) for rid, frame in self.gateway.take_outbox()]

    def take(self, routing_id: bytes) -> list[ServerMessage]:
        """Drain the outbox; return what went to ``routing_id`` (the rest is dropped)."""
        return [message for rid, message in self.take_all() if rid == routing_id]

    def take_by_connection(self) -> dict[bytes, list[ServerMessage]]:
        out: dict[bytes, list[ServerMessage]] = {}
        for rid, message in self.take_all():
            out.setdefault(rid, []).append(message)
        return out


def order(
    account: str,
    side: Side,
    quantity: int,
    price: int,
    client_order_id: str,
    instrument: str = "SHEA2025",
    order_type: OrderType = OrderType.LIMIT,
) -> NewOrder:
    return NewOrder(
        account=account,
        instrument=instrument,
        client_order_id=client_order_id,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
    )


def report(seq: int, request_id: int, event: Event, resent: bool = False) -> ExecutionReport:
    """An execution report as the gateway sends it (``event``: an engine event or a ``Fill``)."""
    return ExecutionReport(seq=seq, request_id=request_id, event=cast(ReportEvent, event), resent=resent)


def trading_harness(**kwargs: object) -> Harness:
    """A harness with the market open and funded, M1, M2, the regulator and surveillance logged on."""
    harness = Harness(**kwargs)  # type: ignore[arg-type]
    harness.open_market()
    for routing_id, member in ((R1, "M1"), (R2, "M2"), (RR, "REGU"), (RS, "EXCH")):
        harness.logon(routing_id, member)
    return harness
