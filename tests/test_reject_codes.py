"""Every reject code is reachable through the engine, every reject text has the documented shape, and
the codes keep their subsystem ranges (2xxx rules, 3xxx funds, holdings and position limits, 4xxx
order book, 5xxx agreement transfers and auctions, 6xxx registry operations).

Adding a code to ``engine.messages.Reject`` without a scenario here fails
``test_every_reject_code_has_a_scenario`` and that code's parametrised case.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from engine.config import CarryOverRule, ExchangeConfig, Instrument, RegistryRules
from engine.messages import (
    AcceptTransfer,
    AllocateAllowances,
    AnnounceAuction,
    ApplyAuction,
    ApproveAuction,
    AuctionKind,
    AuctionTerms,
    CancelTransfer,
    CarryOverAllowances,
    ClearAuction,
    CloseAuction,
    DepositCash,
    EndOfDay,
    Event,
    HaltInstrument,
    HaltMarket,
    LoadDailyFigures,
    MergeAccounts,
    OpenAuction,
    OrderRejected,
    OrderType,
    ProposeTransfer,
    Purpose,
    RecordRegistryFile,
    Reject,
    RequestRejected,
    ResumeInstrument,
    Session,
    Side,
    StartOfDay,
    SubmitBid,
    SurrenderAllowances,
    TieBreak,
    WithdrawBid,
    WithdrawCash,
)
from tests.conftest import CASH, DAY1, DAY2, HOLDING, InjectedDefect, Market, market_config

Scenario = Callable[[Market], list[Event]]

SATURDAY = 20261128


@pytest.fixture
def config() -> ExchangeConfig:
    """The test market with SHEA2025 of vintage 2025 and a carry-over rule into SHEA2026."""
    base = market_config()
    vintaged = [msgspec.structs.replace(i, vintage=2025) if i.code == "SHEA2025" else i for i in base.instruments]
    later = Instrument(code="SHEA2026", name="allowance 2026", kind="allowance", reference_price_fen=8000, vintage=2026)
    rule = CarryOverRule(from_instrument="SHEA2025", to_instrument="SHEA2026")
    return market_config(instruments=[*vintaged, later], registry=RegistryRules(carry_over=[rule]))


def _file_record() -> RecordRegistryFile:
    return RecordRegistryFile(operation="deposit", sha256="ab" * 32, name="deposit.csv", commands=1)


def _closed_day(market: Market) -> Market:
    market.close_day(DAY1)
    return market


def _duplicate(market: Market) -> list[Event]:
    market.buy("A1", 100, 7900, client_order_id="twice")
    return market.buy("A1", 100, 7900, client_order_id="twice")


def _insufficient_funds(market: Market) -> list[Event]:
    market.buy("A1", 99_999, 8000)  # freezes 801,191,988 of the 1,000,000,000 fen deposited
    return market.buy("A1", 99_999, 8000)


def _amend_no_change(market: Market) -> list[Event]:
    market.buy("A1", 100, 7900)
    return market.amend("A1", 1, 7900, 100)


def _market_halted(market: Market) -> list[Event]:
    market.send(HaltMarket(reason="drill"))
    return market.buy("A1", 100, 7900)


def _instrument_halted(market: Market) -> list[Event]:
    market.send(HaltInstrument(instrument="SHEA2025"))
    return market.buy("A1", 100, 7900)


def _market_closed(market: Market) -> list[Event]:
    market.session(Session.LUNCH_BREAK)
    return market.buy("A1", 100, 7900)


def _already_halted(market: Market) -> list[Event]:
    market.send(HaltMarket())
    return market.send(HaltMarket())


def _account_closed(market: Market) -> list[Event]:
    _closed_day(market).send(MergeAccounts(account="A3", successor="A4"))
    return market.send(DepositCash(account="A3", amount=1))


def _position_limit(market: Market) -> list[Event]:
    # Allocation is not limited; a buy is: A3 (individual) then holds more than 1,000,000 t.
    market.send(AllocateAllowances(account="A3", instrument="SHEA2025", quantity=1_000_000 - HOLDING))
    return market.buy("A3", 1, 8000)


def _surrender(account: str, year: int, verified: int) -> SurrenderAllowances:
    return SurrenderAllowances(account=account, compliance_year=year, verified_emissions=verified)


def _compliance_already_complete(market: Market) -> list[Event]:
    market.send(_surrender("A1", 2025, 100))
    return market.send(_surrender("A1", 2025, 100))


def _emissions_mismatch(market: Market) -> list[Event]:
    market.send(_surrender("A1", 2025, 200_000))  # short: 50,000 SHEA2025 and 10,000 CCER
    return market.send(_surrender("A1", 2025, 150_000))


def _internal_error(market: Market) -> list[Event]:
    # No rule reaches it: an injected defect does (the ledger raises on a deposit the registry checked).
    # The reject comes first, then the halt and the conservation check (tests/test_internal_error.py).
    def failing_deposit(account: str, amount: int) -> None:
        raise InjectedDefect("injected defect")

    market.exchange.ledger.deposit = failing_deposit  # type: ignore[method-assign]
    return market.send(DepositCash(account="A1", amount=1))[:1]


def _afternoon(market: Market) -> Market:
    market.session(Session.LUNCH_BREAK)
    market.session(Session.AFTERNOON)
    return market


def _propose(
    market: Market,
    account: str = "A2",
    counterparty: str = "A1",
    side: Side = Side.SELL,
    quantity: int = 100_000,
    price: int = 8000,
    client_proposal_id: str = "t1",
) -> list[Event]:
    proposal = ProposeTransfer(
        account=account,
        client_proposal_id=client_proposal_id,
        side=side,
        counterparty=counterparty,
        instrument="SHEA2025",
        price=price,
        quantity=quantity,
    )
    return market.send(proposal)


def _proposed(market: Market) -> Market:
    """An open proposal, transfer 1: A2 sells 100,000 t of SHEA2025 to A1 at 80.00."""
    market.send(AllocateAllowances(account="A2", instrument="SHEA2025", quantity=200_000 - HOLDING))
    _propose(_afternoon(market))
    return market


def _too_many_proposals(market: Market) -> list[Event]:
    rules = market.exchange.transfers.rules
    market.exchange.transfers.rules = msgspec.structs.replace(rules, max_proposals_per_day=1)
    return _propose(_proposed(market), client_proposal_id="t2")


def _transfer_not_open(market: Market) -> list[Event]:
    _proposed(market).send(CancelTransfer(account="A2", transfer_id=1))
    return market.send(CancelTransfer(account="A2", transfer_id=1))


def _sale_terms(**fields: Any) -> AuctionTerms:
    """A market-supply reserve sale of 10,000 t of SHEA2025 at a floor of 80.00, bidding all day long."""
    terms: dict[str, Any] = {"volume": 10_000, "price": 8000, "opens_at": 1, "closes_at": 2**62}
    terms.update(fields)
    return AuctionTerms(
        kind=AuctionKind.RESERVE_SALE,
        instrument="SHEA2025",
        auctioneer="RESERVE",
        purpose=Purpose.MARKET_SUPPLY,
        **terms,
    )


def _announced(market: Market, **fields: Any) -> Market:
    """Auction 1, announced: the reserve sale of ``_sale_terms``; the reserve is allocated its tonnes first."""
    market.send(AllocateAllowances(account="RESERVE", instrument="SHEA2025", quantity=10_000))
    market.send(AnnounceAuction(terms=_sale_terms(**fields)))
    return market


def _opened(market: Market, **fields: Any) -> Market:
    _announced(market, **fields).send(OpenAuction(auction_id=1))
    return market


def _bid(market: Market, account: str = "A1", price: int = 8000, quantity: int = 1, cid: str = "b1") -> list[Event]:
    return market.send(SubmitBid(account=account, auction_id=1, client_bid_id=cid, price=price, quantity=quantity))


def _cutoff_passed(market: Market) -> list[Event]:
    # Allocation, announcement and opening take three exchange times; the bid comes at the cut-off.
    _opened(market, cutoff_at=market.ts + 4)
    return _bid(market)


def _bid_above_ceiling(market: Market) -> list[Event]:
    # A one-way sale: bids at most the previous close (80.00) + 10%.
    market.send(AllocateAllowances(account="A1", instrument="SHEA2025", quantity=100_000))
    terms = msgspec.structs.replace(_sale_terms(volume=100_000, price=7200), kind=AuctionKind.ONE_WAY, auctioneer="A1")
    market.send(ApplyAuction(account="A1", terms=msgspec.structs.replace(terms, purpose=Purpose.NONE)))
    market.send(ApproveAuction(auction_id=1))
    market.send(OpenAuction(auction_id=1))
    return _bid(market, "A2", price=8801)


def _too_many_bids(market: Market) -> list[Event]:
    rules = market.exchange.auctions.rules
    market.exchange.auctions.rules = msgspec.structs.replace(rules, max_bids_per_account=1)
    _bid(_opened(market))
    return _bid(market, cid="b2")


def _too_many_auctions(market: Market) -> list[Event]:
    rules = market.exchange.auctions.rules
    market.exchange.auctions.rules = msgspec.structs.replace(rules, max_live_auctions=1)
    _announced(market, volume=5_000)
    return market.send(AnnounceAuction(terms=_sale_terms(volume=5_000)))


def _seed_mismatch(market: Market) -> list[Event]:
    committed = hashlib.sha256(bytes(32)).hexdigest()
    _opened(market, tie_break=TieBreak.RANDOM, seed_commitment=committed).send(CloseAuction(auction_id=1))
    return market.send(ClearAuction(auction_id=1, seed="11" * 32))


SCENARIOS: dict[Reject, Scenario] = {
    Reject.UNKNOWN_ACCOUNT: lambda m: m.buy("NOBODY", 100, 8000),
    Reject.UNKNOWN_INSTRUMENT: lambda m: m.buy("A1", 100, 8000, instrument="SHEA1999"),
    Reject.PROHIBITED_PARTICIPANT: lambda m: m.buy("STAFF", 100, 8000),
    Reject.ACCOUNT_CANNOT_TRADE: lambda m: m.sell("RESERVE", 100, 8000),
    Reject.MARKET_CLOSED: _market_closed,
    Reject.MARKET_HALTED: _market_halted,
    Reject.INSTRUMENT_HALTED: _instrument_halted,
    Reject.PRICE_OUT_OF_BAND: lambda m: m.buy("A1", 100, 8801),
    Reject.INVALID_TICK: lambda m: m.buy("A1", 10, 7781, instrument="T5"),
    Reject.INVALID_LOT: lambda m: m.buy("A1", 15, 7780, instrument="T5"),
    Reject.QUANTITY_OUT_OF_RANGE: lambda m: m.buy("A1", 100_000, 8000),
    Reject.INVALID_PRICE: lambda m: m.buy("A1", 100, 8000, order_type=OrderType.MARKET_FIVE_CANCEL),
    Reject.DUPLICATE_CLIENT_ORDER_ID: _duplicate,
    Reject.INVALID_CLIENT_ORDER_ID: lambda m: m.buy("A1", 100, 8000, client_order_id=""),
    Reject.INVALID_SESSION_TRANSITION: lambda m: m.session(Session.AFTERNOON),
    Reject.TRADING_DAY_OPEN: lambda m: m.send(StartOfDay(trading_day=DAY2)),
    Reject.NO_TRADING_DAY: lambda m: _closed_day(m).session(Session.MORNING),
    Reject.NOT_A_TRADING_DAY: lambda m: _closed_day(m).send(StartOfDay(trading_day=SATURDAY)),
    Reject.SESSION_OPEN: lambda m: m.send(EndOfDay(trading_day=DAY1)),
    Reject.ALREADY_HALTED: _already_halted,
    Reject.NOT_HALTED: lambda m: m.send(ResumeInstrument(instrument="SHEA2025")),
    Reject.INSUFFICIENT_FUNDS: _insufficient_funds,
    Reject.INSUFFICIENT_HOLDINGS: lambda m: m.sell("A1", HOLDING + 1, 8000),
    Reject.INVALID_AMOUNT: lambda m: m.send(DepositCash(account="A1", amount=0)),
    Reject.UNKNOWN_ORDER: lambda m: m.cancel("A1", 999),
    Reject.AMEND_NO_CHANGE: _amend_no_change,
    Reject.ACCOUNT_CLOSED: _account_closed,
    Reject.POSITION_LIMIT: _position_limit,
    Reject.NOT_WITHDRAWABLE: lambda m: m.send(WithdrawCash(account="A1", amount=CASH + 1)),
    Reject.NOT_A_COVERED_ENTITY: lambda m: m.send(_surrender("A2", 2025, 100)),
    Reject.UNKNOWN_VINTAGE: lambda m: m.send(_surrender("A1", 2030, 100)),
    Reject.COMPLIANCE_ALREADY_COMPLETE: _compliance_already_complete,
    Reject.EMISSIONS_MISMATCH: _emissions_mismatch,
    Reject.NO_CARRY_OVER_RULE: lambda m: m.send(CarryOverAllowances(account="A2", instrument="CCER", quantity=1)),
    Reject.COMPLIANCE_NOT_COMPLETE: lambda m: m.send(
        CarryOverAllowances(account="A1", instrument="SHEA2025", quantity=1)
    ),
    Reject.INVALID_SUCCESSOR: lambda m: _closed_day(m).send(MergeAccounts(account="A1", successor="A1")),
    Reject.SYSTEM_ACCOUNT: lambda m: _closed_day(m).send(MergeAccounts(account="A1", successor="RESERVE")),
    Reject.REGISTRY_FILE_ALREADY_APPLIED: lambda m: [*m.send(_file_record()), *m.send(_file_record())],
    Reject.INTERNAL_ERROR: _internal_error,
    Reject.TRANSFER_TOO_SMALL: lambda m: _propose(_afternoon(m), quantity=99_999),
    Reject.TRANSFER_PRICE_OUT_OF_BAND: lambda m: _propose(_afternoon(m), price=10_401),
    Reject.TRANSFER_OUTSIDE_HOURS: lambda m: _propose(m),
    Reject.TRANSFER_ACCOUNT_NOT_ELIGIBLE: lambda m: _propose(_afternoon(m), counterparty="NOBODY"),
    Reject.TRANSFER_PARTY_PROHIBITED: lambda m: _propose(_afternoon(m), counterparty="STAFF"),
    Reject.TRANSFER_SAME_ACCOUNT: lambda m: _propose(_afternoon(m), counterparty="A2"),
    # A3 (individual, limit 1,000,000 t) holds 50,000 t: a 960,000 t buy (a free price) would pass it.
    Reject.TRANSFER_POSITION_LIMIT: lambda m: _propose(_afternoon(m), "A3", "A2", Side.BUY, 960_000, 1),
    Reject.UNKNOWN_TRANSFER: lambda m: _afternoon(m).send(AcceptTransfer(account="A1", transfer_id=99)),
    Reject.TRANSFER_NOT_OPEN: _transfer_not_open,
    Reject.NOT_TRANSFER_COUNTERPARTY: lambda m: _proposed(m).send(AcceptTransfer(account="A2", transfer_id=1)),
    Reject.NOT_TRANSFER_PROPOSER: lambda m: _proposed(m).send(CancelTransfer(account="A1", transfer_id=1)),
    Reject.DUPLICATE_PROPOSAL_ID: lambda m: _propose(_proposed(m)),
    Reject.INVALID_PROPOSAL_ID: lambda m: _propose(_afternoon(m), client_proposal_id=""),
    Reject.TOO_MANY_PROPOSALS: _too_many_proposals,
    Reject.UNKNOWN_AUCTION: lambda m: _bid(m),
    Reject.AUCTION_NOT_OPEN: lambda m: _bid(_announced(m)),
    Reject.AUCTION_CUTOFF_PASSED: _cutoff_passed,
    Reject.BID_BELOW_FLOOR: lambda m: _bid(_opened(m), price=7999),
    Reject.BID_ABOVE_CEILING: _bid_above_ceiling,
    Reject.BIDDER_NOT_ELIGIBLE: lambda m: _bid(_opened(m), "A3"),  # an individual in a market-supply sale
    Reject.BID_CAP_EXCEEDED: lambda m: _bid(_opened(m), "A2", quantity=10_001),  # never more than the volume
    Reject.UNKNOWN_BID: lambda m: m.send(WithdrawBid(account="A1", bid_id=99)),
    Reject.TOO_MANY_BIDS: _too_many_bids,
    Reject.INVALID_BID_ID: lambda m: _bid(_opened(m), cid=""),
    Reject.DUPLICATE_BID_ID: lambda m: [*_bid(_opened(m)), *_bid(m)],
    Reject.INVALID_AUCTION_TERMS: lambda m: _announced(m, volume=0).events[-1:],
    Reject.AUCTION_NO_REFERENCE_PRICE: lambda m: m.send(
        AnnounceAuction(terms=_sale_terms(price=0, vwap_from=DAY1, vwap_to=DAY1))
    ),
    Reject.AUCTION_WRONG_STATUS: lambda m: _announced(m).send(CloseAuction(auction_id=1)),
    Reject.SEED_MISMATCH: _seed_mismatch,
    Reject.TOO_MANY_AUCTIONS: _too_many_auctions,
    Reject.INVALID_DAILY_FIGURES: lambda m: m.send(LoadDailyFigures(instrument="SHEA2025", days=[])),
}

# A reject text: the code's name, alone or followed by ': ' and space-separated key=value pairs.
CONTEXT = r'[a-z_]+=(?:[^\s="]+|"(?:[^"\\]|\\.)*")'  # a bare value, or a JSON-quoted string


def text_pattern(code: Reject) -> re.Pattern[str]:
    return re.compile(rf"{code.name}(: {CONTEXT}( {CONTEXT})*)?")


def last_reject(events: list[Event]) -> OrderRejected | RequestRejected:
    assert events, "the scenario caused no event"
    last = events[-1]
    assert isinstance(last, OrderRejected | RequestRejected), last
    return last


# ------------------------------------------------------------------------------------------ (a) reachability


# 1xxx codes are the gateway's: it refuses before sequencing, so the engine never produces them;
# tests/test_gateway_session.py reaches every one of them.
ENGINE_CODES = [code for code in Reject if code.value >= 2000]


def test_every_reject_code_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(ENGINE_CODES)


@pytest.mark.per_book
@pytest.mark.parametrize("code", ENGINE_CODES, ids=lambda code: code.name)
def test_reject_code_is_reached_through_the_engine(market: Market, code: Reject) -> None:
    scenario = SCENARIOS[code]

    events = scenario(market)

    reject = last_reject(events)
    assert reject.code is code
    assert reject.ts_event == market.ts


@pytest.mark.per_book
def test_reject_codes_map_to_the_right_event_type(market: Market) -> None:
    # New orders are refused with OrderRejected, every other command with RequestRejected.
    order_reject = market.buy("A1", 100, 8801, client_order_id="oob")
    cancel_reject = SCENARIOS[Reject.UNKNOWN_ORDER](market)
    deposit_reject = SCENARIOS[Reject.INVALID_AMOUNT](market)

    assert order_reject == [
        OrderRejected(
            ts_event=market.ts - 2,
            account="A1",
            instrument="SHEA2025",
            client_order_id="oob",
            code=Reject.PRICE_OUT_OF_BAND,
            text="PRICE_OUT_OF_BAND: price=8801 lower=7200 upper=8800",
        )
    ]
    assert cancel_reject == [
        RequestRejected(
            ts_event=market.ts - 1,
            request="CancelOrder",
            code=Reject.UNKNOWN_ORDER,
            text="UNKNOWN_ORDER: order_id=999",
            account="A1",
            order_id=999,
        )
    ]
    assert deposit_reject == [
        RequestRejected(
            ts_event=market.ts,
            request="DepositCash",
            code=Reject.INVALID_AMOUNT,
            text="INVALID_AMOUNT: amount=0",
            account="A1",
        )
    ]


def test_allocation_rejects_reach_their_codes(market: Market) -> None:
    nobody = market.send(AllocateAllowances(account="NOBODY", instrument="SHEA2025", quantity=1))
    unknown = market.send(AllocateAllowances(account="A1", instrument="SHEA1999", quantity=1))
    nothing = market.send(AllocateAllowances(account="A1", instrument="SHEA2025", quantity=0))

    assert [last_reject(e).text for e in (nobody, unknown, nothing)] == [
        "UNKNOWN_ACCOUNT: account=NOBODY",
        "UNKNOWN_INSTRUMENT: instrument=SHEA1999",
        "INVALID_AMOUNT: quantity=0",
    ]


# ------------------------------------------------------------------------------------------ (b) text shape


@pytest.mark.per_book
@pytest.mark.parametrize("code", ENGINE_CODES, ids=lambda code: code.name)
def test_reject_text_starts_with_the_code_name_then_key_value_pairs(market: Market, code: Reject) -> None:
    SCENARIOS[code](market)

    rejects = [e for e in market.events if isinstance(e, OrderRejected | RequestRejected)]

    assert rejects
    for reject in rejects:
        assert text_pattern(reject.code).fullmatch(reject.text), reject.text


def test_text_pattern_accepts_bare_names_and_refuses_malformed_texts() -> None:
    pattern = text_pattern(Reject.MARKET_HALTED)

    assert pattern.fullmatch("MARKET_HALTED")
    assert pattern.fullmatch("MARKET_HALTED: instrument=SHEA2025 session=MORNING")
    for malformed in (
        "MARKET_HALTED:",
        "MARKET_HALTED instrument=SHEA2025",
        "MARKET_HALTED: the market is halted",
        "MARKET_HALTED: instrument=",
        "INSTRUMENT_HALTED: instrument=SHEA2025",
    ):
        assert not pattern.fullmatch(malformed), malformed


@pytest.mark.per_book
def test_reject_context_with_client_supplied_text_stays_key_value_pairs(market: Market) -> None:
    market.buy("A1", 100, 7900, client_order_id="x b=c")

    events = market.buy("A1", 100, 7900, client_order_id="x b=c")

    reject = last_reject(events)
    assert reject.code is Reject.DUPLICATE_CLIENT_ORDER_ID
    assert text_pattern(reject.code).fullmatch(reject.text), reject.text
    assert reject.text == 'DUPLICATE_CLIENT_ORDER_ID: client_order_id="x b=c"'


# ------------------------------------------------------------------------------------------ (c) ranges


MARKET_RULES = {
    Reject.UNKNOWN_ACCOUNT,
    Reject.UNKNOWN_INSTRUMENT,
    Reject.PROHIBITED_PARTICIPANT,
    Reject.ACCOUNT_CANNOT_TRADE,
    Reject.MARKET_CLOSED,
    Reject.MARKET_HALTED,
    Reject.INSTRUMENT_HALTED,
    Reject.PRICE_OUT_OF_BAND,
    Reject.INVALID_TICK,
    Reject.INVALID_LOT,
    Reject.QUANTITY_OUT_OF_RANGE,
    Reject.INVALID_PRICE,
    Reject.DUPLICATE_CLIENT_ORDER_ID,
    Reject.INVALID_CLIENT_ORDER_ID,
    Reject.INVALID_SESSION_TRANSITION,
    Reject.TRADING_DAY_OPEN,
    Reject.NO_TRADING_DAY,
    Reject.NOT_A_TRADING_DAY,
    Reject.SESSION_OPEN,
    Reject.ALREADY_HALTED,
    Reject.NOT_HALTED,
    Reject.ACCOUNT_CLOSED,
}
FUNDS_AND_HOLDINGS = {
    Reject.INSUFFICIENT_FUNDS,
    Reject.INSUFFICIENT_HOLDINGS,
    Reject.INVALID_AMOUNT,
    Reject.POSITION_LIMIT,
    Reject.NOT_WITHDRAWABLE,
}
ORDER_BOOK = {Reject.UNKNOWN_ORDER, Reject.AMEND_NO_CHANGE}
REGISTRY = {
    Reject.NOT_A_COVERED_ENTITY,
    Reject.UNKNOWN_VINTAGE,
    Reject.COMPLIANCE_ALREADY_COMPLETE,
    Reject.EMISSIONS_MISMATCH,
    Reject.NO_CARRY_OVER_RULE,
    Reject.COMPLIANCE_NOT_COMPLETE,
    Reject.INVALID_SUCCESSOR,
    Reject.SYSTEM_ACCOUNT,
    Reject.REGISTRY_FILE_ALREADY_APPLIED,
}
TRANSFERS = {
    Reject.TRANSFER_TOO_SMALL,
    Reject.TRANSFER_PRICE_OUT_OF_BAND,
    Reject.TRANSFER_OUTSIDE_HOURS,
    Reject.TRANSFER_ACCOUNT_NOT_ELIGIBLE,
    Reject.TRANSFER_PARTY_PROHIBITED,
    Reject.TRANSFER_SAME_ACCOUNT,
    Reject.TRANSFER_POSITION_LIMIT,
    Reject.UNKNOWN_TRANSFER,
    Reject.TRANSFER_NOT_OPEN,
    Reject.NOT_TRANSFER_COUNTERPARTY,
    Reject.NOT_TRANSFER_PROPOSER,
    Reject.DUPLICATE_PROPOSAL_ID,
    Reject.INVALID_PROPOSAL_ID,
    Reject.TOO_MANY_PROPOSALS,
}
AUCTIONS = {
    Reject.UNKNOWN_AUCTION,
    Reject.AUCTION_NOT_OPEN,
    Reject.AUCTION_CUTOFF_PASSED,
    Reject.BID_BELOW_FLOOR,
    Reject.BID_ABOVE_CEILING,
    Reject.BIDDER_NOT_ELIGIBLE,
    Reject.BID_CAP_EXCEEDED,
    Reject.UNKNOWN_BID,
    Reject.TOO_MANY_BIDS,
    Reject.INVALID_BID_ID,
    Reject.DUPLICATE_BID_ID,
    Reject.INVALID_AUCTION_TERMS,
    Reject.AUCTION_NO_REFERENCE_PRICE,
    Reject.AUCTION_WRONG_STATUS,
    Reject.SEED_MISMATCH,
    Reject.TOO_MANY_AUCTIONS,
    Reject.INVALID_DAILY_FIGURES,
}
SYSTEM = {Reject.INTERNAL_ERROR}


GATEWAY = {
    Reject.NOT_LOGGED_ON,
    Reject.LOGON_REFUSED,
    Reject.NOT_AUTHORISED,
    Reject.MALFORMED_MESSAGE,
    Reject.MESSAGE_TOO_LARGE,
    Reject.UNSUPPORTED_PROTOCOL,
    Reject.THROTTLED,
    Reject.RESEND_UNAVAILABLE,
    Reject.BATCH_TOO_LARGE,
    Reject.NODE_STOPPING,
    Reject.INVALID_FIELD,
    Reject.ROUTING_ID_IN_USE,
}


def in_range(thousands: int) -> set[Reject]:
    return {code for code in Reject if code.value // 1000 == thousands}


def test_reject_codes_are_unique() -> None:
    # An IntEnum member with a repeated value becomes a silent alias: count the declared names.
    values = [member.value for member in Reject.__members__.values()]

    assert len(values) == len(set(values)) == len(Reject)


def test_reject_codes_are_grouped_by_subsystem() -> None:
    assert in_range(1) == GATEWAY
    assert in_range(2) == MARKET_RULES
    assert in_range(3) == FUNDS_AND_HOLDINGS
    assert in_range(4) == ORDER_BOOK
    assert in_range(5) == TRANSFERS | AUCTIONS
    assert {code.value for code in AUCTIONS} == set(range(5015, 5032))
    assert in_range(6) == REGISTRY
    assert in_range(9) == SYSTEM
    # 7xxx and 8xxx unused; x000 is never a code.
    assert not in_range(7) | in_range(8)
    assert all(1001 <= code.value <= 9999 and code.value % 1000 for code in Reject)


def test_reject_codes_are_declared_in_ascending_order() -> None:
    values = [code.value for code in Reject]

    assert values == sorted(values)
