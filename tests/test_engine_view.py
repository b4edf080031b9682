"""The engine's read view (``engine.view``) answers what the engine holds, in copies it cannot change;
and an atomic batch is rehearsed at the exchange time it is then journaled with, by the node and by
the offline registry path alike."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec
import pytest

import engine.listing.fast.listing
from carbonx.config import load_config
from carbonx.data_dir import apply_commands, rehearse_commands
from carbonx.node import Node
from engine.config import ExchangeConfig
from engine.exchange import Exchange, Rehearsal
from engine.journal import read_journal
from engine.listing.fast.layout import P_ID_BASE, P_IDS_PER_SLOT, P_NEXT_ORDER
from engine.messages import (
    CancelOrder,
    Command,
    DepositCash,
    HaltInstrument,
    OrderAccepted,
    Session,
    Side,
    WithdrawCash,
)
from engine.recovery import record_config
from engine.view import AccountHolding, ExchangeView
from gateway.protocol import Rehearsal as WireRehearsal
from gateway.submission import Submission
from tests.conftest import TRADERS, Market, funded_market
from tests.node_process import make_config


def busy(market: Market) -> None:
    """Resting orders at several levels on both sides of two books, a trade, and a halted instrument."""
    for account, price in (("A1", 7990), ("A2", 7990), ("A3", 7980), ("A4", 7970)):
        market.buy(account, 100, price)
    for account, price in (("A2", 8010), ("A3", 8020), ("A3", 8020)):
        market.sell(account, 50, price)
    market.sell("A4", 30, 7990)  # trades with A1's bid, which keeps 70 t open
    market.buy("A2", 10, 8500, instrument="CCER")
    market.sell("A1", 20, 8600, instrument="CCER")
    market.send(HaltInstrument(instrument="T5", reason="news pending"))


@pytest.mark.per_book
def test_the_view_answers_what_the_engine_holds(market: Market) -> None:
    busy(market)
    exchange = market.exchange
    listing, ledger = exchange.listing, exchange.ledger
    view = ExchangeView(exchange)

    assert view.instruments() == ("SHEA2025", "CCER", "T5") == tuple(listing.instruments)
    state = exchange.market
    assert msgspec.structs.asdict(view.market()) == {
        "trading_day": state.trading_day,
        "day_open": state.day_open,
        "session": state.session,
        "halted": state.halted,
        "halt_reason": state.halt_reason,
        "sessions_over": state.sessions_over,
    }
    for code in view.instruments():
        halt = state.instrument_halts.get(code)
        assert msgspec.structs.asdict(view.figures(code)) == {
            **msgspec.structs.asdict(listing.days[code]),
            "halted": halt is not None,
            "halt_reason": halt or "",
        }
        assert view.band(code) == listing.band(code)
        book = listing.books[code]
        for side in Side:
            assert view.best(code, side) == book.best(side)
            for levels in (1, 2, 10):
                assert view.depth(code, side, levels) == book.depth(side, levels)
        assert view.resting(code) == len(book)
    assert (view.figures("T5").halted, view.figures("T5").halt_reason) == (True, "news pending")
    assert view.figures("SHEA2025").trades == 1

    resting = sorted((o for book in listing.books.values() for o in book.orders()), key=lambda o: o.order_id)
    fields = ("order_id", "account", "instrument", "client_order_id", "side", "order_type", "price", "leaves", "filled")
    assert [msgspec.structs.astuple(o) for o in view.open_orders()] == [
        tuple(getattr(o, f) for f in fields) for o in resting
    ]
    a1_shea = view.open_orders("A1", "SHEA2025")
    assert [(o.price, o.leaves, o.filled) for o in a1_shea] == [(7990, 70, 30)]
    assert [o.instrument for o in view.open_orders({"A2", "A1"})] == ["SHEA2025"] * 3 + ["CCER"] * 2
    assert view.open_orders(instrument="NOT-LISTED") == []

    for account in (*TRADERS, "STAFF", "EXCHANGE-FEES"):
        cash = ledger.cash(account)
        assert (view.cash(account).available, view.cash(account).frozen) == (cash.available, cash.frozen)
        assert view.cash(account).withdrawable == cash.withdrawable
        held = [(i, h.available, h.frozen, h.restricted, h.compliance) for i, h in ledger.holdings_of(account)]
        assert [msgspec.structs.astuple(h) for h in view.holdings(account)] == held
    h = ledger.holding("A1", "SHEA2025")
    expected = ("SHEA2025", h.available, h.frozen, h.restricted, h.compliance)
    assert msgspec.structs.astuple(view.holding("A1", "SHEA2025")) == expected
    totals = view.cash_totals()
    assert (totals.held, totals.deposited, totals.withdrawn) == (ledger.total_cash(), ledger.deposited, 0)


@pytest.mark.per_book
def test_reading_changes_nothing_and_answers_are_copies(market: Market) -> None:
    busy(market)
    exchange = market.exchange
    view = ExchangeView(exchange)
    before = exchange.state_hash()

    quiet = view.holding("STAFF", "SHEA2025")  # holds nothing: the reference ledger must not make a holding
    figures, cash, orders = view.figures("SHEA2025"), view.cash("A2"), view.open_orders(["A2"])
    cash_then = msgspec.structs.astuple(cash)

    assert quiet == AccountHolding(instrument="SHEA2025", available=0, frozen=0, restricted=0, compliance=0)
    assert exchange.state_hash() == before
    with pytest.raises(AttributeError):
        figures.last = 1  # type: ignore[misc]

    market.buy("A1", 50, 8010)  # takes A2's ask

    assert (figures.trades, figures.last, len(orders), msgspec.structs.astuple(cash)) == (1, 7990, 3, cash_then)
    assert (view.figures("SHEA2025").trades, view.figures("SHEA2025").last) == (2, 8010)
    assert len(view.open_orders(["A2"])) == 2 and view.cash("A2") != cash


@pytest.mark.per_book
def test_the_view_follows_the_market_day(market: Market) -> None:
    view = ExchangeView(market.exchange)
    assert (view.market().day_open, view.market().session) == (True, Session.MORNING)

    market.close_day()

    status = view.market()
    assert (status.day_open, status.session, status.sessions_over) == (False, Session.CLOSED, True)
    assert view.open_orders() == []


# ---------------------------------------------------------------------------------------------- rehearsal


class TickingClock:
    """Every reading is a nanosecond later than the one before: two readings never agree."""

    def __init__(self, start: int = 1_795_000_000_000_000_000) -> None:
        self.ns = start

    def __call__(self) -> int:
        self.ns += 1
        return self.ns


def spy_on_rehearsals(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The exchange time of every ``Exchange.rehearse``, in order."""
    seen: list[int] = []
    rehearse = Exchange.rehearse

    def noting(self: Exchange, commands: Sequence[Command], ts: int) -> Rehearsal:
        seen.append(ts)
        return rehearse(self, commands, ts)

    monkeypatch.setattr(Exchange, "rehearse", noting)
    return seen


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    node = Node(load_config(make_config(tmp_path)), tmp_path / "var", clock=TickingClock())
    yield node
    node.close()


def regulator_batch(*commands: Command, dry_run: bool = False) -> Submission:
    return Submission(b"regulator", "REGULATOR", 7, list(commands), atomic=True, dry_run=dry_run)


def test_the_node_journals_an_atomic_batch_at_the_time_it_rehearsed_it(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rehearsed = spy_on_rehearsals(monkeypatch)

    node._sequence([regulator_batch(DepositCash(account="A001", amount=500), DepositCash(account="A002", amount=700))])

    records = list(read_journal(tmp_path / "var"))
    assert [type(r.command) for r in records] == [DepositCash, DepositCash]
    assert len(rehearsed) == 1 and [r.ts for r in records] == [rehearsed[0]] * 2


def test_the_nodes_dry_run_answers_at_the_time_it_would_be_journaled(
    node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rehearsed = spy_on_rehearsals(monkeypatch)
    answers: list[WireRehearsal] = []
    monkeypatch.setattr(node.gateway, "rehearsed", lambda submission, rehearsal: answers.append(rehearsal))

    node._sequence([regulator_batch(DepositCash(account="A001", amount=500), dry_run=True)])
    node._sequence([regulator_batch(WithdrawCash(account="A001", amount=10**12))])

    assert not list(read_journal(tmp_path / "var"))  # neither was journaled
    dry, refused = answers
    assert (dry.request_id, dry.rejections, [e.ts_event for e in dry.events[0]]) == (7, [], [rehearsed[0]])
    (rejection,) = refused.rejections
    assert (rejection.index, rejection.text.split(":")[0]) == (0, rejection.code.name)
    assert refused.events[0][0].ts_event == rehearsed[1]


def test_the_offline_path_journals_at_the_time_it_rehearsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "var"
    record_config(directory, load_config(make_config(tmp_path)).exchange)
    rehearsed = spy_on_rehearsals(monkeypatch)
    clock = TickingClock()

    events = rehearse_commands(directory, [DepositCash(account="A001", amount=500)], clock=clock)
    apply_commands(directory, [DepositCash(account="A001", amount=500)], fsync=False, clock=clock)

    (dry_ts, applied_ts) = rehearsed
    assert [e.ts_event for e in events[0]] == [dry_ts]
    assert [r.ts for r in read_journal(directory)] == [applied_ts]


@pytest.mark.per_book
def test_an_accepted_order_is_in_the_view_at_once(market: Market) -> None:
    view = ExchangeView(market.exchange)
    (accepted,) = market.buy("A3", 40, 7900)
    assert isinstance(accepted, OrderAccepted)
    (order,) = view.open_orders(["A3"])
    assert (order.order_id, order.price, order.leaves, order.filled) == (accepted.order_id, 7900, 40, 0)
    assert view.depth("SHEA2025", Side.BUY, 5)[0] == (7900, 40, 1)


@pytest.mark.not_per_book
@pytest.mark.parametrize("churn", [0, 100], ids=["few_issued", "more_issued_than_slots"])
def test_open_orders_of_some_accounts_are_the_same_on_both_books_after_the_slots_grew(
    config: ExchangeConfig, monkeypatch: pytest.MonkeyPatch, churn: int
) -> None:
    """The fast book picks an account's orders (``ladder.open_slots``) without building anybody else's:
    from the id index, or, once the day has issued more orders than there are slots, from the slots,
    sorted by id. The reference filters every resting order. Same answers, by order id."""
    monkeypatch.setattr(engine.listing.fast.listing, "CAPACITY", 8)
    views = []
    for book in ("reference", "fast"):
        market = funded_market(config, book)
        if book == "fast":  # the slots walked as soon as there are more ids than slots (default: 8 times)
            market.exchange.listing.params[P_IDS_PER_SLOT] = 1
        for n in range(24):  # orders of three accounts interleaved over three instruments, some traded
            code = ("SHEA2025", "CCER", "T5")[n % 3]
            market.buy(TRADERS[n % 3], 10, 7800 - 5 * n, instrument=code)
            if n % 4 == 0:
                market.sell(TRADERS[3], 5, 7800 - 5 * n, instrument=code)
        market.send(CancelOrder(account=TRADERS[1], order_id=5))
        for _ in range(churn):  # orders placed and cancelled: ids issued, no slot kept
            (placed,) = [e for e in market.buy(TRADERS[0], 10, 7250) if isinstance(e, OrderAccepted)]
            market.send(CancelOrder(account=TRADERS[0], order_id=placed.order_id))
        market.buy(TRADERS[1], 10, 7250, instrument="T5")  # into a slot freed above, with the newest id
        views.append(ExchangeView(market.exchange))
    reference, fast = views
    assert len(fast.open_orders()) > 8  # more orders than the fast book started with slots for
    listing = market.exchange.listing
    issued = int(listing.params[P_NEXT_ORDER] - listing.params[P_ID_BASE])
    assert (issued > listing.orders.shape[0]) is bool(churn)  # the slots walked, not the id index

    asked: list[tuple[object, str | None]] = [("A1", None), (["A2", "A3"], None), ({"A1", "A4"}, "CCER")]
    asked += [(["A3"], "T5"), (["NOBODY"], None), ([], None), (None, "SHEA2025"), ("A2", "NOT-LISTED")]
    for accounts, instrument in asked:
        expected = reference.open_orders(accounts, instrument)  # type: ignore[arg-type]
        assert fast.open_orders(accounts, instrument) == expected, (accounts, instrument)  # type: ignore[arg-type]
        assert [o.order_id for o in expected] == sorted(o.order_id for o in expected)
    assert {o.account for o in fast.open_orders(["A2", "A3"])} == {"A2", "A3"}
