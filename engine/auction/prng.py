"""The seeded random order of auction tie-breaks, specified to be recomputed in any language.

The regulator commits to a seed at the announcement by publishing SHA-256(seed) and reveals the
seed at clearing (docs/AUCTIONS.md "Verifiable randomness"). Anyone holding the published
anonymised bids and the seed can then recompute every allocation.

- The seed is 32 bytes, written as 64 lowercase hexadecimal characters; the commitment is the
  SHA-256 of those 32 bytes (not of the text), also written in hex.
- Block ``i`` (i = 0, 1, 2, ...) is SHA-256(seed ‖ i), ``i`` as 8 bytes big-endian. The stream of
  64-bit numbers is block 0's bytes 0-7, 8-15, 16-23, 24-31 (each an unsigned big-endian integer),
  then block 1's, and so on.
- ``below(n)``: a uniform integer in [0, n), by rejection: take the next number x of the stream;
  with limit = 2^64 − (2^64 mod n), return x mod n if x < limit, otherwise take the next one.
- ``shuffle(items)``: Fisher-Yates from the end: for i = len − 1 down to 1, j = below(i + 1),
  swap items i and j.

Deterministic: no clock and no global state; the engine calls it inside a state transition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import TypeVar

SEED_BYTES = 32
_SPAN = 1 << 64

T = TypeVar("T")


def parse_seed(text: str) -> bytes | None:
    """The seed's 32 bytes from its hex text, or None when it is not 64 hexadecimal characters."""
    if len(text) != 2 * SEED_BYTES or not all(c in "0123456789abcdefABCDEF" for c in text):
        return None  # ``bytes.fromhex`` alone would skip whitespace and give fewer bytes
    return bytes.fromhex(text)


def commitment(seed: bytes) -> str:
    """SHA-256 of the seed's bytes, in lowercase hex: what an announcement publishes."""
    return hashlib.sha256(seed).hexdigest()


def is_commitment(text: str) -> bool:
    """Whether ``text`` has the form of a commitment: 64 lowercase hexadecimal characters."""
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


class SeedStream:
    """The stream of 64-bit numbers a seed gives, and the draws made from it."""

    def __init__(self, seed: bytes) -> None:
        self._numbers = self._generate(seed)

    @staticmethod
    def _generate(seed: bytes) -> Iterator[int]:
        counter = 0
        while True:
            block = hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
            for offset in range(0, 32, 8):
                yield int.from_bytes(block[offset : offset + 8], "big")
            counter += 1

    def next_u64(self) -> int:
        return next(self._numbers)

    def below(self, n: int) -> int:
        """A uniform integer in [0, n), by rejection sampling (no modulo bias)."""
        if n <= 0:
            raise ValueError("below(n) needs n >= 1")
        limit = _SPAN - _SPAN % n
        while True:
            x = self.next_u64()
            if x < limit:
                return x % n

    def shuffle(self, items: Sequence[T]) -> list[T]:
        """A new list of ``items`` in the seeded random order (Fisher-Yates from the end)."""
        shuffled = list(items)
        for i in range(len(shuffled) - 1, 0, -1):
            j = self.below(i + 1)
            shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
        return shuffled
