"""How well the rules found what was planted: recall and precision per rule, from labels and alerts.

A planted case is caught when an alert of its rule names one of the case's accounts among its
subjects and its evidence holds every key id the label lists (orders, trades, transfers, bids). An
alert is true when one of its subjects is an account of any planted case (a manipulator caught by
another rule's indicator is still a manipulator); otherwise it is a false alarm on honest flow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec

from engine.journal import Journal
from engine.recovery import record_config
from surveillance.alerts import Alert
from surveillance.detect import detect_day
from surveillance.ingest import ingest
from surveillance.planted.config import planted_config
from surveillance.planted.labels import RULE_IDS, PlantedCase
from surveillance.planted.run import ORDERS_PER_DAY, run_planted
from surveillance.settings import SurveillanceSettings
from surveillance.store import Store


class RuleScore(msgspec.Struct, kw_only=True):
    rule: str
    planted: int = 0
    caught: int = 0
    alerts: int = 0
    true_alerts: int = 0

    @property
    def recall_bp(self) -> int:
        return 10_000 * self.caught // self.planted if self.planted else 10_000

    @property
    def precision_bp(self) -> int:
        return 10_000 * self.true_alerts // self.alerts if self.alerts else 10_000


def caught(case: PlantedCase, alerts: Iterable[Alert]) -> bool:
    for alert in alerts:
        if alert.rule != case.rule or not set(alert.subjects) & set(case.accounts):
            continue
        found = alert.evidence
        if (
            set(case.orders) <= set(found.orders)
            and set(case.trades) <= set(found.trades)
            and set(case.transfers) <= set(found.transfers)
            and set(case.bids) <= set(found.bids)
        ):
            return True
    return False


def score(
    cases: Sequence[PlantedCase], alerts: Sequence[Alert], scores: dict[str, RuleScore] | None = None
) -> dict[str, RuleScore]:
    """Add one run's cases and alerts to ``scores`` (per rule id); the scores."""
    scores = scores if scores is not None else {rule: RuleScore(rule=rule) for rule in RULE_IDS}
    manipulators = {account for case in cases for account in case.accounts}
    for case in cases:
        entry = scores.setdefault(case.rule, RuleScore(rule=case.rule))
        entry.planted += 1
        entry.caught += caught(case, alerts)
    for alert in alerts:
        entry = scores.setdefault(alert.rule, RuleScore(rule=alert.rule))
        entry.alerts += 1
        entry.true_alerts += bool(set(alert.subjects) & manipulators)
    return scores


class PlantedOutcome(msgspec.Struct, kw_only=True):
    seed: int
    cases: list[PlantedCase]
    alerts: list[Alert]
    commands: int


def plant_and_detect(
    root: Path,
    seed: int,
    *,
    patterns: Sequence[str] = RULE_IDS,
    orders_per_day: int = ORDERS_PER_DAY,
    settings: SurveillanceSettings | None = None,
) -> PlantedOutcome:
    """A planted run written under ``root`` (data directory and store), ingested, and every day's alerts."""
    import datetime as dt

    config = planted_config(seed)
    data_dir, store_dir = root / f"planted-{seed}", root / f"planted-{seed}-surveillance"
    record_config(data_dir, config)
    with Journal.open(data_dir, fsync=False) as journal:
        run = run_planted(
            config, journal, seed=seed, first_day=dt.date(2026, 12, 1), patterns=patterns, orders_per_day=orders_per_day
        )
    alerts: list[Alert] = []
    with Store.open(store_dir) as store:
        ingest(data_dir, store, store_dir)
        for day in run.trading_days:
            alerts += detect_day(store.con, day, settings or SurveillanceSettings())
    return PlantedOutcome(seed=seed, cases=list(run.cases), alerts=alerts, commands=run.commands)
