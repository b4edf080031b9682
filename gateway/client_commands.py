"""What both SDK clients build before they send: the CURVE keys a socket connects with, and the
engine commands made from a call's arguments (``gateway.client``)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import zmq

from engine.messages import NewOrder, OrderType, ProposeTransfer, Side, StpMode, SubmitBid
from gateway.keys import load_member_secret, load_server_public


class ClientKeys:
    """The member's CURVE key pair and the server's public key, set on a socket before it connects."""

    def __init__(self, server_public: bytes, public: bytes, secret: bytes) -> None:
        self.server_public, self.public, self.secret = server_public, public, secret

    @classmethod
    def load(cls, keys_dir: str | Path, member: str) -> ClientKeys:
        directory = Path(keys_dir)
        public, secret = load_member_secret(directory, member)
        return cls(load_server_public(directory), public, secret)

    def apply(self, socket: zmq.Socket[Any]) -> None:
        socket.setsockopt(zmq.CURVE_SERVERKEY, self.server_public)
        socket.setsockopt(zmq.CURVE_PUBLICKEY, self.public)
        socket.setsockopt(zmq.CURVE_SECRETKEY, self.secret)


def new_order_command(
    account: str,
    instrument: str,
    side: Side,
    quantity: int,
    price: int = 0,
    order_type: OrderType = OrderType.LIMIT,
    client_order_id: str | None = None,
    stp: StpMode | None = None,
) -> NewOrder:
    return NewOrder(
        account=account,
        instrument=instrument,
        client_order_id=client_order_id or uuid.uuid4().hex[:20],
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        stp=stp,
    )


def propose_transfer_command(
    account: str,
    counterparty: str,
    instrument: str,
    side: Side,
    price: int,
    quantity: int,
    client_proposal_id: str | None = None,
) -> ProposeTransfer:
    return ProposeTransfer(
        account=account,
        client_proposal_id=client_proposal_id or uuid.uuid4().hex[:20],
        side=side,
        counterparty=counterparty,
        instrument=instrument,
        price=price,
        quantity=quantity,
    )


def submit_bid_command(
    account: str, auction_id: int, price: int, quantity: int, client_bid_id: str | None = None
) -> SubmitBid:
    return SubmitBid(
        account=account,
        auction_id=auction_id,
        client_bid_id=client_bid_id or uuid.uuid4().hex[:20],
        price=price,
        quantity=quantity,
    )
