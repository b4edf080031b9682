"""Listing trading (挂牌交易): orders, the book, matching and the day's figures, on either of two books.

The book implementations (config ``engine.book``): ``reference``, readable Python on
sortedcontainers and the specification, and ``fast``, numba kernels over arrays. The choice lives
here and nowhere else.
"""

from __future__ import annotations

BOOK_KINDS = ("fast", "reference")
DEFAULT_BOOK = "fast"  # read when a listing is made, so a test may set it for everything it builds
