"""Stable reject codes, the reject text every reject event carries, and the listing's reject context."""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import NamedTuple

import msgspec

from engine.messages.base import OrderType, Session


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
    # 5xxx agreement transfers and auctions
    TRANSFER_TOO_SMALL = 5001
    TRANSFER_PRICE_OUT_OF_BAND = 5002
    TRANSFER_OUTSIDE_HOURS = 5003
    TRANSFER_ACCOUNT_NOT_ELIGIBLE = 5004
    TRANSFER_PARTY_PROHIBITED = 5005
    TRANSFER_SAME_ACCOUNT = 5006
    TRANSFER_POSITION_LIMIT = 5007
    UNKNOWN_TRANSFER = 5008
    TRANSFER_NOT_OPEN = 5009
    NOT_TRANSFER_COUNTERPARTY = 5010
    NOT_TRANSFER_PROPOSER = 5011
    DUPLICATE_PROPOSAL_ID = 5012
    INVALID_PROPOSAL_ID = 5013
    TOO_MANY_PROPOSALS = 5014
    UNKNOWN_AUCTION = 5015
    AUCTION_NOT_OPEN = 5016
    AUCTION_CUTOFF_PASSED = 5017
    BID_BELOW_FLOOR = 5018
    BID_ABOVE_CEILING = 5019
    BIDDER_NOT_ELIGIBLE = 5020
    BID_CAP_EXCEEDED = 5021
    UNKNOWN_BID = 5022
    TOO_MANY_BIDS = 5023
    INVALID_BID_ID = 5024
    DUPLICATE_BID_ID = 5025
    INVALID_AUCTION_TERMS = 5026
    AUCTION_NO_REFERENCE_PRICE = 5027
    AUCTION_WRONG_STATUS = 5028
    SEED_MISMATCH = 5029
    TOO_MANY_AUCTIONS = 5030
    INVALID_DAILY_FIGURES = 5031
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


class Source(Enum):
    """Where a value of a listing reject's context comes from."""

    NUMBER = "number"  # an integer the check found (a price, a limit), as it is
    INSTRUMENT = "instrument"  # an instrument the check found: the fast book carries its index
    NAME = "name"  # a member of ``Context.names`` the check found, by name: the fast book carries its value
    COMMAND = "command"  # the refused command's field of the same name
    ACCOUNT_KIND = "account kind"  # the kind of the refused command's account


CARRIED = (Source.NUMBER, Source.INSTRUMENT, Source.NAME)  # in the fast book's reject record, in key order


class Context(NamedTuple):
    """Where the value of one key of a listing reject's context comes from."""

    source: Source
    names: type[IntEnum] | None = None  # Source.NAME: the enum whose member's name is the value
    optional: bool = False  # the key is left out when the value is absent (carried as 0)


NUMBER, INSTRUMENT = Context(Source.NUMBER), Context(Source.INSTRUMENT)
COMMAND, ACCOUNT_KIND = Context(Source.COMMAND), Context(Source.ACCOUNT_KIND)


def _declare(code: Reject, **context: Context) -> tuple[Reject, dict[str, Context]]:
    return code, context


# The context of each reject of listing trading, key by key in the order the text gives them; both
# books word their rejects from it (``refused``; ``engine.listing.fast.events``). A code not listed
# has none. Other subsystems give their own context with the same codes: the registry's
# INSUFFICIENT_HOLDINGS also names the instrument. The fast book's reject record carries the values
# whose source is in ``CARRIED``, at most three, in this order; the rest it finds in the command.
LISTING_CONTEXT: dict[Reject, dict[str, Context]] = dict(
    [
        _declare(Reject.UNKNOWN_ACCOUNT, account=COMMAND),
        _declare(Reject.PROHIBITED_PARTICIPANT, account=COMMAND),
        _declare(Reject.ACCOUNT_CLOSED, account=COMMAND),
        _declare(Reject.ACCOUNT_CANNOT_TRADE, account=COMMAND, kind=ACCOUNT_KIND),
        _declare(Reject.UNKNOWN_INSTRUMENT, instrument=COMMAND),
        _declare(Reject.INVALID_CLIENT_ORDER_ID, length=NUMBER, max=NUMBER),
        _declare(Reject.DUPLICATE_CLIENT_ORDER_ID, client_order_id=COMMAND),
        _declare(Reject.MARKET_CLOSED, session=Context(Source.NAME, Session)),
        _declare(Reject.INSTRUMENT_HALTED, instrument=INSTRUMENT),
        _declare(Reject.QUANTITY_OUT_OF_RANGE, quantity=NUMBER, min=NUMBER, max=NUMBER),
        _declare(Reject.INVALID_LOT, quantity=NUMBER, lot=NUMBER),
        # A market order that carries a price names its order type; a limit price <= 0 does not.
        _declare(Reject.INVALID_PRICE, price=NUMBER, order_type=Context(Source.NAME, OrderType, optional=True)),
        _declare(Reject.INVALID_TICK, price=NUMBER, tick=NUMBER),
        _declare(Reject.PRICE_OUT_OF_BAND, price=NUMBER, lower=NUMBER, upper=NUMBER),
        _declare(Reject.POSITION_LIMIT, position=NUMBER, quantity=NUMBER, limit=NUMBER),
        _declare(Reject.INSUFFICIENT_FUNDS, required=NUMBER, available=NUMBER),
        _declare(Reject.INSUFFICIENT_HOLDINGS, required=NUMBER, available=NUMBER),
        _declare(Reject.UNKNOWN_ORDER, order_id=COMMAND),
        _declare(Reject.AMEND_NO_CHANGE, price=NUMBER, quantity=NUMBER),
    ]
)


def refused(code: Reject, *values: object) -> tuple[Reject, dict[str, object]]:
    """A listing reject: ``code`` and its context, ``values`` in the order ``LISTING_CONTEXT`` gives the keys.

    Values are given as the text shows them (names, not indices); optional keys at the end may be
    left out.
    """
    keys = list(LISTING_CONTEXT.get(code, {}).items())
    if len(values) > len(keys) or not all(c.optional for _, c in keys[len(values) :]):
        raise TypeError(f"{code.name} takes the context {[k for k, _ in keys]}, not {len(values)} values")
    return code, {key: value for (key, _), value in zip(keys[: len(values)], values, strict=True)}
