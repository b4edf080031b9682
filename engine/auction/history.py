"""The listing's daily figures per instrument, kept for the VWAP windows of auction price rules.

Each end of day adds the day's listing volume, turnover and close of every instrument; the
regulator loads the days before go-live (``LoadDailyFigures``). At most ``keep_days`` days are
kept per instrument (250 by default, about a year of trading days), so the state stays bounded.
"""

from __future__ import annotations

import bisect

import msgspec

from engine.messages.auction import DayFigures


class InstrumentHistory(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    instrument: str
    days: list[DayFigures]  # ascending trading day, one entry per day


class PriceHistory:
    def __init__(self, instruments: list[str], keep_days: int) -> None:
        self.keep_days = keep_days
        self.days: dict[str, list[DayFigures]] = {code: [] for code in instruments}

    def state(self) -> list[InstrumentHistory]:
        return [InstrumentHistory(instrument=code, days=list(days)) for code, days in self.days.items()]

    def restore(self, parts: list[InstrumentHistory]) -> None:
        for part in parts:
            if part.instrument in self.days:
                self.days[part.instrument] = list(part.days)

    def check(self) -> None:
        for code, days in self.days.items():
            numbers = [d.trading_day for d in days]
            assert numbers == sorted(set(numbers)), f"{code}: history days out of order"
            assert len(days) <= self.keep_days, f"{code}: more history than kept"

    def record(self, instrument: str, figures: DayFigures) -> None:
        """Add (or replace) one day's figures, and drop the oldest beyond ``keep_days``."""
        days = self.days[instrument]
        numbers = [d.trading_day for d in days]
        at = bisect.bisect_left(numbers, figures.trading_day)
        if at < len(days) and numbers[at] == figures.trading_day:
            days[at] = figures
        else:
            days.insert(at, figures)
        del days[: max(0, len(days) - self.keep_days)]

    def sums(self, instrument: str, first_day: int, last_day: int) -> tuple[int, int]:
        """(volume, turnover) of the listing trades from ``first_day`` to ``last_day``, inclusive."""
        volume = turnover = 0
        for day in self.days[instrument]:
            if first_day <= day.trading_day <= last_day:
                volume += day.volume
                turnover += day.turnover
        return volume, turnover


def figures_problem(days: list[DayFigures], tick: int, held_day: int) -> tuple[str, str] | None:
    """Why a list of loaded days cannot be taken ((field, reason)), or None.

    Days ascend without repeats; turnover is zero exactly when volume is, and at least the volume
    at one fen (its VWAP is a price); closes are positive and on the tick.
    """
    numbers = [d.trading_day for d in days]
    if not days:
        return "days", "empty"
    if numbers != sorted(set(numbers)):
        return "trading_day", "not_ascending"
    if held_day and numbers[-1] >= held_day:
        return "trading_day", f"not_before_{held_day}"
    for day in days:
        if (day.volume == 0) != (day.turnover == 0) or day.turnover < day.volume:
            return "turnover", f"inconsistent_on_{day.trading_day}"
        if day.close <= 0 or day.close % tick:
            return "close", f"not_on_tick_on_{day.trading_day}"
    return None
