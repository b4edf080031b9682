"""carbonx.subscriptions: what the subscribers of an XPUB asked for, read before each send, so the node
builds nothing nobody would receive and everything somebody would."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import zmq

from carbonx.subscriptions import Subscriptions

pytestmark = pytest.mark.not_per_book  # no exchange here

Context = zmq.Context[zmq.Socket[bytes]]


@pytest.fixture
def context() -> Iterator[Context]:
    context: Context = zmq.Context()
    yield context
    context.destroy(linger=0)


def _xpub(context: Context) -> tuple[zmq.Socket[bytes], str]:
    xpub = context.socket(zmq.XPUB)
    xpub.bind("tcp://127.0.0.1:*")
    return xpub, xpub.getsockopt_string(zmq.LAST_ENDPOINT)


def _until(subscriptions: Subscriptions, topic: str, wanted: bool) -> None:
    """Refresh until ``wants(topic)`` is ``wanted``: the (un)subscription travels over tcp."""
    deadline = time.monotonic() + 5
    while True:
        subscriptions.socket.poll(50, zmq.POLLIN)
        subscriptions.refresh()
        if subscriptions.wants(topic) is wanted:
            return
        assert time.monotonic() < deadline, f"wants({topic!r}) never became {wanted}"


def test_nothing_is_wanted_before_anyone_subscribes(context: Context) -> None:
    xpub, _ = _xpub(context)
    subscriptions = Subscriptions(xpub)

    subscriptions.refresh()

    assert not subscriptions.wants("dropcopy") and not subscriptions.wants("trade.SHEA2025")


def test_a_prefix_covers_the_topics_it_starts(context: Context) -> None:
    xpub, endpoint = _xpub(context)
    subscriptions = Subscriptions(xpub)
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"trade.")
    sub.connect(endpoint)

    _until(subscriptions, "trade.SHEA2025", True)

    assert subscriptions.wants("trade.CCER")
    assert not subscriptions.wants("quote.SHEA2025")
    # What the XPUB then sends on a wanted topic reaches the subscriber.
    xpub.send_multipart([b"trade.SHEA2025", b"payload"])
    assert sub.poll(5_000) and sub.recv_multipart() == [b"trade.SHEA2025", b"payload"]


def test_an_empty_prefix_wants_everything_until_its_subscriber_leaves(context: Context) -> None:
    xpub, endpoint = _xpub(context)
    subscriptions = Subscriptions(xpub)
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(endpoint)
    _until(subscriptions, "dropcopy", True)

    sub.close(linger=0)  # a subscriber that goes away unsubscribes from everything

    _until(subscriptions, "dropcopy", False)
    assert subscriptions.prefixes == set()


def test_a_subscriber_sending_ever_new_prefixes_cannot_grow_the_table(context: Context) -> None:
    xpub, endpoint = _xpub(context)
    subscriptions = Subscriptions(xpub, max_prefixes=3)
    sub = context.socket(zmq.SUB)
    sub.connect(endpoint)
    for n in range(10):
        sub.setsockopt(zmq.SUBSCRIBE, b"junk.%d" % n)

    _until(subscriptions, "trade.SHEA2025", True)  # past the cap, everything is built, as for a PUB

    assert len(subscriptions.prefixes) == 3
    assert subscriptions.saturated
