"""Loading the fast book's kernels before a node says it is ready.

numba loads a cached kernel (or compiles it, the first time after an install or a change of the
kernels' sources) at its first call. A node that left that to the first order would answer it
late: ~0.2 s from the cache, ~30 s for a compile. ``load_kernels`` calls each kernel the node
will ever call once, on a throwaway exchange, so that the cost is paid at start.
"""

from __future__ import annotations

from engine.config import ExchangeConfig
from engine.exchange import Exchange
from engine.listing.fast.jit import cache_dir
from engine.listing.fast.listing import FastListing
from engine.messages import CancelOrder, Side


def kernels_cached() -> bool:
    """Whether the batch kernel is in numba's cache (False: the next start compiles)."""
    return any(cache_dir().glob("commands.run_batch-*.nbi"))


def load_kernels(config: ExchangeConfig) -> None:
    exchange = Exchange(config, "fast")
    listing = exchange.listing
    assert isinstance(listing, FastListing)
    account = config.accounts[0].id
    exchange.apply_batch(exchange.command_batch([CancelOrder(account=account, order_id=1)], [0])).all_events()
    for book in listing.books.values():
        book.depth(Side.BUY, 1)
        book.best_bid()
        list(book.orders())
    listing.validate_internal_state()
    listing.restore_orders([], listing.next_order_id)
    listing.expire_all(0)
