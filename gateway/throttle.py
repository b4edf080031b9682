"""Token buckets in integer nano-tokens: the member's throttle and each connection's refusal budget."""

from __future__ import annotations

_NS_PER_S = 1_000_000_000


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; starts full. Integers only."""

    __slots__ = ("burst", "credit", "rate", "updated")

    def __init__(self, rate: int, burst: int, now: int) -> None:
        self.rate, self.burst = rate, burst
        self.credit = burst * _NS_PER_S
        self.updated = now

    def _refill(self, now: int) -> None:
        elapsed = max(0, now - self.updated)
        self.credit = min(self.burst * _NS_PER_S, self.credit + elapsed * self.rate)
        self.updated = now

    def take(self, tokens: int, now: int) -> bool:
        """Pay ``tokens`` if the bucket holds them; a payment it cannot make costs nothing."""
        self._refill(now)
        cost = tokens * _NS_PER_S
        if self.credit < cost:
            return False
        self.credit -= cost
        return True

    def holds(self, tokens: int, now: int) -> bool:
        """Whether ``take(tokens)`` would succeed now (takes nothing)."""
        self._refill(now)
        return self.credit >= tokens * _NS_PER_S

    def available(self, now: int) -> int:
        """Whole tokens in the bucket now."""
        self._refill(now)
        return self.credit // _NS_PER_S
