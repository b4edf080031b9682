"""Circular trading (RULES.md "Surveillance"): A → B → C (→ ...) → A.

A cycle is a sequence of legs (``wash.Leg``: one command's listing trades from one account to
another, or one executed agreement transfer), each delivering from the previous leg's buyer, in
journal order, the last back to the first leg's seller, among ``min_accounts``..``max_accounts``
distinct accounts; every leg's quantity within ``quantity_tolerance_bp`` of the first leg's, and the
last leg within ``window_s`` of the first (0: anywhere in the trading day). The goods come back to
where they started, so nobody's position changed and the volume was only for show.

Search: an account can sit in a cycle only if it both delivers and receives that day, so legs are
pruned to those accounts first (honest one-sided flow leaves nothing). From each leg the search
follows the legs its buyer delivered onward within the first leg's quantity band (legs indexed per
seller by quantity), later in time, to accounts not yet visited, at most ``max_accounts`` deep. Of
several legs to the same next account it follows the earliest, which leaves every later
continuation open. Every instance of a cycle (the same accounts in the same order, whichever
account it starts from) gives one alert with all its legs; subjects are all the cycle's accounts.

Score: for its best-scoring instance, the mean of ``1 - largest quantity deviation / tolerance`` and
``1 - time from first to last leg / window`` (window 0: the day's 09:30-15:00, 19,800 s).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator

import duckdb

from surveillance.alerts import Alert, evidence, mean_score
from surveillance.rules.wash import SECOND_NS, Leg, day_instruments, day_legs, within_score
from surveillance.settings import BP, CircularParams, SurveillanceSettings, parameters

RULE_IDS = ("circular",)
TRADING_DAY_S = 19_800  # 09:30 to 15:00, exchange time: the span of a window of "the trading day"
_END_OF_DAY = 2**63  # no deadline within the day (window_s 0)


def detect(con: duckdb.DuckDBPyConnection, day: int, settings: SurveillanceSettings) -> list[Alert]:
    alerts: list[Alert] = []
    for instrument in day_instruments(con, day):
        params = settings.for_instrument(instrument).circular
        if params.enabled:
            legs = _two_way_legs(day_legs(con, day, instrument))
            alerts += _alerts(day, instrument, params, _cycles(legs, params))
    return sorted(alerts, key=lambda alert: (alert.instrument, alert.subjects, alert.evidence.trades))


def _two_way_legs(legs: list[Leg]) -> list[Leg]:
    """The legs between accounts that both deliver and receive, repeatedly, until none is left out."""
    while True:
        sellers = {leg.seller for leg in legs}
        buyers = {leg.buyer for leg in legs}
        kept = [leg for leg in legs if leg.seller in buyers and leg.buyer in sellers]
        if len(kept) == len(legs):
            return kept
        legs = kept


class _Index:
    """The legs out of each account by quantity (a quantity band is one bisect away), and the legs
    of each pair of accounts by time (closing a cycle is one bisect away)."""

    def __init__(self, legs: list[Leg]) -> None:
        self.onward: dict[str, list[Leg]] = {}
        for leg in sorted(legs, key=lambda leg: (leg.quantity, leg.seq)):
            self.onward.setdefault(leg.seller, []).append(leg)
        self.quantities = {seller: [leg.quantity for leg in out] for seller, out in self.onward.items()}
        self.between: dict[tuple[str, str], list[Leg]] = {}
        for leg in legs:  # in journal order
            self.between.setdefault((leg.seller, leg.buyer), []).append(leg)
        self.seqs = {pair: [leg.seq for leg in out] for pair, out in self.between.items()}

    def within(self, seller: str, low: int, high: int) -> list[Leg]:
        quantities = self.quantities.get(seller, [])
        return self.onward.get(seller, [])[bisect_left(quantities, low) : bisect_right(quantities, high)]

    def first_after(self, seller: str, buyer: str, seq: int, low: int, high: int, deadline: int) -> Leg | None:
        """The first leg from seller to buyer after ``seq``, by ``deadline``, within the quantity band."""
        legs = self.between.get((seller, buyer), [])
        for leg in legs[bisect_right(self.seqs.get((seller, buyer), []), seq) :]:
            if leg.ts > deadline:
                return None
            if low <= leg.quantity <= high:
                return leg
        return None


class _Instance(tuple[Leg, ...]):
    """One round of a cycle: its legs in time order."""

    def deviation_bp(self) -> int:
        first = self[0].quantity
        return max(abs(leg.quantity - first) for leg in self) * BP // first

    def span_ns(self) -> int:
        return self[-1].ts - self[0].ts


def _cycles(legs: list[Leg], params: CircularParams) -> dict[tuple[str, ...], list[_Instance]]:
    """Every instance found, by its cycle: the accounts in order, from the smallest (one rotation)."""
    index = _Index(legs)
    cycles: dict[tuple[str, ...], list[_Instance]] = {}
    for start in legs:
        for instance in _Search(start, index, params).cycles([start]):
            accounts = [leg.seller for leg in instance]
            first = accounts.index(min(accounts))
            cycles.setdefault(tuple(accounts[first:] + accounts[:first]), []).append(instance)
    return cycles


class _Search:
    """The cycles that begin with ``start``: depth first over accounts, in time order."""

    def __init__(self, start: Leg, index: _Index, params: CircularParams) -> None:
        slack = start.quantity * params.quantity_tolerance_bp // BP
        self.low, self.high = start.quantity - slack, start.quantity + slack
        self.deadline = start.ts + params.window_s * SECOND_NS if params.window_s else _END_OF_DAY
        self.home = start.seller
        self.index, self.params = index, params
        self.visited = {start.seller, start.buyer}

    def cycles(self, path: list[Leg]) -> Iterator[_Instance]:
        # path's legs join len(path) + 1 accounts: closing keeps that many, going on adds one.
        last = path[-1]
        if len(path) + 1 >= self.params.min_accounts:
            home = self._home(last)
            if home is not None:
                yield _Instance((*path, home))
        if len(path) + 2 > self.params.max_accounts:
            return
        last_account = len(path) + 2 == self.params.max_accounts
        for buyer, leg in self._onward(last).items():
            if last_account:  # no room for another account after this one: it can only lead home
                home = self._home(leg)
                if home is not None:
                    yield _Instance((*path, leg, home))
                continue
            self.visited.add(buyer)
            yield from self.cycles([*path, leg])
            self.visited.discard(buyer)

    def _home(self, last: Leg) -> Leg | None:
        return self.index.first_after(last.buyer, self.home, last.seq, self.low, self.high, self.deadline)

    def _onward(self, last: Leg) -> dict[str, Leg]:
        """The earliest leg to each account not yet visited: any later one leaves fewer ways home."""
        earliest: dict[str, Leg] = {}
        for leg in self.index.within(last.buyer, self.low, self.high):
            if leg.seq <= last.seq or leg.ts > self.deadline or leg.buyer in self.visited:
                continue
            if leg.buyer not in earliest or leg.seq < earliest[leg.buyer].seq:
                earliest[leg.buyer] = leg
        return earliest


def _alerts(
    day: int, instrument: str, params: CircularParams, cycles: dict[tuple[str, ...], list[_Instance]]
) -> list[Alert]:
    window_ns = (params.window_s or TRADING_DAY_S) * SECOND_NS

    def score(instance: _Instance) -> int:
        return mean_score(
            within_score(params.quantity_tolerance_bp, instance.deviation_bp()),
            within_score(window_ns, instance.span_ns()),
        )

    alerts = []
    for accounts, instances in cycles.items():
        tightest = max(instances, key=lambda instance: (score(instance), -instance[0].seq))
        legs = {leg for instance in instances for leg in instance}
        trades = {trade for leg in legs for trade in leg.trades}
        transfers = {transfer for leg in legs for transfer in leg.transfers}
        route = " → ".join((*accounts, accounts[0]))
        alerts.append(
            Alert(
                rule="circular",
                trading_day=day,
                instrument=instrument,
                subjects=sorted(accounts),
                score_bp=score(tightest),
                parameters=parameters(params),
                figures={
                    "accounts": len(accounts),
                    "instances": len(instances),
                    "legs": len(legs),
                    "quantity_t": tightest[0].quantity,
                    "quantity_deviation_bp": tightest.deviation_bp(),
                    "span_s": tightest.span_ns() // SECOND_NS,
                },
                evidence=evidence(accounts, trades=trades, transfers=transfers),
                summary=f"{instrument} went round {route} ({len(instances)} instance(s)), "
                f"{tightest[0].quantity} t back to its seller within {tightest.span_ns() // SECOND_NS} s",
                instance=route,  # the same accounts round the other way are another cycle
            )
        )
    return alerts
