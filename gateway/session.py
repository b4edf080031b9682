"""The order gateway's logic: sessions, authorisation, throttles, idempotency — no sockets, no clock.

The node owns the ZeroMQ sockets and the time. It hands every received frame to ``Gateway.receive``
with the member the ZAP handler authenticated (the CURVE key's owner), the connection it came from
and the time; the gateway answers what it can at once (logon, refusals, queries, resends) into
``outbox`` and queues what must be sequenced as ``Submission``s. The node journals and applies
those, then hands the events back to ``Gateway.applied``, which numbers the execution reports and
acknowledges the request. A session belongs to the connection that logged on (gateway.connections):
whatever is queued for it leaves only while that connection is the one on its routing id.

Nothing a client sends can raise out of here: every problem becomes a ``Refused`` frame. What a
client can make the gateway do is bounded: each request is paid for from the member's token bucket
(a resend by the report), and each connection's refusals from a budget of its own, beyond which a
frame it cannot have is dropped unanswered, so a flood never turns into an outbound flood.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import structlog

from engine.exchange import Exchange
from engine.messages import (
    AnyCommand,
    CancelAllOrders,
    Command,
    Event,
    NewOrder,
    RecordRegistryFile,
    Reject,
    reject_text,
)
from engine.view import ExchangeView
from gateway.access import GatewayOptions, MemberAccess
from gateway.authorise import authorise_all, may_see
from gateway.connections import Connection, Connections
from gateway.intake import DETAIL_LENGTH, Unreadable, malformed, read_frame, request_id_of
from gateway.outbox import Outbox
from gateway.protocol import (
    PROTOCOL_VERSION,
    Ack,
    ClientMessage,
    DropCopy,
    ExecutionReport,
    Heartbeat,
    ListAuctionBids,
    ListAuctions,
    ListBids,
    ListOrders,
    ListTransfers,
    LoggedOut,
    Logon,
    LogonAccepted,
    Logout,
    QueryAccounts,
    Refused,
    Rehearsal,
    ResendEnd,
    ResendRequest,
    Submit,
    SubmitBatch,
    encoder,
)
from gateway.queries import answer_query, visible_accounts
from gateway.reports import Delivery, DropCopies, Placed, ReportBook, drop_copies
from gateway.submission import Submission
from gateway.throttle import TokenBucket

_log = structlog.get_logger("carbonx.gateway")
_NS_PER_MS = 1_000_000
_TOKEN = 1_000_000_000  # a token, in the buckets' nano-tokens
_NEVER = 2**63 - 1  # a moment no clock reaches
_UNKNOWN = -1  # ``Gateway._tick_due`` to be looked for again


@dataclass
class Session:
    routing_id: bytes
    access: MemberAccess
    heartbeat_ns: int
    last_received: int
    last_sent: int
    batch_reports: bool = False  # live reports and acks go out in one ``Reports`` frame per turn
    connection: int = 0  # the connection that logged on (gateway.connections); 0: unknown


class Gateway:
    def __init__(
        self,
        exchange: Exchange,
        access: Sequence[MemberAccess],
        options: GatewayOptions,
        reports: ReportBook,
        now: int,
    ) -> None:
        self.view = ExchangeView(exchange)  # what queries and logons read of the state
        self.options = options
        self.reports = reports
        self.access = {a.member: a for a in access}
        self._own_accounts = {a.member: frozenset(a.accounts) for a in access}
        self.sessions: dict[bytes, Session] = {}
        self.buckets = {
            a.member: TokenBucket(
                a.throttle_per_s or options.throttle_per_s, a.throttle_burst or options.throttle_burst, now
            )
            for a in access
        }
        self.outbox = Outbox()
        self.connections = Connections(options.refusals_per_s, options.refusals_burst)
        self.work: list[Submission] = []
        self._drop_copies: list[DropCopies] = []  # built into messages only when someone takes them
        self._listeners: dict[str, list[Session]] = {}  # member -> its sessions (who gets its reports)
        self.stopping = False
        self._now = now
        self._accounts = {a.id for a in exchange.config.accounts}
        self._tick_due = _UNKNOWN  # before it ``tick`` has nothing to do (a lower bound; ``_look_ahead``)

    # ------------------------------------------------------------------ intake
    def receive(
        self, routing_id: bytes, parts: Sequence[bytes], member: str, now: int, connection: int = 0, fd: int = -1
    ) -> None:
        """One message from a client connection: ``member`` is who its CURVE key belongs to,
        ``connection`` the ZAP handler's number for the connection, ``fd`` its socket (-1: unknown)."""
        self._now = now
        try:
            self._receive(routing_id, parts, member, now, connection, fd)
        except Exception as exc:  # a defect met by one frame must not stop the exchange for everyone
            _log.error(
                "gateway.frame_failed",
                member=member,
                error_type=type(exc).__name__,
                error=str(exc)[:DETAIL_LENGTH],
                exc_info=exc,
            )
            frame = parts[0] if len(parts) == 1 else b""
            self._refuse(routing_id, request_id_of(frame), Reject.MALFORMED_MESSAGE, reason="internal")

    def _receive(
        self, routing_id: bytes, parts: Sequence[bytes], member: str, now: int, connection_id: int, fd: int
    ) -> None:
        connection, gone = self.connections.arrive(routing_id, connection_id, member, fd, now)
        for closed in gone:
            self._connection_closed(closed, now)
        if connection is None:
            return  # queued before its connection closed: nobody to answer, no session to act in
        session = self.sessions.get(routing_id)
        if session is not None:
            session.last_received = now  # every frame counts for liveness, paid for or not
        bucket = self.buckets.get(member)
        if bucket is not None and not self._may_read(bucket, connection, now):
            return
        if len(parts) != 1:
            self._unpaid(bucket, now)
            self._unreadable(connection, malformed(b"", "frames", f"{len(parts)} parts; one frame per message"))
            return
        frame = parts[0]
        if connection.routing_id_refused:
            # Another member's key used this routing id: nothing this connection sends is heard.
            self._refuse(routing_id, request_id_of(frame), Reject.ROUTING_ID_IN_USE)
            return
        if len(frame) > self.options.max_frame_bytes:
            self._unpaid(bucket, now)
            if self._refuse(
                routing_id,
                request_id_of(frame),
                Reject.MESSAGE_TOO_LARGE,
                size=len(frame),
                max=self.options.max_frame_bytes,
            ):
                _log.warning("gateway.frame_dropped", member=member, reason="too large", size=len(frame))
            return
        message = read_frame(frame)
        if isinstance(message, Unreadable):
            self._unpaid(bucket, now)
            self._unreadable(connection, message)
            return
        if isinstance(message, Logon):
            if self._pay(member, routing_id, message.request_id, 1, now):
                self._logon(routing_id, connection, message, now)
        elif session is None:
            self._unpaid(bucket, now)
            self._refuse(routing_id, getattr(message, "request_id", 0), Reject.NOT_LOGGED_ON)
        else:
            self._dispatch(session, message, now)

    def _may_read(self, bucket: TokenBucket, connection: Connection, now: int) -> bool:
        """Whether a frame is worth reading: not when its member cannot pay for a request and its
        connection may not be told so. A flood beyond both costs a lookup per frame, nothing more."""
        if bucket.credit >= _TOKEN or bucket.holds(1, now) or connection.refusals.holds(1, now):
            return True  # (the first test is the usual case, and needs no refill)
        self.connections.withhold(connection)
        return False

    @staticmethod
    def _unpaid(bucket: TokenBucket | None, now: int) -> None:
        """A frame that is no request (unreadable, too large, before a logon) costs a token like one,
        taken when the bucket holds it: its refusal is what it gets, never THROTTLED as well."""
        if bucket is not None:
            bucket.take(1, now)

    def _pay(self, member: str, routing_id: bytes, request_id: int, cost: int, now: int) -> bool:
        """Take ``cost`` tokens from the member's bucket, or refuse the request THROTTLED."""
        bucket = self.buckets.get(member)
        if bucket is None or bucket.take(cost, now):
            return True  # a key without a member is refused at logon, for free
        self._refuse(routing_id, request_id, Reject.THROTTLED, per_s=bucket.rate, cost=cost)
        return False

    def _dispatch(self, session: Session, message: ClientMessage, now: int) -> None:
        member = session.access.member
        if isinstance(message, Heartbeat):
            self.buckets[member].take(1, now)  # paid when it can be; never answered, so never refused
            return
        if isinstance(message, Logout):
            self._logout(session, message.request_id, "logout")
            return
        if isinstance(message, ResendRequest):  # paid by the report: ``_resend`` knows how many
            self._resend(session, message.request_id, message.from_seq, message.to_seq, now)
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
        if not self._pay(member, session.routing_id, message.request_id, max(cost, 1), now):
            return
        if isinstance(message, Submit):
            self._submit(session, message.request_id, [message.command], False, False, batch=False)
        elif isinstance(message, SubmitBatch):
            self._submit_batch(session, message)
        elif isinstance(message, ListOrders | QueryAccounts | ListTransfers | ListBids) and self._may_see(
            session, message.request_id, message.account
        ):
            self._send(session.routing_id, answer_query(self.view, session.access, message))
        elif isinstance(message, ListAuctions | ListAuctionBids):
            answer = answer_query(self.view, session.access, message, self.options.max_frame_bytes)
            self._send(session.routing_id, answer)

    def connection_closed(self, fd: int, now: int) -> None:
        """The node's socket monitor saw socket ``fd`` close: its session, if any, is lost at once."""
        self._now = now
        closed = self.connections.closed_socket(fd)
        if closed is not None:
            self._connection_closed(closed, now)

    def _connection_closed(self, connection: Connection, now: int) -> None:
        session = self.sessions.get(connection.routing_id)
        if session is not None and session.connection == connection.id:
            self._lose(session, now, "connection closed")
        self.outbox.discard(connection.routing_id, connection.id)

    # ------------------------------------------------------------------ session
    def _logon(self, routing_id: bytes, connection: Connection, logon: Logon, now: int) -> None:
        member = connection.member
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
        session = Session(routing_id, access, heartbeat_ms * _NS_PER_MS, now, now, logon.batch_reports, connection.id)
        self.sessions[routing_id] = session
        self._sessions_changed()
        first_kept, day_first = self.reports.kept_days(member)
        self._send(
            routing_id,
            LogonAccepted(
                request_id=logon.request_id,
                member=member,
                role=access.role,
                accounts=visible_accounts(self.view, access),
                heartbeat_ms=heartbeat_ms,
                last_report_seq=self.reports.last(member),
                batch_reports=logon.batch_reports,
                trading_day=self.view.market().trading_day,
                day_first_report=day_first,
                first_kept_report=first_kept,
            ),
        )
        _log.info("gateway.logon", member=member, role=access.role, heartbeat_ms=heartbeat_ms)
        if logon.resend_from > 0:
            # Request id 0: the logon itself succeeded, whatever becomes of the resend.
            self._resend(session, 0, logon.resend_from, 0, now)

    def _logout(self, session: Session, request_id: int, reason: str) -> None:
        self._send(session.routing_id, LoggedOut(request_id=request_id, reason=reason))
        del self.sessions[session.routing_id]
        self._sessions_changed()
        _log.info("gateway.logout", member=session.access.member, reason=reason)

    def tick(self, now: int) -> None:
        """Heartbeats to quiet sessions; sessions silent too long are lost (cancel-on-disconnect);
        a line per connection whose refusals were withheld (at most one a second each).

        Every turn of the node calls it. A turn before the moment its last look found (``_tick_due``)
        reads no session, however many are logged on: a session's moments only move later as it
        sends and receives, and a logon or a logout makes it look again. Of the connections it reads
        only those with refusals withheld.
        """
        self._now = now
        if now >= self._tick_due:
            for session in list(self.sessions.values()):
                if now - session.last_received > session.heartbeat_ns * self.options.heartbeat_misses:
                    self._lose(session, now, "silent")
                elif now - session.last_sent >= session.heartbeat_ns:
                    member = session.access.member
                    self._send(session.routing_id, Heartbeat(last_report_seq=self.reports.last(member)), now)
            self._tick_due = self._look_ahead()
        if self.connections.withholding:
            for member, frames in self.connections.take_withheld(now):
                _log.warning("gateway.refusals_withheld", member=member, frames=frames)

    def next_tick_ns(self, now: int) -> int | None:
        """How long until ``tick`` has something to do (None: no sessions)."""
        if not self.sessions:
            return None
        if self._tick_due == _UNKNOWN:
            self._tick_due = self._look_ahead()
        return max(0, self._tick_due - now)

    def _look_ahead(self) -> int:
        """The first moment a session is due a heartbeat or is lost."""
        misses = self.options.heartbeat_misses
        dues = [
            min(s.last_sent + s.heartbeat_ns, s.last_received + s.heartbeat_ns * misses + 1)
            for s in self.sessions.values()
        ]
        return min(dues, default=_NEVER)

    def _lose(self, session: Session, now: int, reason: str) -> None:
        del self.sessions[session.routing_id]
        self._sessions_changed()
        access = session.access
        others = any(s.access.member == access.member for s in self.sessions.values())
        _log.warning(
            "gateway.session_lost",
            member=access.member,
            reason=reason,
            cancel_on_disconnect=access.cancel_on_disconnect,
        )
        if access.cancel_on_disconnect and not others and not self.stopping:
            commands: list[Command] = [CancelAllOrders(account=a, on_disconnect=True) for a in access.accounts]
            self.work.append(Submission(routing_id=b"", member="", request_id=0, commands=commands))

    def _sessions_changed(self) -> None:
        self._tick_due = _UNKNOWN  # a new session's first heartbeat may come before any moment known
        listeners: dict[str, list[Session]] = {}
        for session in self.sessions.values():
            listeners.setdefault(session.access.member, []).append(session)
        self._listeners = listeners

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
        if not atomic and RecordRegistryFile in map(type, commands):
            # The record of a file leads the file's own atomic batch: alone, it would record a file never applied.
            self._refuse(
                session.routing_id, request_id, Reject.NOT_AUTHORISED, command="RecordRegistryFile", atomic=False
            )
            return
        refused = authorise_all(access, commands, self._own_accounts[access.member])
        if refused is not None:
            index, (code, context) = refused
            if len(commands) > 1:
                context = {"index": index, **context}
            self._refuse(session.routing_id, request_id, code, **context)
            return
        fresh: list[Command] = list(commands)
        duplicates: list[tuple[str, str]] = []
        placed = self.reports.placed
        if placed and not atomic:
            # An order whose id an accepted order already used today gets that order's result again. One
            # resent within the same poll goes to the engine, which refuses it as a duplicate if the first
            # was accepted: never a second order either way.
            fresh = []
            for command in commands:
                if type(command) is NewOrder and (command.account, command.client_order_id) in placed:
                    duplicates.append((command.account, command.client_order_id))
                else:
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
        deliveries: list[Delivery] = []
        member, request_id = submission.member, submission.request_id
        commands, listening, drops = submission.commands, self._listeners, self._drop_copies
        # Arguments spelled out: ``*`` in a call builds a tuple for them (~0.2 µs a request here).
        first, count = self.reports.number(
            member, request_id, commands, outcomes, journal_seqs, deliveries, listening, drops
        )
        if deliveries:
            self._deliver(deliveries)
        if not submission.routing_id:
            return
        duplicates = submission.duplicates
        placed = [self._resend_placed(submission, account, cid) for account, cid in duplicates] if duplicates else []
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
                first_report=first if count else self.reports.last(submission.member) + 1,
                report_count=count,
            )
        session = self.sessions.get(submission.routing_id)
        if session is not None and session.batch_reports:
            self.outbox.ack(session.routing_id, session.connection, ack)
        else:
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

    def _deliver(self, deliveries: Sequence[Delivery]) -> None:
        """Each report to every session of its member: into the session's batch, or a frame of its own.

        Gathered per member first, so that each session takes its reports in one call (in number
        order: a member's deliveries come in that order).
        """
        by_member: dict[str, list[ExecutionReport]] = {}
        for member, seq, request_id, view in deliveries:
            report = ExecutionReport(seq=seq, request_id=request_id, event=view)
            reports = by_member.get(member)
            if reports is None:
                by_member[member] = [report]
            else:
                reports.append(report)
        outbox, now = self.outbox, self._now
        for member, reports in by_member.items():
            frames: list[bytes] | None = None  # a plain session's frames, encoded once for all of them
            for session in self._listeners[member]:
                if session.batch_reports:
                    outbox.reports(session.routing_id, session.connection, reports)
                else:
                    if frames is None:
                        frames = [encoder.encode(report) for report in reports]
                    for frame in frames:
                        outbox.send_frame(session.routing_id, session.connection, frame)
                session.last_sent = now

    # ------------------------------------------------------------------ reading
    def _resend(self, session: Session, request_id: int, from_seq: int, to_seq: int, now: int) -> None:
        """Resend one page of the member's reports, paid by the report, then ``ResendEnd``.

        At most ``resend_page`` reports, and no more than the member's bucket holds tokens (at least
        one: asking costs a token even when nothing is left to send); ``ResendEnd.more`` tells the
        client to ask again from the next number. So a resend costs what it sends, and what one
        connection can have queued is bounded by the page and the throttle, not by the stream.
        """
        member, routing_id = session.access.member, session.routing_id
        span = self.reports.resend_span(member, from_seq, to_seq)
        if isinstance(span, int):
            self._refuse(routing_id, request_id, Reject.RESEND_UNAVAILABLE, from_seq=from_seq, first_kept=span)
            return
        first, last = span
        wanted = min(max(0, last - first + 1), self.options.resend_page)
        bucket = self.buckets[member]
        page = min(wanted, bucket.available(now))
        if not bucket.take(max(page, 1), now):
            self._refuse(routing_id, request_id, Reject.THROTTLED, per_s=bucket.rate, cost=max(wanted, 1))
            return
        resent = self.reports.resend(member, first, first + page - 1) if page else []
        for report in resent if isinstance(resent, list) else ():
            self._send(routing_id, report)
        end = ResendEnd(
            request_id=request_id, first_seq=first, last_seq=first + page - 1, to_seq=to_seq, more=first + page <= last
        )
        self._send(routing_id, end)

    def _may_see(self, session: Session, request_id: int, account: str) -> bool:
        """A query naming an account that does not exist or is not the sender's is refused alike."""
        if account and (account not in self._accounts or not may_see(session.access, account)):
            self._refuse(session.routing_id, request_id, Reject.UNKNOWN_ACCOUNT, account=account)
            return False
        return True

    # ------------------------------------------------------------------ sending
    def _send(self, routing_id: bytes, message: msgspec.Struct, now: int | None = None) -> None:
        """Queue a frame for the connection now on ``routing_id`` (gone by the flush: it is not sent)."""
        session = self.sessions.get(routing_id)
        connection = session.connection if session is not None else self.connections.current_id(routing_id)
        self.outbox.send(routing_id, connection, message)
        if session is not None:
            session.last_sent = self._now if now is None else now

    def take_drop_copies(self) -> list[DropCopy]:
        pending, self._drop_copies = self._drop_copies, []
        return drop_copies(pending)

    def discard_drop_copies(self) -> None:
        """Nobody subscribes to the drop copy: what was numbered for it is not built (the PUB would drop it)."""
        self._drop_copies = []

    def take_outbox(self) -> list[tuple[bytes, bytes]]:
        """What to send now, as (routing id, frame): only frames whose connection is still there.

        Checked at the last moment: a frame queued for a connection that closed during the turn must
        not go to whoever has taken over its routing id since."""
        return self.outbox.take(self.connections.live)

    def _refuse(self, routing_id: bytes, request_id: int, code: Reject, **context: object) -> bool:
        """Refuse a frame, within its connection's refusal budget; whether the refusal was queued."""
        connection = self.connections.by_routing_id.get(routing_id)
        if connection is not None and not self.connections.may_refuse(connection, self._now):
            return False
        self._send(routing_id, Refused(request_id=request_id, code=code, text=reject_text(code, **context)))
        return True

    def _unreadable(self, connection: Connection, unreadable: Unreadable) -> None:
        """Refuse a frame that holds no message to act on, and log why (both within the refusal budget)."""
        if self._refuse(connection.routing_id, unreadable.request_id, unreadable.code, **unreadable.context):
            _log.warning(
                "gateway.frame_refused", member=connection.member, code=unreadable.code.name, **unreadable.context
            )

    def shutdown(self) -> None:
        """Stop intake: from now on submissions are refused with NODE_STOPPING."""
        self.stopping = True

    def log_out_everyone(self) -> None:
        """The last word to every session before the node exits."""
        for session in list(self.sessions.values()):
            self._logout(session, 0, "node stopping")
