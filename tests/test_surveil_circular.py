"""Circular trading: A → B → C (→ ...) → A of about the same quantity (RULES.md "Surveillance")."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from surveillance.alerts import Alert
from surveillance.rules import circular
from surveillance.settings import CircularParams, RuleParams, SurveillanceSettings
from tests.surveil_rows import DAY, Market, at

CODE = "SHEA2025"
OTHER = "SHEA2026"


def settings(**fields: Any) -> SurveillanceSettings:
    return SurveillanceSettings(rules=RuleParams(circular=CircularParams(**fields)))


def detect(m: Market, config: SurveillanceSettings | None = None) -> list[Alert]:
    return circular.detect(m.con, DAY, config or SurveillanceSettings())


def market(accounts: int = 6) -> Market:
    """Accounts A, B, C, ... each its own member, and honest H (buys) and S (sells)."""
    m = Market()
    for i in range(accounts):
        m.account(chr(ord("A") + i), f"M{i}")
    m.account("H", "MH")
    m.account("S", "MS")
    return m


def ring(m: Market, route: str, quantities: list[int], times: list[float], *, instrument: str = "") -> list[int]:
    """Deliveries route[0] → route[1] → ... → route[0] by listing trades: their ids."""
    hops = list(zip(route, route[1:] + route[0], strict=True))
    return [
        m.trade(buyer, seller, 8_000, quantity, at(ts), instrument=instrument)
        for (seller, buyer), quantity, ts in zip(hops, quantities, times, strict=True)
    ]


def test_three_account_cycle_is_alerted_with_every_leg() -> None:
    m = market()
    legs = ring(m, "ABC", [1_000, 1_020, 990], [10, 60, 120])
    m.trade("H", "A", 8_000, 1_000, at(130))  # A also sells to an honest buyer
    m.trade("B", "S", 8_000, 1_000, at(140))  # and B buys from an honest seller

    [alert] = detect(m)

    assert alert.rule == "circular"
    assert alert.subjects == ["A", "B", "C"]
    assert alert.evidence.trades == legs
    assert alert.evidence.accounts == ["A", "B", "C"]
    assert alert.figures == {
        "accounts": 3,
        "instances": 1,
        "legs": 3,
        "quantity_t": 1_000,
        "quantity_deviation_bp": 200,
        "span_s": 110,
    }
    # mean of 1 - 200/500 and 1 - 110/19,800 (window 0: the trading day)
    assert alert.score_bp == (6_000 + 10_000 * (19_800 - 110) // 19_800) // 2


def test_cycle_through_an_agreement_transfer() -> None:
    m = market()
    first = m.trade("B", "A", 8_000, 500, at(10))
    m.transfer("C", "B", 8_000, 500, at(20), transfer_id=31)
    last = m.trade("A", "C", 8_000, 500, at(30))

    [alert] = detect(m)

    assert alert.evidence.trades == [first, last]
    assert alert.evidence.transfers == [31]


def test_repeated_cycle_is_one_alert_from_whichever_account_it_starts() -> None:
    m = market()
    legs = ring(m, "BCA", [100, 100, 100], [10, 20, 30]) + ring(m, "ABC", [100, 100, 100], [40, 50, 60])

    [alert] = detect(m)

    assert alert.subjects == ["A", "B", "C"]
    assert alert.evidence.trades == sorted(legs)
    assert alert.figures["instances"] >= 2


def test_opposite_directions_are_two_cycles() -> None:
    m = market()
    ring(m, "ABC", [100, 100, 100], [10, 20, 30])
    ring(m, "ACB", [100, 100, 100], [40, 50, 60])

    found = detect(m)

    assert [a.subjects for a in found] == [["A", "B", "C"], ["A", "B", "C"]]
    assert found[0].summary != found[1].summary


def test_two_accounts_are_a_round_trip_not_a_cycle() -> None:
    m = market()
    ring(m, "AB", [100, 100], [10, 20])

    assert detect(m) == []


def test_quantity_tolerance_is_inclusive_from_the_first_leg() -> None:
    inside, outside = market(), market()
    ring(inside, "ABC", [1_000, 950, 1_050], [10, 20, 30])
    ring(outside, "ABC", [1_000, 1_000, 1_051], [10, 20, 30])

    assert len(detect(inside)) == 1
    assert detect(outside) == []


def test_window_is_inclusive() -> None:
    inside, outside = market(), market()
    ring(inside, "ABC", [100, 100, 100], [0, 300, 600])
    ring(outside, "ABC", [100, 100, 100], [0, 300, 601])
    config = settings(window_s=600)

    [alert] = detect(inside, config)
    assert alert.score_bp == 5_000  # exact quantities (1), the whole window used (0)
    assert detect(outside, config) == []
    assert len(detect(outside)) == 1  # window 0: the whole trading day


def test_legs_out_of_time_order_are_no_cycle() -> None:
    # A → B → C → D → A, but C → D before B → C: no rotation of it runs forward in time
    # (a ring of three always does: any three times are in order from one of its legs).
    m = market()
    m.trade("B", "A", 8_000, 100, at(10))  # A → B
    m.trade("D", "C", 8_000, 100, at(20))  # C → D
    m.trade("C", "B", 8_000, 100, at(30))  # B → C
    m.trade("A", "D", 8_000, 100, at(40))  # D → A

    assert detect(m) == []


def test_account_bounds() -> None:
    m = market()
    ring(m, "ABCD", [100, 100, 100, 100], [10, 20, 30, 40])

    assert len(detect(m, settings(min_accounts=3, max_accounts=4))) == 1
    assert detect(m, settings(min_accounts=3, max_accounts=3)) == []
    assert detect(m, settings(min_accounts=5, max_accounts=6)) == []


def test_a_shorter_cycle_inside_a_longer_one_is_its_own_alert() -> None:
    m = market()
    ring(m, "ABCD", [100, 100, 100, 100], [10, 20, 30, 40])  # A → B → C → D → A
    m.trade("A", "C", 8_000, 100, at(35))  # and C → A: A → B → C → A

    found = detect(m)

    assert sorted(a.figures["accounts"] for a in found) == [3, 4]


def test_per_instrument_overrides_apply_to_their_instrument_only() -> None:
    m = market()
    m.store.insert("instruments", [(OTHER, "allowance", 1, 1, 8_000)])
    for code in (CODE, OTHER):
        ring(m, "ABC", [1_000, 1_040, 1_000], [10, 20, 30], instrument=code)
    config = SurveillanceSettings(instruments={OTHER: RuleParams(circular=CircularParams(quantity_tolerance_bp=300))})

    assert [a.instrument for a in detect(m, config)] == [CODE]
    off = SurveillanceSettings(instruments={CODE: RuleParams(circular=CircularParams(enabled=False))})
    assert [a.instrument for a in detect(m, off)] == [OTHER]
    assert detect(m, settings(enabled=False)) == []


def test_output_is_deterministic() -> None:
    def build() -> Market:
        m = market()
        ring(m, "ABC", [100, 100, 100], [10, 20, 30])
        ring(m, "DEF", [200, 200, 200], [15, 25, 35])
        ring(m, "ABCDEF", [300] * 6, [40, 50, 60, 70, 80, 90])
        return m

    first = detect(build())

    assert [a.subjects for a in first] == [["A", "B", "C"], ["A", "B", "C", "D", "E", "F"], ["D", "E", "F"]]
    assert first == detect(build())


@given(
    k=st.integers(3, 6),
    quantity=st.integers(20, 5_000),
    deviations_bp=st.lists(st.integers(-500, 500), min_size=6, max_size=6),
    gaps=st.lists(st.floats(0, 600), min_size=6, max_size=6),
    transfers=st.lists(st.booleans(), min_size=6, max_size=6),
    noise=st.lists(st.tuples(st.integers(0, 5), st.integers(1, 5_000), st.booleans()), max_size=10),
)
def test_a_random_cycle_is_always_found(
    k: int,
    quantity: int,
    deviations_bp: list[int],
    gaps: list[float],
    transfers: list[bool],
    noise: list[tuple[int, int, bool]],
) -> None:
    # Arrange: k accounts pass about ``quantity`` round, amid one-sided honest flow with them.
    m = market()
    route = "ABCDEF"[:k]
    hops = list(zip(route, route[1:] + route[0], strict=True))
    trades, transfer_ids, ts = [], [], 0.0
    for i, (seller, buyer) in enumerate(hops):
        ts += gaps[i]
        off = quantity * abs(deviations_bp[i]) // 10_000 if i else 0  # rounded towards the first leg
        leg_t = quantity + off if deviations_bp[i] > 0 else quantity - off
        if transfers[i]:
            transfer_ids.append(100 + i)
            m.transfer(buyer, seller, 8_000, leg_t, at(ts), transfer_id=100 + i)
        else:
            trades.append(m.trade(buyer, seller, 8_000, leg_t, at(ts)))
    for j, (who, size, sells) in enumerate(noise):
        account = "ABCDEF"[who]
        if sells:
            m.trade("H", account, 8_000, size, at(j))
        else:
            m.trade(account, "S", 8_000, size, at(j))

    # Act
    found = [a for a in detect(m) if a.subjects == sorted(route)]

    # Assert
    assert found, f"cycle {route} not found"
    assert any(set(trades) <= set(a.evidence.trades) and transfer_ids == a.evidence.transfers for a in found)
