"""Loading the fast book's kernels before a node says it is ready.

numba loads a cached kernel (or compiles it, the first time after an install or a change of the
kernels' sources) at its first call. A node that left that to the first order would answer it
late: ~0.2 s from the cache, ~30 s for a compile. ``load_kernels`` calls each kernel the node
will ever call once, on a throwaway listing, so that the cost is paid at start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.config import ExchangeConfig
from engine.listing.fast import bulk
from engine.listing.fast.jit import cache_dir
from engine.listing.fast.listing import FastListing
from engine.mechanism import Context
from engine.messages import CancelOrder, Command, Event, Session, Side
from settlement.ledger import Ledger


@dataclass(frozen=True)
class _NoDay:
    """The market before its first day: nothing is open."""

    trading_day: int = 0
    day_open: bool = False
    session: Session = Session.CLOSED
    halted: bool = False
    instrument_halts: dict[str, str] = field(default_factory=dict)


class _NoOtherListing:
    """The listing as other mechanisms read it: the warm-up makes no other mechanism, so none reads it."""

    def reference_price(self, instrument: str) -> int:
        raise LookupError("the kernel warm-up has no listing for other mechanisms to read")

    def open_buy_quantity(self, account: str, instrument: str) -> int:
        raise LookupError("the kernel warm-up has no listing for other mechanisms to read")

    def day_volume_turnover(self, instrument: str) -> tuple[int, int]:
        raise LookupError("the kernel warm-up has no listing for other mechanisms to read")


def kernels_cached() -> bool:
    """Whether the batch kernel is in numba's cache (False: the next start compiles)."""
    return any(cache_dir().glob("commands.run_batch-*.nbi"))


def _unreported(cmd: Command, ts: int, exc: Exception) -> Event:
    raise exc


def load_kernels(config: ExchangeConfig) -> None:
    ledger = Ledger(
        accounts=[a.id for a in config.accounts],
        instruments=[i.code for i in config.instruments],
        fee_account=config.fees.fee_account,
    )
    listing = FastListing(Context(config, ledger, _NoDay(), "fast", _unreported, _NoOtherListing()))
    listing.apply(CancelOrder(account=config.accounts[0].id, order_id=1), 0)
    for book in listing.books.values():
        book.depth(Side.BUY, 1)
        book.top(1)
        book.best(Side.BUY)
        list(book.orders())
    listing.open_orders([config.accounts[0].id], list(listing.instruments))
    listing.check()
    listing.restore_orders([], [])
    listing.expire_all(0)
    bulk.load_kernel()
