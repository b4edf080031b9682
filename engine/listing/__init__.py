"""Listing trading (挂牌交易): orders, the book, matching and the day's figures, on either of two books.

The book implementations (config ``engine.book``): ``reference``, readable Python on
sortedcontainers and the specification, and ``fast``, numba kernels over arrays. The choice lives
here and nowhere else.
"""

from __future__ import annotations

from engine.listing.fast.listing import FastListing
from engine.listing.mechanism import ListingState, ListingTrading
from engine.listing.reference import Listing
from engine.mechanism import Context

__all__ = ["BOOK_KINDS", "DEFAULT_BOOK", "ListingState", "ListingTrading", "make_listing"]

BOOK_KINDS = ("fast", "reference")
DEFAULT_BOOK = "fast"  # read when a listing is made, so a test may set it for everything it builds


def make_listing(context: Context) -> ListingTrading:
    """Listing trading on the book the context names (``BOOK_KINDS``; None: ``DEFAULT_BOOK``)."""
    kind = DEFAULT_BOOK if context.book is None else context.book
    if kind == "reference":
        return Listing(context)
    if kind == "fast":
        return FastListing(context)
    raise ValueError(f"unknown order book {kind!r}: expected one of {', '.join(BOOK_KINDS)}")
