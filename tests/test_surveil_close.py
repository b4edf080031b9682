"""Marking the close: the close without one account's trades, all day and in the last minutes."""

from __future__ import annotations

import random
from fractions import Fraction

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from surveillance.alerts import Alert
from surveillance.rules import marking_close
from surveillance.settings import MarkingCloseParams, RuleParams, SurveillanceSettings
from tests.surveil_rows import DAY, Market, at

CODE = "SHEA2025"
LATE = at(0, hour=14, minute=55)  # inside the last 10 minutes before 15:00
EARLY = at(600)  # 09:40


def settings(**fields: int) -> SurveillanceSettings:
    return SurveillanceSettings(rules=RuleParams(marking_close=msgspec.structs.replace(MarkingCloseParams(), **fields)))


def marked_day(price: int, *, ts: int = LATE, marker_t: int = 100) -> tuple[Market, list[int]]:
    """900 t of honest trades at 80.00 (18 pairs, 5% each), then M buys ``marker_t`` t at ``price`` from
    ten sellers (1% each at 100 t): only M's removal moves the close. M's trade ids."""
    m = Market()
    for i in range(18):
        m.account(f"HB{i}", f"P{i}")
        m.account(f"HS{i}", f"Q{i}")
        m.trade(f"HB{i}", f"HS{i}", 8_000, 50, at(60 * i))
    m.account("M", "MM")
    ids = []
    for i in range(10):
        m.account(f"S{i}", f"R{i}")
        ids.append(m.trade("M", f"S{i}", price, marker_t // 10, ts + i))
    return m, ids


def detect(m: Market, s: SurveillanceSettings | None = None) -> list[Alert]:
    return marking_close.detect(m.con, DAY, s or SurveillanceSettings())


def test_two_ticks_and_ten_percent_alert_the_marker_alone() -> None:
    # (900 × 8000 + 100 × 8015) / 1000 = 8001.5 → half-up 8002; without M: 8000. Two ticks, 10%.
    m, ids = marked_day(8_015)

    alerts = detect(m)

    assert [(a.rule, a.subjects) for a in alerts] == [
        ("marking_close.last_minutes", ["M"]),
        ("marking_close.vwap", ["M"]),
    ]
    vwap = alerts[1]
    assert vwap.figures == {
        "close": 8_002,
        "counterfactual_close": 8_000,
        "ticks_moved": 2,
        "share_bp": 1_000,
        "day_volume_t": 1_000,
    }
    assert vwap.evidence.trades == ids
    assert vwap.evidence.accounts == ["M", *(f"S{i}" for i in range(10))]
    assert vwap.score_bp == 0  # both measures exactly at their thresholds
    assert vwap.parameters == {"min_ticks": 2, "min_share_bp": 1_000, "last_minutes": 10}


def test_half_a_fen_short_rounds_to_one_tick_and_does_not_alert() -> None:
    # (7,200,000 + 801,400) / 1000 = 8001.4 → 8001: one tick, as the engine's close rounds it.
    m, _ = marked_day(8_014)

    assert detect(m) == []


def test_one_tick_or_one_basis_point_short_does_not_alert() -> None:
    m, _ = marked_day(8_015)

    assert detect(m, settings(min_ticks=3)) == []
    assert detect(m, settings(min_share_bp=1_001)) == []
    assert len(detect(m, settings(min_ticks=2, min_share_bp=1_000))) == 2


def test_disabled_family_and_per_instrument_override() -> None:
    m, _ = marked_day(8_015)
    off = RuleParams(marking_close=MarkingCloseParams(enabled=False))
    stricter = RuleParams(marking_close=MarkingCloseParams(min_ticks=3))

    assert detect(m, SurveillanceSettings(rules=off)) == []
    assert detect(m, SurveillanceSettings(instruments={CODE: stricter})) == []
    assert detect(m, SurveillanceSettings(rules=off, instruments={"OTHER": stricter})) == []
    assert len(detect(m, SurveillanceSettings(rules=stricter, instruments={CODE: RuleParams()}))) == 2


def test_trades_before_the_window_move_the_vwap_only() -> None:
    m, _ = marked_day(8_015, ts=EARLY)

    assert [a.rule for a in detect(m)] == ["marking_close.vwap"]


def test_window_starts_exactly_last_minutes_before_the_afternoon_close() -> None:
    start = at(0, hour=14, minute=50)

    inside, _ = marked_day(8_015, ts=start)
    outside, _ = marked_day(8_015, ts=start - 10)  # its ten trades end 1 ns before the window

    assert [a.rule for a in detect(inside)] == ["marking_close.last_minutes", "marking_close.vwap"]
    assert [a.rule for a in detect(outside)] == ["marking_close.vwap"]
    assert [a.rule for a in detect(outside, settings(last_minutes=11))] == [
        "marking_close.last_minutes",
        "marking_close.vwap",
    ]


def test_last_minutes_counts_only_the_window_trades() -> None:
    # M trades 100 t early at 80.00 and 100 t late at 80.30: the late part alone is 1/11 of the day.
    m, late = marked_day(8_030)
    for i in range(10):
        m.trade("M", f"S{i}", 8_000, 10, EARLY + i)

    alerts = {a.rule: a for a in detect(m, settings(min_share_bp=900))}

    window = alerts["marking_close.last_minutes"]
    assert window.evidence.trades == late
    assert window.figures["share_bp"] == 100 * 10_000 // 1_100
    # (900 × 8000 + 100 × 8000 + 100 × 8030) / 1100 = 8002.7 → 8003; without the late 100 t: 8000.
    assert (window.figures["close"], window.figures["counterfactual_close"]) == (8_003, 8_000)
    assert alerts["marking_close.vwap"].figures["share_bp"] == 200 * 10_000 // 1_100


def test_a_lone_trader_is_measured_against_the_previous_close() -> None:
    m = Market()
    m.account("M", "MM")
    for i in range(20):
        m.account(f"S{i}", f"R{i}")
        m.trade("M", f"S{i}", 8_100, 5, at(i))
    m.bulletin(8_050, 0, day=DAY - 1)  # yesterday's close, today's reference price

    [vwap, window] = sorted(detect(m, settings(last_minutes=400)), key=lambda a: a.rule, reverse=True)

    assert vwap.figures["counterfactual_close"] == 8_050
    assert vwap.figures["ticks_moved"] == 50
    assert vwap.figures["share_bp"] == 10_000
    assert window.rule == "marking_close.last_minutes"


def test_counterfactual_uses_the_instrument_tick() -> None:
    # A 5-fen tick: the close rounds half-up to 5 fen, and the 2-tick threshold is 10 fen.
    m = Market(tick=5)
    m.account("M", "MM")
    for i in range(18):
        m.account(f"HB{i}", f"P{i}")
        m.account(f"HS{i}", f"Q{i}")
        m.trade(f"HB{i}", f"HS{i}", 8_000, 50, at(60 * i))
    for i in range(10):
        m.account(f"S{i}", f"R{i}")
        m.trade("M", f"S{i}", 8_075, 10, LATE + i)

    [alert, _] = sorted(detect(m), key=lambda a: a.rule, reverse=True)

    # (7,200,000 + 807,500) / 1000 = 8007.5 → 8010 on the 5-fen tick: two ticks above 8000.
    assert (alert.figures["close"], alert.figures["ticks_moved"]) == (8_010, 2)


def test_same_store_same_alerts() -> None:
    first, _ = marked_day(8_015)
    second, _ = marked_day(8_015)

    assert detect(first) == detect(second) == detect(first)


def test_honest_random_day_raises_nothing() -> None:
    rng = random.Random(17)
    m = Market()
    buyers, sellers = [f"B{i}" for i in range(30)], [f"S{i}" for i in range(30)]
    for i, account in enumerate(buyers + sellers):
        m.account(account, f"M{i % 25}")
    for i in range(300):
        m.trade(rng.choice(buyers), rng.choice(sellers), 8_000 + rng.randint(-20, 20), rng.randint(10, 100), at(40 * i))

    assert detect(m) == []


@given(
    trades=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(7_990, 8_010), st.integers(1, 50), st.booleans()),
        min_size=1,
        max_size=25,
    ),
    min_ticks=st.integers(0, 3),
    min_share_bp=st.integers(0, 6_000),
)
def test_alerts_match_a_naive_recount(
    trades: list[tuple[int, int, int, int, bool]], min_ticks: int, min_share_bp: int
) -> None:
    m = Market()
    for i in range(5):
        m.account(f"A{i}", f"M{i}")
    rows = []
    for buyer, seller, price, quantity, late in trades:
        rows.append((f"A{buyer}", f"A{seller}", price, quantity, late))
        m.trade(f"A{buyer}", f"A{seller}", price, quantity, LATE if late else EARLY)

    alerts = detect(m, settings(min_ticks=min_ticks, min_share_bp=min_share_bp))

    expected = set()
    for account in (f"A{i}" for i in range(5)):
        for rule, only_late in (("marking_close.vwap", False), ("marking_close.last_minutes", True)):
            if _naive_alerts(rows, account, only_late, min_ticks, min_share_bp):
                expected.add((rule, account))
    assert {(a.rule, a.subjects[0]) for a in alerts} == expected


def _naive_alerts(
    rows: list[tuple[str, str, int, int, bool]], account: str, only_late: bool, min_ticks: int, min_share_bp: int
) -> bool:
    def close(kept: list[tuple[str, str, int, int, bool]]) -> int:
        volume = sum(r[3] for r in kept)
        if not volume:
            return 8_000  # the instrument's reference price: no bulletin yet
        vwap = Fraction(sum(r[2] * r[3] for r in kept), volume)
        return int(vwap + Fraction(1, 2))  # half-up to the 1-fen tick

    def removed(r: tuple[str, str, int, int, bool]) -> bool:
        return account in (r[0], r[1]) and (r[4] or not only_late)

    kept = [r for r in rows if not removed(r)]
    share = Fraction(sum(r[3] for r in rows if removed(r)), sum(r[3] for r in rows))
    moved = abs(close(rows) - close(kept))
    return share > 0 and share * 10_000 >= min_share_bp and moved >= min_ticks
