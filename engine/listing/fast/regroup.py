"""A batch's event records grouped by kind, with only the columns each kind's decoder reads.

``engine.listing.fast.bulk`` decodes a batch's records kind by kind, column-wise. Grouping them
with numpy took about thirty calls a batch (a stable sort of the kinds, then per kind a gather of
whole rows, a pick of columns and a transpose), ~30 µs of fixed cost whatever the batch's size:
at the node's turns of 32 single orders, more than decoding the records one by one. This kernel
does it in one pass and one call: a counting sort by kind, each record's command, and per kind
only the columns its decoder reads, each a contiguous row of ``packed`` for one ``tolist()``.
Its caller allocates what it writes: numba returning an array costs ~0.4 µs, numpy's ``empty``
less than half of that.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.listing.fast.event_columns import E_KIND


@njit(cache=True)
def group_records(
    records: np.ndarray, first: np.ndarray, table: np.ndarray, packed: np.ndarray, bounds: np.ndarray
) -> None:
    """Group ``records`` by kind into ``packed`` and ``bounds``; command ``i``'s records are ``first[i]:first[i + 1]``.

    ``table[k, 0]`` is how many columns kind ``k``'s decoder reads (-1: there is no decoder for the
    kind), and ``table[k, 1:]`` which. The records of kind ``k`` go to positions ``bounds[k]`` to
    ``bounds[k + 1]`` of ``packed``, in record order: ``packed[0]`` holds each one's command index and
    ``packed[1 + j]`` its ``table[k, 1 + j]``th column. ``packed[-1, r]`` is where record ``r`` went.
    A record of a kind outside the table or without a decoder raises ValueError, as do arrays that
    do not fit each other (numba does not check an index: these checks keep every access inside).
    """
    total = records.shape[0]
    kinds = table.shape[0]
    if first.shape[0] < 1 or first[0] != 0 or first[first.shape[0] - 1] != total:
        raise ValueError("the commands' bounds do not cover the event records")
    if table.shape[1] - 1 > records.shape[1] or packed.shape[0] < table.shape[1] + 1 or packed.shape[1] < total:
        raise ValueError("the column table or the output does not fit the event records")
    if bounds.shape[0] != kinds + 1:
        raise ValueError("the kinds' bounds do not fit the column table")
    for kind in range(kinds):
        if table[kind, 0] > table.shape[1] - 1:
            raise ValueError("the column table gives a kind more columns than it has room for")
        for j in range(table[kind, 0]):
            if table[kind, 1 + j] < 0 or table[kind, 1 + j] >= records.shape[1]:
                raise ValueError("the column table names a column the event records do not have")
    bounds[:] = 0
    for r in range(total):
        kind = records[r, E_KIND]
        if kind < 0 or kind >= kinds or table[kind, 0] < 0:
            raise ValueError("an event record of a kind there is no decoder for")
        bounds[kind + 1] += 1
    for kind in range(kinds):
        bounds[kind + 1] += bounds[kind]
    fill = bounds[:kinds].copy()
    where = packed.shape[0] - 1
    command = 0
    for r in range(total):
        while first[command + 1] <= r:
            command += 1
        kind = records[r, E_KIND]
        at = fill[kind]
        fill[kind] = at + 1
        packed[where, r] = at
        packed[0, at] = command
        for j in range(table[kind, 0]):
            packed[1 + j, at] = records[r, table[kind, 1 + j]]
