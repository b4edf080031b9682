"""Raising alerts: each once, by what it is about (not its growing evidence); day-end rules wait for the day's end."""

from __future__ import annotations

from surveillance.cases import list_alerts
from surveillance.detect import DAY_END_RULES, RULE_IDS, detect_day, raise_alerts
from surveillance.settings import SurveillanceSettings
from tests.surveil_rows import DAY, Market, at

SETTINGS = SurveillanceSettings()


def market(*, ended: bool) -> Market:
    m = Market()
    for account, member in (("A1", "M1"), ("A2", "M1"), ("B1", "M2"), ("C1", "M3"), ("D1", "M4")):
        m.account(account, member)
    m.store.insert("days", [(DAY, 1, at(-1_800), 1_000, at(6 * 3_600), ended)])
    return m


def test_a_pattern_that_grows_during_the_day_is_one_alert_raised_with_what_was_known() -> None:
    m = market(ended=False)
    first = m.trade("A1", "A2", 8_000, 100, at(10))  # one member on both sides: wash.same_owner

    [(alert_id, alert)] = raise_alerts(m.store, [DAY], SETTINGS)
    m.trade("A1", "A2", 8_000, 200, at(20))
    again = raise_alerts(m.store, [DAY], SETTINGS)

    assert alert.rule == "wash.same_owner" and alert.evidence.trades == [first]
    assert again == []
    assert [a.alert_id for a in list_alerts(m.con)] == [alert_id]


def test_day_end_rules_wait_for_the_end_of_the_day() -> None:
    m = market(ended=False)
    m.trade("B1", "C1", 8_000, 100, at(10))  # each of them: 100% of the day's volume

    during = {a.rule for a in detect_day(m.con, DAY, SETTINGS)}
    m.con.execute("UPDATE days SET ended = TRUE WHERE day = ?", [DAY])
    after = {a.rule for a in detect_day(m.con, DAY, SETTINGS)}

    assert "concentration.volume_share" not in during
    assert "concentration.volume_share" in after
    assert during & DAY_END_RULES == set() and set(RULE_IDS) >= DAY_END_RULES


def test_the_same_accounts_round_the_other_way_are_another_alert() -> None:
    m = market(ended=True)
    for n, (seller, buyer) in enumerate((("B1", "C1"), ("C1", "D1"), ("D1", "B1"))):
        m.trade(buyer, seller, 8_000, 100, at(60 * n))
    for n, (seller, buyer) in enumerate((("B1", "D1"), ("D1", "C1"), ("C1", "B1"))):
        m.trade(buyer, seller, 8_000, 100, at(600 + 60 * n))

    raised = [a for _, a in raise_alerts(m.store, [DAY], SETTINGS) if a.rule == "circular"]

    assert len(raised) == 2
    assert len({a.fingerprint() for a in raised}) == 2 and {tuple(a.subjects) for a in raised} == {("B1", "C1", "D1")}
