"""The kernel cache is emptied when any kernel source changes (numba checks only a kernel's own file)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from engine.config import ExchangeConfig
from engine.listing.fast import jit
from engine.listing.fast.warm import kernels_cached, load_kernels

pytestmark = pytest.mark.not_per_book


def test_a_cache_written_from_other_sources_is_emptied_once(tmp_path: Path) -> None:
    cached = [tmp_path / "commands.run_batch-1.py311.nbi", tmp_path / "commands.run_batch-1.py311.1.nbc"]
    for path in cached:
        path.write_bytes(b"machine code of older sources")
    (tmp_path / "carbonx-kernel-sources.sha256").write_text("0" * 64)
    other = tmp_path / "module.cpython-311.pyc"
    other.write_bytes(b"bytecode")

    assert jit.drop_stale_cache(tmp_path) is True
    assert not any(path.exists() for path in cached)
    assert other.exists()  # only numba's files go

    cached[0].write_bytes(b"written by the current sources")
    assert jit.drop_stale_cache(tmp_path) is False
    assert cached[0].exists()


def test_the_live_cache_carries_the_digest_of_the_current_sources() -> None:
    assert jit.drop_stale_cache() is False  # emptied (if it had to be) when the kernels were imported
    assert (jit.cache_dir() / "carbonx-kernel-sources.sha256").read_text() != "0" * 64


def test_a_node_loads_every_kernel_before_it_is_ready(config: ExchangeConfig) -> None:
    """``carbonx serve`` calls ``load_kernels`` first; afterwards the batch kernel is in the cache."""
    load_kernels(config)
    assert kernels_cached()


def _project_imports(module: Path, root: Path) -> list[Path]:
    """The project's source files ``module`` imports from (``from engine.x import y``, ``from engine import x``)."""
    found: list[Path] = []
    for node in ast.walk(ast.parse(module.read_text())):
        if not isinstance(node, ast.ImportFrom) or not node.module or node.module.split(".")[0] not in PROJECT:
            continue
        target = root.joinpath(*node.module.split("."))
        if target.with_suffix(".py").exists():
            found.append(target.with_suffix(".py"))
        found += [target / f"{alias.name}.py" for alias in node.names if (target / f"{alias.name}.py").exists()]
    return found


PROJECT = {"engine", "settlement"}
DECORATED = re.compile(r"@(kernel|inlined_kernel|njit)\b")


def test_the_digest_covers_every_kernel_module_and_what_it_imports() -> None:
    """A kernel module missing from ``KERNEL_SOURCES`` could be served stale from the cache."""
    root = Path(jit.__file__).resolve().parent.parent.parent
    sources = {path.resolve() for path in jit.KERNEL_SOURCES}
    modules = [path for path in Path(jit.__file__).parent.glob("*.py") if DECORATED.search(path.read_text())]
    assert {path.name for path in modules} >= {"ladder.py", "kernels.py", "commands.py"}
    for module in modules:
        assert module.resolve() in sources, module.name
        for path in _project_imports(module, root):
            assert path.resolve() in sources, f"{module.name} imports {path.relative_to(root)}"
