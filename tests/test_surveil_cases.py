"""``surveillance.cases``: the case workflow's audit. Every action is a new row (who, when, what), never
an update; the status is read from the actions; a closed case takes notes only."""

from __future__ import annotations

import contextlib
import itertools
import time
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from surveillance.alerts import Alert, evidence
from surveillance.cases import STATUSES, AlertRow, act, case_actions, get_alert, list_alerts, status_after
from surveillance.settings import SurveillanceError
from surveillance.store import Store

DAY1, DAY2 = 20261201, 20261202
T0 = 1_780_000_000_000_000_000  # wall-clock ns of the first action


def alert(rule: str, day: int = DAY1, score_bp: int = 5_000, subjects: tuple[str, ...] = ("A1",)) -> Alert:
    return Alert(
        rule=rule,
        trading_day=day,
        instrument="SHEA2025",
        subjects=list(subjects),
        score_bp=score_bp,
        parameters={"threshold": 3},
        figures={"observed": 4},
        evidence=evidence(subjects, trades=[7, 8]),
        summary=f"{rule} by {', '.join(subjects)}",
    )


def store_alerts(store: Store, *alerts: Alert) -> list[int]:
    """The alerts as ``surveillance.detect`` stores them (one row each, ids from 1); their ids."""
    encode = msgspec.json.encode
    first = store.scalar("SELECT coalesce(max(alert_id), 0) + 1 FROM alerts")
    store.insert(
        "alerts",
        [
            (first + i, a.fingerprint(), a.rule, a.trading_day, a.instrument, ",".join(a.subjects), a.score_bp,
             encode(a.parameters).decode(), encode(a.figures).decode(), encode(a.evidence).decode(), a.summary,
             100 + i, T0 - 1)
            for i, a in enumerate(alerts)
        ],
    )  # fmt: skip
    return [first + i for i in range(len(alerts))]


def all_rows(store: Store, table: str) -> list[tuple[Any, ...]]:
    return store.con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


@pytest.fixture
def store() -> Store:
    return Store.memory()


@pytest.fixture
def case(store: Store) -> int:
    (alert_id,) = store_alerts(store, alert("wash.same_owner"))
    return alert_id


# ------------------------------------------------------------------ each action is a row
def test_each_action_appends_one_row_with_who_when_what_and_to_whom(store: Store, case: int) -> None:
    act(store, case, "assign", analyst="lin", assignee="wang", now=T0 + 1)
    act(store, case, "note", analyst="wang", text="both accounts trade from one office", now=T0 + 2)
    act(store, case, "escalate", analyst="wang", text="for compliance", now=T0 + 3)
    act(store, case, "close", analyst="chen", text="referred to the regulator", now=T0 + 4)

    rows = all_rows(store, "case_actions")

    assert rows == [
        (1, case, T0 + 1, "lin", "assign", "wang", ""),
        (2, case, T0 + 2, "wang", "note", "", "both accounts trade from one office"),
        (3, case, T0 + 3, "wang", "escalate", "", "for compliance"),
        (4, case, T0 + 4, "chen", "close", "", "referred to the regulator"),
    ]


def test_an_action_returns_what_it_recorded_and_case_actions_reads_it_back(store: Store, case: int) -> None:
    done = act(store, case, "assign", analyst="  lin ", assignee=" wang  ", now=T0)

    assert (done.action_id, done.alert_id, done.acted_at, done.analyst, done.action, done.assignee, done.text) == (
        1, case, T0, "lin", "assign", "wang", ""
    )  # fmt: skip
    assert case_actions(store.con, case) == [done]


def test_without_now_an_action_is_stamped_with_the_wall_clock(store: Store, case: int) -> None:
    before = time.time_ns()
    done = act(store, case, "note", analyst="lin", text="seen")
    after = time.time_ns()

    assert before <= done.acted_at <= after


def test_actions_of_one_case_are_not_another_cases(store: Store) -> None:
    first, second = store_alerts(store, alert("wash.same_owner"), alert("circular", subjects=("B1", "C1")))
    act(store, first, "assign", analyst="lin", assignee="wang", now=T0)
    act(store, second, "note", analyst="lin", text="looked", now=T0 + 1)

    assert [a.action for a in case_actions(store.con, first)] == ["assign"]
    assert [a.action for a in case_actions(store.con, second)] == ["note"]
    assert (get_alert(store.con, first).status, get_alert(store.con, second).status) == ("assigned", "new")


# ------------------------------------------------------------------ statuses
def test_a_case_goes_from_new_to_assigned_to_escalated_to_closed(store: Store, case: int) -> None:
    statuses = [get_alert(store.con, case).status]
    for action, fields in (
        ("assign", {"assignee": "wang"}),
        ("escalate", {"text": "needs a second look"}),
        ("close", {"text": "no manipulation: two funds of one manager"}),
    ):
        act(store, case, action, analyst="lin", now=T0, **fields)
        statuses.append(get_alert(store.con, case).status)

    assert statuses == ["new", "assigned", "escalated", "closed"]


def test_the_assignee_is_the_last_one_assigned(store: Store, case: int) -> None:
    act(store, case, "assign", analyst="lin", assignee="wang", now=T0)
    act(store, case, "escalate", analyst="wang", now=T0 + 1)
    act(store, case, "assign", analyst="lin", assignee="zhao", now=T0 + 2)

    found = get_alert(store.con, case)

    assert (found.status, found.assignee) == ("assigned", "zhao")


@pytest.mark.parametrize("before", [[], ["assign"], ["assign", "escalate"], ["escalate"], ["close"]])
def test_a_note_never_changes_the_status(store: Store, case: int, before: list[str]) -> None:
    for action in before:
        act(store, case, action, analyst="lin", assignee="wang", text="why", now=T0)
    status = get_alert(store.con, case).status

    act(store, case, "note", analyst="wang", text="a note", now=T0 + 1)

    assert get_alert(store.con, case).status == status
    assert status == status_after(case_actions(store.con, case))


@pytest.mark.parametrize("action", ["assign", "escalate", "close"])
def test_after_close_only_notes_are_taken(store: Store, case: int, action: str) -> None:
    act(store, case, "close", analyst="lin", text="nothing found", now=T0)
    before = all_rows(store, "case_actions")

    with pytest.raises(SurveillanceError) as refused:
        act(store, case, action, analyst="lin", assignee="wang", text="reopen", now=T0 + 1)
    act(store, case, "note", analyst="lin", text="learnt later: the accounts merged", now=T0 + 2)

    assert str(refused.value) == f"alert {case}: the case is closed; only notes may be added"
    assert all_rows(store, "case_actions") == [
        *before,
        (2, case, T0 + 2, "lin", "note", "", "learnt later: the accounts merged"),
    ]
    assert get_alert(store.con, case).status == "closed"


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("action", "fields", "message"),
    [
        ("note", {"analyst": "lin", "text": "  "}, "note: the note must not be empty"),
        ("close", {"analyst": "lin", "text": ""}, "close: --reason must not be empty"),
        ("assign", {"analyst": "lin", "assignee": " "}, "assign: name the analyst the case goes to"),
        ("note", {"analyst": " ", "text": "seen"}, "--analyst: name who acts"),
        ("reopen", {"analyst": "lin"}, "'reopen': not a case action (assign, note, escalate, close)"),
    ],
)
def test_an_action_that_makes_no_sense_is_refused_with_one_line_and_nothing_written(
    store: Store, case: int, action: str, fields: dict[str, str], message: str
) -> None:
    with pytest.raises(SurveillanceError) as refused:
        act(store, case, action, now=T0, **fields)

    assert str(refused.value) == message
    assert all_rows(store, "case_actions") == []


def test_an_unknown_alert_is_refused_with_one_line(store: Store, case: int) -> None:
    with pytest.raises(SurveillanceError) as refused:
        act(store, case + 41, "note", analyst="lin", text="seen", now=T0)
    with pytest.raises(SurveillanceError) as unknown:
        get_alert(store.con, case + 41)

    assert str(refused.value) == str(unknown.value) == f"alert {case + 41}: no such alert"
    assert all_rows(store, "case_actions") == []


# ------------------------------------------------------------------ append-only
def test_nothing_is_ever_updated_in_place(store: Store) -> None:
    ids = store_alerts(store, alert("wash.same_owner"), alert("spoofing.layering", subjects=("B1",)))
    alerts_before = all_rows(store, "alerts")
    steps = [
        (ids[0], "assign", {"assignee": "wang"}),
        (ids[1], "note", {"text": "first look"}),
        (ids[0], "escalate", {"text": "pattern repeats"}),
        (ids[0], "assign", {"assignee": "zhao"}),
        (ids[1], "close", {"text": "market maker"}),
        (ids[1], "note", {"text": "confirmed by the member"}),
        (ids[0], "close", {"text": "referred"}),
    ]
    history: list[list[tuple[Any, ...]]] = [all_rows(store, "case_actions")]

    for n, (alert_id, action, fields) in enumerate(steps):
        act(store, alert_id, action, analyst="lin", now=T0 + n, **fields)
        history.append(all_rows(store, "case_actions"))

    assert [len(rows) for rows in history] == list(range(len(steps) + 1))
    assert all(later[: len(earlier)] == earlier for earlier, later in itertools.pairwise(history))
    assert all_rows(store, "alerts") == alerts_before


# ------------------------------------------------------------------ STATUS_SQL agrees with status_after
steps = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(["assign", "note", "escalate", "close"]), st.sampled_from(["a", "b"])),
    max_size=25,
)


@given(steps)
def test_the_stored_status_agrees_with_the_actions_whatever_they_were(actions: list[tuple[int, str, str]]) -> None:
    store = Store.memory()
    ids = store_alerts(store, alert("wash.same_owner"), alert("circular"), alert("prohibited", day=DAY2))
    for n, (which, action, who) in enumerate(actions):
        with contextlib.suppress(SurveillanceError):  # refused on a closed case: only what was recorded counts
            act(store, ids[which], action, analyst="lin", assignee=who, text=f"step {n}", now=T0 + n)

    listed = {a.alert_id: (a.status, a.assignee) for a in list_alerts(store.con)}

    for alert_id in ids:
        recorded = case_actions(store.con, alert_id)
        assigned = [a.assignee for a in recorded if a.action == "assign"]
        expected = (status_after(recorded), assigned[-1] if assigned else "")
        assert listed[alert_id] == expected
        found = get_alert(store.con, alert_id)
        assert (found.status, found.assignee) == expected
        closed_at = next((i for i, a in enumerate(recorded) if a.action == "close"), len(recorded))
        assert all(a.action == "note" for a in recorded[closed_at + 1 :])


# ------------------------------------------------------------------ listing alerts
@pytest.fixture
def listed(store: Store) -> dict[str, int]:
    """Five alerts over two days; one case assigned, one closed."""
    names = ["same_owner", "round_trip", "layering", "close", "washing"]
    ids = store_alerts(
        store,
        alert("wash.same_owner", DAY1, 4_000),
        alert("wash.round_trip", DAY1, 9_000, ("A2",)),
        alert("spoofing.layering", DAY1, 9_000, ("A3",)),
        alert("marking_close.vwap", DAY2, 1_000),
        alert("washing.machine", DAY2, 2_000),
    )
    found = dict(zip(names, ids, strict=True))
    act(store, found["round_trip"], "assign", analyst="lin", assignee="wang", now=T0)
    act(store, found["close"], "close", analyst="lin", text="the close was honest", now=T0)
    return found


def ids_of(found: list[AlertRow]) -> list[int]:
    return [a.alert_id for a in found]


def test_alerts_are_listed_by_day_then_score_highest_first_then_id(store: Store, listed: dict[str, int]) -> None:
    assert ids_of(list_alerts(store.con)) == [
        listed["round_trip"], listed["layering"], listed["same_owner"], listed["washing"], listed["close"]
    ]  # fmt: skip


def test_alerts_are_filtered_by_day(store: Store, listed: dict[str, int]) -> None:
    assert ids_of(list_alerts(store.con, day=DAY2)) == [listed["washing"], listed["close"]]
    assert list_alerts(store.con, day=20261203) == []


@pytest.mark.parametrize(
    ("rule", "names"),
    [
        ("wash", ["round_trip", "same_owner"]),  # the family: not "washing"
        ("wash.same_owner", ["same_owner"]),
        ("wash.same", []),  # a prefix of a rule id is not a family
        ("marking_close", ["close"]),
        ("spoofing.layering", ["layering"]),
    ],
)
def test_alerts_are_filtered_by_rule_or_family(
    store: Store, listed: dict[str, int], rule: str, names: list[str]
) -> None:
    assert ids_of(list_alerts(store.con, rule=rule)) == [listed[name] for name in names]


@pytest.mark.parametrize(
    ("status", "names"),
    [("new", ["layering", "same_owner", "washing"]), ("assigned", ["round_trip"]), ("escalated", []),
     ("closed", ["close"])],
)  # fmt: skip
def test_alerts_are_filtered_by_status(store: Store, listed: dict[str, int], status: str, names: list[str]) -> None:
    assert status in STATUSES
    assert ids_of(list_alerts(store.con, status=status)) == [listed[name] for name in names]


def test_filters_combine(store: Store, listed: dict[str, int]) -> None:
    assert ids_of(list_alerts(store.con, day=DAY1, rule="wash", status="new")) == [listed["same_owner"]]


def test_a_listed_alert_reads_back_as_it_was_raised(store: Store, listed: dict[str, int]) -> None:
    raised = alert("wash.round_trip", DAY1, 9_000, ("A2",))

    found = get_alert(store.con, listed["round_trip"])

    assert (found.rule, found.day, found.instrument, found.subjects, found.score_bp) == (
        raised.rule, raised.trading_day, raised.instrument, raised.subjects, raised.score_bp
    )  # fmt: skip
    assert (found.parameters, found.figures, found.evidence, found.summary) == (
        raised.parameters, raised.figures, raised.evidence, raised.summary
    )  # fmt: skip
    assert (found.status, found.assignee, found.raised_seq) == ("assigned", "wang", 101)
