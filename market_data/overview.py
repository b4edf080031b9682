"""The quote overview: one line per instrument, sized for a terminal.

A title (the trading day and session, the update time, STALE), the column names, then per
instrument: code, last, change in percent, best bid and ask, volume, turnover and status. On a day
with agreement transfers (bulk trades) among the instruments shown, a ``bulk t`` column after the
turnover gives each one's bulk volume, apart from the listing's. When the instruments do not fit
the height, they are shown a page at a time and the last line says how many are not shown and how
to see them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from market_data.board import (
    EMPTY,
    EXCHANGE_TZ,
    StatusSource,
    clock_time,
    market_state,
    percent_change,
    status_word,
    yuan,
)
from market_data.terminal import ALERT, PLAIN, Paint, clip, tone

HEADER = ("code", "last", "change", "bid", "ask", "volume t", "turnover", "status")
BULK_HEADER = (*HEADER[:-1], "bulk t", HEADER[-1])  # a day with bulk trades among those shown


def overview(
    source: StatusSource,
    instruments: Sequence[str],
    *,
    width: int = 80,
    height: int | None = None,
    page: int = 1,
    stale: bool = False,
    paint: Paint = PLAIN,
    tz: dt.tzinfo = EXCHANGE_TZ,
) -> list[str]:
    """The table of ``instruments``: at most ``height`` lines (None: every instrument) of ``width``.

    ``page`` (from 1) chooses which instruments when they do not all fit; a page beyond the last
    shows the last. ``stale``: the feed is silent (``Subscriber.silent_at``); the title says STALE.
    """
    bulk = any((quote := source.quote(code)) is not None and quote.bulk_trades for code in instruments)
    rows = [_row(source, code, bulk) for code in instruments]
    footer: str | None = None
    if height is not None and 2 + len(rows) > height:
        per_page = max(1, height - 3)  # title, column names and the footer take three lines
        pages = -(-len(rows) // per_page)
        page = min(max(page, 1), pages)
        first = (page - 1) * per_page
        shown = rows[first : first + per_page]
        footer = (
            f"page {page}/{pages}: {first + 1}-{first + len(shown)} of {len(rows)};"
            f" {len(rows) - len(shown)} not shown (--page N, or carbonx quotes CODE)"
        )
        rows = shown
    lines = [
        _title(source, instruments, stale, paint, tz),
        *_table(BULK_HEADER if bulk else HEADER, rows, width, paint),
    ]
    if footer is not None:
        lines.append(footer)
    return [clip(line, width) for line in lines]


def _title(source: StatusSource, instruments: Sequence[str], stale: bool, paint: Paint, tz: dt.tzinfo) -> str:
    market = source.market_status()
    times = [market.ts] if market is not None else []
    for code in instruments:
        times += [m.ts for m in (source.quote(code), source.status(code)) if m is not None]
    title = f"{market_state(None, market, paint)} · updated {clock_time(max(times, default=0), tz)}"
    return title + (" · " + paint("STALE", ALERT) if stale else "")


# A row: each cell's text and its style ("" for none).
_Row = list[tuple[str, str]]


def _row(source: StatusSource, code: str, bulk: bool) -> _Row:
    quote = source.quote(code)
    word = status_word(source.status(code), source.market_status())
    if quote is None:
        return [(code, ""), *[(EMPTY, "")] * (7 if bulk else 6), ("no data", "")]
    reference = quote.reference_price

    def price(fen: int) -> tuple[str, str]:
        return (yuan(fen), tone(fen - reference)) if fen else (EMPTY, "")

    traded = quote.trades > 0
    change = (percent_change(quote.change, reference), tone(quote.change)) if traded else (EMPTY, "")
    return [
        (code, ""),
        price(quote.last) if traded else (EMPTY, ""),
        change,
        price(quote.bid),
        price(quote.ask),
        (f"{quote.volume:,}", ""),
        (yuan(quote.turnover), ""),
        *([(f"{quote.bulk_volume:,}", "")] if bulk else []),
        (word, ALERT if word == "HALTED" else ""),
    ]


def _table(header: tuple[str, ...], rows: list[_Row], width: int, paint: Paint) -> list[str]:
    """The column names and rows, aligned; two spaces between columns, one when two do not fit.

    Code and status (the first and last columns) read left to right; figures line up on the right."""
    left = {0, len(header) - 1}
    widths = [len(name) for name in header]
    for row in rows:
        widths = [max(w, len(text)) for w, (text, _) in zip(widths, row, strict=True)]
    gap = "  " if sum(widths) + 2 * (len(widths) - 1) <= width else " "

    def line(cells: _Row) -> str:
        texts = [
            (text.ljust(w) if i in left else text.rjust(w), style)
            for i, ((text, style), w) in enumerate(zip(cells, widths, strict=True))
        ]
        return gap.join(paint(text, style) for text, style in texts)

    return [line([(name, "") for name in header]), *(line(r) for r in rows)]
