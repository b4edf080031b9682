"""The kernel cache is emptied when any kernel source changes (numba checks only a kernel's own file).

Every check runs on a cache directory of its own, never on this machine's: a warm cache must not
make a wrong cache logic pass.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import numba
import pytest
from numba.core.dispatcher import Dispatcher

import engine
import settlement
from engine.listing.fast import jit
from engine.listing.fast.warm import kernels_cached

ROOT = Path(jit.__file__).resolve().parents[3]
PROJECT = (engine, settlement)  # the packages kernels are written in and import from
STAMP = "carbonx-kernel-sources.sha256"


def numba_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.nb[ic]"))


def fill(directory: Path, *names: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / name for name in names]
    for path in written:
        path.write_bytes(b"machine code")
    return written


# ------------------------------------------------------------------------------ when the cache is emptied


def test_a_cache_written_from_other_sources_is_emptied_once(tmp_path: Path) -> None:
    cached = fill(tmp_path, "commands.run_batch-1.py311.nbi", "commands.run_batch-1.py311.1.nbc")
    (tmp_path / STAMP).write_text("0" * 64)
    other = tmp_path / "module.cpython-311.pyc"
    other.write_bytes(b"bytecode")

    assert jit.drop_stale_cache(tmp_path) is True
    assert not any(path.exists() for path in cached)
    assert other.exists()  # only numba's files go

    cached[0].write_bytes(b"written by the current sources")
    assert jit.drop_stale_cache(tmp_path) is False
    assert cached[0].exists()


def test_the_stamp_is_the_digest_of_every_kernel_source_and_a_change_to_any_empties_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = []
    for i, path in enumerate(jit.KERNEL_SOURCES):
        copy = tmp_path / "sources" / f"{i}-{path.name}"
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(path.read_bytes())
        sources.append(copy)
    monkeypatch.setattr(jit, "KERNEL_SOURCES", tuple(sources))
    cache = tmp_path / "cache"

    assert jit.drop_stale_cache(cache) is True  # a cache without a stamp is of unknown sources
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()
    assert (cache / STAMP).read_text() == digest
    for source in sources:
        cached = fill(cache, "kernels.match-2.py311.nbi")
        assert jit.drop_stale_cache(cache) is False, source.name
        assert numba_files(cache) == cached

        source.write_bytes(source.read_bytes() + b"\n# edited\n")

        assert jit.drop_stale_cache(cache) is True, source.name
        assert numba_files(cache) == []


def test_without_a_directory_both_packages_caches_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    fast, ledger = jit.cache_dir(), jit.cache_dir(Path(settlement.__file__).resolve().parent)
    assert tmp_path in fast.parents and tmp_path in ledger.parents and fast != ledger
    stale = [*fill(fast, "ladder.add-1.py311.nbi"), *fill(ledger, "kernels.settle_trade-1.py311.nbi")]

    assert jit.drop_stale_cache() is True
    assert not any(path.exists() for path in stale)
    assert (fast / STAMP).read_text() == (ledger / STAMP).read_text()
    assert jit.drop_stale_cache() is False


def test_kernels_cached_is_false_on_an_empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))

    assert kernels_cached() is False
    fill(jit.cache_dir(), "ladder.depth-1.py311.nbi")  # another kernel: the batch kernel would still compile
    assert kernels_cached() is False


_LOAD = """
import json
from engine.listing.fast import commands
from engine.listing.fast.jit import cache_dir
from engine.listing.fast.warm import kernels_cached, load_kernels
from tests.conftest import market_config

before = kernels_cached()
load_kernels(market_config())
stats = commands.run_batch.stats
print(json.dumps({"before": before, "after": kernels_cached(), "cache": str(cache_dir()),
                  "compiled": len(stats.cache_misses), "loaded": len(stats.cache_hits)}))
"""


@pytest.mark.slow
def test_a_node_start_compiles_every_kernel_into_the_cache_and_the_next_start_loads_them(tmp_path: Path) -> None:
    """``carbonx serve`` calls ``load_kernels`` first. Two starts on an empty cache of their own: the
    first compiles (30-70 s: the suite's one compile besides the session's warm-up), the second loads."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(tmp_path)}

    def start() -> dict[str, object]:
        done = subprocess.run([sys.executable, "-c", _LOAD], capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr
        result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
        return result

    cold = start()
    warm = start()

    assert Path(str(cold["cache"])).is_relative_to(tmp_path)
    assert (cold["before"], cold["after"], cold["loaded"]) == (False, True, 0) and cold["compiled"]
    assert (warm["before"], warm["after"], warm["compiled"]) == (True, True, 0) and warm["loaded"]


# ------------------------------------------------------------------------------ what the digest covers


def _file(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _project_imports(path: Path) -> list[tuple[str, str, str]]:
    """(module, name, bound as) of every ``from <project module> import name`` at the top of ``path``."""
    found = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            assert not any(alias.name.split(".")[0] in ("engine", "settlement") for alias in node.names), path
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("engine", "settlement"):
            assert node.level == 0, path
            found += [(node.module, alias.name, alias.asname or alias.name) for alias in node.names]
    return found


def _sources_of_name(module: str, name: str) -> set[Path]:
    """The files ``from module import name`` reads: a submodule, or the module and, when the module
    only re-exports the name, the files it takes it from."""
    submodule = _file(f"{module}.{name}")
    if submodule is not None:
        return {submodule}
    path = _file(module)
    assert path is not None, module
    found = {path}
    for source, imported, bound in _project_imports(path):
        if bound == name:
            found |= _sources_of_name(source, imported)
    return found


def kernel_modules() -> list[Path]:
    """The project's modules that define numba kernels, found by importing every module."""
    found = set()
    for package in PROJECT:
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(info.name)
            if any(
                isinstance(value, Dispatcher) and value.py_func.__module__ == module.__name__
                for value in vars(module).values()
            ):
                assert module.__file__ is not None
                found.add(Path(module.__file__).resolve())
    return sorted(found)


def expected_sources() -> set[Path]:
    """The kernel modules and every file whose code or constants they import."""
    expected = set()
    for module in kernel_modules():
        expected.add(module)
        for source, name, _ in _project_imports(module):
            expected |= {path.resolve() for path in _sources_of_name(source, name)}
    return expected


def test_the_kernel_modules_are_found() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in kernel_modules()}
    assert {
        "engine/listing/fast/ladder.py",
        "engine/listing/fast/kernels.py",
        "engine/listing/fast/commands.py",
    } <= names


def test_the_digest_covers_every_source_a_kernel_is_built_from() -> None:
    """A source missing from ``KERNEL_SOURCES`` could leave a stale kernel in the cache."""
    listed = {path.resolve() for path in jit.KERNEL_SOURCES}

    missing = {path.relative_to(ROOT).as_posix() for path in expected_sources() - listed}

    assert missing == set()


def test_the_digest_covers_nothing_else() -> None:
    """A source in ``KERNEL_SOURCES`` that no kernel reads costs a recompile (30-70 s) after each edit of it."""
    listed = {path.resolve() for path in jit.KERNEL_SOURCES}

    extra = {path.relative_to(ROOT).as_posix() for path in listed - expected_sources()}

    assert extra == set()
