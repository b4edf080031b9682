"""Registry operations (Decree 20 Art. 12-14, 21).

Every operation: its success with exact balances, and each of its rejects with the exact text and
an unchanged state hash (a refused command changes nothing). The market is ``registry_config()``:
SHEA2024 and SHEA2025 with vintages, CCER and SHCER offsets (cap 5% of verified emissions, rounded
down), the carry-over rule SHEA2024 -> SHEA2025, and B1, a second covered entity with nothing in it.
Every trader starts with CASH fen and HOLDING t of SHEA2025, CCER and T5 in DAY1's morning session.
"""

from __future__ import annotations

import pytest

from engine.config import CarryOverRule, ExchangeConfig, RegistryRules, RiskLimits
from engine.exchange import Exchange
from engine.messages import (
    AccountsMerged,
    AccountSplit,
    AllocateAllowances,
    AllowancesAllocated,
    AllowancesCancelled,
    AllowancesCarriedOver,
    AllowancesSurrendered,
    CancelAllowances,
    CarryOverAllowances,
    CashDeposited,
    CashWithdrawn,
    Command,
    DepositCash,
    EndOfDay,
    Event,
    MergeAccounts,
    NewOrder,
    OrderAccepted,
    OrderRejected,
    OrderType,
    Reject,
    RequestRejected,
    Session,
    SetSession,
    Side,
    SplitAccount,
    SplitPart,
    StartOfDay,
    SurrenderAllowances,
    Units,
    WithdrawCash,
)
from engine.registry.mechanism import ComplianceRecord
from settlement.ledger import Holding
from tests.conftest import CASH, DAY1, DAY2, HOLDING, Market, assert_balanced, funded_market, registry_config

OLD, SHEA = "SHEA2024", "SHEA2025"


@pytest.fixture
def config() -> ExchangeConfig:
    return registry_config()


# ---------------------------------------------------------------------------------------- helpers


def refused(market: Market, command: Command, text: str) -> None:
    """``command`` is refused with exactly ``text`` (its code is the text's first word), changing nothing."""
    before = market.exchange.state_hash()

    events = market.send(command)

    code = Reject[text.split(":")[0]]
    account = str(getattr(command, "account", ""))
    assert events == [
        RequestRejected(ts_event=market.ts, request=type(command).__name__, code=code, text=text, account=account)
    ]
    assert market.exchange.state_hash() == before


def holding(market: Market, account: str, instrument: str = SHEA) -> Holding:
    return market.exchange.ledger.holding(account, instrument)


def allocate(market: Market, account: str, instrument: str, quantity: int, compliance_only: bool = False) -> None:
    [allocated] = market.send(
        AllocateAllowances(account=account, instrument=instrument, quantity=quantity, compliance_only=compliance_only)
    )
    assert isinstance(allocated, AllowancesAllocated)


def surrender(market: Market, account: str, year: int, verified: int) -> AllowancesSurrendered:
    [surrendered] = market.send(SurrenderAllowances(account=account, compliance_year=year, verified_emissions=verified))
    assert isinstance(surrendered, AllowancesSurrendered), surrendered
    return surrendered


def trade(market: Market, buyer: str, seller: str, quantity: int, price: int = 8000) -> None:
    """``seller`` rests a sell, ``buyer`` takes it whole (fee 0.15% a side, half-up)."""
    market.sell(seller, quantity, price)
    events = market.buy(buyer, quantity, price)
    assert len(events) == 2, events


def between_days(market: Market) -> None:
    """Close DAY1: no trading day open, nothing frozen or restricted (mergers and splits may run)."""
    market.close_day(DAY1)
    market.events.clear()


def closed_account(market: Market) -> str:
    """Close DAY1 and merge A3 into A4: A3 is closed."""
    between_days(market)
    [merged] = market.send(MergeAccounts(account="A3", successor="A4"))
    assert isinstance(merged, AccountsMerged)
    return "A3"


# ---------------------------------------------------------------------------------------- cash


def test_deposit_credits_available_cash(market: Market) -> None:
    events = market.send(DepositCash(account="A1", amount=12_345))

    assert events == [CashDeposited(ts_event=market.ts, account="A1", amount=12_345)]
    assert market.cash("A1") == (CASH + 12_345, 0)
    assert market.exchange.ledger.deposited == 4 * CASH + 12_345


def test_deposit_rejects(market: Market) -> None:
    refused(market, DepositCash(account="A1", amount=0), "INVALID_AMOUNT: amount=0")
    refused(market, DepositCash(account="A1", amount=-5), "INVALID_AMOUNT: amount=-5")
    # Above 10^15 fen (10 trillion CNY): a mistake, and sums must stay within SQLite's integers.
    refused(market, DepositCash(account="A1", amount=10**15 + 1), "INVALID_AMOUNT: amount=1000000000000001")
    refused(market, DepositCash(account="NOBODY", amount=1), "UNKNOWN_ACCOUNT: account=NOBODY")
    refused(market, DepositCash(account=closed_account(market), amount=1), "ACCOUNT_CLOSED: account=A3")


def test_withdrawal_pays_out_available_cash(market: Market) -> None:
    events = market.send(WithdrawCash(account="A1", amount=1_000))

    assert events == [CashWithdrawn(ts_event=market.ts, account="A1", amount=1_000)]
    assert market.cash("A1") == (CASH - 1_000, 0)
    assert (market.exchange.ledger.deposited, market.exchange.ledger.withdrawn) == (4 * CASH, 1_000)


@pytest.mark.per_book
def test_sale_proceeds_are_withdrawable_only_after_the_end_of_day(market: Market) -> None:
    trade(market, buyer="A1", seller="A2", quantity=100)  # A2 receives 800,000 - fee 1,200 = 798,800

    refused(
        market,
        WithdrawCash(account="A2", amount=CASH + 1),
        "NOT_WITHDRAWABLE: amount=1000000001 withdrawable=1000000000",
    )
    market.send(WithdrawCash(account="A2", amount=CASH))
    refused(market, WithdrawCash(account="A2", amount=1), "NOT_WITHDRAWABLE: amount=1 withdrawable=0")
    assert market.cash("A2") == (798_800, 0)

    market.close_day(DAY1)
    events = market.send(WithdrawCash(account="A2", amount=798_800))

    assert events == [CashWithdrawn(ts_event=market.ts, account="A2", amount=798_800)]
    assert market.cash("A2") == (0, 0)


@pytest.mark.per_book
def test_frozen_cash_is_not_withdrawable_and_spending_counts_against_deposits_first(market: Market) -> None:
    trade(market, buyer="A1", seller="A2", quantity=100)  # A2: proceeds 798,800
    market.buy("A2", 1_000, 7900)  # freezes 7,900,000 + fee 11,850 = 7,911,850
    # available CASH + 798,800 - 7,911,850 = 992,886,950; less today's proceeds: 992,088,150.

    refused(
        market,
        WithdrawCash(account="A2", amount=992_088_151),
        "NOT_WITHDRAWABLE: amount=992088151 withdrawable=992088150",
    )
    market.send(WithdrawCash(account="A2", amount=992_088_150))

    assert market.cash("A2") == (798_800, 7_911_850)


def test_withdrawal_rejects(market: Market) -> None:
    refused(market, WithdrawCash(account="A1", amount=0), "INVALID_AMOUNT: amount=0")
    refused(market, WithdrawCash(account="NOBODY", amount=1), "UNKNOWN_ACCOUNT: account=NOBODY")
    refused(market, WithdrawCash(account=closed_account(market), amount=1), "ACCOUNT_CLOSED: account=A3")


# ---------------------------------------------------------------------------------------- allocation


def test_allocation_issues_units_into_the_available_bucket(market: Market) -> None:
    events = market.send(AllocateAllowances(account="B1", instrument=OLD, quantity=700))

    assert events == [AllowancesAllocated(ts_event=market.ts, account="B1", instrument=OLD, quantity=700)]
    assert holding(market, "B1", OLD) == Holding(available=700)
    assert market.exchange.ledger.issued[OLD] == 700
    assert market.exchange.ledger.allocated[("B1", OLD)] == 700


@pytest.mark.per_book
def test_compliance_only_allocation_can_be_neither_sold_nor_cancelled(market: Market) -> None:
    events = market.send(AllocateAllowances(account="A1", instrument=SHEA, quantity=1_000, compliance_only=True))

    assert events == [
        AllowancesAllocated(ts_event=market.ts, account="A1", instrument=SHEA, quantity=1_000, compliance_only=True)
    ]
    assert holding(market, "A1") == Holding(available=HOLDING, compliance=1_000)
    [oversold] = market.sell("A1", HOLDING + 1, 8000)
    assert isinstance(oversold, OrderRejected)
    assert oversold.text == "INSUFFICIENT_HOLDINGS: required=50001 available=50000"
    refused(
        market,
        CancelAllowances(account="A1", instrument=SHEA, quantity=HOLDING + 1),
        "INSUFFICIENT_HOLDINGS: instrument=SHEA2025 required=50001 available=50000",
    )
    [accepted] = market.sell("A1", HOLDING, 8000)
    assert isinstance(accepted, OrderAccepted)
    assert holding(market, "A1") == Holding(frozen=HOLDING, compliance=1_000)


def test_allocation_rejects(market: Market) -> None:
    refused(
        market, AllocateAllowances(account="NOBODY", instrument=SHEA, quantity=1), "UNKNOWN_ACCOUNT: account=NOBODY"
    )
    refused(
        market,
        AllocateAllowances(account="A1", instrument="SHEA1999", quantity=1),
        "UNKNOWN_INSTRUMENT: instrument=SHEA1999",
    )
    refused(market, AllocateAllowances(account="A1", instrument=SHEA, quantity=0), "INVALID_AMOUNT: quantity=0")
    refused(
        market,
        AllocateAllowances(account=closed_account(market), instrument=SHEA, quantity=1),
        "ACCOUNT_CLOSED: account=A3",
    )


# ---------------------------------------------------------------------------------------- surrender


@pytest.mark.per_book
def test_surrender_takes_compliance_only_units_then_offsets_up_to_the_cap_then_available(market: Market) -> None:
    allocate(market, "A1", SHEA, 1_000, compliance_only=True)
    trade(market, buyer="A1", seller="A2", quantity=200)  # restricted until tomorrow: taken last

    # 1,519 t: cap 1,519 x 500 / 10,000 = 75.95 -> 75 t of CCER; 1,000 compliance-only, 444 available.
    events = market.send(SurrenderAllowances(account="A1", compliance_year=2025, verified_emissions=1_519))

    assert events == [
        AllowancesSurrendered(
            ts_event=market.ts,
            account="A1",
            compliance_year=2025,
            verified_emissions=1_519,
            surrendered=[Units(instrument=SHEA, quantity=1_444), Units(instrument="CCER", quantity=75)],
            covered=1_519,
            offsets_used=75,
            offset_cap=75,
            shortfall=0,
            complete=True,
        )
    ]
    assert holding(market, "A1") == Holding(available=HOLDING - 444, restricted=200)
    assert holding(market, "A1", "CCER") == Holding(available=HOLDING - 75)
    ledger = market.exchange.ledger
    assert (ledger.surrendered[SHEA], ledger.surrendered["CCER"]) == (1_444, 75)
    assert market.exchange.registry.state().compliance == [
        ComplianceRecord(account="A1", compliance_year=2025, verified_emissions=1_519, covered=1_519, offsets_used=75)
    ]


def short_surrender(market: Market) -> AllowancesSurrendered:
    """A1 surrenders for 100,000 t of 2025 (cap 5,000) holding 1,000 compliance-only SHEA2025, 1,000
    CCER, 2,000 SHCER, 50,000 available and 200 restricted SHEA2025 (and SHEA2024, not that year's)."""
    market.send(CancelAllowances(account="A1", instrument="CCER", quantity=HOLDING - 1_000))
    allocate(market, "A1", "SHCER", 2_000)
    allocate(market, "A1", SHEA, 1_000, compliance_only=True)
    allocate(market, "A1", OLD, 500)
    trade(market, buyer="A1", seller="A2", quantity=200)
    return surrender(market, "A1", 2025, 100_000)


@pytest.mark.per_book
def test_short_surrender_takes_everything_of_the_year_and_records_the_shortfall(market: Market) -> None:
    surrendered = short_surrender(market)

    # 1,000 compliance-only; CCER 1,000 and SHCER 2,000 (3,000 of the 5,000 cap); 50,000 + 200 SHEA2025.
    assert surrendered == AllowancesSurrendered(
        ts_event=market.ts,
        account="A1",
        compliance_year=2025,
        verified_emissions=100_000,
        surrendered=[
            Units(instrument=SHEA, quantity=51_200),
            Units(instrument="CCER", quantity=1_000),
            Units(instrument="SHCER", quantity=2_000),
        ],
        covered=54_200,
        offsets_used=3_000,
        offset_cap=5_000,
        shortfall=45_800,
        complete=False,
    )
    assert holding(market, "A1") == Holding()
    assert holding(market, "A1", "CCER") == Holding()
    assert holding(market, "A1", "SHCER") == Holding()
    assert holding(market, "A1", OLD) == Holding(available=500)


@pytest.mark.per_book
def test_a_second_surrender_continues_a_short_year_within_the_remaining_cap(market: Market) -> None:
    short_surrender(market)
    allocate(market, "A1", "CCER", 10_000)
    allocate(market, "A1", SHEA, HOLDING)

    # 45,800 t still due: CCER up to the 2,000 t left under the cap, then 43,800 SHEA2025.
    second = surrender(market, "A1", 2025, 100_000)

    assert second == AllowancesSurrendered(
        ts_event=market.ts,
        account="A1",
        compliance_year=2025,
        verified_emissions=100_000,
        surrendered=[Units(instrument="CCER", quantity=2_000), Units(instrument=SHEA, quantity=43_800)],
        covered=100_000,
        offsets_used=5_000,
        offset_cap=5_000,
        shortfall=0,
        complete=True,
    )
    assert holding(market, "A1") == Holding(available=6_200)
    assert holding(market, "A1", "CCER") == Holding(available=8_000)
    refused(
        market,
        SurrenderAllowances(account="A1", compliance_year=2025, verified_emissions=100_000),
        "COMPLIANCE_ALREADY_COMPLETE: compliance_year=2025",
    )


def test_surrender_for_a_year_uses_only_that_vintage(market: Market) -> None:
    allocate(market, "A1", OLD, 1_000)

    surrendered = surrender(market, "A1", 2024, 1_000)  # cap 50: 50 CCER, then 950 SHEA2024

    assert surrendered.surrendered == [Units(instrument="CCER", quantity=50), Units(instrument=OLD, quantity=950)]
    assert (surrendered.covered, surrendered.shortfall, surrendered.complete) == (1_000, 0, True)
    assert holding(market, "A1", OLD) == Holding(available=50)
    assert holding(market, "A1") == Holding(available=HOLDING)


def test_surrender_with_nothing_to_surrender_records_the_whole_shortfall(market: Market) -> None:
    surrendered = surrender(market, "B1", 2024, 1_000)

    assert (surrendered.surrendered, surrendered.covered, surrendered.shortfall, surrendered.complete) == (
        [],
        0,
        1_000,
        False,
    )
    assert market.exchange.registry.state().compliance == [
        ComplianceRecord(account="B1", compliance_year=2024, verified_emissions=1_000)
    ]


@pytest.mark.per_book
def test_surrender_rejects(market: Market) -> None:
    short_surrender(market)

    refused(
        market,
        SurrenderAllowances(account="A2", compliance_year=2025, verified_emissions=100),
        "NOT_A_COVERED_ENTITY: account=A2 kind=institution",
    )
    refused(
        market,
        SurrenderAllowances(account="A1", compliance_year=2025, verified_emissions=0),
        "INVALID_AMOUNT: verified_emissions=0",
    )
    refused(
        market,
        SurrenderAllowances(account="A1", compliance_year=2030, verified_emissions=100),
        "UNKNOWN_VINTAGE: compliance_year=2030",
    )
    # T5 has no vintage (0): it belongs to no compliance year, so year 0 is no year.
    refused(
        market,
        SurrenderAllowances(account="A1", compliance_year=0, verified_emissions=100),
        "UNKNOWN_VINTAGE: compliance_year=0",
    )
    refused(
        market,
        SurrenderAllowances(account="A1", compliance_year=2025, verified_emissions=90_000),
        "EMISSIONS_MISMATCH: verified_emissions=90000 recorded=100000",
    )
    refused(
        market,
        SurrenderAllowances(account="NOBODY", compliance_year=2025, verified_emissions=100),
        "UNKNOWN_ACCOUNT: account=NOBODY",
    )


def test_surrender_for_a_closed_account_is_refused(market: Market) -> None:
    between_days(market)
    market.send(MergeAccounts(account="A1", successor="B1"))

    refused(
        market,
        SurrenderAllowances(account="A1", compliance_year=2025, verified_emissions=100),
        "ACCOUNT_CLOSED: account=A1",
    )


# ---------------------------------------------------------------------------------------- cancellation


def test_voluntary_cancellation_retires_the_units(market: Market) -> None:
    events = market.send(CancelAllowances(account="A2", instrument=SHEA, quantity=1_234))

    assert events == [AllowancesCancelled(ts_event=market.ts, account="A2", instrument=SHEA, quantity=1_234)]
    ledger = market.exchange.ledger
    assert holding(market, "A2") == Holding(available=HOLDING - 1_234)
    assert (ledger.issued[SHEA], ledger.cancelled[SHEA]) == (4 * HOLDING, 1_234)
    assert ledger.total_holdings(SHEA) == 4 * HOLDING - 1_234


@pytest.mark.per_book
def test_cancellation_rejects(market: Market) -> None:
    market.sell("A2", 100, 8000)  # 100 t frozen: only 49,900 available

    refused(
        market,
        CancelAllowances(account="A2", instrument=SHEA, quantity=49_901),
        "INSUFFICIENT_HOLDINGS: instrument=SHEA2025 required=49901 available=49900",
    )
    refused(market, CancelAllowances(account="A2", instrument=SHEA, quantity=0), "INVALID_AMOUNT: quantity=0")
    refused(
        market,
        CancelAllowances(account="A2", instrument="SHEA1999", quantity=1),
        "UNKNOWN_INSTRUMENT: instrument=SHEA1999",
    )
    refused(market, CancelAllowances(account="NOBODY", instrument=SHEA, quantity=1), "UNKNOWN_ACCOUNT: account=NOBODY")
    refused(
        market,
        CancelAllowances(account=closed_account(market), instrument=SHEA, quantity=1),
        "ACCOUNT_CLOSED: account=A3",
    )


# ---------------------------------------------------------------------------------------- carry-over


def test_an_institution_carries_over_without_a_compliance_record(market: Market) -> None:
    allocate(market, "A2", OLD, 1_000)

    events = market.send(CarryOverAllowances(account="A2", instrument=OLD, quantity=600))

    assert events == [
        AllowancesCarriedOver(ts_event=market.ts, account="A2", instrument=OLD, to_instrument=SHEA, quantity=600)
    ]
    ledger = market.exchange.ledger
    assert holding(market, "A2", OLD) == Holding(available=400)
    assert holding(market, "A2") == Holding(available=HOLDING + 600)
    assert (ledger.issued[OLD], ledger.cancelled[OLD]) == (1_000, 600)
    assert (ledger.issued[SHEA], ledger.cancelled[SHEA]) == (4 * HOLDING + 600, 0)


def test_a_covered_entity_carries_over_only_after_completing_the_old_vintages_year(market: Market) -> None:
    allocate(market, "A1", OLD, 1_000)
    refused(
        market,
        CarryOverAllowances(account="A1", instrument=OLD, quantity=100),
        "COMPLIANCE_NOT_COMPLETE: compliance_year=2024 shortfall=unrecorded",
    )
    surrender(market, "A1", 2024, 5_000)  # cap 250 CCER + 1,000 SHEA2024: 3,750 short
    refused(
        market,
        CarryOverAllowances(account="A1", instrument=OLD, quantity=100),
        "COMPLIANCE_NOT_COMPLETE: compliance_year=2024 shortfall=3750",
    )
    allocate(market, "A1", OLD, 4_000)
    assert surrender(market, "A1", 2024, 5_000).surrendered == [Units(instrument=OLD, quantity=3_750)]

    events = market.send(CarryOverAllowances(account="A1", instrument=OLD, quantity=250))

    assert events == [
        AllowancesCarriedOver(ts_event=market.ts, account="A1", instrument=OLD, to_instrument=SHEA, quantity=250)
    ]
    assert holding(market, "A1", OLD) == Holding()
    assert holding(market, "A1") == Holding(available=HOLDING + 250)


def test_a_rule_without_the_compliance_condition_lets_a_covered_entity_carry_over(book_kind: str) -> None:
    rules = RegistryRules(
        carry_over=[CarryOverRule(from_instrument=OLD, to_instrument=SHEA, requires_compliance=False)]
    )
    market = funded_market(registry_config(registry=rules), book_kind)
    allocate(market, "A1", OLD, 1_000)

    [carried] = market.send(CarryOverAllowances(account="A1", instrument=OLD, quantity=1_000))

    assert carried == AllowancesCarriedOver(
        ts_event=market.ts, account="A1", instrument=OLD, to_instrument=SHEA, quantity=1_000
    )
    assert_balanced(market)


def test_carry_over_rejects(market: Market) -> None:
    allocate(market, "A2", OLD, 1_000)
    allocate(market, "A2", OLD, 500, compliance_only=True)  # never carried over

    refused(
        market,
        CarryOverAllowances(account="A2", instrument=OLD, quantity=1_001),
        "INSUFFICIENT_HOLDINGS: instrument=SHEA2024 required=1001 available=1000",
    )
    refused(
        market,
        CarryOverAllowances(account="A2", instrument=SHEA, quantity=1),
        "NO_CARRY_OVER_RULE: instrument=SHEA2025",
    )
    refused(market, CarryOverAllowances(account="A2", instrument=OLD, quantity=0), "INVALID_AMOUNT: quantity=0")
    refused(
        market,
        CarryOverAllowances(account="A2", instrument="SHEA1999", quantity=1),
        "UNKNOWN_INSTRUMENT: instrument=SHEA1999",
    )
    refused(
        market, CarryOverAllowances(account="NOBODY", instrument=OLD, quantity=1), "UNKNOWN_ACCOUNT: account=NOBODY"
    )
    refused(
        market,
        CarryOverAllowances(account=closed_account(market), instrument=OLD, quantity=1),
        "ACCOUNT_CLOSED: account=A3",
    )


# ---------------------------------------------------------------------------------------- merger


@pytest.mark.per_book
def test_merger_passes_every_bucket_to_the_successor_and_closes_the_account(market: Market) -> None:
    allocate(market, "A1", SHEA, 1_000, compliance_only=True)
    trade(market, buyer="A1", seller="A2", quantity=200)  # A1 pays 1,600,000 + fee 2,400
    market.buy("A1", 100, 7900)  # expires at the end of the day
    between_days(market)

    events = market.send(MergeAccounts(account="A1", successor="B1"))

    assert events == [
        AccountsMerged(
            ts_event=market.ts,
            account="A1",
            successor="B1",
            cash=CASH - 1_602_400,
            holdings=[
                Units(instrument="CCER", quantity=HOLDING),
                Units(instrument=SHEA, quantity=HOLDING + 1_200),
                Units(instrument="T5", quantity=HOLDING),
            ],
        )
    ]
    assert market.cash("A1") == (0, 0)
    assert market.cash("B1") == (CASH - 1_602_400, 0)
    assert [(i, h) for i, h in market.exchange.ledger.holdings_of("A1")] == []
    assert holding(market, "B1") == Holding(available=HOLDING + 200, compliance=1_000)
    assert holding(market, "B1", "CCER") == Holding(available=HOLDING)
    assert holding(market, "B1", "T5") == Holding(available=HOLDING)
    assert market.exchange.ledger.closed == {"A1"}


@pytest.mark.per_book
def test_a_closed_account_can_neither_trade_nor_be_operated_on(market: Market) -> None:
    between_days(market)
    market.send(MergeAccounts(account="A1", successor="B1"))
    market.open_day(DAY2)

    [order] = market.buy("A1", 100, 8000)

    assert isinstance(order, OrderRejected)
    assert (order.code, order.text) == (Reject.ACCOUNT_CLOSED, "ACCOUNT_CLOSED: account=A1")
    closed = "ACCOUNT_CLOSED: account=A1"
    refused(market, DepositCash(account="A1", amount=1), closed)
    refused(market, WithdrawCash(account="A1", amount=1), closed)
    refused(market, AllocateAllowances(account="A1", instrument=SHEA, quantity=1), closed)
    refused(market, CancelAllowances(account="A1", instrument=SHEA, quantity=1), closed)
    refused(market, CarryOverAllowances(account="A1", instrument=OLD, quantity=1), closed)
    market.close_day(DAY2)
    refused(market, MergeAccounts(account="A1", successor="B1"), closed)
    refused(market, MergeAccounts(account="B1", successor="A1"), closed)
    refused(market, SplitAccount(account="A1", parts=[SplitPart(account="B1", cash=1)]), closed)
    refused(market, SplitAccount(account="B1", parts=[SplitPart(account="A1", cash=1)]), closed)


@pytest.mark.per_book
def test_merger_passes_the_free_allocation_so_the_successors_limit_grows(book_kind: str) -> None:
    risk = RiskLimits(position_limit_t={"covered_entity": 1_000, "institution": 1_000, "individual": 1_000})
    market = funded_market(registry_config(risk=risk), book_kind)  # A1: allocated 50,000 SHEA2025
    market.close_day(DAY1)
    market.send(MergeAccounts(account="A1", successor="B1"))
    market.open_day(DAY2)

    # B1 now holds 50,000 and its limit is 1,000 + the 50,000 allocation it took over.
    [at_limit] = market.buy("B1", 1_000, 7900)
    [over] = market.buy("B1", 1, 7900)

    assert isinstance(at_limit, OrderAccepted)
    assert isinstance(over, OrderRejected)
    assert over.text == "POSITION_LIMIT: position=51000 quantity=1 limit=51000"
    market.close_day(DAY2)
    assert_balanced(market)


def test_merger_rejects(market: Market) -> None:
    refused(market, MergeAccounts(account="A1", successor="B1"), "TRADING_DAY_OPEN: trading_day=20261123 account=A1")
    between_days(market)
    refused(market, MergeAccounts(account="A1", successor="A1"), "INVALID_SUCCESSOR: account=A1 successor=A1")
    refused(market, MergeAccounts(account="A1", successor="RESERVE"), "SYSTEM_ACCOUNT: account=RESERVE kind=reserve")
    refused(market, MergeAccounts(account="RESERVE", successor="A1"), "SYSTEM_ACCOUNT: account=RESERVE kind=reserve")
    refused(market, MergeAccounts(account="A1", successor="NOBODY"), "UNKNOWN_ACCOUNT: account=NOBODY")
    refused(market, MergeAccounts(account="NOBODY", successor="A1"), "UNKNOWN_ACCOUNT: account=NOBODY")


# ---------------------------------------------------------------------------------------- split


def test_split_moves_the_given_cash_and_units_tradable_first(market: Market) -> None:
    between_days(market)
    allocate(market, "A1", SHEA, 1_000, compliance_only=True)
    parts = [
        SplitPart(account="A2", cash=100_000, holdings=[Units(instrument=SHEA, quantity=50_400)]),
        SplitPart(
            account="B1",
            cash=0,
            holdings=[Units(instrument="CCER", quantity=10_000), Units(instrument=SHEA, quantity=500)],
        ),
    ]

    events = market.send(SplitAccount(account="A1", parts=parts))

    assert events == [AccountSplit(ts_event=market.ts, account="A1", parts=parts)]
    # SHEA2025: A2 takes the 50,000 tradable and 400 compliance-only units, B1 500 compliance-only.
    assert market.cash("A1") == (CASH - 100_000, 0)
    assert market.cash("A2") == (CASH + 100_000, 0)
    assert market.cash("B1") == (0, 0)
    assert holding(market, "A1") == Holding(compliance=100)
    assert holding(market, "A2") == Holding(available=HOLDING + 50_000, compliance=400)
    assert holding(market, "B1") == Holding(compliance=500)
    assert holding(market, "A1", "CCER") == Holding(available=HOLDING - 10_000)
    assert holding(market, "B1", "CCER") == Holding(available=10_000)
    assert "A1" not in market.exchange.ledger.closed


@pytest.mark.per_book
def test_units_received_compliance_only_by_a_split_stay_unsellable(market: Market) -> None:
    between_days(market)
    allocate(market, "A1", SHEA, 1_000, compliance_only=True)
    market.send(
        SplitAccount(account="A1", parts=[SplitPart(account="B1", holdings=[Units(instrument=SHEA, quantity=51_000)])])
    )
    market.send(DepositCash(account="B1", amount=CASH))
    market.open_day(DAY2)

    [oversold] = market.sell("B1", 50_001, 8000)

    assert isinstance(oversold, OrderRejected)
    assert oversold.text == "INSUFFICIENT_HOLDINGS: required=50001 available=50000"
    assert holding(market, "B1") == Holding(available=50_000, compliance=1_000)
    market.close_day(DAY2)


def test_split_part_naming_an_instrument_twice_moves_tradable_units_once(market: Market) -> None:
    # Each line used to read the account's tradable units afresh: the second line then debited
    # tradable units the first had already taken, and the ledger refused mid-split.
    between_days(market)
    allocate(market, "A1", SHEA, 10, compliance_only=True)
    lines = [Units(instrument=SHEA, quantity=HOLDING), Units(instrument=SHEA, quantity=5)]

    events = market.send(SplitAccount(account="A1", parts=[SplitPart(account="A2", holdings=lines)]))

    assert isinstance(events[0], AccountSplit)
    assert holding(market, "A1") == Holding(compliance=5)
    assert holding(market, "A2") == Holding(available=2 * HOLDING, compliance=5)


def test_split_rejects(market: Market) -> None:
    def split(*parts: SplitPart) -> SplitAccount:
        return SplitAccount(account="A1", parts=list(parts))

    refused(market, split(SplitPart(account="A2", cash=1)), "TRADING_DAY_OPEN: trading_day=20261123 account=A1")
    between_days(market)
    allocate(market, "A1", SHEA, 1_000, compliance_only=True)
    refused(market, split(), "INVALID_SUCCESSOR: account=A1 parts=none")
    refused(
        market, split(SplitPart(account="A2"), SplitPart(account="A1")), "INVALID_SUCCESSOR: account=A1 parts=A2,A1"
    )
    refused(
        market, split(SplitPart(account="A2"), SplitPart(account="A2")), "INVALID_SUCCESSOR: account=A1 parts=A2,A2"
    )
    refused(
        market,
        split(SplitPart(account="A2", cash=CASH), SplitPart(account="A3", cash=1)),
        "INSUFFICIENT_FUNDS: required=1000000001 available=1000000000",
    )
    refused(
        market,
        split(
            SplitPart(account="A2", holdings=[Units(instrument=SHEA, quantity=50_000)]),
            SplitPart(account="A3", cash=5, holdings=[Units(instrument=SHEA, quantity=1_001)]),
        ),
        "INSUFFICIENT_HOLDINGS: instrument=SHEA2025 required=51001 available=51000",
    )
    refused(market, split(SplitPart(account="A2", cash=-1)), "INVALID_AMOUNT: account=A2 cash=-1")
    refused(market, split(SplitPart(account="A2", cash=10**15 + 1)), f"INVALID_AMOUNT: account=A2 cash={10**15 + 1}")
    refused(
        market, split(SplitPart(account="A2", cash=9), SplitPart(account="A3")), "INVALID_AMOUNT: account=A3 cash=0"
    )
    refused(
        market,
        split(SplitPart(account="A2", holdings=[Units(instrument=SHEA, quantity=0)])),
        "INVALID_AMOUNT: quantity=0",
    )
    refused(
        market,
        split(SplitPart(account="A2", holdings=[Units(instrument="SHEA1999", quantity=1)])),
        "UNKNOWN_INSTRUMENT: instrument=SHEA1999",
    )
    refused(market, split(SplitPart(account="RESERVE", cash=1)), "SYSTEM_ACCOUNT: account=RESERVE kind=reserve")
    refused(market, split(SplitPart(account="NOBODY", cash=1)), "UNKNOWN_ACCOUNT: account=NOBODY")


# ---------------------------------------------------------------------------------------- snapshot and replay


def registry_day() -> list[Command]:
    """A day with every registry operation, a trade, an end of day, then a merger and a split."""

    def order(account: str, side: Side, quantity: int, cid: str) -> NewOrder:
        return NewOrder(
            account=account,
            instrument=SHEA,
            client_order_id=cid,
            side=side,
            order_type=OrderType.LIMIT,
            quantity=quantity,
            price=8000,
        )

    return [
        StartOfDay(trading_day=DAY1),
        *(DepositCash(account=a, amount=CASH) for a in ("A1", "A2", "A3")),
        *(AllocateAllowances(account=a, instrument=SHEA, quantity=HOLDING) for a in ("A1", "A2")),
        AllocateAllowances(account="A1", instrument=OLD, quantity=3_000),
        AllocateAllowances(account="A1", instrument="CCER", quantity=400),
        AllocateAllowances(account="A1", instrument=SHEA, quantity=700, compliance_only=True),
        SetSession(session=Session.MORNING),
        order("A2", Side.SELL, 300, "s1"),
        order("A1", Side.BUY, 200, "b1"),
        order("A3", Side.BUY, 500, "b2"),  # 100 t trade, 400 t expire
        SurrenderAllowances(account="A1", compliance_year=2024, verified_emissions=2_000),
        SurrenderAllowances(account="A1", compliance_year=2025, verified_emissions=80_000),
        CarryOverAllowances(account="A1", instrument=OLD, quantity=1_000),
        CancelAllowances(account="A2", instrument=SHEA, quantity=1_000),
        WithdrawCash(account="A3", amount=5_000),
        SetSession(session=Session.LUNCH_BREAK),
        SetSession(session=Session.AFTERNOON),
        SetSession(session=Session.CLOSED),
        EndOfDay(trading_day=DAY1),
        MergeAccounts(account="A3", successor="A4"),
        SplitAccount(
            account="A2", parts=[SplitPart(account="B1", cash=7_000, holdings=[Units(instrument=SHEA, quantity=9)])]
        ),
        WithdrawCash(account="A2", amount=1),
    ]


def run(config: ExchangeConfig, commands: list[Command], book_kind: str) -> tuple[Exchange, list[Event]]:
    exchange = Exchange(config, book=book_kind)
    events = [e for ts, command in enumerate(commands, 1) for e in exchange.apply(command, ts)]
    return exchange, events


@pytest.mark.per_book
def test_registry_state_survives_snapshot_and_replay(book_kind: str) -> None:
    config = registry_config()
    commands = registry_day()

    first, first_events = run(config, commands, book_kind)
    second, second_events = run(config, commands, book_kind)
    restored = Exchange.from_snapshot(config, first.snapshot(), book_kind)

    assert not any(isinstance(e, RequestRejected | OrderRejected) for e in first_events)
    assert second_events == first_events
    assert restored.state_hash() == second.state_hash() == first.state_hash()
    assert restored.registry.state() == first.registry.state()
    assert restored.ledger.closed == {"A3"}
    assert first.ledger.conservation() == restored.ledger.conservation() == []
    # The restored exchange goes on exactly as the original does, the next day's statements included.
    tomorrow: list[Command] = [StartOfDay(trading_day=DAY2), EndOfDay(trading_day=DAY2)]
    for ts, command in enumerate(tomorrow, len(commands) + 1):
        assert restored.apply(command, ts) == first.apply(command, ts)
    assert restored.state_hash() == first.state_hash()
