"""The fast book's command encoding: the column-wise path gives ``encode_each``'s array, exactly.

``encode_each`` is the plain loop, one command at a time; ``encode_columns`` reads the batch field by
field and falls back to ``encode_each`` on what it does not expect; ``encode`` takes the columns for
batches of ``COLUMNS_FROM`` commands or more. Both intern new client order ids in
command order, so after each batch the two listings must hold the same interned ids too: the keys
are in the arrays the kernels run on.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.exchange import Exchange
from engine.listing.fast.encode import COLUMNS_FROM, encode, encode_columns, encode_each
from engine.messages import (
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    Command,
    DepositCash,
    NewOrder,
    OrderType,
    Side,
    StpMode,
)
from tests.flows import INSTRUMENTS, ODD_ACCOUNTS, TRADERS, differential_config

pytestmark = pytest.mark.not_per_book

ACCOUNTS = st.sampled_from([*TRADERS, *ODD_ACCOUNTS, ""])
CODES = st.sampled_from([*INSTRUMENTS, "NOPE", ""])
# Mostly plain values, sometimes ones beyond what the columns hold (encode_each clamps them).
NUMBERS = st.one_of(
    st.integers(-1_000, 100_000), st.sampled_from([2**62, -(2**62), 2**63 - 1, 2**70, -(2**70)]), st.integers()
)
IDS = st.text(alphabet="ab", max_size=3) | st.text(max_size=40)  # duplicates, empty and too long ones

COMMANDS = st.one_of(
    st.builds(
        NewOrder,
        account=ACCOUNTS,
        instrument=CODES,
        client_order_id=IDS,
        side=st.sampled_from(Side),
        order_type=st.sampled_from(OrderType),
        quantity=NUMBERS,
        price=NUMBERS,
        stp=st.none() | st.sampled_from(StpMode),
    ),
    st.builds(CancelOrder, account=ACCOUNTS, order_id=NUMBERS),
    st.builds(AmendOrder, account=ACCOUNTS, order_id=NUMBERS, price=NUMBERS, quantity=NUMBERS),
    st.builds(CancelAllOrders, account=ACCOUNTS, instrument=CODES, on_disconnect=st.booleans()),
    st.builds(DepositCash, account=ACCOUNTS, amount=st.integers(1, 10**9)),
)


def _listing(exchange: Exchange):  # type: ignore[no-untyped-def]
    return exchange.listing


def assert_same_interning(a: Exchange, b: Exchange) -> None:
    left, right = _listing(a), _listing(b)
    assert left.coid_keys == right.coid_keys
    assert left.names.client_order_ids == right.names.client_order_ids
    assert left.coids.shape == right.coids.shape
    assert_interned_densely(left)


def assert_interned_densely(listing) -> None:  # type: ignore[no-untyped-def]
    """Each interned pair's key is its place in the names, the keys are 0.. with no gap, in the order
    the pairs were first met (kept by the dict's insertion order), and ``coids`` has room for them."""
    names = listing.names
    assert list(listing.coid_keys.values()) == list(range(len(names.client_order_ids)))
    assert [(names.accounts[a], c) for a, c in listing.coid_keys] == names.client_order_ids
    assert listing.coids.shape[0] >= len(names.client_order_ids)


@settings(max_examples=150)
@given(batches=st.lists(st.lists(COMMANDS, max_size=30), min_size=1, max_size=4))
def test_encode_gives_encode_eachs_columns_and_interns_alike(batches: list[list[Command]]) -> None:
    column_wise, plain = Exchange(differential_config(), "fast"), Exchange(differential_config(), "fast")
    ts = 1
    for batch in batches:
        stamps = list(range(ts, ts + len(batch)))
        got = encode_columns(_listing(column_wise), batch, stamps)
        expected = encode_each(_listing(plain), batch, stamps)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.flags.f_contiguous and expected.flags.f_contiguous
        assert np.array_equal(got, expected), f"\n{got}\n{expected}"
        assert_same_interning(column_wise, plain)
        ts += len(batch)


def test_a_batch_of_new_orders_interns_each_new_id_once_in_command_order() -> None:
    exchange = Exchange(differential_config(), "fast")
    orders = [
        NewOrder(
            account=a, instrument="SHEA2025", client_order_id=c, side=Side.BUY, order_type=OrderType.LIMIT, quantity=1
        )
        for a, c in [("A1", "x"), ("A2", "x"), ("A1", "y"), ("A1", "x"), ("NOBODY", "z"), ("A1", "")]
    ]
    columns = encode_columns(_listing(exchange), orders, range(1, 7))
    names = _listing(exchange).names
    assert names.client_order_ids == [("A1", "x"), ("A2", "x"), ("A1", "y")]
    assert columns[:, 4].tolist() == [0, 1, 2, 0, -1, -1]  # X_COID: the repeat shares the first key


def test_encode_takes_the_columns_for_large_batches_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.listing.fast.encode as module

    taken: list[int] = []
    monkeypatch.setattr(module, "encode_columns", lambda listing, cmds, ts: taken.append(len(cmds)))
    exchange = Exchange(differential_config(), "fast")
    deposits = [DepositCash(account="A1", amount=1)] * COLUMNS_FROM
    encode(_listing(exchange), deposits[:-1], range(COLUMNS_FROM - 1))
    encode(_listing(exchange), deposits, range(COLUMNS_FROM))
    assert taken == [COLUMNS_FROM]


def test_time_stamps_must_match_the_commands() -> None:
    exchange = Exchange(differential_config(), "fast")
    with pytest.raises(ValueError, match="2 commands but 1 time stamps"):
        encode(_listing(exchange), [DepositCash(account="A1", amount=1)] * 2, [1])
