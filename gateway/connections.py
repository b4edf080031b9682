"""Which connection a frame came from, and which connection a frame may go to.

The ROUTER names a peer by its routing id, and a routing id outlives its connection: when a client
sets its own (``ZMQ_ROUTING_ID``) and reconnects, or another client sets the same one after the first
closed, the ROUTER hands the id to the new connection. Traffic routed by id alone would then reach
whoever holds the id now (PROTOCOL.md §1.1). So the gateway knows connections, not routing ids:

- the ZAP handler numbers every connection it admits and gives the number to libzmq as the
  connection's ``X-Connection`` property, which then comes with every frame it sends (``User-Id``,
  the CURVE key's member, comes the same way);
- a frame's routing id, connection number, member and socket (``SRCFD``) are checked against the
  connection known on that routing id: another number means the known connection is gone;
- the node's socket monitor reports each closed socket (``EVENT_DISCONNECTED``, by file descriptor),
  so a connection that closes is forgotten at once, even if its successor on the routing id never
  sends a frame;
- every frame queued for a client is queued for a connection, and leaves only if that connection is
  still the one on its routing id.

A routing id a client chose itself is remembered for a while after its connection closed, with the
member whose key used it: another member's key arriving on it is refused (``ROUTING_ID_IN_USE``).
Ids the ROUTER assigns (5 bytes, the first 0) are never reused, so they need no memory.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from gateway.throttle import TokenBucket

_REMEMBERED = 4_096  # closed connections and client-chosen routing ids kept in mind (FIFO)
_NS_PER_S = 1_000_000_000


@dataclass
class Connection:
    id: int  # the ZAP handler's number (0: unknown, when the frame carried none)
    routing_id: bytes
    member: str  # whose CURVE key it connected with
    fd: int  # its socket, as the monitor names it when it closes (-1: unknown)
    refusals: TokenBucket  # answers to frames it cannot have (refusals): bounded per second
    routing_id_refused: bool = False  # took a routing id another member's key used: refused throughout
    frames_this_turn: int = 0
    withheld: int = 0  # refusals withheld (budget spent) since the last line logged about them
    next_log_ns: int = 0  # when a line about withheld refusals may be logged again
    _closed: bool = field(default=False, repr=False)

    @property
    def closed(self) -> bool:
        return self._closed


def assigned_by_router(routing_id: bytes) -> bool:
    """Ids libzmq's ROUTER assigns are five bytes whose first is 0 (a client may not start one with 0)."""
    return len(routing_id) == 5 and routing_id[0] == 0


class Connections:
    def __init__(self, refusals_per_s: int, refusals_burst: int) -> None:
        self.refusals_per_s, self.refusals_burst = refusals_per_s, refusals_burst
        self.by_routing_id: dict[bytes, Connection] = {}
        self._by_fd: dict[int, Connection] = {}
        self._closed_ids: OrderedDict[int, None] = OrderedDict()
        self._former_owner: OrderedDict[bytes, str] = OrderedDict()  # client-chosen id -> member
        # Connections with refusals withheld and not yet told in a log line, by routing id: what
        # ``Gateway.tick`` looks at each turn (not every connection).
        self.withholding: dict[bytes, Connection] = {}

    def arrive(
        self, routing_id: bytes, connection_id: int, member: str, fd: int, now: int
    ) -> tuple[Connection | None, list[Connection]]:
        """The connection a frame came from, and the connections this frame shows are gone.

        None: the frame comes from a connection already closed (it was queued before it closed):
        nobody is there to answer, and nothing it asks may happen in a session it no longer has.
        """
        gone: list[Connection] = []
        if connection_id and connection_id in self._closed_ids:
            return None, gone
        known = self.by_routing_id.get(routing_id)
        if known is not None and known.id == connection_id and known.member == member:
            if fd >= 0 and known.fd != fd:  # the same connection cannot change sockets; keep the map true
                self._forget_fd(known)
                known.fd = fd
                self._claim_fd(known, gone)
            return known, gone
        if known is not None:
            # Another connection holds the routing id now: the one we knew has closed.
            gone.append(self._close(known))
        connection = Connection(
            id=connection_id,
            routing_id=routing_id,
            member=member,
            fd=fd,
            refusals=TokenBucket(self.refusals_per_s, self.refusals_burst, now),
        )
        former = self._former_owner.get(routing_id)
        if known is not None and known.member != member:
            former = known.member
        connection.routing_id_refused = former is not None and former != member
        self.by_routing_id[routing_id] = connection
        self._claim_fd(connection, gone)
        return connection, gone

    def closed_socket(self, fd: int) -> Connection | None:
        """The monitor says socket ``fd`` closed: its connection, now forgotten (None: none known)."""
        connection = self._by_fd.get(fd)
        if connection is None:
            return None
        return self._close(connection)

    def live(self, routing_id: bytes, connection_id: int) -> bool:
        """Whether a frame queued for connection ``connection_id`` may still go to ``routing_id``."""
        known = self.by_routing_id.get(routing_id)
        return known is not None and known.id == connection_id

    def current_id(self, routing_id: bytes) -> int:
        """The number of the connection on ``routing_id`` (-1: none known: nothing may go there)."""
        known = self.by_routing_id.get(routing_id)
        return -1 if known is None else known.id

    def may_refuse(self, connection: Connection, now: int) -> bool:
        """Whether a refusal may be sent to the connection now (it spends one from its budget)."""
        if connection.refusals.take(1, now):
            return True
        self.withhold(connection)
        return False

    def withhold(self, connection: Connection) -> None:
        """A refusal (or a frame) the connection is not told about: counted for a log line."""
        connection.withheld += 1
        if connection.withheld == 1:  # the first since its last line: a flood's next ones cost no more
            self.withholding[connection.routing_id] = connection

    def take_withheld(self, now: int) -> list[tuple[str, int]]:
        """(member, refusals withheld) for each live connection whose line is due (at most one a second each)."""
        lines: list[tuple[str, int]] = []
        for routing_id, connection in list(self.withholding.items()):
            if self.by_routing_id.get(routing_id) is not connection:
                del self.withholding[routing_id]  # closed, or its routing id taken since: nobody to tell about
            elif now >= connection.next_log_ns:
                lines.append((connection.member, connection.withheld))
                connection.withheld, connection.next_log_ns = 0, now + _NS_PER_S
                del self.withholding[routing_id]
        return lines

    def __len__(self) -> int:
        return len(self.by_routing_id)

    # ------------------------------------------------------------------ internals
    def _claim_fd(self, connection: Connection, gone: list[Connection]) -> None:
        if connection.fd < 0:
            return
        holder = self._by_fd.get(connection.fd)
        if holder is not None and holder is not connection:
            # A socket number is reused only after its connection closed (its close event was lost).
            gone.append(self._close(holder))
        self._by_fd[connection.fd] = connection

    def _forget_fd(self, connection: Connection) -> None:
        if self._by_fd.get(connection.fd) is connection:
            del self._by_fd[connection.fd]

    def _close(self, connection: Connection) -> Connection:
        connection._closed = True
        self._forget_fd(connection)
        if self.by_routing_id.get(connection.routing_id) is connection:
            del self.by_routing_id[connection.routing_id]
        if connection.id:
            _remember(self._closed_ids, connection.id, None)
        if not assigned_by_router(connection.routing_id) and not connection.routing_id_refused:
            _remember(self._former_owner, connection.routing_id, connection.member)
        return connection


def _remember(memory: OrderedDict[bytes, str] | OrderedDict[int, None], key: object, value: object) -> None:
    memory[key] = value  # type: ignore[index,assignment]
    memory.move_to_end(key)  # type: ignore[arg-type]
    while len(memory) > _REMEMBERED:
        memory.popitem(last=False)
