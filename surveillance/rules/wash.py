"""Wash trades (RULES.md "Surveillance"; Art. 33: no change of beneficial ownership).

``wash.same_owner``: a listing trade or an executed agreement transfer between two different
accounts of one member, or of one declared beneficial-owner group (``accounts.owner_group``), of at
least ``min_quantity_t``. One alert per instrument and pair of accounts a day, listing every such
trade and transfer; both accounts are subjects. Score: the mean of
``excess_score(quantity, min_quantity_t)`` (the pair's total tonnes against the smallest alerted)
and ``excess_score(deals, 1)`` (its trades and transfers with each other): 0 for one deal of
exactly the minimum, growing with the size and with every repetition.

``wash.round_trip``: between two accounts of different owners (same-owner pairs are
``wash.same_owner``'s), A delivers to B and B delivers back to A within ``round_trip_window_s``,
the return within ``quantity_tolerance_bp`` of the first leg, so both positions end where they
began. A leg is one command's deliveries from one account to another (an order sweeping several
resting orders of the same counterparty is one leg) or one executed transfer. One alert per
instrument and pair of accounts a day with every matching leg; both accounts are subjects.
Score: for the best-matching out-and-back, the mean of ``1 - return time / window`` and
``1 - quantity difference / tolerance`` (each 1 when exact, 0 at the limit).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import duckdb

from surveillance.alerts import SCORE_MAX, Alert, evidence, excess_score, mean_score
from surveillance.settings import BP, SurveillanceSettings, WashParams, parameters

RULE_IDS = ("wash.same_owner", "wash.round_trip")
SECOND_NS = 1_000_000_000

# The instruments with a listing trade or an executed transfer on the day.
_INSTRUMENTS = """
    SELECT instrument FROM trades WHERE day = $day
    UNION
    SELECT instrument FROM transfer_events WHERE day = $day AND event = 'executed'
    ORDER BY instrument
"""

# One owner: one member, or one declared beneficial-owner group ('' is no group).
_SAME_OWNER = "(s.member = b.member OR (s.owner_group <> '' AND s.owner_group = b.owner_group))"

_SAME_OWNER_DELIVERIES = f"""
    WITH deliveries AS (
        SELECT seq, ev, trade_id AS trade, NULL::BIGINT AS transfer, quantity,
               sell_account AS seller, buy_account AS buyer
        FROM trades WHERE day = $day AND instrument = $instrument
        UNION ALL
        SELECT seq, ev, NULL, transfer_id, quantity, sell_account, buy_account
        FROM transfer_events WHERE day = $day AND instrument = $instrument AND event = 'executed'
    )
    SELECT d.seller, d.buyer, d.trade, d.transfer, d.quantity, s.member = b.member AS same_member
    FROM deliveries d
    JOIN accounts s ON s.account = d.seller
    JOIN accounts b ON b.account = d.buyer
    WHERE d.seller <> d.buyer AND d.quantity >= $min_quantity AND {_SAME_OWNER}
    ORDER BY d.seq, d.ev
"""

# A leg: what one command (or one executed transfer) delivered from one account to another.
LEGS = """
    legs AS (
        SELECT seq, min(ts) AS ts, sell_account AS seller, buy_account AS buyer, sum(quantity) AS quantity,
               list(trade_id ORDER BY trade_id) AS trades, []::BIGINT[] AS transfers
        FROM trades WHERE day = $day AND instrument = $instrument AND sell_account <> buy_account
        GROUP BY seq, sell_account, buy_account
        UNION ALL
        SELECT seq, ts, sell_account, buy_account, quantity, [], [transfer_id]
        FROM transfer_events
        WHERE day = $day AND instrument = $instrument AND event = 'executed' AND sell_account <> buy_account
    )
"""

# out: A delivers to B; back: B delivers to A later, within the window and the tolerance.
_ROUND_TRIPS = f"""
    WITH {LEGS}
    SELECT o.seller, o.buyer, o.trades, o.transfers, back.trades, back.transfers,
           back.ts - o.ts AS return_ns, abs(back.quantity - o.quantity) * {BP} // o.quantity AS difference_bp,
           o.quantity + back.quantity AS quantity
    FROM legs o
    JOIN legs back ON back.seller = o.buyer AND back.buyer = o.seller AND back.seq > o.seq
        AND back.ts - o.ts <= $window_ns
        AND abs(back.quantity - o.quantity) * {BP} <= $tolerance_bp * o.quantity
    LEFT JOIN accounts s ON s.account = o.seller
    LEFT JOIN accounts b ON b.account = o.buyer
    WHERE NOT coalesce({_SAME_OWNER}, false)
    ORDER BY o.seq, back.seq
"""


class Leg(NamedTuple):
    """One delivery from ``seller`` to ``buyer``: a command's trades between them, or one transfer."""

    seq: int
    ts: int
    seller: str
    buyer: str
    quantity: int
    trades: tuple[int, ...]
    transfers: tuple[int, ...]


def day_instruments(con: duckdb.DuckDBPyConnection, day: int) -> list[str]:
    """The instruments that changed hands (listing or transfer) on ``day``."""
    return [str(row[0]) for row in con.execute(_INSTRUMENTS, {"day": day}).fetchall()]


def day_legs(con: duckdb.DuckDBPyConnection, day: int, instrument: str) -> list[Leg]:
    """Every leg of ``instrument`` on ``day``, in journal order."""
    query = f"WITH {LEGS} SELECT * FROM legs ORDER BY seq, seller, buyer"
    rows = con.execute(query, {"day": day, "instrument": instrument}).fetchall()
    return [
        Leg(seq, ts, seller, buyer, quantity, tuple(trades), tuple(transfers))
        for seq, ts, seller, buyer, quantity, trades, transfers in rows
    ]


def within_score(limit: int, measured: int) -> int:
    """``1 - measured / limit`` in bp for a measure that must stay at or under ``limit``: exact is 1."""
    return SCORE_MAX if measured <= 0 else excess_score(limit, measured)


def detect(con: duckdb.DuckDBPyConnection, day: int, settings: SurveillanceSettings) -> list[Alert]:
    alerts: list[Alert] = []
    for instrument in day_instruments(con, day):
        params = settings.for_instrument(instrument).wash
        if params.enabled:
            alerts += _same_owner(con, day, instrument, params)
            alerts += _round_trips(con, day, instrument, params)
    return sorted(alerts, key=lambda alert: (alert.rule, alert.instrument, alert.subjects))


class _Pair:
    """What one pair of accounts did with each other on the day."""

    def __init__(self) -> None:
        self.trades: set[int] = set()
        self.transfers: set[int] = set()
        self.quantity = 0

    def add(self, trades: Iterable[int | None], transfers: Iterable[int | None]) -> None:
        self.trades.update(t for t in trades if t is not None)
        self.transfers.update(t for t in transfers if t is not None)


def _same_owner(con: duckdb.DuckDBPyConnection, day: int, instrument: str, params: WashParams) -> list[Alert]:
    values = {"day": day, "instrument": instrument, "min_quantity": params.min_quantity_t}
    pairs: dict[tuple[str, str], _Pair] = {}
    one_member: dict[tuple[str, str], bool] = {}
    for seller, buyer, trade, transfer, quantity, same_member in con.execute(_SAME_OWNER_DELIVERIES, values).fetchall():
        key = (min(seller, buyer), max(seller, buyer))
        pair = pairs.setdefault(key, _Pair())
        pair.add([trade], [transfer])
        pair.quantity += quantity
        one_member[key] = bool(same_member)
    alerts = []
    for (first, second), pair in sorted(pairs.items()):
        owner = "one member" if one_member[first, second] else "one beneficial-owner group"
        count = len(pair.trades) + len(pair.transfers)
        alerts.append(
            Alert(
                rule="wash.same_owner",
                trading_day=day,
                instrument=instrument,
                subjects=[first, second],
                score_bp=mean_score(excess_score(pair.quantity, params.min_quantity_t), excess_score(count, 1)),
                parameters=parameters(params),
                figures={
                    "trades": len(pair.trades),
                    "transfers": len(pair.transfers),
                    "quantity_t": pair.quantity,
                    "same_member": int(one_member[first, second]),
                    "same_group": int(not one_member[first, second]),
                },
                evidence=evidence([first, second], trades=pair.trades, transfers=pair.transfers),
                summary=f"{first} and {second} ({owner}) dealt with each other in {instrument}: "
                f"{count} trade(s) and transfer(s), {pair.quantity} t",
            )
        )
    return alerts


def _round_trips(con: duckdb.DuckDBPyConnection, day: int, instrument: str, params: WashParams) -> list[Alert]:
    window_ns = params.round_trip_window_s * SECOND_NS
    tolerance_bp = params.quantity_tolerance_bp
    values = {"day": day, "instrument": instrument, "window_ns": window_ns, "tolerance_bp": tolerance_bp}
    pairs: dict[tuple[str, str], _Pair] = {}
    best: dict[tuple[str, str], tuple[int, int, int, int]] = {}  # score, return ns, difference bp, quantity
    for row in con.execute(_ROUND_TRIPS, values).fetchall():
        seller, buyer, out_trades, out_transfers, back_trades, back_transfers, return_ns, difference_bp, quantity = row
        key = (min(seller, buyer), max(seller, buyer))
        pairs.setdefault(key, _Pair()).add([*out_trades, *back_trades], [*out_transfers, *back_transfers])
        score = mean_score(within_score(window_ns, return_ns), within_score(tolerance_bp, difference_bp))
        if key not in best or score > best[key][0]:
            best[key] = (score, return_ns, difference_bp, quantity)
    alerts = []
    for (first, second), pair in sorted(pairs.items()):
        score, return_ns, difference_bp, quantity = best[first, second]
        alerts.append(
            Alert(
                rule="wash.round_trip",
                trading_day=day,
                instrument=instrument,
                subjects=[first, second],
                score_bp=score,
                parameters=parameters(params),
                figures={
                    "trades": len(pair.trades),
                    "transfers": len(pair.transfers),
                    "return_ms": return_ns // 1_000_000,
                    "quantity_difference_bp": difference_bp,
                    "round_trip_quantity_t": quantity,
                },
                evidence=evidence([first, second], trades=pair.trades, transfers=pair.transfers),
                summary=f"{first} and {second} traded {instrument} out and back within "
                f"{return_ns // SECOND_NS} s ({quantity} t both ways), leaving their positions unchanged",
            )
        )
    return alerts
