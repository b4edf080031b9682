"""The terminal quote board of an instrument: pure rendering of a subscriber's state as lines of text.

Everything is integer arithmetic on fen: the change in percent is rounded half away from zero (half
up, as ``decimal.ROUND_HALF_UP``) to hundredths of a percent without a float ever being formed, so
the board shows exactly what the integers say. Times are exchange time (ns UTC) shown in the
exchange's time zone. ``market_data.overview`` is the one-line-per-instrument table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol
from zoneinfo import ZoneInfo

from engine.config import Calendar
from engine.messages import Session, Side
from market_data.messages import Depth, InstrumentStatus, Level, MarketStatus, Quote, Trade
from market_data.terminal import ALERT, FALL, PLAIN, RISE, Paint, clip, tone

EMPTY = "—"  # an empty price level, or a figure that does not exist yet
LEVELS = 5
TRADES_SHOWN = 5
EXCHANGE_TZ = ZoneInfo(Calendar().timezone)  # calendar.toml's default: Asia/Shanghai
_NS_PER_S = 1_000_000_000


class StatusSource(Protocol):
    """What the overview table reads: ``market_data.subscriber.Subscriber`` is one."""

    def quote(self, instrument: str) -> Quote | None: ...

    def status(self, instrument: str) -> InstrumentStatus | None: ...

    def market_status(self) -> MarketStatus | None: ...


class BoardSource(StatusSource, Protocol):
    """What the board reads: ``market_data.subscriber.Subscriber`` is one."""

    def depth(self, instrument: str) -> Depth | None: ...

    def trades(self, instrument: str) -> list[Trade]: ...


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
    hundredths = change_bp(change, reference)
    sign = "+" if hundredths > 0 else "-" if hundredths < 0 else ""
    whole, part = divmod(abs(hundredths), 100)
    return f"{sign}{whole}.{part:02d}%"


def change_bp(change: int, reference: int) -> int:
    """``change`` over ``reference`` in basis points (hundredths of a percent), half away from zero."""
    magnitude = (abs(change) * 20_000 + reference) // (2 * reference)
    return -magnitude if change < 0 else magnitude


def clock_time(ts: int, tz: dt.tzinfo = EXCHANGE_TZ) -> str:
    """Exchange time (ns UTC) as HH:MM:SS in ``tz``; 0 (the state published at node start): EMPTY."""
    if ts <= 0:
        return EMPTY
    return dt.datetime.fromtimestamp(ts // _NS_PER_S, tz).strftime("%H:%M:%S")


def render(
    source: BoardSource,
    instruments: Sequence[str],
    width: int = 80,
    *,
    stale: bool = False,
    paint: Paint = PLAIN,
    tz: dt.tzinfo = EXCHANGE_TZ,
) -> list[str]:
    """The board for ``instruments``: per instrument its figures, band, ten levels, last trades and status.

    The day's agreement transfers (bulk trades), when there were any, have a line of their own
    under the listing's volume: their volume, turnover and count, never a price on the board.
    ``stale``: the feed is silent (``market_data.subscriber.Subscriber.silent_at``); every header
    says STALE. Lines never exceed ``width`` shown characters; instruments are separated by a blank
    line. One instrument takes 23 lines at most: it fits an 80×24 terminal.
    """
    lines: list[str] = []
    market = source.market_status()
    for index, code in enumerate(instruments):
        if index:
            lines.append("")
        lines += _instrument(source, code, market, stale, paint, tz)
    return [clip(line, width) for line in lines]


def _instrument(
    source: BoardSource, code: str, market: MarketStatus | None, stale: bool, paint: Paint, tz: dt.tzinfo
) -> list[str]:
    quote = source.quote(code)
    marker = "  " + paint("STALE", ALERT) if stale else ""
    if quote is None:
        return [f"{code}  no data yet{marker}"]
    depth = source.depth(code)
    status = source.status(code)
    updated = max(m.ts for m in (quote, depth, status) if m is not None)
    reference = quote.reference_price

    def price(fen: int, width: int = 0) -> str:
        return paint(f"{yuan(fen):>{width}}", tone(fen - reference)) if fen else f"{EMPTY:>{width}}"

    lines = [
        f"{_header(quote, paint)}  updated {clock_time(updated, tz)}{marker}",
        f"  reference {yuan(reference)}  open {price(quote.open)}  high {price(quote.high)}  low {price(quote.low)}",
        f"  limit up {_limit(quote.limit_up, RISE, paint)}  limit down {_limit(quote.limit_down, FALL, paint)}",
        f"  volume {quote.volume:,} t  turnover {yuan(quote.turnover)}  trades {quote.trades:,}",
        *bulk_line(quote),
        f"  {'':6}{'price':>10}{'quantity t':>13}{'orders':>8}",
    ]
    asks = depth.asks if depth is not None else []
    bids = depth.bids if depth is not None else []
    lines += [_level(f"ask {n}", asks, n, price) for n in range(LEVELS, 0, -1)]
    lines += [_level(f"bid {n}", bids, n, price) for n in range(1, LEVELS + 1)]
    lines += _trades(source.trades(code), quote.trades, price, tz)
    lines.append(_status_line(status, market, paint))
    return lines


def bulk_line(quote: Quote) -> list[str]:
    """Today's agreement transfers (协议转让) as one line, or none on a day without: outside the
    listing, so their figures stand apart from its volume and never as its last price."""
    if not quote.bulk_trades:
        return []
    return [
        f"  bulk volume {quote.bulk_volume:,} t  turnover {yuan(quote.bulk_turnover)}  transfers {quote.bulk_trades:,}"
    ]


def _header(quote: Quote, paint: Paint) -> str:
    if not quote.trades:
        return f"{quote.instrument}  {EMPTY}  no trade today"
    change = quote.change
    figures = f"{yuan(quote.last)}  {signed_yuan(change)} ({percent_change(change, quote.reference_price)})"
    return f"{quote.instrument}  {paint(figures, tone(change))}"


def _limit(fen: int, style: str, paint: Paint) -> str:
    return paint(yuan(fen), style) if fen else EMPTY  # 0: a node that does not tell the band


class _Price(Protocol):
    def __call__(self, fen: int, width: int = 0) -> str: ...


def _level(label: str, side: list[Level], number: int, price: _Price) -> str:
    if number > len(side):
        return f"  {label:6}{EMPTY:>10}"
    level = side[number - 1]
    return f"  {label:6}{price(level.price, 10)}{level.quantity:>13,}{level.orders:>8,}"


def _trades(trades: list[Trade], today: int, price: _Price, tz: dt.tzinfo) -> list[str]:
    """Today's last trades, newest first: the day's trade count says how many of those held are today's."""
    wanted = min(TRADES_SHOWN, today)
    if not wanted:
        return []
    shown = trades[-wanted:][::-1]
    if not shown:
        return ["  last trades: not held (the node restarted after them)"]
    lines = [f"  {'time':8}{'price':>8}{'quantity t':>13}  aggressor"]
    for trade in shown:
        side = "buy" if trade.aggressor == Side.BUY else "sell"
        lines.append(f"  {clock_time(trade.ts, tz):8}{price(trade.price, 8)}{trade.quantity:>13,}  {side}")
    return lines


def _status_line(status: InstrumentStatus | None, market: MarketStatus | None, paint: Paint) -> str:
    return "  status  " + market_state(status, market, paint)


def market_state(status: InstrumentStatus | None, market: MarketStatus | None, paint: Paint = PLAIN) -> str:
    """The session and the halts, e.g. 'day 2026-11-23 MORNING · trading' or '... · HALTED (drill)'."""
    parts = [_session(market)]
    if market is not None and market.halted:
        parts.append(paint(_halt("MARKET HALTED", market.reason), ALERT))
    if status is not None and status.halted:
        parts.append(paint(_halt("HALTED", status.reason), ALERT))
    if len(parts) == 1 and market is not None and market.day_open and market.session.is_continuous:
        parts.append("trading")
    return " · ".join(parts)


def status_word(status: InstrumentStatus | None, market: MarketStatus | None) -> str:
    """One word for an instrument's state: HALTED, trading, lunch, closed (EMPTY: not known yet)."""
    if (status is not None and status.halted) or (market is not None and market.halted):
        return "HALTED"
    if market is None:
        return EMPTY
    if not market.day_open or market.session is Session.CLOSED:
        return "closed"
    return "trading" if market.session.is_continuous else "lunch"


def _session(market: MarketStatus | None) -> str:
    if market is None:
        return "session unknown"
    if not market.trading_day:
        return "no trading day yet"
    if not market.day_open:
        return f"day {day_text(market.trading_day)} closed"
    return f"day {day_text(market.trading_day)} {market.session.name}"


def _halt(word: str, reason: str) -> str:
    return f"{word} ({reason})" if reason else word


def day_text(day: int) -> str:
    """20261123 -> '2026-11-23'."""
    text = f"{day:08d}"
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"
