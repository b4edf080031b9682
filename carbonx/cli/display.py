"""Formatting integers of the engine for people: fen as CNY with two decimals, thousands separated."""

from __future__ import annotations

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
