"""The rules against the planted-manipulation generator: every planted case caught with its evidence,
and the honest flow of a seed raising no alert of any rule (docs/SURVEILLANCE.md "The measure of quality").

Each run journals three trading days of 200+ accounts, ingests them into a store and runs every rule
over every day, as `carbonx simulate --with-manipulation` then `carbonx surveil ingest` do.
"""

from __future__ import annotations

import pytest

from surveillance.detect import RULE_IDS as DETECTED_RULES
from surveillance.planted import RULE_IDS
from surveillance.planted.scoring import PlantedOutcome, caught, plant_and_detect, score

pytestmark = pytest.mark.not_per_book

SEEDS = (1, 2, 3)


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{seed}" for seed in SEEDS])
def planted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PlantedOutcome:
    return plant_and_detect(tmp_path_factory.mktemp("planted"), request.param)


@pytest.fixture(scope="module", params=(11, 12), ids=["honest11", "honest12"])
def honest(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PlantedOutcome:
    return plant_and_detect(tmp_path_factory.mktemp("honest"), request.param, patterns=())


def test_the_generator_plants_every_rule_the_detector_has() -> None:
    assert set(RULE_IDS) == set(DETECTED_RULES)


@pytest.mark.parametrize("rule", RULE_IDS)
def test_every_planted_case_is_caught_with_its_evidence(planted: PlantedOutcome, rule: str) -> None:
    cases = [case for case in planted.cases if case.rule == rule]
    assert cases, f"seed {planted.seed} planted no {rule}"
    missed = [case for case in cases if not caught(case, planted.alerts)]
    assert not missed, f"seed {planted.seed}: {rule} missed {missed}"


def test_every_alert_names_a_planted_manipulator(planted: PlantedOutcome) -> None:
    manipulators = {account for case in planted.cases for account in case.accounts}
    false_alarms = [(a.rule, a.subjects, a.summary) for a in planted.alerts if not set(a.subjects) & manipulators]
    assert false_alarms == []


def test_the_scores_count_every_case_and_alert(planted: PlantedOutcome) -> None:
    scores = score(planted.cases, planted.alerts)
    assert sum(s.planted for s in scores.values()) == len(planted.cases)
    assert sum(s.alerts for s in scores.values()) == len(planted.alerts)
    assert all(s.recall_bp == 10_000 and s.precision_bp == 10_000 for s in scores.values())


@pytest.mark.parametrize("rule", RULE_IDS)
def test_the_honest_flow_raises_no_alert_of_the_rule(honest: PlantedOutcome, rule: str) -> None:
    assert honest.cases == []
    assert [a.summary for a in honest.alerts if a.rule == rule] == []


def test_a_missed_case_is_not_counted_as_caught(planted: PlantedOutcome) -> None:
    case = next(c for c in planted.cases if c.trades)
    others = [a for a in planted.alerts if a.rule != case.rule or not set(a.subjects) & set(case.accounts)]
    assert not caught(case, others)
    scores = score([case], others)
    assert scores[case.rule].caught == 0 and scores[case.rule].recall_bp == 0


def test_alerts_keep_to_their_day(planted: PlantedOutcome) -> None:
    days = {case.trading_day for case in planted.cases}
    assert {alert.trading_day for alert in planted.alerts} <= days
