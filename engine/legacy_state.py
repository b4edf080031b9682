"""Snapshots written before the state came in parts, one per mechanism (state version 1).

Such a snapshot is one flat record; its fields are split here into the ledger and the parts the
mechanisms keep today, so a data directory written by an earlier version starts from its newest
snapshot as before instead of replaying its whole journal.
"""

from __future__ import annotations

import msgspec

from engine.listing import ListingState
from engine.listing.daily import InstrumentDay
from engine.listing.orders import OrderRecord
from engine.market_day import MarketState
from engine.registry import ComplianceRecord, RegistryFileRecord, RegistryState
from settlement.ledger import LedgerState


class _InstrumentDay(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """``InstrumentDay`` as it was: the instrument's halt was kept with its figures."""

    code: str
    reference_price: int
    halted: bool = False
    halt_reason: str = ""
    open: int = 0
    high: int = 0
    low: int = 0
    last: int = 0
    volume: int = 0
    turnover: int = 0
    trades: int = 0


class _Version1(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    market: MarketState
    instruments: list[_InstrumentDay]
    orders: list[OrderRecord]
    ledger: LedgerState
    client_order_ids: list[tuple[str, str]]
    next_order_id: int
    next_trade_id: int
    fees_today: int  # the listing's fees of the day: the end of day now asks the ledger
    compliance: list[ComplianceRecord]
    registry_files: list[RegistryFileRecord] = msgspec.field(default_factory=list)


_decoder = msgspec.msgpack.Decoder(_Version1)
_encoder = msgspec.msgpack.Encoder()


def upcast(snapshot: bytes) -> tuple[LedgerState, list[tuple[str, msgspec.Raw]]]:
    """The ledger and the mechanisms' parts of a version-1 snapshot (``msgspec.ValidationError``
    or ``msgspec.DecodeError`` when it is not one either)."""
    old = _decoder.decode(snapshot)
    halts = {day.code: day.halt_reason for day in old.instruments if day.halted}
    market = msgspec.structs.replace(old.market, instrument_halts=dict(sorted(halts.items())))
    instruments = [
        InstrumentDay(
            code=d.code,
            reference_price=d.reference_price,
            open=d.open,
            high=d.high,
            low=d.low,
            last=d.last,
            volume=d.volume,
            turnover=d.turnover,
            trades=d.trades,
        )
        for d in old.instruments
    ]
    listing = ListingState(
        instruments=instruments,
        orders=old.orders,
        client_order_ids=old.client_order_ids,
        next_order_id=old.next_order_id,
        next_trade_id=old.next_trade_id,
    )
    registry = RegistryState(compliance=old.compliance, registry_files=old.registry_files)
    parts = [("market_day", market), ("listing", listing), ("registry", registry)]
    return old.ledger, [(name, msgspec.Raw(_encoder.encode(part))) for name, part in parts]
