"""What ``carbonx serve`` shows while the fast book's kernels compile on a first start.

The kernels are compiled once after an install or a change of their sources, then loaded from
numba's cache (``engine.listing.fast.jit``). The compile takes a while on a small machine, so the node
counts the kernels as numba finishes each (its ``numba:compile`` events) and shows how many of
how many are done and the time so far. The kernels counted are the project's compiled functions
(``engine.listing.fast``, ``settlement.arrays``) less those numba inlines into their callers, which it never
compiles on their own: ``engine.listing.fast.warm.load_kernels`` compiles every other one.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from numba.core import event
from numba.core.registry import CPUDispatcher

import engine.listing.fast

# Measured on the project's 2-core machine, numba's cache emptied (a temporary NUMBA_CACHE_DIR), from
# start to "ready": 29-33 s with a core to itself (also two cold starts side by side), 51-53 s for
# each of three cold starts side by side. The 70 s of the report did not repeat on a quiet
# machine; cores shared with other work give such figures, so the estimate spans them.
ESTIMATE = "30 to 70 s on 2 cores, the more the busier they are"
KERNEL_MODULES = ("settlement.kernels",)  # the ledger's numba form: its kernels that are not inlined


def kernels() -> frozenset[CPUDispatcher]:
    """The functions numba compiles on their own for the fast book."""
    names = [f"engine.listing.fast.{module.name}" for module in pkgutil.iter_modules(engine.listing.fast.__path__)]
    found: set[CPUDispatcher] = set()
    for name in [*names, *KERNEL_MODULES]:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                isinstance(value, CPUDispatcher)
                and value.py_func.__module__ == name
                and value.targetoptions.get("inline") != "always"
            ):
                found.add(value)
    return frozenset(found)


class _Counter(event.Listener):
    """Counts the kernels numba has finished compiling (each once, whatever its signatures)."""

    def __init__(self, kernels: frozenset[CPUDispatcher], counted: Callable[[], None]) -> None:
        self.kernels, self.counted = kernels, counted
        self.done: set[CPUDispatcher] = set()

    def on_start(self, _event: event.Event) -> None:
        pass

    def on_end(self, finished: event.Event) -> None:
        dispatcher = finished.data["dispatcher"]
        if dispatcher in self.kernels and dispatcher not in self.done:
            self.done.add(dispatcher)
            self.counted()


@contextmanager
def compile_progress(out: TextIO, cached: bool) -> Iterator[None]:
    """Around loading the kernels: nothing when they are cached, else the compile's progress.

    A line says what happens and how long it takes; on a terminal a short line under it counts the
    kernels in place as each is done (and the seconds, every second); a line after says how long it took.
    """
    if cached:
        yield
        return
    wanted = kernels()
    terminal = out.isatty()
    writing, stopped = threading.Lock(), threading.Event()
    start = time.monotonic()
    intro = f"compiling the matching kernels (first start after an install or upgrade only): {ESTIMATE}"

    def show() -> None:
        with writing:
            if terminal and not stopped.is_set():
                done = len(counter.done)
                out.write(f"\r  {done}/{max(len(wanted), done)} kernels compiled, {time.monotonic() - start:.0f} s")
                out.flush()

    def tick() -> None:
        while not stopped.wait(1.0):
            show()

    counter = _Counter(wanted, show)
    ticker = threading.Thread(target=tick, name="kernel-compile-progress", daemon=True)
    print(intro, file=out, flush=True)
    if terminal:  # one short line, rewritten in place: it must not wrap
        show()
        ticker.start()
    try:
        with event.install_listener("numba:compile", counter):
            yield
    finally:
        with writing:
            stopped.set()
            if terminal:
                out.write("\r\033[K")
                out.flush()
        if terminal:
            ticker.join()
    seconds = time.monotonic() - start
    count = len(counter.done)
    print(f"  compiled {count} kernel{'' if count == 1 else 's'} in {seconds:.0f} s; later starts load them", file=out)
    out.flush()
