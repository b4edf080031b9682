"""docs/RULES_COVERAGE.md "Agreement transfer": the checks on a proposal and on who may act on it.

One test per rule, through the Exchange, comparing the exact events: every check of a proposal
(the parties, the client proposal id, the instrument, the hours and halts, the quantity, the price
and its band) with its reject text, and the rules on who may accept, reject or cancel. A refused
command changes nothing: each reject is checked against the state hash before and after. The
market (tests/transfer_desk.py) is DAY1's afternoon with A1 and A2 selling and A3 and A4 buying.
Acceptance, settlement, freezes, expiry and the day's figures: tests/test_transfer_settlement.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
import pytest

from engine.config import RiskLimits, TransferRules
from engine.exchange import Exchange
from engine.messages import (
    AcceptTransfer,
    CancelTransfer,
    Command,
    EndOfDay,
    HaltInstrument,
    HaltMarket,
    InstrumentStatusChanged,
    MarketStatusChanged,
    MergeAccounts,
    ProposeTransfer,
    RejectTransfer,
    RequestRejected,
    ResumeInstrument,
    ResumeMarket,
    Session,
    SessionChanged,
    SetSession,
    StartOfDay,
    TransferStatus,
)
from engine.view import ExchangeView, TransferRecord
from tests.conftest import DAY1, DAY2, Market, assert_balanced, market_config
from tests.transfer_desk import (
    BUY,
    CASH_T,
    SELL,
    SELLER_T,
    SHEA,
    SHEA_BAND,
    T5,
    T5_BAND,
    accept,
    accepted_and_executed,
    buyer_freeze,
    cancelled_by_proposer,
    decline,
    expired,
    made,
    next_day_afternoon,
    proposal,
    proposed,
    refused,
    rejected_by_counterparty,
    transfer_market,
    withdraw,
)

pytestmark = pytest.mark.per_book  # the band and the position limit read the listing (either book)


@pytest.fixture
def desk(book_kind: str) -> Iterator[Market]:
    market = transfer_market(book_kind)
    yield market
    market.exchange.validate_internal_state()
    assert_balanced(market)


# ------------------------------------------------------------------------------- a proposal


def test_a_proposal_freezes_the_proposers_side_and_only_its_parties_see_it(desk: Market) -> None:
    sell = proposal("A1", SELL, "A3", 100_000, 8000, "s1")
    buy = proposal("A4", BUY, "A2", 150_000, 7990, "b1")

    sold = desk.send(sell)
    bought = desk.send(buy)

    assert sold == [proposed(desk.ts - 1, 1, sell)]
    assert bought == [proposed(desk.ts, 2, buy)]
    assert proposed(desk.ts, 2, buy).frozen_cash == 1_198_500_000 + 1_198_500  # the value and its fee, exactly
    assert desk.holding("A1") == (SELLER_T - 100_000, 100_000, 0)
    assert desk.cash("A4") == (CASH_T - 1_199_698_500, 1_199_698_500)
    view = ExchangeView(desk.exchange)
    first = TransferRecord(
        transfer_id=1,
        proposer="A1",
        client_proposal_id="s1",
        side=SELL,
        counterparty="A3",
        instrument=SHEA,
        price=8000,
        quantity=100_000,
        status=TransferStatus.OPEN,
        frozen_cash=0,
        frozen_quantity=100_000,
    )
    assert view.transfers("A3") == [first]
    assert [t.transfer_id for t in view.transfers("A2")] == [2]
    assert [t.transfer_id for t in view.transfers(["A1", "A4"])] == [1, 2]
    assert [t.transfer_id for t in view.transfers()] == [1, 2]


def test_a_proposer_without_the_tonnes_or_the_cash_is_refused_at_the_proposal(desk: Market) -> None:
    refused(
        desk,
        proposal("A3", SELL, "A4", 100_000, 8000, "s1"),
        f"INSUFFICIENT_HOLDINGS: instrument={SHEA} required=100000 available=0",
    )
    refused(
        desk,
        proposal("A4", BUY, "A1", 300_000, 8000, "b1"),
        f"INSUFFICIENT_FUNDS: required={buyer_freeze(8000, 300_000)} available={CASH_T}",
    )
    made(desk, proposal("A1", SELL, "A4", 100_000, 8000, "s1"), 1)  # refused proposals took no id


# ------------------------------------------------------------------------------- the parties


def test_an_unknown_proposer_or_counterparty_is_not_eligible(desk: Market) -> None:
    refused(
        desk,
        proposal("NOBODY", SELL, "A3", 100_000, 8000, "p1"),
        "TRANSFER_ACCOUNT_NOT_ELIGIBLE: role=proposer account=NOBODY reason=unknown",
    )
    refused(
        desk,
        proposal("A1", SELL, "NOBODY", 100_000, 8000, "p1"),
        "TRANSFER_ACCOUNT_NOT_ELIGIBLE: role=counterparty account=NOBODY reason=unknown",
    )


def test_a_system_account_is_not_eligible(desk: Market) -> None:
    refused(
        desk,
        proposal("EXCHANGE-FEES", BUY, "A1", 100_000, 8000, "p1"),
        "TRANSFER_ACCOUNT_NOT_ELIGIBLE: role=proposer account=EXCHANGE-FEES reason=exchange_fees",
    )
    refused(
        desk,
        proposal("A1", SELL, "RESERVE", 100_000, 8000, "p1"),
        "TRANSFER_ACCOUNT_NOT_ELIGIBLE: role=counterparty account=RESERVE reason=reserve",
    )


def test_an_account_closed_by_a_merger_is_not_eligible(book_kind: str) -> None:
    market = transfer_market(book_kind, before=[MergeAccounts(account="A4", successor="A3")])

    refused(
        market,
        proposal("A4", BUY, "A1", 100_000, 8000, "p1"),
        "TRANSFER_ACCOUNT_NOT_ELIGIBLE: role=proposer account=A4 reason=closed",
    )
    refused(
        market,
        proposal("A1", SELL, "A4", 100_000, 8000, "p1"),
        "TRANSFER_ACCOUNT_NOT_ELIGIBLE: role=counterparty account=A4 reason=closed",
    )
    made(market, proposal("A1", SELL, "A3", 100_000, 8000, "p1"), 1)  # the successor trades
    assert_balanced(market)


def test_a_prohibited_party_is_refused(desk: Market) -> None:
    refused(
        desk,
        proposal("STAFF", BUY, "A1", 100_000, 8000, "p1"),
        "TRANSFER_PARTY_PROHIBITED: role=proposer account=STAFF",
    )
    refused(
        desk,
        proposal("A1", SELL, "STAFF", 100_000, 8000, "p1"),
        "TRANSFER_PARTY_PROHIBITED: role=counterparty account=STAFF",
    )


def test_a_transfer_to_the_proposers_own_account_is_refused(desk: Market) -> None:
    refused(desk, proposal("A1", SELL, "A1", 100_000, 8000, "p1"), "TRANSFER_SAME_ACCOUNT: account=A1")


def test_an_unknown_instrument_is_refused(desk: Market) -> None:
    refused(
        desk, proposal("A1", SELL, "A3", 100_000, 8000, "p1", instrument="NOPE"), "UNKNOWN_INSTRUMENT: instrument=NOPE"
    )


# -------------------------------------------------------------------------- client proposal id


def test_a_client_proposal_id_empty_or_longer_than_36_is_invalid(desk: Market) -> None:
    refused(desk, proposal("A1", SELL, "A3", 100_000, 8000, ""), "INVALID_PROPOSAL_ID: length=0 max=36")
    refused(desk, proposal("A1", SELL, "A3", 100_000, 8000, "x" * 37), "INVALID_PROPOSAL_ID: length=37 max=36")
    made(desk, proposal("A1", SELL, "A3", 100_000, 8000, "x" * 36), 1)


def test_a_client_proposal_id_is_unique_per_account_and_day(desk: Market) -> None:
    first = proposal("A1", SELL, "A3", 100_000, 8000, "p1")
    made(desk, first, 1)
    withdraw(desk, "A1", 1)

    # Closed or open, the id stays used by A1 today; another account may use the same id.
    refused(desk, proposal("A1", SELL, "A4", 100_000, 8000, "p1"), "DUPLICATE_PROPOSAL_ID: client_proposal_id=p1")
    made(desk, proposal("A2", SELL, "A3", 100_000, 8000, "p1"), 2)
    # The next trading day A1 may use it again; transfer ids go on counting.
    desk.session(Session.CLOSED)
    desk.send(EndOfDay(trading_day=DAY1))
    desk.send(StartOfDay(trading_day=DAY2))
    for session in (Session.MORNING, Session.LUNCH_BREAK, Session.AFTERNOON):
        desk.session(session)
    made(desk, first, 3)


def test_an_account_makes_at_most_the_days_number_of_proposals(book_kind: str) -> None:
    # Whatever becomes of them: each proposal is kept until the end of day, so a proposer that
    # proposes and cancels in a loop is stopped at the cap, until the next trading day.
    config = market_config(transfer=TransferRules(max_proposals_per_day=2))
    market = transfer_market(book_kind, config)
    made(market, proposal("A1", SELL, "A3", 100_000, 8000, "p1"), 1)
    withdraw(market, "A1", 1)
    made(market, proposal("A1", SELL, "A3", 100_000, 8000, "p2"), 2)

    refused(market, proposal("A1", SELL, "A3", 100_000, 8000, "p3"), "TOO_MANY_PROPOSALS: account=A1 max=2")
    made(market, proposal("A2", SELL, "A3", 100_000, 8000, "p3"), 3)  # per account
    next_day_afternoon(market)
    made(market, proposal("A1", SELL, "A3", 100_000, 8000, "p3"), 4)


# ---------------------------------------------------------------------------- quantity and price


def test_a_quantity_below_100000_t_is_too_small(desk: Market) -> None:
    refused(desk, proposal("A1", SELL, "A3", 99_999, 8000, "p1"), "TRANSFER_TOO_SMALL: quantity=99999 min=100000")
    made(desk, proposal("A1", SELL, "A3", 100_000, 8000, "p1"), 1)


def test_a_quantity_off_the_lot_is_refused(desk: Market) -> None:
    refused(desk, proposal("A1", SELL, "A3", 100_005, 7775, "p1", T5), "INVALID_LOT: quantity=100005 lot=10")
    made(desk, proposal("A1", SELL, "A3", 100_010, 7775, "p1", T5), 1)


def test_a_price_of_zero_or_less_is_invalid(desk: Market) -> None:
    refused(desk, proposal("A1", SELL, "A3", 100_000, 0, "p1"), "INVALID_PRICE: price=0")
    refused(desk, proposal("A1", SELL, "A3", 100_000, -5, "p1", T5), "INVALID_PRICE: price=-5")


def test_a_price_off_the_tick_is_refused(desk: Market) -> None:
    refused(desk, proposal("A1", SELL, "A3", 100_000, 7777, "p1", T5), "INVALID_TICK: price=7777 tick=5")
    # From 500,000 t the price is free, but still on the tick.
    refused(desk, proposal("A1", SELL, "A3", 500_000, 20_001, "p1", T5), "INVALID_TICK: price=20001 tick=5")


def test_the_band_is_30_percent_of_the_reference_price_rounded_inward_to_the_tick(desk: Market) -> None:
    lower, upper = T5_BAND
    outside = f"TRANSFER_PRICE_OUT_OF_BAND: price={{}} lower={lower} upper={upper}"

    refused(desk, proposal("A1", SELL, "A3", 100_000, lower - 5, "p1", T5), outside.format(lower - 5))
    refused(desk, proposal("A1", SELL, "A3", 100_000, upper + 5, "p1", T5), outside.format(upper + 5))
    made(desk, proposal("A1", SELL, "A3", 100_000, lower, "p1", T5), 1)
    made(desk, proposal("A1", SELL, "A3", 100_000, upper, "p2", T5), 2)
    shea_lower, shea_upper = SHEA_BAND
    shea_outside = f"TRANSFER_PRICE_OUT_OF_BAND: price={{}} lower={shea_lower} upper={shea_upper}"
    refused(desk, proposal("A2", SELL, "A3", 100_000, shea_lower - 1, "p1"), shea_outside.format(shea_lower - 1))
    refused(desk, proposal("A2", SELL, "A3", 100_000, shea_upper + 1, "p1"), shea_outside.format(shea_upper + 1))
    made(desk, proposal("A2", SELL, "A3", 100_000, shea_lower, "p1"), 3)
    made(desk, proposal("A2", SELL, "A3", 100_000, shea_upper, "p2"), 4)
    assert (lower, upper) == (5445, 10105)  # 54.425 rounds up, 101.075 down: never outside ±30%
    assert desk.exchange.transfers.band(desk.exchange.config.instruments[2]) == T5_BAND


def test_from_500000_t_the_price_is_free(desk: Market) -> None:
    lower, upper = T5_BAND

    # The most below 500,000 t on T5's 10 t lot is still held to the band ...
    refused(
        desk,
        proposal("A1", SELL, "A3", 499_990, upper + 5, "p1", T5),
        f"TRANSFER_PRICE_OUT_OF_BAND: price={upper + 5} lower={lower} upper={upper}",
    )
    # ... 500,000 t is not, above or below it.
    made(desk, proposal("A1", SELL, "A3", 500_000, upper + 5, "p1", T5), 1)
    made(desk, proposal("A2", SELL, "A4", 500_000, 5, "p1", T5), 2)


def test_the_checks_run_in_the_documented_order(book_kind: str) -> None:
    """engine/transfer/mechanism.py's docstring: each fix of one field (or of the market) reveals the next check."""
    config = market_config(
        transfer=TransferRules(sessions=["morning", "afternoon"]),
        risk=RiskLimits(position_limit_t={"covered_entity": 0, "institution": 10**6, "individual": 10**6}),
    )
    market = transfer_market(book_kind, config, session=Session.MORNING)
    made(market, proposal("A1", SELL, "A2", 100_000, 8000, "dup"), 1)
    market.send(HaltInstrument(instrument=SHEA, reason="drill"))
    market.session(Session.LUNCH_BREAK)
    steps: list[tuple[dict[str, object] | Command, str]] = [
        ({"account": "NOBODY"}, "TRANSFER_ACCOUNT_NOT_ELIGIBLE"),
        ({"account": "STAFF"}, "TRANSFER_PARTY_PROHIBITED"),
        ({"account": "A1"}, "INVALID_PROPOSAL_ID"),
        ({"client_proposal_id": "dup"}, "DUPLICATE_PROPOSAL_ID"),
        ({"client_proposal_id": "p1"}, "TRANSFER_SAME_ACCOUNT"),
        ({"counterparty": "RESERVE"}, "TRANSFER_ACCOUNT_NOT_ELIGIBLE"),
        ({"counterparty": "STAFF"}, "TRANSFER_PARTY_PROHIBITED"),
        ({"counterparty": "A3"}, "UNKNOWN_INSTRUMENT"),
        ({"instrument": SHEA}, "TRANSFER_OUTSIDE_HOURS"),
        (SetSession(session=Session.AFTERNOON), "SessionChanged"),
        (HaltMarket(reason="drill"), "MarketStatusChanged"),
        ({}, "MARKET_HALTED"),
        (ResumeMarket(), "MarketStatusChanged"),
        ({}, "INSTRUMENT_HALTED"),
        ({"instrument": T5}, "TRANSFER_TOO_SMALL"),
        ({"quantity": 100_005}, "INVALID_LOT"),
        ({"quantity": 100_000}, "INVALID_PRICE"),
        ({"price": 7777}, "INVALID_TICK"),
        ({"price": 10_110}, "TRANSFER_PRICE_OUT_OF_BAND"),
        ({"price": 10_105}, "TRANSFER_POSITION_LIMIT"),  # A1's limit: its own allocation, all held
        ({"account": "A3", "counterparty": "A1", "quantity": 200_000}, "INSUFFICIENT_FUNDS"),
        ({"quantity": 100_000}, "TransferProposed"),
    ]
    command = ProposeTransfer(
        account="",
        client_proposal_id="",
        side=BUY,
        counterparty="A1",
        instrument="NOPE",
        price=0,
        quantity=1,
    )

    outcomes = []
    for change, _ in steps:
        if isinstance(change, dict):
            command = msgspec.structs.replace(command, **change)
        first = market.send(command if isinstance(change, dict) else change)[0]
        outcomes.append(first.code.name if isinstance(first, RequestRejected) else type(first).__name__)

    assert outcomes == [expected for _, expected in steps]
    assert_balanced(market)


# ---------------------------------------------------------------------------------- the hours


def test_only_the_afternoon_session_takes_transfers(book_kind: str) -> None:
    market = transfer_market(book_kind, session=Session.CLOSED)
    command = proposal("A1", SELL, "A3", 100_000, 8000, "p1")

    def outside(session: str) -> str:
        return f"TRANSFER_OUTSIDE_HOURS: session={session} hours=AFTERNOON"

    refused(market, command, outside("CLOSED"))  # the day is open, the morning not yet
    market.session(Session.MORNING)
    refused(market, command, outside("MORNING"))
    market.session(Session.LUNCH_BREAK)
    refused(market, command, outside("LUNCH_BREAK"))
    market.session(Session.AFTERNOON)
    made(market, command, 1)
    market.session(Session.CLOSED)
    refused(market, proposal("A1", SELL, "A3", 100_000, 8000, "p2"), outside("CLOSED"))
    market.send(EndOfDay(trading_day=DAY1))
    refused(market, proposal("A1", SELL, "A3", 100_000, 8000, "p2"), outside("CLOSED"))  # no day open
    assert_balanced(market)


def test_the_transfer_sessions_are_configured(book_kind: str) -> None:
    config = market_config(transfer=TransferRules(sessions=["morning", "afternoon"]))
    market = transfer_market(book_kind, config, session=Session.MORNING)
    command = proposal("A1", SELL, "A3", 100_000, 8000, "p1")

    made(market, command, 1)
    market.session(Session.LUNCH_BREAK)
    refused(
        market,
        proposal("A1", SELL, "A3", 100_000, 8000, "p2"),
        "TRANSFER_OUTSIDE_HOURS: session=LUNCH_BREAK hours=MORNING,AFTERNOON",
    )
    refused(
        market,
        AcceptTransfer(account="A3", transfer_id=1),
        "TRANSFER_OUTSIDE_HOURS: transfer_id=1 session=LUNCH_BREAK hours=MORNING,AFTERNOON",
    )
    market.session(Session.AFTERNOON)  # the morning's proposal is still open

    assert accept(market, "A3", 1) == accepted_and_executed(market.ts, 1, command)
    assert_balanced(market)


def test_proposals_expire_when_the_last_transfer_session_of_the_day_ends(book_kind: str) -> None:
    # Morning only: a proposal the morning left open could not be accepted before the end of day,
    # so it expires at the lunch break, not hours later at the close.
    config = market_config(transfer=TransferRules(sessions=["morning"]))
    market = transfer_market(book_kind, config, session=Session.MORNING)
    command = proposal("A1", SELL, "A3", 100_000, 8000, "p1")
    made(market, command, 1)

    events = market.session(Session.LUNCH_BREAK)

    assert events == [
        SessionChanged(ts_event=market.ts, trading_day=DAY1, session=Session.LUNCH_BREAK),
        expired(market.ts, 1, command),
    ]
    assert market.holding("A1") == (SELLER_T, 0, 0)


def test_no_transfer_before_the_first_trading_day(book_kind: str) -> None:
    market = Market(Exchange(market_config(), book=book_kind))

    refused(
        market,
        proposal("A1", SELL, "A3", 100_000, 8000, "p1"),
        "TRANSFER_OUTSIDE_HOURS: session=CLOSED hours=AFTERNOON",
    )


# ---------------------------------------------------------------------------------------- halts


def test_a_market_halt_refuses_proposals_and_acceptances_not_rejects_or_cancels(desk: Market) -> None:
    first = proposal("A1", SELL, "A3", 100_000, 8000, "p1")
    second = proposal("A2", SELL, "A4", 100_000, 8000, "p1")
    third = proposal("A1", SELL, "A4", 100_000, 8000, "p3")
    made(desk, first, 1)
    made(desk, second, 2)
    made(desk, third, 3)

    halted = desk.send(HaltMarket(reason="drill"))
    refused(desk, proposal("A1", SELL, "A3", 100_000, 8000, "p2"), "MARKET_HALTED")
    refused(desk, AcceptTransfer(account="A3", transfer_id=1), "MARKET_HALTED: transfer_id=1")
    declined = decline(desk, "A4", 2)
    withdrawn = withdraw(desk, "A1", 3)
    resumed = desk.send(ResumeMarket())
    executed = accept(desk, "A3", 1)

    ts = desk.ts
    assert halted == [MarketStatusChanged(ts_event=ts - 6, halted=True, reason="drill")]
    assert declined == [rejected_by_counterparty(ts - 3, 2, second)]
    assert withdrawn == [cancelled_by_proposer(ts - 2, 3, third)]
    assert resumed == [MarketStatusChanged(ts_event=ts - 1, halted=False, reason="")]
    assert executed == accepted_and_executed(ts, 1, first)


def test_an_instrument_halt_refuses_its_proposals_and_acceptances_only(desk: Market) -> None:
    shea = proposal("A1", SELL, "A3", 100_000, 8000, "p1")
    other = proposal("A1", SELL, "A4", 100_000, 8000, "p2")
    made(desk, shea, 1)
    made(desk, other, 2)

    halted = desk.send(HaltInstrument(instrument=SHEA, reason="drill"))
    refused(desk, proposal("A2", SELL, "A3", 100_000, 8000, "p1"), f"INSTRUMENT_HALTED: instrument={SHEA}")
    refused(desk, AcceptTransfer(account="A3", transfer_id=1), f"INSTRUMENT_HALTED: transfer_id=1 instrument={SHEA}")
    t5 = proposal("A2", SELL, "A3", 100_000, 7775, "p1", T5)
    made(desk, t5, 3)
    t5_done = accept(desk, "A3", 3)
    withdrawn = withdraw(desk, "A1", 2)
    resumed = desk.send(ResumeInstrument(instrument=SHEA))
    executed = accept(desk, "A3", 1)

    ts = desk.ts
    assert halted == [InstrumentStatusChanged(ts_event=ts - 7, instrument=SHEA, halted=True, reason="drill")]
    assert t5_done == accepted_and_executed(ts - 3, 3, t5)
    assert withdrawn == [cancelled_by_proposer(ts - 2, 2, other)]
    assert resumed == [InstrumentStatusChanged(ts_event=ts - 1, instrument=SHEA, halted=False, reason="")]
    assert executed == accepted_and_executed(ts, 1, shea)


# ---------------------------------------------------------------------------- who may act on it


def test_a_non_party_is_told_the_transfer_is_unknown(desk: Market) -> None:
    made(desk, proposal("A1", SELL, "A3", 100_000, 8000, "p1"), 1)

    for command in (
        AcceptTransfer(account="A2", transfer_id=1),
        RejectTransfer(account="A4", transfer_id=1),
        CancelTransfer(account="A2", transfer_id=1),
    ):
        refused(desk, command, "UNKNOWN_TRANSFER: transfer_id=1")
    # Exactly as for a transfer that does not exist: nothing tells a third party it does.
    refused(desk, AcceptTransfer(account="A3", transfer_id=2), "UNKNOWN_TRANSFER: transfer_id=2")
    refused(desk, CancelTransfer(account="A1", transfer_id=0), "UNKNOWN_TRANSFER: transfer_id=0")


def test_only_the_counterparty_accepts_or_rejects(desk: Market) -> None:
    made(desk, proposal("A1", SELL, "A3", 100_000, 8000, "p1"), 1)

    refused(desk, AcceptTransfer(account="A1", transfer_id=1), "NOT_TRANSFER_COUNTERPARTY: transfer_id=1")
    refused(desk, RejectTransfer(account="A1", transfer_id=1), "NOT_TRANSFER_COUNTERPARTY: transfer_id=1")


def test_only_the_proposer_cancels(desk: Market) -> None:
    made(desk, proposal("A1", SELL, "A3", 100_000, 8000, "p1"), 1)

    refused(desk, CancelTransfer(account="A3", transfer_id=1), "NOT_TRANSFER_PROPOSER: transfer_id=1")


def test_a_closed_proposal_is_no_longer_open(desk: Market) -> None:
    made(desk, proposal("A1", SELL, "A3", 100_000, 8000, "p1"), 1)
    made(desk, proposal("A1", SELL, "A3", 100_000, 8000, "p2"), 2)
    made(desk, proposal("A2", BUY, "A1", 100_000, 8000, "p1"), 3)
    last = proposal("A2", SELL, "A4", 100_000, 8000, "p2")
    made(desk, last, 4)
    accept(desk, "A3", 1)
    decline(desk, "A3", 2)
    withdraw(desk, "A2", 3)

    closing = desk.session(Session.CLOSED)

    assert closing[1:] == [expired(desk.ts, 4, last)]
    parties = {1: ("A1", "A3"), 2: ("A1", "A3"), 3: ("A2", "A1"), 4: ("A2", "A4")}
    statuses = {1: "EXECUTED", 2: "REJECTED", 3: "CANCELLED", 4: "EXPIRED"}
    for transfer_id, (proposer, counterparty) in parties.items():
        text = f"TRANSFER_NOT_OPEN: transfer_id={transfer_id} status={statuses[transfer_id]}"
        refused(desk, AcceptTransfer(account=counterparty, transfer_id=transfer_id), text)
        refused(desk, RejectTransfer(account=counterparty, transfer_id=transfer_id), text)
        refused(desk, CancelTransfer(account=proposer, transfer_id=transfer_id), text)
    assert [(t.transfer_id, t.status.name) for t in ExchangeView(desk.exchange).transfers()] == list(statuses.items())
