"""The event records' one declaration: which event each record kind stands for, and how it holds each field.

A record is one row of the fast path's int64 ``events`` array: its kind (``E_KIND``), the index of
the command that caused it (``E_CMD``), then one column per field its event carries, in the event
struct's own field order (``msgspec.structs.fields``). How a field is held (``Held``) follows from
its type for integers (as they are), booleans (0 or 1) and enums (by value); a text field says how
it is held, or that the record does not hold it and the decoder finds it in the command. So a field
added to an event struct gets a column of its own (or fails here, if its type does not say how),
and no reader or writer counts positions.

numba takes a column number as a compile-time constant only from a module-level integer, so the
columns are written out as ``engine.listing.fast.event_columns``, which the kernels import:
``python engine/listing/fast/event_records.py`` rewrites it from this declaration, and
tests/test_event_records.py fails when it is out of date. (Run as a file, not with ``-m``: the
``engine.listing`` package imports the kernels, which a stale generated module may not satisfy;
this module imports only ``engine.messages``.) The decoder (``engine.listing.fast.events``) reads
the declaration itself.
"""

from __future__ import annotations

import sys
from enum import Enum, IntEnum
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from engine.messages import (
    AllOrdersCancelled,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderConvertedToLimit,
    OrderRejected,
    RequestRejected,
    TradeExecuted,
)
from engine.messages.reject import CARRIED, LISTING_CONTEXT


class Held(Enum):
    """How a record holds one field of its event, or where the decoder finds a field it does not hold."""

    NUMBER = "number"  # an integer, as it is
    FLAG = "flag"  # a bool as 0 or 1
    MEMBER = "member"  # an enum member, by its value
    ACCOUNT = "account"  # an account, by its index in the config
    INSTRUMENT = "instrument"  # an instrument, by its index in the config
    # The command's client order id; a record without a command (an expiry) holds the interned key.
    CLIENT_ORDER_ID = "client order id"
    # The reject text: the kind's ``code`` field words it with the integers of its context
    # (engine.messages.reject.LISTING_CONTEXT), the record holds them in REJECT_CONTEXT_WIDTH columns.
    REJECT_TEXT = "reject text"
    COMMAND = "command"  # not held: the command's field of the same name (or the event's default)
    REQUEST = "request"  # not held: the command's type name
    TIME = "time"  # not held: the exchange time the command was stamped with
    DEFAULT = "default"  # not held: the event's default


HELD_BY_TYPE: dict[type, Held] = {int: Held.NUMBER, bool: Held.FLAG}
# What every event has (``engine.messages.base.Event``): the record holds neither.
HELD_BY_BASE = {"version": Held.DEFAULT, "ts_event": Held.TIME}
NOT_HELD = (Held.COMMAND, Held.REQUEST, Held.TIME, Held.DEFAULT)
FOUND = (Held.COMMAND, Held.REQUEST)  # in the command

E_KIND = 0  # the record kind (EV_*)
E_CMD = 1  # index of the command in its batch (-1: an end-of-day expiry)
FIRST_FIELD = 2  # the column of a record's first field
# The most integers of context a listing reject carries (the three bounds of a range and its value).
REJECT_CONTEXT_WIDTH = max(sum(c.source in CARRIED for c in keys.values()) for keys in LISTING_CONTEXT.values())


class RecordKind(NamedTuple):
    """One kind of record: its ``E_KIND`` code, the event it stands for and how it holds text fields.

    ``prefix`` names its column constants (``TRADE_BUY_LEAVES``); kinds with the same prefix must
    have the same columns, so that one kernel writes any of them.
    """

    code: int
    name: str  # EV_<name>
    event: type[Event]
    held: dict[str, Held]  # the fields whose type does not say how they are held
    prefix: str = ""  # default: ``name``


class Field(NamedTuple):
    """One field of an event as its record kind holds it: its columns (none when not held)."""

    name: str
    held: Held
    columns: tuple[int, ...]
    member: type[IntEnum] | None = None  # Held.MEMBER: the enum
    column_names: tuple[str, ...] = ()  # the constants' names, without the kind's prefix
    default: Any = msgspec.NODEFAULT  # the event's default for the field


_ACCOUNT_AND_INSTRUMENT = {"account": Held.ACCOUNT, "instrument": Held.INSTRUMENT}
_REJECT = {"text": Held.REJECT_TEXT}

RECORD_KINDS = (
    RecordKind(1, "ACCEPTED", OrderAccepted, {**_ACCOUNT_AND_INSTRUMENT, "client_order_id": Held.CLIENT_ORDER_ID}),
    RecordKind(
        2,
        "ORDER_REJECTED",
        OrderRejected,
        {"account": Held.COMMAND, "instrument": Held.COMMAND, "client_order_id": Held.COMMAND, **_REJECT},
        "REJECT",
    ),
    RecordKind(
        3,
        "REQUEST_REJECTED",
        RequestRejected,
        {"request": Held.REQUEST, "account": Held.COMMAND, "order_id": Held.COMMAND, **_REJECT},
        "REJECT",
    ),
    RecordKind(
        4,
        "TRADE",
        TradeExecuted,
        {"instrument": Held.INSTRUMENT, "buy_account": Held.ACCOUNT, "sell_account": Held.ACCOUNT},
    ),
    RecordKind(5, "CANCELLED", OrderCancelled, _ACCOUNT_AND_INSTRUMENT),
    RecordKind(6, "AMENDED", OrderAmended, _ACCOUNT_AND_INSTRUMENT),
    RecordKind(7, "CONVERTED", OrderConvertedToLimit, _ACCOUNT_AND_INSTRUMENT),
    # What the mass cancel asked for: the account (known, or it was refused) and instrument ("": all).
    RecordKind(8, "ALL_CANCELLED", AllOrdersCancelled, {"account": Held.COMMAND, "instrument": Held.COMMAND}),
)


def record_fields(kind: RecordKind) -> tuple[Field, ...]:
    """Every field of the kind's event, in struct order, with the columns that hold it."""
    fields: list[Field] = []
    column = FIRST_FIELD
    for info in msgspec.structs.fields(kind.event):
        member: type[IntEnum] | None = None
        held = kind.held.get(info.name) or HELD_BY_BASE.get(info.name) or HELD_BY_TYPE.get(info.type)
        if held is None and isinstance(info.type, type) and issubclass(info.type, IntEnum):
            held, member = Held.MEMBER, info.type
        if held is None:
            raise TypeError(f"{kind.event.__name__}.{info.name}: its type does not say how a record holds it")
        names: tuple[str, ...] = (info.name,)
        if held is Held.REJECT_TEXT:
            names = tuple(f"context_{k + 1}" for k in range(REJECT_CONTEXT_WIDTH))
        elif held in NOT_HELD:
            names = ()
        columns = tuple(range(column, column + len(names)))
        column += len(names)
        fields.append(Field(info.name, held, columns, member, names, info.default))
    return tuple(fields)


def columns(kind: RecordKind) -> dict[str, int]:
    """The kind's column constants by name: ``{"TRADE_BUY_LEAVES": 13, ...}``."""
    return {constant: column for _, constant, column in _constants(kind)}


def _constants(kind: RecordKind) -> list[tuple[Field, str, int]]:
    prefix = kind.prefix or kind.name
    return [
        (field, f"{prefix}_{name.upper()}", column)
        for field in record_fields(kind)
        for name, column in zip(field.column_names, field.columns, strict=True)
    ]


def _meaning(field: Field) -> str:
    """What a column holds, when it is not a plain integer: the generated module's comment."""
    if field.held is Held.MEMBER:
        assert field.member is not None
        return f"  # {field.member.__name__} by value"
    meanings = {
        Held.FLAG: "0 or 1",
        Held.ACCOUNT: "account index",
        Held.INSTRUMENT: "instrument index",
        Held.CLIENT_ORDER_ID: "interned client order id key",
        Held.REJECT_TEXT: "context (engine.messages.reject.LISTING_CONTEXT)",
    }
    return f"  # {meanings[field.held]}" if field.held in meanings else ""


def generated_source() -> str:
    """The text of ``engine.listing.fast.event_columns``."""
    widest = max(max(columns(kind).values(), default=FIRST_FIELD - 1) for kind in RECORD_KINDS)
    lines = [
        '"""The columns of the event records, generated from ``engine.listing.fast.event_records``: do not edit.',
        "",
        "``python engine/listing/fast/event_records.py`` rewrites this file from the event structs;",
        "tests/test_event_records.py fails when it is out of date. A kernel writes ``events[row, TRADE_BUY_LEAVES]``.",
        '"""',
        "",
        f"E_KIND = {E_KIND}  # the record kind (EV_*)",
        f"E_CMD = {E_CMD}  # index of the command in its batch (-1: an end-of-day expiry)",
        f"EVENT_FIELDS = {widest + 1}",
        f"REJECT_CONTEXT_WIDTH = {REJECT_CONTEXT_WIDTH}",
    ]
    written: dict[str, int] = {}
    for kind in RECORD_KINDS:
        lines += ["", f"EV_{kind.name} = {kind.code}  # {kind.event.__name__}"]
        found = [
            f"{f.name} (its type)" if f.held is Held.REQUEST else f.name for f in record_fields(kind) if f.held in FOUND
        ]
        if found:
            lines.append(f"# from the command: {', '.join(found)}")
        constants = _constants(kind)
        if constants and all(constant in written for _, constant, _ in constants):
            lines.append(f"# columns: {kind.prefix or kind.name}_* above")
        for field, constant, column in constants:
            if constant not in written:
                written[constant] = column
                lines.append(f"{constant} = {column}{_meaning(field)}")
            elif written[constant] != column:
                raise ValueError(f"{constant}: kinds of one prefix must share their columns")
    return "\n".join(lines) + "\n"


GENERATED = Path(__file__).with_name("event_columns.py")


def main() -> None:
    GENERATED.write_text(generated_source())
    sys.stdout.write(f"wrote {GENERATED}\n")


if __name__ == "__main__":
    main()
