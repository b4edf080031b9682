"""Auction-linked manipulation (RULES.md "Surveillance"; EU Delegated Reg. 2016/522 Annex II).

A bid's state at the end of bidding is its last ``accepted`` / ``amended`` event (price and quantity
as amended), unless it was ``withdrawn``: only live bids go into the clearing (docs/AUCTIONS.md
"Clearing"), so only they count here. Trading days are the distinct days of table ``days`` (the
engine's ``TradingDayStarted``) and of ``auction_events``, with ``day`` itself added: windows count
trading days, not calendar days.

- ``auction.ramping`` (Annex II: buying in the secondary market after an allowance auction to push
  the price): for an auction sold to bidders (a reserve sale or one-way bidding, not a buyback),
  cleared and not cancelled on one of the ``ramp_days`` trading days before ``day`` or on ``day``,
  each winner (``allocated`` > 0) whose listing buys of the instrument since the clearing (journal
  order; a buy is one buy order, at the highest price it paid: one order sweeping several levels is
  one buy, not a rising run) number at least ``ramp_min_buys``, rise from the first to the last by at
  least ``ramp_min_rise_ticks`` ticks, with at least ``ramp_min_rising_bp`` of consecutive buys at a
  price at or above the previous one, with the winner the aggressor (lifting the offer) in at least
  ``ramp_min_aggressor_bp`` of them, and its buys at least ``ramp_min_share_bp`` of the listing volume
  traded since the clearing: pushing a price up takes buying the offers, in weight, while an honest
  winner topping up at random prices is as often the passive side, rarely buys in a steady rise, and
  is a small part of the market's buying.
  The pattern is judged on the buys up to the end of each trading day since the clearing; the alert
  is raised once, on the first day whose end completes it, never again on later days. Score: the
  mean of ``excess_score(rise in ticks, ramp_min_rise_ticks)`` and ``excess_score(buys, ramp_min_buys)``.
- ``auction.identical_bids``: in one auction, two accounts of different members whose live bids share
  at least ``identical_min_bids`` identical (price, quantity) pairs (counted with repeats, as a
  multiset); figure ``mirror`` is 1 when their whole bid schedules are the same. Accounts of one
  declared owner group but of different members are alerted too: bidding through two members is how
  a group would dodge the per-account bid caps, and the rule speaks of members. Alerted on the day
  bidding ended (the auction's first ``closed``, ``cleared`` or ``cancelled`` event), one alert per
  pair. Score: ``excess_score(shared bids, identical_min_bids)``.
- ``auction.floor_bids``: a group (the declared owner group of an account that has one, otherwise
  its member) with at least ``floor_min_bids`` live bids at exactly the auction's price limit (the
  announced floor of a sale, the ceiling of a buyback: ``AuctionAnnounced.price_limit``,
  ``engine.auction.terms.Resolved``) over the auctions of one instrument cleared (cancelled by their
  rules or not: the bids were made) in the last ``floor_window_days`` trading days up to ``day``.
  Raised on a day one of whose clearings holds a floor bid of the group and brings the window's
  count to the threshold or beyond (each such clearing repeats the pattern). Score:
  ``excess_score(floor bids, floor_min_bids)``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations, pairwise
from typing import NamedTuple

import duckdb

from surveillance.alerts import Alert, cny, evidence, excess_score, mean_score
from surveillance.settings import BP, AuctionParams, SurveillanceSettings, parameters

RULE_IDS = ("auction.ramping", "auction.identical_bids", "auction.floor_bids")


class LiveBid(NamedTuple):
    auction_id: int
    bid_id: int
    account: str
    price: int
    quantity: int


class Buy(NamedTuple):
    day: int
    trade_id: int
    seller: str
    price: int
    aggressive: bool
    order_id: int  # the buy order: one order sweeping several levels is one buy, not a run of rising ones
    quantity: int


def detect(con: duckdb.DuckDBPyConnection, day: int, settings: SurveillanceSettings) -> list[Alert]:
    days = trading_days(con, day)
    alerts = [
        *_ramping(con, day, days, settings),
        *_identical_bids(con, day, settings),
        *_floor_bids(con, day, days, settings),
    ]
    return sorted(alerts, key=lambda a: (a.rule, a.instrument, a.subjects, a.evidence.auctions))


def trading_days(con: duckdb.DuckDBPyConnection, day: int) -> list[int]:
    """The trading days up to and including ``day``, oldest first: those the store has a day row or an
    auction event for (an auction is only ever run on a trading day), and ``day``."""
    rows = con.execute(
        "SELECT day FROM days WHERE day < $day UNION SELECT day FROM auction_events WHERE day < $day ORDER BY day",
        {"day": day},
    ).fetchall()
    return [*(int(r[0]) for r in rows), day]


def live_bids(con: duckdb.DuckDBPyConnection, auction_ids: list[int]) -> list[LiveBid]:
    """The live bids of the auctions at the end of bidding, in bid order."""
    rows = con.execute(
        """
        SELECT auction_id, bid_id, account, price, quantity FROM (
            SELECT *, row_number() OVER (PARTITION BY auction_id, bid_id ORDER BY seq DESC, ev DESC) AS latest
            FROM bid_events
            WHERE event IN ('accepted', 'amended', 'withdrawn') AND list_contains(?, auction_id)
        ) WHERE latest = 1 AND event <> 'withdrawn'
        ORDER BY auction_id, bid_id
        """,
        [auction_ids],
    ).fetchall()
    return [LiveBid(int(r[0]), int(r[1]), str(r[2]), int(r[3]), int(r[4])) for r in rows]


def _accounts(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """Account -> (member, owner group)."""
    rows = con.execute("SELECT account, member, owner_group FROM accounts").fetchall()
    return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}


# ---------------------------------------------------------------------------------- ramping


def _ramping(con: duckdb.DuckDBPyConnection, day: int, days: list[int], settings: SurveillanceSettings) -> list[Alert]:
    cleared = con.execute(
        """
        SELECT auction_id, instrument, day, seq FROM auction_events
        WHERE event = 'cleared' AND NOT cancelled AND kind <> 'BUYBACK' AND day <= ?
        ORDER BY seq
        """,
        [day],
    ).fetchall()
    ticks = dict(con.execute("SELECT instrument, tick FROM instruments").fetchall())
    alerts: list[Alert] = []
    for auction_id, instrument, cleared_day, cleared_seq in cleared:
        params = settings.for_instrument(instrument).auction
        if not params.enabled or cleared_day not in days or days.index(cleared_day) < len(days) - 1 - params.ramp_days:
            continue
        tick = int(ticks.get(instrument, 1))
        earlier = days[days.index(cleared_day) : -1]  # the window's days before ``day``
        volume = _volume_since(con, instrument, cleared_seq, day)
        for winner, bids, buys in _winners_buys(con, auction_id, instrument, cleared_seq, day):
            figures = _ramp(buys, day, params, tick, volume)
            if figures is None or any(_ramp(buys, d, params, tick, volume) is not None for d in earlier):
                continue  # no ramp, or one already complete (and alerted) on an earlier day
            alerts.append(_ramp_alert(day, instrument, params, auction_id, winner, bids, buys, figures))
    return alerts


def _volume_since(con: duckdb.DuckDBPyConnection, instrument: str, cleared_seq: int, day: int) -> dict[int, int]:
    """The listing volume traded after the clearing up to the end of each trading day, cumulated."""
    rows = con.execute(
        "SELECT day, sum(quantity) FROM trades WHERE instrument = ? AND seq > ? AND day <= ? GROUP BY day ORDER BY day",
        [instrument, cleared_seq, day],
    ).fetchall()
    cumulated, total = {}, 0
    for traded_day, tonnes in rows:
        total += int(tonnes)
        cumulated[int(traded_day)] = total
    return cumulated


def _winners_buys(
    con: duckdb.DuckDBPyConnection, auction_id: int, instrument: str, cleared_seq: int, day: int
) -> list[tuple[str, list[int], list[Buy]]]:
    """Each winner of the auction: its allocated bids and its listing buys since the clearing, up to ``day``."""
    winners: dict[str, list[int]] = defaultdict(list)
    for account, bid_id in con.execute(
        """
        SELECT account, bid_id FROM bid_events
        WHERE event = 'allocated' AND allocated > 0 AND auction_id = ? ORDER BY account, bid_id
        """,
        [auction_id],
    ).fetchall():
        winners[str(account)].append(int(bid_id))
    buys: dict[str, list[Buy]] = defaultdict(list)
    for account, *buy in con.execute(
        """
        SELECT buy_account, day, trade_id, sell_account, price, aggressor = 'BUY', buy_order_id, quantity FROM trades
        WHERE instrument = ? AND seq > ? AND day <= ? AND list_contains(?, buy_account)
        ORDER BY seq, ev
        """,
        [instrument, cleared_seq, day, list(winners)],
    ).fetchall():
        buys[str(account)].append(Buy(*buy))
    return [(winner, bids, buys[winner]) for winner, bids in winners.items()]


def _orders(buys: list[Buy], until: int) -> list[list[Buy]]:
    """The buys up to the end of trading day ``until`` grouped by buy order, in the order they began."""
    orders: dict[int, list[Buy]] = {}
    for buy in buys:
        if buy.day <= until:
            orders.setdefault(buy.order_id, []).append(buy)
    return list(orders.values())


def _ramp(
    buys: list[Buy], until: int, params: AuctionParams, tick: int, volume: dict[int, int]
) -> dict[str, int] | None:
    """The ramp's figures when the buys up to the end of trading day ``until`` complete the pattern.

    A buy is one buy order: its price the highest it paid (how far it pushed), aggressive when it
    lifted the offer. Counted per fill, one honest order sweeping three levels would look like three
    rising buys. ``volume``: the listing volume since the clearing up to each day's end, cumulated."""
    orders = _orders(buys, until)
    n = len(orders)
    if n < max(2, params.ramp_min_buys):
        return None
    traded = max((tonnes for d, tonnes in volume.items() if d <= until), default=0)
    bought = sum(fill.quantity for order in orders for fill in order)
    share = BP * bought // traded if traded else 0
    if share < params.ramp_min_share_bp:
        return None  # too little of the market's buying to push its price
    prices = [max(fill.price for fill in order) for order in orders]
    rise = prices[-1] - prices[0]
    rising = sum(1 for before, after in pairwise(prices) if after >= before)
    aggressive = sum(1 for order in orders if any(fill.aggressive for fill in order))
    if (
        rise <= 0
        or rise < params.ramp_min_rise_ticks * tick
        or rising * BP < params.ramp_min_rising_bp * (n - 1)
        or aggressive * BP < params.ramp_min_aggressor_bp * n
    ):
        return None
    return {
        "buys": n,
        "first_price": prices[0],
        "last_price": prices[-1],
        "rise_ticks": rise // tick,
        "rising_bp": rising * BP // (n - 1),
        "aggressor_bp": aggressive * BP // n,
        "share_bp": share,
    }


def _ramp_alert(
    day: int,
    instrument: str,
    params: AuctionParams,
    auction_id: int,
    winner: str,
    bids: list[int],
    buys: list[Buy],
    figures: dict[str, int],
) -> Alert:
    bought = [fill for order in _orders(buys, day) for fill in order]
    return Alert(
        rule=RULE_IDS[0],
        trading_day=day,
        instrument=instrument,
        subjects=[winner],
        score_bp=mean_score(
            excess_score(figures["rise_ticks"], params.ramp_min_rise_ticks),
            excess_score(figures["buys"], params.ramp_min_buys),
        ),
        parameters=parameters(params),
        figures={**figures, "auction_id": auction_id},
        evidence=evidence(
            accounts=[winner, *(b.seller for b in bought)],
            trades=[b.trade_id for b in bought],
            bids=bids,
            auctions=[auction_id],
        ),
        summary=(
            f"{winner} won auction {auction_id} and placed {figures['buys']} buy orders at rising prices, "
            f"{cny(figures['first_price'])} to {cny(figures['last_price'])} ({figures['rise_ticks']} ticks)"
        ),
    )


# ---------------------------------------------------------------------------------- identical bids


def _identical_bids(con: duckdb.DuckDBPyConnection, day: int, settings: SurveillanceSettings) -> list[Alert]:
    rows = con.execute(
        """
        SELECT auction_id, arg_min(instrument, seq) FROM auction_events
        WHERE event IN ('closed', 'cleared', 'cancelled')
        GROUP BY auction_id HAVING arg_min(day, seq) = ? ORDER BY auction_id
        """,
        [day],
    ).fetchall()
    ended = [(int(a), str(i)) for a, i in rows if settings.for_instrument(str(i)).auction.enabled]
    if not ended:
        return []
    members = _accounts(con)
    by_auction: dict[int, dict[str, list[LiveBid]]] = defaultdict(lambda: defaultdict(list))
    for bid in live_bids(con, [a for a, _ in ended]):
        by_auction[bid.auction_id][bid.account].append(bid)
    alerts: list[Alert] = []
    for auction_id, instrument in ended:
        params = settings.for_instrument(instrument).auction
        bidders = by_auction[auction_id]
        schedules = {account: Counter((b.price, b.quantity) for b in bids) for account, bids in bidders.items()}
        for first, second in _pairs_sharing(schedules):
            if members.get(first, ("", ""))[0] == members.get(second, ("", ""))[0]:
                continue
            shared = schedules[first] & schedules[second]
            count = sum(shared.values())
            if count < max(1, params.identical_min_bids):
                continue
            mirror = int(schedules[first] == schedules[second])
            matching = [b.bid_id for a in (first, second) for b in bidders[a] if (b.price, b.quantity) in shared]
            alerts.append(
                Alert(
                    rule=RULE_IDS[1],
                    trading_day=day,
                    instrument=instrument,
                    subjects=[first, second],
                    score_bp=excess_score(count, params.identical_min_bids),
                    parameters=parameters(params),
                    figures={"shared_bids": count, "mirror": mirror, "auction_id": auction_id},
                    evidence=evidence(accounts=[first, second], bids=matching, auctions=[auction_id]),
                    summary=(
                        f"{first} and {second} (members {members.get(first, ('?', ''))[0]}, "
                        f"{members.get(second, ('?', ''))[0]}) placed {count} identical bids in auction "
                        f"{auction_id}" + (": mirror schedules" if mirror else "")
                    ),
                )
            )
    return alerts


def _pairs_sharing(schedules: dict[str, Counter[tuple[int, int]]]) -> list[tuple[str, str]]:
    """The pairs of accounts (sorted) with at least one (price, quantity) in common."""
    holders: dict[tuple[int, int], set[str]] = defaultdict(set)
    for account, schedule in schedules.items():
        for key in schedule:
            holders[key].add(account)
    pairs = {pair for accounts in holders.values() for pair in combinations(sorted(accounts), 2)}
    return sorted(pairs)


# ---------------------------------------------------------------------------------- floor bids


class _Cleared(NamedTuple):
    auction_id: int
    instrument: str
    day: int
    price_limit: int


def _floor_bids(
    con: duckdb.DuckDBPyConnection, day: int, days: list[int], settings: SurveillanceSettings
) -> list[Alert]:
    rows = con.execute(
        """
        SELECT auction_id, instrument, day, price_limit FROM auction_events
        WHERE event = 'cleared' AND day <= ? ORDER BY seq
        """,
        [day],
    ).fetchall()
    cleared: dict[str, list[_Cleared]] = defaultdict(list)
    for row in rows:
        auction = _Cleared(int(row[0]), str(row[1]), int(row[2]), int(row[3]))
        params = settings.for_instrument(auction.instrument).auction
        window = days[max(0, len(days) - params.floor_window_days) :] if params.floor_window_days else []
        if params.enabled and auction.day in window:
            cleared[auction.instrument].append(auction)
    alerts: list[Alert] = []
    groups = _accounts(con)
    for instrument, auctions in sorted(cleared.items()):
        if all(a.day != day for a in auctions):
            continue
        limits = {a.auction_id: a.price_limit for a in auctions}
        floor = [b for b in live_bids(con, list(limits)) if b.price == limits[b.auction_id]]
        by_group: dict[str, list[LiveBid]] = defaultdict(list)
        for bid in floor:
            member, owner_group = groups.get(bid.account, (bid.account, ""))
            by_group[owner_group or member].append(bid)
        today = {a.auction_id for a in auctions if a.day == day}
        params = settings.for_instrument(instrument).auction
        for group, bids in sorted(by_group.items()):
            if len(bids) < max(1, params.floor_min_bids) or not any(b.auction_id in today for b in bids):
                continue
            alerts.append(_floor_alert(day, instrument, params, group, bids))
    return alerts


def _floor_alert(day: int, instrument: str, params: AuctionParams, group: str, bids: list[LiveBid]) -> Alert:
    accounts = sorted({b.account for b in bids})
    auctions = sorted({b.auction_id for b in bids})
    return Alert(
        rule=RULE_IDS[2],
        trading_day=day,
        instrument=instrument,
        subjects=accounts,
        score_bp=excess_score(len(bids), params.floor_min_bids),
        parameters=parameters(params),
        figures={"floor_bids": len(bids), "auctions": len(auctions)},
        evidence=evidence(accounts=accounts, bids=[b.bid_id for b in bids], auctions=auctions),
        summary=f"group {group}: {len(bids)} bids at exactly the floor in {len(auctions)} auctions of {instrument}",
    )
