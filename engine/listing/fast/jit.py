"""How the fast path's kernels are compiled.

``kernel``: machine code cached on disk (``cache=True``: a warm start loads it instead of compiling)
and without numba's reference counting (``_nrt=False``). The kernels take every array from their
caller and never allocate, so they need no reference counts, and keeping them would cost more than
the rules themselves: with it, each call between kernels increments and decrements the count of
every array it passes with atomic instructions (measured on this machine: a call passing seven
arrays ran 24 million times per second with counting, 670 million without). Functions that
allocate their result (``ladder.depth``, ``ladder.canonical``) are compiled with ``njit(cache=True)``
and are only called from Python.

``inlined_kernel``: the same, but numba inlines the function's IR into each kernel that calls it
(``inline="always"``) instead of calling it. A call between kernels passes every array as its
exploded struct (data, shapes, strides and more: nine words for a 2-d array) on the stack: a call
passing a dozen arrays is over a hundred stores and loads, more than a whole cancel costs. The
command path of ``run_batch`` (new order, cancel, execute, match, trade and the ladder steps under
them) is therefore one function; measured on the standard flow (1M commands in one call, arrays
already touched, best of 5): 125 -> 55 ns per command. The price is compile time: a cold compile
of ``run_batch`` takes ~19 s instead of ~8 s, and ~11 s instead of ~3 s more for the batch's
other layout (a one-row Fortran-order batch is typed as C-order). Rare paths (amend,
mass cancel, fill-or-kill, conversion) stay calls, and take a command's fields rather than the
batch, so numba compiles them once for either layout.

The cache: numba checks a cached kernel against its own source file only, so a kernel that
inlines or calls kernels of another file (or reads its constants) would keep stale machine code
after that other file changed, say after a ``git pull`` that touched ``ladder.py`` alone.
``drop_stale_cache`` therefore keeps a digest of every source the kernels are built from next to
the cache and empties the cache when the digest differs, before any kernel is loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numba
from numba import njit

F = TypeVar("F", bound=Callable[..., object])

# ``_nrt`` is numba's own (underscored) switch for reference counting; its typing stubs omit it.
_NO_REFCOUNTS: dict[str, Any] = {"_nrt": False}
_compile_kernel = njit(cache=True, **_NO_REFCOUNTS)


def kernel(function: F) -> F:
    """Compile ``function`` as a kernel (typed for mypy as the function it replaces)."""
    return cast(F, _compile_kernel(function))


_compile_inlined = njit(cache=True, inline="always", **_NO_REFCOUNTS)


def inlined_kernel(function: F) -> F:
    """Compile ``function`` into each kernel that calls it (numba inlines its IR there)."""
    return cast(F, _compile_inlined(function))


_HERE = Path(__file__).resolve().parent
# Every source whose code or constants end up in a compiled kernel: the kernel modules and what
# they import from the project (tests/test_kernel_cache.py checks the list against the imports).
# A file too many costs a recompile after each edit of it, a file too few a stale kernel.
KERNEL_SOURCES = (
    *(_HERE / f"{name}.py" for name in ("jit", "layout", "ladder", "kernels", "commands")),
    *sorted((_HERE.parent.parent / "messages").glob("*.py")),
    _HERE.parent.parent.parent / "settlement" / "arrays.py",
)
_STAMP = "carbonx-kernel-sources.sha256"


def cache_dir() -> Path:
    """Where numba caches this package's kernels: ``__pycache__`` here, or under NUMBA_CACHE_DIR."""
    configured = str(getattr(numba.config, "CACHE_DIR", "") or "")  # NUMBA_CACHE_DIR; not in numba's stubs
    if configured:
        return Path(configured) / _HERE.relative_to(_HERE.anchor)
    return _HERE / "__pycache__"


def drop_stale_cache(directory: Path | None = None) -> bool:
    """Empty the kernel cache if any kernel source changed since it was written; True if it did.

    Silent when the directory cannot be written: numba then caches elsewhere or not at all.
    """
    directory = cache_dir() if directory is None else directory
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in KERNEL_SOURCES)).hexdigest()
    stamp = directory / _STAMP
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for cached in directory.glob("*.nb[ic]"):
            cached.unlink(missing_ok=True)
        stamp.write_text(digest)
    except OSError:
        return False
    return True


drop_stale_cache()
