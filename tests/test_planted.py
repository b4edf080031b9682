"""The planted-manipulation generator (surveillance.planted): reproducible, honest where it says so,
and every label naming what the engine really did, as the journal's replay shows it."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from pathlib import Path

import msgspec
import pytest

from carbonx.cli import main
from carbonx.planted_simulation import check_config
from engine.config import TRADING_ACCOUNT_KINDS, ExchangeConfig
from engine.journal import JOURNAL_FILE, Journal, JournalRecord
from engine.messages import (
    AccountStatement,
    AmendOrder,
    BidAccepted,
    CancelOrder,
    Event,
    LargeHolderReported,
    NewOrder,
    OrderAccepted,
    TradeExecuted,
    TradingDayStarted,
    TransferExecuted,
)
from engine.recovery import recover
from surveillance.planted import (
    LABELS_FILE,
    RULE_IDS,
    PlantedError,
    PlantedRun,
    planted_cast,
    planted_config,
    read_labels,
    run_planted,
)

FIRST_DAY = dt.date(2026, 3, 2)  # a Monday
pytestmark = pytest.mark.not_per_book  # a data set, not the book: it runs on the default book

SMALL = 1000  # honest messages a day (the fewest the patterns take) where a full day's flow is not needed


class Replayed:
    """What the journal's replay shows: per id, who the orders, trades, bids and transfers belong to."""

    def __init__(self, directory: Path, config: ExchangeConfig) -> None:
        self.day = 0
        self.orders: dict[int, str] = {}
        self.trades: dict[int, tuple[int, TradeExecuted]] = {}
        self.bids: dict[int, tuple[int, BidAccepted]] = {}
        self.transfers: dict[int, tuple[int, TransferExecuted]] = {}
        self.large_holders: list[LargeHolderReported] = []
        self.statements: list[AccountStatement] = []
        self.messages: Counter[tuple[int, str, str]] = Counter()  # (day, account, instrument)
        self.order_instrument: dict[int, str] = {}
        recover(directory, config, use_snapshots=False, on_events=self._record)

    def _record(self, record: JournalRecord, events: list[Event]) -> None:
        command = record.command
        if isinstance(command, NewOrder):
            self.messages[self.day, command.account, command.instrument] += 1
        elif isinstance(command, CancelOrder | AmendOrder) and command.order_id in self.order_instrument:
            self.messages[self.day, command.account, self.order_instrument[command.order_id]] += 1
        for event in events:
            if isinstance(event, TradingDayStarted):
                self.day = event.trading_day
            elif isinstance(event, OrderAccepted):
                self.orders[event.order_id] = event.account
                self.order_instrument[event.order_id] = event.instrument
            elif isinstance(event, TradeExecuted):
                self.trades[event.trade_id] = (self.day, event)
            elif isinstance(event, BidAccepted):
                self.bids[event.bid_id] = (self.day, event)
            elif isinstance(event, TransferExecuted):
                self.transfers[event.transfer_id] = (self.day, event)
            elif isinstance(event, LargeHolderReported):
                self.large_holders.append(event)
            elif isinstance(event, AccountStatement):
                self.statements.append(event)

    def volumes(self) -> tuple[Counter[tuple[int, str]], Counter[tuple[int, str, str]]]:
        """Listing tonnes per (day, instrument), and per (day, account, instrument) on either side."""
        day_volume: Counter[tuple[int, str]] = Counter()
        traded: Counter[tuple[int, str, str]] = Counter()
        for day, trade in self.trades.values():
            day_volume[day, trade.instrument] += trade.quantity
            traded[day, trade.buy_account, trade.instrument] += trade.quantity
            traded[day, trade.sell_account, trade.instrument] += trade.quantity
        return day_volume, traded


def planted_run(directory: Path, seed: int, orders: int, patterns: tuple[str, ...] = RULE_IDS) -> PlantedRun:
    config = planted_config(seed)
    with Journal.open(directory, fsync=False) as journal:
        return run_planted(config, journal, seed=seed, first_day=FIRST_DAY, orders_per_day=orders, patterns=patterns)


@pytest.fixture(scope="module")
def full_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[PlantedRun, Replayed, ExchangeConfig, int]:
    """The one full-size run: every pattern on three days of the default honest flow, replayed."""
    seed = 7
    directory = tmp_path_factory.mktemp("planted")
    run = planted_run(directory, seed, 3000)
    return run, Replayed(directory, planted_config(seed)), planted_config(seed), seed


# ------------------------------------------------------------------------------------------ the config


def test_the_planted_market_has_sixty_members_and_two_hundred_accounts_and_passes_the_config_checks() -> None:
    config = planted_config(3)

    check_config(config)  # the checks of `carbonx.config` on config directories: raises on a problem
    trading = [a for a in config.accounts if a.kind in TRADING_ACCOUNT_KINDS]
    members = {m.id for m in config.members if m.kind in ("self_dealing", "comprehensive")}
    groups: defaultdict[str, set[str]] = defaultdict(set)
    for account in trading:
        if account.owner_group:
            groups[account.owner_group].add(account.member)
    assert len(members) == 60 and len(trading) >= 200
    assert [i.code for i in config.instruments] == ["SHEA2025", "CCER"]
    assert len(groups) >= 3 and all(len(m) >= 2 for m in groups.values())  # each group spans members
    assert sum(a.prohibited for a in config.accounts) == 2
    assert set(planted_cast(config, 3).manipulators) <= {a.id for a in trading if not a.prohibited}


def test_the_seed_places_the_manipulators_and_another_seeds_cast_does_not_fit() -> None:
    first, second = planted_cast(planted_config(1), 1), planted_cast(planted_config(2), 2)

    assert first.roles != second.roles
    with pytest.raises(ValueError, match="planted layout of seed 2"):
        planted_cast(planted_config(1), 2)


# ------------------------------------------------------------------------------------------ reproducible


def test_the_same_seed_writes_the_same_journal_and_labels(tmp_path: Path) -> None:
    first = planted_run(tmp_path / "a", 11, SMALL)
    second = planted_run(tmp_path / "b", 11, SMALL)

    assert (tmp_path / "a" / JOURNAL_FILE).read_bytes() == (tmp_path / "b" / JOURNAL_FILE).read_bytes()
    assert first == second


def test_another_seed_gives_another_day(tmp_path: Path) -> None:
    first = planted_run(tmp_path / "a", 11, SMALL)
    other = planted_run(tmp_path / "b", 12, SMALL)

    assert first.state_hash != other.state_hash
    assert first.cases != other.cases


# ------------------------------------------------------------------------------------------ the labels


def test_every_rule_is_planted_at_least_once(full_day: tuple[PlantedRun, Replayed, ExchangeConfig, int]) -> None:
    run, _, _, _ = full_day

    assert {c.rule for c in run.cases} == set(RULE_IDS)
    assert len(run.trading_days) == 3 and run.accounts >= 200
    assert all(c.trading_day in run.trading_days for c in run.cases)


def test_every_labelled_id_is_in_the_journal_with_the_labelled_accounts(
    full_day: tuple[PlantedRun, Replayed, ExchangeConfig, int],
) -> None:
    run, replayed, config, seed = full_day
    manipulators = planted_cast(config, seed).roles

    for case in run.cases:
        accounts = set(case.accounts)
        assert accounts <= set(manipulators.values()), case
        for order_id in case.orders:
            assert replayed.orders[order_id] in accounts, (case.rule, order_id)
        for trade_id in case.trades:
            day, trade = replayed.trades[trade_id]
            assert day == case.trading_day and trade.instrument == case.instrument
            assert {trade.buy_account, trade.sell_account} & accounts, (case.rule, trade)
        for bid_id in case.bids:
            _, bid = replayed.bids[bid_id]
            assert bid.account in accounts and bid.auction_id in case.auctions, (case.rule, bid)
        for transfer_id in case.transfers:
            day, transfer = replayed.transfers[transfer_id]
            assert {transfer.buy_account, transfer.sell_account} <= accounts and day == case.trading_day


def test_the_trading_cases_trade_among_their_own_accounts(
    full_day: tuple[PlantedRun, Replayed, ExchangeConfig, int],
) -> None:
    run, replayed, _, _ = full_day

    for case in run.cases:
        if case.rule in ("wash.same_owner", "wash.round_trip", "circular") and case.trades:
            for trade_id in case.trades:
                _, trade = replayed.trades[trade_id]
                assert {trade.buy_account, trade.sell_account} <= set(case.accounts), (case.rule, trade)
    cycles = [c for c in run.cases if c.rule == "circular"]
    assert {bool(c.trades) for c in cycles} == {True, False}  # one cycle on the book, one by transfers


def test_the_honest_accounts_of_a_planted_run_stay_quiet(
    full_day: tuple[PlantedRun, Replayed, ExchangeConfig, int],
) -> None:
    _, replayed, config, seed = full_day

    assert_honest(replayed, config, set(planted_cast(config, seed).roles.values()))


def test_an_honest_run_plants_nothing_and_stays_quiet(tmp_path: Path) -> None:
    config = planted_config(5)

    run = planted_run(tmp_path, 5, 1500, patterns=())
    replayed = Replayed(tmp_path, config)

    assert run.cases == []
    assert_honest(replayed, config, set())
    manipulators = set(planted_cast(config, 5).roles.values())
    assert not any({t.buy_account, t.sell_account} & manipulators for _, t in replayed.trades.values())


def assert_honest(replayed: Replayed, config: ExchangeConfig, manipulators: set[str]) -> None:
    """No honest account trades with its own member or group, trades 5% of a day's volume, holds near
    its limit or above the large-holder threshold, or sends many orders for few trades."""
    accounts = {a.id: a for a in config.accounts}
    honest = {a for a in accounts if a not in manipulators}
    for _, trade in replayed.trades.values():
        buyer, seller = accounts[trade.buy_account], accounts[trade.sell_account]
        if {buyer.id, seller.id} <= honest:
            assert buyer.member != seller.member, trade
            assert not buyer.owner_group or buyer.owner_group != seller.owner_group, trade
    day_volume, traded = replayed.volumes()
    fills: Counter[tuple[int, str, str]] = Counter()
    for day, trade in replayed.trades.values():
        fills[day, trade.buy_account, trade.instrument] += 1
        fills[day, trade.sell_account, trade.instrument] += 1
    for (day, account, code), tonnes in traded.items():
        if account in honest:
            assert 100 * tonnes < 5 * day_volume[day, code], (day, account, code, tonnes, day_volume[day, code])
    for (day, account, code), messages in replayed.messages.items():
        if account in honest and messages >= 20:
            assert messages <= 15 * fills[day, account, code], (day, account, code, messages)
    risk = config.risk
    for statement in replayed.statements:
        holder = accounts[statement.account]
        if holder.id in honest and holder.kind in TRADING_ACCOUNT_KINDS:
            for holding in statement.holdings:
                assert 100 * holding.closing < 50 * risk.position_limit_t[holder.kind], (holder.id, holding)
    assert not [e for e in replayed.large_holders if e.account in honest]


# ------------------------------------------------------------------------------------------ checked patterns


def test_a_config_that_breaks_a_pattern_stops_the_run_naming_the_pattern(tmp_path: Path) -> None:
    config = planted_config(4)
    narrow = msgspec.structs.replace(config, listing=msgspec.structs.replace(config.listing, max_quantity_t=1500))

    with Journal.open(tmp_path, fsync=False) as journal, pytest.raises(PlantedError, match=r"^marking_close\.vwap"):
        run_planted(
            narrow, journal, seed=4, first_day=FIRST_DAY, orders_per_day=SMALL, patterns=("marking_close.vwap",)
        )


def test_patterns_need_three_days_and_known_rule_ids(tmp_path: Path) -> None:
    config = planted_config(4)

    with Journal.open(tmp_path, fsync=False) as journal:
        with pytest.raises(ValueError, match="3 trading days"):
            run_planted(config, journal, seed=4, first_day=FIRST_DAY, days=2)
        with pytest.raises(ValueError, match="at least 1000 orders a day"):
            run_planted(config, journal, seed=4, first_day=FIRST_DAY, orders_per_day=999)
        with pytest.raises(ValueError, match="unknown rule ids"):
            run_planted(config, journal, seed=4, first_day=FIRST_DAY, patterns=("wash.everything",))
        with pytest.raises(ValueError, match="not a trading day"):
            run_planted(config, journal, seed=4, first_day=dt.date(2026, 3, 1))


# ------------------------------------------------------------------------------------------ the command line


def test_simulate_with_manipulation_writes_the_journal_and_the_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "planted"

    status = main(
        ["simulate", "--with-manipulation", "--data-dir", str(data_dir), "--orders", str(SMALL), "--date", "2026-03-02"]
    )
    out, err = capsys.readouterr()

    assert status == 0, err
    cases = read_labels(data_dir / LABELS_FILE)
    assert {c.rule for c in cases} == set(RULE_IDS)
    assert (data_dir / JOURNAL_FILE).exists() and (data_dir / "carbonx.db").exists()
    assert "carbonx surveil ingest --data-dir" in out and "carbonx surveil alerts" in out
    for rule in RULE_IDS:
        assert rule in out
