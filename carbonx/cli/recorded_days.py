"""The trading days a data directory's carbonx.db records, and their daily bulletin as people read it:
what ``carbonx eod report`` and ``carbonx bulletin`` (from a node or ``--data-dir``) share, so the
same day reads the same in both and a missing day is the same one-line error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from carbonx.cli.display import EMPTY, cny, iso, price, table, tonnes
from carbonx.data_dir import readable_data_dir
from carbonx.errors import CarbonxError
from carbonx.statements_db import DB_FILE, StatementStore
from engine.journal import JOURNAL_FILE
from market_data.board import percent_change

BULLETIN_PRICES = ("reference_price", "open", "high", "low", "last", "close", "vwap")


class DayNotRecorded(CarbonxError):
    """No end-of-day database in the data directory, or no end of day recorded (on that date)."""


def end_of_day_database(data_dir: Path) -> Path:
    """The data directory's carbonx.db; one line when the directory is no data directory, or no day
    has ended in it (nothing is created)."""
    db = data_dir / DB_FILE
    if not (data_dir.is_dir() and (db.is_file() or (data_dir / JOURNAL_FILE).is_file())):
        readable_data_dir(data_dir)  # raises: missing, a file, or neither journal nor database
    if not db.is_file():  # the database alone will do: it may be a copy kept without its journal
        raise DayNotRecorded(
            f"{db}: no end-of-day database here; no end of day has been recorded in this data directory"
        )
    return db


def recorded_day(store: StatementStore, db: Path, day: int | None) -> int:
    """``day`` when its end of day is recorded in ``db`` (None: the latest recorded); else one line
    naming the days that are."""
    days = store.trading_days()
    if day is None:
        if not days:
            raise DayNotRecorded(f"{db}: no end of day recorded yet (a day is recorded when it ends)")
        return days[-1]
    if day not in days:
        available = f"available: {dates(days)}" if days else "none recorded yet"
        raise DayNotRecorded(f"{db}: no end of day recorded for {iso(day)}; {available}")
    return day


def dates(days: Sequence[int], most: int = 12) -> str:
    """The recorded dates for a one-line error; of a long history, its span and the latest days."""
    if len(days) <= most:
        return ", ".join(iso(d) for d in days)
    latest = ", ".join(iso(d) for d in days[-5:])
    return f"{len(days)} days from {iso(days[0])} to {iso(days[-1])}, the latest {latest}"


# -------------------------------------------------------------------------------------- the bulletin


class DayFigures(Protocol):
    """One instrument's bulletin: ``market_data.messages.Bulletin`` (from a node) and
    ``engine.messages.DailyBulletin`` (from the database) both are."""

    @property
    def trading_day(self) -> int: ...
    @property
    def instrument(self) -> str: ...
    @property
    def reference_price(self) -> int: ...
    @property
    def open(self) -> int: ...
    @property
    def high(self) -> int: ...
    @property
    def low(self) -> int: ...
    @property
    def last(self) -> int: ...
    @property
    def close(self) -> int: ...
    @property
    def vwap(self) -> int: ...
    @property
    def volume(self) -> int: ...
    @property
    def turnover(self) -> int: ...
    @property
    def trades(self) -> int: ...
    @property
    def bulk_volume(self) -> int: ...
    @property
    def bulk_turnover(self) -> int: ...
    @property
    def bulk_trades(self) -> int: ...


BULLETIN_UNITS = "prices CNY/t, volume t, turnover CNY"
# The change is in percent, as on the quote board (carbonx quotes). `carbonx bulletin` fits 80
# columns; the end-of-day report, the regulator's whole record of the day, adds the last price, the
# VWAP and the number of trades.
BULLETIN_HEADER = ("instrument", "reference", "open", "high", "low", "close", "change", "volume t", "turnover")
FULL_BULLETIN_HEADER = (
    "instrument",
    "reference",
    "open",
    "high",
    "low",
    "last",
    "close",
    "vwap",
    "change",
    "volume t",
    "turnover",
    "trades",
)
BULLETIN_WIDTH = 80  # a terminal's width: a busy day's columns close up to one space to stay within it
BULLETIN_NOTES = (
    "reference: the previous close; change: the close against it, in percent",
    "the change in CNY, the last trade's price, VWAP and trades: --format csv or json",
)
# Agreement transfers (协议转让) are outside the listing: their own table, after the listing's, on a
# day that had any; the instruments without are left out.
BULK_TITLE = "Agreement transfers (bulk trades), in none of the listing's figures above"
BULK_HEADER = ("instrument", "bulk volume t", "bulk turnover", "transfers")


def change(b: DayFigures) -> int:
    """The close against the reference price (the previous close): the day's change."""
    return b.close - b.reference_price


def bulletin_table(instruments: Sequence[DayFigures], full: bool = False) -> list[str]:
    """The bulletin per instrument for people, and what its columns mean; ``full`` adds the last
    price, the VWAP and the number of trades (wider than 80 columns)."""
    if full:
        return [
            *table(FULL_BULLETIN_HEADER, [_full_row(b) for b in instruments]),
            BULLETIN_NOTES[0],
            *bulk_table(instruments),
        ]
    rows = [_bulletin_row(b) for b in instruments]
    return [*table(BULLETIN_HEADER, rows, width=BULLETIN_WIDTH), *BULLETIN_NOTES, *bulk_table(instruments)]


def bulk_table(instruments: Sequence[DayFigures]) -> list[str]:
    """The day's agreement transfers per instrument that had any, after a blank line and a title;
    nothing on a day without."""
    rows = [
        [b.instrument, tonnes(b.bulk_volume), cny(b.bulk_turnover), f"{b.bulk_trades:,}"]
        for b in instruments
        if b.bulk_trades
    ]
    return ["", BULK_TITLE, *table(BULK_HEADER, rows)] if rows else []


def _change_percent(b: DayFigures) -> str:
    # a first day without a reference price has no change
    return percent_change(change(b), b.reference_price) if b.reference_price > 0 else EMPTY


def _bulletin_row(b: DayFigures) -> list[str]:
    return [
        b.instrument,
        *(price(p) for p in (b.reference_price, b.open, b.high, b.low, b.close)),
        _change_percent(b),
        tonnes(b.volume),
        cny(b.turnover),
    ]


def _full_row(b: DayFigures) -> list[str]:
    return [
        b.instrument,
        *(price(p) for p in (b.reference_price, b.open, b.high, b.low, b.last, b.close, b.vwap)),
        _change_percent(b),
        tonnes(b.volume),
        cny(b.turnover),
        f"{b.trades:,}",
    ]
