"""Listing trading (挂牌交易): order entry, matching, DvP settlement of fills, amend, cancel, expiry.

The rules it implements, with their tests: docs/RULES_COVERAGE.md "Listing trading" and "Pre-funding and
settlement". Every path is deterministic: the only inputs are the command, the exchange time the
sequencer stamped on it, and the state.

Fees: each side pays the listing rate on its traded value, half-up to the fen. The rate is applied
to an order's cumulative traded value and each trade is charged the increment, so an order's fees
total exactly the rounded fee on everything it traded and can never exceed the maximum fee frozen
for it at entry (full pre-funding forbids any later debit beyond the freeze).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from engine.config import TRADING_ACCOUNT_KINDS, Instrument
from engine.listing.book import Fill, MatchStep, ReferenceBook, SelfTradeCancel
from engine.listing.mechanism import ListingTrading
from engine.listing.orders import Order, OrderRecord
from engine.mechanism import Context
from engine.messages import (
    AllOrdersCancelled,
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    CancelReason,
    Command,
    Event,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderConvertedToLimit,
    OrderRejected,
    OrderType,
    Reject,
    RequestRejected,
    Side,
    TradeExecuted,
    reject_text,
)
from engine.messages.reject import refused
from settlement.ledger import fee_for

RejectReason = tuple[Reject, dict[str, object]]

# Why the rest of an order that neither rests (LIMIT) nor converts (MARKET_FIVE_LIMIT) is cancelled.
_REMAINDER_REASONS = {
    OrderType.LIMIT_IOC: CancelReason.IOC_REMAINDER,
    OrderType.LIMIT_FOK: CancelReason.FOK_UNFILLED,
    OrderType.MARKET_FIVE_CANCEL: CancelReason.MARKET_REMAINDER,
}


class Listing(ListingTrading):
    """Listing trading on the reference book: one ``ReferenceBook`` per instrument."""

    book_kind = "reference"

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.books: dict[str, ReferenceBook] = {code: ReferenceBook(code) for code in self.instruments}
        self.client_order_ids: set[tuple[str, str]] = set()
        # Tonnes each account may still buy through its open orders, per instrument: the position
        # limit counts them (derivable from the books; rebuilt from them after a snapshot).
        self.open_buys: dict[tuple[str, str], int] = {}
        self.next_order_id = 1
        self.next_trade_id = 1
        self._apply: dict[type[Command], Callable[[Any, int], list[Event]]] = {
            NewOrder: self.new_order,
            CancelOrder: self.cancel_order,
            AmendOrder: self.amend_order,
            CancelAllOrders: self.cancel_all_orders,
        }

    def apply(self, cmd: Command, ts: int) -> list[Event]:
        return self._apply[type(cmd)](cmd, ts)

    def open_buy_quantity(self, account: str, instrument: str) -> int:
        return self.open_buys.get((account, instrument), 0)

    def find_order(self, order_id: int) -> Order | None:
        for book in self.books.values():
            order = book.get(order_id)
            if order is not None:
                return order
        return None

    # ------------------------------------------------------------------ new orders
    def new_order(self, cmd: NewOrder, ts: int) -> list[Event]:
        reason = self._check_new_order(cmd)
        if reason is None:
            order = self._order_from(cmd)
            reason = self._freeze(order)
            if reason is None:
                return self._accept(order, ts)
        code, context = reason
        return [
            OrderRejected(
                ts_event=ts,
                account=cmd.account,
                instrument=cmd.instrument,
                client_order_id=cmd.client_order_id,
                code=code,
                text=reject_text(code, **context),
            )
        ]

    def _check_new_order(self, cmd: NewOrder) -> RejectReason | None:
        account_id = cmd.account
        account = self.accounts.get(account_id)
        if account is None:
            return refused(Reject.UNKNOWN_ACCOUNT, account_id)
        if account.prohibited:
            return refused(Reject.PROHIBITED_PARTICIPANT, account_id)
        if account_id in self.ledger.closed:
            return refused(Reject.ACCOUNT_CLOSED, account_id)
        if account.kind not in TRADING_ACCOUNT_KINDS:
            return refused(Reject.ACCOUNT_CANNOT_TRADE, account_id, account.kind)
        instrument = self.instruments.get(cmd.instrument)
        if instrument is None:
            return refused(Reject.UNKNOWN_INSTRUMENT, cmd.instrument)
        client_order_id = cmd.client_order_id
        max_length = self.limits.client_order_id_max_length
        if not client_order_id or len(client_order_id) > max_length:
            return refused(Reject.INVALID_CLIENT_ORDER_ID, len(client_order_id), max_length)
        if (account_id, client_order_id) in self.client_order_ids:
            return refused(Reject.DUPLICATE_CLIENT_ORDER_ID, client_order_id)
        reason = self._check_trading_open(instrument.code)
        if reason is None:
            reason = self._check_quantity(instrument, cmd.quantity, cmd.quantity)
        if reason is None:
            if cmd.order_type.is_market:
                if cmd.price != 0:
                    return refused(Reject.INVALID_PRICE, cmd.price, cmd.order_type.name)
            else:
                reason = self._check_price(instrument, cmd.price)
        return reason

    def _check_trading_open(self, instrument: str) -> RejectReason | None:
        market = self.market
        if not market.day_open or not market.session.is_continuous:
            return refused(Reject.MARKET_CLOSED, market.session.name)
        if market.halted:
            return refused(Reject.MARKET_HALTED)
        if instrument in market.instrument_halts:
            return refused(Reject.INSTRUMENT_HALTED, instrument)
        return None

    def _check_quantity(self, instrument: Instrument, quantity: int, total: int) -> RejectReason | None:
        limits = self.limits
        if not limits.min_quantity_t <= quantity <= limits.max_quantity_t or total > limits.max_quantity_t:
            return refused(Reject.QUANTITY_OUT_OF_RANGE, total, limits.min_quantity_t, limits.max_quantity_t)
        lot = instrument.lot_t
        if quantity % lot:
            return refused(Reject.INVALID_LOT, quantity, lot)
        return None

    def _check_price(self, instrument: Instrument, price: int) -> RejectReason | None:
        if price <= 0:
            return refused(Reject.INVALID_PRICE, price)
        tick = instrument.tick_fen
        if price % tick:
            return refused(Reject.INVALID_TICK, price, tick)
        lower, upper = self.band(instrument.code)
        if not lower <= price <= upper:
            return refused(Reject.PRICE_OUT_OF_BAND, price, lower, upper)
        return None

    def _order_from(self, cmd: NewOrder) -> Order:
        # A market buy freezes against the band's upper limit (docs/RULES_COVERAGE.md "Pre-funding and settlement").
        freeze_price = self.band(cmd.instrument)[1] if cmd.order_type.is_market else cmd.price
        return Order(
            order_id=self.next_order_id,
            account=cmd.account,
            instrument=cmd.instrument,
            client_order_id=cmd.client_order_id,
            side=cmd.side,
            order_type=cmd.order_type,
            price=cmd.price,
            leaves=cmd.quantity,
            stp=self.default_stp if cmd.stp is None else cmd.stp,
            freeze_price=freeze_price if cmd.side is Side.BUY else 0,
        )

    def cash_needed(self, order: Order, leaves: int) -> int:
        """Cash a buy must keep frozen for ``leaves`` more tonnes: value at its freeze price plus fee."""
        if order.side is Side.SELL:
            return 0
        value = order.freeze_price * leaves
        traded, rate = order.traded_value, self.rate_ppm
        return value + fee_for(traded + value, rate) - fee_for(traded, rate)

    def _freeze(self, order: Order) -> RejectReason | None:
        account, instrument, leaves = order.account, order.instrument, order.leaves
        if order.side is Side.BUY:
            reason = self.risk.check_buy(account, instrument, leaves, self.open_buys)
            if reason is not None:
                return reason
            needed = self.cash_needed(order, leaves)
            if not self.ledger.freeze_cash(account, needed):
                available = self.ledger.cash(account).available
                return refused(Reject.INSUFFICIENT_FUNDS, needed, available)
            order.frozen_cash = needed
            key = (account, instrument)
            self.open_buys[key] = self.open_buys.get(key, 0) + leaves
        else:
            if not self.ledger.freeze_allowances(account, instrument, leaves):
                available = self.ledger.holding(account, instrument).available
                return refused(Reject.INSUFFICIENT_HOLDINGS, leaves, available)
            order.frozen_quantity = leaves
        return None

    def _accept(self, order: Order, ts: int) -> list[Event]:
        self.next_order_id += 1
        self.client_order_ids.add((order.account, order.client_order_id))
        events: list[Event] = [
            OrderAccepted(
                ts_event=ts,
                order_id=order.order_id,
                account=order.account,
                instrument=order.instrument,
                client_order_id=order.client_order_id,
                side=order.side,
                order_type=order.order_type,
                price=order.price,
                quantity=order.leaves,
                frozen_cash=order.frozen_cash,
                frozen_quantity=order.frozen_quantity,
            )
        ]
        self._execute(order, events, ts)
        return events

    def _execute(self, order: Order, events: list[Event], ts: int) -> None:
        """Match an accepted (or re-priced) order, then rest, convert or cancel what is left."""
        book = self.books[order.instrument]
        kind = order.order_type
        market = kind.is_market
        limit = None if market else order.price
        levels = self.limits.market_levels if market else None
        if kind is OrderType.LIMIT_FOK and book.fillable(order, limit, levels) < order.leaves:
            self._cancel(order, CancelReason.FOK_UNFILLED, events, ts)
            return
        steps = book.match(order, limit, levels)
        stopped = self._settle(order, steps, events, ts) if steps else False
        if not order.leaves:
            return
        if stopped:
            self._cancel(order, CancelReason.SELF_TRADE, events, ts)
        elif kind is OrderType.LIMIT:
            book.add(order)
        elif kind is OrderType.MARKET_FIVE_LIMIT:
            self._convert_to_limit(order, events, ts)
        else:
            self._cancel(order, _REMAINDER_REASONS[kind], events, ts)

    def _convert_to_limit(self, order: Order, events: list[Event], ts: int) -> None:
        # The rest becomes a limit order at the order's last trade price; with no trade, at the
        # best price on its own side; with an empty own side it is cancelled (national rule).
        book = self.books[order.instrument]
        price = order.price if order.filled else book.best(order.side)
        if price is None:
            self._cancel(order, CancelReason.MARKET_REMAINDER, events, ts)
            return
        order.price = price
        order.order_type = OrderType.LIMIT
        released = 0
        if order.side is Side.BUY:
            order.freeze_price = price
            released = order.frozen_cash - self.cash_needed(order, order.leaves)
            self._release_cash(order, released)
        book.add(order)
        events.append(
            OrderConvertedToLimit(
                ts_event=ts,
                order_id=order.order_id,
                account=order.account,
                instrument=order.instrument,
                price=price,
                quantity=order.leaves,
                released_cash=released,
            )
        )

    # ------------------------------------------------------------------ fills
    def _settle(self, incoming: Order, steps: list[MatchStep], events: list[Event], ts: int) -> bool:
        """Turn the book's match steps into DvP transfers and events; True if STP stopped the match."""
        stopped = False
        for step in steps:
            if isinstance(step, Fill):
                self._trade(incoming, step, events, ts)
            else:
                assert isinstance(step, SelfTradeCancel)
                if step.resting is not None:
                    self._cancel(step.resting, CancelReason.SELF_TRADE, events, ts)
                stopped = stopped or step.stop
        return stopped

    def _trade(self, incoming: Order, fill: Fill, events: list[Event], ts: int) -> None:
        resting = fill.resting
        quantity, price = fill.quantity, fill.price
        value = price * quantity
        instrument = incoming.instrument
        trade_id = self.next_trade_id
        incoming.filled += quantity
        resting.filled += quantity
        # The price an order trades at last is kept for a rest-to-limit conversion.
        if incoming.order_type.is_market:
            incoming.price = price
        buy, sell = (incoming, resting) if incoming.side is Side.BUY else (resting, incoming)
        buy_leaves = fill.incoming_leaves if buy is incoming else buy.leaves
        sell_leaves = fill.incoming_leaves if sell is incoming else sell.leaves
        buy_fee = self._fee_increment(buy, value)
        sell_fee = self._fee_increment(sell, value)
        self.ledger.settle_trade(
            trade_id=trade_id,
            buyer=buy.account,
            seller=sell.account,
            instrument=instrument,
            price=price,
            quantity=quantity,
            buyer_fee=buy_fee,
            seller_fee=sell_fee,
        )
        self.open_buys[(buy.account, instrument)] -= quantity
        buy.frozen_cash -= value + buy_fee
        sell.frozen_quantity -= quantity
        released = buy.frozen_cash - self.cash_needed(buy, buy_leaves)
        self._release_cash(buy, released)
        self.days[instrument].record_trade(price, quantity)
        events.append(
            TradeExecuted(
                ts_event=ts,
                trade_id=trade_id,
                instrument=instrument,
                price=price,
                quantity=quantity,
                aggressor=incoming.side,
                buy_order_id=buy.order_id,
                sell_order_id=sell.order_id,
                buy_account=buy.account,
                sell_account=sell.account,
                buy_fee=buy_fee,
                sell_fee=sell_fee,
                buy_leaves=buy_leaves,
                sell_leaves=sell_leaves,
                buy_released_cash=released,
            )
        )
        self.next_trade_id = trade_id + 1

    def _fee_increment(self, order: Order, value: int) -> int:
        before, rate = order.traded_value, self.rate_ppm
        order.traded_value = after = before + value
        return fee_for(after, rate) - fee_for(before, rate)

    def _release_cash(self, order: Order, amount: int) -> None:
        if amount:
            self.ledger.release_cash(order.account, amount)
            order.frozen_cash -= amount

    def _cancel(self, order: Order, reason: CancelReason, events: list[Event], ts: int) -> None:
        """Release what the order still holds frozen and report it cancelled (it is off the book)."""
        released_cash, released_quantity = order.frozen_cash, order.frozen_quantity
        if order.side is Side.BUY:
            self.open_buys[(order.account, order.instrument)] -= order.leaves
        self._release_cash(order, released_cash)
        if released_quantity:
            self.ledger.release_allowances(order.account, order.instrument, released_quantity)
            order.frozen_quantity = 0
        events.append(
            OrderCancelled(
                ts_event=ts,
                order_id=order.order_id,
                account=order.account,
                instrument=order.instrument,
                reason=reason,
                cancelled_quantity=order.leaves,
                released_cash=released_cash,
                released_quantity=released_quantity,
            )
        )
        order.leaves = 0

    # ------------------------------------------------------------------ cancel, amend, expiry
    def cancel_order(self, cmd: CancelOrder, ts: int) -> list[Event]:
        # Cancels are accepted in every session and while halted (docs/RULES_COVERAGE.md "Listing trading").
        order = self.find_order(cmd.order_id)
        if order is None or order.account != cmd.account:
            return [_request_rejected(cmd, refused(Reject.UNKNOWN_ORDER, cmd.order_id), ts)]
        self.books[order.instrument].remove(order.order_id)
        events: list[Event] = []
        self._cancel(order, CancelReason.USER, events, ts)
        return events

    def cancel_all_orders(self, cmd: CancelAllOrders, ts: int) -> list[Event]:
        """Mass cancel: every open order of the account (on one instrument when named), oldest first."""
        if cmd.account not in self.accounts:
            return [_request_rejected(cmd, refused(Reject.UNKNOWN_ACCOUNT, cmd.account), ts)]
        if cmd.instrument and cmd.instrument not in self.books:
            return [_request_rejected(cmd, refused(Reject.UNKNOWN_INSTRUMENT, cmd.instrument), ts)]
        reason = CancelReason.DISCONNECT if cmd.on_disconnect else CancelReason.USER
        codes = [cmd.instrument] if cmd.instrument else list(self.instruments)
        events: list[Event] = []
        for code in codes:
            book = self.books[code]
            mine = sorted((o for o in book.orders() if o.account == cmd.account), key=lambda o: o.order_id)
            for order in mine:
                book.remove(order.order_id)
                self._cancel(order, reason, events, ts)
        events.append(
            AllOrdersCancelled(
                ts_event=ts, account=cmd.account, instrument=cmd.instrument, cancelled=len(events), reason=reason
            )
        )
        return events

    def amend_order(self, cmd: AmendOrder, ts: int) -> list[Event]:
        order = self.find_order(cmd.order_id)
        if order is None or order.account != cmd.account:
            return [_request_rejected(cmd, refused(Reject.UNKNOWN_ORDER, cmd.order_id), ts)]
        instrument = self.instruments[order.instrument]
        reason = (
            self._check_trading_open(order.instrument)
            or self._check_quantity(instrument, cmd.quantity, order.filled + cmd.quantity)
            or self._check_price(instrument, cmd.price)
        )
        if reason is None and cmd.price == order.price and cmd.quantity == order.leaves:
            reason = refused(Reject.AMEND_NO_CHANGE, cmd.price, cmd.quantity)
        frozen_before = (order.frozen_cash, order.frozen_quantity)
        if reason is None:
            reason = self._refreeze(order, cmd.price, cmd.quantity)
        if reason is not None:
            return [_request_rejected(cmd, reason, ts)]
        return self._apply_amend(order, cmd, frozen_before, ts)

    def _refreeze(self, order: Order, price: int, quantity: int) -> RejectReason | None:
        """Adjust the order's freeze to the amended price and quantity; refuse if funds fall short."""
        if order.side is Side.SELL:
            extra = quantity - order.frozen_quantity
            if extra > 0 and not self.ledger.freeze_allowances(order.account, order.instrument, extra):
                available = self.ledger.holding(order.account, order.instrument).available
                return refused(Reject.INSUFFICIENT_HOLDINGS, extra, available)
            if extra < 0:
                self.ledger.release_allowances(order.account, order.instrument, -extra)
            order.frozen_quantity = quantity
            return None
        key = (order.account, order.instrument)
        if quantity > order.leaves:
            reason = self.risk.check_buy(order.account, order.instrument, quantity - order.leaves, self.open_buys)
            if reason is not None:
                return reason
        old_freeze_price = order.freeze_price
        order.freeze_price = price
        extra = self.cash_needed(order, quantity) - order.frozen_cash
        if extra > 0 and not self.ledger.freeze_cash(order.account, extra):
            order.freeze_price = old_freeze_price
            available = self.ledger.cash(order.account).available
            return refused(Reject.INSUFFICIENT_FUNDS, extra, available)
        if extra < 0:
            self.ledger.release_cash(order.account, -extra)
        order.frozen_cash += extra
        self.open_buys[key] += quantity - order.leaves
        return None

    def _apply_amend(self, order: Order, cmd: AmendOrder, frozen_before: tuple[int, int], ts: int) -> list[Event]:
        book = self.books[order.instrument]
        keeps_priority = cmd.price == order.price and cmd.quantity < order.leaves
        if keeps_priority:
            book.reduce(order.order_id, cmd.quantity)
        else:
            # Losing priority: off the book and back in as an incoming limit order, which may
            # now cross and trade before it rests at the back of its new price level.
            book.remove(order.order_id)
            order.price, order.leaves = cmd.price, cmd.quantity
        events: list[Event] = [
            OrderAmended(
                ts_event=ts,
                order_id=order.order_id,
                account=order.account,
                instrument=order.instrument,
                price=order.price,
                quantity=order.leaves,
                priority_kept=keeps_priority,
                frozen_cash_change=order.frozen_cash - frozen_before[0],
                frozen_quantity_change=order.frozen_quantity - frozen_before[1],
            )
        ]
        if not keeps_priority:
            self._execute(order, events, ts)
        return events

    def expire_all(self, ts: int) -> list[Event]:
        """End of day: every order still resting expires (orders are day orders)."""
        events: list[Event] = []
        for code in self.instruments:
            book = self.books[code]
            for order in list(book.orders()):
                book.remove(order.order_id)
                self._cancel(order, CancelReason.EXPIRED, events, ts)
        return events

    # ------------------------------------------------------------------ snapshots and checks
    def order_records(self) -> list[OrderRecord]:
        return [o.record() for book in self.books.values() for o in book.orders()]

    def restore_orders(self, records: list[OrderRecord], client_order_ids: Iterable[tuple[str, str]]) -> None:
        for record in records:
            order = Order.from_record(record)
            self.books[record.instrument].add(order)
            if order.side is Side.BUY:
                key = (order.account, order.instrument)
                self.open_buys[key] = self.open_buys.get(key, 0) + order.leaves
        self.client_order_ids = set(client_order_ids)

    def check(self) -> None:
        for book in self.books.values():
            book.validate_internal_state()


def _request_rejected(
    cmd: CancelOrder | AmendOrder | CancelAllOrders, reason: RejectReason, ts: int
) -> RequestRejected:
    code, context = reason
    return RequestRejected(
        ts_event=ts,
        request=type(cmd).__name__,
        code=code,
        text=reject_text(code, **context),
        account=cmd.account,
        order_id=getattr(cmd, "order_id", 0),
    )
