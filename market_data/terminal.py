"""Colour and width for the text boards.

Colour follows the Chinese market's convention: a price above the reference (a rise) in red, below
it (a fall) in green. It is ANSI SGR only, added after the layout, so ``clip`` counts what a
terminal shows, never the escape codes.
"""

from __future__ import annotations

import re

RISE = "rise"
FALL = "fall"
ALERT = "alert"  # STALE, HALTED: what must not be missed
_SGR = {RISE: "\x1b[31m", FALL: "\x1b[32m", ALERT: "\x1b[1;7m"}  # red, green, bold reverse video
RESET = "\x1b[0m"
_ESCAPE = re.compile(r"(\x1b\[[0-9;]*m)")


def tone(difference: int) -> str:
    """The style of a price ``difference`` above (RISE) or below (FALL) its reference; "" when equal."""
    return RISE if difference > 0 else FALL if difference < 0 else ""


class Paint:
    """Wraps text in a style's colour, or leaves it as it is when colour is off."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, style: str) -> str:
        core = text.strip()
        if not self.colour or not style or not core:
            return text
        start = text.index(core)
        # The padding stays outside the colour: reverse video would show it.
        return f"{text[:start]}{_SGR[style]}{core}{RESET}{text[start + len(core) :]}"


PLAIN = Paint(False)


def visible_width(line: str) -> int:
    """The characters a terminal shows of ``line`` (escape codes take no room)."""
    return len(_ESCAPE.sub("", line))


def clip(line: str, width: int) -> str:
    """``line`` cut to ``width`` shown characters, trailing spaces dropped; a colour cut short is reset."""
    if "\x1b" not in line:
        return line[:width].rstrip()
    parts: list[str] = []
    room = width
    coloured = False  # a colour is on at this point of the line
    for piece in _ESCAPE.split(line):
        if _ESCAPE.fullmatch(piece):
            parts.append(piece)
            coloured = piece != RESET
        elif len(piece) <= room:
            parts.append(piece)
            room -= len(piece)
        else:
            parts.append(piece[:room])
            if coloured:
                parts.append(RESET)
            break
    text = "".join(parts)
    stripped = _ESCAPE.sub("", text)
    trailing = len(stripped) - len(stripped.rstrip())
    return _drop_trailing(text, trailing) if trailing else text


def _drop_trailing(text: str, count: int) -> str:
    """``text`` without its last ``count`` shown characters (all spaces), escape codes kept."""
    pieces = _ESCAPE.split(text)
    for index in range(len(pieces) - 1, -1, -1):
        if count == 0:
            break
        if _ESCAPE.fullmatch(pieces[index]):
            continue
        taken = min(count, len(pieces[index]))
        pieces[index] = pieces[index][: len(pieces[index]) - taken]
        count -= taken
    return "".join(pieces)
