"""Listing trading as a mechanism: what both books share, and the choice between them.

``ListingTrading`` is the part every book implementation has in common: the instruments and their
day figures (``InstrumentDay``), the price band, the listing's part of the
state, and its start- and end-of-day steps (expiry, the bulletin, the next reference price). The
implementations extend it with orders, matching and settlement: ``engine.listing.reference.Listing``
(the specification) and ``engine.listing.fast.listing.FastListing``. ``make_listing`` picks one by
the config's ``engine.book``; nothing outside this package knows which one runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from operator import attrgetter
from typing import Protocol

import msgspec
import numpy as np

from engine.batch import CommandBatch, EventBatch
from engine.config import Account, Instrument
from engine.listing.book import DepthLevel
from engine.listing.daily import InstrumentDay
from engine.listing.orders import Order, OrderRecord
from engine.mechanism import Context, Handler, Mechanism
from engine.messages import (
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    Command,
    DailyBulletin,
    Event,
    NewOrder,
    Side,
    StpMode,
)
from engine.prices import band_limits
from engine.risk import PositionLimits
from settlement.arrays import METHOD_TRANSFER

# A command that failed inside a batch: its index and the exception (``Exchange`` gives the outcome).
BatchFailure = Callable[[int, Exception], None]


class ListingState(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """The listing's part of the state, in canonical order."""

    instruments: list[InstrumentDay]  # config order
    orders: list[OrderRecord]  # per instrument (config order): bids best first, then asks; FIFO
    client_order_ids: list[tuple[str, str]]  # (account, client order id) used today, sorted
    next_order_id: int
    next_trade_id: int


class Book(Protocol):
    """One instrument's book as every implementation shows it (the read side)."""

    def __len__(self) -> int: ...
    def get(self, order_id: int) -> Order | None: ...
    def best(self, side: Side) -> int | None: ...
    def depth(self, side: Side, levels: int) -> list[DepthLevel]: ...
    def top(self, levels: int) -> tuple[list[DepthLevel], list[DepthLevel]]: ...  # (bids, asks) at once
    def orders(self) -> Iterator[Order]: ...


class ClientOrderIds(Collection[tuple[str, str]], Protocol):
    def clear(self) -> None: ...


_order_id = attrgetter("order_id")


class ListingTrading(Mechanism, ABC):
    """Listing trading over one book implementation: the parts they share."""

    name = "listing"
    State = ListingState
    book_kind: str  # "reference" or "fast"
    books: Mapping[str, Book]
    client_order_ids: ClientOrderIds  # (account, client order id) pairs used today
    next_order_id: int
    next_trade_id: int

    def __init__(self, context: Context) -> None:
        config = context.config
        self.config = config
        self.ledger = context.ledger
        self.market = context.market
        self.report_failure = context.report_failure
        self.risk = PositionLimits(config, self.ledger)
        self.rate_ppm = config.fees.listing_ppm
        self.limits = config.listing
        self.default_stp = StpMode[config.listing.default_stp.upper()]
        self.accounts: dict[str, Account] = {a.id: a for a in config.accounts}
        self.instruments: dict[str, Instrument] = {i.code: i for i in config.instruments}
        self.days: dict[str, InstrumentDay] = {
            i.code: InstrumentDay(code=i.code, reference_price=i.reference_price_fen) for i in config.instruments
        }
        self._bands: dict[str, tuple[int, int, int]] = {}  # instrument -> reference, lower, upper

    # ------------------------------------------------------------------ what an implementation gives
    @abstractmethod
    def apply(self, cmd: Command, ts: int) -> list[Event]:
        """Apply one order command (new, cancel, amend, mass cancel)."""

    @abstractmethod
    def expire_all(self, ts: int) -> list[Event]:
        """Every order still resting expires (orders are day orders), in canonical order."""

    @abstractmethod
    def find_order(self, order_id: int) -> Order | None:
        """The open order with this id, whoever's it is; None when there is none."""

    @abstractmethod
    def order_records(self) -> list[OrderRecord]:
        """Every resting order as its snapshot record, in canonical order."""

    @abstractmethod
    def restore_orders(self, records: list[OrderRecord], client_order_ids: Iterable[tuple[str, str]]) -> None:
        """Rest a snapshot's orders (their freezes are already in the ledger) and its used ids."""

    def open_orders(self, accounts: Collection[str] | None, instruments: Sequence[str]) -> list[Order]:
        """The open orders of ``accounts`` (None: every account) on ``instruments`` (listed ones), by order id."""
        wanted = None if accounts is None else frozenset(accounts)
        orders = [o for code in instruments for o in self.books[code].orders() if wanted is None or o.account in wanted]
        orders.sort(key=_order_id)
        return orders

    def encode(self, commands: Sequence[Command], ts: Sequence[int]) -> np.ndarray | None:
        """The batch in the form ``run`` applies in one go; None when one by one is all there is."""
        return None

    def run_batch(
        self,
        batch: CommandBatch,
        python: dict[int, list[Event]],
        on_python: Callable[[int], None],
        on_failure: BatchFailure,
    ) -> EventBatch:
        """Apply a batch ``encode`` gave columns for. Commands of other mechanisms go to
        ``on_python(index)`` (which puts their events in ``python``), one that raises to
        ``on_failure(index, exception)``; the others' events come back as the batch's records.

        A book without an encoded form applies every command one by one, through ``on_python``.
        """
        for index in range(len(batch)):
            on_python(index)
        return EventBatch(batch, python_events=python)

    # ------------------------------------------------------------------ the mechanism
    def handlers(self) -> Mapping[type[Command], Handler]:
        return {
            NewOrder: self.apply,
            CancelOrder: self.apply,
            AmendOrder: self.apply,
            CancelAllOrders: self.apply,
        }

    def state(self) -> ListingState:
        return ListingState(
            instruments=[msgspec.structs.replace(d) for d in self.days.values()],
            orders=self.order_records(),
            client_order_ids=sorted(self.client_order_ids),
            next_order_id=self.next_order_id,
            next_trade_id=self.next_trade_id,
        )

    def restore(self, state: ListingState) -> None:
        for figures in state.instruments:
            self.days[figures.code] = msgspec.structs.replace(figures)
        self.next_order_id = state.next_order_id
        self.restore_orders(state.orders, state.client_order_ids)
        self.next_trade_id = state.next_trade_id

    def start_of_day(self, trading_day: int, ts: int) -> None:
        for figures in self.days.values():
            figures.start_day()
        self.resync()

    def end_of_day(self, trading_day: int, ts: int) -> list[Event]:
        """Day orders expire, each instrument's bulletin is issued and its close becomes the next
        reference price, and today's client order ids may be used again."""
        events = self.expire_all(ts)
        # Bulk trades (agreement transfers) settle through the same ledger, which records each
        # trade's method: the bulletin counts them apart, and no price of the listing's comes from them.
        bulk = self.ledger.day_totals(METHOD_TRANSFER)
        for code, figures in self.days.items():
            close = figures.close(self.instruments[code].tick_fen)
            bulk_volume, bulk_turnover, bulk_trades = bulk.get(code, (0, 0, 0))
            events.append(
                DailyBulletin(
                    ts_event=ts,
                    trading_day=trading_day,
                    instrument=code,
                    reference_price=figures.reference_price,
                    open=figures.open,
                    high=figures.high,
                    low=figures.low,
                    last=figures.last,
                    close=close,
                    vwap=figures.vwap(),
                    volume=figures.volume,
                    turnover=figures.turnover,
                    trades=figures.trades,
                    bulk_volume=bulk_volume,
                    bulk_turnover=bulk_turnover,
                    bulk_trades=bulk_trades,
                )
            )
            figures.reference_price = close
        self.client_order_ids.clear()
        self.resync()
        return events

    # ------------------------------------------------------------------ what other mechanisms read
    def reference_price(self, instrument: str) -> int:
        """The instrument's reference price today: the previous close (``engine.mechanism.ListingView``)."""
        return self.days[instrument].reference_price

    def day_volume_turnover(self, instrument: str) -> tuple[int, int]:
        """Today's listing volume (t) and turnover (fen) of the instrument so far."""
        figures = self.days[instrument]
        return figures.volume, figures.turnover

    @abstractmethod
    def open_buy_quantity(self, account: str, instrument: str) -> int:
        """Tonnes the account may still buy through its open listing orders (the position limit counts them)."""

    # ------------------------------------------------------------------ the band
    def band(self, instrument: str) -> tuple[int, int]:
        """The day's price band (lower, upper), from the instrument's current reference price."""
        reference = self.days[instrument].reference_price
        cached = self._bands.get(instrument)
        if cached is None or cached[0] != reference:
            tick = self.instruments[instrument].tick_fen
            cached = self._bands[instrument] = (reference, *band_limits(reference, self.limits.band_bp, tick))
        return cached[1], cached[2]
