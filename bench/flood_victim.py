"""The well-behaved member of ``python -m bench.flood``: single orders at a steady rate, each timed to its Ack.

The victim (demo member M101) buys 1 t at 80.00 from its own account A101 and sells 1 t at 80.00
from its client's account A102, alternately: each buy rests and the next sell trades with it, so
the book stays one order deep however long the run. It sends on a fixed schedule whatever the
answers do (open loop), well within its throttle, and times each order from sending to its Ack.
"""

from __future__ import annotations

import select
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import cast

import msgspec
import zmq

from bench.e2e_wire import (
    FIRST_RID,
    INSTRUMENT,
    PERCENTILES,
    Context,
    Figures,
    WireSession,
    percentiles,
    readable,
)
from engine.messages import NewOrder, OrderType, Reject, Side
from gateway.protocol import Submit, encoder

VICTIM, BUYER, SELLER = "M101", "A101", "A102"
_NOBLOCK = int(zmq.NOBLOCK)
VICTIM_PRICE = 8_000  # 80.00: the reference price, inside the band, far above the flooder's 72.00


class _Event(msgspec.Struct):
    type: str = ""


class _Reply(msgspec.Struct):
    type: str = ""
    request_id: int = 0
    code: int = 0
    event: _Event | None = None


_reply_decoder = msgspec.msgpack.Decoder(_Reply)


class Victim:
    """A logged-on member sending one ``Submit`` per order, numbered across the whole run."""

    def __init__(self, context: Context, endpoint: str, keys: Path) -> None:
        self.session = WireSession(context, endpoint, keys, VICTIM)
        self.socket = self.session.socket
        self.orders = 0  # orders sent so far: the next one's number, side and client order id

    def _next(self) -> tuple[int, bytes]:
        n, self.orders = self.orders, self.orders + 1
        order = NewOrder(
            account=SELLER if n % 2 else BUYER,
            instrument=INSTRUMENT,
            client_order_id=f"v{n}",
            side=Side.SELL if n % 2 else Side.BUY,
            order_type=OrderType.LIMIT,
            quantity=1,
            price=VICTIM_PRICE,
        )
        return FIRST_RID + n, encoder.encode(Submit(request_id=FIRST_RID + n, command=order))

    def run(self, rate: int, seconds: float, grace: float, at_end: Callable[[], None]) -> Figures:
        """``rate`` orders a second for ``seconds``; ``at_end`` when the last is sent; answers awaited ``grace`` s."""
        count = max(1, round(rate * seconds))
        frames = [self._next() for _ in range(count)]
        interval, sent, unsent = 1_000_000_000 // rate, 0, 0
        sent_at: dict[int, int] = {}
        lag: list[int] = []
        answers = _Answers()
        fd = cast(int, self.socket.get(zmq.FD))
        start = time.perf_counter_ns() + 5_000_000
        deadline = start + count * interval + int(grace * 1e9)
        ended = False
        while True:
            now = time.perf_counter_ns()
            while sent < count and now >= start + sent * interval:
                rid, frame = frames[sent]
                sent += 1
                try:  # never block: a killed node leaves a socket that would wait forever
                    self.socket.send(frame, _NOBLOCK)
                except zmq.Again:
                    unsent += 1
                    continue
                sent_at[rid] = now = time.perf_counter_ns()
                lag.append(now - (start + (sent - 1) * interval))
            if sent == count and not ended:
                ended = True
                at_end()
            answers.drain(self.socket, sent_at)
            now = time.perf_counter_ns()
            if ended and (answers.settled(sent_at) or now > deadline):
                break
            wait_ns = start + sent * interval - now if sent < count else min(50_000_000, deadline - now)
            select.select([fd], [], [], max(0, wait_ns) / 1e9)
        answered = len(answers.ack_at) + sum(answers.refused.values())
        latencies = [answers.ack_at[r] - sent_at[r] for r in answers.ack_at]
        return {
            "orders": count,
            "acks": len(answers.ack_at),
            "no_ack": count - answered,
            "unsent": unsent,
            "refused": dict(answers.refused),
            "rejected": answers.rejected,
            "fills": answers.fills,
            "ack_us": percentiles(latencies),
            "all_us": over_all_orders(latencies, count - len(latencies)),
            "send_lag_us": percentiles(lag),
        }

    def probe(self, timeout: float) -> int | None:
        """One order; ns to its Ack, or None if none came within ``timeout`` seconds."""
        rid, frame = self._next()
        answers = _Answers()
        sent_at = {rid: time.perf_counter_ns()}
        try:
            self.socket.send(frame, _NOBLOCK)
        except zmq.Again:
            return None
        deadline = sent_at[rid] + int(timeout * 1e9)
        while rid not in answers.ack_at and not answers.refused:
            left = deadline - time.perf_counter_ns()
            if left <= 0 or not self.socket.poll(max(1, left // 1_000_000)):
                return None
            answers.drain(self.socket, sent_at)
        return answers.ack_at[rid] - sent_at[rid] if rid in answers.ack_at else None

    def close(self, node_alive: bool) -> None:
        if node_alive:
            self.session.close()
        else:
            self.socket.close(linger=0)


def over_all_orders(latencies_ns: list[int], unanswered: int) -> dict[str, int | None]:
    """Nearest-rank percentiles (µs) over every order, an order without an Ack ranking last: None where one falls.

    The percentiles of the answered orders alone would hide a node that answered only the first few.
    """
    ordered: list[int | None] = [*sorted(latencies_ns), *[None] * unanswered] or [None]
    picked = {name: ordered[max(0, -(-q * len(ordered) // 1_000) - 1)] for name, q in PERCENTILES}
    picked["max"] = ordered[-1]
    return {name: None if ns is None else (ns + 500) // 1_000 for name, ns in picked.items()}


class _Answers:
    """What came back for the orders of one phase (answers to earlier phases' orders are passed over)."""

    def __init__(self) -> None:
        self.ack_at: dict[int, int] = {}
        self.refused: Counter[str] = Counter()
        self.rejected = self.fills = 0

    def drain(self, sock: zmq.Socket[bytes], sent_at: dict[int, int]) -> None:
        while readable(sock):
            raw = sock.recv()
            at = time.perf_counter_ns()
            reply = _reply_decoder.decode(raw)
            if reply.request_id not in sent_at:
                continue
            if reply.type == "Ack":
                self.ack_at[reply.request_id] = at
            elif reply.type == "Refused":
                self.refused[_code_name(reply.code)] += 1
            elif reply.event is not None and reply.event.type == "OrderRejected":
                self.rejected += 1
            elif reply.event is not None and reply.event.type == "Fill":
                self.fills += 1

    def settled(self, sent_at: dict[int, int]) -> bool:
        return len(self.ack_at) + sum(self.refused.values()) >= len(sent_at)


def _code_name(code: int) -> str:
    try:
        return Reject(code).name
    except ValueError:
        return str(code)
