"""How the fast path's kernels are compiled.

``kernel``: machine code cached on disk (``cache=True``: a warm start loads it instead of compiling)
and without numba's reference counting (``_nrt=False``). The kernels take every array from their
caller and never allocate, so they need no reference counts, and keeping them would cost more than
the rules themselves: with it, each call between kernels increments and decrements the count of
every array it passes with atomic instructions (measured on this machine: a call passing seven
arrays ran 24 million times per second with counting, 670 million without). Functions that
allocate their result (``ladder.depth``, ``ladder.canonical``) are compiled with ``njit(cache=True)``
and are only called from Python.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from numba import njit

F = TypeVar("F", bound=Callable[..., object])

# ``_nrt`` is numba's own (underscored) switch for reference counting; its typing stubs omit it.
_NO_REFCOUNTS: dict[str, Any] = {"_nrt": False}
_compile_kernel = njit(cache=True, **_NO_REFCOUNTS)


def kernel(function: F) -> F:
    """Compile ``function`` as a kernel (typed for mypy as the function it replaces)."""
    return cast(F, _compile_kernel(function))
