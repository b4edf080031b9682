"""The publisher's only window on the exchange's state.

The publisher reads the day's figures, the price band (the engine's own, never computed again
here), the best levels of each book and the market state through this small adapter and nothing
else, so a faster book (docs/ARCHITECTURE.md "Two order books, one behaviour") plugs in by answering
``depth`` from its arrays without the publisher changing.
"""

from __future__ import annotations

from typing import Protocol

from engine.exchange import Exchange
from engine.listing.book import DepthLevel
from engine.listing.daily import InstrumentDay
from engine.messages import Session, Side


class MarketFigures(Protocol):
    """The market-wide state the publisher reads (``engine.exchange.MarketState``)."""

    trading_day: int
    day_open: bool
    session: Session
    halted: bool
    halt_reason: str
    sessions_over: bool


class ExchangeView:
    """Read-only access to what market data publishes: figures, band, depth and the market state."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange

    def instruments(self) -> list[str]:
        """Instrument codes in config order (the order topics are first published in)."""
        return list(self._exchange.listing.days)

    def figures(self, instrument: str) -> InstrumentDay:
        return self._exchange.listing.days[instrument]

    def band(self, instrument: str) -> tuple[int, int]:
        """The day's price band (lower, upper): the engine's own limits, the ones it checks orders against."""
        return self._exchange.listing.band(instrument)

    def depth(self, instrument: str, side: Side, levels: int) -> list[DepthLevel]:
        """The ``levels`` best price levels of one side, best first."""
        return self._exchange.listing.books[instrument].depth(side, levels)

    def market(self) -> MarketFigures:
        return self._exchange.market
