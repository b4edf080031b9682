"""Event records back into ``engine.messages`` events, at the boundary and only when asked.

A record holds integers only, as ``engine.listing.fast.event_records`` declares for its kind:
accounts and instruments by index, enums by value, a reject as its code and the integers of its
context. One decoder turns any kind back into its event: the record gives what it holds, the
command that caused it (when there is one) what the client sent, and the tables of the listing
the names, so each event equals the reference listing's byte for byte.

It runs for every event the node reports, so each kind's decoder is made once, at import, from the
declaration: a function that calls the event's constructor with each field's value spelt out
(``decoder_source`` shows it), as fast as one written by hand.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import Any

import msgspec

from engine.listing.fast.event_columns import E_KIND
from engine.listing.fast.event_records import RECORD_KINDS, Field, Held, RecordKind, record_fields
from engine.messages import Command, Event, OrderType, Reject, Side, StpMode, reject_text
from engine.messages.reject import CARRIED, LISTING_CONTEXT, Source


def by_value(enum: type[IntEnum]) -> dict[int, Any]:
    """An enum's members by value: calling ``Side(1)`` runs Python-level enum code (~1 µs), a dict lookup does not."""
    return {member.value: member for member in enum}


SIDES = by_value(Side)
ORDER_TYPES = by_value(OrderType)
STP_MODES = by_value(StpMode)
REJECTS = by_value(Reject)


class Names:
    """What turns indices back into names: accounts, instruments, account kinds, client order ids."""

    def __init__(self, accounts: list[str], instruments: list[str], kinds: list[str]) -> None:
        self.accounts = accounts
        self.instruments = instruments
        self.kinds = kinds
        self.client_order_ids: list[tuple[str, str]] = []  # interned key -> (account, client order id)

    def decode(self, records: list[list[int]], ts: int, cmd: Command | None) -> list[Event]:
        """The events of one command (or of an expiry) from its records: rows of ``ndarray.tolist()``.

        A method, so that the event batches hold one callable per listing (``engine.batch.RecordDecoder``)
        and a command's events cost one call to get at.
        """
        return [DECODERS[row[E_KIND]](row, ts, cmd, self) for row in records]


Row = Sequence[int]


class ContextPlan:
    """How the fast book words one reject code's context (``engine.messages.reject.LISTING_CONTEXT``)."""

    def __init__(self, code: Reject, columns: Sequence[int]) -> None:
        self.keys: list[tuple[str, Source, int, dict[int, str], bool]] = []
        carried = iter(columns)  # the record carries the values of CARRIED sources, in key order
        for key, context in LISTING_CONTEXT.get(code, {}).items():
            column = next(carried) if context.source in CARRIED else -1
            names = {m.value: m.name for m in context.names} if context.names is not None else {}
            self.keys.append((key, context.source, column, names, context.optional))

    def context(self, row: Row, cmd: Any, names: Names) -> dict[str, object]:
        context: dict[str, object] = {}
        for key, source, column, enum_names, optional in self.keys:
            if source is Source.NUMBER:
                context[key] = row[column]
            elif source is Source.INSTRUMENT:
                context[key] = names.instruments[row[column]]
            elif source is Source.NAME:
                if not (optional and row[column] == 0):
                    context[key] = enum_names[row[column]]
            elif source is Source.COMMAND:
                context[key] = getattr(cmd, key)
            else:  # Source.ACCOUNT_KIND
                context[key] = names.kinds[names.accounts.index(cmd.account)]
        return context


class RejectText:
    """The reject text of a record: its code and the context ``LISTING_CONTEXT`` declares for it."""

    def __init__(self, code_column: int, context_columns: Sequence[int]) -> None:
        self.code_column = code_column
        self.plans = {code: ContextPlan(code, context_columns) for code in Reject}

    def __call__(self, row: Row, cmd: Any, names: Names) -> str:
        code = REJECTS[row[self.code_column]]
        return reject_text(code, **self.plans[code].context(row, cmd, names))


def value_source(field: Field, kind: RecordKind, namespace: dict[str, Any]) -> str | None:
    """The expression that gives the field's value in a decoder (None: the event's default)."""
    column = field.columns[0] if field.columns else -1
    held = field.held
    if held is Held.NUMBER:
        return f"row[{column}]"
    if held is Held.FLAG:
        return f"row[{column}] != 0"
    if held is Held.MEMBER:
        assert field.member is not None
        table = f"{field.member.__name__}_by_value"
        namespace[table] = by_value(field.member)
        return f"{table}[row[{column}]]"
    if held is Held.ACCOUNT:
        return f"names.accounts[row[{column}]]"
    if held is Held.INSTRUMENT:
        return f"names.instruments[row[{column}]]"
    if held is Held.CLIENT_ORDER_ID:
        # The command's own id when there is one: the interned names are cleared at the end of day,
        # which may come later in the same batch than this record.
        return f"cmd.client_order_id if cmd is not None else names.client_order_ids[row[{column}]][1]"
    if held is Held.REJECT_TEXT:
        (code_column,) = next(f.columns for f in record_fields(kind) if f.name == "code")
        namespace[f"{field.name}_of"] = RejectText(code_column, field.columns)
        return f"{field.name}_of(row, cmd, names)"
    if held is Held.COMMAND:
        # Without a command (never, for the kinds that take fields from it): the event's default.
        default = "" if field.default is msgspec.NODEFAULT else field.default
        return f"getattr(cmd, {field.name!r}, {default!r})"
    if held is Held.REQUEST:
        return "type(cmd).__name__"
    if held is Held.TIME:
        return "ts"
    return None  # Held.DEFAULT


def decoder_source(kind: RecordKind, namespace: dict[str, Any] | None = None) -> str:
    """The source of the kind's decoder: one call of its event's constructor, a keyword per field.

    ``namespace`` receives the tables the source refers to.
    """
    namespace = {} if namespace is None else namespace
    event = kind.event.__name__
    namespace[event] = kind.event
    lines = [f"def decode_{kind.name.lower()}(row, ts, cmd, names):", f"    return {event}("]
    for field in record_fields(kind):
        value = value_source(field, kind, namespace)
        if value is not None:
            lines.append(f"        {field.name}={value},")
    return "\n".join([*lines, "    )", ""])


def decoder(kind: RecordKind) -> Callable[[Row, int, Any, Names], Event]:
    """The kind's decoder, compiled from ``decoder_source``.

    Generated rather than a loop over the fields: a loop that named each field of a trade in turn
    took 2.2 µs, one constructor call with every keyword spelt out 0.25 µs (measured on this VM),
    and the node decodes every event it reports.
    """
    namespace: dict[str, Any] = {}
    source = decoder_source(kind, namespace)
    filename = f"<decoder of {kind.event.__name__} records>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)  # for tracebacks
    exec(compile(source, filename, "exec"), namespace)
    function: Callable[[Row, int, Any, Names], Event] = namespace[f"decode_{kind.name.lower()}"]
    return function


DECODERS: dict[int, Callable[[Row, int, Any, Names], Event]] = {kind.code: decoder(kind) for kind in RECORD_KINDS}


def decode(records: list[list[int]], ts: int, cmd: Command | None, names: Names) -> list[Event]:
    """The events of one command (or of an expiry): each record as a row from ``ndarray.tolist()``."""
    return names.decode(records, ts, cmd)
