"""The columns of the event records, generated from ``engine.listing.fast.event_records``: do not edit.

``python engine/listing/fast/event_records.py`` rewrites this file from the event structs;
tests/test_event_records.py fails when it is out of date. A kernel writes ``events[row, TRADE_BUY_LEAVES]``.
"""

E_KIND = 0  # the record kind (EV_*)
E_CMD = 1  # index of the command in its batch (-1: an end-of-day expiry)
EVENT_FIELDS = 16
REJECT_CONTEXT_WIDTH = 3

EV_ACCEPTED = 1  # OrderAccepted
ACCEPTED_ORDER_ID = 2
ACCEPTED_ACCOUNT = 3  # account index
ACCEPTED_INSTRUMENT = 4  # instrument index
ACCEPTED_CLIENT_ORDER_ID = 5  # interned client order id key
ACCEPTED_SIDE = 6  # Side by value
ACCEPTED_ORDER_TYPE = 7  # OrderType by value
ACCEPTED_PRICE = 8
ACCEPTED_QUANTITY = 9
ACCEPTED_FROZEN_CASH = 10
ACCEPTED_FROZEN_QUANTITY = 11

EV_ORDER_REJECTED = 2  # OrderRejected
# from the command: account, instrument, client_order_id
REJECT_CODE = 2  # Reject by value
REJECT_CONTEXT_1 = 3  # context (engine.messages.reject.LISTING_CONTEXT)
REJECT_CONTEXT_2 = 4  # context (engine.messages.reject.LISTING_CONTEXT)
REJECT_CONTEXT_3 = 5  # context (engine.messages.reject.LISTING_CONTEXT)

EV_REQUEST_REJECTED = 3  # RequestRejected
# from the command: request (its type), account, order_id
# columns: REJECT_* above

EV_TRADE = 4  # TradeExecuted
TRADE_TRADE_ID = 2
TRADE_INSTRUMENT = 3  # instrument index
TRADE_PRICE = 4
TRADE_QUANTITY = 5
TRADE_AGGRESSOR = 6  # Side by value
TRADE_BUY_ORDER_ID = 7
TRADE_SELL_ORDER_ID = 8
TRADE_BUY_ACCOUNT = 9  # account index
TRADE_SELL_ACCOUNT = 10  # account index
TRADE_BUY_FEE = 11
TRADE_SELL_FEE = 12
TRADE_BUY_LEAVES = 13
TRADE_SELL_LEAVES = 14
TRADE_BUY_RELEASED_CASH = 15

EV_CANCELLED = 5  # OrderCancelled
CANCELLED_ORDER_ID = 2
CANCELLED_ACCOUNT = 3  # account index
CANCELLED_INSTRUMENT = 4  # instrument index
CANCELLED_REASON = 5  # CancelReason by value
CANCELLED_CANCELLED_QUANTITY = 6
CANCELLED_RELEASED_CASH = 7
CANCELLED_RELEASED_QUANTITY = 8

EV_AMENDED = 6  # OrderAmended
AMENDED_ORDER_ID = 2
AMENDED_ACCOUNT = 3  # account index
AMENDED_INSTRUMENT = 4  # instrument index
AMENDED_PRICE = 5
AMENDED_QUANTITY = 6
AMENDED_PRIORITY_KEPT = 7  # 0 or 1
AMENDED_FROZEN_CASH_CHANGE = 8
AMENDED_FROZEN_QUANTITY_CHANGE = 9

EV_CONVERTED = 7  # OrderConvertedToLimit
CONVERTED_ORDER_ID = 2
CONVERTED_ACCOUNT = 3  # account index
CONVERTED_INSTRUMENT = 4  # instrument index
CONVERTED_PRICE = 5
CONVERTED_QUANTITY = 6
CONVERTED_RELEASED_CASH = 7

EV_ALL_CANCELLED = 8  # AllOrdersCancelled
# from the command: account, instrument
ALL_CANCELLED_CANCELLED = 2
ALL_CANCELLED_REASON = 3  # CancelReason by value
