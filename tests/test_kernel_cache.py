"""The kernel cache is emptied when any kernel source changes (numba checks only a kernel's own file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ExchangeConfig
from engine.fast import jit
from engine.fast.warm import kernels_cached, load_kernels

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
