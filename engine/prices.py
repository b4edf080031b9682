"""Price arithmetic every mechanism shares: the band, rounding to the tick, the close. Integers only."""

from __future__ import annotations

BP = 10_000


def band_limits(reference_price: int, band_bp: int, tick: int) -> tuple[int, int]:
    """The daily price band: reference ± band, each limit rounded inward to the tick.

    The lower limit rounds up and the upper limit rounds down, so both are on the tick and
    never outside ±band of the reference price.
    """
    upper = reference_price * (BP + band_bp) // (BP * tick) * tick
    lower = -(-reference_price * (BP - band_bp) // (BP * tick)) * tick
    return max(lower, tick), upper


def round_half_up_to_tick(numerator: int, denominator: int, tick: int) -> int:
    """``numerator / denominator`` rounded half-up to a multiple of ``tick`` (all positive)."""
    return (2 * numerator + denominator * tick) // (2 * denominator * tick) * tick


def closing_price(turnover: int, volume: int, previous_close: int, tick: int) -> int:
    """The close: VWAP of the day's listing trades, half-up to the tick; with none, the previous close."""
    if volume == 0:
        return previous_close
    return round_half_up_to_tick(turnover, volume, tick)
