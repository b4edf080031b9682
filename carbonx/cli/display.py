"""What every command shows people the same way: fen as CNY with two decimals, thousands separated;
trading days as ISO dates; exchange times in the exchange's time zone; plain text tables; reject
texts with their fen in CNY. Display formats only, never parsed back (except a reject's context)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from collections.abc import Callable, Collection, Sequence

from engine.market_day.calendar import day_from_int, day_to_int

EMPTY = "-"  # a figure that does not exist (no trade, no price, no time); plain ASCII in every table
_NS_PER_S = 1_000_000_000


def cny(fen: int) -> str:
    """12345 fen -> '123.45'; a display format only, never parsed back."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def price(fen: int) -> str:
    """A price per tonne; 0 is no price (a day without trades has no open): EMPTY."""
    return EMPTY if fen == 0 else cny(fen)


def tonnes(quantity: int) -> str:
    return f"{quantity:,}"


def signed(amount: int, show: Callable[[int], str] = cny) -> str:
    """A movement or a change, with its sign: +1,234.50, -80.00, 0.00."""
    return ("+" if amount > 0 else "") + show(amount)


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    left: Collection[str] | None = None,
    width: int | None = None,
) -> list[str]:
    """A plain text table: the columns named in ``left`` (text: names, codes, times; default: the
    first column) aligned left, the others (numbers) right. Two spaces between columns; one when
    two would make a line longer than ``width``."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    aligned_left = [name in left if left is not None else i == 0 for i, name in enumerate(header)]
    gap = "  " if width is None or sum(widths) + 2 * (len(widths) - 1) <= width else " "

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(c).ljust(w) if to_left else str(c).rjust(w)
            for c, w, to_left in zip(cells, widths, aligned_left, strict=True)
        ]
        return gap.join(parts).rstrip()

    return [line(header), *(line(r) for r in rows)]


# ------------------------------------------------------------------------------------- days and times


def iso(day: int) -> str:
    """The engine's YYYYMMDD trading day as people and files write it: 20261123 -> '2026-11-23'."""
    found = day_from_int(day)
    return found.isoformat() if found else str(day)


def trading_day_arg(text: str) -> int:
    """An argument YYYY-MM-DD or YYYYMMDD as the engine's YYYYMMDD integer."""
    compact = text.replace("-", "") if len(text) == 10 and text[4] == text[7] == "-" else text
    day = day_from_int(int(compact)) if len(compact) == 8 and compact.isdigit() else None
    if day is None:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD or YYYYMMDD: {text!r}")
    return day_to_int(day)


def exchange_time(ts_ns: int, zone: dt.tzinfo) -> dt.datetime:
    """Exchange time (ns since the epoch, UTC) in the exchange's time zone, to the microsecond."""
    seconds, ns = divmod(ts_ns, _NS_PER_S)
    return dt.datetime.fromtimestamp(seconds, zone).replace(microsecond=ns // 1_000)


def clock(ts_ns: int, zone: dt.tzinfo, trading_day: int) -> str:
    """HH:MM:SS in the exchange's time zone, with the date before it when that is not the trading
    day's (a demo day opened ahead of the calendar); no time (0): EMPTY."""
    if not ts_ns:
        return EMPTY
    local = exchange_time(ts_ns, zone)
    return local.strftime("%H:%M:%S" if day_to_int(local.date()) == trading_day else "%Y-%m-%d %H:%M:%S")


# ------------------------------------------------------------------------------------------ reject texts

# A reject text (engine.messages.reject_text) is its code, then ``key=value`` context: integers as
# the wire carries them, booleans true/false, and text bare, or as a JSON string when it is empty or
# holds a space, ``=`` or a quote (so what a client sent can never forge more context).
_CONTEXT = re.compile(r'(?P<key>\w+)=(?P<value>"(?:[^"\\]|\\.)*"|[^\s"]+)')
_INTEGER = re.compile(r"-?\d+")


def reject_context(text: str) -> dict[str, str]:
    """The context of a reject text, each value as the engine had it (a JSON string read back):
    ``REGISTRY_FILE_ALREADY_APPLIED: name="a b.csv" first_ts=17...`` -> ``{"name": "a b.csv", "first_ts": "17..."}``."""
    _code, _, context = text.partition(": ")
    return {pair["key"]: _unquoted(pair["value"]) for pair in _CONTEXT.finditer(context)}


def _unquoted(value: str) -> str:
    return str(json.loads(value)) if value.startswith('"') else value


# These are the keys whose value is fen, per code: a key means fen only with its code
# (INSUFFICIENT_FUNDS required= is cash, INSUFFICIENT_HOLDINGS required= is tonnes). Prices per
# tonne are shown like every price of the command line (80.00), money with its unit (1,234.50 CNY);
# tonnes, counts and names stay as sent. tests/test_reject_display.py finds every (code, key) the
# engine and the gateway write and fails until a new one is sorted into fen or not.
PRICE_KEYS: dict[str, frozenset[str]] = {
    "INVALID_PRICE": frozenset({"price"}),
    "INVALID_TICK": frozenset({"price", "tick"}),
    "PRICE_OUT_OF_BAND": frozenset({"price", "lower", "upper"}),
    "AMEND_NO_CHANGE": frozenset({"price"}),
    "TRANSFER_PRICE_OUT_OF_BAND": frozenset({"price", "lower", "upper"}),
    "BID_BELOW_FLOOR": frozenset({"price", "floor"}),
    "BID_ABOVE_CEILING": frozenset({"price", "ceiling"}),
    "INVALID_AUCTION_TERMS": frozenset({"price", "lower", "upper"}),
}
MONEY_KEYS: dict[str, frozenset[str]] = {
    "INSUFFICIENT_FUNDS": frozenset({"required", "available"}),
    "NOT_WITHDRAWABLE": frozenset({"amount", "withdrawable"}),
    "INVALID_AMOUNT": frozenset({"amount", "cash"}),
}
_NONE: frozenset[str] = frozenset()


def reject_in_cny(text: str) -> str:
    """A reject text as people read it: its fen values in CNY, everything else as the engine wrote it.

    ``PRICE_OUT_OF_BAND: price=9000 lower=7200 upper=8800`` -> ``... price=90.00 lower=72.00 upper=88.00``;
    ``INSUFFICIENT_FUNDS: required=801200 available=500000`` -> ``required=8,012.00 CNY available=5,000.00 CNY``.
    """
    code, separator, context = text.partition(": ")
    prices, money = PRICE_KEYS.get(code, _NONE), MONEY_KEYS.get(code, _NONE)
    if not separator or not (prices or money):
        return text

    def shown(pair: re.Match[str]) -> str:
        key, value = pair["key"], pair["value"]
        if key not in prices | money or not _INTEGER.fullmatch(value):
            return pair[0]
        return f"{key}={cny(int(value))}" + (" CNY" if key in money else "")

    return f"{code}: {_CONTEXT.sub(shown, context)}"
