"""Formatting integers of the engine for people: fen as CNY with two decimals, thousands separated."""

from __future__ import annotations

import re
from collections.abc import Sequence


def cny(fen: int) -> str:
    """12345 fen -> '123.45'; a display format only, never parsed back."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def price(fen: int) -> str:
    return "-" if fen == 0 else cny(fen)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [str(cells[0]).ljust(widths[0])]
        parts += [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    return [line(header), *(line(r) for r in rows)]


# ------------------------------------------------------------------------------------------ reject texts

# The ``key=value`` context of a reject text (engine.messages.reject_text) holds integers as the wire
# carries them. These are the keys whose value is fen, per code: a key means fen only with its code
# (INSUFFICIENT_FUNDS required= is cash, INSUFFICIENT_HOLDINGS required= is tonnes). Prices per
# tonne are shown like every price of the command line (80.00), money with its unit (1,234.50 CNY);
# tonnes, counts and names stay as sent. tests/test_reject_display.py finds every (code, key) the
# engine and the gateway write and fails until a new one is sorted into fen or not.
PRICE_KEYS: dict[str, frozenset[str]] = {
    "INVALID_PRICE": frozenset({"price"}),
    "INVALID_TICK": frozenset({"price", "tick"}),
    "PRICE_OUT_OF_BAND": frozenset({"price", "lower", "upper"}),
    "AMEND_NO_CHANGE": frozenset({"price"}),
}
MONEY_KEYS: dict[str, frozenset[str]] = {
    "INSUFFICIENT_FUNDS": frozenset({"required", "available"}),
    "NOT_WITHDRAWABLE": frozenset({"amount", "withdrawable"}),
    "INVALID_AMOUNT": frozenset({"amount", "cash"}),
}
_NONE: frozenset[str] = frozenset()
_CONTEXT = re.compile(r'(?P<key>[a-z_]+)=(?P<value>"(?:[^"\\]|\\.)*"|[^\s"]+)')
_INTEGER = re.compile(r"-?\d+")


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
