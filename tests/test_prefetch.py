"""``engine.listing.fast.prefetch``: a hint that reads nothing back and changes nothing, typed per dimension."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from engine.listing.fast.prefetch import prefetch

pytestmark = pytest.mark.not_per_book


@njit
def _hinted_sum(flat: np.ndarray, rows: np.ndarray, cube: np.ndarray) -> int:
    total = 0
    for i in range(flat.shape[0]):
        prefetch(flat, i)
        prefetch(rows, i % rows.shape[0], 1)
        prefetch(cube, 1, i % cube.shape[1], 2)
        total += flat[i]
    return total


def test_a_hint_on_one_two_or_three_dimensions_changes_no_value() -> None:
    flat, rows, cube = np.arange(100), np.arange(12).reshape(4, 3), np.arange(60).reshape(3, 4, 5)
    before = (flat.copy(), rows.copy(), cube.copy())

    assert _hinted_sum(flat, rows, cube) == 4950

    assert all(np.array_equal(a, b) for a, b in zip(before, (flat, rows, cube), strict=True))


def test_a_hint_needs_an_integer_index_for_every_dimension() -> None:
    @njit
    def too_few(rows: np.ndarray) -> None:
        prefetch(rows, 1)

    @njit
    def not_integers(flat: np.ndarray) -> None:
        prefetch(flat, 1.5)

    with pytest.raises(TypingError):
        too_few(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(TypingError):
        not_integers(np.zeros(2, dtype=np.int64))
