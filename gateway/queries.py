"""Answers to the order-entry queries, read from the exchange's state (docs/PROTOCOL.md §4.13).

The queries (``ListOrders``, ``QueryAccounts``, ``ListTransfers`` and the auctions' ``ListAuctions``,
``ListBids``, ``ListAuctionBids``) change nothing and are answered at once, from the state before
the requests received in the same turn are applied, through the engine's read view
(``engine.view``). Whether the sender may see the account it names is the gateway's check
(``gateway.authorise.may_see``), made before these are called.

A cleared auction's anonymised bid list can hold ``max_bids_per_auction`` (100,000) bids: it is
served in pages, each sized to fit the gateway's frame limit (``max_frame_bytes``) whatever its
numbers hold, so a client that reads frames no larger than the ones it may send reads every page.
"""

from __future__ import annotations

import msgspec

from engine.view import ExchangeView
from gateway.access import GatewayOptions, MemberAccess
from gateway.auction_queries import auction_bids_page, auction_list, bid_list
from gateway.protocol import (
    AccountBalance,
    AccountList,
    AuctionBidsPage,
    AuctionList,
    BidList,
    HoldingBalance,
    ListAuctionBids,
    ListAuctions,
    ListBids,
    ListOrders,
    ListTransfers,
    OpenOrder,
    OrderList,
    QueryAccounts,
    TransferList,
    TransferProposal,
)

Query = ListOrders | QueryAccounts | ListTransfers | ListAuctions | ListBids | ListAuctionBids
Answer = OrderList | AccountList | TransferList | AuctionList | BidList | AuctionBidsPage
_MAX_FRAME_BYTES = GatewayOptions().max_frame_bytes


def answer_query(
    view: ExchangeView, access: MemberAccess, query: Query, max_frame_bytes: int = _MAX_FRAME_BYTES
) -> Answer:
    """The answer to a query the sender may make (the account it names, if any, is one it may see);
    ``max_frame_bytes`` bounds a page of an auction's bid list."""
    if isinstance(query, ListOrders):
        return order_list(view, access, query)
    if isinstance(query, QueryAccounts):
        return account_list(view, access, query)
    if isinstance(query, ListTransfers):
        return transfer_list(view, access, query)
    if isinstance(query, ListAuctions):
        return auction_list(view, access, query)
    if isinstance(query, ListBids):
        return bid_list(view, access, query)
    return auction_bids_page(view, query, max_frame_bytes)


def visible_accounts(view: ExchangeView, access: MemberAccess) -> list[str]:
    """A member's own accounts; every account of the exchange for the regulator and surveillance."""
    if access.role == "member":
        return list(access.accounts)
    return [a.id for a in view.config.accounts]


def order_list(view: ExchangeView, access: MemberAccess, query: ListOrders) -> OrderList:
    """The open orders of the account asked for (or of every visible one), by order id."""
    accounts = [query.account] if query.account else visible_accounts(view, access)
    orders = [
        OpenOrder(
            order_id=o.order_id,
            account=o.account,
            instrument=o.instrument,
            client_order_id=o.client_order_id,
            side=o.side,
            order_type=o.order_type,
            price=o.price,
            leaves=o.leaves,
            filled=o.filled,
        )
        for o in view.open_orders(accounts, query.instrument or None)
    ]
    return OrderList(request_id=query.request_id, orders=orders)


def account_list(view: ExchangeView, access: MemberAccess, query: QueryAccounts) -> AccountList:
    """Cash and holdings of the account asked for (or of every visible one)."""
    config = {a.id: a for a in view.config.accounts}
    accounts = [query.account] if query.account else visible_accounts(view, access)
    balances = []
    for account in accounts:
        cash = view.cash(account)
        holdings = [
            HoldingBalance(
                instrument=h.instrument,
                available=h.available,
                frozen=h.frozen,
                restricted=h.restricted,
                compliance=h.compliance,
            )
            for h in view.holdings(account)
        ]
        balances.append(
            AccountBalance(
                account=account,
                member=config[account].member,
                kind=config[account].kind,
                cash_available=cash.available,
                cash_frozen=cash.frozen,
                cash_withdrawable=cash.withdrawable,
                holdings=holdings,
            )
        )
    return AccountList(request_id=query.request_id, accounts=balances)


def transfer_list(view: ExchangeView, access: MemberAccess, query: ListTransfers) -> TransferList:
    """Today's proposals the account asked for is a party to (or any visible account is), by transfer id.

    A member sees a proposal when one of its accounts proposed it or is its counterparty; the
    regulator and surveillance see every proposal (docs/PROTOCOL.md §4.13).
    """
    if query.account:
        accounts: list[str] | None = [query.account]
    elif access.role == "member":
        accounts = list(access.accounts)
    else:
        accounts = None  # every account: also a proposal naming an account the config no longer has
    # The wire record has the view's fields (tests/test_gateway_transfers.py holds the two alike).
    transfers = [TransferProposal(**msgspec.structs.asdict(t)) for t in view.transfers(accounts)]
    return TransferList(request_id=query.request_id, transfers=transfers)
