"""The market day: trading days of the calendar, their sessions in order, the market-wide halt."""

from __future__ import annotations

from engine.market_day.mechanism import MarketDay, MarketState

__all__ = ["MarketDay", "MarketState"]
