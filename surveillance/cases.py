"""The case workflow on alerts: assign, note, escalate, close — every action appended, never updated.

An alert's status is read from its actions, newest last: the last assign, escalate or close makes it
``assigned``, ``escalated`` or ``closed``; with none it is ``new``. A note changes nothing but the
record. A closed case takes notes only (what an auditor expects: the decision stands, and anything
learnt later is written beside it). Each action records who (``--analyst``) and when (wall-clock time:
the analysts' own record, not the exchange's).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import msgspec

from surveillance.alerts import Evidence
from surveillance.settings import SurveillanceError

if TYPE_CHECKING:  # the command line reads STATUSES for its parser without loading DuckDB
    import duckdb

    from surveillance.store import Store

ACTIONS = ("assign", "note", "escalate", "close")
STATUSES = ("new", "assigned", "escalated", "closed")
_STATUS_OF = {"assign": "assigned", "escalate": "escalated", "close": "closed"}

# The status of every alert, in SQL: the latest status-changing action, or 'new'.
STATUS_SQL = """
    SELECT a.alert_id,
           coalesce((SELECT CASE c.action WHEN 'assign' THEN 'assigned' WHEN 'escalate' THEN 'escalated'
                                          ELSE 'closed' END
                     FROM case_actions c
                     WHERE c.alert_id = a.alert_id AND c.action IN ('assign', 'escalate', 'close')
                     ORDER BY c.action_id DESC LIMIT 1), 'new') AS status,
           coalesce((SELECT c.assignee FROM case_actions c
                     WHERE c.alert_id = a.alert_id AND c.action = 'assign'
                     ORDER BY c.action_id DESC LIMIT 1), '') AS assignee
    FROM alerts a
"""


class AlertRow(msgspec.Struct, frozen=True, kw_only=True):
    alert_id: int
    rule: str
    day: int
    instrument: str
    subjects: list[str]
    score_bp: int
    parameters: dict[str, int]
    figures: dict[str, int]
    evidence: Evidence
    summary: str
    raised_seq: int
    raised_at: int
    status: str
    assignee: str


class CaseAction(msgspec.Struct, frozen=True, kw_only=True):
    action_id: int
    alert_id: int
    acted_at: int
    analyst: str
    action: str
    assignee: str
    text: str


_ALERT_COLUMNS = (
    "a.alert_id, a.rule, a.day, a.instrument, a.subjects, a.score_bp, a.parameters, a.figures, a.evidence, "
    "a.summary, a.raised_seq, a.raised_at, s.status, s.assignee"
)


def list_alerts(
    con: duckdb.DuckDBPyConnection, *, day: int | None = None, rule: str | None = None, status: str | None = None
) -> list[AlertRow]:
    """Alerts by day, then score (highest first), then id; filtered by day, rule (or family) and status."""
    where: list[str] = ["TRUE"]
    params: list[object] = []
    if day is not None:
        where.append("a.day = ?")
        params.append(day)
    if rule:
        where.append("(a.rule = ? OR starts_with(a.rule, ?))")
        params += [rule, f"{rule}."]
    if status:
        where.append("s.status = ?")
        params.append(status)
    rows = con.execute(
        f"SELECT {_ALERT_COLUMNS} FROM alerts a JOIN ({STATUS_SQL}) s USING (alert_id) "
        f"WHERE {' AND '.join(where)} ORDER BY a.day, a.score_bp DESC, a.alert_id",
        params,
    ).fetchall()
    return [_alert(row) for row in rows]


def get_alert(con: duckdb.DuckDBPyConnection, alert_id: int) -> AlertRow:
    rows = con.execute(
        f"SELECT {_ALERT_COLUMNS} FROM alerts a JOIN ({STATUS_SQL}) s USING (alert_id) WHERE a.alert_id = ?",
        [alert_id],
    ).fetchall()
    if not rows:
        raise SurveillanceError(f"alert {alert_id}: no such alert")
    return _alert(rows[0])


def case_actions(con: duckdb.DuckDBPyConnection, alert_id: int) -> list[CaseAction]:
    rows = con.execute(
        "SELECT action_id, alert_id, acted_at, analyst, action, assignee, text FROM case_actions "
        "WHERE alert_id = ? ORDER BY action_id",
        [alert_id],
    ).fetchall()
    return [CaseAction(**dict(zip(CaseAction.__struct_fields__, row, strict=True))) for row in rows]


def act(
    store: Store, alert_id: int, action: str, *, analyst: str, assignee: str = "", text: str = "",
    now: int | None = None,
) -> CaseAction:  # fmt: skip
    """Append one case action after checking it makes sense for the case as it stands."""
    if action not in ACTIONS:
        raise SurveillanceError(f"{action!r}: not a case action ({', '.join(ACTIONS)})")
    if not analyst.strip():
        raise SurveillanceError("--analyst: name who acts")
    current = get_alert(store.con, alert_id)
    if action == "assign" and not assignee.strip():
        raise SurveillanceError("assign: name the analyst the case goes to")
    if action in ("note", "close") and not text.strip():
        raise SurveillanceError(f"{action}: {'the note' if action == 'note' else '--reason'} must not be empty")
    if current.status == "closed" and action != "note":
        raise SurveillanceError(f"alert {alert_id}: the case is closed; only notes may be added")
    with store.transaction():
        next_id = store.scalar("SELECT coalesce(max(action_id), 0) + 1 FROM case_actions")
        done = CaseAction(
            action_id=next_id,
            alert_id=alert_id,
            acted_at=time.time_ns() if now is None else now,
            analyst=analyst.strip(),
            action=action,
            assignee=assignee.strip(),
            text=text.strip(),
        )
        store.insert("case_actions", [tuple(getattr(done, name) for name in CaseAction.__struct_fields__)])
    return done


def case_status(actions: Iterable[str]) -> str:
    """The status actions (by name, in order) leave: 'new', or what the last assign, escalate or close
    made it; a note changes nothing (the same rule as ``STATUS_SQL``)."""
    status = "new"
    for action in actions:
        status = _STATUS_OF.get(action, status)
    return status


def status_after(actions: list[CaseAction]) -> str:
    return case_status(action.action for action in actions)


def _alert(row: tuple[object, ...]) -> AlertRow:
    fields = dict(zip(AlertRow.__struct_fields__, row, strict=True))
    fields["subjects"] = [s for s in str(fields["subjects"]).split(",") if s]
    for name in ("parameters", "figures", "evidence"):
        fields[name] = msgspec.json.decode(str(fields[name]))
    return msgspec.convert(fields, AlertRow)
