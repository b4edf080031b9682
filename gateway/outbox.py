"""What the gateway has for its clients in one turn of the node: frames, each for a connection.

A frame leaves only if its connection is still the one on its routing id when the node sends
(gateway.connections). A session that logged on with ``batch_reports`` has its live execution
reports and acks gathered into one ``Reports`` frame per turn (PROTOCOL.md §4.17); that frame is
closed — queued in order — before anything else goes to the same routing id, when it holds
``MAX_BATCH_REPORTS`` reports, and at the end of the turn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from gateway.protocol import Ack, ExecutionReport, Reports, encoder

MAX_BATCH_REPORTS = 4_096  # execution reports per Reports frame (PROTOCOL.md §4.17)


@dataclass
class _Batch:
    """A ``Reports`` frame being filled for one connection during a turn."""

    connection: int
    reports: list[ExecutionReport] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)


class Outbox:
    def __init__(self) -> None:
        self.frames: list[tuple[bytes, int, bytes]] = []  # routing id, connection, frame
        self._batches: dict[bytes, _Batch] = {}

    def send(self, routing_id: bytes, connection: int, message: msgspec.Struct) -> None:
        """Queue a message for ``connection`` on ``routing_id``, after its Reports frame so far."""
        if routing_id in self._batches:
            self.close(routing_id)
        self.frames.append((routing_id, connection, encoder.encode(message)))

    def send_frame(self, routing_id: bytes, connection: int, frame: bytes) -> None:
        """An encoded frame (the same report to several sessions is encoded once)."""
        if routing_id in self._batches:
            self.close(routing_id)
        self.frames.append((routing_id, connection, frame))

    def reports(self, routing_id: bytes, connection: int, reports: list[ExecutionReport]) -> None:
        """Into the connection's Reports frame of this turn, in order; each frame that fills up is
        closed, and the rest goes into the next one."""
        start = 0
        while start < len(reports):
            batch = self._batch(routing_id, connection)
            room = MAX_BATCH_REPORTS - len(batch.reports)
            batch.reports += reports[start : start + room] if start or room < len(reports) else reports
            start += room
            if len(batch.reports) >= MAX_BATCH_REPORTS:  # a bounded frame; the turn's next ones follow
                self.close(routing_id)

    def ack(self, routing_id: bytes, connection: int, ack: Ack) -> None:
        self._batch(routing_id, connection).acks.append(ack)

    def close(self, routing_id: bytes) -> None:
        batch = self._batches.pop(routing_id)
        frame = encoder.encode(Reports(reports=batch.reports, acks=batch.acks))
        self.frames.append((routing_id, batch.connection, frame))

    def discard(self, routing_id: bytes, connection: int) -> None:
        """The connection closed: its Reports frame of this turn goes nowhere."""
        batch = self._batches.get(routing_id)
        if batch is not None and batch.connection == connection:
            del self._batches[routing_id]

    def take(self, live: Callable[[bytes, int], bool]) -> list[tuple[bytes, bytes]]:
        """Every frame of the turn, as (routing id, frame), whose connection ``live`` says is still there."""
        for routing_id in list(self._batches):
            self.close(routing_id)
        frames, self.frames = self.frames, []
        return [(rid, frame) for rid, connection, frame in frames if live(rid, connection)]

    def _batch(self, routing_id: bytes, connection: int) -> _Batch:
        batch = self._batches.get(routing_id)
        if batch is None:
            batch = self._batches[routing_id] = _Batch(connection)
        return batch
