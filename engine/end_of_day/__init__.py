"""The end of day: every mechanism's closing steps, then statements, settlement, large holders and
the conservation check."""

from __future__ import annotations

from engine.end_of_day.mechanism import CONSERVATION_HALT_REASON, DayEnd

__all__ = ["CONSERVATION_HALT_REASON", "DayEnd"]
