"""The live stream's fan-out: each browser's queue of Server-Sent Events, on the event loop.

The bridge hands every batch to ``Hub.publish`` (through ``loop.call_soon_threadsafe``, in the order
the bridge made them). A browser that joins gets the whole state at a version, then only the
batches after that version. Memory is bounded whatever the browsers do: a browser more than
``max_queued_bytes`` behind (a slow or stalled reader) loses its queue and gets the whole state
again when it next reads, as one that just joined; at most ``max_clients`` streams are open at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

PING = b": ping\n\n"


class Client:
    """One browser's stream: what it has not read yet."""

    __slots__ = ("behind", "chunks", "queued", "version", "wake")

    def __init__(self, version: int, first: bytes) -> None:
        self.version = version  # the version its page holds (or will, once it reads what is queued)
        self.chunks: deque[bytes] = deque([first])
        self.queued = len(first)
        self.behind = False  # its queue overflowed: send the whole state next
        self.wake = asyncio.Event()
        self.wake.set()


class Hub:
    def __init__(
        self, document: Callable[[], tuple[int, bytes]], *, max_clients: int = 1_000, max_queued_bytes: int = 8 << 20
    ) -> None:
        """``document()``: the whole state as an SSE event and its version (``Bridge.document``)."""
        self._document = document
        self.max_clients = max_clients
        self.max_queued_bytes = max_queued_bytes
        self.clients: set[Client] = set()
        self.resets = 0  # streams that fell behind and were sent the whole state again

    def join(self) -> Client | None:
        """A new stream, its first event the whole state; None when ``max_clients`` are open."""
        if len(self.clients) >= self.max_clients:
            return None
        version, whole = self._document()
        client = Client(version, whole)
        self.clients.add(client)
        return client

    def leave(self, client: Client) -> None:
        self.clients.discard(client)

    def publish(self, version: int, chunk: bytes, whole: bool) -> None:
        """A batch of changes (``whole`` False) or a whole new state, at ``version``."""
        for client in self.clients:
            if client.behind or version <= client.version:
                continue  # the state it has (or will get) already holds this batch
            if whole:
                client.chunks.clear()
                client.queued = 0
            elif client.queued + len(chunk) > self.max_queued_bytes:
                client.chunks.clear()
                client.queued = 0
                client.behind = True
                self.resets += 1
                client.wake.set()
                continue
            client.chunks.append(chunk)
            client.queued += len(chunk)
            client.version = version
            client.wake.set()

    async def next(self, client: Client, timeout_s: float) -> bytes:
        """What the stream sends next: its queued events, the whole state if it fell behind, or a
        ping after ``timeout_s`` of nothing (so a proxy keeps the connection, and a dead one shows)."""
        if not client.chunks and not client.behind:
            client.wake.clear()
            try:
                await asyncio.wait_for(client.wake.wait(), timeout_s)
            except TimeoutError:
                return PING
        if client.behind:
            client.behind = False
            client.version, whole = self._document()
            return whole
        out = b"".join(client.chunks)
        client.chunks.clear()
        client.queued = 0
        return out
