"""Shared fixtures: a small market, a driver that speaks in the market's words, and the checks
every test ends with (books valid, cash and allowances conserved)."""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import engine.listing
from engine.batch import CommandBatch, EventBatch
from engine.config import Account, CarryOverRule, ExchangeConfig, Instrument, Member, RegistryRules
from engine.exchange import Exchange
from engine.listing import BOOK_KINDS
from engine.listing.fast.warm import load_kernels
from engine.messages import (
    AllocateAllowances,
    AllowancesAllocated,
    AllowancesCancelled,
    AllowancesCarriedOver,
    AllowancesSurrendered,
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    CashDeposited,
    CashWithdrawn,
    Command,
    DepositCash,
    EndOfDay,
    Event,
    NewOrder,
    OrderType,
    Session,
    SetSession,
    Side,
    StartOfDay,
    StpMode,
)

_QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]  # book_kind only sets a default
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=_QUIET)
settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

DAY1 = 20261123  # a Monday
DAY2 = 20261124
CASH = 1_000_000_000  # fen deposited into each trading account: 10,000,000.00 CNY
HOLDING = 50_000  # tonnes of SHEA2025 and CCER allocated to each trading account
TRADERS = ("A1", "A2", "A3", "A4")


def market_config(**overrides: object) -> ExchangeConfig:
    """The test market: SHEA2025 at 80.00, CCER at 85.00, and T5 with a 5-fen tick at 77.77."""
    fields: dict[str, object] = {
        "instruments": [
            Instrument(code="SHEA2025", name="Shanghai allowance 2025", kind="allowance", reference_price_fen=8000),
            Instrument(code="CCER", name="CCER", kind="ccer", reference_price_fen=8500),
            Instrument(
                code="T5", name="five-fen tick", kind="allowance", reference_price_fen=7775, tick_fen=5, lot_t=10
            ),
        ],
        "members": [
            Member(id="EXCH", name="the exchange", kind="exchange"),
            Member(id="REGU", name="the regulator", kind="regulator"),
            Member(id="M1", name="member one", kind="self_dealing"),
            Member(id="M2", name="member two", kind="comprehensive"),
        ],
        "accounts": [
            Account(id="EXCHANGE-FEES", member="EXCH", kind="exchange_fees"),
            Account(id="RESERVE", member="REGU", kind="reserve"),
            Account(id="A1", member="M1", kind="covered_entity"),
            Account(id="A2", member="M2", kind="institution"),
            Account(id="A3", member="M2", kind="individual"),
            Account(id="A4", member="M2", kind="individual"),
            Account(id="STAFF", member="M2", kind="individual", prohibited=True),
        ],
    }
    fields.update(overrides)
    return ExchangeConfig(**fields)  # type: ignore[arg-type]


def registry_config(**overrides: object) -> ExchangeConfig:
    """The test market with vintages for the registry: SHEA2024 and SHEA2025 (vintages 2024 and
    2025), CCER and SHCER offsets, T5 (no vintage), a second covered entity B1 (member M1, nothing
    funded) and the carry-over rule SHEA2024 -> SHEA2025 (offset cap: the default 5%)."""
    base = market_config()
    fields: dict[str, object] = {
        "instruments": [
            Instrument(
                code="SHEA2024", name="allowance 2024", kind="allowance", reference_price_fen=7500, vintage=2024
            ),
            Instrument(
                code="SHEA2025", name="allowance 2025", kind="allowance", reference_price_fen=8000, vintage=2025
            ),
            Instrument(code="CCER", name="CCER", kind="ccer", reference_price_fen=8500),
            Instrument(code="SHCER", name="SHCER", kind="shcer", reference_price_fen=6000),
            *(i for i in base.instruments if i.code == "T5"),
        ],
        "accounts": [*base.accounts, Account(id="B1", member="M1", kind="covered_entity")],
        "registry": RegistryRules(carry_over=[CarryOverRule(from_instrument="SHEA2024", to_instrument="SHEA2025")]),
    }
    fields.update(overrides)
    return market_config(**fields)


class Market:
    """Drives an Exchange in the market's words; keeps every event it caused.

    It also keeps, from the registry events alone, the cash paid in (deposits − withdrawals) and
    the units outstanding per instrument (issued − surrendered − cancelled): what the ledger's
    balances must add up to (``assert_balanced``), counted independently of the ledger.
    """

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.events: list[Event] = []
        self._ids = itertools.count(1)
        self.ts = 0
        self.history: list[tuple[Command, list[Event]]] = []  # every command sent and its events, for replays
        self.paid_in = 0
        self.outstanding: dict[str, int] = {}

    def send(self, command: Command) -> list[Event]:
        self.ts += 1
        events = self.exchange.apply(command, ts=self.ts)
        self.history.append((command, events))
        self.events.extend(events)
        self._count_registry_events(events)
        self.exchange.validate_internal_state()
        return events

    def _count_registry_events(self, events: list[Event]) -> None:
        outstanding = self.outstanding
        for event in events:
            if isinstance(event, CashDeposited | CashWithdrawn):
                self.paid_in += event.amount if isinstance(event, CashDeposited) else -event.amount
            elif isinstance(event, AllowancesAllocated):
                outstanding[event.instrument] = outstanding.get(event.instrument, 0) + event.quantity
            elif isinstance(event, AllowancesCancelled | AllowancesCarriedOver):
                outstanding[event.instrument] = outstanding.get(event.instrument, 0) - event.quantity
                if isinstance(event, AllowancesCarriedOver):
                    outstanding[event.to_instrument] = outstanding.get(event.to_instrument, 0) + event.quantity
            elif isinstance(event, AllowancesSurrendered):
                for units in event.surrendered:
                    outstanding[units.instrument] = outstanding.get(units.instrument, 0) - units.quantity

    def order(
        self,
        account: str,
        side: Side,
        quantity: int,
        price: int = 0,
        order_type: OrderType = OrderType.LIMIT,
        instrument: str = "SHEA2025",
        stp: StpMode | None = None,
        client_order_id: str | None = None,
    ) -> list[Event]:
        cid = client_order_id if client_order_id is not None else f"c{next(self._ids)}"
        return self.send(
            NewOrder(
                account=account,
                instrument=instrument,
                client_order_id=cid,
                side=side,
                order_type=order_type,
                quantity=quantity,
                price=price,
                stp=stp,
            )
        )

    def buy(self, account: str, quantity: int, price: int = 0, **kw: object) -> list[Event]:
        return self.order(account, Side.BUY, quantity, price, **kw)  # type: ignore[arg-type]

    def sell(self, account: str, quantity: int, price: int = 0, **kw: object) -> list[Event]:
        return self.order(account, Side.SELL, quantity, price, **kw)  # type: ignore[arg-type]

    def cancel(self, account: str, order_id: int) -> list[Event]:
        return self.send(CancelOrder(account=account, order_id=order_id))

    def amend(self, account: str, order_id: int, price: int, quantity: int) -> list[Event]:
        return self.send(AmendOrder(account=account, order_id=order_id, price=price, quantity=quantity))

    def session(self, session: Session) -> list[Event]:
        return self.send(SetSession(session=session))

    def close_day(self, day: int = DAY1) -> list[Event]:
        """From the morning session to the end of the day."""
        current = self.exchange.market.session
        order = [Session.MORNING, Session.LUNCH_BREAK, Session.AFTERNOON, Session.CLOSED]
        for session in order[order.index(current) + 1 :] if current is not Session.CLOSED else []:
            self.session(session)
        return self.send(EndOfDay(trading_day=day))

    def open_day(self, day: int) -> None:
        self.send(StartOfDay(trading_day=day))
        self.session(Session.MORNING)

    # -------------------------------------------------------------- balances
    def cash(self, account: str) -> tuple[int, int]:
        balance = self.exchange.ledger.cash(account)
        return balance.available, balance.frozen

    def holding(self, account: str, instrument: str = "SHEA2025") -> tuple[int, int, int]:
        h = self.exchange.ledger.holding(account, instrument)
        return h.available, h.frozen, h.restricted


def assert_conserved(exchange: Exchange, deposited: int, issued: dict[str, int]) -> None:
    """Cash summed over every account equals deposits; holdings summed equal issuance."""
    ledger = exchange.ledger
    assert ledger.total_cash() == deposited == ledger.deposited
    for instrument, quantity in issued.items():
        assert ledger.total_holdings(instrument) == quantity == ledger.issued[instrument]


def assert_balanced(market: Market) -> None:
    """The ledger's own conservation check passes, and its balances add up to what the registry
    events the market saw paid in and issued (so a test that withdraws or surrenders is checked too)."""
    ledger = market.exchange.ledger
    assert ledger.conservation() == []
    assert ledger.total_cash() == market.paid_in == ledger.deposited - ledger.withdrawn
    for instrument in (i.code for i in market.exchange.config.instruments):
        assert ledger.total_holdings(instrument) == market.outstanding.get(instrument, 0), instrument


def pytest_sessionstart(session: pytest.Session) -> None:
    """Load (on a clean clone: compile, ~20 s) the fast book's kernels once, before any test: the
    nodes the tests start as subprocesses then find them in numba's cache and are ready at once."""
    load_kernels(market_config())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A test that touches the listing runs once per order book: it is marked ``per_book`` (in its
    # module's ``pytestmark`` or on itself). Every other test runs once, on the default book, and
    # ``_books_untouched`` fails it if a listing command reaches an exchange while it runs.
    # ``not_per_book`` runs a test once although it trades: it compares the books itself, or it is
    # about something else (the CLI's display, a benchmark) and runs on the default book on purpose.
    # Unittest-style classes (hypothesis state machines) take no parameters: they name their book.
    definition = metafunc.definition
    if (
        "book_kind" in metafunc.fixturenames
        and definition.get_closest_marker("per_book")
        and not definition.get_closest_marker("not_per_book")
    ):
        metafunc.parametrize("book_kind", BOOK_KINDS, indirect=True)


@pytest.fixture(autouse=True)
def book_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The order book of this run of the test (docs/ARCHITECTURE.md "Two order books, one behaviour").

    It becomes the engine's default for the test, so an ``Exchange`` built without naming a book,
    a node started in process, and a node started as a subprocess from ``make_config`` all run on it.
    """
    book = str(getattr(request, "param", engine.listing.DEFAULT_BOOK))
    monkeypatch.setattr(engine.listing, "DEFAULT_BOOK", book)
    return book


# ------------------------------------------------------------------ which tests run on both books
LISTING_COMMANDS = (NewOrder, CancelOrder, AmendOrder, CancelAllOrders)
_listing_commands: Counter[str] = Counter()  # the listing commands exchanges in this process applied, by type
_WATCHED_FROM = pytest.StashKey[Counter[str]]()


@pytest.fixture(scope="session", autouse=True)
def _private_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The user's state directory (XDG_STATE_HOME: `carbonx surveil` remembers the last store there)
    is the session's own, never the home of whoever runs the tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state-home")))
        yield


@pytest.fixture(scope="session", autouse=True)
def _listing_commands_counted() -> Iterator[None]:
    """Note every listing command any ``Exchange`` of this process applies, one by one or in a batch
    (a node in process included), for ``_books_untouched``."""
    apply, apply_batch = Exchange.apply, Exchange.apply_batch

    def noting_apply(self: Exchange, command: Command, ts: int = 0) -> list[Event]:
        if isinstance(command, LISTING_COMMANDS):
            _listing_commands[type(command).__name__] += 1
        return apply(self, command, ts)

    def noting_apply_batch(self: Exchange, batch: CommandBatch) -> EventBatch:
        _listing_commands.update(type(c).__name__ for c in batch.commands if isinstance(c, LISTING_COMMANDS))
        return apply_batch(self, batch)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Exchange, "apply", noting_apply)
        patch.setattr(Exchange, "apply_batch", noting_apply_batch)
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture of the test, module-scoped ones included: what they send counts as the test's.
    item.stash[_WATCHED_FROM] = _listing_commands.copy()


@pytest.fixture(autouse=True)
def _books_untouched(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that runs on one book only must not touch the listing: it would leave the other book
    untested. Watched: the listing commands (new order, cancel, amend, mass cancel) that reach an
    exchange in this process, from the test's setup to its teardown. A node started as a subprocess
    cannot be watched: a test whose node trades is marked ``per_book`` by hand."""
    yield
    test = request.node
    callspec = getattr(test, "callspec", None)
    if (callspec is not None and "book_kind" in callspec.params) or test.get_closest_marker("not_per_book"):
        return
    sent = _listing_commands - test.stash.get(_WATCHED_FROM, _listing_commands)
    if sent:
        pytest.fail(
            f"listing commands ({', '.join(f'{n} {kind}' for kind, n in sorted(sent.items()))}) reached an exchange "
            "in a test that runs on one book only: mark it per_book (tests/conftest.py), or not_per_book if it "
            "compares the books itself"
        )


@pytest.fixture
def config() -> ExchangeConfig:
    return market_config()


def funded_market(config: ExchangeConfig, book_kind: str) -> Market:
    """A market in the morning session of DAY1, every trader funded with CASH and HOLDING."""
    market = Market(Exchange(config, book=book_kind))
    market.send(StartOfDay(trading_day=DAY1))
    for account in TRADERS:
        market.send(DepositCash(account=account, amount=CASH))
        for instrument in ("SHEA2025", "CCER", "T5"):
            market.send(AllocateAllowances(account=account, instrument=instrument, quantity=HOLDING))
    market.session(Session.MORNING)
    market.events.clear()
    return market


@pytest.fixture
def market(config: ExchangeConfig, book_kind: str) -> Iterator[Market]:
    m = funded_market(config, book_kind)
    funded = {i: HOLDING * len(TRADERS) for i in ("SHEA2025", "CCER", "T5")}
    assert (m.paid_in, m.outstanding) == (CASH * len(TRADERS), funded)
    yield m
    # Every test leaves the books valid and the ledger conserved: against what the registry issued
    # and paid in (the funding, plus whatever the test deposited, withdrew, surrendered, ...).
    m.exchange.validate_internal_state()
    assert_balanced(m)


@pytest.fixture
def desk(book_kind: str) -> Iterator[Market]:
    """The auction tests' market (tests/auction_desk.py ``auction_market``), left valid and balanced."""
    from tests.auction_desk import auction_market  # it imports this module

    m = auction_market(book_kind)
    yield m
    m.exchange.validate_internal_state()
    assert_balanced(m)


class InjectedDefect(RuntimeError):
    """A failure a test injects on purpose into the engine (tests/test_internal_error.py)."""


@pytest.fixture(autouse=True)
def _no_engine_defects(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[None]:
    """The engine turns an exception in a mechanism into INTERNAL_ERROR instead of raising, so a defect
    no longer stops a test by itself: any test during which the engine meets one fails, unless the
    test injected it (``InjectedDefect``) or planted the defect in the state (``defect_planted``)."""
    if request.node.get_closest_marker("defect_planted") is not None:
        yield
        return
    met: list[str] = []
    failed, report_failure = Exchange._failed, Exchange._report_failure

    def note(exc: Exception, command: object) -> None:
        if not isinstance(exc, InjectedDefect):
            met.append(f"{type(command).__name__}: {type(exc).__name__}: {exc}")

    def noting_failed(self: Exchange, cmd: Any, ts: int, exc: Exception) -> list[Any]:
        note(exc, cmd)
        return failed(self, cmd, ts, exc)

    def noting_report(self: Exchange, cmd: Any, ts: int, exc: Exception) -> Any:
        note(exc, cmd)
        return report_failure(self, cmd, ts, exc)

    monkeypatch.setattr(Exchange, "_failed", noting_failed)
    monkeypatch.setattr(Exchange, "_report_failure", noting_report)
    yield
    if met:
        pytest.fail("the engine met a defect (INTERNAL_ERROR): " + "; ".join(met[:3]))


@pytest.fixture(autouse=True)
def _uncached_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI configures structlog with cached loggers; in tests a later ``capture_logs`` must still see them."""
    import carbonx.cli
    from carbonx.logs import configure_logging

    monkeypatch.setattr(carbonx.cli, "configure_logging", lambda level="warning": configure_logging(level, cache=False))
