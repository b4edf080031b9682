"""Commands to the fast path's columnar batch.

The node, a replay and every Python user of the fast book pay this for every command, so it is
written for CPython's speed rather than for looks. ``encode`` takes the batch column by column:
- the commands are sorted by type with one ``map`` (``CMD_*`` codes), and numpy gives each type's
  rows;
- new orders and cancels, nearly every command, are read field by field (one comprehension each)
  and turned into columns with ``map`` over the name tables and ``np.fromiter``: no other Python
  code runs per command. The client order ids are interned with one ``setdefault`` a pair, mapped
  over the batch: a new pair takes the key it would have if every pair were new, and only a batch
  with a known or repeated pair renumbers its new keys (``_renumber``);
- the rarer amends, mass cancels and other commands are encoded one by one (``encode_each``).
Anything it does not expect (a value beyond int64, which ``encode_each`` clamps) sends the whole
batch to ``encode_each``, the plain version, which gives the same array: tests/test_encode.py
compares the two on any mix of commands, valid or not.

``encode_each``, one loop over the commands:

- one ``type(cmd) is`` test per command instead of an ``isinstance`` chain;
- a client order id is interned with one ``setdefault``, new or not, without a call;
- enum fields become plain ints with ``+ 0``, which runs ``int``'s own addition in C (``int(x)``
  and ``x.value`` go through Python-level code, and numpy converting enum members costs more);
- values are clamped only when they are out of int64's comfortable range, inline;
- the rows go into one flat list and into numpy in one ``fromiter`` (a list of tuples to
  ``np.array`` costs twice as much).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Protocol

import numpy as np

from engine.listing.fast.events import Names
from engine.listing.fast.layout import (
    ALL_INSTRUMENTS,
    CMD_AMEND,
    CMD_CANCEL,
    CMD_CANCEL_ALL,
    CMD_NEW,
    CMD_PYTHON,
    COMMAND_FIELDS,
    X_ACCT,
    X_COID,
    X_COID_LEN,
    X_INSTR,
    X_KIND,
    X_ORDER_ID,
    X_PRICE,
    X_QTY,
    X_SIDE,
    X_STP,
    X_TS,
    X_TYPE,
)
from engine.messages import AmendOrder, CancelAllOrders, CancelOrder, Command, NewOrder, StpMode

# Command values beyond these fail their range checks anyway; clamping keeps them in int64.
CLAMP = 2**62
FAST_COMMANDS = (NewOrder, CancelOrder, AmendOrder, CancelAllOrders)


def clamp(value: int) -> int:
    return value if -CLAMP < value < CLAMP else (CLAMP if value > 0 else -CLAMP)


class Interning(Protocol):
    """What ``encode`` needs of the listing: name indices and the client order id keys."""

    account_index: dict[str, int]
    instrument_index: dict[str, int]
    coid_keys: dict[tuple[int, str], int]
    default_stp: StpMode
    coid_max: int

    def intern(self, account: int, client_order_id: str) -> int: ...

    def reserve_coids(self, count: int) -> None: ...

    @property
    def names(self) -> Names: ...


def encode_each(listing: Interning, cmds: Sequence[Command], ts: Sequence[int]) -> np.ndarray:
    """The columnar batch (Fortran order, ``X_*`` columns) of ``cmds`` stamped with ``ts``.

    Commands other than ``FAST_COMMANDS`` become ``CMD_PYTHON`` rows, which the kernel leaves to
    Python. A client order id gets a key only when the account is known and the id's length is
    valid; otherwise -1, and the kernel refuses the order as the reference does.
    """
    accounts, instruments = listing.account_index, listing.instrument_index
    setdefault, interned = listing.coid_keys.setdefault, listing.names.client_order_ids
    account_names = listing.names.accounts
    interned_before = len(interned)
    coid_max, default_stp = listing.coid_max, int(listing.default_stp)
    lo, hi = -CLAMP, CLAMP
    flat: list[int] = []
    out = flat.extend
    for cmd, t in zip(cmds, ts, strict=True):
        if type(cmd) is NewOrder:
            account = accounts.get(cmd.account, -1)
            coid = cmd.client_order_id
            size = len(coid)
            key = -1
            if account >= 0 and 0 < size <= coid_max:
                fresh = len(interned)
                key = setdefault((account, coid), fresh)  # one look-up, new or not
                if key == fresh:
                    interned.append((account_names[account], coid))
            stp, price, quantity = cmd.stp, cmd.price, cmd.quantity
            out((CMD_NEW, t, account, instruments.get(cmd.instrument, -1), key, size, cmd.side + 0,
                 cmd.order_type + 0, price if lo < price < hi else clamp(price),
                 quantity if lo < quantity < hi else clamp(quantity),
                 default_stp if stp is None else stp + 0, 0, 0))  # fmt: skip
        elif type(cmd) is CancelOrder:
            oid = cmd.order_id
            out((CMD_CANCEL, t, accounts.get(cmd.account, -1), -1, -1, 0, 0, 0, 0, 0, 0,
                 oid if lo < oid < hi else clamp(oid), 0))  # fmt: skip
        elif type(cmd) is AmendOrder:
            out((CMD_AMEND, t, accounts.get(cmd.account, -1), -1, -1, 0, 0, 0, clamp(cmd.price),
                 clamp(cmd.quantity), 0, clamp(cmd.order_id), 0))  # fmt: skip
        elif type(cmd) is CancelAllOrders:
            instr = instruments.get(cmd.instrument, -1) if cmd.instrument else ALL_INSTRUMENTS
            out((CMD_CANCEL_ALL, t, accounts.get(cmd.account, -1), instr, -1, 0, 0, 0, 0, 0, 0, 0,
                 1 if cmd.on_disconnect else 0))  # fmt: skip
        else:
            out((CMD_PYTHON, t, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0))
    if len(interned) > interned_before:
        listing.reserve_coids(len(interned))
    columns = np.fromiter(flat, dtype=np.int64, count=len(flat)).reshape(-1, COMMAND_FIELDS)
    return np.asfortranarray(columns)


KIND_OF: dict[type, int] = {
    NewOrder: CMD_NEW,
    CancelOrder: CMD_CANCEL,
    AmendOrder: CMD_AMEND,
    CancelAllOrders: CMD_CANCEL_ALL,
}


# Below this many commands the plain loop is the faster: column-wise, a batch pays ~35 µs of numpy
# calls whatever its size (1 command: 36 µs against 4; 64: 72 against 53; 256: 189 against 206,
# measured on the standard flow on this 2-core EPYC), and the node's turns are often a few orders.
COLUMNS_FROM = 128


def encode(listing: Interning, cmds: Sequence[Command], ts: Sequence[int]) -> np.ndarray:
    """The columnar batch of ``cmds`` stamped with ``ts``: ``encode_each``'s array, built column-wise."""
    n = len(cmds)
    if len(ts) != n:
        raise ValueError(f"{n} commands but {len(ts)} time stamps")
    return encode_each(listing, cmds, ts) if n < COLUMNS_FROM else encode_columns(listing, cmds, ts)


def encode_columns(listing: Interning, cmds: Sequence[Command], ts: Sequence[int]) -> np.ndarray:
    """``encode``'s column-wise path, whatever the batch's size; ``encode_each`` for what it does not expect."""
    try:
        return _encode_columns(listing, cmds, ts, len(cmds))
    except (OverflowError, TypeError):  # a value beyond int64 (clamped there), or not an integer at all
        return encode_each(listing, cmds, ts)


def _encode_columns(listing: Interning, cmds: Sequence[Command], ts: Sequence[int], n: int) -> np.ndarray:
    columns = np.zeros((n, COMMAND_FIELDS), dtype=np.int64, order="F")
    if n == 0:
        return columns
    columns[:, X_TS] = np.fromiter(ts, dtype=np.int64, count=n)
    kinds = np.fromiter(map(KIND_OF.get, map(type, cmds), repeat(CMD_PYTHON)), dtype=np.int64, count=n)
    columns[:, X_KIND] = kinds
    rows = np.flatnonzero(kinds == CMD_NEW)
    if rows.size:
        orders: list[NewOrder] = [cmds[i] for i in rows.tolist()]  # type: ignore[misc]  # rows of NewOrder
        _new_orders(listing, orders, columns, rows)
    rows = np.flatnonzero(kinds == CMD_CANCEL)
    if rows.size:
        cancels: list[CancelOrder] = [cmds[i] for i in rows.tolist()]  # type: ignore[misc]  # rows of CancelOrder
        accounts, order_ids = [c.account for c in cancels], [c.order_id for c in cancels]
        count = rows.size
        columns[rows, X_ACCT] = np.fromiter(map(listing.account_index.get, accounts, repeat(-1)), np.int64, count)
        columns[rows, X_INSTR] = -1
        columns[rows, X_COID] = -1
        columns[rows, X_ORDER_ID] = _checked(order_ids, count)
    rows = np.flatnonzero((kinds != CMD_NEW) & (kinds != CMD_CANCEL))
    if rows.size:  # amends, mass cancels and the commands Python applies: one by one
        picked = rows.tolist()
        columns[rows] = encode_each(listing, [cmds[i] for i in picked], [int(columns[i, X_TS]) for i in picked])
    return columns


def _new_orders(listing: Interning, orders: list[NewOrder], columns: np.ndarray, rows: np.ndarray) -> None:
    """The new orders' columns (at ``rows``), their new client order ids interned in batch order."""
    count = len(orders)
    # One comprehension per field: CPython 3.11 specialises the attribute read in the loop (~9 ns an
    # order), where one attrgetter of every field and a zip to transpose cost ~270 ns.
    account = [o.account for o in orders]
    instrument = [o.instrument for o in orders]
    coid = [o.client_order_id for o in orders]
    side = [o.side for o in orders]
    order_type = [o.order_type for o in orders]
    price = [o.price for o in orders]
    quantity = [o.quantity for o in orders]
    stp = [o.stp for o in orders]
    accounts = np.fromiter(map(listing.account_index.get, account, repeat(-1)), np.int64, count)
    sizes = np.fromiter(map(len, coid), np.int64, count)
    keys = np.full(count, -1, dtype=np.int64)
    valid = np.flatnonzero((accounts >= 0) & (sizes > 0) & (sizes <= listing.coid_max)).tolist()
    if valid:
        names = listing.names
        known, interned = listing.coid_keys, names.client_order_ids
        base, before = len(interned), len(known)
        ids, owners = [coid[j] for j in valid], accounts[valid].tolist()
        pairs = list(zip(owners, ids, strict=True))
        # One look-up a pair: a new pair takes the key it would have if every pair of the batch were
        # new (base + its place), which is its key whenever they all are, the usual batch.
        found: list[int] = list(map(known.setdefault, pairs, range(base, base + len(pairs))))
        if len(known) - before == len(pairs):
            interned += zip(map(names.accounts.__getitem__, owners), ids, strict=True)
        else:
            found = _renumber(known, interned, names.accounts, pairs, found, base)
        listing.reserve_coids(len(interned))
        keys[valid] = found
    default_stp = int(listing.default_stp)
    columns[rows, X_ACCT] = accounts
    columns[rows, X_INSTR] = np.fromiter(map(listing.instrument_index.get, instrument, repeat(-1)), np.int64, count)
    columns[rows, X_COID] = keys
    columns[rows, X_COID_LEN] = sizes
    columns[rows, X_SIDE] = np.fromiter(side, np.int64, count)
    columns[rows, X_TYPE] = np.fromiter(order_type, np.int64, count)
    columns[rows, X_PRICE] = _checked(price, count)
    columns[rows, X_QTY] = _checked(quantity, count)
    columns[rows, X_STP] = np.fromiter([default_stp if s is None else s for s in stp], np.int64, count)


def _renumber(
    known: dict[tuple[int, str], int],
    interned: list[tuple[str, str]],
    account_names: Sequence[str],
    pairs: list[tuple[int, str]],
    found: list[int],
    base: int,
) -> list[int]:
    """The keys of a batch some of whose pairs were known (``_new_orders``): the new ones renumbered
    from ``base`` in batch order, as one at a time would number them, and interned."""
    renumbered: dict[int, int] = {}
    for j, pair in enumerate(pairs):
        if found[j] == base + j:  # new here, and its first time in the batch (known keys are < base)
            key = renumbered[base + j] = base + len(renumbered)
            known[pair] = key
            interned.append((account_names[pair[0]], pair[1]))
    return [renumbered.get(key, key) for key in found]


def _checked(values: Sequence[int], count: int) -> np.ndarray:
    """``values`` as int64, all within encode_each's clamp (OverflowError beyond it: encode_each clamps)."""
    column = np.fromiter(values, np.int64, count)
    if count and (int(column.max()) >= CLAMP or int(column.min()) <= -CLAMP):
        raise OverflowError("a value encode_each clamps")
    return column
