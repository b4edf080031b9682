"""The day's orders of a member in every state — open, filled, cancelled, expired, rejected — from its
execution reports of the current trading day, merged with the open-order query (``ListOrders``).

The reports tell each order's story (accepted, filled, amended, cancelled with a reason, expired at
the end of day, or rejected with a code); the query is the book as it stands, so an open order's
open and filled quantities come from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.messages import (
    CancelReason,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderConvertedToLimit,
    OrderRejected,
    OrderType,
    Side,
)
from gateway.protocol import ExecutionReport, Fill, OpenOrder


@dataclass
class DayOrder:
    """One order of the day as it stands; a rejected one has no order id (0) and no side or price."""

    order_id: int
    ts_event: int  # exchange time of its acceptance or rejection (0: not in the reports)
    account: str
    instrument: str
    client_order_id: str
    side: Side | None
    order_type: OrderType | None
    price: int  # fen/t; 0: a market order, or rejected
    quantity: int  # t, as sent
    filled: int = 0
    leaves: int = 0  # open quantity
    status: str = "open"  # open, filled, cancelled (REASON), expired, rejected (CODE), closed


def day_orders(
    reports: Iterable[ExecutionReport], open_orders: Sequence[OpenOrder], account: str = "", instrument: str = ""
) -> list[DayOrder]:
    """The orders the reports tell of, in the order they came, then open ones they do not (optionally of
    one account or instrument). ``open_orders`` must be asked after the reports' last: it decides
    which are open now."""
    orders: dict[int, DayOrder] = {}
    rows: list[DayOrder] = []
    for report in reports:
        event = report.event
        if isinstance(event, OrderAccepted):
            order = DayOrder(
                order_id=event.order_id,
                ts_event=event.ts_event,
                account=event.account,
                instrument=event.instrument,
                client_order_id=event.client_order_id,
                side=event.side,
                order_type=event.order_type,
                price=event.price,
                quantity=event.quantity,
                leaves=event.quantity,
            )
            orders[event.order_id] = order
            rows.append(order)
        elif isinstance(event, OrderRejected):
            rows.append(
                DayOrder(
                    order_id=0,
                    ts_event=event.ts_event,
                    account=event.account,
                    instrument=event.instrument,
                    client_order_id=event.client_order_id,
                    side=None,
                    order_type=None,
                    price=0,
                    quantity=0,
                    status=f"rejected ({event.code.name})",
                )
            )
        elif isinstance(event, Fill | OrderCancelled | OrderAmended | OrderConvertedToLimit):
            found = orders.get(event.order_id)
            if found is not None:
                _apply(found, event)
    now_open = {o.order_id: o for o in open_orders}
    for order in rows:
        if order.order_id in now_open:
            still = now_open.pop(order.order_id)
            order.price, order.leaves, order.filled, order.status = still.price, still.leaves, still.filled, "open"
        elif order.status == "open" and order.order_id:
            order.status = "closed"  # gone from the book by an event the reports asked did not reach
    rows += [_from_query(o) for o in now_open.values()]
    return [o for o in rows if (not account or o.account == account) and (not instrument or o.instrument == instrument)]


def _apply(order: DayOrder, event: Fill | OrderCancelled | OrderAmended | OrderConvertedToLimit) -> None:
    if isinstance(event, Fill):
        order.filled += event.quantity
        order.leaves = event.leaves
        if not event.leaves:
            order.status = "filled"
    elif isinstance(event, OrderCancelled):
        order.leaves = 0
        order.status = "expired" if event.reason is CancelReason.EXPIRED else f"cancelled ({event.reason.name})"
    else:  # amended, or a market order's rest now a limit order: a new price and open quantity
        order.price, order.leaves = event.price, event.quantity


def _from_query(o: OpenOrder) -> DayOrder:
    return DayOrder(
        order_id=o.order_id,
        ts_event=0,
        account=o.account,
        instrument=o.instrument,
        client_order_id=o.client_order_id,
        side=o.side,
        order_type=o.order_type,
        price=o.price,
        quantity=o.leaves + o.filled,
        filled=o.filled,
        leaves=o.leaves,
    )
