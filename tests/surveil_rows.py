"""Hand-made surveillance store rows for the rule tests: a market described in a few lines.

``Market`` fills an in-memory store table by table; each helper takes the fields that matter and
defaults the rest, and keeps seq, ev and ts moving forward so the rows stay in journal order.
Times are seconds after 09:30 of ``DAY`` (exchange time, Asia/Shanghai), as the rules read them.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from surveillance.store import Store

DAY = 20261201
SHANGHAI = ZoneInfo("Asia/Shanghai")
SECOND = 1_000_000_000


def at(seconds: float, day: int = DAY, hour: int = 9, minute: int = 30) -> int:
    """Exchange time (ns) ``seconds`` after hour:minute of ``day``."""
    start = dt.datetime(day // 10_000, day // 100 % 100, day % 100, hour, minute, tzinfo=SHANGHAI)
    return int(start.timestamp()) * SECOND + int(seconds * SECOND)


class Market:
    """An in-memory store being filled: accounts first, then activity in time order."""

    def __init__(self, tick: int = 1, instrument: str = "SHEA2025", reference_price: int = 8_000) -> None:
        self.store = Store.memory()
        self.con = self.store.con
        self.seq = 0
        self.next_order = 0
        self.next_trade = 0
        self.instrument = instrument
        self.members: dict[str, str] = {}
        self.store.insert("instruments", [(instrument, "allowance", tick, 1, reference_price)])

    # ------------------------------------------------------------------ reference data
    def account(
        self,
        account: str,
        member: str,
        *,
        kind: str = "institution",
        prohibited: bool = False,
        owner_group: str = "",
        position_limit: int = 1_000_000,
        large_holder: int = 500_000,
    ) -> None:
        if member not in self.members:
            self.members[member] = member
            self.store.insert("members", [(member, f"Member {member}", "comprehensive")])
        self.store.insert(
            "accounts",
            [(account, member, kind, f"Account {account}", prohibited, owner_group, position_limit, large_holder)],
        )
        self.members[account] = member

    def member_of(self, account: str) -> str:
        return self.members[account]

    # ------------------------------------------------------------------ activity
    def _seq(self) -> int:
        self.seq += 1
        return self.seq

    def order(
        self,
        account: str,
        side: str,
        price: int,
        quantity: int,
        ts: int,
        *,
        best_bid: int = 0,
        best_ask: int = 0,
        day: int = DAY,
        instrument: str = "",
        order_type: str = "LIMIT",
    ) -> int:
        """An accepted order resting with ``quantity`` open; its order id."""
        self.next_order += 1
        oid = self.next_order
        self.store.insert(
            "order_events",
            [
                (self._seq(), 0, ts, day, self.members.get(account, ""), "accepted", oid, account,
                 instrument or self.instrument, f"C{oid}", side, order_type, price, quantity, quantity, 0, "",
                 best_bid, best_ask, "", 0, "")
            ],
        )  # fmt: skip
        return oid

    def cancel(
        self, account: str, order_id: int, quantity: int, ts: int, *, day: int = DAY, instrument: str = ""
    ) -> None:
        self.store.insert(
            "order_events",
            [
                (self._seq(), 0, ts, day, self.members.get(account, ""), "cancelled", order_id, account,
                 instrument or self.instrument, f"C{order_id}", "", "", 0, quantity, 0, 0, "", 0, 0, "USER", 0, "")
            ],
        )  # fmt: skip

    def amend(self, account: str, order_id: int, price: int, quantity: int, ts: int, *, day: int = DAY) -> None:
        self.store.insert(
            "order_events",
            [
                (self._seq(), 0, ts, day, self.members.get(account, ""), "amended", order_id, account,
                 self.instrument, f"C{order_id}", "", "", price, quantity, quantity, 0, "", 0, 0, "", 0, "")
            ],
        )  # fmt: skip

    def reject(
        self, account: str, ts: int, *, request: str = "NewOrder", code: int = 2003,
        name: str = "PROHIBITED_PARTICIPANT", day: int = DAY,
    ) -> None:  # fmt: skip
        seq = self._seq()
        if request == "NewOrder":
            self.store.insert(
                "order_events",
                [
                    (seq, 0, ts, day, self.members.get(account, ""), "rejected", 0, account, self.instrument, f"R{seq}",
                     "", "", 0, 0, 0, 0, "", 0, 0, name, code, f"{name}: account={account}")
                ],
            )  # fmt: skip
        self.store.insert(
            "rejects",
            [(seq, 0, ts, day, self.members.get(account, ""), request, account, self.instrument, f"R{seq}", 0, code,
              name, f"{name}: account={account}")],
        )  # fmt: skip

    def trade(
        self,
        buyer: str,
        seller: str,
        price: int,
        quantity: int,
        ts: int,
        *,
        aggressor: str = "BUY",
        buy_order: int = 0,
        sell_order: int = 0,
        day: int = DAY,
        instrument: str = "",
    ) -> int:
        """A listing trade, with both sides' fills in ``order_events``; its trade id. Orders not given
        are made (accepted at the trade's price) first."""
        code = instrument or self.instrument
        if not buy_order:
            buy_order = self.order(buyer, "BUY", price, quantity, ts, day=day, instrument=code)
        if not sell_order:
            sell_order = self.order(seller, "SELL", price, quantity, ts, day=day, instrument=code)
        self.next_trade += 1
        tid, seq = self.next_trade, self._seq()
        self.store.insert(
            "trades",
            [(seq, 0, ts, day, tid, code, price, quantity, aggressor, buy_order, sell_order, buyer, seller,
              self.members.get(buyer, ""), self.members.get(seller, ""), 0, 0)],
        )  # fmt: skip
        for ev, (account, side, oid, other) in enumerate(
            ((buyer, "BUY", buy_order, seller), (seller, "SELL", sell_order, buyer))
        ):
            self.store.insert(
                "order_events",
                [(seq, ev + 1, ts, day, "", "filled", oid, account, code, f"C{oid}", side, "LIMIT", price, quantity, 0,
                  tid, other, 0, 0, "", 0, "")],
            )  # fmt: skip
        return tid

    def transfer(
        self, buyer: str, seller: str, price: int, quantity: int, ts: int, *, transfer_id: int, day: int = DAY
    ) -> None:
        """An executed agreement transfer proposed by the seller."""
        self.store.insert(
            "transfer_events",
            [(self._seq(), 0, ts, day, self.members.get(seller, ""), "executed", transfer_id, self.instrument, seller,
              buyer, "SELL", price, quantity, buyer, seller)],
        )  # fmt: skip

    def auction(
        self, auction_id: int, floor: int, volume: int, ts: int, *, clearing_price: int = 0, day: int = DAY,
        kind: str = "RESERVE_SALE",
    ) -> None:  # fmt: skip
        """An announced auction, and its clearing when ``clearing_price`` is set."""
        self.store.insert(
            "auction_events",
            [(self._seq(), 0, ts, day, "announced", auction_id, kind, self.instrument, "RESERVE", volume, 0, floor, 0,
              0, 0, 0, 0, False, "", "")],
        )  # fmt: skip
        if clearing_price:
            self.store.insert(
                "auction_events",
                [(self._seq(), 0, ts + 3_600 * SECOND, day, "cleared", auction_id, kind, self.instrument, "RESERVE",
                  volume, 0, floor, clearing_price, volume, clearing_price * volume, 0, 0, False, "", "")],
            )  # fmt: skip

    def bid(
        self, account: str, auction_id: int, bid_id: int, price: int, quantity: int, ts: int, *, allocated: int = 0,
        day: int = DAY,
    ) -> None:  # fmt: skip
        member = self.members.get(account, "")
        self.store.insert(
            "bid_events",
            [(self._seq(), 0, ts, day, member, "accepted", bid_id, auction_id, account, f"B{bid_id}", price, quantity,
              0, 0)],
        )  # fmt: skip
        if allocated:
            self.store.insert(
                "bid_events",
                [(self._seq(), 0, ts + 3_600 * SECOND, day, "", "allocated", bid_id, auction_id, account, f"B{bid_id}",
                  price, quantity, allocated, price)],
            )  # fmt: skip

    def bulletin(self, close: int, volume: int, *, day: int = DAY, reference_price: int = 8_000) -> None:
        self.store.insert(
            "bulletins",
            [(day, self.instrument, reference_price, close, close, close, close, close, close, volume, close * volume,
              1, 0, 0)],
        )  # fmt: skip

    def holding(
        self, account: str, closing: int, *, day: int = DAY, bought: int = 0, sold: int = 0, position_limit: int = -1
    ) -> None:
        """A closing holding; its limit in force defaults to the account's (``accounts.position_limit``)."""
        if position_limit < 0:
            rows = self.con.execute("SELECT position_limit FROM accounts WHERE account = ?", [account]).fetchall()
            position_limit = int(rows[0][0]) if rows else 0
        self.store.insert("holdings", [(day, account, self.instrument, closing, bought, sold, position_limit)])

    def day(self, day: int = DAY, *, first_seq: int = 1, last_seq: int = 1_000_000) -> None:
        """The trading day's row (its times: 09:00 to 15:30)."""
        self.store.insert("days", [(day, first_seq, at(-1_800, day), last_seq, at(6 * 3_600, day), True)])
