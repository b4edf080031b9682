"""CancelAllOrders: a member's mass cancel, and the gateway's cancel-on-disconnect."""

from __future__ import annotations

import pytest

from engine.messages import (
    AllOrdersCancelled,
    CancelAllOrders,
    CancelReason,
    OrderAccepted,
    OrderCancelled,
    Reject,
    RequestRejected,
)
from tests.conftest import CASH, HOLDING, Market, assert_balanced

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
