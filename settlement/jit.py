"""How the numba kernels are compiled: the ledger's numba form (``settlement.kernels``) and the fast book's.

``kernel``: machine code cached on disk (``cache=True``: a warm start loads it instead of compiling)
and without numba's reference counting (``_nrt=False``). The kernels take every array from their
caller and never allocate, so they need no reference counts, and keeping them would cost more than
the rules themselves: with it, each call between kernels increments and decrements the count of
every array it passes with atomic instructions (measured on this machine: a call passing seven
arrays ran 24 million times per second with counting, 670 million without). Functions that
allocate their result (``engine.listing.fast.ladder.depth``, ``ladder.canonical``) are compiled with
``njit(cache=True)`` and are only called from Python.

``inlined_kernel``: the same, but numba inlines the function's IR into each kernel that calls it
(``inline="always"``) instead of calling it. A call between kernels passes every array as its
exploded struct (data, shapes, strides and more: nine words for a 2-d array) on the stack: a call
passing a dozen arrays is over a hundred stores and loads, more than a whole cancel costs. The
command path of the fast book's ``run_batch`` (new order, cancel, execute, match, trade, the ladder
steps and the ledger's moves under them) is therefore one function; measured on the standard flow
(1M commands in one call, arrays already touched, best of 5): 125 -> 55 ns per command. The price
is compile time: a cold compile of ``run_batch`` takes ~19 s instead of ~8 s, and ~11 s instead of
~3 s more for the batch's other layout (a one-row Fortran-order batch is typed as C-order). Rare
paths (amend, mass cancel, fill-or-kill, conversion) stay calls, and take a command's fields rather
than the batch, so numba compiles them once for either layout.

numba checks a cached kernel against its own source file only; ``engine.listing.fast.jit`` keeps
the digest of every source the kernels are built from, this file and ``settlement.kernels`` among
them, and empties the caches when it changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from numba import njit

F = TypeVar("F", bound=Callable[..., object])

# ``_nrt`` is numba's own (underscored) switch for reference counting; its typing stubs omit it.
_NO_REFCOUNTS: dict[str, Any] = {"_nrt": False}
_compile_kernel = njit(cache=True, **_NO_REFCOUNTS)
_compile_inlined = njit(cache=True, inline="always", **_NO_REFCOUNTS)


def kernel(function: F) -> F:
    """Compile ``function`` as a kernel (typed for mypy as the function it replaces)."""
    return cast(F, _compile_kernel(function))


def inlined_kernel(function: F) -> F:
    """Compile ``function`` into each kernel that calls it (numba inlines its IR there)."""
    return cast(F, _compile_inlined(function))
