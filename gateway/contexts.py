"""Ending a ZeroMQ context without letting libzmq hold the process that ends it.

``Context.term`` returns once libzmq has closed every socket of the context, each after its
linger (1 s at most here). It has been seen to wait on after every socket was closed: in a CI run
the node sat in ``Context.term`` for 60 s after SIGTERM, its sockets closed and its snapshot
written, and went on at once when a signal (the tests' SIGUSR1 for its stacks) interrupted the
wait (bench/RESULTS.md, issue 19, fifth session). The callers close their sockets and their own
state first, so a term that has not returned in time is given up: the process goes on to exit,
and the system closes what is left. The asyncio client waits in a thread (``asyncio.to_thread``):
its event loop goes on meanwhile.
"""

from __future__ import annotations

import threading
from typing import Any

import structlog
import zmq

TERM_TIMEOUT_S = 5.0  # five times the longest linger of a socket here

_log = structlog.get_logger("carbonx.zmq")


def terminate(context: zmq.Context[Any], timeout: float = TERM_TIMEOUT_S) -> bool:
    """``context.term()``, waited for at most ``timeout`` seconds: True when it returned, False (with a
    warning) when it was given up. What ``term`` raises is raised here."""
    failures: list[BaseException] = []

    def term() -> None:
        try:
            context.term()
        except BaseException as exc:  # handed to the caller's thread
            failures.append(exc)

    # A daemon thread: one still waiting in libzmq does not keep the interpreter from exiting.
    ending = threading.Thread(target=term, name="zmq-context-term", daemon=True)
    ending.start()
    ending.join(timeout)
    if ending.is_alive():
        _log.warning("zmq.context_term_timeout", seconds=timeout)
        return False
    if failures:
        raise failures[0]
    return True
