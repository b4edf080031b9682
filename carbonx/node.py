"""The exchange node: one thread polling every socket, the sequencer, the scheduler (docs/ARCHITECTURE.md).

Each turn of the loop drains what is waiting on the order-entry socket (up to ``max_poll_batch``
frames), lets the gateway answer what needs no sequencing, and journals everything else as ONE
batch — one write, one fsync — before applying it. Replies, execution reports, the drop copy and
market data leave only after that: nothing is acknowledged that a crash could lose.

The node's own commands (the scheduler's session changes, cancel-on-disconnect) go through the
same journal, with an empty origin, so a replay of the journal is the whole story.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import msgspec
import structlog
import zmq
from zmq.utils.monitor import parse_monitor_message

from carbonx.config import LoadedConfig
from carbonx.endpoints import ENDPOINTS_FILE, Endpoints
from carbonx.errors import CarbonxError
from carbonx.node_schedule import NodeSchedule
from carbonx.node_state import NodeState, open_node_state
from carbonx.subscriptions import Subscriptions
from engine.exchange import Exchange
from engine.messages import AmendOrder, AnyEvent, CancelOrder, Command, EndOfDay, Event, NewOrder
from engine.recovery import InvalidCommand, check_commands
from gateway.access import GatewayOptions
from gateway.connections import Connection
from gateway.contexts import terminate
from gateway.keys import load_server_secret
from gateway.protocol import BatchRejection, Rehearsal, encoder
from gateway.session import Gateway
from gateway.submission import Submission
from gateway.zap import CONNECTION_PROPERTY, ZapHandler, access_domains
from market_data.publisher import Publisher
from market_data.snapshot_service import SnapshotService

_log = structlog.get_logger("carbonx.node")
_NS_PER_MS = 1_000_000
_MAX_WAIT_MS = 100  # the longest the loop sleeps: how quickly a stop request is noticed
_GC_YOUNG_THRESHOLD = 100_000  # allocations between collections of the youngest generation (run)
DROP_COPY = "dropcopy"
DROP_COPY_TOPIC = DROP_COPY.encode()
_NOBLOCK = int(zmq.NOBLOCK)
_MORE = int(zmq.SNDMORE)
_MORE_NOBLOCK = _MORE | _NOBLOCK
_POLLIN = int(zmq.POLLIN)
_CONNECTION = CONNECTION_PROPERTY.decode()
_MONITOR_HWM = 100_000  # close events waiting to be read (about 60 bytes each)
_DROP_COPY_HWM = 100_000  # events queued per drop-copy subscriber
_SUBSCRIPTION_HWM = 1_000  # (un)subscriptions queued from an XPUB's subscribers
_SUBSCRIPTION_MAX_BYTES = 1_024  # a subscription is a topic prefix: nothing longer is read
# Commands that change nothing the scheduler reads (the trading day, its session, the auctions' times).
_ORDER_COMMANDS: frozenset[type] = frozenset({NewOrder, CancelOrder, AmendOrder})


class NodeError(CarbonxError):
    """The node cannot start or must stop (port in use, keys missing, journal failure); one line."""


class Node:
    def __init__(
        self,
        loaded: LoadedConfig,
        data_dir: Path,
        *,
        demo: bool = False,
        clock: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.loaded = loaded
        self.data_dir = data_dir
        self.demo = demo
        self.clock = clock
        self.monotonic = monotonic
        self.options = loaded.node
        self._stop = False
        self._context: zmq.Context[zmq.Socket[bytes]] | None = None
        self.state: NodeState = open_node_state(loaded, data_dir, clock)
        now = monotonic()
        self.gateway = Gateway(self.exchange, loaded.access, loaded.node.gateway, self.state.reports, now)
        md = loaded.node.market_data
        self.publisher = Publisher(
            self.exchange,
            epoch=clock(),
            conflate_ns=md.conflate_ms * _NS_PER_MS,
            recent_trades=md.recent_trades,
            heartbeat_ms=md.heartbeat_ms,
            bars=self.state.bars,
        )
        # The snapshot service holds the latest bulletin per instrument; a restart must not lose it.
        self.publisher.on_events(self.state.latest_bulletin())
        self._next_md_heartbeat = now
        self.schedule = NodeSchedule(self.exchange, loaded.node.scheduler, clock)
        self.endpoints: Endpoints | None = None
        gc.collect()  # what recovery left behind, once; what survives is frozen by the first batch
        self._poller: zmq.Poller | None = None

    @property
    def exchange(self) -> Exchange:
        return self.state.exchange

    # ------------------------------------------------------------------ start
    def bind(self) -> Endpoints:
        """Bind every socket; raise ``NodeError`` with one line when one cannot be bound."""
        options = self.options
        public, secret = load_server_secret(self.loaded.keys_dir)
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._context = context
        self.zap = ZapHandler(access_domains(self.loaded.access))
        self.zap_socket = self.zap.bind(context)
        gateway = options.gateway
        self.order_entry = self._curve_server(context, zmq.ROUTER, b"gateway", public, secret)
        # Frames above the gateway's limit are refused with MESSAGE_TOO_LARGE; bigger ones still are cut
        # off by the transport before they are read into memory (the peer is disconnected).
        self.order_entry.setsockopt(zmq.MAXMSGSIZE, transport_limit(gateway))
        # Per connection, in frames (libzmq's unit): what a client can leave queued is bounded in bytes.
        self.order_entry.setsockopt(zmq.RCVHWM, inbound_frames(gateway))
        self.order_entry.setsockopt(zmq.SNDHWM, gateway.outbound_queue_frames)
        # A reply to a peer that has gone (or whose queue is full) raises instead of vanishing unseen.
        self.order_entry.setsockopt(zmq.ROUTER_MANDATORY, 1)
        # Each closed connection, at once: its session ends before another can take its routing id.
        # Our end of the monitor's pipe holds many close events (set before it connects): one lost
        # would leave a session to be found only by its silence, or by its socket's reuse.
        monitor_address = f"inproc://carbonx.order-entry-monitor.{id(self)}"
        self.order_entry.monitor(monitor_address, zmq.EVENT_DISCONNECTED)
        self.order_entry_monitor = context.socket(zmq.PAIR)
        self.order_entry_monitor.setsockopt(zmq.RCVHWM, _MONITOR_HWM)
        self.order_entry_monitor.connect(monitor_address)
        # XPUBs: PUBs that tell what their subscribers want, so that nothing nobody subscribed to is built,
        # encoded and sent only for the socket to drop it (carbonx.subscriptions).
        self.drop_copy = self._curve_server(context, zmq.XPUB, b"dropcopy", public, secret)
        self.drop_copy.setsockopt(zmq.SNDHWM, _DROP_COPY_HWM)  # per subscriber: beyond it, a slow one loses events
        self.drop_copy.setsockopt(zmq.RCVHWM, _SUBSCRIPTION_HWM)
        self.drop_copy.setsockopt(zmq.MAXMSGSIZE, _SUBSCRIPTION_MAX_BYTES)
        self.drop_copy_subscriptions = Subscriptions(self.drop_copy)
        self.md_pub = context.socket(zmq.XPUB)
        self.md_subscriptions = Subscriptions(self.md_pub)
        md = options.market_data
        self.md_pub.setsockopt(zmq.SNDHWM, md.send_hwm)  # per subscriber: a slow one loses messages, then recovers
        self.md_pub.setsockopt(zmq.RCVHWM, _SUBSCRIPTION_HWM)  # public: subscriptions bounded as the drop copy's
        self.md_pub.setsockopt(zmq.MAXMSGSIZE, _SUBSCRIPTION_MAX_BYTES)
        self.snapshot = context.socket(zmq.ROUTER)
        # Public and unauthenticated: request size, queues, rates and a per-turn budget (its docstring).
        self.snapshot_service = SnapshotService(self.snapshot, self.publisher, md.snapshot_limits())
        self.endpoints = Endpoints(
            order_entry=_bind(self.order_entry, gateway.endpoint),
            market_data=_bind(self.md_pub, md.endpoint),
            snapshot=_bind(self.snapshot, md.snapshot_endpoint),
            drop_copy=_bind(self.drop_copy, gateway.drop_copy_endpoint),
        )
        _log.info("node.started", data_dir=str(self.data_dir), **msgspec.structs.asdict(self.endpoints))
        # Tools that find the node by its data directory (carbonx registry) read where it listens here;
        # the file goes when the node stops. Ports may be ephemeral ("tcp://127.0.0.1:*" in node.toml).
        tmp = self.data_dir / (ENDPOINTS_FILE + ".tmp")
        tmp.write_bytes(msgspec.json.encode(self.endpoints))
        tmp.replace(self.data_dir / ENDPOINTS_FILE)
        return self.endpoints

    @staticmethod
    def _curve_server(
        context: zmq.Context[zmq.Socket[bytes]], kind: int, domain: bytes, public: bytes, secret: bytes
    ) -> zmq.Socket[bytes]:
        socket = context.socket(kind)
        socket.setsockopt(zmq.CURVE_SERVER, 1)
        socket.setsockopt(zmq.CURVE_PUBLICKEY, public)
        socket.setsockopt(zmq.CURVE_SECRETKEY, secret)
        socket.setsockopt(zmq.ZAP_DOMAIN, domain)
        return socket

    def open_for_demo(self) -> list[Command]:
        """Demo: fund the demo accounts on a new journal and open a trading day at once."""
        commands = self.state.demo_commands(self.clock())
        if commands:
            self._sequence([Submission(routing_id=b"", member="", request_id=0, commands=commands)])
            self._flush(self.monotonic())
        return commands

    # ------------------------------------------------------------------ the loop
    def request_stop(self) -> None:
        """Safe from a signal handler: the loop stops within one poll interval."""
        self._stop = True

    def run(self) -> None:
        """Serve until ``request_stop``; then stop intake, flush, snapshot and close."""
        # Each turn ends with gc.freeze() (``step``): what a turn leaves alive is frozen, so the collector
        # has only that turn's young objects to look at. Collecting them every 700 allocations cost 3-8%
        # of the node's time under load, for objects almost all freed by reference counting or kept for
        # good, so it collects per 100,000 instead (a large turn is still collected within itself).
        threshold = gc.get_threshold()
        gc.set_threshold(_GC_YOUNG_THRESHOLD, *threshold[1:])
        try:
            while not self._stop:
                self.step(self._wait_ms())
            self._shutdown()
        except BaseException:
            # Stopped by a failure (the journal gone or failing): no snapshot over what may not be
            # ours any more; the sockets, the journal's lock and the endpoints file are released.
            self.close()
            raise
        finally:
            gc.set_threshold(*threshold)

    def step(self, wait_ms: int) -> None:
        """One turn of the loop: wait up to ``wait_ms`` for a socket, then do everything that is due."""
        if self._poller is None:
            self._poller = zmq.Poller()
            for socket in (self.zap_socket, self.order_entry, self.snapshot, self.order_entry_monitor):
                self._poller.register(socket, zmq.POLLIN)
        ready = dict(self._poller.poll(wait_ms))
        now = self.monotonic()
        if self.zap_socket in ready:
            self._drain(self.zap_socket, lambda: self.zap.serve_one(self.zap_socket))
        self._closed_connections(now)
        if self.order_entry in ready:
            self._drain_order_entry(now)
        if self.snapshot in ready:  # what the turn's budget leaves keeps the socket ready for the next turn
            self.snapshot_service.serve(now)
        self.gateway.tick(now)
        work = self._scheduled() + self.gateway.take_work()
        if work:
            self._sequence(work)
            # What the exchange keeps (orders, reports) lives long and holds no cycles: moved out of the
            # collector's sight, it is never scanned again, and full collections stop growing with the
            # book (they paused the node for up to 0.6 s on the end-to-end benchmark). O(1).
            gc.freeze()
        self._flush(now)

    def _drain(self, socket: zmq.Socket[bytes], handle: Callable[[], None], limit: int = 1_000) -> None:
        for _ in range(limit):
            if not socket.poll(0, zmq.POLLIN):
                return
            handle()

    def _drain_order_entry(self, now: int) -> None:
        """Up to ``max_poll_batch`` messages: they are sequenced together, with one fsync.

        The ROUTER reads its connections in turn, one message each, so every connection with frames
        waiting gets its share of a turn; the turn ends as soon as one connection has sent
        ``turn_frames_per_connection`` frames, so a flood cannot fill a turn (the rest waits in its own
        queue, bounded by RCVHWM) and a well-behaved member's request waits one short turn at most.
        """
        gateway, recv = self.gateway, self.order_entry.recv
        per_connection = self.options.gateway.turn_frames_per_connection
        frames: dict[bytes, int] = {}
        for _ in range(self.options.gateway.max_poll_batch):
            # Part by part rather than recv_multipart, which asks libzmq whether more parts follow
            # through getsockopt and costs 3 µs a message against 1 (bench/RESULTS.md, issue 19). The
            # ROUTER puts the routing id first; the rest of a message is there once its first part is.
            try:
                routing_id = recv(_NOBLOCK)
            except zmq.Again:
                return
            frame = recv(_NOBLOCK, copy=False)
            parts = [frame]
            while frame.more:
                frame = recv(_NOBLOCK, copy=False)
                parts.append(frame)
            member, connection, fd = _peer(frame, gateway.connections.by_routing_id.get(routing_id))
            gateway.receive(routing_id, [p.bytes for p in parts], member, now, connection, fd)
            count = frames[routing_id] = frames.get(routing_id, 0) + 1
            if count >= per_connection:
                return

    def _closed_connections(self, now: int) -> None:
        """Every closed order-entry connection the monitor reported: its session is lost now."""
        monitor = self.order_entry_monitor
        while cast(int, monitor.get(zmq.EVENTS)) & _POLLIN:  # no Poller built per call, as poll() would
            event = parse_monitor_message(monitor.recv_multipart())
            if event["event"] == zmq.EVENT_DISCONNECTED:
                self.gateway.connection_closed(int(event["value"]), now)

    def _wait_ms(self) -> int:
        now = self.monotonic()
        waits = [_MAX_WAIT_MS * _NS_PER_MS, max(0, self._next_md_heartbeat - now)]
        for wait in (self.gateway.next_tick_ns(now), self.publisher.next_due_ns(now), self._until_schedule()):
            if wait is not None:
                waits.append(wait)
        return max(0, min(waits) // _NS_PER_MS)

    # ------------------------------------------------------------------ the scheduler
    def _scheduled(self) -> list[Submission]:
        return [] if self.demo or self.gateway.stopping else self.schedule.due()

    def _until_schedule(self) -> int | None:
        return None if self.demo else self.schedule.wait_ns()

    # ------------------------------------------------------------------ sequencing
    def _sequence(self, work: Sequence[Submission]) -> None:
        """Journal and apply the work in order: plain submissions together, atomic ones alone."""
        batch: list[Submission] = []
        for submission in work:
            if not submission.routing_id and not _own_commands_valid(submission.commands):
                self.schedule.dropped(submission)  # logged; asked for again, it would be every turn
                continue
            if submission.atomic:
                self._apply(batch)
                batch = []
                self._apply_atomic(submission)
            else:
                batch.append(submission)
        self._apply(batch)

    def _apply(self, batch: Sequence[Submission], ts: int | None = None) -> None:
        """Journal and apply ``batch`` as one, stamped ``ts`` (None: the sequencer reads its clock)."""
        commands = [c for s in batch for c in s.commands]
        if not batch:
            return
        if not all(map(_ORDER_COMMANDS.__contains__, map(type, commands))):
            self.schedule.market_may_change()  # the day, its session or an auction may change
        origins = [(s.member, s.request_id) for s in batch for _ in s.commands]
        try:
            # Checked: the gateway decoded each client's commands with their bounds, and the node's own
            # were checked in ``_sequence``.
            sequencer = self.state.sequencer
            outcomes = sequencer.submit_batch(commands, origins, checked=True, ts=ts) if commands else []
        except OSError as exc:
            # The tail of the journal on disk is unknown: acknowledging anything now could lie.
            _log.critical("journal.append_failed", error=str(exc), commands=len(commands))
            raise NodeError(f"{self.data_dir}: journal write failed ({exc}); stopped without acknowledging") from exc
        first_seq = self.state.journal.last_seq - len(commands) + 1
        self._log_internal_errors(commands, first_seq)
        if len(batch) > 1:
            outcomes = list(outcomes)  # one list per command once, then each submission's is a plain slice
        # Every submission's reports first: an end of day's snapshot below covers the whole batch
        # (the journal's last seq), so the reports saved with it must too.
        index = 0
        for submission in batch:
            n = len(submission.commands)
            seqs = list(range(first_seq + index, first_seq + index + n))
            self._report(submission, outcomes[index : index + n], seqs)
            self.schedule.answered(submission, outcomes[index : index + n], seqs)
            index += n
        closing = [i for i, command in enumerate(commands) if type(command) is EndOfDay]
        index = published = 0
        for submission in batch:
            n = len(submission.commands)
            index += n
            if closing and closing[0] < index:  # the submission holds an EndOfDay
                # Market data takes the day's last events before the day is closed behind them.
                self._publish(batch, outcomes[published:index], published)
                published = index
                self._end_of_day(submission, outcomes[index - n : index])
                closing = [i for i in closing if i >= index]
        self._publish(batch, outcomes[published:], published)

    def _log_internal_errors(self, commands: Sequence[Command], first_seq: int) -> None:
        """One critical line, with the traceback, per command the engine failed on (a defect).

        The engine has already rejected it INTERNAL_ERROR, halted the market and checked
        conservation (``Exchange._failed``); the node goes on serving queries, cancels and the
        regulator, who resumes the market once the cause is understood.
        """
        for failure in self.exchange.take_failures():
            index = next((i for i, c in enumerate(commands) if c is failure.command), None)
            _log.critical(
                "engine.internal_error",
                command=type(failure.command).__name__,
                journal_seq=None if index is None else first_seq + index,
                exception=type(failure.exception).__name__,
                conservation_ok=failure.conservation_ok,
                exc_info=failure.exception,
            )

    def _report(self, submission: Submission, outcomes: Sequence[list[Event]], seqs: Sequence[int]) -> None:
        """The submission's execution reports and its Ack (``Gateway.applied``)."""
        try:
            self.gateway.applied(submission, outcomes, seqs)
        except Exception as exc:  # a defect in reporting: the commands are journaled and applied; go on
            _report_failed(submission, exc)

    def _publish(self, batch: Sequence[Submission], outcomes: Sequence[list[Event]], first: int) -> None:
        """Market data from the events of a run of the batch's commands (from command ``first``), at once.

        Once per batch, not per submission: a turn of single orders is hundreds of submissions, and
        each call costs the publisher its set-up (bench/RESULTS.md, issue 19).
        """
        if not outcomes:
            return
        try:
            self.publisher.on_batch(outcomes)
        except Exception as exc:  # a defect in market data: the commands are journaled and applied; go on
            index = 0
            for submission in batch:  # the first submission of the run names the failure
                index += len(submission.commands)
                if index > first:
                    _report_failed(submission, exc)
                    return

    def _end_of_day(self, submission: Submission, outcomes: Sequence[list[Event]]) -> None:
        for command, events in zip(submission.commands, outcomes, strict=True):
            if type(command) is EndOfDay:
                self.state.end_of_day(events)

    def _apply_atomic(self, submission: Submission) -> None:
        """A regulator's all-or-nothing batch (a registry file, a day's step): rehearsed on a copy first.

        The rehearsal runs at the exchange time the sequencer then stamps on the batch, so the batch
        journaled is the batch that was judged, to the nanosecond. A dry run, or a batch the exchange
        would reject any command of, is answered with the rehearsal and never journaled.
        """
        ts = self.state.sequencer.clock()
        rehearsal = self.exchange.rehearse(submission.commands, ts)
        if not rehearsal.accepted or submission.dry_run:
            rejections = [BatchRejection(index=r.index, code=r.code, text=r.text) for r in rehearsal.rejections]
            events = cast(list[list[AnyEvent]], rehearsal.events)
            self.gateway.rehearsed(
                submission, Rehearsal(request_id=submission.request_id, events=events, rejections=rejections)
            )
            return
        self._apply([submission], ts)

    # ------------------------------------------------------------------ sending
    def _flush(self, now: int) -> None:
        self._closed_connections(now)  # right before sending: nothing goes to a connection that has closed
        full = 0
        send = self.order_entry.send
        for routing_id, frame in self.gateway.take_outbox():
            try:
                send(routing_id, _MORE_NOBLOCK)  # int flags: pyzmq's enum arithmetic costs more than the send
                send(frame, _NOBLOCK)
            except zmq.Again:  # the peer does not read (its queue is full): its reports stay kept for a resend
                full += 1
            except zmq.ZMQError:  # a client that closed right after its last request (a logout): nothing is lost
                pass
        if full:
            _log.warning("gateway.send_dropped", reason="peers' queues full", frames=full)  # one line a turn
        self.drop_copy_subscriptions.refresh()
        if self.drop_copy_subscriptions.wants(DROP_COPY):
            for copy in self.gateway.take_drop_copies():
                self.drop_copy.send(DROP_COPY_TOPIC, _MORE)
                self.drop_copy.send(encoder.encode(copy))
        else:
            self.gateway.discard_drop_copies()
        self.md_subscriptions.refresh()
        for topic, payload in self.publisher.drain(now, self.md_subscriptions.wants):
            self.md_pub.send(topic, _MORE)
            self.md_pub.send(payload)
        if now >= self._next_md_heartbeat:
            self.md_pub.send_multipart(list(self.publisher.heartbeat(self.clock())))
            self._next_md_heartbeat = now + self.options.market_data.heartbeat_ms * _NS_PER_MS

    # ------------------------------------------------------------------ stop
    def _shutdown(self) -> None:
        """Stop intake, answer what was received, flush, snapshot, close."""
        self.gateway.shutdown()
        self._sequence(self.gateway.take_work())
        now = self.monotonic()
        self._drain_order_entry(now)  # what arrived meanwhile is refused with NODE_STOPPING
        self._sequence(self.gateway.take_work())
        self.gateway.log_out_everyone()
        self._flush(now)
        path = self.state.snapshot()
        _log.info("node.stopped", snapshot=str(path) if path else None, last_seq=self.state.journal.last_seq)
        self.close()

    def close(self) -> None:
        if self.endpoints is not None:
            (self.data_dir / ENDPOINTS_FILE).unlink(missing_ok=True)
        context, self._context = self._context, None
        if context is not None:
            self.order_entry.disable_monitor()
            self.order_entry_monitor.close(linger=0)
            for socket in (self.order_entry, self.drop_copy, self.md_pub, self.snapshot, self.zap_socket):
                socket.close(linger=1_000)
        # The journal and its lock first: ending the context may be given up (gateway.contexts).
        self.state.close()
        if context is not None:
            terminate(context)


def _own_commands_valid(commands: Sequence[Command]) -> bool:
    """The node's own commands (scheduler, cancel-on-disconnect) break no bound; one that does is a
    defect: it is logged and dropped, never journaled."""
    try:
        check_commands(commands)
    except InvalidCommand as exc:
        _log.critical("node.command_invalid", error=str(exc))
        return False
    return True


def _report_failed(submission: Submission, exc: Exception) -> None:
    _log.error(
        "node.report_failed",
        member=submission.member,
        request_id=submission.request_id,
        error_type=type(exc).__name__,
        error=str(exc)[:200],
        exc_info=exc,
    )


def _peer(frame: zmq.Frame, known: Connection | None) -> tuple[str, int, int]:
    """Who sent a frame: the CURVE key's member, the ZAP handler's connection number, the socket.

    A connection's key and socket do not change: when the frame's number is the one the gateway
    knows on its routing id, they are taken from there (a property lookup each costs a call into
    libzmq per frame)."""
    try:
        connection = int(frame.get(_CONNECTION))
        if known is not None and known.id == connection:
            return known.member, connection, known.fd
        return str(frame.get("User-Id")), connection, int(frame.get(zmq.SRCFD))
    except (zmq.ZMQError, ValueError):  # a property libzmq does not have for this frame
        return "", 0, -1


def transport_limit(gateway: GatewayOptions) -> int:
    """The size above which libzmq drops a frame and its connection unread: twice the gateway's limit,
    so a frame a little too large is refused with MESSAGE_TOO_LARGE and anything far larger costs nothing."""
    return 2 * gateway.max_frame_bytes


def inbound_frames(gateway: GatewayOptions) -> int:
    """ZMQ_RCVHWM for order entry: the per-connection byte budget in frames of the largest size read."""
    return max(1, gateway.inbound_queue_bytes // transport_limit(gateway))


def _bind(socket: zmq.Socket[bytes], endpoint: str) -> str:
    try:
        socket.bind(endpoint)
    except zmq.ZMQError as exc:
        reason = "address in use (is another carbonx node running?)" if exc.errno == zmq.EADDRINUSE else exc.strerror
        raise NodeError(f"{endpoint}: cannot bind: {reason}") from None
    return str(socket.getsockopt_string(zmq.LAST_ENDPOINT))
