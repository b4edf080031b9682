"""A live order as the engine keeps it, and the snapshot record it round-trips through."""

from __future__ import annotations

import msgspec

from engine.messages import OrderType, Side, StpMode


class Order(msgspec.Struct, kw_only=True, eq=False, gc=False):
    """A resting or in-flight order. Mutable, owned by the engine; never sent out as is.

    ``freeze_price`` is the price a buy's cash is frozen at: the limit price, or the band's upper
    limit for a market buy until its rest is converted or cancelled. ``traded_value`` is the
    order's cumulative traded value (fen), which its fees are computed on.

    A Struct rather than a plain slotted class because one is built for every new order and
    msgspec builds it from keywords several times faster. ``eq=False`` keeps identity equality
    (an order is an entity: two orders with the same fields are still two orders); ``gc=False``
    is safe because an order holds only strings, integers and enum members, never a cycle.
    """

    order_id: int
    account: str
    instrument: str
    client_order_id: str
    side: Side
    order_type: OrderType
    price: int
    leaves: int
    stp: StpMode
    freeze_price: int = 0
    filled: int = 0
    frozen_cash: int = 0
    frozen_quantity: int = 0
    traded_value: int = 0

    def __repr__(self) -> str:
        return (
            f"Order(id={self.order_id}, {self.account}, {self.side.name} {self.leaves}@{self.price} {self.instrument})"
        )

    def record(self) -> OrderRecord:
        return OrderRecord(**msgspec.structs.asdict(self))

    @classmethod
    def from_record(cls, record: OrderRecord) -> Order:
        return cls(**msgspec.structs.asdict(record))


class OrderRecord(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    order_id: int
    account: str
    instrument: str
    client_order_id: str
    side: Side
    order_type: OrderType
    price: int
    leaves: int
    stp: StpMode
    freeze_price: int
    filled: int
    frozen_cash: int
    frozen_quantity: int
    traded_value: int
