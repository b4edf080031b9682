"""The end of day: statements, settlement, conservation.

docs/RULES_COVERAGE.md "End of day, the registry and risk control".

A full trading day worked out by hand: deposits, allocations, three trades with their fees
(listing fee 0.15% a side, half-up to the fen), a cancel, an expired order and withdrawals; then
every statement, the member settlements, the bulletin, the conservation check, and the next day
opening where this one closed. Then conservation failures (corrupted state halts the market), and
a property: random registry operations and trades keep every statement section balanced.
"""

from __future__ import annotations

from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.config import RiskLimits
from engine.exchange import Exchange
from engine.market_day.calendar import day_from_int, day_to_int
from engine.messages import (
    AccountStatement,
    AllocateAllowances,
    AmendOrder,
    CancelAllowances,
    CancelOrder,
    CancelReason,
    CarryOverAllowances,
    Command,
    ConservationChecked,
    DailyBulletin,
    DepositCash,
    EndOfDay,
    Event,
    HaltMarket,
    LargeHolderReported,
    MarketStatusChanged,
    MemberSettlement,
    MergeAccounts,
    NewOrder,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OrderType,
    Reject,
    RequestRejected,
    ResumeMarket,
    Session,
    Side,
    SplitAccount,
    SplitPart,
    StartOfDay,
    SurrenderAllowances,
    TradingDayEnded,
    Units,
    WithdrawCash,
)
from settlement.arrays import H_AVAIL, H_RESTRICTED, K_AVAIL
from settlement.statements import CashStatement, ConservationMismatch, HoldingStatement, StatementTrade
from tests.conftest import (
    CASH,
    DAY1,
    DAY2,
    HOLDING,
    TRADERS,
    Market,
    assert_balanced,
    funded_market,
    market_config,
    registry_config,
)

SHEA = "SHEA2025"
E = TypeVar("E", bound=Event)
FEES = "EXCHANGE-FEES"
BUY, SELL = Side.BUY, Side.SELL


def of_type(events: list[Event], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def assert_sections_balance(statement: AccountStatement) -> None:
    assert statement.cash.opening + statement.cash.movements() == statement.cash.closing, statement.account
    for section in statement.holdings:
        assert section.opening + section.movements() == section.closing, (statement.account, section.instrument)


# ---------------------------------------------------------------------------------------- the day


def trading_day(book_kind: str) -> Market:
    """DAY1 up to the close of the afternoon session, every step's effect noted."""
    market = Market(Exchange(market_config(), book=book_kind))
    market.send(StartOfDay(trading_day=DAY1))
    market.send(DepositCash(account="A1", amount=10_000_000))
    market.send(DepositCash(account="A2", amount=500_000))
    market.send(DepositCash(account="A3", amount=3_000_000))
    market.send(AllocateAllowances(account="A1", instrument=SHEA, quantity=2_000))
    market.send(AllocateAllowances(account="A1", instrument=SHEA, quantity=100, compliance_only=True))
    market.send(AllocateAllowances(account="A2", instrument=SHEA, quantity=1_000))
    market.session(Session.MORNING)
    market.send(WithdrawCash(account="A1", amount=1_000_000))
    market.sell("A2", 300, 8000)  # order 1
    # Order 2 freezes 1,602,000 + fee 2,403; trade 1: 200 t at 8000 = 1,600,000, fee 2,400 a side;
    # the price improvement and the unused fee, 2,003, are released.
    market.buy("A1", 200, 8010)
    # Order 3 freezes 1,200,000 + 1,800; trade 2: 100 t at 8000 = 800,000, fee 1,200 a side
    # (A2's fee on its cumulative 2,400,000 is 3,600: 2,400 + 1,200). 50 t rest, 400,600 frozen.
    market.buy("A3", 150, 8000)
    market.buy("A1", 100, 7900)  # order 4: 790,000 + 1,185 frozen ...
    market.cancel("A1", 4)  # ... and released
    market.sell("A1", 33, 8011)  # order 5
    # Trade 3: 33 t at 8011 = 264,363, fee 396.5445 -> 397 a side.
    market.buy("A3", 33, 8011)
    # A2 holds 500,000 deposited and 2,396,400 of today's proceeds: only the 500,000 is withdrawable.
    refused = market.send(WithdrawCash(account="A2", amount=500_001))
    assert [r.text for r in of_type(refused, RequestRejected)] == [
        "NOT_WITHDRAWABLE: amount=500001 withdrawable=500000"
    ]
    market.send(WithdrawCash(account="A2", amount=300_000))
    for session in (Session.LUNCH_BREAK, Session.AFTERNOON, Session.CLOSED):
        market.session(session)
    assert not of_type(market.events, OrderRejected)
    market.events.clear()
    return market


@pytest.mark.per_book
def test_end_of_day_events_in_order(book_kind: str) -> None:
    market = trading_day(book_kind)

    events = market.send(EndOfDay(trading_day=DAY1))

    assert [type(e).__name__ for e in events] == [
        "OrderCancelled",
        *["DailyBulletin"] * 3,
        *["AccountStatement"] * 4,
        *["MemberSettlement"] * 3,
        "ConservationChecked",
        "TradingDayEnded",
    ]
    assert all(e.ts_event == market.ts for e in events)
    assert events[0] == OrderCancelled(
        ts_event=market.ts,
        order_id=3,
        account="A3",
        instrument=SHEA,
        reason=CancelReason.EXPIRED,
        cancelled_quantity=50,
        released_cash=400_600,
        released_quantity=0,
    )
    assert events[-2:] == [
        ConservationChecked(ts_event=market.ts, trading_day=DAY1, ok=True, mismatches=[]),
        TradingDayEnded(ts_event=market.ts, trading_day=DAY1, expired_orders=1, fees_collected=7_994),
    ]


@pytest.mark.per_book
def test_daily_bulletin_is_published_and_the_close_is_the_next_reference(book_kind: str) -> None:
    market = trading_day(book_kind)

    bulletins = of_type(market.send(EndOfDay(trading_day=DAY1)), DailyBulletin)

    # Close = VWAP 2,664,363 / 333 t = 8001.09 -> 8001; CCER and T5 did not trade.
    assert bulletins == [
        DailyBulletin(
            ts_event=market.ts,
            trading_day=DAY1,
            instrument=SHEA,
            reference_price=8000,
            open=8000,
            high=8011,
            low=8000,
            last=8011,
            close=8001,
            vwap=8001,
            volume=333,
            turnover=2_664_363,
            trades=3,
        ),
        *(
            DailyBulletin(
                ts_event=market.ts,
                trading_day=DAY1,
                instrument=code,
                reference_price=price,
                open=0,
                high=0,
                low=0,
                last=0,
                close=price,
                vwap=0,
                volume=0,
                turnover=0,
                trades=0,
            )
            for code, price in (("CCER", 8500), ("T5", 7775))
        ),
    ]
    assert market.exchange.listing.days[SHEA].reference_price == 8001


@pytest.mark.per_book
def test_account_statements_of_a_full_day(book_kind: str) -> None:
    market = trading_day(book_kind)

    statements = of_type(market.send(EndOfDay(trading_day=DAY1)), AccountStatement)

    ts = market.ts
    assert statements == [
        AccountStatement(
            ts_event=ts,
            trading_day=DAY1,
            account="A1",
            member="M1",
            # 10,000,000 - 1,000,000 - 1,600,000 + 264,363 - (2,400 + 397)
            cash=CashStatement(
                opening=0,
                deposits=10_000_000,
                withdrawals=1_000_000,
                bought=1_600_000,
                sold=264_363,
                fees_paid=2_797,
                closing=7_661_566,
                closing_frozen=0,
                released=2_003 + 791_185,
                withdrawable=7_661_566,
            ),
            holdings=[
                HoldingStatement(
                    instrument=SHEA,
                    opening=0,
                    allocated=2_100,
                    bought=200,
                    sold=33,
                    closing=2_267,
                    closing_compliance=100,
                    released_restricted=200,
                )
            ],
            trades=[
                StatementTrade(
                    trade_id=1, instrument=SHEA, side=BUY, price=8000, quantity=200, value=1_600_000, fee=2_400
                ),
                StatementTrade(trade_id=3, instrument=SHEA, side=SELL, price=8011, quantity=33, value=264_363, fee=397),
            ],
        ),
        AccountStatement(
            ts_event=ts,
            trading_day=DAY1,
            account="A2",
            member="M2",
            # 500,000 - 300,000 + 2,400,000 - 3,600; all of it withdrawable once the day is over.
            cash=CashStatement(
                opening=0,
                deposits=500_000,
                withdrawals=300_000,
                sold=2_400_000,
                fees_paid=3_600,
                closing=2_596_400,
                withdrawable=2_596_400,
            ),
            holdings=[HoldingStatement(instrument=SHEA, opening=0, allocated=1_000, sold=300, closing=700)],
            trades=[
                StatementTrade(
                    trade_id=1, instrument=SHEA, side=SELL, price=8000, quantity=200, value=1_600_000, fee=2_400
                ),
                StatementTrade(
                    trade_id=2, instrument=SHEA, side=SELL, price=8000, quantity=100, value=800_000, fee=1_200
                ),
            ],
        ),
        AccountStatement(
            ts_event=ts,
            trading_day=DAY1,
            account="A3",
            member="M2",
            # 3,000,000 - (800,000 + 264,363) - (1,200 + 397); the expired rest released 400,600.
            cash=CashStatement(
                opening=0,
                deposits=3_000_000,
                bought=1_064_363,
                fees_paid=1_597,
                closing=1_934_040,
                released=400_600,
                withdrawable=1_934_040,
            ),
            holdings=[HoldingStatement(instrument=SHEA, opening=0, bought=133, closing=133, released_restricted=133)],
            trades=[
                StatementTrade(
                    trade_id=2, instrument=SHEA, side=BUY, price=8000, quantity=100, value=800_000, fee=1_200
                ),
                StatementTrade(trade_id=3, instrument=SHEA, side=BUY, price=8011, quantity=33, value=264_363, fee=397),
            ],
        ),
        AccountStatement(
            ts_event=ts,
            trading_day=DAY1,
            account=FEES,
            member="EXCH",
            cash=CashStatement(opening=0, fees_received=7_994, closing=7_994, withdrawable=7_994),
            holdings=[],
            trades=[],
        ),
    ]
    for each in statements:
        assert_sections_balance(each)
    assert_balanced(market)


@pytest.mark.per_book
def test_member_settlement_nets_to_pay_or_receive_sum_to_zero(book_kind: str) -> None:
    market = trading_day(book_kind)

    settlements = of_type(market.send(EndOfDay(trading_day=DAY1)), MemberSettlement)

    ts = market.ts
    assert settlements == [
        MemberSettlement(
            ts_event=ts, trading_day=DAY1, member="EXCH", bought=0, sold=0, fees_paid=0, fees_received=7_994, net=7_994
        ),
        # M1 (A1) pays: 264,363 - 1,600,000 - 2,797.
        MemberSettlement(
            ts_event=ts,
            trading_day=DAY1,
            member="M1",
            bought=1_600_000,
            sold=264_363,
            fees_paid=2_797,
            fees_received=0,
            net=-1_338_434,
        ),
        # M2 (A2 and A3) receives: 2,400,000 - 1,064,363 - (3,600 + 1,597).
        MemberSettlement(
            ts_event=ts,
            trading_day=DAY1,
            member="M2",
            bought=1_064_363,
            sold=2_400_000,
            fees_paid=5_197,
            fees_received=0,
            net=1_330_440,
        ),
    ]
    assert sum(s.net for s in settlements) == 0


@pytest.mark.per_book
def test_next_day_opens_at_the_close_and_takes_the_operations_between_days(book_kind: str) -> None:
    market = trading_day(book_kind)
    market.send(EndOfDay(trading_day=DAY1))
    # Between the days: they belong to DAY2's statements.
    market.send(DepositCash(account="A1", amount=5_000))
    market.send(CancelAllowances(account="A2", instrument=SHEA, quantity=100))
    market.open_day(DAY2)
    withdrawn = market.send(WithdrawCash(account="A2", amount=2_596_400))  # yesterday's proceeds included

    events = market.close_day(DAY2)

    assert not of_type(withdrawn, RequestRejected)
    statements = of_type(events, AccountStatement)
    assert [(s.account, s.trading_day, s.cash, s.holdings, s.trades) for s in statements] == [
        (
            "A1",
            DAY2,
            CashStatement(opening=7_661_566, deposits=5_000, closing=7_666_566, withdrawable=7_666_566),
            [HoldingStatement(instrument=SHEA, opening=2_267, closing=2_267, closing_compliance=100)],
            [],
        ),
        (
            "A2",
            DAY2,
            CashStatement(opening=2_596_400, withdrawals=2_596_400, closing=0),
            [HoldingStatement(instrument=SHEA, opening=700, cancelled=100, closing=600)],
            [],
        ),
        (
            "A3",
            DAY2,
            CashStatement(opening=1_934_040, closing=1_934_040, withdrawable=1_934_040),
            [HoldingStatement(instrument=SHEA, opening=133, closing=133)],
            [],
        ),
        (FEES, DAY2, CashStatement(opening=7_994, closing=7_994, withdrawable=7_994), [], []),
    ]
    assert of_type(events, MemberSettlement) == []
    assert [(b.instrument, b.reference_price, b.close) for b in of_type(events, DailyBulletin)] == [
        (SHEA, 8001, 8001),
        ("CCER", 8500, 8500),
        ("T5", 7775, 7775),
    ]
    assert of_type(events, TradingDayEnded) == [
        TradingDayEnded(ts_event=market.ts, trading_day=DAY2, expired_orders=0, fees_collected=0)
    ]
    assert_balanced(market)


def test_merger_shows_in_both_statements(book_kind: str) -> None:
    market = funded_market(registry_config(), book_kind)
    market.close_day(DAY1)
    market.send(MergeAccounts(account="A3", successor="A4"))
    market.open_day(DAY2)

    statements = {s.account: s for s in of_type(market.close_day(DAY2), AccountStatement)}

    assert statements["A3"].cash == CashStatement(opening=CASH, transferred_out=CASH, closing=0)
    assert statements["A4"].cash == CashStatement(
        opening=CASH, transferred_in=CASH, closing=2 * CASH, withdrawable=2 * CASH
    )
    assert statements["A3"].holdings == [
        HoldingStatement(instrument=code, opening=HOLDING, transferred_out=HOLDING, closing=0)
        for code in ("CCER", SHEA, "T5")
    ]
    assert statements["A4"].holdings == [
        HoldingStatement(instrument=code, opening=HOLDING, transferred_in=HOLDING, closing=2 * HOLDING)
        for code in ("CCER", SHEA, "T5")
    ]
    assert_balanced(market)


def test_surrender_carry_over_and_cancellation_in_the_statement(book_kind: str) -> None:
    market = funded_market(registry_config(), book_kind)
    market.send(AllocateAllowances(account="A1", instrument="SHEA2024", quantity=3_000))
    market.send(SurrenderAllowances(account="A1", compliance_year=2024, verified_emissions=2_000))  # 100 CCER
    market.send(CarryOverAllowances(account="A1", instrument="SHEA2024", quantity=1_000))
    market.send(CancelAllowances(account="A1", instrument="T5", quantity=10))

    [a1] = [s for s in of_type(market.close_day(DAY1), AccountStatement) if s.account == "A1"]

    # Funding happened on DAY1 too: allocated includes the 50,000 t of each.
    assert a1.holdings == [
        HoldingStatement(instrument="CCER", opening=0, allocated=HOLDING, surrendered=100, closing=HOLDING - 100),
        HoldingStatement(
            instrument="SHEA2024", opening=0, allocated=3_000, surrendered=1_900, carried_out=1_000, closing=100
        ),
        HoldingStatement(instrument=SHEA, opening=0, allocated=HOLDING, carried_in=1_000, closing=HOLDING + 1_000),
        HoldingStatement(instrument="T5", opening=0, allocated=HOLDING, cancelled=10, closing=HOLDING - 10),
    ]
    assert_sections_balance(a1)
    assert_balanced(market)


@pytest.mark.per_book
def test_a_day_of_statements_survives_snapshot_and_replay(book_kind: str) -> None:
    market = trading_day(book_kind)
    market.send(EndOfDay(trading_day=DAY1))
    market.send(DepositCash(account="A1", amount=5_000))  # between the days: in DAY2's statement
    market.send(CancelAllowances(account="A2", instrument=SHEA, quantity=100))
    original = market.exchange

    restored = Exchange.from_snapshot(original.config, original.snapshot(), book_kind)
    fresh = Exchange(original.config, book=book_kind)
    replayed = [(command, fresh.apply(command, ts)) for ts, (command, _) in enumerate(market.history, 1)]

    assert restored.state_hash() == fresh.state_hash() == original.state_hash()
    assert replayed == market.history
    # All three close the next day with the same events, statements included.
    day2: list[Command] = [StartOfDay(trading_day=DAY2), EndOfDay(trading_day=DAY2)]
    closes = [
        [e for ts, c in enumerate(day2, market.ts + 1) for e in x.apply(c, ts)] for x in (original, restored, fresh)
    ]
    assert closes[0] == closes[1] == closes[2]
    assert len(of_type(closes[0], AccountStatement)) == 4
    assert original.state_hash() == restored.state_hash() == fresh.state_hash()


# ---------------------------------------------------------------------------------------- large holders


def test_no_large_holders_under_the_default_thresholds(market: Market) -> None:
    events = market.close_day(DAY1)

    assert of_type(events, LargeHolderReported) == []


# ---------------------------------------------------------------------------------------- conservation


def corrupt(market: Market, account: str, by: int, instrument: str = "", column: int = K_AVAIL) -> None:
    """Change a balance behind the ledger's back, as a defect would: in its arrays, past its methods."""
    ledger = market.exchange.ledger
    a = ledger.account_index[account]
    if instrument:
        ledger.arrays.holdings[a, ledger.instrument_index[instrument], column] += by
    else:
        ledger.arrays.cash[a, column] += by


def test_corrupted_cash_fails_the_conservation_check_and_halts_the_market(book_kind: str) -> None:
    market = funded_market(market_config(), book_kind)
    corrupt(market, "A1", 5)

    events = market.close_day(DAY1)

    assert events[-3:] == [
        ConservationChecked(
            ts_event=market.ts,
            trading_day=DAY1,
            ok=False,
            mismatches=[ConservationMismatch(asset="CASH", expected=4 * CASH, actual=4 * CASH + 5, difference=5)],
        ),
        MarketStatusChanged(ts_event=market.ts, halted=True, reason="conservation check failed"),
        TradingDayEnded(ts_event=market.ts, trading_day=DAY1, expired_orders=0, fees_collected=0),
    ]
    assert (market.exchange.market.halted, market.exchange.market.halt_reason) == (True, "conservation check failed")


@pytest.mark.per_book
def test_a_halted_market_refuses_orders_the_next_day_until_resumed(book_kind: str) -> None:
    market = funded_market(market_config(), book_kind)
    corrupt(market, "A1", 5)
    market.close_day(DAY1)
    market.open_day(DAY2)

    [halted] = market.buy("A2", 100, 8000)
    resumed = market.send(ResumeMarket())
    [accepted] = market.buy("A2", 100, 8000)

    assert isinstance(halted, OrderRejected)
    assert (halted.code, halted.text) == (Reject.MARKET_HALTED, "MARKET_HALTED")
    assert resumed == [MarketStatusChanged(ts_event=market.ts - 1, halted=False, reason="")]
    assert isinstance(accepted, OrderAccepted)


def test_every_mismatched_asset_is_reported_with_its_difference(book_kind: str) -> None:
    market = funded_market(market_config(), book_kind)
    corrupt(market, "A2", -7, "CCER", H_AVAIL)
    corrupt(market, "A3", 3, SHEA, H_RESTRICTED)
    corrupt(market, "A4", -2)

    [checked] = of_type(market.close_day(DAY1), ConservationChecked)

    assert checked.mismatches == [
        ConservationMismatch(asset=SHEA, expected=4 * HOLDING, actual=4 * HOLDING + 3, difference=3),
        ConservationMismatch(asset="CCER", expected=4 * HOLDING, actual=4 * HOLDING - 7, difference=-7),
        ConservationMismatch(asset="CASH", expected=4 * CASH, actual=4 * CASH - 2, difference=-2),
    ]
    assert not checked.ok


def test_a_market_already_halted_stays_halted_without_a_second_status_change(book_kind: str) -> None:
    market = funded_market(market_config(), book_kind)
    market.send(HaltMarket(reason="drill"))
    corrupt(market, "A2", 1, "T5", H_AVAIL)

    events = market.close_day(DAY1)

    assert [c.ok for c in of_type(events, ConservationChecked)] == [False]
    assert of_type(events, MarketStatusChanged) == []
    assert (market.exchange.market.halted, market.exchange.market.halt_reason) == (True, "drill")


def test_conservation_holds_through_registry_operations(market: Market) -> None:
    market.send(WithdrawCash(account="A1", amount=123))
    market.send(CancelAllowances(account="A2", instrument="CCER", quantity=45))

    [checked] = of_type(market.close_day(DAY1), ConservationChecked)

    assert checked == ConservationChecked(ts_event=market.ts, trading_day=DAY1, ok=True, mismatches=[])
    assert not market.exchange.market.halted


# ---------------------------------------------------------------------------------------- property

_ACCOUNTS = st.sampled_from((*TRADERS, "B1"))
_INSTRUMENTS = st.sampled_from(("SHEA2024", SHEA, "CCER", "SHCER"))


@st.composite
def _order(draw: st.DrawFn, client_order_id: str) -> Command:
    return NewOrder(
        account=draw(_ACCOUNTS),
        instrument=draw(st.sampled_from(("SHEA2024", SHEA))),
        client_order_id=client_order_id,
        side=draw(st.sampled_from(Side)),
        order_type=OrderType.LIMIT,
        quantity=draw(st.integers(1, 3_000)),
        price=draw(st.integers(7_990, 8_010)),
    )


# Limits a few thousand tonnes above what the traders are funded with, so buys reach them.
_TIGHT = RiskLimits(position_limit_t={"covered_entity": 2_000, "institution": 55_000, "individual": 53_000})


@st.composite
def _cancel_or_amend(draw: st.DrawFn, market: Market) -> Command:
    resting = [o for book in market.exchange.listing.books.values() for o in book.orders()]
    if not resting:
        return CancelOrder(account="A1", order_id=999)
    order = draw(st.sampled_from(resting))
    if draw(st.booleans()):
        return CancelOrder(account=order.account, order_id=order.order_id)
    quantity = draw(st.integers(1, 3_000))
    return AmendOrder(
        account=order.account, order_id=order.order_id, price=draw(st.integers(7_990, 8_010)), quantity=quantity
    )


@st.composite
def _registry_operation(draw: st.DrawFn) -> Command:
    account = draw(_ACCOUNTS)
    quantity = draw(st.integers(1, 5_000))
    choice = draw(st.sampled_from(("deposit", "withdraw", "allocate", "surrender", "cancel", "carry")))
    if choice == "deposit":
        return DepositCash(account=account, amount=draw(st.integers(1, 10_000_000)))
    if choice == "withdraw":
        return WithdrawCash(account=account, amount=draw(st.integers(1, CASH)))
    if choice == "allocate":
        compliance_only = draw(st.booleans())
        return AllocateAllowances(
            account=account, instrument=draw(_INSTRUMENTS), quantity=quantity, compliance_only=compliance_only
        )
    if choice == "surrender":
        covered = draw(st.sampled_from(("A1", "B1")))
        year = draw(st.sampled_from((2024, 2025)))
        return SurrenderAllowances(account=covered, compliance_year=year, verified_emissions=quantity * 20)
    if choice == "cancel":
        return CancelAllowances(account=account, instrument=draw(_INSTRUMENTS), quantity=quantity)
    return CarryOverAllowances(account=account, instrument="SHEA2024", quantity=quantity)


@st.composite
def _restructuring(draw: st.DrawFn) -> Command:
    account, other = draw(_ACCOUNTS), draw(_ACCOUNTS)
    if draw(st.booleans()):
        return MergeAccounts(account=account, successor=other)
    lines = draw(st.lists(st.builds(Units, instrument=_INSTRUMENTS, quantity=st.integers(1, 60_000)), max_size=3))
    return SplitAccount(
        account=account, parts=[SplitPart(account=other, cash=draw(st.integers(0, CASH)), holdings=lines)]
    )


def assert_open_buys_match_the_books(market: Market) -> None:
    """What the position limit counts as open buys is what the books hold, per account and instrument."""
    listing = market.exchange.listing
    resting: dict[tuple[str, str], int] = {}
    for book in listing.books.values():
        for order in book.orders():
            if order.side is Side.BUY:
                key = (order.account, order.instrument)
                resting[key] = resting.get(key, 0) + order.leaves
    assert {key: tonnes for key, tonnes in listing.open_buys.items() if tonnes} == resting


def adds_to_a_buy(market: Market, command: Command) -> tuple[str, str] | None:
    """The (account, instrument) whose position ``command`` would raise: a buy, or an amend up of one."""
    if isinstance(command, NewOrder):
        return (command.account, command.instrument) if command.side is Side.BUY else None
    if isinstance(command, AmendOrder):
        order = market.exchange.listing.find_order(command.order_id)
        if order is not None and order.side is Side.BUY and command.quantity > order.leaves:
            return order.account, order.instrument
    return None


def assert_within_the_position_limit(market: Market, account: str, instrument: str) -> None:
    exchange = market.exchange
    limit = exchange.listing.risk.limit(account, instrument)
    position = exchange.ledger.holding(account, instrument).total
    position += exchange.listing.open_buys.get((account, instrument), 0)
    assert limit is None or position <= limit, (account, instrument, position, limit)


def _next_trading_day(market: Market, day: int) -> int:
    date = day_from_int(day)
    assert date is not None
    return day_to_int(market.exchange.config.calendar.next_trading_day(date))


@pytest.mark.per_book
@given(data=st.data())
def test_registry_operations_and_trades_keep_statements_balanced_and_conserved(
    book_kind: str, data: st.DataObject
) -> None:
    market = funded_market(registry_config(risk=_TIGHT), book_kind)
    market.send(AllocateAllowances(account="A2", instrument="SHEA2024", quantity=HOLDING))
    day = DAY1
    for _ in range(data.draw(st.integers(1, 3), label="days")):
        for _ in range(data.draw(st.integers(1, 30), label="commands")):
            kind = data.draw(st.sampled_from(("order", "order", "cancel or amend", "registry")), label="kind")
            if kind == "order":
                command = data.draw(_order(f"c{market.ts}"), label="order")
            elif kind == "cancel or amend":
                command = data.draw(_cancel_or_amend(market), label="cancel or amend")
            else:
                command = data.draw(_registry_operation(), label="registry operation")
            buying = adds_to_a_buy(market, command)
            events = market.send(command)
            assert_balanced(market)
            assert_open_buys_match_the_books(market)
            if buying and not any(isinstance(e, OrderRejected | RequestRejected) for e in events):
                assert_within_the_position_limit(market, *buying)

        events = market.close_day(day)

        for statement in of_type(events, AccountStatement):
            assert_sections_balance(statement)
        assert sum(s.net for s in of_type(events, MemberSettlement)) == 0
        assert [c.ok for c in of_type(events, ConservationChecked)] == [True]
        for _ in range(data.draw(st.integers(0, 3), label="restructurings")):
            market.send(data.draw(_restructuring(), label="restructuring"))
            assert_balanced(market)
        day = _next_trading_day(market, day)
        market.open_day(day)
