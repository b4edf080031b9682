"""The live stream's fan-out (web/hub.py): each browser's bounded queue of Server-Sent Events.

A browser joins with the whole state at a version and then gets only the batches after it; one
that falls more than ``max_queued_bytes`` behind is sent the whole state again; at most
``max_clients`` streams are open. ``document()`` is a fake holding the version and bytes a test
sets; everything runs inside ``asyncio.run`` (the hub lives on the server's event loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from web.hub import PING, Client, Hub

TICK = 0.01  # s: a timeout under test (how long ``next`` waits for nothing), not a wait for work


class Document:
    """``Bridge.document``'s stand-in: the whole state as an SSE event, at ``version``."""

    def __init__(self, version: int = 5) -> None:
        self.version = version
        self.calls = 0

    def __call__(self) -> tuple[int, bytes]:
        self.calls += 1
        return self.version, self.whole(self.version)

    @staticmethod
    def whole(version: int) -> bytes:
        return b'event: state\ndata: {"version": %d}\n\n' % version


def changes(version: int) -> bytes:
    return b'event: changes\ndata: {"v": %d, "changes": []}\n\n' % version


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def test_a_stream_starts_with_the_whole_state_then_gets_the_batches_after_it() -> None:
    async def test() -> None:
        document = Document(5)
        hub = Hub(document)
        client = hub.join()
        assert client is not None and client.version == 5

        assert await hub.next(client, TICK) == Document.whole(5)
        hub.publish(6, changes(6), False)
        hub.publish(7, changes(7), False)
        assert await hub.next(client, TICK) == changes(6) + changes(7)
        assert client.version == 7 and hub.clients == {client}

    run(test)


def test_a_batch_the_streams_state_already_holds_is_skipped() -> None:
    async def test() -> None:
        hub = Hub(Document(5))
        client = hub.join()
        assert client is not None
        await hub.next(client, TICK)

        hub.publish(4, changes(4), False)
        hub.publish(5, changes(5), False)
        hub.publish(5, Document.whole(5), True)

        assert await hub.next(client, TICK) == PING
        hub.publish(6, changes(6), False)
        assert await hub.next(client, TICK) == changes(6)

    run(test)


def test_a_whole_state_replaces_what_was_queued() -> None:
    async def test() -> None:
        hub = Hub(Document(5))
        client = hub.join()
        assert client is not None
        hub.publish(6, changes(6), False)

        hub.publish(8, Document.whole(8), True)
        hub.publish(9, changes(9), False)

        assert await hub.next(client, TICK) == Document.whole(8) + changes(9)
        assert (client.version, client.queued) == (9, 0)

    run(test)


def test_a_stream_too_far_behind_gets_the_whole_state_at_its_next_read() -> None:
    async def test() -> None:
        document = Document(5)
        hub = Hub(document, max_queued_bytes=len(Document.whole(5)) + 2 * len(changes(6)))
        slow, other = hub.join(), hub.join()
        assert slow is not None and other is not None
        await hub.next(other, TICK)

        for version in (6, 7, 8):  # the third batch would be beyond the slow stream's bound
            hub.publish(version, changes(version), False)
            assert await hub.next(other, TICK) == changes(version)  # a stream that reads keeps up
        assert slow.behind and hub.resets == 1 and not slow.chunks and slow.queued == 0
        document.version = 9
        hub.publish(9, changes(9), False)  # a stream behind queues nothing more

        assert await hub.next(slow, TICK) == Document.whole(9)
        assert (slow.behind, slow.version, document.calls) == (False, 9, 3)
        hub.publish(10, changes(10), False)
        assert await hub.next(slow, TICK) == changes(10)
        assert await hub.next(other, TICK) == changes(9) + changes(10) and not other.behind
        assert hub.resets == 1

    run(test)


def test_no_more_than_max_clients_streams_are_open() -> None:
    async def test() -> None:
        hub = Hub(Document(), max_clients=2)
        first, second = hub.join(), hub.join()

        assert first is not None and second is not None
        assert hub.join() is None and len(hub.clients) == 2
        hub.leave(first)
        hub.leave(first)  # leaving twice is harmless
        third = hub.join()
        assert isinstance(third, Client) and hub.clients == {second, third}

    run(test)


def test_a_stream_with_nothing_to_say_gets_a_ping_after_the_timeout() -> None:
    async def test() -> None:
        hub = Hub(Document())
        client = hub.join()
        assert client is not None
        await hub.next(client, TICK)

        assert await hub.next(client, TICK) == PING == b": ping\n\n"
        assert await hub.next(client, TICK) == PING

    run(test)


def test_a_waiting_stream_wakes_for_a_batch() -> None:
    async def test() -> None:
        hub = Hub(Document(5))
        client = hub.join()
        assert client is not None
        await hub.next(client, TICK)

        asyncio.get_running_loop().call_soon(hub.publish, 6, changes(6), False)  # while ``next`` waits
        assert await hub.next(client, 5.0) == changes(6)

    run(test)
