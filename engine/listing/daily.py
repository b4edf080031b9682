"""An instrument's listing figures for the trading day, and the reference price that outlives the day."""

from __future__ import annotations

import msgspec

from engine.prices import closing_price, round_half_up_to_tick


class InstrumentDay(msgspec.Struct, kw_only=True, array_like=True):
    """Per instrument: the band's reference price and today's listing-trade figures.

    Open is the first listing trade of the day; the close is computed at the end of the day from
    turnover and volume (``engine.prices.closing_price``) and becomes the next reference price.
    """

    code: str
    reference_price: int
    open: int = 0
    high: int = 0
    low: int = 0
    last: int = 0
    volume: int = 0
    turnover: int = 0
    trades: int = 0

    def record_trade(self, price: int, quantity: int) -> None:
        if not self.trades:
            self.open = self.high = self.low = price
        else:
            self.high = max(self.high, price)
            self.low = min(self.low, price)
        self.last = price
        self.volume += quantity
        self.turnover += price * quantity
        self.trades += 1

    def close(self, tick: int) -> int:
        return closing_price(self.turnover, self.volume, self.reference_price, tick)

    def vwap(self) -> int:
        """Volume-weighted average price of today's listing trades, half-up to the fen (0: none)."""
        return round_half_up_to_tick(self.turnover, self.volume, 1) if self.volume else 0

    def start_day(self) -> None:
        self.open = self.high = self.low = self.last = 0
        self.volume = self.turnover = self.trades = 0
