"""The order gateway's logic: sessions, authorisation, throttles, idempotency — no sockets, no clock.

The node owns the ZeroMQ sockets and the time. It hands every received frame to ``Gateway.receive``
with the member the ZAP handler authenticated (the CURVE key's owner) and the time; the gateway
answers what it can at once (logon, refusals, queries, resends) into ``outbox`` and queues what
must be sequenced as ``Submission``s. The node journals and applies those, then hands the events
back to ``Gateway.applied``, which numbers the execution reports and acknowledges the request.
Nothing a client sends can raise out of here: every problem becomes a ``Refused`` frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
import structlog

from engine.exchange import Exchange
from engine.messages import AnyCommand, CancelAllOrders, Command, Event, NewOrder, Reject, reject_text
from gateway.access import GatewayOptions, MemberAccess
from gateway.authorise import authorise, may_see
from gateway.protocol import (
    PROTOCOL_VERSION,
    AccountBalance,
    AccountList,
    Ack,
    ClientMessage,
    DropCopy,
    ExecutionReport,
    Heartbeat,
    HoldingBalance,
    ListOrders,
    LoggedOut,
    Logon,
    LogonAccepted,
    Logout,
    OpenOrder,
    OrderList,
    QueryAccounts,
    Refused,
    Rehearsal,
    ResendRequest,
    Submit,
    SubmitBatch,
    client_decoder,
    encoder,
)
from gateway.reports import Placed, ReportBook

_log = structlog.get_logger("carbonx.gateway")
_NS_PER_MS = 1_000_000
_NS_PER_S = 1_000_000_000


@dataclass
class Session:
    routing_id: bytes
    access: MemberAccess
    heartbeat_ns: int
    last_received: int
    last_sent: int


@dataclass
class Submission:
    """Commands to sequence for one request (or for the node itself when ``routing_id`` is empty)."""

    routing_id: bytes
    member: str
    request_id: int
    commands: list[Command]
    atomic: bool = False
    dry_run: bool = False
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # resent orders: answered, not sequenced
    batch: bool = False  # a SubmitBatch: exactly one Ack, even when some of its orders were duplicates


class TokenBucket:
    """Per-member throttle in integer nano-tokens: ``rate`` per second, at most ``burst`` saved up."""

    __slots__ = ("burst", "credit", "rate", "updated")

    def __init__(self, rate: int, burst: int, now: int) -> None:
        self.rate, self.burst = rate, burst
        self.credit = burst * _NS_PER_S
        self.updated = now

    def take(self, tokens: int, now: int) -> bool:
        elapsed = max(0, now - self.updated)
        self.credit = min(self.burst * _NS_PER_S, self.credit + elapsed * self.rate)
        self.updated = now
        cost = tokens * _NS_PER_S
        if self.credit < cost:
            return False
        self.credit -= cost
        return True


class Gateway:
    def __init__(
        self,
        exchange: Exchange,
        access: Sequence[MemberAccess],
        options: GatewayOptions,
        reports: ReportBook,
        now: int,
    ) -> None:
        self.exchange = exchange
        self.options = options
        self.reports = reports
        self.access = {a.member: a for a in access}
        self.sessions: dict[bytes, Session] = {}
        self.buckets = {
            a.member: TokenBucket(
                a.throttle_per_s or options.throttle_per_s, a.throttle_burst or options.throttle_burst, now
            )
            for a in access
        }
        self.outbox: list[tuple[bytes, bytes]] = []
        self.work: list[Submission] = []
        self.drop_copies: list[DropCopy] = []
        self.stopping = False
        self._now = now
        self._accounts = {a.id for a in exchange.config.accounts}

    # ------------------------------------------------------------------ intake
    def receive(self, routing_id: bytes, parts: Sequence[bytes], member: str, now: int) -> None:
        """One message from a client connection; ``member`` is who its CURVE key belongs to."""
        self._now = now
        session = self.sessions.get(routing_id)
        if session is not None and session.access.member != member:
            # A routing id freed by a closed connection and taken by another key: the session was the
            # other member's, and this connection must log on itself.
            session = None
        if session is not None:
            session.last_received = now
        if len(parts) != 1:
            self._drop(routing_id, member, "frames", f"{len(parts)} parts; one frame per message")
            return
        frame = parts[0]
        if len(frame) > self.options.max_frame_bytes:
            self._refuse(routing_id, 0, Reject.MESSAGE_TOO_LARGE, size=len(frame), max=self.options.max_frame_bytes)
            _log.warning("gateway.frame_dropped", member=member, reason="too large", size=len(frame))
            return
        try:
            message = client_decoder.decode(frame)
        except msgspec.DecodeError as exc:  # ValidationError included
            self._drop(routing_id, member, "malformed", str(exc))
            return
        if isinstance(message, Logon):
            self._logon(routing_id, member, message, now)
        elif session is None:
            self._refuse(routing_id, getattr(message, "request_id", 0), Reject.NOT_LOGGED_ON)
        else:
            self._dispatch(session, message, now)

    def _dispatch(self, session: Session, message: ClientMessage, now: int) -> None:
        if isinstance(message, Heartbeat):
            return
        if isinstance(message, Logout):
            self._logout(session, message.request_id, "logout")
            return
        cost = len(message.commands) if isinstance(message, SubmitBatch) else 1
        if cost > self.options.max_batch:  # before the bucket: a batch it could never pay for says why
            self._refuse(
                session.routing_id,
                message.request_id,
                Reject.BATCH_TOO_LARGE,
                commands=cost,
                max=self.options.max_batch,
            )
            return
        if not self.buckets[session.access.member].take(max(cost, 1), now):
            rate = session.access.throttle_per_s or self.options.throttle_per_s
            self._refuse(session.routing_id, message.request_id, Reject.THROTTLED, per_s=rate, cost=cost)
            return
        if isinstance(message, Submit):
            self._submit(session, message.request_id, [message.command], False, False, batch=False)
        elif isinstance(message, SubmitBatch):
            self._submit_batch(session, message)
        elif isinstance(message, ResendRequest):
            self._resend(session, message.request_id, message.from_seq, message.to_seq)
        elif isinstance(message, ListOrders):
            self._list_orders(session, message)
        elif isinstance(message, QueryAccounts):
            self._query_accounts(session, message)

    # ------------------------------------------------------------------ session
    def _logon(self, routing_id: bytes, member: str, logon: Logon, now: int) -> None:
        if logon.protocol != PROTOCOL_VERSION:
            self._refuse(
                routing_id,
                logon.request_id,
                Reject.UNSUPPORTED_PROTOCOL,
                protocol=logon.protocol,
                supported=PROTOCOL_VERSION,
            )
            return
        access = self.access.get(member)
        if access is None or logon.member != member:
            # The key decides who you are: a logon naming another member is refused, and says nothing more.
            self._refuse(routing_id, logon.request_id, Reject.LOGON_REFUSED, member=logon.member)
            _log.warning("gateway.logon_refused", member=logon.member, key_owner=member)
            return
        options = self.options
        heartbeat_ms = min(max(logon.heartbeat_ms, options.heartbeat_min_ms), options.heartbeat_max_ms)
        self.sessions[routing_id] = Session(routing_id, access, heartbeat_ms * _NS_PER_MS, now, now)
        self._send(
            routing_id,
            LogonAccepted(
                request_id=logon.request_id,
                member=member,
                role=access.role,
                accounts=self._visible_accounts(access),
                heartbeat_ms=heartbeat_ms,
                last_report_seq=self.reports.last(member),
            ),
        )
        _log.info("gateway.logon", member=member, role=access.role, heartbeat_ms=heartbeat_ms)
        if logon.resend_from > 0:
            # Request id 0: the logon itself succeeded, whatever becomes of the resend.
            self._resend(self.sessions[routing_id], 0, logon.resend_from, 0)

    def _logout(self, session: Session, request_id: int, reason: str) -> None:
        del self.sessions[session.routing_id]
        self._send(session.routing_id, LoggedOut(request_id=request_id, reason=reason))
        _log.info("gateway.logout", member=session.access.member, reason=reason)

    def tick(self, now: int) -> None:
        """Heartbeats to quiet sessions; sessions silent too long are lost (cancel-on-disconnect)."""
        self._now = now
        for session in list(self.sessions.values()):
            if now - session.last_received > session.heartbeat_ns * self.options.heartbeat_misses:
                self._lose(session, now)
            elif now - session.last_sent >= session.heartbeat_ns:
                member = session.access.member
                self._send(session.routing_id, Heartbeat(last_report_seq=self.reports.last(member)), now)

    def next_tick_ns(self, now: int) -> int | None:
        """How long until ``tick`` has something to do (None: no sessions)."""
        due = [
            min(s.last_sent + s.heartbeat_ns, s.last_received + s.heartbeat_ns * self.options.heartbeat_misses + 1)
            for s in self.sessions.values()
        ]
        return max(0, min(due) - now) if due else None

    def _lose(self, session: Session, now: int) -> None:
        del self.sessions[session.routing_id]
        access = session.access
        others = any(s.access.member == access.member for s in self.sessions.values())
        _log.warning("gateway.session_lost", member=access.member, cancel_on_disconnect=access.cancel_on_disconnect)
        if access.cancel_on_disconnect and not others and not self.stopping:
            commands: list[Command] = [CancelAllOrders(account=a, on_disconnect=True) for a in access.accounts]
            self.work.append(Submission(routing_id=b"", member="", request_id=0, commands=commands))

    # ------------------------------------------------------------------ commands
    def _submit(
        self, session: Session, request_id: int, commands: list[AnyCommand], atomic: bool, dry_run: bool, *, batch: bool
    ) -> None:
        access = session.access
        if self.stopping:
            self._refuse(session.routing_id, request_id, Reject.NODE_STOPPING)
            return
        if len(commands) > self.options.max_batch:
            self._refuse(
                session.routing_id,
                request_id,
                Reject.BATCH_TOO_LARGE,
                commands=len(commands),
                max=self.options.max_batch,
            )
            return
        if (atomic or dry_run) and access.role != "regulator":
            self._refuse(session.routing_id, request_id, Reject.NOT_AUTHORISED, atomic=True, role=access.role)
            return
        for index, command in enumerate(commands):
            problem = authorise(access, command)
            if problem is not None:
                code, context = problem
                if len(commands) > 1:
                    context = {"index": index, **context}
                self._refuse(session.routing_id, request_id, code, **context)
                return
        fresh: list[Command] = []
        duplicates: list[tuple[str, str]] = []
        for command in commands:
            # An order whose id an accepted order already used today gets that order's result again. One
            # resent within the same poll goes to the engine, which refuses it as a duplicate if the first
            # was accepted: never a second order either way.
            key = (command.account, command.client_order_id) if isinstance(command, NewOrder) else None
            if key is not None and not atomic and self.reports.placed_order(*key) is not None:
                duplicates.append(key)
                continue
            fresh.append(command)
        self.work.append(
            Submission(session.routing_id, access.member, request_id, fresh, atomic, dry_run, duplicates, batch)
        )

    def _submit_batch(self, session: Session, batch: SubmitBatch) -> None:
        # A dry run is a rehearsal: it never applies, whatever ``atomic`` says.
        atomic = batch.atomic or batch.dry_run
        self._submit(session, batch.request_id, list(batch.commands), atomic, batch.dry_run, batch=True)

    def take_work(self) -> list[Submission]:
        work, self.work = self.work, []
        return work

    def applied(self, submission: Submission, outcomes: Sequence[list[Event]], journal_seqs: Sequence[int]) -> None:
        """Route the events of a sequenced submission; acknowledge it to its sender."""
        first, count = 0, 0
        for command, events, seq in zip(submission.commands, outcomes, journal_seqs, strict=True):
            routed = self.reports.route(submission.member, submission.request_id, command, events, seq)
            if routed.report_count:
                first = first or routed.first_report
                count += routed.report_count
            for member, report in routed.reports:
                self._deliver(member, report)
            self.drop_copies.extend(routed.drop_copy)
        if not submission.routing_id:
            return
        placed = [self._resend_placed(submission, account, cid) for account, cid in submission.duplicates]
        if not submission.batch and placed:
            # A single resent order: its Ack names the original order's reports, just sent again.
            original = placed[0]
            ack = Ack(
                request_id=submission.request_id,
                journal_seq=original.journal_seq if original else 0,
                first_report=original.first_report if original else 0,
                report_count=original.report_count if original else 0,
                duplicate=True,
            )
        else:
            ack = Ack(
                request_id=submission.request_id,
                journal_seq=journal_seqs[-1] if journal_seqs else 0,
                first_report=first or self.reports.last(submission.member) + 1,
                report_count=count,
            )
        self._send(submission.routing_id, ack)

    def _resend_placed(self, submission: Submission, account: str, client_order_id: str) -> Placed | None:
        """Send a resent order's original reports again; where they are (None: no longer known)."""
        placed = self.reports.placed_order(account, client_order_id)
        if placed is None:
            return None
        last = placed.first_report + placed.report_count - 1
        resent = self.reports.resend(placed.member, placed.first_report, last)
        if isinstance(resent, list):
            for report in resent:
                self._send(submission.routing_id, report)
        return placed

    def rehearsed(self, submission: Submission, rehearsal: Rehearsal) -> None:
        self._send(submission.routing_id, rehearsal)

    def _deliver(self, member: str, report: ExecutionReport) -> None:
        frame = encoder.encode(report)
        for session in self.sessions.values():
            if session.access.member == member:
                self.outbox.append((session.routing_id, frame))
                session.last_sent = self._now

    # ------------------------------------------------------------------ reading
    def _resend(self, session: Session, request_id: int, from_seq: int, to_seq: int) -> None:
        resent = self.reports.resend(session.access.member, from_seq, to_seq)
        if isinstance(resent, int):
            self._refuse(
                session.routing_id, request_id, Reject.RESEND_UNAVAILABLE, from_seq=from_seq, first_kept=resent
            )
            return
        for report in resent:
            self._send(session.routing_id, report)

    def _visible_accounts(self, access: MemberAccess) -> list[str]:
        if access.role == "member":
            return list(access.accounts)
        return [a.id for a in self.exchange.config.accounts]

    def _list_orders(self, session: Session, query: ListOrders) -> None:
        access = session.access
        if query.account and (query.account not in self._accounts or not may_see(access, query.account)):
            self._refuse(session.routing_id, query.request_id, Reject.UNKNOWN_ACCOUNT, account=query.account)
            return
        accounts = {query.account} if query.account else set(self._visible_accounts(access))
        orders = [
            OpenOrder(
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
            for code, book in self.exchange.listing.books.items()
            if not query.instrument or code == query.instrument
            for o in book.orders()
            if o.account in accounts
        ]
        orders.sort(key=lambda o: o.order_id)
        self._send(session.routing_id, OrderList(request_id=query.request_id, orders=orders))

    def _query_accounts(self, session: Session, query: QueryAccounts) -> None:
        access = session.access
        if query.account and (query.account not in self._accounts or not may_see(access, query.account)):
            self._refuse(session.routing_id, query.request_id, Reject.UNKNOWN_ACCOUNT, account=query.account)
            return
        config = {a.id: a for a in self.exchange.config.accounts}
        ledger = self.exchange.ledger
        accounts = [query.account] if query.account else self._visible_accounts(access)
        balances = []
        for account in accounts:
            cash = ledger.cash(account)
            holdings = [
                HoldingBalance(
                    instrument=i,
                    available=h.available,
                    frozen=h.frozen,
                    restricted=h.restricted,
                    compliance=h.compliance,
                )
                for i, h in ledger.holdings_of(account)
            ]
            balances.append(
                AccountBalance(
                    account=account,
                    member=config[account].member,
                    kind=config[account].kind,
                    cash_available=cash.available,
                    cash_frozen=cash.frozen,
                    cash_withdrawable=cash.withdrawable,
                    holdings=holdings,
                )
            )
        self._send(session.routing_id, AccountList(request_id=query.request_id, accounts=balances))

    # ------------------------------------------------------------------ sending
    def _send(self, routing_id: bytes, message: msgspec.Struct, now: int | None = None) -> None:
        self.outbox.append((routing_id, encoder.encode(message)))
        session = self.sessions.get(routing_id)
        if session is not None:
            session.last_sent = self._now if now is None else now

    def take_drop_copies(self) -> list[DropCopy]:
        copies, self.drop_copies = self.drop_copies, []
        return copies

    def take_outbox(self) -> list[tuple[bytes, bytes]]:
        outbox, self.outbox = self.outbox, []
        return outbox

    def _refuse(self, routing_id: bytes, request_id: int, code: Reject, **context: object) -> None:
        self._send(routing_id, Refused(request_id=request_id, code=code, text=reject_text(code, **context)))

    def refuse_failed(self, routing_id: bytes) -> None:
        """The node's answer to a frame whose handling failed unexpectedly (logged there)."""
        self._refuse(routing_id, 0, Reject.MALFORMED_MESSAGE, reason="internal")

    def _drop(self, routing_id: bytes, member: str, reason: str, detail: str) -> None:
        """A frame we cannot read: refuse it (request id unknown: 0) and log why, once per frame."""
        self._refuse(routing_id, 0, Reject.MALFORMED_MESSAGE, reason=reason)
        _log.warning("gateway.frame_dropped", member=member, reason=reason, detail=detail[:200])

    def shutdown(self) -> None:
        """Stop intake: from now on submissions are refused with NODE_STOPPING."""
        self.stopping = True

    def log_out_everyone(self) -> None:
        """The last word to every session before the node exits."""
        for session in list(self.sessions.values()):
            self._logout(session, 0, "node stopping")
