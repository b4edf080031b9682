"""The table of reject codes in docs/REJECT_CODES.md is the published contract: it must match the enum."""

from __future__ import annotations

import re
from pathlib import Path

from engine.messages import Reject

DOC = Path(__file__).resolve().parent.parent / "docs" / "REJECT_CODES.md"
ROW = re.compile(r"^\|\s*(\d{4})\s*\|\s*([A-Z_]+)\s*\|")


def table_codes(text: str) -> dict[int, str]:
    rows = [ROW.match(line) for line in text.splitlines()]
    return {int(m.group(1)): m.group(2) for m in rows if m}


def enum_codes() -> dict[int, str]:
    return {code.value: code.name for code in Reject}


def test_reject_code_table_matches_enum() -> None:
    assert table_codes(DOC.read_text(encoding="utf-8")) == enum_codes()


def test_a_stale_table_is_detected() -> None:
    text = DOC.read_text(encoding="utf-8")
    without_row = "\n".join(line for line in text.splitlines() if "| 4002 |" not in line)
    renamed = text.replace("| 2008 | PRICE_OUT_OF_BAND |", "| 2008 | PRICE_OUTSIDE_BAND |")
    assert table_codes(without_row) != enum_codes()
    assert table_codes(renamed) != enum_codes()
