"""One ledger, two forms: the Python API (``settlement.ledger``) and its numba twin (``settlement.kernels``).

The twins are held to each other as the two books are: random sequences of operations applied
through the Python API to one ledger and through the numba form to another, both starting from
equal arrays, must leave identical arrays (balances, released cash, the trade log and its count)
and give identical answers (a freeze accepted or refused). Then the merged ledger's own rules:
balances read as copies, the checks the Python form makes, snapshots, closing an account, the end
of day, and that nothing outside settlement writes a balance.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from settlement import kernels
from settlement.arrays import K_RELEASED, TRADE_FIELDS
from settlement.ledger import CashBalance, Holding, Ledger, LedgerError, LedgerState, fee_for

pytestmark = pytest.mark.not_per_book

FEES = "FEES"
ACCOUNTS = (FEES, "A", "B", "C")
INSTRUMENTS = ("SHEA", "CCER")
Operation = tuple[str, tuple[object, ...]]


def new_ledger() -> Ledger:
    return Ledger(accounts=ACCOUNTS, instruments=INSTRUMENTS, fee_account=FEES)


def funded(deposits: list[int], allocations: list[int]) -> Ledger:
    """A ledger funded through the Python API: A, B, C in turn take each deposit and allocation."""
    ledger = new_ledger()
    for k, amount in enumerate(deposits):
        ledger.deposit(ACCOUNTS[1 + k % 3], amount)
    for k, quantity in enumerate(allocations):
        ledger.allocate(ACCOUNTS[1 + k % 3], INSTRUMENTS[k % 2], quantity)
    return ledger


def settle(ledger: Ledger, trade_id: int, buyer: str, seller: str, instrument: str, price: int, quantity: int,
           buyer_fee: int = 0, seller_fee: int = 0) -> None:  # fmt: skip
    ledger.settle_trade(
        trade_id=trade_id, buyer=buyer, seller=seller, instrument=instrument, price=price, quantity=quantity,
        buyer_fee=buyer_fee, seller_fee=seller_fee,
    )  # fmt: skip


def same_arrays(one: Ledger, other: Ledger) -> bool:
    a, b = one.arrays, other.arrays
    rows = int(a.trade_count[0])
    return (
        np.array_equal(a.cash, b.cash)
        and np.array_equal(a.holdings, b.holdings)
        and np.array_equal(a.trade_count, b.trade_count)
        and np.array_equal(a.trades[:rows], b.trades[:rows])
        and np.array_equal(a.trade_methods[:rows], b.trade_methods[:rows])
    )


# ------------------------------------------------------------------------ drawing operations


def draw_operation(data: st.DataObject, ledger: Ledger, trade_id: int) -> Operation:
    """One operation the fast book could make on ``ledger`` as it stands: freezes of any size (so some
    are refused), releases and trades within what is frozen (the numba form trusts its caller)."""
    kind = data.draw(st.sampled_from(["freeze_cash", "release_cash", "freeze_allowances", "release_allowances"] * 2
                                     + ["settle_trade"] * 3), label="operation")  # fmt: skip
    account = data.draw(st.sampled_from(ACCOUNTS), label="account")
    instrument = data.draw(st.sampled_from(INSTRUMENTS), label="instrument")
    cash, holding = ledger.cash(account), ledger.holding(account, instrument)
    if kind == "freeze_cash":
        return kind, (account, data.draw(st.integers(0, cash.available + 50), label="amount"))
    if kind == "release_cash":
        return kind, (account, data.draw(st.integers(0, cash.frozen), label="amount"))
    if kind == "freeze_allowances":
        return kind, (account, instrument, data.draw(st.integers(0, holding.available + 5), label="quantity"))
    if kind == "release_allowances":
        return kind, (account, instrument, data.draw(st.integers(0, holding.frozen), label="quantity"))
    buyer, seller = data.draw(st.sampled_from(ACCOUNTS), label="buyer"), account
    budget = ledger.cash(buyer).frozen
    quantity = data.draw(st.integers(0, holding.frozen), label="quantity")
    buyer_fee = data.draw(st.integers(0, min(budget, 500)), label="buyer_fee")
    most = min(9_000, (budget - buyer_fee) // quantity) if quantity else 9_000
    price = data.draw(st.integers(0, most), label="price")
    seller_fee = data.draw(st.integers(0, price * quantity), label="seller_fee")
    return kind, (trade_id, buyer, seller, instrument, price, quantity, buyer_fee, seller_fee)


def through_python(ledger: Ledger, operation: Operation) -> bool | None:
    kind, args = operation
    if kind == "settle_trade":
        settle(ledger, *args)  # type: ignore[arg-type]
        return None
    answer: bool | None = getattr(ledger, kind)(*args)
    return answer


def through_numba(ledger: Ledger, operation: Operation) -> bool | None:
    """The same operation through the numba form, names turned into the ledger's row indices."""
    kind, args = operation
    arrays, account, instrument = ledger.arrays, ledger.account_index, ledger.instrument_index
    if kind == "freeze_cash":
        name, amount = args
        return bool(kernels.freeze_cash(arrays.cash, account[str(name)], amount))
    if kind == "release_cash":
        name, amount = args
        kernels.release_cash(arrays.cash, account[str(name)], amount)
        return None
    name, code = str(args[0]), str(args[1])
    if kind == "freeze_allowances":
        return bool(kernels.freeze_allowances(arrays.holdings, account[name], instrument[code], args[2]))
    if kind == "release_allowances":
        kernels.release_allowances(arrays.holdings, account[name], instrument[code], args[2])
        return None
    trade_id, buyer, seller, code, price, quantity, buyer_fee, seller_fee = args
    arrays.ensure_trade_room(1)  # as the fast book's ``room`` does before every command
    kernels.settle_trade(
        arrays.cash, arrays.holdings, arrays.trades, arrays.trade_count, account[ledger.fee_account], trade_id,
        account[str(buyer)], account[str(seller)], instrument[str(code)], price, quantity, buyer_fee, seller_fee,
    )  # fmt: skip
    return None


@given(data=st.data())
def test_the_python_api_and_the_numba_form_make_the_same_moves(data: st.DataObject) -> None:
    deposits = data.draw(st.lists(st.integers(0, 5_000_000), min_size=1, max_size=4), label="deposits")
    allocations = data.draw(st.lists(st.integers(0, 2_000), min_size=1, max_size=4), label="allocations")
    python, numba = funded(deposits, allocations), funded(deposits, allocations)
    assert same_arrays(python, numba)
    for trade_id in range(1, data.draw(st.integers(1, 60), label="operations") + 1):
        operation = draw_operation(data, python, trade_id)

        answer = through_python(python, operation)

        assert through_numba(numba, operation) == answer, operation
        assert same_arrays(python, numba), operation
    assert python.state() == numba.state()
    assert python.conservation() == numba.conservation() == []


# A rate, then a value whose product with it fits the numba form's 64 bits: the config guarantees
# that for every listing order (carbonx.config: listing_ppm against the largest order's value).
_FITTING = st.integers(0, 1_000_000).flatmap(
    lambda rate: st.tuples(st.integers(0, min(10**15, kernels.FEE_PRODUCT_MAX // max(rate, 1))), st.just(rate))
)


@given(_FITTING)
def test_both_forms_charge_the_same_fee(value_and_rate: tuple[int, int]) -> None:
    value, rate = value_and_rate
    assert kernels.fee_for(value, rate) == fee_for(value, rate) == (value * rate * 2 + 1_000_000) // 2_000_000


@given(value=st.integers(0, 10**15), rate=st.integers(0, 1_000_000))
def test_the_python_form_is_exact_for_any_value(value: int, rate: int) -> None:
    assert fee_for(value, rate) == (value * rate * 2 + 1_000_000) // 2_000_000


def test_a_refused_freeze_moves_nothing_in_either_form() -> None:
    python, numba = funded([1_000], [10]), funded([1_000], [10])

    assert python.freeze_cash("A", 1_001) is False
    assert kernels.freeze_cash(numba.arrays.cash, numba.account_index["A"], 1_001) is False
    assert python.freeze_allowances("A", "SHEA", 11) is False
    assert kernels.freeze_allowances(numba.arrays.holdings, numba.account_index["A"], 0, 11) is False

    assert same_arrays(python, numba)
    assert python.cash("A") == CashBalance(available=1_000)
    assert python.holding("A", "SHEA") == Holding(available=10)


def test_a_trade_settles_both_legs_both_fees_and_logs_one_row() -> None:
    ledger = funded([1_000_000], [0, 0, 0, 0, 0, 500])  # A: cash; C: 500 t of CCER
    assert ledger.freeze_cash("A", 801_200) and ledger.freeze_allowances("C", "CCER", 100)

    settle(ledger, 7, "A", "C", "CCER", 8000, 100, buyer_fee=1_200, seller_fee=1_200)

    assert ledger.cash("A") == CashBalance(available=1_000_000 - 801_200)
    assert ledger.cash("C") == CashBalance(available=798_800, proceeds_today=798_800)
    assert ledger.cash(FEES) == CashBalance(available=2_400)
    assert ledger.holding("A", "CCER") == Holding(restricted=100)
    assert ledger.holding("C", "CCER") == Holding(available=400)
    assert ledger.day.trades == [(7, "CCER", 8000, 100, "A", "C", 1_200, 1_200)]


# ------------------------------------------------------------------------ the Python form's checks


def test_the_python_form_refuses_a_debit_without_its_freeze() -> None:
    ledger = funded([1_000], [10])
    assert ledger.freeze_cash("A", 400) and ledger.freeze_allowances("A", "SHEA", 4)
    before = ledger.state()

    with pytest.raises(LedgerError, match="exceeds frozen"):
        ledger.release_cash("A", 401)
    with pytest.raises(LedgerError, match="exceeds frozen"):
        ledger.release_allowances("A", "SHEA", 5)
    with pytest.raises(LedgerError, match="not covered by the freezes"):
        settle(ledger, 1, "A", "A", "SHEA", 100, 4, buyer_fee=1)

    assert ledger.state() == before


def test_value_entering_the_ledger_is_kept_within_64_bits() -> None:
    ledger = funded([2**62], [2**62])

    with pytest.raises(LedgerError, match="64-bit"):
        ledger.deposit("B", 2**62)
    with pytest.raises(LedgerError, match="64-bit"):
        ledger.allocate("B", "SHEA", 2**62)

    assert (ledger.total_cash(), ledger.deposited) == (2**62, 2**62)
    assert ledger.total_holdings("SHEA") == ledger.issued["SHEA"] == 2**62


def test_a_balance_read_is_a_copy_that_cannot_be_written() -> None:
    ledger = funded([1_000], [10])
    cash, holding = ledger.cash("A"), ledger.holding("A", "SHEA")

    with pytest.raises(AttributeError):
        cash.available += 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        holding.available += 5  # type: ignore[misc]
    ledger.deposit("A", 1)

    assert cash == CashBalance(available=1_000)  # taken before the deposit
    assert ledger.cash("A") == CashBalance(available=1_001)


def test_holdings_are_read_without_names_the_ledger_does_not_know() -> None:
    ledger = funded([0], [10])

    assert ledger.total_held(("A", "SHEA")) == 10
    assert ledger.total_held(("A", "NOPE")) == ledger.total_held(("NOBODY", "SHEA")) == 0
    with pytest.raises(LedgerError, match="not a configured account and instrument"):
        ledger.holding("A", "NOPE")


# ------------------------------------------------------------------------ accounts, days, snapshots


def test_an_account_closes_only_once_a_merger_has_emptied_it() -> None:
    ledger = funded([1_000], [10])

    with pytest.raises(LedgerError, match="cannot close"):
        ledger.close_account("A")
    ledger.transfer("A", "B", 1_000, [("SHEA", "available", 10)])
    ledger.close_account("A")

    assert ledger.closed == {"A"}
    assert ledger.state().closed == ["A"]


def test_the_end_of_day_lifts_restrictions_and_the_next_statements_start_empty() -> None:
    ledger = funded([1_000_000], [0, 0, 0, 0, 0, 500])
    assert ledger.freeze_cash("A", 900_000) and ledger.freeze_allowances("C", "CCER", 100)
    settle(ledger, 1, "A", "C", "CCER", 8000, 100)
    ledger.release_cash("A", 100_000)

    ledger.end_of_day()
    [a_day] = [day for day in ledger.statements() if day.account == "A"]
    ledger.start_next_statements()

    assert ledger.holding("A", "CCER") == Holding(available=100)
    assert ledger.cash("C").withdrawable == 800_000
    assert a_day.cash.released == 100_000
    assert [(h.instrument, h.released_restricted) for h in a_day.holdings if h.released_restricted] == [("CCER", 100)]
    assert int(ledger.arrays.trade_count[0]) == 0 and not ledger.arrays.cash[:, K_RELEASED].any()
    assert ledger.day.trades == [] and ledger.day.released == {}


def test_a_restored_ledger_has_the_same_arrays_and_state() -> None:
    ledger = funded([1_000_000, 50], [500, 700])
    assert ledger.freeze_cash("A", 900_000) and ledger.freeze_allowances("B", "CCER", 100)
    settle(ledger, 1, "A", "B", "CCER", 8000, 100, buyer_fee=3, seller_fee=4)
    ledger.release_cash("A", 5)

    restored = new_ledger()
    restored.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(ledger.state()), type=LedgerState))

    assert same_arrays(ledger, restored)
    assert restored.state() == ledger.state()


def test_the_trade_log_grows_when_full_and_keeps_its_rows() -> None:
    ledger = funded([1_000_000], [0, 0, 1_000])  # C: 1,000 t of SHEA
    ledger.arrays.trades = np.zeros((1, TRADE_FIELDS), dtype=np.int64)
    assert ledger.freeze_cash("A", 30_000) and ledger.freeze_allowances("C", "SHEA", 3)

    for trade_id in (1, 2, 3):
        settle(ledger, trade_id, "A", "C", "SHEA", 100, 1)

    assert [t[0] for t in ledger.day.trades] == [1, 2, 3]
    assert ledger.arrays.trades.shape[0] >= 3


# ------------------------------------------------------------------------ one place writes balances

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ("engine", "gateway", "market_data", "surveillance", "carbonx", "bench")
# An assignment to an element of the ledger's arrays; not a read or a comparison, nor a dict's key.
BALANCE_WRITE = re.compile(r"\b(cash|holdings|trades|trade_count)\[(?![\"'])[^\]\n]*\]\s*[-+]?=(?!=)")


def test_only_settlement_writes_a_balance() -> None:
    writes = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for package in LIBRARY
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if BALANCE_WRITE.search(line)
    ]
    assert writes == []


def test_the_writer_check_sees_a_write_and_not_a_read() -> None:
    assert BALANCE_WRITE.search("    cash[account, K_AVAIL] -= needed")
    assert BALANCE_WRITE.search("holdings[a, j, H_FROZEN] = 0")
    assert not BALANCE_WRITE.search("if needed > cash[account, K_AVAIL]:")
    assert not BALANCE_WRITE.search("ok = cash[account, K_AVAIL] == 0")
    assert not BALANCE_WRITE.search('cash["deposited"] += event.amount')
