"""Ending a ZeroMQ context is bounded (``gateway.contexts.terminate``), and the node closes its
journal before it ends its context."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import zmq
from structlog.testing import capture_logs

from carbonx.config import load_config
from carbonx.node import Node
from gateway.client import AsyncMemberClient
from gateway.contexts import terminate
from tests.node_process import make_config


class StuckContext:
    """A context whose ``term`` waits until released, as libzmq's was seen to."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.called = threading.Event()

    def term(self) -> None:
        self.called.set()
        self.released.wait(30)


class FailingContext:
    def term(self) -> None:
        raise zmq.ZMQError(zmq.EFAULT)


def test_a_context_that_ends_in_time_is_ended() -> None:
    context: zmq.Context[Any] = zmq.Context()
    context.socket(zmq.DEALER).close(linger=0)

    assert terminate(context, timeout=5.0) is True
    assert context.closed


def test_a_term_that_does_not_return_in_time_is_given_up_with_a_warning() -> None:
    stuck = StuckContext()
    began = time.monotonic()
    with capture_logs() as logs:
        ended = terminate(stuck, timeout=0.2)  # type: ignore[arg-type]
    waited = time.monotonic() - began
    stuck.released.set()

    assert ended is False and stuck.called.is_set()
    assert 0.2 <= waited < 5.0
    assert [(entry["event"], entry["seconds"]) for entry in logs] == [("zmq.context_term_timeout", 0.2)]


def test_what_term_raises_is_raised_to_the_caller() -> None:
    with pytest.raises(zmq.ZMQError):
        terminate(FailingContext(), timeout=5.0)  # type: ignore[arg-type]


def test_the_node_closes_its_journal_before_its_context_and_does_not_wait_for_a_stuck_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = Node(load_config(make_config(tmp_path)), tmp_path / "var", demo=True)
    node.bind()  # ports 0: any free ones
    real = node._context
    assert real is not None
    stuck = StuckContext()
    journal_open_at_term: list[bool] = []
    wait = stuck.term

    def stuck_term() -> None:
        journal_open_at_term.append(node.state.journal._fd >= 0)
        wait()

    stuck.term = stuck_term  # type: ignore[method-assign]
    node._context = stuck  # type: ignore[assignment]
    monkeypatch.setattr(terminate, "__defaults__", (0.2,))  # the node's wait, shortened
    began = time.monotonic()
    try:
        with capture_logs() as logs:
            node.close()
        assert time.monotonic() - began < 5.0
        assert journal_open_at_term == [False]  # closed before the context's end began
        assert "zmq.context_term_timeout" in [entry["event"] for entry in logs]
        assert node._context is None
    finally:
        stuck.released.set()
        real.term()  # its sockets were closed by node.close


class _NoKeys:
    def apply(self, socket: object) -> None:
        pass


def test_the_async_client_ends_its_context_without_stopping_its_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(terminate, "__defaults__", (0.5,))  # the client's wait, shortened
    client = AsyncMemberClient("tcp://127.0.0.1:1", "M101", _NoKeys())  # type: ignore[arg-type]
    real, stuck = client.context, StuckContext()
    client.context = stuck  # type: ignore[assignment]

    async def sent(message: object) -> None:  # nobody listens: the Logout goes nowhere
        pass

    client._send = sent  # type: ignore[method-assign]

    async def scenario() -> tuple[list[float], float, float]:
        ticks: list[float] = []

        async def ticker() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(ticker())
        began = time.monotonic()
        await client.close()
        ended = time.monotonic()
        ticking.cancel()
        return ticks, began, ended

    try:
        ticks, began, ended = asyncio.run(scenario())
    finally:
        stuck.released.set()
        real.term()  # its socket was closed by close()
    assert stuck.called.is_set() and 0.5 <= ended - began < 5.0
    # The loop kept turning while the context's end was waited for: ~50 ticks in 0.5 s, not one.
    assert len([t for t in ticks if began < t < ended]) >= 10
