"""docs/RULES_COVERAGE.md "Agreement transfer": acceptance, pre-funding, settlement, limits and expiry.

Through the Exchange with the exact events: acceptance settles delivery versus payment at once with
the agreement fee on each side (0.10%, half-up to the fen); the counterparty's side is checked and
frozen at acceptance, and one it cannot fund, or a buy over the position limit, leaves the proposal
open; a reject, a cancel and expiry release the proposer's freeze exactly; bought tonnes wait for
the next trading day. The day's figures, statements and snapshots: tests/test_transfer_day.py. The
market (tests/transfer_desk.py) is DAY1's afternoon with A1 and A2 selling and A3 and A4 buying;
every test ends valid and conserved.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

from engine.config import RiskLimits
from engine.exchange import Exchange, ExchangeState
from engine.market_day import MarketState
from engine.messages import (
    AcceptTransfer,
    AccountStatement,
    AllocateAllowances,
    CancelOrder,
    DepositCash,
    EndOfDay,
    OrderAccepted,
    OrderRejected,
    OrderType,
    Reject,
    Session,
    StartOfDay,
    TransferExpired,
    WithdrawCash,
)
from engine.view import AccountCash, ExchangeView
from tests.conftest import DAY1, DAY2, Market, assert_balanced, market_config
from tests.transfer_desk import (
    BUY,
    CASH_T,
    FEES,
    SELL,
    SELLER_T,
    SHEA,
    T5,
    accept,
    accepted_and_executed,
    agreement_fee,
    cancelled_by_proposer,
    decline,
    expired,
    listing_fee,
    listing_order,
    made,
    proposal,
    refused,
    rejected_by_counterparty,
    transfer_market,
    withdraw,
)

pytestmark = pytest.mark.per_book  # transfers settle through the ledger the fast book also writes
# Individuals may hold at most 300,000 t; covered entities and institutions as by default.
TIGHT = RiskLimits(position_limit_t={"covered_entity": 1_000_000, "institution": 1_000_000, "individual": 300_000})


@pytest.fixture
def desk(book_kind: str) -> Iterator[Market]:
    market = transfer_market(book_kind)
    yield market
    market.exchange.validate_internal_state()
    assert_balanced(market)


@pytest.fixture
def tight(book_kind: str) -> Iterator[Market]:
    market = transfer_market(book_kind, market_config(risk=TIGHT))
    yield market
    market.exchange.validate_internal_state()
    assert_balanced(market)


# ------------------------------------------------------------------------------ settlement


def test_acceptance_settles_delivery_versus_payment_at_once(desk: Market) -> None:
    command = proposal("A1", SELL, "A3", 100_000, 8000, "p1")
    made(desk, command, 1)

    events = accept(desk, "A3", 1)

    assert events == accepted_and_executed(desk.ts, 1, command)
    value, fee = 800_000_000, 800_000
    assert desk.cash("A1") == (CASH_T + value - fee, 0)
    assert desk.holding("A1") == (SELLER_T - 100_000, 0, 0)
    assert desk.cash("A3") == (CASH_T - value - fee, 0)
    assert desk.holding("A3") == (0, 0, 100_000)  # restricted: bought today
    assert desk.cash(FEES) == (2 * fee, 0)
    view = ExchangeView(desk.exchange)
    assert view.cash("A1") == AccountCash(
        available=CASH_T + value - fee, frozen=0, withdrawable=CASH_T
    )  # net proceeds: tomorrow
    [record] = view.transfers("A1")
    assert (record.status.name, record.frozen_cash, record.frozen_quantity) == ("EXECUTED", 0, 0)


def test_a_buying_proposer_pays_out_of_its_freeze_and_the_counterparty_delivers(desk: Market) -> None:
    command = proposal("A4", BUY, "A2", 200_000, 7500, "b1")
    made(desk, command, 1)
    assert desk.cash("A4") == (CASH_T - 1_501_500_000, 1_501_500_000)

    events = accept(desk, "A2", 1)

    assert events == accepted_and_executed(desk.ts, 1, command)
    assert desk.cash("A4") == (CASH_T - 1_501_500_000, 0)
    assert desk.holding("A4") == (0, 0, 200_000)
    assert desk.cash("A2") == (CASH_T + 1_500_000_000 - 1_500_000, 0)
    assert desk.holding("A2") == (SELLER_T - 200_000, 0, 0)


def test_the_agreement_fee_is_per_side_half_up_to_the_fen(desk: Market) -> None:
    half = proposal("A1", SELL, "A3", 100_500, 8001, "p1")  # 804,100,500 fen: fee 804,100.5 -> 804,101
    below = proposal("A2", SELL, "A4", 100_499, 8001, "p1")  # 804,092,499 fen: fee 804,092.499 -> 804,092
    made(desk, half, 1)
    made(desk, below, 2)

    up = accept(desk, "A3", 1)
    down = accept(desk, "A4", 2)

    assert up == accepted_and_executed(desk.ts - 1, 1, half)
    assert down == accepted_and_executed(desk.ts, 2, below)
    assert (agreement_fee(804_100_500), agreement_fee(804_092_499)) == (804_101, 804_092)
    assert desk.cash(FEES) == (2 * 804_101 + 2 * 804_092, 0)
    assert desk.cash("A3") == (CASH_T - 804_100_500 - 804_101, 0)
    assert desk.cash("A2") == (CASH_T + 804_092_499 - 804_092, 0)


# ------------------------------------------------------------------- funding at acceptance


def test_a_seller_without_the_tonnes_is_refused_at_acceptance_and_may_accept_once_funded(desk: Market) -> None:
    command = proposal("A3", BUY, "A4", 100_000, 8000, "b1")
    made(desk, command, 1)

    refused(
        desk,
        AcceptTransfer(account="A4", transfer_id=1),
        f"INSUFFICIENT_HOLDINGS: transfer_id=1 instrument={SHEA} required=100000 available=0",
    )
    assert desk.cash("A3") == (CASH_T - 800_800_000, 800_800_000)  # the proposal is still open
    desk.send(AllocateAllowances(account="A4", instrument=SHEA, quantity=100_000))

    assert accept(desk, "A4", 1) == accepted_and_executed(desk.ts, 1, command)
    assert desk.holding("A4") == (0, 0, 0)
    assert desk.holding("A3") == (0, 0, 100_000)


def test_a_buyer_without_the_cash_is_refused_at_acceptance_and_may_accept_once_funded(desk: Market) -> None:
    command = proposal("A1", SELL, "A4", 100_000, 8000, "s1")
    made(desk, command, 1)
    desk.send(WithdrawCash(account="A4", amount=1_500_000_000))

    refused(
        desk,
        AcceptTransfer(account="A4", transfer_id=1),
        "INSUFFICIENT_FUNDS: transfer_id=1 required=800800000 available=500000000",
    )
    assert desk.holding("A1") == (SELLER_T - 100_000, 100_000, 0)  # the proposal is still open
    desk.send(DepositCash(account="A4", amount=300_800_000))

    assert accept(desk, "A4", 1) == accepted_and_executed(desk.ts, 1, command)
    assert desk.cash("A4") == (0, 0)


# ------------------------------------------------------------------------- position limits


def test_the_position_limit_is_checked_at_the_proposal_when_the_proposer_buys(tight: Market) -> None:
    made(tight, proposal("A3", BUY, "A1", 200_000, 6000, "b1"), 1)
    made(tight, proposal("A3", BUY, "A2", 100_000, 6000, "b2"), 2)  # exactly at the limit: open buys count

    refused(
        tight,
        proposal("A3", BUY, "A1", 100_000, 6000, "b3"),
        "TRANSFER_POSITION_LIMIT: account=A3 position=300000 quantity=100000 limit=300000",
    )
    # A selling proposer's counterparty is checked only when it accepts.
    made(tight, proposal("A1", SELL, "A4", 400_000, 6000, "s1"), 3)


def test_the_position_limit_is_checked_again_when_the_counterparty_buys(tight: Market) -> None:
    large = proposal("A1", SELL, "A3", 400_000, 6000, "s1")
    made(tight, large, 1)
    refused(
        tight,
        AcceptTransfer(account="A3", transfer_id=1),
        "TRANSFER_POSITION_LIMIT: transfer_id=1 account=A3 position=0 quantity=400000 limit=300000",
    )
    fits = proposal("A2", SELL, "A3", 250_000, 6000, "s1")
    made(tight, fits, 2)
    made(tight, proposal("A3", BUY, "A1", 100_000, 6000, "b1"), 3)  # its own open buy counts too

    refused(
        tight,
        AcceptTransfer(account="A3", transfer_id=2),
        "TRANSFER_POSITION_LIMIT: transfer_id=2 account=A3 position=100000 quantity=250000 limit=300000",
    )
    withdraw(tight, "A3", 3)

    assert accept(tight, "A3", 2) == accepted_and_executed(tight.ts, 2, fits)
    # Now held, restricted: it counts towards the position.
    refused(
        tight,
        proposal("A3", BUY, "A1", 100_000, 6000, "b2"),
        "TRANSFER_POSITION_LIMIT: account=A3 position=250000 quantity=100000 limit=300000",
    )


def test_the_position_limit_at_acceptance_counts_listing_buys_made_since_the_proposal(tight: Market) -> None:
    command = proposal("A3", BUY, "A1", 250_000, 6000, "b1")
    made(tight, command, 1)
    # The listing knows nothing of open transfers: its check passes (0 held + 60,000 <= 300,000).
    order = tight.send(listing_order("A3", BUY, 60_000, 8000, "l1"))
    assert order == [
        OrderAccepted(
            ts_event=tight.ts,
            order_id=1,
            account="A3",
            instrument=SHEA,
            client_order_id="l1",
            side=BUY,
            order_type=OrderType.LIMIT,
            price=8000,
            quantity=60_000,
            frozen_cash=480_000_000 + listing_fee(480_000_000),
            frozen_quantity=0,
        )
    ]

    refused(
        tight,
        AcceptTransfer(account="A1", transfer_id=1),
        "TRANSFER_POSITION_LIMIT: transfer_id=1 account=A3 position=310000 quantity=0 limit=300000",
    )
    tight.send(CancelOrder(account="A3", order_id=1))

    assert accept(tight, "A1", 1) == accepted_and_executed(tight.ts, 1, command)


# ---------------------------------------------------------------- reject, cancel, expiry


def test_a_cancel_by_the_proposer_releases_its_freeze_exactly(desk: Market) -> None:
    buy = proposal("A3", BUY, "A1", 100_000, 8000, "b1")
    sell = proposal("A2", SELL, "A4", 123_456, 7001, "s1")
    made(desk, buy, 1)
    made(desk, sell, 2)

    bought = withdraw(desk, "A3", 1)
    sold = withdraw(desk, "A2", 2)

    assert bought == [cancelled_by_proposer(desk.ts - 1, 1, buy)]
    assert sold == [cancelled_by_proposer(desk.ts, 2, sell)]
    assert (bought[0], sold[0]) == (
        msgspec.structs.replace(cancelled_by_proposer(desk.ts - 1, 1, buy), released_cash=800_800_000),
        msgspec.structs.replace(cancelled_by_proposer(desk.ts, 2, sell), released_quantity=123_456),
    )
    assert desk.cash("A3") == (CASH_T, 0)
    assert desk.holding("A2") == (SELLER_T, 0, 0)


def test_a_reject_by_the_counterparty_releases_the_proposers_freeze_exactly(desk: Market) -> None:
    sell = proposal("A1", SELL, "A3", 100_000, 8000, "s1", T5)
    buy = proposal("A4", BUY, "A2", 100_001, 8001, "b1")
    made(desk, sell, 1)
    made(desk, buy, 2)

    declined_sale = decline(desk, "A3", 1)
    declined_buy = decline(desk, "A2", 2)

    assert declined_sale == [rejected_by_counterparty(desk.ts - 1, 1, sell)]
    assert declined_buy == [rejected_by_counterparty(desk.ts, 2, buy)]
    assert rejected_by_counterparty(desk.ts, 2, buy).released_cash == 800_108_001 + 800_108
    assert desk.holding("A1", T5) == (SELLER_T, 0, 0)
    assert desk.cash("A4") == (CASH_T, 0)


def test_open_proposals_expire_when_the_afternoon_closes(desk: Market) -> None:
    first = proposal("A1", SELL, "A3", 100_000, 8000, "s1")
    second = proposal("A4", BUY, "A2", 100_000, 7000, "b1")
    third = proposal("A2", SELL, "A4", 100_010, 7000, "s1", T5)
    made(desk, first, 1)
    made(desk, second, 2)
    made(desk, third, 3)
    accept(desk, "A3", 1)

    events = desk.session(Session.CLOSED)

    assert events[1:] == [expired(desk.ts, 2, second), expired(desk.ts, 3, third)]
    assert desk.cash("A4") == (CASH_T, 0)
    assert desk.holding("A2", T5) == (SELLER_T, 0, 0)
    assert desk.holding("A2") == (SELLER_T, 0, 0)
    refused(desk, AcceptTransfer(account="A2", transfer_id=2), "TRANSFER_NOT_OPEN: transfer_id=2 status=EXPIRED")


def test_the_end_of_day_finds_nothing_open_and_forgets_the_days_proposals(desk: Market) -> None:
    made(desk, proposal("A1", SELL, "A3", 100_000, 8000, "s1"), 1)
    desk.session(Session.CLOSED)

    events = desk.send(EndOfDay(trading_day=DAY1))

    assert [e for e in events if isinstance(e, TransferExpired)] == []  # expired at the close already
    statement = next(e for e in events if isinstance(e, AccountStatement) and e.account == "A1")
    assert statement.cash.closing_frozen == 0
    assert ExchangeView(desk.exchange).transfers() == []
    desk.send(StartOfDay(trading_day=DAY2))
    for session in (Session.MORNING, Session.LUNCH_BREAK, Session.AFTERNOON):
        desk.session(session)
    refused(desk, AcceptTransfer(account="A3", transfer_id=1), "UNKNOWN_TRANSFER: transfer_id=1")
    made(desk, proposal("A1", SELL, "A3", 100_000, 8000, "s1"), 2)


def test_the_end_of_day_expires_a_proposal_still_open(book_kind: str) -> None:
    """Unreachable by commands: only the afternoon's close leads to CLOSED, and it expires every
    proposal. A state with a proposal open after the close (made here by editing a snapshot) still
    has it expired, and its freeze released, by the end of day."""
    market = transfer_market(book_kind)
    command = proposal("A4", BUY, "A1", 100_000, 8000, "b1")
    made(market, command, 1)
    state = msgspec.msgpack.decode(market.exchange.snapshot(), type=ExchangeState)
    parts = []
    for name, raw in state.parts:
        if name == "market_day":
            day = msgspec.msgpack.decode(raw, type=MarketState)
            closed = msgspec.structs.replace(day, session=Session.CLOSED, sessions_over=True)
            raw = msgspec.Raw(msgspec.msgpack.encode(closed))
        parts.append((name, raw))
    edited = msgspec.msgpack.encode(msgspec.structs.replace(state, parts=parts))
    market.exchange = Exchange.from_snapshot(market.exchange.config, edited, book=book_kind)

    events = market.send(EndOfDay(trading_day=DAY1))

    assert [e for e in events if isinstance(e, TransferExpired)] == [expired(market.ts, 1, command)]
    statement = next(e for e in events if isinstance(e, AccountStatement) and e.account == "A4")
    assert (statement.cash.released, statement.cash.closing_frozen) == (800_800_000, 0)
    assert market.cash("A4") == (CASH_T, 0)
    assert_balanced(market)


# ------------------------------------------------------------------------- resale


def test_bought_tonnes_are_restricted_until_the_next_trading_day(desk: Market) -> None:
    made(desk, proposal("A1", SELL, "A3", 100_000, 8000, "s1"), 1)
    accept(desk, "A3", 1)

    listing_sale = desk.send(listing_order("A3", SELL, 100, 8000, "l1"))
    resale = proposal("A3", SELL, "A4", 100_000, 8000, "s1")
    refused(desk, resale, f"INSUFFICIENT_HOLDINGS: instrument={SHEA} required=100000 available=0")

    assert listing_sale == [
        OrderRejected(
            ts_event=desk.ts - 1,
            account="A3",
            instrument=SHEA,
            client_order_id="l1",
            code=Reject.INSUFFICIENT_HOLDINGS,
            text="INSUFFICIENT_HOLDINGS: required=100 available=0",
        )
    ]
    desk.session(Session.CLOSED)
    desk.send(EndOfDay(trading_day=DAY1))
    desk.send(StartOfDay(trading_day=DAY2))
    desk.session(Session.MORNING)
    assert desk.holding("A3") == (100_000, 0, 0)
    sold = desk.send(listing_order("A3", SELL, 100, 8000, "l1"))
    assert [type(e).__name__ for e in sold] == ["OrderAccepted"]
    desk.send(CancelOrder(account="A3", order_id=1))
    desk.session(Session.LUNCH_BREAK)
    desk.session(Session.AFTERNOON)
    made(desk, resale, 2)
    assert accept(desk, "A4", 2) == accepted_and_executed(desk.ts, 2, resale)
