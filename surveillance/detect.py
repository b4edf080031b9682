"""Running the rules over trading days and keeping what they find: each alert once, never changed.

An alert's identity is its fingerprint (``Alert.fingerprint``: what it is about, not its evidence):
running the rules again over the same day — after a later ingest, or by hand — adds only alerts that
are new, so the alert ids analysts work with stay put. An alert is raised with the journal seq the
store had reached.

Some rules judge a figure of the whole day — the close, a share of the day's volume, the day's
order-to-trade ratio, the holdings at the end of day, a ramp judged at each day's end — and run on
a day only once it has ended: during the day (``surveil watch``) they would alert on a figure that
is not yet the day's. The others fire as their pattern completes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from types import ModuleType

import duckdb
import msgspec

from surveillance.alerts import Alert
from surveillance.rules import auction_linked, circular, concentration, marking_close, prohibited, spoofing, wash
from surveillance.settings import SurveillanceSettings
from surveillance.store import Store

RULE_MODULES: tuple[ModuleType, ...] = (
    wash,
    circular,
    spoofing,
    marking_close,
    concentration,
    auction_linked,
    prohibited,
)
RULE_IDS: tuple[str, ...] = tuple(rule for module in RULE_MODULES for rule in module.RULE_IDS)
DAY_END_RULES: frozenset[str] = frozenset(
    {
        "spoofing.order_to_trade",
        "marking_close.vwap",
        "marking_close.last_minutes",
        "concentration.volume_share",
        "concentration.near_limit",
        "concentration.large_holder",
        "auction.ramping",
    }
)

Detector = Callable[[duckdb.DuckDBPyConnection, int, SurveillanceSettings], list[Alert]]


def detect_day(con: duckdb.DuckDBPyConnection, day: int, settings: SurveillanceSettings) -> list[Alert]:
    """Every alert of trading day ``day``, rule by rule, in a stable order (the day-end rules' only
    once the day has ended)."""
    ended = bool(con.execute("SELECT count(*) FROM days WHERE day = ? AND ended", [day]).fetchall()[0][0])
    alerts: list[Alert] = []
    for module in RULE_MODULES:
        detector: Detector = module.detect
        alerts += [a for a in detector(con, day, settings) if ended or a.rule not in DAY_END_RULES]
    return alerts


def raise_alerts(store: Store, days: Iterable[int], settings: SurveillanceSettings) -> list[tuple[int, Alert]]:
    """Run the rules over ``days`` and store the alerts not already stored; the new ones with their ids."""
    new: list[tuple[int, Alert]] = []
    raised_seq = int(store.meta("last_seq", "0"))
    raised_at = time.time_ns()
    for day in sorted(set(days)):
        found = detect_day(store.con, day, settings)
        if not found:
            continue
        with store.transaction():
            known = {
                row[0] for row in store.con.execute("SELECT fingerprint FROM alerts WHERE day = ?", [day]).fetchall()
            }
            next_id = store.scalar("SELECT coalesce(max(alert_id), 0) + 1 FROM alerts")
            rows = []
            for alert in found:
                fingerprint = alert.fingerprint()
                if fingerprint in known:
                    continue
                known.add(fingerprint)
                rows.append(_row(next_id, fingerprint, alert, raised_seq, raised_at))
                new.append((next_id, alert))
                next_id += 1
            store.insert("alerts", rows)
    return new


def stored_days(con: duckdb.DuckDBPyConnection) -> list[int]:
    return [int(row[0]) for row in con.execute("SELECT day FROM days ORDER BY day").fetchall()]


def _row(alert_id: int, fingerprint: str, alert: Alert, raised_seq: int, raised_at: int) -> tuple[object, ...]:
    encode = msgspec.json.encode
    return (
        alert_id,
        fingerprint,
        alert.rule,
        alert.trading_day,
        alert.instrument,
        ",".join(alert.subjects),
        alert.score_bp,
        encode(alert.parameters).decode(),
        encode(alert.figures).decode(),
        encode(alert.evidence).decode(),
        alert.summary,
        raised_seq,
        raised_at,
    )
