"""The trading day's calendar arithmetic and the order of its sessions. Integers only."""

from __future__ import annotations

import datetime as dt

from engine.messages import Session

# The day's sessions follow one another in this order; the scheduler issues each change.
NEXT_SESSION: dict[Session, Session] = {
    Session.CLOSED: Session.MORNING,
    Session.MORNING: Session.LUNCH_BREAK,
    Session.LUNCH_BREAK: Session.AFTERNOON,
    Session.AFTERNOON: Session.CLOSED,
}


def day_from_int(yyyymmdd: int) -> dt.date | None:
    """A YYYYMMDD integer as a date, or None for any integer that is not one.

    Days come from commands (``StartOfDay.trading_day``), so any int can arrive: a year beyond
    ``datetime``'s range raises OverflowError rather than ValueError (``2**62`` took the node down
    on every replay of the journal that held it).
    """
    try:
        return dt.date(yyyymmdd // 10_000, yyyymmdd // 100 % 100, yyyymmdd % 100)
    except (ValueError, OverflowError):
        return None


def day_to_int(day: dt.date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day
