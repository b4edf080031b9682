"""The day's one-minute bars (OHLCV) per instrument, from its listing trades.

The snapshot service serves them (``BarsRequest``, PROTOCOL.md §6.6) so that a subscriber that
joins mid-day, the website's bridge among them, can draw the whole day, not only what it saw
arrive. A bar covers one minute of exchange time, ``[minute, minute + 60 s)``, and exists only for
a minute with at least one trade. Bulk trades (agreement transfers) are not listing trades and set
no bar. A new trading day (``TradingDayStarted``) starts empty; the bars of a day that has ended
stay until then, as the day's quote does.

The node keeps them across a restart: they are saved beside every snapshot (a companion file, like
the execution reports) and the journal's trades after that snapshot are added again on recovery,
so a node restarted mid-day still serves the whole day.

Bounded: at most one bar a minute, so at most 1,440 per instrument and day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from engine.messages import Event, TradeExecuted, TradingDayStarted

NS_PER_MINUTE = 60_000_000_000


class Bar(msgspec.Struct, frozen=True, array_like=True):
    """One minute of an instrument's listing trades: ``[minute, open, high, low, close, volume,
    turnover, trades]`` on the wire; ``minute`` is the minute's start (ns UTC)."""

    minute: int
    open: int
    high: int
    low: int
    close: int
    volume: int  # t
    turnover: int  # fen
    trades: int


class _Saved(msgspec.Struct, frozen=True, kw_only=True):
    """What a companion file holds: the day and every instrument's bars."""

    trading_day: int
    bars: dict[str, list[Bar]]


_OPEN, _HIGH, _LOW, _CLOSE, _VOLUME, _TURNOVER, _TRADES = range(1, 8)


def add_trade(bar: list[int] | None, minute: int, price: int, quantity: int) -> list[int]:
    """``bar`` (a row in ``Bar``'s field order, or None for a new minute) after one more trade."""
    if bar is None:
        return [minute, price, price, price, price, quantity, price * quantity, 1]
    bar[_HIGH] = max(bar[_HIGH], price)
    bar[_LOW] = min(bar[_LOW], price)
    bar[_CLOSE] = price
    bar[_VOLUME] += quantity
    bar[_TURNOVER] += price * quantity
    bar[_TRADES] += 1
    return bar


class DayBars:
    """The current trading day's one-minute bars of every instrument. Pure: events in, bars out."""

    def __init__(self) -> None:
        self.trading_day = 0  # YYYYMMDD of the bars (0: no day started yet)
        self._rows: dict[str, list[list[int]]] = {}  # instrument -> rows in Bar's field order, oldest first

    def on_events(self, events: Iterable[Event]) -> None:
        for event in events:
            if isinstance(event, TradeExecuted):
                self.on_trade(event.instrument, event.ts_event, event.price, event.quantity)
            elif isinstance(event, TradingDayStarted):
                self.start_day(event.trading_day)

    def start_day(self, trading_day: int) -> None:
        self.trading_day = trading_day
        self._rows.clear()

    def on_trade(self, instrument: str, ts: int, price: int, quantity: int) -> None:
        """One listing trade at exchange time ``ts``. Exchange time never goes back, so a trade
        belongs to the last bar or starts the next; one stamped earlier joins the last bar.

        The readable form of ``on_trades`` (the node's path), which must agree with it."""
        rows = self._rows.setdefault(instrument, [])
        minute = ts - ts % NS_PER_MINUTE
        if rows and rows[-1][0] >= minute:
            add_trade(rows[-1], minute, price, quantity)
        else:
            rows.append(add_trade(None, minute, price, quantity))

    def on_trades(self, trades: Iterable[TradeExecuted]) -> None:
        """Several listing trades, in order: what ``on_trade`` does for each, in one tight loop.

        The node's path (the publisher hands each journal batch's trades at once): the instrument's
        rows and the end of its last bar are kept between trades, so a trade in the same minute
        costs one comparison and the updates (bench/RESULTS.md, issue 18)."""
        rows_of = self._rows
        code: str | None = None
        rows: list[list[int]] = []
        end = 0  # where the last bar of ``code`` ends: a trade before it joins that bar
        for trade in trades:
            if trade.instrument != code:
                code = trade.instrument
                rows = rows_of.get(code) or rows_of.setdefault(code, [])
                end = rows[-1][0] + NS_PER_MINUTE if rows else 0
            ts, price, quantity = trade.ts_event, trade.price, trade.quantity
            if ts < end:
                bar = rows[-1]  # [minute, open, high, low, close, volume, turnover, trades]
                if price > bar[2]:
                    bar[2] = price
                elif price < bar[3]:
                    bar[3] = price
                bar[4] = price
                bar[5] += quantity
                bar[6] += price * quantity
                bar[7] += 1
            else:
                minute = ts - ts % NS_PER_MINUTE
                rows.append([minute, price, price, price, price, quantity, price * quantity, 1])
                end = minute + NS_PER_MINUTE

    def bars(self, instrument: str) -> list[Bar]:
        return [Bar(*row) for row in self._rows.get(instrument, ())]

    def instruments(self) -> list[str]:
        """The instruments with at least one bar today."""
        return list(self._rows)

    # ------------------------------------------------------------------ the companion file
    def encode(self) -> bytes:
        saved = _Saved(trading_day=self.trading_day, bars={code: self.bars(code) for code in self._rows})
        return _encoder.encode(saved)

    def restore(self, blob: bytes) -> None:
        """Take the bars ``encode`` wrote; raises ``msgspec.DecodeError`` (or ``ValidationError``)
        on a damaged file, leaving the bars as they were."""
        saved = _decoder.decode(blob)
        self.trading_day = saved.trading_day
        self._rows = {code: [list(msgspec.structs.astuple(bar)) for bar in bars] for code, bars in saved.bars.items()}

    def clear(self) -> None:
        self.trading_day = 0
        self._rows.clear()


def bars_of(trades: Sequence[tuple[int, int, int]]) -> list[Bar]:
    """The one-minute bars of ``(ts, price, quantity)`` trades in time order (tests and readers)."""
    day = DayBars()
    for ts, price, quantity in trades:
        day.on_trade("", ts, price, quantity)
    return day.bars("")


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Saved)
