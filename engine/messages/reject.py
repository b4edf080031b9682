"""Stable reject codes and the reject text every reject event carries."""

from __future__ import annotations

from enum import IntEnum

import msgspec


class Reject(IntEnum):
    """Stable reject codes, grouped by subsystem. Numbers are never reused.

    1xxx gateway and authentication (``gateway.session``), 2xxx market rules,
    3xxx funds, holdings and position limits, 4xxx order book, 5xxx auctions and agreement
    transfers, 6xxx registry operations, 9xxx the system itself.
    """

    # 1xxx gateway and authentication: refused before sequencing, so never in the journal
    NOT_LOGGED_ON = 1001
    LOGON_REFUSED = 1002
    NOT_AUTHORISED = 1003
    MALFORMED_MESSAGE = 1004
    MESSAGE_TOO_LARGE = 1005
    UNSUPPORTED_PROTOCOL = 1006
    THROTTLED = 1007
    RESEND_UNAVAILABLE = 1008
    BATCH_TOO_LARGE = 1009
    NODE_STOPPING = 1010
    INVALID_FIELD = 1011
    ROUTING_ID_IN_USE = 1012
    # 2xxx rules
    UNKNOWN_ACCOUNT = 2001
    UNKNOWN_INSTRUMENT = 2002
    PROHIBITED_PARTICIPANT = 2003
    ACCOUNT_CANNOT_TRADE = 2004
    MARKET_CLOSED = 2005
    MARKET_HALTED = 2006
    INSTRUMENT_HALTED = 2007
    PRICE_OUT_OF_BAND = 2008
    INVALID_TICK = 2009
    INVALID_LOT = 2010
    QUANTITY_OUT_OF_RANGE = 2011
    INVALID_PRICE = 2012
    DUPLICATE_CLIENT_ORDER_ID = 2013
    INVALID_CLIENT_ORDER_ID = 2014
    INVALID_SESSION_TRANSITION = 2015
    TRADING_DAY_OPEN = 2016
    NO_TRADING_DAY = 2017
    NOT_A_TRADING_DAY = 2018
    SESSION_OPEN = 2019
    ALREADY_HALTED = 2020
    NOT_HALTED = 2021
    ACCOUNT_CLOSED = 2022
    # 3xxx funds and holdings
    INSUFFICIENT_FUNDS = 3001
    INSUFFICIENT_HOLDINGS = 3002
    INVALID_AMOUNT = 3003
    POSITION_LIMIT = 3004
    NOT_WITHDRAWABLE = 3005
    # 4xxx order book
    UNKNOWN_ORDER = 4001
    AMEND_NO_CHANGE = 4002
    # 6xxx registry operations
    NOT_A_COVERED_ENTITY = 6001
    UNKNOWN_VINTAGE = 6002
    COMPLIANCE_ALREADY_COMPLETE = 6003
    EMISSIONS_MISMATCH = 6004
    NO_CARRY_OVER_RULE = 6005
    COMPLIANCE_NOT_COMPLETE = 6006
    INVALID_SUCCESSOR = 6007
    SYSTEM_ACCOUNT = 6008
    REGISTRY_FILE_ALREADY_APPLIED = 6009
    # 9xxx the system: never a rule a client broke
    INTERNAL_ERROR = 9001


def reject_text(code: Reject, **context: object) -> str:
    """The reject text: the code's name, then ``key=value`` context in the given order.

    A text value that is empty or holds a space, ``=`` or a quote is written as a JSON string, so
    what a client sent (an account or client order id) can never forge extra context. A boolean is
    ``true`` or ``false``, as in JSON and msgpack (PROTOCOL.md §2).
    """
    if not context:
        return code.name
    return code.name + ": " + " ".join(f"{k}={_context_value(v)}" for k, v in context.items())


def _context_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if isinstance(value, str) and (not text or any(c.isspace() or c in '="\\' for c in text)):
        return msgspec.json.encode(text).decode()
    return text
