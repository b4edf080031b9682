"""CancelAllOrders: a member's mass cancel, and the gateway's cancel-on-disconnect."""

from __future__ import annotations

import itertools

import pytest

import engine.listing.fast.listing
from engine.config import ExchangeConfig
from engine.listing.fast.layout import P_ID_BASE, P_IDS_PER_SLOT, P_NEXT_ORDER
from engine.messages import (
    AllOrdersCancelled,
    CancelAllOrders,
    CancelOrder,
    CancelReason,
    OrderAccepted,
    OrderCancelled,
    Reject,
    RequestRejected,
)
from tests.conftest import CASH, HOLDING, Market, assert_balanced, funded_market

pytestmark = pytest.mark.per_book


def _rest(market: Market) -> list[int]:
    ids = []
    for events in (
        market.buy("A1", 100, 7900),
        market.sell("A1", 200, 8100),
        market.buy("A1", 50, 7800, instrument="CCER"),
        market.buy("A2", 100, 7900),
    ):
        (accepted,) = [e for e in events if isinstance(e, OrderAccepted)]
        ids.append(accepted.order_id)
    return ids


def test_mass_cancel_cancels_every_open_order_of_the_account_and_releases_the_freezes(market: Market) -> None:
    a1_buy, a1_sell, a1_ccer, a2_buy = _rest(market)

    events = market.send(CancelAllOrders(account="A1"))

    cancelled = [e for e in events if isinstance(e, OrderCancelled)]
    assert [e.order_id for e in cancelled] == [a1_buy, a1_sell, a1_ccer]  # per instrument in config order, oldest first
    assert all(e.reason is CancelReason.USER for e in cancelled)
    assert events[-1] == AllOrdersCancelled(
        ts_event=market.ts, account="A1", instrument="", cancelled=3, reason=CancelReason.USER
    )
    assert market.cash("A1") == (CASH, 0)
    assert market.holding("A1")[:2] == (HOLDING, 0)
    assert market.exchange.listing.find_order(a2_buy) is not None  # another account's order stays
    assert_balanced(market)


def test_mass_cancel_of_one_instrument_leaves_the_others(market: Market) -> None:
    _a1_buy, _a1_sell, a1_ccer, _a2 = _rest(market)

    events = market.send(CancelAllOrders(account="A1", instrument="SHEA2025"))

    assert [e.order_id for e in events if isinstance(e, OrderCancelled)] != []
    assert market.exchange.listing.find_order(a1_ccer) is not None
    assert events[-1].cancelled == 2  # type: ignore[attr-defined]


def test_cancel_on_disconnect_has_its_own_reason(market: Market) -> None:
    _rest(market)

    events = market.send(CancelAllOrders(account="A2", on_disconnect=True))

    assert [e.reason for e in events if isinstance(e, OrderCancelled)] == [CancelReason.DISCONNECT]
    assert events[-1].reason is CancelReason.DISCONNECT  # type: ignore[attr-defined]


def test_mass_cancel_with_nothing_open_reports_zero(market: Market) -> None:
    events = market.send(CancelAllOrders(account="A3"))

    assert events == [
        AllOrdersCancelled(ts_event=market.ts, account="A3", instrument="", cancelled=0, reason=CancelReason.USER)
    ]


def test_mass_cancel_of_unknown_account_or_instrument_is_rejected(market: Market) -> None:
    before = market.exchange.state_hash()

    (unknown_account,) = market.send(CancelAllOrders(account="NOPE"))
    (unknown_instrument,) = market.send(CancelAllOrders(account="A1", instrument="NOPE"))

    assert isinstance(unknown_account, RequestRejected) and unknown_account.code is Reject.UNKNOWN_ACCOUNT
    assert isinstance(unknown_instrument, RequestRejected) and unknown_instrument.code is Reject.UNKNOWN_INSTRUMENT
    assert market.exchange.state_hash() == before


@pytest.mark.not_per_book
@pytest.mark.parametrize("churn", [0, 100], ids=["few_issued", "more_issued_than_slots"])
def test_mass_cancel_after_the_order_slots_grew_cancels_per_instrument_oldest_first(
    config: ExchangeConfig, monkeypatch: pytest.MonkeyPatch, churn: int
) -> None:
    """The fast book starting with 8 order slots: they (and the mass cancel's scratch) double as
    orders arrive; the mass cancel, interleaved across instruments, matches the reference's events.
    With more orders issued today than slots, the fast book walks the slots and sorts by id."""
    monkeypatch.setattr(engine.listing.fast.listing, "CAPACITY", 8)
    markets = [funded_market(config, "reference"), funded_market(config, "fast")]
    assert markets[1].exchange.listing.orders.shape[0] == 8
    markets[1].exchange.listing.params[P_IDS_PER_SLOT] = 1  # the slots walked once there are more ids (default 8x)
    outcomes = []
    for market in markets:
        for n in range(30):  # A1's orders alternate between instruments, A2's sit in between
            if n == 20:  # some of A2's go, and the slots they free take A1's later orders
                for order_id in (2, 4, 6):
                    market.send(CancelOrder(account="A2", order_id=order_id))
                for _ in range(churn):  # orders placed and cancelled: ids issued, no slot kept
                    (placed,) = [e for e in market.buy("A2", 10, 7250) if isinstance(e, OrderAccepted)]
                    market.send(CancelOrder(account="A2", order_id=placed.order_id))
            market.buy("A1", 10, 7800 - 5 * n, instrument=("SHEA2025", "CCER", "T5")[n % 3])
            market.buy("A2", 10, 7700 - n)
        outcomes.append(market.send(CancelAllOrders(account="A1")))
        market.exchange.validate_internal_state()
        assert_balanced(market)

    reference, fast = outcomes
    assert fast == reference
    listing = markets[1].exchange.listing
    assert listing.orders.shape[0] >= 64
    issued = int(listing.params[P_NEXT_ORDER] - listing.params[P_ID_BASE])
    assert (issued > listing.orders.shape[0]) is bool(churn)  # the slots walked, not the id index
    cancelled = [e for e in fast if isinstance(e, OrderCancelled)]
    by_instrument = [e.instrument for e in cancelled]
    assert by_instrument == ["SHEA2025"] * 10 + ["CCER"] * 10 + ["T5"] * 10  # the config's order
    assert all(a.order_id < b.order_id for a, b in itertools.pairwise(cancelled[:10]))  # oldest first
    assert fast[-1] == AllOrdersCancelled(
        ts_event=markets[1].ts, account="A1", instrument="", cancelled=30, reason=CancelReason.USER
    )
