"""Spoofing and layering, and the order-to-trade ratio (RULES.md "Surveillance"); and the invariant of
the three families of manipulation by trading with oneself: honest one-sided flow raises none of them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surveillance.alerts import Alert
from surveillance.rules import circular, spoofing, wash
from surveillance.settings import RuleParams, SpoofingParams, SurveillanceSettings
from tests.surveil_rows import DAY, Market, at

CODE = "SHEA2025"
OTHER = "SHEA2026"
BID, ASK = 7_999, 8_001  # the book every order below meets


def settings(**fields: Any) -> SurveillanceSettings:
    return SurveillanceSettings(rules=RuleParams(spoofing=SpoofingParams(**fields)))


def alerts(m: Market, rule: str, config: SurveillanceSettings | None = None) -> list[Alert]:
    return [a for a in spoofing.detect(m.con, DAY, config or SurveillanceSettings()) if a.rule == rule]


class Spoof:
    """S's day: small buys (median 10 t), ``layers`` large sells resting away from the ask, a genuine
    buy that fills against H, then the large sells cancelled."""

    def __init__(
        self,
        *,
        small_orders: int = 5,
        layers: int = 3,
        large_t: int = 100,
        large_price: int = ASK + 1,
        cancel_after_s: float = 2,
        instrument: str = CODE,
        m: Market | None = None,
    ) -> None:
        if m is None:
            m = Market()
            m.account("S", "M1")
            m.account("H", "M2")
        self.m = m
        for i in range(small_orders):
            m.order("S", "BUY", 7_990, 10, at(i), best_bid=BID, best_ask=ASK, instrument=instrument)
        self.large = [
            m.order("S", "SELL", large_price + i, large_t, at(10), best_bid=BID, best_ask=ASK, instrument=instrument)
            for i in range(layers)
        ]
        self.genuine = m.order("S", "BUY", ASK, 10, at(19), best_bid=BID, best_ask=ASK, instrument=instrument)
        self.trade = m.trade("S", "H", ASK, 10, at(20), buy_order=self.genuine, instrument=instrument)
        for order in self.large:
            m.cancel("S", order, large_t, at(20 + cancel_after_s), instrument=instrument)


# ---------------------------------------------------------------------- spoofing.layering


def test_layering_is_alerted_on_the_spoofer_with_its_orders_and_trade() -> None:
    spoof = Spoof()

    [alert] = alerts(spoof.m, "spoofing.layering")

    assert alert.subjects == ["S"]
    assert alert.evidence.orders == sorted([*spoof.large, spoof.genuine])
    assert alert.evidence.trades == [spoof.trade]
    assert alert.evidence.accounts == ["H", "S"]
    assert alert.figures == {
        "median_size_t": 10,
        "large_orders": 3,
        "largest_multiple_bp": 100_000,
        "opposite_trades": 1,
        "ms_to_cancel": 2_000,
    }
    # 10× is the threshold (0); cancelled 2 s into 30 s: 1 - 2/30
    assert alert.score_bp == (0 + 10_000 * 28 // 30) // 2


def test_size_multiple_is_inclusive() -> None:
    assert alerts(Spoof(large_t=99).m, "spoofing.layering") == []
    [alert] = alerts(Spoof(large_t=200).m, "spoofing.layering")
    assert alert.figures["largest_multiple_bp"] == 200_000
    assert alert.score_bp == (5_000 + 10_000 * 28 // 30) // 2


def test_orders_at_the_best_are_not_away() -> None:
    assert alerts(Spoof(large_price=ASK - 2).m, "spoofing.layering") == []  # ASK-2, -1, +0: none away
    assert len(alerts(Spoof(large_price=ASK - 1).m, "spoofing.layering")) == 1  # the third, ASK + 1, is
    assert alerts(Spoof(large_price=ASK).m, "spoofing.layering", settings(away_ticks=3)) == []  # up to +2


def test_away_is_measured_in_ticks_of_the_instrument() -> None:
    m = Market(tick=5)
    m.account("S", "M1")
    m.account("H", "M2")
    spoof = Spoof(m=m, large_price=ASK + 1)  # 8,002 .. 8,004: under one 5-fen tick behind

    assert alerts(spoof.m, "spoofing.layering") == []


def test_buy_side_layers_behind_the_bid() -> None:
    m = Market()
    m.account("S", "M1")
    m.account("H", "M2")
    for i in range(5):
        m.order("S", "SELL", 8_010, 10, at(i), best_bid=BID, best_ask=ASK)
    large = m.order("S", "BUY", BID - 1, 100, at(10), best_bid=BID, best_ask=ASK)
    tid = m.trade("H", "S", BID, 10, at(20))
    m.cancel("S", large, 100, at(21))

    [alert] = alerts(m, "spoofing.layering")

    assert large in alert.evidence.orders and alert.evidence.trades == [tid]


@pytest.mark.parametrize("large_side", ["BUY", "SELL"])
def test_empty_own_side_is_measured_one_tick_beyond_the_opposite_best(large_side: str) -> None:
    def day(ticks_inside: int) -> Market:
        """S's large order ``ticks_inside`` ticks inside the opposite best, its own side empty."""
        m = Market()
        m.account("S", "M1")
        m.account("H", "M2")
        small_side = "SELL" if large_side == "BUY" else "BUY"
        for i in range(5):
            m.order("S", small_side, 8_000, 10, at(i), best_bid=BID, best_ask=ASK)
        if large_side == "BUY":
            large = m.order("S", "BUY", ASK - ticks_inside, 100, at(10), best_ask=ASK)  # no bid at all
            m.trade("H", "S", ASK, 10, at(20))
        else:
            large = m.order("S", "SELL", BID + ticks_inside, 100, at(10), best_bid=BID)  # no ask at all
            m.trade("S", "H", BID, 10, at(20))
        m.cancel("S", large, 100, at(21))
        return m

    assert alerts(day(1), "spoofing.layering") == []  # it would be its side's best itself
    assert len(alerts(day(2), "spoofing.layering")) == 1


def test_cancel_window_is_inclusive() -> None:
    assert len(alerts(Spoof(cancel_after_s=30).m, "spoofing.layering")) == 1
    assert alerts(Spoof(cancel_after_s=31).m, "spoofing.layering") == []
    assert alerts(Spoof(cancel_after_s=30).m, "spoofing.layering", settings(cancel_within_s=29)) == []


def test_min_orders_for_a_median() -> None:
    spoof = Spoof(small_orders=3, layers=1)  # 3 small + 1 large + 1 genuine: 5 orders, median 10 t

    assert alerts(spoof.m, "spoofing.layering", settings(min_orders=6)) == []
    assert len(alerts(spoof.m, "spoofing.layering", settings(min_orders=5))) == 1


def test_a_trade_on_the_same_side_or_after_the_cancel_is_no_layering() -> None:
    m = Market()
    m.account("S", "M1")
    m.account("H", "M2")
    for i in range(5):
        m.order("S", "BUY", 7_990, 10, at(i), best_bid=BID, best_ask=ASK)
    large = m.order("S", "SELL", ASK + 1, 100, at(10), best_bid=BID, best_ask=ASK)
    m.trade("H", "S", ASK, 10, at(12))  # S sells: the same side as its large order
    m.cancel("S", large, 100, at(13))
    m.trade("S", "H", ASK, 10, at(14))  # S buys, but its large order is gone

    assert alerts(m, "spoofing.layering") == []


def test_the_median_is_the_days_own() -> None:
    spoof = Spoof()
    tomorrow = 20261202
    for i in range(6):  # read with today's, these would lift S's median to 100 t
        spoof.m.order("S", "BUY", 7_990, 1_000, at(i, day=tomorrow), day=tomorrow)

    assert len(alerts(spoof.m, "spoofing.layering")) == 1


# ---------------------------------------------------------------------- spoofing.order_to_trade


def churn(m: Market, account: str, orders: int, *, trades: int = 0, amends: int = 0, start: float = 0) -> None:
    """``orders`` entered and cancelled by ``account`` (two messages each), ``amends`` amendments of the
    first, and ``trades`` trades with H (one more entered order each)."""
    ids = [m.order(account, "BUY", 7_900, 10, at(start + i)) for i in range(orders)]
    for _ in range(amends):
        m.amend(account, ids[0], 7_901, 10, at(start + orders))
    for order in ids:
        m.cancel(account, order, 10, at(start + orders + 1))
    for i in range(trades):
        m.trade(account, "H", 8_000, 10, at(start + orders + 2 + i))


def otr_market() -> Market:
    m = Market()
    m.account("O", "M1")
    m.account("H", "M2")
    return m


def test_order_to_trade_ratio_above_the_threshold_is_alerted() -> None:
    m = otr_market()
    churn(m, "O", 15, trades=2, amends=3)  # 15 + 15 + 3 + 2 = 35 messages, 2 trades: 17.5 per trade

    [alert] = alerts(m, "spoofing.order_to_trade")

    assert alert.subjects == ["O"]
    assert alert.figures == {
        "messages": 35,
        "entered": 17,
        "amended": 3,
        "cancelled": 15,
        "trades": 2,
        "order_to_trade_bp": 175_000,
    }
    assert alert.score_bp == 10_000 * (175_000 - 150_000) // 175_000
    assert len(alert.evidence.orders) == 17 and len(alert.evidence.trades) == 2


def test_ratio_exactly_at_the_threshold_is_not_alerted() -> None:
    at_threshold, above = otr_market(), otr_market()
    churn(at_threshold, "O", 14, trades=2, amends=0)  # 14 + 14 + 2 = 30 messages = 15 × 2
    churn(above, "O", 14, trades=2, amends=1)  # 31

    assert alerts(at_threshold, "spoofing.order_to_trade") == []
    assert len(alerts(above, "spoofing.order_to_trade")) == 1


def test_min_messages_is_inclusive() -> None:
    short, enough = otr_market(), otr_market()
    churn(short, "O", 9, amends=1)  # 19 messages, no trade
    churn(enough, "O", 10)  # 20

    assert alerts(short, "spoofing.order_to_trade") == []
    [alert] = alerts(enough, "spoofing.order_to_trade")
    assert alert.figures["trades"] == 0 and alert.evidence.trades == []


def test_rejected_orders_are_not_messages_and_a_mass_cancel_is_one() -> None:
    m = otr_market()
    ids = [m.order("O", "BUY", 7_900, 10, at(i)) for i in range(19)]
    for i in range(5):
        m.reject("O", at(30 + i), name="PRICE_OUTSIDE_BAND", code=1001)
    seq = m.seq = m.seq + 1
    m.store.insert(
        "order_events",
        [(seq, ev, at(40), DAY, "M1", "cancelled", oid, "O", CODE, "", "", "", 0, 10, 0, 0, "", 0, 0, "USER", 0, "")
         for ev, oid in enumerate(ids)],
    )  # fmt: skip

    [alert] = alerts(m, "spoofing.order_to_trade")  # 19 entries + 1 mass cancel: 20, the minimum
    assert alert.figures["messages"] == 20 and alert.figures["cancelled"] == 1
    assert alerts(m, "spoofing.order_to_trade", settings(min_messages=21)) == []


# ---------------------------------------------------------------------- settings, determinism


def two_instrument_day() -> Market:
    m = Market()
    m.account("S", "M1")
    m.account("H", "M2")
    m.account("O", "M3")
    m.store.insert("instruments", [(OTHER, "allowance", 1, 1, 8_000)])
    for code in (CODE, OTHER):
        Spoof(m=m, instrument=code)
    churn(m, "O", 20)
    return m


def test_per_instrument_overrides_apply_to_their_instrument_only() -> None:
    m = two_instrument_day()
    config = SurveillanceSettings(instruments={OTHER: RuleParams(spoofing=SpoofingParams(size_multiple=11))})

    found = spoofing.detect(m.con, DAY, config)

    assert [(a.rule, a.instrument, a.subjects) for a in found] == [
        ("spoofing.layering", CODE, ["S"]),
        ("spoofing.order_to_trade", CODE, ["O"]),
    ]


def test_disabled_family_raises_nothing() -> None:
    m = two_instrument_day()
    off = SurveillanceSettings(instruments={CODE: RuleParams(spoofing=SpoofingParams(enabled=False))})

    assert [(a.rule, a.instrument) for a in spoofing.detect(m.con, DAY, off)] == [("spoofing.layering", OTHER)]
    assert spoofing.detect(m.con, DAY, settings(enabled=False)) == []


def test_output_is_deterministic() -> None:
    once = spoofing.detect(two_instrument_day().con, DAY, SurveillanceSettings())

    assert len(once) == 3
    assert once == spoofing.detect(two_instrument_day().con, DAY, SurveillanceSettings())


# ---------------------------------------------------------------------- honest one-sided flow

HONEST_STEP = st.tuples(
    st.integers(0, 99),  # the buyer, among the buy side's accounts
    st.integers(0, 99),  # the seller
    st.integers(1, 1_000),  # tonnes
    st.integers(-10, 10),  # price, ticks from 80.00
    st.sampled_from(["trade", "transfer", "large order cancelled", "amended order cancelled"]),
)


@given(
    sides=st.lists(st.booleans(), min_size=2, max_size=8),
    accounts_per_member=st.lists(st.integers(1, 3), min_size=8, max_size=8),
    steps=st.lists(HONEST_STEP, min_size=1, max_size=25),
)
def test_honest_one_sided_flow_raises_no_wash_circular_or_spoofing_alert(
    sides: list[bool], accounts_per_member: list[int], steps: list[tuple[int, int, int, int, str]]
) -> None:
    # Arrange: every member (with its accounts and the group they share) buys all day, or sells.
    m = Market()
    side_accounts: dict[bool, list[str]] = {True: [], False: []}
    for member, buys in enumerate([True, False, *sides]):
        for i in range(accounts_per_member[member % 8]):
            account = f"M{member}A{i}"
            m.account(account, f"M{member}", owner_group="BUYERS" if buys and i == 0 else "")
            side_accounts[buys].append(account)
    buyers, sellers = side_accounts[True], side_accounts[False]
    for n, (b, s, tonnes, ticks, extra) in enumerate(steps):
        buyer, seller, price, ts = buyers[b % len(buyers)], sellers[s % len(sellers)], 8_000 + ticks, at(10 * n)
        if extra == "transfer":
            m.transfer(buyer, seller, price, tonnes, ts, transfer_id=n + 1)
        elif extra == "trade":
            m.trade(buyer, seller, price, tonnes, ts)
        else:  # the seller also shows a big sell away from the ask, and cancels it once it has sold
            order = m.order(seller, "SELL", price + 5, tonnes * 50, ts, best_bid=price - 1, best_ask=price + 1)
            if extra.startswith("amended"):
                m.amend(seller, order, price + 6, tonnes * 50, ts)
            m.trade(buyer, seller, price, tonnes, ts + 1)
            m.cancel(seller, order, tonnes * 50, ts + 2)
    config = SurveillanceSettings(rules=RuleParams(spoofing=SpoofingParams(min_orders=1, size_multiple=2)))

    # Act
    found = [
        *wash.detect(m.con, DAY, config),
        *circular.detect(m.con, DAY, config),
        *spoofing.detect(m.con, DAY, config),
    ]

    # Assert
    assert found == []
