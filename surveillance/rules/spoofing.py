"""Spoofing and layering (RULES.md "Surveillance"; CFTC cases: spoof orders 10-50× the genuine ones,
cancelled about 2 s after the genuine order fills).

``spoofing.layering``, per account, instrument and day. The account's median order size is the
lower median of the quantities of its accepted orders (``order_events`` 'accepted'), judged only
with at least ``min_orders`` of them. A large order is one of at least ``size_multiple`` × that
median, resting at entry at least ``away_ticks`` ticks behind the best price of its own side in the
book it met (``best_bid``/``best_ask`` of its accepted row): a buy at or under
``best_bid - away_ticks × tick``, a sell at or over ``best_ask + away_ticks × tick``. With its own
side empty it is measured from the opposite best, one tick further (a buy at or under
``best_ask - (away_ticks + 1) × tick``: as far back as if a best bid stood one tick under the
ask); with both sides empty, or as a market order, it is never away. The account then trades on
the other side (a fill of its own opposite order while the large order rests) and cancels the large
order itself (reason USER) within ``cancel_within_s`` of that fill. One alert per account: subject
the account; evidence the large orders, the genuine orders that filled and their trades.
Score: the mean of ``excess_score(largest multiple, size_multiple)`` (multiples in bp) and
``excess_score(cancel_within_s, quickest cancel)`` (in ms: 1 for a cancel at once, 0 at the limit).

``spoofing.order_to_trade``, per account, instrument and day: messages are its order entries
(accepted), amendments and own cancels (reason USER; one mass cancel is one message), not its
rejected orders, which never reached the book and so misled nobody (``prohibited`` sees those);
trades are the distinct trades it was party to. Alert when messages >= ``min_messages`` and
messages > ``max_order_to_trade`` × max(trades, 1). Score: ``excess_score(ratio, max_order_to_trade)``,
the ratio messages / max(trades, 1) in bp.
"""

from __future__ import annotations

import duckdb

from surveillance.alerts import Alert, evidence, excess_score, mean_score
from surveillance.settings import BP, SpoofingParams, SurveillanceSettings, parameters

RULE_IDS = ("spoofing.layering", "spoofing.order_to_trade")
SECOND_NS = 1_000_000_000
MILLISECOND_NS = 1_000_000

_INSTRUMENTS = "SELECT DISTINCT instrument FROM order_events WHERE day = $day ORDER BY instrument"

_LAYERING = """
    WITH day_orders AS (
        SELECT * FROM order_events WHERE day = $day AND instrument = $instrument
    ),
    accepted AS (
        SELECT order_id, account, side, price, quantity, best_bid, best_ask, seq
        FROM day_orders WHERE event = 'accepted'
    ),
    sizes AS (
        SELECT account, quantile_disc(quantity, 0.5) AS median_size
        FROM accepted GROUP BY account HAVING count(*) >= $min_orders
    ),
    step AS (
        SELECT coalesce(max(tick), 1) AS tick FROM instruments WHERE instrument = $instrument
    ),
    large AS (
        SELECT a.*, s.median_size
        FROM accepted a JOIN sizes s USING (account), step
        WHERE a.quantity >= $size_multiple * s.median_size AND a.price > 0
          AND CASE a.side
              WHEN 'BUY' THEN CASE WHEN a.best_bid > 0 THEN a.price <= a.best_bid - $away_ticks * step.tick
                                   ELSE a.best_ask > 0 AND a.price <= a.best_ask - ($away_ticks + 1) * step.tick END
              ELSE CASE WHEN a.best_ask > 0 THEN a.price >= a.best_ask + $away_ticks * step.tick
                        ELSE a.best_bid > 0 AND a.price >= a.best_bid + ($away_ticks + 1) * step.tick END
          END
    )
    SELECT l.account, l.order_id, l.quantity, l.median_size, f.order_id, f.trade_id, f.counterparty,
           c.ts - f.ts AS to_cancel_ns
    FROM large l
    JOIN day_orders c ON c.order_id = l.order_id AND c.event = 'cancelled' AND c.reason = 'USER'
    JOIN day_orders f ON f.account = l.account AND f.event = 'filled' AND f.side <> l.side
        AND f.seq > l.seq AND f.seq < c.seq AND c.ts - f.ts <= $cancel_within_ns
    ORDER BY l.account, l.order_id, f.seq
"""

_ORDER_TO_TRADE = """
    WITH counts AS (
        SELECT account,
               count(*) FILTER (WHERE event = 'accepted') AS entered,
               count(*) FILTER (WHERE event = 'amended') AS amended,
               count(DISTINCT seq) FILTER (WHERE event = 'cancelled' AND reason = 'USER') AS cancelled,
               count(DISTINCT trade_id) FILTER (WHERE event = 'filled') AS trades,
               coalesce(list(DISTINCT order_id) FILTER (
                   WHERE event IN ('accepted', 'amended') OR (event = 'cancelled' AND reason = 'USER')
               ), []) AS orders,
               coalesce(list(DISTINCT trade_id) FILTER (WHERE event = 'filled'), []) AS trade_ids
        FROM order_events
        WHERE day = $day AND instrument = $instrument AND account <> ''
        GROUP BY account
    )
    SELECT account, entered, amended, cancelled, trades, orders, trade_ids
    FROM counts
    WHERE entered + amended + cancelled >= $min_messages
      AND entered + amended + cancelled > $max_order_to_trade * greatest(trades, 1)
    ORDER BY account
"""


def detect(con: duckdb.DuckDBPyConnection, day: int, settings: SurveillanceSettings) -> list[Alert]:
    alerts: list[Alert] = []
    for (instrument,) in con.execute(_INSTRUMENTS, {"day": day}).fetchall():
        params = settings.for_instrument(instrument).spoofing
        if params.enabled:
            alerts += _layering(con, day, instrument, params)
            alerts += _order_to_trade(con, day, instrument, params)
    return sorted(alerts, key=lambda alert: (alert.rule, alert.instrument, alert.subjects))


class _Layers:
    """One account's large orders cancelled soon after its trades on the other side."""

    def __init__(self, median_size: int) -> None:
        self.median_size = median_size
        self.large_orders: set[int] = set()
        self.genuine_orders: set[int] = set()
        self.trades: set[int] = set()
        self.counterparties: set[str] = set()
        self.largest = 0
        self.quickest_ns: int | None = None

    def add(self, large: int, quantity: int, genuine: int, trade: int, counterparty: str, to_cancel_ns: int) -> None:
        self.large_orders.add(large)
        self.genuine_orders.add(genuine)
        self.trades.add(trade)
        self.counterparties.add(counterparty)
        self.largest = max(self.largest, quantity)
        quickest = self.quickest_ns
        self.quickest_ns = to_cancel_ns if quickest is None else min(quickest, to_cancel_ns)


def _layering(con: duckdb.DuckDBPyConnection, day: int, instrument: str, params: SpoofingParams) -> list[Alert]:
    values = {
        "day": day,
        "instrument": instrument,
        "min_orders": params.min_orders,
        "size_multiple": params.size_multiple,
        "away_ticks": params.away_ticks,
        "cancel_within_ns": params.cancel_within_s * SECOND_NS,
    }
    accounts: dict[str, _Layers] = {}
    for account, order_id, quantity, median_size, *fill in con.execute(_LAYERING, values).fetchall():
        accounts.setdefault(account, _Layers(int(median_size))).add(order_id, quantity, *fill)
    alerts = []
    for account, layers in sorted(accounts.items()):
        multiple_bp = layers.largest * BP // layers.median_size
        to_cancel_ms = (layers.quickest_ns or 0) // MILLISECOND_NS
        score = mean_score(
            excess_score(multiple_bp, params.size_multiple * BP),
            excess_score(params.cancel_within_s * 1_000, to_cancel_ms),
        )
        alerts.append(
            Alert(
                rule="spoofing.layering",
                trading_day=day,
                instrument=instrument,
                subjects=[account],
                score_bp=score,
                parameters=parameters(params),
                figures={
                    "median_size_t": layers.median_size,
                    "large_orders": len(layers.large_orders),
                    "largest_multiple_bp": multiple_bp,
                    "opposite_trades": len(layers.trades),
                    "ms_to_cancel": to_cancel_ms,
                },
                evidence=evidence(
                    {account} | layers.counterparties,
                    orders=layers.large_orders | layers.genuine_orders,
                    trades=layers.trades,
                ),
                summary=f"{account} rested {len(layers.large_orders)} order(s) of up to {multiple_bp / BP:.1f}× its "
                f"median {layers.median_size} t away from the best in {instrument}, traded the other side and "
                f"cancelled them {to_cancel_ms} ms later",
            )
        )
    return alerts


def _order_to_trade(con: duckdb.DuckDBPyConnection, day: int, instrument: str, params: SpoofingParams) -> list[Alert]:
    values = {
        "day": day,
        "instrument": instrument,
        "min_messages": params.min_messages,
        "max_order_to_trade": params.max_order_to_trade,
    }
    alerts = []
    for account, entered, amended, cancelled, trades, orders, trade_ids in con.execute(
        _ORDER_TO_TRADE, values
    ).fetchall():
        messages = entered + amended + cancelled
        ratio_bp = messages * BP // max(trades, 1)
        alerts.append(
            Alert(
                rule="spoofing.order_to_trade",
                trading_day=day,
                instrument=instrument,
                subjects=[account],
                score_bp=excess_score(ratio_bp, params.max_order_to_trade * BP),
                parameters=parameters(params),
                figures={
                    "messages": messages,
                    "entered": entered,
                    "amended": amended,
                    "cancelled": cancelled,
                    "trades": trades,
                    "order_to_trade_bp": ratio_bp,
                },
                evidence=evidence([account], orders=orders, trades=trade_ids),
                summary=f"{account} sent {messages} order messages in {instrument} for {trades} trade(s): "
                f"{ratio_bp / BP:.1f} per trade",
            )
        )
    return alerts
