"""The terminal quote board: pure rendering of a subscriber's state as lines of text.

Everything is integer arithmetic on fen: the change in percent is rounded half away from zero to
hundredths of a percent without a float ever being formed, so the board shows exactly what the
integers say.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from market_data.messages import Depth, InstrumentStatus, Level, MarketStatus, Quote

EMPTY = "—"  # an empty price level, or a figure that does not exist yet
LEVELS = 5


class BoardSource(Protocol):
    """What the board reads: ``market_data.subscriber.Subscriber`` is one."""

    def quote(self, instrument: str) -> Quote | None: ...

    def depth(self, instrument: str) -> Depth | None: ...

    def status(self, instrument: str) -> InstrumentStatus | None: ...

    def market_status(self) -> MarketStatus | None: ...


def yuan(fen: int) -> str:
    """12345 fen -> '123.45'; thousands separated."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def signed_yuan(fen: int) -> str:
    return ("+" if fen > 0 else "") + yuan(fen)


def percent_change(change: int, reference: int) -> str:
    """``change`` over ``reference`` in percent with two decimals, e.g. 12 over 8000 -> '+0.15%'."""
    if reference <= 0:
        return EMPTY
    hundredths = (abs(change) * 20_000 + reference) // (2 * reference)  # half away from zero
    sign = "+" if change > 0 else "-" if change < 0 and hundredths else ""
    whole, part = divmod(hundredths, 100)
    return f"{sign}{whole}.{part:02d}%"


def render(source: BoardSource, instruments: Sequence[str], width: int = 80) -> list[str]:
    """The board for ``instruments``: per instrument its figures, ten levels and status line.

    Lines never exceed ``width`` characters; instruments are separated by a blank line.
    """
    lines: list[str] = []
    market = source.market_status()
    for index, code in enumerate(instruments):
        if index:
            lines.append("")
        lines += _instrument(source, code, market)
    return [line[:width].rstrip() for line in lines]


def _instrument(source: BoardSource, code: str, market: MarketStatus | None) -> list[str]:
    quote = source.quote(code)
    if quote is None:
        return [f"{code}  no data yet"]
    depth = source.depth(code)
    asks = depth.asks if depth is not None else []
    bids = depth.bids if depth is not None else []
    lines = [
        _header(quote),
        f"  reference {yuan(quote.reference_price)}  open {_price(quote.open)}  high {_price(quote.high)}"
        f"  low {_price(quote.low)}",
        f"  volume {quote.volume:,} t  turnover {yuan(quote.turnover)}  trades {quote.trades:,}",
        f"  {'':6}{'price':>10}{'quantity t':>13}{'orders':>8}",
    ]
    lines += [_level(f"ask {n}", asks, n) for n in range(LEVELS, 0, -1)]
    lines += [_level(f"bid {n}", bids, n) for n in range(1, LEVELS + 1)]
    lines.append(_status_line(source.status(code), market))
    return lines


def _header(quote: Quote) -> str:
    if not quote.trades:
        return f"{quote.instrument}  {EMPTY}  no trade today"
    change = quote.change
    return (
        f"{quote.instrument}  {yuan(quote.last)}  {signed_yuan(change)}"
        f" ({percent_change(change, quote.reference_price)})"
    )


def _price(fen: int) -> str:
    return yuan(fen) if fen else EMPTY


def _level(label: str, side: list[Level], number: int) -> str:
    if number > len(side):
        return f"  {label:6}{EMPTY:>10}"
    level = side[number - 1]
    return f"  {label:6}{yuan(level.price):>10}{level.quantity:>13,}{level.orders:>8,}"


def _status_line(status: InstrumentStatus | None, market: MarketStatus | None) -> str:
    parts = [_session(market)]
    if market is not None and market.halted:
        parts.append(_halt("MARKET HALTED", market.reason))
    if status is not None and status.halted:
        parts.append(_halt("HALTED", status.reason))
    if len(parts) == 1 and market is not None and market.day_open and market.session.is_continuous:
        parts.append("trading")
    return "  status  " + " · ".join(parts)


def _session(market: MarketStatus | None) -> str:
    if market is None:
        return "session unknown"
    if not market.trading_day:
        return "no trading day yet"
    if not market.day_open:
        return f"day {_day(market.trading_day)} closed"
    return f"day {_day(market.trading_day)} {market.session.name}"


def _halt(word: str, reason: str) -> str:
    return f"{word} ({reason})" if reason else word


def _day(day: int) -> str:
    """20261123 -> '2026-11-23'."""
    text = f"{day:08d}"
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"
