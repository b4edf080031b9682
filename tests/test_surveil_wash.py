"""Wash trades: same-owner trades and transfers, and round trips between two owners (RULES.md "Surveillance")."""

from __future__ import annotations

from typing import Any

from surveillance.alerts import Alert
from surveillance.rules import wash
from surveillance.settings import RuleParams, SurveillanceSettings, WashParams
from tests.surveil_rows import DAY, Market, at

CODE = "SHEA2025"
OTHER = "SHEA2026"


def settings(**fields: Any) -> SurveillanceSettings:
    return SurveillanceSettings(rules=RuleParams(wash=WashParams(**fields)))


def alerts(m: Market, rule: str, config: SurveillanceSettings | None = None) -> list[Alert]:
    return [a for a in wash.detect(m.con, DAY, config or SurveillanceSettings()) if a.rule == rule]


def market() -> Market:
    """A1, A2: two accounts of member M1; G1 (member M3) and G2 (member M4): one owner group;
    B (M2) and C (M5): independent owners."""
    m = Market()
    m.account("A1", "M1")
    m.account("A2", "M1")
    m.account("B", "M2")
    m.account("G1", "M3", owner_group="GRP")
    m.account("G2", "M4", owner_group="GRP")
    m.account("C", "M5")
    return m


def round_trip(m: Market, *, back_after_s: float = 600, out_t: int = 1_000, back_t: int = 1_000) -> list[int]:
    """B sells ``out_t`` to C, and C sells ``back_t`` back to B ``back_after_s`` later: the trade ids."""
    return [m.trade("C", "B", 8_000, out_t, at(100)), m.trade("B", "C", 8_001, back_t, at(100 + back_after_s))]


# ---------------------------------------------------------------------- wash.same_owner


def test_same_member_trades_and_transfers_make_one_alert_per_pair() -> None:
    m = market()
    first = m.trade("A1", "A2", 8_000, 100, at(10))
    second = m.trade("A2", "A1", 8_000, 50, at(20))
    m.transfer("A1", "A2", 7_900, 30, at(30), transfer_id=77)
    m.trade("B", "A1", 8_000, 100, at(40))  # A1 with another owner: honest

    found = alerts(m, "wash.same_owner")

    assert len(found) == 1
    alert = found[0]
    assert alert.subjects == ["A1", "A2"]
    assert alert.evidence.trades == [first, second]
    assert alert.evidence.transfers == [77]
    assert alert.evidence.accounts == ["A1", "A2"]
    assert alert.figures == {"trades": 2, "transfers": 1, "quantity_t": 180, "same_member": 1, "same_group": 0}
    assert alert.parameters == {"min_quantity_t": 1, "round_trip_window_s": 1_800, "quantity_tolerance_bp": 500}
    assert alert.instrument == CODE and alert.trading_day == DAY


def test_declared_owner_group_across_members_is_one_owner() -> None:
    m = market()
    tid = m.trade("G1", "G2", 8_000, 10, at(10))

    [alert] = alerts(m, "wash.same_owner")

    assert alert.subjects == ["G1", "G2"]
    assert alert.evidence.trades == [tid]
    assert alert.figures["same_group"] == 1 and alert.figures["same_member"] == 0


def test_accounts_without_a_group_are_not_one_owner() -> None:
    m = market()
    m.trade("B", "C", 8_000, 10, at(10))  # both owner_group "": no group in common

    assert alerts(m, "wash.same_owner") == []


def test_min_quantity_is_inclusive_per_trade() -> None:
    m = market()
    m.trade("A1", "A2", 8_000, 99, at(10))
    m.trade("G1", "G2", 8_000, 100, at(20))

    found = alerts(m, "wash.same_owner", settings(min_quantity_t=100))

    assert [a.subjects for a in found] == [["G1", "G2"]]
    assert found[0].evidence.trades == [2]


def test_same_owner_score_grows_with_size_and_repetition() -> None:
    once, twice = market(), market()
    once.trade("A1", "A2", 8_000, 100, at(10))
    twice.trade("A1", "A2", 8_000, 100, at(10))
    twice.trade("A2", "A1", 8_000, 100, at(20))
    config = settings(min_quantity_t=100)

    [single] = alerts(once, "wash.same_owner", config)
    [repeated] = alerts(twice, "wash.same_owner", config)

    assert single.score_bp == 0  # one deal of exactly the minimum: at the threshold
    assert repeated.score_bp == 5_000  # twice the quantity (0.5) and two deals (0.5)


# ---------------------------------------------------------------------- wash.round_trip


def test_round_trip_between_two_owners_is_alerted_with_both_legs() -> None:
    m = market()
    legs = round_trip(m)
    m.trade("C", "A1", 8_000, 1_000, at(200))  # one way only: not part of it

    [alert] = alerts(m, "wash.round_trip")

    assert alert.subjects == ["B", "C"]
    assert alert.evidence.trades == legs
    assert alert.figures["return_ms"] == 600_000
    assert alert.figures["quantity_difference_bp"] == 0
    assert alert.score_bp == (10_000 - 600 * 10_000 // 1_800 + 10_000) // 2


def test_round_trip_window_is_inclusive() -> None:
    inside, outside = market(), market()
    round_trip(inside, back_after_s=1_800)
    round_trip(outside, back_after_s=1_801)

    assert len(alerts(inside, "wash.round_trip")) == 1
    assert alerts(outside, "wash.round_trip") == []


def test_round_trip_quantity_tolerance_is_inclusive() -> None:
    inside, outside = market(), market()
    round_trip(inside, back_t=1_050)  # 5.00% of the first leg
    round_trip(outside, back_t=1_051)  # 5.10%

    [alert] = alerts(inside, "wash.round_trip")
    assert alert.figures["quantity_difference_bp"] == 500
    assert alerts(outside, "wash.round_trip") == []


def test_round_trip_by_transfer_counts_as_a_leg() -> None:
    m = market()
    out = m.trade("C", "B", 8_000, 500, at(10))
    m.transfer("B", "C", 8_000, 500, at(70), transfer_id=9)  # C sells it back by agreement

    [alert] = alerts(m, "wash.round_trip")

    assert alert.evidence.trades == [out] and alert.evidence.transfers == [9]


def test_one_command_sweeping_several_orders_is_one_leg() -> None:
    m = market()
    out = m.trade("C", "B", 8_000, 1_000, at(10))
    seq, ts = m.seq + 1, at(60)
    m.seq = seq
    m.store.insert(
        "trades",
        [(seq, ev, ts, DAY, 100 + ev, CODE, 8_000, 500, "SELL", 900 + ev, 950, "B", "C", "M2", "M5", 0, 0)
         for ev in (1, 2)],
    )  # fmt: skip

    [alert] = alerts(m, "wash.round_trip")

    assert alert.evidence.trades == [out, 101, 102]
    assert alert.figures["round_trip_quantity_t"] == 2_000


def test_same_owner_pairs_are_not_round_trips() -> None:
    m = market()
    m.trade("A2", "A1", 8_000, 100, at(10))
    m.trade("A1", "A2", 8_000, 100, at(20))

    assert alerts(m, "wash.round_trip") == []
    assert len(alerts(m, "wash.same_owner")) == 1


def test_one_way_flow_and_a_return_before_the_out_leg_are_not_round_trips() -> None:
    m = market()
    m.trade("C", "B", 8_000, 100, at(10))
    m.trade("C", "B", 8_000, 100, at(20))  # B buys twice: never back
    m.trade("A1", "C", 8_000, 100, at(30))  # C sells on, but to A1, not back to B

    assert alerts(m, "wash.round_trip") == []


# ---------------------------------------------------------------------- settings, determinism


def two_instrument_market() -> Market:
    m = market()
    m.store.insert("instruments", [(OTHER, "allowance", 1, 1, 8_000)])
    for code in (CODE, OTHER):
        m.trade("C", "B", 8_000, 1_000, at(100), instrument=code)
        m.trade("B", "C", 8_000, 1_000, at(400), instrument=code)
        m.trade("A1", "A2", 8_000, 10, at(500), instrument=code)
    return m


def test_per_instrument_overrides_apply_to_their_instrument_only() -> None:
    m = two_instrument_market()
    config = SurveillanceSettings(instruments={OTHER: RuleParams(wash=WashParams(round_trip_window_s=299))})

    found = wash.detect(m.con, DAY, config)

    assert [(a.rule, a.instrument) for a in found] == [
        ("wash.round_trip", CODE),
        ("wash.same_owner", CODE),
        ("wash.same_owner", OTHER),
    ]
    assert found[2].parameters["round_trip_window_s"] == 299


def test_disabled_family_raises_nothing() -> None:
    m = two_instrument_market()
    off = SurveillanceSettings(instruments={OTHER: RuleParams(wash=WashParams(enabled=False))})

    assert {a.instrument for a in wash.detect(m.con, DAY, off)} == {CODE}
    assert wash.detect(m.con, DAY, settings(enabled=False)) == []


def test_other_days_are_not_read() -> None:
    m = market()
    m.trade("A1", "A2", 8_000, 100, at(10, day=20261202), day=20261202)

    assert wash.detect(m.con, DAY, SurveillanceSettings()) == []


def test_output_is_deterministic() -> None:
    first, second = two_instrument_market(), two_instrument_market()

    once = wash.detect(first.con, DAY, SurveillanceSettings())

    assert once == wash.detect(first.con, DAY, SurveillanceSettings())
    assert once == wash.detect(second.con, DAY, SurveillanceSettings())
    assert len(once) == 4  # a round trip and a same-owner pair on each instrument
