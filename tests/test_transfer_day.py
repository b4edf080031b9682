"""docs/RULES_COVERAGE.md "Agreement transfer": a transfer in the day's figures, statements and snapshots.

Transfers set no listing figure and no band; the bulletin counts them apart as bulk trades; the
statements list each with its fee and method; a snapshot with open proposals restores to the same
hash and goes on identically on either book. The market is tests/transfer_desk.py's; settlement,
funding, limits and expiry are in tests/test_transfer_settlement.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.exchange import Exchange
from engine.listing import BOOK_KINDS
from engine.messages import (
    AcceptTransfer,
    AccountStatement,
    Command,
    DailyBulletin,
    EndOfDay,
    Session,
    SetSession,
    StartOfDay,
    TradingDayEnded,
)
from engine.view import ExchangeView
from settlement.statements import CashStatement, HoldingStatement, StatementTrade
from tests.conftest import DAY1, DAY2, Market, assert_balanced
from tests.transfer_desk import (
    BUY,
    CASH_T,
    FEES,
    SELL,
    SHEA,
    T5,
    accept,
    listing_fee,
    listing_order,
    made,
    next_day_afternoon,
    proposal,
    transfer_market,
)

pytestmark = pytest.mark.per_book  # transfers settle through the ledger the fast book also writes


@pytest.fixture
def desk(book_kind: str) -> Iterator[Market]:
    market = transfer_market(book_kind)
    yield market
    market.exchange.validate_internal_state()
    assert_balanced(market)


# --------------------------------------------------------------- the listing's figures, the bulletin


def test_transfers_set_no_listing_price_nor_band(desk: Market) -> None:
    desk.send(listing_order("A1", SELL, 100, 8100, "l1"))
    desk.send(listing_order("A3", BUY, 100, 8100, "l2"))
    made(desk, proposal("A2", SELL, "A3", 100_000, 10_400, "s1"), 1)  # the band's edges
    made(desk, proposal("A2", SELL, "A4", 100_000, 5_600, "s2"), 2)
    made(desk, proposal("A1", SELL, "A4", 100_000, 9_000, "s3", T5), 3)
    for transfer_id, buyer in ((1, "A3"), (2, "A4"), (3, "A4")):
        assert [type(e).__name__ for e in accept(desk, buyer, transfer_id)] == ["TransferAccepted", "TransferExecuted"]

    view = ExchangeView(desk.exchange)
    figures = view.figures(SHEA)
    assert (figures.open, figures.high, figures.low, figures.last) == (8100, 8100, 8100, 8100)
    assert (figures.volume, figures.turnover, figures.trades) == (100, 810_000, 1)
    t5 = view.figures(T5)
    assert (t5.open, t5.high, t5.low, t5.last, t5.volume, t5.trades) == (0, 0, 0, 0, 0, 0)
    assert view.band(SHEA) == (7200, 8800)

    next_day_afternoon(desk)

    bulletins = {e.instrument: e for e in desk.events if isinstance(e, DailyBulletin)}
    assert (bulletins[SHEA].close, bulletins[SHEA].vwap) == (8100, 8100)  # the listing's trade alone
    assert (bulletins[T5].close, bulletins[T5].vwap) == (7775, 0)  # no listing trade: the close carries
    assert view.band(SHEA) == (7290, 8910)  # 81.00 ± 10%
    assert view.band(T5) == (7000, 8550)  # 77.75 ± 10%, rounded inward to 5 fen
    instruments = {i.code: i for i in desk.exchange.config.instruments}
    assert desk.exchange.transfers.band(instruments[SHEA]) == (5670, 10530)  # 81.00 ± 30%
    assert desk.exchange.transfers.band(instruments[T5]) == (5445, 10105)


def test_the_bulletin_counts_transfers_as_bulk_trades_apart(desk: Market) -> None:
    desk.send(listing_order("A1", SELL, 100, 8000, "l1"))
    desk.send(listing_order("A3", BUY, 100, 8000, "l2"))
    deals = [
        ("A2", "A3", 100_000, 9_000, SHEA),
        ("A1", "A4", 150_000, 7_000, SHEA),
        ("A2", "A4", 100_010, 7_775, T5),
    ]
    for transfer_id, (seller, buyer, quantity, price, instrument) in enumerate(deals, start=1):
        made(desk, proposal(seller, SELL, buyer, quantity, price, f"s{transfer_id}", instrument), transfer_id)
        accept(desk, buyer, transfer_id)
    desk.session(Session.CLOSED)

    events = desk.send(EndOfDay(trading_day=DAY1))

    ts = desk.ts
    assert [e for e in events if isinstance(e, DailyBulletin)] == [
        DailyBulletin(
            ts_event=ts,
            trading_day=DAY1,
            instrument=SHEA,
            reference_price=8000,
            open=8000,
            high=8000,
            low=8000,
            last=8000,
            close=8000,
            vwap=8000,
            volume=100,
            turnover=800_000,
            trades=1,
            bulk_volume=250_000,
            bulk_turnover=900_000_000 + 1_050_000_000,
            bulk_trades=2,
        ),
        DailyBulletin(
            ts_event=ts,
            trading_day=DAY1,
            instrument="CCER",
            reference_price=8500,
            open=0,
            high=0,
            low=0,
            last=0,
            close=8500,
            vwap=0,
            volume=0,
            turnover=0,
            trades=0,
        ),
        DailyBulletin(
            ts_event=ts,
            trading_day=DAY1,
            instrument=T5,
            reference_price=7775,
            open=0,
            high=0,
            low=0,
            last=0,
            close=7775,
            vwap=0,
            volume=0,
            turnover=0,
            trades=0,
            bulk_volume=100_010,
            bulk_turnover=777_577_750,
            bulk_trades=1,
        ),
    ]
    # The next day starts counting afresh.
    desk.send(StartOfDay(trading_day=DAY2))
    desk.session(Session.MORNING)
    next_bulletins = [e for e in desk.close_day(DAY2) if isinstance(e, DailyBulletin)]
    assert [(b.bulk_volume, b.bulk_turnover, b.bulk_trades) for b in next_bulletins] == [(0, 0, 0)] * 3


# ------------------------------------------------------------------------- statements


def test_statements_list_the_transfer_with_its_fee_and_method(desk: Market) -> None:
    # The transfer settles first, then a listing trade: both rows of the day's trade log stay, on either book.
    made(desk, proposal("A1", SELL, "A3", 100_000, 8000, "s1"), 1)
    accept(desk, "A3", 1)
    desk.send(listing_order("A1", SELL, 100, 8000, "l1"))
    desk.send(listing_order("A3", BUY, 100, 8000, "l2"))
    desk.session(Session.CLOSED)

    events = desk.send(EndOfDay(trading_day=DAY1))

    statements = {e.account: e for e in events if isinstance(e, AccountStatement)}
    transfer_value, transfer_fee = 800_000_000, 800_000
    listing_value, fee = 800_000, listing_fee(800_000)
    assert statements["A3"] == AccountStatement(
        ts_event=desk.ts,
        trading_day=DAY1,
        account="A3",
        member="M2",
        cash=CashStatement(
            opening=0,
            deposits=CASH_T,
            bought=transfer_value + listing_value,
            fees_paid=transfer_fee + fee,
            closing=CASH_T - transfer_value - listing_value - transfer_fee - fee,
            withdrawable=CASH_T - transfer_value - listing_value - transfer_fee - fee,
        ),
        holdings=[
            HoldingStatement(instrument=SHEA, opening=0, bought=100_100, closing=100_100, released_restricted=100_100)
        ],
        trades=[
            StatementTrade(
                trade_id=1,
                instrument=SHEA,
                side=BUY,
                price=8000,
                quantity=100_000,
                value=transfer_value,
                fee=transfer_fee,
                method=1,
            ),
            StatementTrade(
                trade_id=1, instrument=SHEA, side=BUY, price=8000, quantity=100, value=listing_value, fee=fee, method=0
            ),
        ],
    )
    assert [(t.side, t.quantity, t.fee, t.method) for t in statements["A1"].trades] == [
        (SELL, 100_000, transfer_fee, 1),
        (SELL, 100, fee, 0),
    ]
    assert statements["A1"].cash.sold == transfer_value + listing_value
    assert statements[FEES].cash.fees_received == 2 * (transfer_fee + fee)
    assert [e.fees_collected for e in events if isinstance(e, TradingDayEnded)] == [2 * (transfer_fee + fee)]


# ------------------------------------------------------------------------- snapshots


def test_a_snapshot_with_open_proposals_restores_and_goes_on_identically_on_either_book(desk: Market) -> None:
    made(desk, proposal("A1", SELL, "A3", 100_000, 8000, "s1"), 1)
    made(desk, proposal("A4", BUY, "A2", 100_000, 7000, "b1"), 2)
    made(desk, proposal("A1", SELL, "A4", 100_000, 7500, "s2", T5), 3)
    accept(desk, "A4", 3)
    desk.send(listing_order("A2", SELL, 100, 8000, "l1"))
    snapshot = desk.exchange.snapshot()
    rest: list[Command] = [
        AcceptTransfer(account="A3", transfer_id=1),
        listing_order("A3", BUY, 50, 8000, "l2"),
        proposal("A3", BUY, "A2", 100_000, 8000, "b2"),
        AcceptTransfer(account="A2", transfer_id=4),
        SetSession(session=Session.CLOSED),  # 2 expires
        EndOfDay(trading_day=DAY1),
    ]
    restored = {kind: Exchange.from_snapshot(desk.exchange.config, snapshot, book=kind) for kind in BOOK_KINDS}
    assert {kind: e.state_hash() for kind, e in restored.items()} == dict.fromkeys(
        BOOK_KINDS, desk.exchange.state_hash()
    )

    expected = [desk.send(command) for command in rest]

    for kind, exchange in restored.items():
        got = [exchange.apply(command, ts) for ts, command in enumerate(rest, start=desk.ts - len(rest) + 1)]
        assert got == expected, kind
        assert exchange.state_hash() == desk.exchange.state_hash(), kind
    kinds = [type(e).__name__ for events in expected for e in events]
    assert [kinds.count(k) for k in ("TransferExecuted", "TransferExpired", "TradeExecuted", "OrderCancelled")] == [
        2,
        1,
        1,
        1,  # the rest of A2's listing sell expires at the end of day
    ]
