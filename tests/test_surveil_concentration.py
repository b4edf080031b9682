"""Concentration: an account's share of the day's volume, holdings near the position limit, large holders."""

from __future__ import annotations

import random

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from surveillance.alerts import Alert
from surveillance.rules import concentration
from surveillance.settings import ConcentrationParams, RuleParams, SurveillanceSettings
from tests.surveil_rows import DAY, Market, at

CODE = "SHEA2025"


def settings(**fields: int) -> SurveillanceSettings:
    return SurveillanceSettings(
        rules=RuleParams(concentration=msgspec.structs.replace(ConcentrationParams(), **fields))
    )


def detect(m: Market, s: SurveillanceSettings | None = None, rule: str = "") -> list[Alert]:
    return [a for a in concentration.detect(m.con, DAY, s or SurveillanceSettings()) if a.rule.endswith(rule)]


def cornered_day() -> tuple[Market, list[int]]:
    """1,000 t traded: C buys 300 t (30%) from ten sellers, 700 t among 14 honest pairs (5% each)."""
    m = Market()
    m.account("C", "MC")
    ids = []
    for i in range(10):
        m.account(f"S{i}", f"R{i}")
        ids.append(m.trade("C", f"S{i}", 8_000, 30, at(i)))
    for i in range(14):
        m.account(f"HB{i}", f"P{i}")
        m.account(f"HS{i}", f"Q{i}")
        m.trade(f"HB{i}", f"HS{i}", 8_000, 50, at(100 + i))
    return m, ids


# ---------------------------------------------------------------------------------- volume share


def test_thirty_percent_of_the_day_alerts_with_every_trade() -> None:
    m, ids = cornered_day()

    [alert] = detect(m, rule="volume_share")

    assert alert.subjects == ["C"]
    assert alert.figures == {"share_bp": 3_000, "volume_t": 300, "day_volume_t": 1_000}
    assert alert.evidence.trades == ids
    assert alert.evidence.accounts == ["C", *(f"S{i}" for i in range(10))]
    assert alert.score_bp == 0


def test_share_one_basis_point_short_does_not_alert() -> None:
    m, _ = cornered_day()

    assert detect(m, settings(volume_share_bp=3_001), rule="volume_share") == []
    assert len(detect(m, settings(volume_share_bp=1_500), rule="volume_share")) == 1


def test_share_counts_both_sides_once() -> None:
    # C also sells 100 t and trades 100 t with itself (counted once): 500 t of 1,200 t.
    m, _ = cornered_day()
    m.trade("HB0", "C", 8_000, 100, at(200))
    m.trade("C", "C", 8_000, 100, at(300))

    [alert] = detect(m, rule="volume_share")

    assert alert.figures["volume_t"] == 500
    assert alert.figures["share_bp"] == 500 * 10_000 // 1_200


def test_score_grows_with_the_share() -> None:
    m, _ = cornered_day()

    [alert] = detect(m, settings(volume_share_bp=1_500), rule="volume_share")

    assert alert.score_bp == 5_000  # twice the threshold


def test_thin_days_are_not_judged() -> None:
    m, _ = cornered_day()

    assert detect(m, settings(min_day_volume_t=1_001), rule="volume_share") == []
    assert len(detect(m, settings(min_day_volume_t=1_000), rule="volume_share")) == 1


def test_disabled_family_and_per_instrument_override() -> None:
    m, _ = cornered_day()
    off = RuleParams(concentration=ConcentrationParams(enabled=False))
    looser = RuleParams(concentration=ConcentrationParams(volume_share_bp=2_000))

    assert detect(m, SurveillanceSettings(rules=off)) == []
    assert len(detect(m, SurveillanceSettings(rules=off, instruments={CODE: looser}))) == 1
    assert detect(m, SurveillanceSettings(instruments={CODE: off})) == []


def test_honest_random_day_raises_nothing_and_is_deterministic() -> None:
    rng = random.Random(30)
    m = Market()
    buyers, sellers = [f"B{i}" for i in range(30)], [f"S{i}" for i in range(30)]
    for i, account in enumerate(buyers + sellers):
        m.account(account, f"M{i % 25}")
        m.holding(account, rng.randint(0, 50_000))
    for i in range(250):
        m.trade(rng.choice(buyers), rng.choice(sellers), 8_000 + rng.randint(-20, 20), rng.randint(10, 100), at(40 * i))

    assert detect(m) == []
    assert detect(m, settings(volume_share_bp=500)) == detect(m, settings(volume_share_bp=500))


@given(
    quantities=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(1, 100)), min_size=1, max_size=20)
)
def test_every_account_at_or_over_the_share_is_alerted(quantities: list[tuple[int, int, int]]) -> None:
    m = Market()
    for i in range(6):
        m.account(f"A{i}", f"M{i}")
    for n, (buyer, seller, quantity) in enumerate(quantities):
        m.trade(f"A{buyer}", f"A{seller}", 8_000, quantity, at(n))
    day_volume = sum(q for _, _, q in quantities)

    alerted = {a.subjects[0] for a in detect(m, rule="volume_share")}

    share = {f"A{i}": sum(q for b, s, q in quantities if i in (b, s)) for i in range(6)}
    assert alerted == {a for a, volume in share.items() if volume * 10_000 >= 3_000 * day_volume}


# ---------------------------------------------------------------------------------- near the limit


def limit_day(closing: int, *, position_limit: int = 10_000) -> tuple[Market, list[int]]:
    m = Market()
    m.account("L", "ML", position_limit=position_limit)
    m.account("S", "MS")
    ids = [m.trade("L", "S", 8_000, 500, at(0)), m.trade("L", "S", 8_010, 300, at(60))]
    m.trade("S", "L", 8_010, 10, at(120))  # a sale: not what brought it near the limit
    m.transfer("L", "S", 8_000, 200, at(180), transfer_id=7)
    m.holding("L", closing, bought=1_000, sold=10)
    m.holding("S", 100)
    return m, ids


def test_closing_at_the_band_edge_alerts_with_the_buys() -> None:
    # Limit 10,000 t, 5% band: from 9,500 t.
    m, buys = limit_day(9_500)

    [alert] = detect(m, rule="near_limit")

    assert alert.subjects == ["L"]
    assert alert.figures == {"closing_t": 9_500, "position_limit_t": 10_000, "band_start_t": 9_500}
    assert alert.evidence.trades == buys
    assert alert.evidence.transfers == [7]
    assert alert.evidence.accounts == ["L", "S"]
    assert alert.score_bp == 0


def test_one_tonne_short_of_the_band_does_not_alert() -> None:
    m, _ = limit_day(9_499)

    assert detect(m, rule="near_limit") == []


def test_near_limit_score_is_the_depth_into_the_band() -> None:
    assert detect(limit_day(9_750)[0], rule="near_limit")[0].score_bp == 5_000
    assert detect(limit_day(10_000)[0], rule="near_limit")[0].score_bp == 10_000


def test_no_position_limit_is_never_near_it() -> None:
    m, _ = limit_day(9_999_999, position_limit=0)

    assert detect(m, rule="near_limit") == []


def test_near_limit_band_per_instrument() -> None:
    m, _ = limit_day(9_000)
    wider = RuleParams(concentration=ConcentrationParams(near_limit_bp=1_000))

    assert detect(m, rule="near_limit") == []
    assert len(detect(m, SurveillanceSettings(instruments={CODE: wider}), rule="near_limit")) == 1


# ---------------------------------------------------------------------------------- large holders


def test_each_large_holder_report_row_is_one_alert() -> None:
    m, buys = limit_day(9_000)
    m.store.insert(
        "large_holders", [(DAY, "L", "ML", CODE, 750_000, 500_000), (DAY - 1, "S", "MS", CODE, 600_000, 500_000)]
    )

    [alert] = detect(m, rule="large_holder")

    assert alert.subjects == ["L"]
    assert alert.figures == {"holding_t": 750_000, "threshold_t": 500_000}
    assert alert.score_bp == 3_333  # 1 − 500,000 / 750,000
    assert alert.evidence.trades == buys
    assert alert.evidence.transfers == [7]


def test_large_holder_follows_the_family_switch() -> None:
    m, _ = limit_day(9_000)
    m.store.insert("large_holders", [(DAY, "L", "ML", CODE, 750_000, 500_000)])
    off = RuleParams(concentration=ConcentrationParams(enabled=False))

    assert detect(m, SurveillanceSettings(instruments={CODE: off})) == []
    on_here = SurveillanceSettings(rules=off, instruments={CODE: RuleParams()})
    assert [a.subjects for a in detect(m, on_here, rule="large_holder")] == [["L"]]
