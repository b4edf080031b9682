"""Auction-linked rules: post-auction ramping, identical or mirror bids, repeated bids at the floor."""

from __future__ import annotations

import random

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from surveillance.alerts import Alert
from surveillance.rules import auction_linked
from surveillance.settings import AuctionParams, RuleParams, SurveillanceSettings
from tests.surveil_rows import DAY, Market, at

CODE = "SHEA2025"
DAY2, DAY3, DAY4 = DAY + 1, DAY + 2, DAY + 3
FLOOR = 7_500


def settings(**fields: int) -> SurveillanceSettings:
    return SurveillanceSettings(rules=RuleParams(auction=msgspec.structs.replace(AuctionParams(), **fields)))


def detect(m: Market, day: int, s: SurveillanceSettings | None = None, rule: str = "") -> list[Alert]:
    return [a for a in auction_linked.detect(m.con, day, s or SurveillanceSettings()) if a.rule.endswith(rule)]


def auction_event(
    m: Market, event: str, auction_id: int, day: int, *, kind: str = "RESERVE_SALE", limit: int = FLOOR
) -> None:
    m.seq += 1
    m.store.insert(
        "auction_events",
        [(m.seq, 0, at(7_200, day), day, event, auction_id, kind, CODE, "RESERVE", 100_000, 0, limit, 0, 0, 0, 0, 0,
          False, "", "")],
    )  # fmt: skip


def bid_event(m: Market, event: str, account: str, auction_id: int, bid_id: int, price: int, quantity: int) -> None:
    m.seq += 1
    m.store.insert(
        "bid_events",
        [(m.seq, 0, at(3_600), DAY, "", event, bid_id, auction_id, account, "", price, quantity, 0, 0)],
    )


# ---------------------------------------------------------------------------------- ramping


def ramp_market(kind: str = "RESERVE_SALE") -> Market:
    """Auction 1 cleared on DAY at 10:30; W won (bid 41), L lost (bid 42); the days DAY..DAY4 exist."""
    m = Market()
    for account, member in (("W", "MW"), ("L", "ML"), ("S1", "M1"), ("S2", "M2")):
        m.account(account, member)
    for day in (DAY, DAY2, DAY3, DAY4):
        m.day(day)
    m.auction(1, FLOOR, 100_000, at(0), clearing_price=7_800, kind=kind)
    m.bid("W", 1, 41, 7_800, 1_000, at(60), allocated=1_000)
    m.bid("L", 1, 42, 7_600, 1_000, at(70))
    return m


def buys(m: Market, prices: list[int], day: int, *, buyer: str = "W", passive: int = 0, start: int = 0) -> list[int]:
    """``buyer`` buys 10 t at each price (an hour apart from ``start`` s after 09:30); the last ``passive`` resting."""
    ids = []
    for i, price in enumerate(prices):
        aggressor = "SELL" if i >= len(prices) - passive else "BUY"
        seller = "S1" if i % 2 else "S2"
        ids.append(m.trade(buyer, seller, price, 10, at(start + 3_600 * i, day), day=day, aggressor=aggressor))
    return ids


def test_rising_buys_after_winning_alert_on_the_day_they_complete() -> None:
    m = ramp_market()
    ids = buys(m, [8_000, 8_002, 8_005], DAY2)

    assert detect(m, DAY, rule="ramping") == []
    [alert] = detect(m, DAY2, rule="ramping")

    assert alert.subjects == ["W"]
    assert alert.evidence.trades == ids
    assert alert.evidence.bids == [41]
    assert alert.evidence.auctions == [1]
    assert alert.evidence.accounts == ["S1", "S2", "W"]
    assert alert.figures == {
        "buys": 3,
        "first_price": 8_000,
        "last_price": 8_005,
        "rise_ticks": 5,
        "rising_bp": 10_000,
        "aggressor_bp": 10_000,
        "share_bp": 10_000,
        "auction_id": 1,
    }
    assert alert.score_bp == 0


def test_a_ramp_needs_weight_in_the_market_s_buying() -> None:
    # 3 × 10 t bought by W; other buyers trade 970 t after the clearing: W's share is exactly 3.00%.
    m = ramp_market()
    buys(m, [8_000, 8_002, 8_005], DAY2)
    m.trade("S3", "S1", 8_001, 970, at(60, DAY2), day=DAY2)

    [alert] = detect(m, DAY2, rule="ramping")
    assert alert.figures["share_bp"] == 300
    m.trade("S3", "S1", 8_001, 1, at(61, DAY2), day=DAY2)
    assert detect(m, DAY2, rule="ramping") == []
    assert len(detect(m, DAY2, settings(ramp_min_share_bp=299), rule="ramping")) == 1


def test_one_order_sweeping_several_levels_is_one_buy_not_a_rising_run() -> None:
    m = ramp_market()
    sweep = m.order("W", "BUY", 8_005, 30, at(0, DAY2), day=DAY2)
    for n, price in enumerate([8_000, 8_002, 8_005]):
        m.trade("W", "S1", price, 10, at(n, DAY2), buy_order=sweep, day=DAY2)

    assert detect(m, DAY2, rule="ramping") == []
    assert detect(m, DAY2, settings(ramp_min_buys=1, ramp_min_rise_ticks=0), rule="ramping") == []  # one buy: no rise


def test_ramp_is_alerted_once_not_again_on_later_days() -> None:
    m = ramp_market()
    buys(m, [8_000, 8_002, 8_005], DAY2)
    buys(m, [8_007, 8_009], DAY3)

    assert len(detect(m, DAY2, rule="ramping")) == 1
    assert detect(m, DAY3, rule="ramping") == []


def test_ramp_spread_over_days_alerts_on_the_completing_day() -> None:
    m = ramp_market()
    buys(m, [8_000, 8_003], DAY2)
    ids = buys(m, [8_006], DAY3)

    assert detect(m, DAY2, rule="ramping") == []
    [alert] = detect(m, DAY3, rule="ramping")
    assert alert.evidence.trades[-1] == ids[0]


def test_one_tick_of_rise_short_does_not_alert() -> None:
    m = ramp_market()
    buys(m, [8_000, 8_002, 8_004], DAY2)

    assert detect(m, DAY2, rule="ramping") == []
    assert len(detect(m, DAY2, settings(ramp_min_rise_ticks=4), rule="ramping")) == 1


def test_one_buy_short_does_not_alert() -> None:
    m = ramp_market()
    buys(m, [8_000, 8_002, 8_005], DAY2)

    assert detect(m, DAY2, settings(ramp_min_buys=4), rule="ramping") == []


def test_rising_share_edge() -> None:
    # Pairs: up, down, up, up: 7,500 bp of consecutive buys at or above the previous.
    m = ramp_market()
    buys(m, [8_000, 8_003, 8_002, 8_004, 8_006], DAY2)

    assert detect(m, DAY2, rule="ramping") == []
    [alert] = detect(m, DAY2, settings(ramp_min_rising_bp=7_500), rule="ramping")
    assert alert.figures["rising_bp"] == 7_500


def test_aggressor_share_edge() -> None:
    four_of_five = ramp_market()
    buys(four_of_five, [8_000, 8_002, 8_004, 8_006, 8_008], DAY2, passive=1)
    three_of_five = ramp_market()
    buys(three_of_five, [8_000, 8_002, 8_004, 8_006, 8_008], DAY2, passive=2)

    assert [a.figures["aggressor_bp"] for a in detect(four_of_five, DAY2, rule="ramping")] == [8_000]
    assert detect(three_of_five, DAY2, rule="ramping") == []
    assert len(detect(three_of_five, DAY2, settings(ramp_min_aggressor_bp=6_000), rule="ramping")) == 1


def test_buys_before_the_clearing_do_not_count() -> None:
    m = Market()
    for account, member in (("W", "MW"), ("S1", "M1"), ("S2", "M2")):
        m.account(account, member)
    m.day(DAY)
    buys(m, [8_000], DAY)  # 09:30, before the auction clears
    m.auction(1, FLOOR, 100_000, at(0), clearing_price=7_800)
    m.bid("W", 1, 41, 7_800, 1_000, at(60), allocated=1_000)
    buys(m, [8_002, 8_005], DAY, start=7_200)

    assert detect(m, DAY, rule="ramping") == []
    assert len(detect(m, DAY, settings(ramp_min_buys=2, ramp_min_rise_ticks=3), rule="ramping")) == 1


def test_ramp_window_counts_trading_days_after_the_clearing() -> None:
    m = ramp_market()
    buys(m, [8_000, 8_002, 8_005], DAY3)

    assert detect(m, DAY3, settings(ramp_days=1), rule="ramping") == []
    assert len(detect(m, DAY3, settings(ramp_days=2), rule="ramping")) == 1


def test_losers_and_buybacks_are_not_ramping() -> None:
    lost = ramp_market()
    buys(lost, [8_000, 8_002, 8_005], DAY2, buyer="L")
    buyback = ramp_market(kind="BUYBACK")
    buys(buyback, [8_000, 8_002, 8_005], DAY2)

    assert detect(lost, DAY2, rule="ramping") == []
    assert detect(buyback, DAY2, rule="ramping") == []


def test_ramping_disabled_and_per_instrument() -> None:
    m = ramp_market()
    buys(m, [8_000, 8_002, 8_005], DAY2)
    off = RuleParams(auction=AuctionParams(enabled=False))
    looser = RuleParams(auction=AuctionParams(ramp_min_rise_ticks=3))

    assert detect(m, DAY2, SurveillanceSettings(rules=off)) == []
    assert detect(m, DAY2, SurveillanceSettings(instruments={CODE: off})) == []
    assert detect(m, DAY2, settings(ramp_min_rise_ticks=6), rule="ramping") == []
    strict_but_looser_here = SurveillanceSettings(
        rules=RuleParams(auction=AuctionParams(ramp_min_rise_ticks=6)), instruments={CODE: looser}
    )
    assert len(detect(m, DAY2, strict_but_looser_here, rule="ramping")) == 1


def test_honest_winners_buying_at_random_prices_raise_nothing() -> None:
    rng = random.Random(2016)
    m = Market()
    m.account("S1", "M1")
    m.account("S2", "M2")
    for day in (DAY, DAY2, DAY3):
        m.day(day)
    m.auction(1, FLOOR, 100_000, at(0), clearing_price=7_800)
    for w in range(20):
        m.account(f"W{w}", f"MW{w}")
        m.bid(f"W{w}", 1, 100 + w, 7_800, 1_000, at(60), allocated=1_000)
    for n in range(200):
        day = rng.choice((DAY2, DAY3))
        aggressor = rng.choice(("BUY", "SELL"))
        m.trade(f"W{rng.randrange(20)}", rng.choice(("S1", "S2")), rng.randint(7_950, 8_050), 10, at(n * 60, day),
                day=day, aggressor=aggressor)  # fmt: skip

    assert [detect(m, day, rule="ramping") for day in (DAY, DAY2, DAY3)] == [[], [], []]


@given(
    days_prices=st.lists(st.tuples(st.sampled_from((DAY2, DAY3)), st.integers(7_995, 8_010), st.booleans()), max_size=8)
)
def test_ramping_is_raised_at_most_once_and_only_when_the_pattern_holds(
    days_prices: list[tuple[int, int, bool]],
) -> None:
    m = ramp_market()
    ordered = sorted(days_prices, key=lambda d: d[0])
    for n, (day, price, aggressive) in enumerate(ordered):
        m.trade("W", "S1", price, 10, at(n * 60, day), day=day, aggressor="BUY" if aggressive else "SELL")

    raised = {day: detect(m, day, rule="ramping") for day in (DAY, DAY2, DAY3, DAY4)}

    assert sum(len(alerts) for alerts in raised.values()) <= 1
    for day, alerts in raised.items():
        for alert in alerts:
            prices = [p for d, p, _ in ordered if d <= day]
            assert len(prices) >= 3 and prices[-1] - prices[0] >= 5
            assert alert.figures["buys"] == len(prices)
    complete = _naive_ramp([(p, a) for _, p, a in ordered])
    assert bool(sum(len(alerts) for alerts in raised.values())) == (complete or _complete_by(ordered, DAY2))


def _naive_ramp(buys: list[tuple[int, bool]]) -> bool:
    prices = [p for p, _ in buys]
    if len(prices) < 3 or prices[-1] - prices[0] < 5:
        return False
    rising = sum(1 for i in range(1, len(prices)) if prices[i] >= prices[i - 1])
    return rising * 10 >= 8 * (len(prices) - 1) and sum(a for _, a in buys) * 10 >= 8 * len(buys)


def _complete_by(ordered: list[tuple[int, int, bool]], day: int) -> bool:
    return _naive_ramp([(p, a) for d, p, a in ordered if d <= day])


# ---------------------------------------------------------------------------------- identical bids


def bidders(*pairs: tuple[str, str]) -> Market:
    m = Market()
    for account, member in pairs:
        m.account(account, member)
    m.day(DAY)
    m.auction(2, FLOOR, 100_000, at(0), clearing_price=7_800)
    return m


def test_mirror_schedules_of_two_members_alert() -> None:
    m = bidders(("A", "MA"), ("B", "MB"), ("C", "MC"))
    m.bid("A", 2, 1, 8_100, 100, at(10))
    m.bid("A", 2, 2, 8_200, 50, at(11))
    m.bid("B", 2, 3, 8_200, 50, at(12))
    m.bid("B", 2, 4, 8_100, 100, at(13))
    m.bid("C", 2, 5, 8_100, 90, at(14))

    [alert] = detect(m, DAY, rule="identical_bids")

    assert alert.subjects == ["A", "B"]
    assert alert.figures == {"shared_bids": 2, "mirror": 1, "auction_id": 2}
    assert alert.evidence.bids == [1, 2, 3, 4]
    assert alert.evidence.auctions == [2]
    assert alert.score_bp == 0


def test_identical_bids_short_of_the_count_do_not_alert() -> None:
    m = bidders(("A", "MA"), ("B", "MB"))
    m.bid("A", 2, 1, 8_100, 100, at(10))
    m.bid("A", 2, 2, 8_200, 50, at(11))
    m.bid("B", 2, 3, 8_100, 100, at(12))
    m.bid("B", 2, 4, 8_200, 60, at(13))

    assert detect(m, DAY, rule="identical_bids") == []
    [alert] = detect(m, DAY, settings(identical_min_bids=1), rule="identical_bids")
    assert alert.figures["mirror"] == 0
    assert alert.evidence.bids == [1, 3]


def test_identical_bids_count_repeats_as_a_multiset() -> None:
    m = bidders(("A", "MA"), ("B", "MB"))
    for bid_id in (1, 2, 3):
        m.bid("A", 2, bid_id, 8_100, 100, at(bid_id))
    m.bid("B", 2, 4, 8_100, 100, at(10))
    m.bid("B", 2, 5, 8_100, 100, at(11))

    [alert] = detect(m, DAY, rule="identical_bids")

    assert alert.figures == {"shared_bids": 2, "mirror": 0, "auction_id": 2}


def test_same_member_is_not_identical_bidding_but_one_group_across_members_is() -> None:
    m = bidders(("A", "MA"), ("A2", "MA"))
    m.account("G", "MG", owner_group="OG")
    m.account("H", "MH", owner_group="OG")
    for account, first in (("A", 1), ("A2", 3), ("G", 5), ("H", 7)):
        price = 8_100 if account.startswith("A") else 8_300
        m.bid(account, 2, first, price, 100, at(first))
        m.bid(account, 2, first + 1, price + 100, 100, at(first + 1))

    assert [a.subjects for a in detect(m, DAY, rule="identical_bids")] == [["G", "H"]]


def test_final_bids_count_withdrawn_and_amended_applied() -> None:
    m = bidders(("A", "MA"), ("B", "MB"))
    m.bid("A", 2, 1, 8_100, 100, at(10))
    m.bid("A", 2, 2, 8_150, 50, at(11))
    m.bid("B", 2, 3, 8_100, 100, at(12))
    m.bid("B", 2, 4, 8_200, 50, at(13))
    m.bid("B", 2, 5, 8_300, 10, at(14))
    bid_event(m, "amended", "A", 2, 2, 8_200, 50)  # now the same as B's bid 4

    assert [a.evidence.bids for a in detect(m, DAY, rule="identical_bids")] == [[1, 2, 3, 4]]

    bid_event(m, "withdrawn", "B", 2, 4, 0, 0)
    assert detect(m, DAY, rule="identical_bids") == []


def test_identical_bids_alert_on_the_day_bidding_closed() -> None:
    m = Market()
    m.account("A", "MA")
    m.account("B", "MB")
    for account, first in (("A", 1), ("B", 3)):
        m.bid(account, 3, first, 8_100, 100, at(first))
        m.bid(account, 3, first + 1, 8_200, 100, at(first + 1))
    auction_event(m, "closed", 3, DAY)
    auction_event(m, "cleared", 3, DAY2)

    assert len(detect(m, DAY, rule="identical_bids")) == 1
    assert detect(m, DAY2, rule="identical_bids") == []


def test_identical_bids_disabled_per_instrument() -> None:
    m = bidders(("A", "MA"), ("B", "MB"))
    for account, first in (("A", 1), ("B", 3)):
        m.bid(account, 2, first, 8_100, 100, at(first))
        m.bid(account, 2, first + 1, 8_200, 100, at(first + 1))
    off = RuleParams(auction=AuctionParams(enabled=False))

    assert detect(m, DAY, SurveillanceSettings(instruments={CODE: off})) == []
    assert len(detect(m, DAY, SurveillanceSettings(rules=off, instruments={CODE: RuleParams()}))) == 1


def test_honest_spread_bids_raise_nothing() -> None:
    rng = random.Random(1031)
    m = Market()
    m.day(DAY)
    m.auction(4, FLOOR, 100_000, at(0), clearing_price=7_900)
    for n in range(30):
        m.account(f"H{n}", f"M{n}")
        for k in range(rng.randint(1, 3)):
            price = FLOOR + rng.randint(1, 600)
            m.bid(f"H{n}", 4, n * 10 + k, price, 100 * rng.randint(1, 50), at(n), allocated=100 if price > 7_900 else 0)

    assert detect(m, DAY) == []
    assert detect(m, DAY) == detect(m, DAY)


# ---------------------------------------------------------------------------------- floor bids


def floor_market() -> Market:
    """Auction 1 cleared on DAY, auction 2 on DAY2, auction 3 on DAY4 (floors FLOOR); DAY3 a trading day."""
    m = Market()
    m.account("F1", "MF")
    m.account("F2", "MF")
    m.account("X", "MX")
    for day in (DAY, DAY2, DAY3, DAY4):
        m.day(day)
    for auction_id, day in ((1, DAY), (2, DAY2), (3, DAY4)):
        m.auction(auction_id, FLOOR, 100_000, at(0, day), clearing_price=7_800, day=day)
    return m


def test_third_floor_bid_of_a_member_alerts_on_its_clearing_day() -> None:
    m = floor_market()
    m.bid("F1", 1, 11, FLOOR, 100, at(10))
    m.bid("F1", 1, 12, FLOOR, 200, at(11))
    m.bid("F2", 2, 21, FLOOR, 100, at(10, DAY2), day=DAY2)
    m.bid("X", 2, 22, FLOOR, 100, at(11, DAY2), day=DAY2)
    m.bid("F2", 2, 23, FLOOR + 1, 100, at(12, DAY2), day=DAY2)

    assert detect(m, DAY, rule="floor_bids") == []
    [alert] = detect(m, DAY2, rule="floor_bids")

    assert alert.subjects == ["F1", "F2"]
    assert alert.evidence.bids == [11, 12, 21]
    assert alert.evidence.auctions == [1, 2]
    assert alert.figures == {"floor_bids": 3, "auctions": 2}
    assert alert.score_bp == 0
    assert detect(m, DAY3, rule="floor_bids") == []  # no clearing that day
    assert detect(m, DAY4, rule="floor_bids") == []  # a clearing without a floor bid of the group


def test_floor_bids_one_short_do_not_alert() -> None:
    m = floor_market()
    m.bid("F1", 1, 11, FLOOR, 100, at(10))
    m.bid("F2", 2, 21, FLOOR, 100, at(10, DAY2), day=DAY2)

    assert detect(m, DAY2, rule="floor_bids") == []
    assert len(detect(m, DAY2, settings(floor_min_bids=2), rule="floor_bids")) == 1


def test_floor_bids_window_counts_trading_days() -> None:
    m = floor_market()
    m.bid("F1", 1, 11, FLOOR, 100, at(10))
    m.bid("F1", 2, 21, FLOOR, 100, at(10, DAY2), day=DAY2)
    m.bid("F2", 3, 31, FLOOR, 100, at(10, DAY4), day=DAY4)

    # DAY..DAY4 are four trading days: a window of three leaves auction 1 out.
    assert detect(m, DAY4, settings(floor_window_days=3), rule="floor_bids") == []
    assert len(detect(m, DAY4, settings(floor_window_days=4), rule="floor_bids")) == 1


def test_owner_group_across_members_is_one_group() -> None:
    m = floor_market()
    m.account("G1", "MG1", owner_group="OG")
    m.account("G2", "MG2", owner_group="OG")
    m.bid("G1", 1, 11, FLOOR, 100, at(10))
    m.bid("G2", 1, 12, FLOOR, 100, at(11))
    m.bid("G1", 2, 21, FLOOR, 100, at(10, DAY2), day=DAY2)

    [alert] = detect(m, DAY2, rule="floor_bids")

    assert alert.subjects == ["G1", "G2"]


def test_withdrawn_floor_bids_do_not_count_and_buyback_ceiling_does() -> None:
    m = Market()
    m.account("F1", "MF")
    m.day(DAY)
    auction_event(m, "cleared", 5, DAY, kind="BUYBACK", limit=9_000)
    for bid_id in (1, 2, 3):
        m.bid("F1", 5, bid_id, 9_000, 100, at(bid_id))

    assert len(detect(m, DAY, rule="floor_bids")) == 1
    bid_event(m, "withdrawn", "F1", 5, 3, 0, 0)
    assert detect(m, DAY, rule="floor_bids") == []


def test_floor_bids_disabled_and_per_instrument() -> None:
    m = floor_market()
    for bid_id in (1, 2, 3):
        m.bid("F1", 1, bid_id, FLOOR, 100, at(bid_id))
    off = RuleParams(auction=AuctionParams(enabled=False))
    stricter = RuleParams(auction=AuctionParams(floor_min_bids=4))

    assert len(detect(m, DAY, rule="floor_bids")) == 1
    assert detect(m, DAY, SurveillanceSettings(rules=off)) == []
    assert detect(m, DAY, SurveillanceSettings(instruments={CODE: stricter}), rule="floor_bids") == []
