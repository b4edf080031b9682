"""The cache of the fast path's kernels, kept in step with every source they are built from.

How the kernels are compiled (``kernel``, ``inlined_kernel``) is ``settlement.jit``'s, since the
ledger's numba form (``settlement.kernels``) is compiled the same way; they are imported here for
the kernels of this package.

numba checks a cached kernel against its own source file only, so a kernel that inlines or calls
kernels of another file (or reads its constants) would keep stale machine code after that other
file changed, say after a ``git pull`` that touched ``ladder.py`` or ``settlement/kernels.py``
alone. ``drop_stale_cache`` therefore keeps a digest of every source the kernels are built from
next to the cache and empties the cache when the digest differs, before any kernel is loaded;
settlement's own cache too, which holds its kernels as compiled for a direct call (the tests').
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numba

from settlement.jit import inlined_kernel as inlined_kernel
from settlement.jit import kernel as kernel

# As numba sees the sources (not resolved: it names cache directories after the paths it imported from).
_HERE = Path(__file__).absolute().parent
_SETTLEMENT = _HERE.parent.parent.parent / "settlement"
# Every source whose code or constants end up in a compiled kernel: the kernel modules and what
# they import from the project (tests/test_kernel_cache.py checks the list against the imports).
# A file too many costs a recompile after each edit of it, a file too few a stale kernel.
KERNEL_SOURCES = (
    *(
        _HERE / f"{name}.py"
        for name in (
            "jit",
            "layout",
            "event_columns",
            "ladder",
            "kernels",
            "checks",
            "commands",
            "regroup",
            "prefetch",
            "ahead",
        )
    ),
    _HERE.parent.parent / "messages" / "reject.py",
    *(_SETTLEMENT / f"{name}.py" for name in ("jit", "arrays", "kernels", "limits")),
)
_STAMP = "carbonx-kernel-sources.sha256"


def cache_dir(package: Path = _HERE) -> Path:
    """Where numba caches a package's kernels (by default this one's): its ``__pycache__``, or under
    NUMBA_CACHE_DIR the subdirectory numba names after the package's directory and the SHA-1 of its
    path (``numba.core.caching._CacheLocator.get_suitable_cache_subpath``)."""
    configured = str(getattr(numba.config, "CACHE_DIR", "") or "")  # NUMBA_CACHE_DIR; not in numba's stubs
    if configured:
        return Path(configured) / f"{package.name}_{hashlib.sha1(str(package).encode()).hexdigest()}"
    return package / "__pycache__"


def drop_stale_cache(directory: Path | None = None) -> bool:
    """Empty the kernel cache if any kernel source changed since it was written; True if it did.

    Without ``directory``: this package's cache and settlement's. Silent when a directory cannot be
    written: numba then caches elsewhere or not at all.
    """
    if directory is None:
        dropped = [drop_stale_cache(cache_dir(package)) for package in (_HERE, _SETTLEMENT)]
        return any(dropped)
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
