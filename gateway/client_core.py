"""The member SDK's logic without I/O: request ids, answers, execution-report numbering and gaps.

``MemberClient`` (blocking) and ``AsyncMemberClient`` (asyncio) feed every frame they receive to
``ClientCore.receive`` and ask it what to send; they differ only in how they wait.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import msgspec

from engine.messages import Event
from gateway.protocol import (
    Ack,
    ExecutionReport,
    Heartbeat,
    LoggedOut,
    Refused,
    Reports,
    ResendEnd,
    ResendRequest,
    ServerMessage,
    WireMessage,
    encoder,
    server_decoder,
)


class _Envelope(msgspec.Struct):
    """What every frame has, readable whatever else a newer gateway put in it."""

    type: str
    seq: int = 0
    request_id: int = 0


class _RawReports(msgspec.Struct):
    """A ``Reports`` frame whose items are left encoded: each is a whole frame of its own."""

    reports: list[msgspec.Raw] = []
    acks: list[msgspec.Raw] = []


_envelope_decoder = msgspec.msgpack.Decoder(_Envelope)
_raw_reports_decoder = msgspec.msgpack.Decoder(_RawReports)
_KEEP_REPORTS = 100_000  # received reports kept to assemble results (a result names a range of them)


@dataclass
class Result:
    """The outcome of a request: its ``Ack`` and the execution reports it caused, or a ``Refused``."""

    request_id: int
    refused: Refused | None = None
    journal_seq: int = 0
    duplicate: bool = False
    reports: list[ExecutionReport] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        return [r.event for r in self.reports]

    @property
    def accepted(self) -> bool:
        """Sequenced (which says nothing of the engine's verdict: read ``events`` for rejects)."""
        return self.refused is None


class ClientCore:
    def __init__(self) -> None:
        self.next_request_id = 1
        self.expected_report = 1  # the next report number this client has not yet seen
        self.answers: dict[int, WireMessage] = {}
        self.unsolicited: list[ExecutionReport] = []  # in number order, for ``poll``
        self._received: OrderedDict[int, ExecutionReport] = OrderedDict()
        self._held: dict[int, ExecutionReport] = {}  # arrived ahead of a gap
        self._resend_asked_to = 0
        self.outgoing: list[bytes] = []
        self.logged_out: LoggedOut | None = None
        self.server_last_report = 0
        self.skipped_reports: list[int] = []  # reports of a newer protocol this SDK could not read
        self.unreadable_answers: set[int] = set()

    def request_id(self) -> int:
        rid = self.next_request_id
        self.next_request_id += 1
        return rid

    def encode(self, message: msgspec.Struct) -> bytes:
        return encoder.encode(message)

    def start_after(self, last_report_seq: int) -> None:
        """After a logon without resend: the numbering continues after the server's last report."""
        self.expected_report = max(self.expected_report, last_report_seq + 1)

    # ------------------------------------------------------------------ incoming
    def receive(self, frame: bytes) -> ServerMessage | None:
        try:
            message = server_decoder.decode(frame)
        except msgspec.DecodeError:
            self._unreadable(frame)
            return None
        if isinstance(message, ExecutionReport):
            self._report(message)
        elif isinstance(message, Reports):
            # A session with batch_reports: the reports one by one, then the acks (PROTOCOL.md §4.17).
            for report in message.reports:
                self._report(report)
            for ack in message.acks:
                self.answers[ack.request_id] = ack
        elif isinstance(message, Heartbeat):
            self.server_last_report = message.last_report_seq
            if message.last_report_seq >= self.expected_report:
                self._ask_resend(message.last_report_seq + 1)  # the newest reports were lost on the way
        elif isinstance(message, LoggedOut):
            self.logged_out = message
            if message.request_id:
                self.answers[message.request_id] = message
        elif isinstance(message, ResendEnd) and message.request_id == 0:
            self._resend_page_ended(message)
        elif isinstance(message, Refused) and message.request_id == 0:
            # A resend of ours was refused (throttled, or gone): the gap may be asked for again later.
            self._resend_asked_to = self.expected_report - 1
        else:
            request_id = getattr(message, "request_id", 0)
            self.answers[request_id] = message
        return message

    def _unreadable(self, frame: bytes) -> None:
        """A frame a newer gateway may send (a new event, code or message type) that this SDK cannot read.

        Its number still counts: a report we cannot read is passed over, so the numbering goes on and
        no resend is asked for (it would bring back the same unreadable frame).
        """
        try:
            envelope = _envelope_decoder.decode(frame)
        except msgspec.DecodeError:
            return
        if envelope.type == "Reports":
            # One unreadable report must not hide the others: each item is a frame of its own.
            try:
                batch = _raw_reports_decoder.decode(frame)
            except msgspec.DecodeError:
                return
            for item in [*batch.reports, *batch.acks]:
                self.receive(bytes(item))
            return
        if envelope.type == "ExecutionReport" and envelope.seq == self.expected_report:
            self.expected_report += 1
            self.skipped_reports.append(envelope.seq)
            while self.expected_report in self._held:
                self._accept(self._held.pop(self.expected_report))
        elif envelope.type not in ("ExecutionReport", "Heartbeat") and envelope.request_id:
            self.unreadable_answers.add(envelope.request_id)

    def _report(self, report: ExecutionReport) -> None:
        self._received[report.seq] = report
        while len(self._received) > _KEEP_REPORTS:
            self._received.popitem(last=False)
        if report.seq < self.expected_report:
            return  # a resent copy of one we have
        if report.seq > self.expected_report:
            self._held[report.seq] = report
            self._ask_resend(min(self._held))  # the gap below the reports held; those above are here
            return
        self._accept(report)
        while self.expected_report in self._held:
            self._accept(self._held.pop(self.expected_report))

    def _accept(self, report: ExecutionReport) -> None:
        self.expected_report = report.seq + 1
        self.unsolicited.append(report)

    def _resend_page_ended(self, end: ResendEnd) -> None:
        """A resend of ours (request id 0) sent one page: ask for the next while the range asked has more."""
        if end.more:
            request = ResendRequest(request_id=0, from_seq=end.last_seq + 1, to_seq=end.to_seq)
            self.outgoing.append(encoder.encode(request))
        elif end.last_seq < self._resend_asked_to:
            self._resend_asked_to = max(end.last_seq, self.expected_report - 1)  # nothing more there to ask

    def _ask_resend(self, up_to_exclusive: int) -> None:
        if up_to_exclusive - 1 <= self._resend_asked_to:
            return
        self._resend_asked_to = up_to_exclusive - 1
        request = ResendRequest(request_id=0, from_seq=self.expected_report, to_seq=up_to_exclusive - 1)
        self.outgoing.append(encoder.encode(request))

    # ------------------------------------------------------------------ answers
    def result(self, request_id: int) -> Result | None:
        """The request's result once its answer arrived (None: still waiting)."""
        answer = self.answers.get(request_id)
        if answer is None:
            return None
        if isinstance(answer, Refused):
            del self.answers[request_id]
            return Result(request_id=request_id, refused=answer)
        if isinstance(answer, Ack):
            span = range(answer.first_report, answer.first_report + answer.report_count)
            if any(seq not in self._received for seq in span):
                self._ask_resend(span[-1] + 1)
                if answer.first_report < self.expected_report:
                    # Reports we passed over are gone from the buffer: ask for exactly those.
                    self.outgoing.append(encoder.encode(ResendRequest(request_id=0, from_seq=span[0], to_seq=span[-1])))
                return None
            del self.answers[request_id]
            reports = [self._received[seq] for seq in span]
            return Result(
                request_id=request_id,
                journal_seq=answer.journal_seq,
                duplicate=answer.duplicate,
                reports=reports,
            )
        return None

    def answer(self, request_id: int) -> WireMessage | None:
        return self.answers.pop(request_id, None)

    def received(self, first: int, last: int) -> list[ExecutionReport]:
        """The reports ``first`` .. ``last`` received (live or resent) and still held, in number order;
        one this SDK could not read is passed over."""
        found = self._received
        return [found[seq] for seq in range(first, last + 1) if seq in found]

    def take_unsolicited(self) -> list[ExecutionReport]:
        reports, self.unsolicited = self.unsolicited, []
        return reports

    def take_outgoing(self) -> list[bytes]:
        outgoing, self.outgoing = self.outgoing, []
        return outgoing
