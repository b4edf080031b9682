"""The audit trail: every event of an order, or of an account, with its exchange time and journal seq.

MiFID RTS 2017/580 Art. 6 asks for a sequence number on every event; carbonx's is the journal seq of
the command that caused it, with the event's place among that command's events. An order's trail runs
from its entry (accepted, or rejected) through each fill, amendment and conversion to its last fill,
cancel or expiry. An account's trail adds its agreement transfers (as proposer or counterparty), its
auction bids and every request of its that was refused.
"""

from __future__ import annotations

import msgspec

from surveillance.settings import SurveillanceError
from surveillance.store import Store


class TrailEvent(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    ev: int
    ts: int
    day: int
    kind: str  # order, transfer, bid, request
    event: str  # accepted, filled, cancelled, ... (request: rejected)
    ref: int  # the order, transfer or bid id (0: a rejected request without one)
    account: str
    instrument: str
    detail: str  # what happened, in a few words: prices in CNY/t, quantities in t


def _cny(column: str) -> str:
    """SQL for a price in fen as CNY text, in integers: 8001 -> '80.01' (0: '-', no price)."""
    return (
        f"(CASE WHEN {column} = 0 THEN '-' ELSE CAST({column} // 100 AS VARCHAR) || '.' "
        f"|| lpad(CAST({column} % 100 AS VARCHAR), 2, '0') END)"
    )


_ORDER_DETAIL = f"""
    CASE event
      WHEN 'accepted' THEN side || ' ' || order_type || ' ' || quantity || ' t at ' || {_cny("price")}
                           || ' (client id ' || client_order_id || '; book ' || {_cny("best_bid")} || ' / '
                           || {_cny("best_ask")} || ')'
      WHEN 'rejected' THEN reason || ': ' || text || ' (client id ' || client_order_id || ')'
      WHEN 'filled' THEN side || ' ' || quantity || ' t at ' || {_cny("price")} || ' with ' || counterparty
                         || ', trade ' || trade_id || '; ' || leaves || ' t open'
      WHEN 'cancelled' THEN quantity || ' t cancelled (' || reason || ')'
      ELSE 'now ' || quantity || ' t at ' || {_cny("price")}
           || (CASE WHEN reason = '' THEN '' ELSE ' (' || reason || ')' END)
    END
"""
_ORDER_ROWS = f"""
    SELECT seq, ev, ts, day, 'order' AS kind, event, order_id AS ref, account, instrument, {_ORDER_DETAIL} AS detail
    FROM order_events
"""
_TRANSFER_ROWS = f"""
    SELECT seq, ev, ts, day, 'transfer', event, transfer_id, $account, instrument,
           proposer || ' proposes to ' || counterparty || ': ' || side || ' ' || quantity || ' t at ' || {_cny("price")}
    FROM transfer_events WHERE proposer = $account OR counterparty = $account
"""
_BID_ROWS = f"""
    SELECT seq, ev, ts, day, 'bid', event, bid_id, account, 'auction ' || auction_id,
           CASE event WHEN 'allocated' THEN allocated || ' t won at ' || {_cny("paid_price")} || ' (bid ' || quantity
                                            || ' t at ' || {_cny("price")} || ')'
                      WHEN 'withdrawn' THEN 'withdrawn'
                      ELSE quantity || ' t at ' || {_cny("price")} END
    FROM bid_events WHERE account = $account
"""
_REQUEST_ROWS = """
    SELECT seq, ev, ts, day, 'request', 'rejected', target_id, account, instrument,
           request || ' ' || code_name || ': ' || text
    FROM rejects WHERE account = $account AND request <> 'NewOrder'
"""


def order_trail(store: Store, order_id: int) -> list[TrailEvent]:
    """Every event of one order, in journal order."""
    events = _fetch(store, f"{_ORDER_ROWS} WHERE order_id = $order", {"order": order_id})
    if not events:
        raise SurveillanceError(f"order {order_id}: not in the store (ingest first, or check the id)")
    return events


def client_order_trails(store: Store, client_order_id: str, account: str = "", day: int = 0) -> list[TrailEvent]:
    """The orders sent with ``client_order_id`` (of ``account``, on ``day`` when given): each one's whole
    trail, or the rejection when it never became an order."""
    where = "client_order_id = $coid AND event IN ('accepted', 'rejected')"
    params: dict[str, object] = {"coid": client_order_id}
    if account:
        where += " AND account = $account"
        params["account"] = account
    if day:
        where += " AND day = $day"
        params["day"] = day
    entries = store.con.execute(f"SELECT event, order_id, seq FROM order_events WHERE {where}", params).fetchall()
    if not entries:
        raise SurveillanceError(f"client order id {client_order_id!r}: no order with it in the store")
    ids = sorted({int(order_id) for event, order_id, _seq in entries if event == "accepted"})
    rejected = sorted(int(seq) for event, _order_id, seq in entries if event == "rejected")
    events = _fetch(
        store,
        f"{_ORDER_ROWS} WHERE order_id IN (SELECT unnest($ids))"
        " OR (event = 'rejected' AND seq IN (SELECT unnest($seqs)))",
        {"ids": ids or [-1], "seqs": rejected or [-1]},
    )
    return [e for e in events if e.ref in ids or (e.event == "rejected" and e.seq in rejected)]


def account_trail(store: Store, account: str, day: int = 0) -> list[TrailEvent]:
    """Every event of an account (on ``day`` when given): orders, transfers, bids, refused requests."""
    known = store.scalar("SELECT count(*) FROM accounts WHERE account = ?", [account])
    if not known:
        raise SurveillanceError(f"account {account}: not an account of the exchange")
    union = f"""
        SELECT * FROM ({_ORDER_ROWS} WHERE account = $account)
        UNION ALL {_TRANSFER_ROWS} UNION ALL {_BID_ROWS} UNION ALL {_REQUEST_ROWS}
    """
    where = "WHERE day = $day" if day else ""
    params: dict[str, object] = {"account": account}
    if day:
        params["day"] = day
    return _fetch(store, f"SELECT * FROM ({union}) {where}", params)


def _fetch(store: Store, sql: str, params: dict[str, object]) -> list[TrailEvent]:
    rows = store.con.execute(f"SELECT * FROM ({sql}) ORDER BY seq, ev, kind", params).fetchall()
    names = TrailEvent.__struct_fields__
    return [msgspec.convert(dict(zip(names, row, strict=True)), TrailEvent) for row in rows]
