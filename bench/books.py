"""The in-process figures of ``python -m bench``: the peer, the two books and the Python boundary.

Each is timed over the same flow, in the same process, one after the other:
- ``liquibook``: the peer (``bench.peer``);
- ``reference``: ``Exchange.apply`` one command at a time on the reference book, reading each
  command's events for trades and rejects;
- ``kernel``: the fast book from a columnar command batch to its columnar event records,
  ``Exchange.apply_batch`` over batches built beforehand (``Exchange.command_batch``, not timed),
  counting trades and rejects from the records without decoding them;
- ``boundary``: what a Python user of the fast book pays, command objects in and event objects out:
  ``Exchange.command_batch`` + ``apply_batch`` + ``EventBatch.all_events()``, all timed, reading
  each event object for trades and rejects.

The fast book's runs start with the flow once through a throwaway exchange (see ``warm``).
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

import numpy as np

from bench import peer
from bench.flow import FlowOutcome, StandardFlow, apply_flow, make_exchange
from engine.listing.fast.event_columns import E_KIND, EV_ORDER_REJECTED, EV_REQUEST_REJECTED, EV_TRADE, TRADE_QUANTITY
from engine.messages import OrderRejected, RequestRejected, TradeExecuted

FIGURES = ("liquibook", "reference", "kernel", "boundary")


@dataclass(frozen=True)
class Figure:
    name: str
    commands: int
    seconds: float
    outcome: FlowOutcome
    reading: float = 0.0  # the kernel's: of ``seconds``, the consumer's reading of the records

    @property
    def rate(self) -> float:
        return self.commands / self.seconds


def run_peer(flow: StandardFlow) -> tuple[float, FlowOutcome]:
    return peer.run(peer.operations(flow))


def run_reference(flow: StandardFlow) -> tuple[float, FlowOutcome]:
    exchange = make_exchange(flow, book="reference")
    gc.collect()
    started = time.perf_counter()
    outcome = apply_flow(exchange, flow.commands, flow.first_ts)
    return time.perf_counter() - started, outcome


def warm(flow: StandardFlow, batch_size: int, count: int) -> None:
    """The first ``count`` commands through an exchange that is then dropped, outside the measured time.

    It loads the compiled kernels (from numba's cache) and gives this process the memory the timed
    run will use. Memory a process has not used before costs page faults and zeroing at first
    touch, and dearly on this VM (writing a first 64 MiB of np.zeros took 125 ms, the next 64 MiB,
    reusing it, 9 ms): a node pays that once as its arrays fill, and a timed run on fresh arrays
    would pay it all inside the measurement (``--cold-memory`` shows it: ~176 instead of ~95 ns).
    """
    exchange = make_exchange(flow, book="fast")
    ts = range(flow.first_ts, flow.first_ts + count)
    for i in range(0, count, batch_size):
        end = min(i + batch_size, count)
        exchange.apply_batch(exchange.command_batch(flow.commands[i:end], ts[i:end])).all_events()
    del exchange
    gc.collect()  # the exchange holds reference cycles: free its arrays now


def run_kernel(flow: StandardFlow, batch_size: int, warm_memory: bool = True) -> tuple[float, float, FlowOutcome]:
    """The kernel's figure: (seconds in all, of which reading the records, outcome).

    Reading the records is what the consumer of the figure pays to check it: one strided pass
    for the kinds, the trades' rows taken by index. Three boolean passes over the strided kinds
    and a boolean mask cost 25-32 ns a command here, a third of the kernel's own time; this read
    costs 4-6 ns in isolation, ~10 in the loop.
    """
    exchange = make_exchange(flow, book="fast")
    ts = list(range(flow.first_ts, flow.first_ts + len(flow.commands)))
    batches = [
        exchange.command_batch(flow.commands[i : i + batch_size], ts[i : i + batch_size])
        for i in range(0, len(flow.commands), batch_size)
    ]
    warm(flow, batch_size, len(flow.commands) if warm_memory else 64)
    volume = trades = rejected = 0
    reading = 0.0
    started = time.perf_counter()
    for batch in batches:
        records = exchange.apply_batch(batch).records
        read_from = time.perf_counter()
        assert records is not None
        kinds = records[:, E_KIND].copy()  # contiguous: each comparison below then reads 8 bytes a record
        fills = np.flatnonzero(kinds == EV_TRADE)
        volume += int(records[:, TRADE_QUANTITY].take(fills).sum())
        trades += fills.size
        rejected += int(np.count_nonzero((kinds == EV_ORDER_REJECTED) | (kinds == EV_REQUEST_REJECTED)))
        reading += time.perf_counter() - read_from
    elapsed = time.perf_counter() - started
    return elapsed, reading, FlowOutcome(traded_volume=volume, trades=trades, rejected=rejected, first_reject="")


def run_boundary(flow: StandardFlow, batch_size: int, warm_memory: bool = True) -> tuple[float, FlowOutcome]:
    exchange = make_exchange(flow, book="fast")
    commands = flow.commands
    ts = list(range(flow.first_ts, flow.first_ts + len(commands)))
    warm(flow, batch_size, len(commands) if warm_memory else 64)
    volume = trades = rejected = 0
    first_reject = ""
    started = time.perf_counter()
    for i in range(0, len(commands), batch_size):
        batch = exchange.command_batch(commands[i : i + batch_size], ts[i : i + batch_size])
        for events in exchange.apply_batch(batch).all_events():
            for event in events:
                if type(event) is TradeExecuted:
                    volume += event.quantity
                    trades += 1
                elif type(event) is OrderRejected or type(event) is RequestRejected:
                    rejected += 1
                    first_reject = first_reject or event.text
    elapsed = time.perf_counter() - started
    return elapsed, FlowOutcome(traded_volume=volume, trades=trades, rejected=rejected, first_reject=first_reject)


def measure(name: str, flow: StandardFlow, batch_size: int, warm_memory: bool) -> Figure:
    if name == "liquibook":
        seconds, outcome = run_peer(flow)
    elif name == "reference":
        seconds, outcome = run_reference(flow)
    elif name == "kernel":
        seconds, reading, outcome = run_kernel(flow, batch_size, warm_memory)
        return Figure(name, len(flow.commands), seconds, outcome, reading)
    else:
        seconds, outcome = run_boundary(flow, batch_size, warm_memory)
    return Figure(name, len(flow.commands), seconds, outcome)
