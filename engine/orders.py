"""A live order as the engine keeps it, and the snapshot record it round-trips through."""

from __future__ import annotations

import msgspec

from engine.messages import OrderType, Side, StpMode


class Order:
    """A resting or in-flight order. Mutable, owned by the engine; never sent out as is.

    ``freeze_price`` is the price a buy's cash is frozen at: the limit price, or the band's upper
    limit for a market buy until its rest is converted or cancelled. ``traded_value`` is the
    order's cumulative traded value (fen), which its fees are computed on.
    """

    __slots__ = (
        "account",
        "client_order_id",
        "filled",
        "freeze_price",
        "frozen_cash",
        "frozen_quantity",
        "instrument",
        "leaves",
        "order_id",
        "order_type",
        "price",
        "side",
        "stp",
        "traded_value",
    )

    def __init__(
        self,
        *,
        order_id: int,
        account: str,
        instrument: str,
        client_order_id: str,
        side: Side,
        order_type: OrderType,
        price: int,
        leaves: int,
        stp: StpMode,
        freeze_price: int = 0,
        filled: int = 0,
        frozen_cash: int = 0,
        frozen_quantity: int = 0,
        traded_value: int = 0,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.instrument = instrument
        self.client_order_id = client_order_id
        self.side = side
        self.order_type = order_type
        self.price = price
        self.leaves = leaves
        self.stp = stp
        self.freeze_price = freeze_price
        self.filled = filled
        self.frozen_cash = frozen_cash
        self.frozen_quantity = frozen_quantity
        self.traded_value = traded_value

    def __repr__(self) -> str:
        return (
            f"Order(id={self.order_id}, {self.account}, {self.side.name} {self.leaves}@{self.price} {self.instrument})"
        )

    def record(self) -> OrderRecord:
        return OrderRecord(**{name: getattr(self, name) for name in Order.__slots__})

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
