"""docs/AUCTIONS.md is the published specification: what it prints must be what the code does.

The PRNG's known-answer vectors printed there equal those the engine computes (and those
tests/test_auction_prng.py pins); a stale vector is detected; every auction reject code, every
term of an announcement and every public result field is described.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.messages import AuctionCleared, AuctionTerms, Reject
from tests.test_auction_prng import KNOWN, vectors

DOC = Path(__file__).resolve().parent.parent / "docs" / "AUCTIONS.md"
LINE = re.compile(r"^(seed|commitment|u64|below\(10\)|below\(2\^63\+1\)|shuffle\(0\.\.9\))\s+(.+)$")
NUMBERS = {"below(10)", "below(2^63+1)", "shuffle(0..9)"}


def printed_vectors(text: str) -> dict[str, dict[str, object]]:
    """The vectors of the ``text`` block under "Known-answer vectors": seed -> name -> values."""
    section = text.split("### Known-answer vectors", 1)[1]
    block = section.split("```text", 1)[1].split("```", 1)[0]
    found: dict[str, dict[str, object]] = {}
    current: dict[str, object] = {}
    for line in block.splitlines():
        match = LINE.match(line.strip())
        if not match:
            continue
        name, values = match.group(1), match.group(2).split()
        if name == "seed":
            current = found.setdefault(values[0], {})
        elif name == "commitment":
            current[name] = values[0]
        else:
            current[name] = [int(v) for v in values] if name in NUMBERS else values
    return found


def test_the_prng_vectors_printed_are_those_the_code_computes() -> None:
    printed = printed_vectors(DOC.read_text(encoding="utf-8"))

    assert set(printed) == set(KNOWN)
    for seed_hex, values in printed.items():
        assert values == vectors(seed_hex) == KNOWN[seed_hex], seed_hex


def test_a_stale_vector_is_detected() -> None:
    text = DOC.read_text(encoding="utf-8")
    stale = text.replace("below(10)      8 7 3 1 0 9 8 8", "below(10)      8 7 3 1 0 9 8 9")

    assert stale != text
    assert printed_vectors(stale) != printed_vectors(text)


def test_every_auction_reject_code_is_described() -> None:
    text = DOC.read_text(encoding="utf-8")
    auction_codes = [code for code in Reject if 5015 <= code.value <= 5031]

    assert len(auction_codes) == 17
    assert [code.name for code in auction_codes if f"`{code.name}`" not in text] == []


def test_every_term_and_every_public_result_field_is_described() -> None:
    text = DOC.read_text(encoding="utf-8")
    terms = [f for f in AuctionTerms.__struct_fields__ if f"`{f}`" not in text]
    results = [f for f in AuctionCleared.__struct_fields__ if f not in ("version", "ts_event") and f"`{f}`" not in text]

    assert (terms, results) == ([], [])
