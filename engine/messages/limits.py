"""The bounds of every field a command can carry: what a decoder refuses before anything is journaled.

Each field of a command is one of the annotated types below, so msgspec checks the bound while it
decodes a frame: a value out of range, a string or a list too long, is a ``msgspec.ValidationError``
that names the field (``Expected `int` <= 99991231 - at `$.command.trading_day```), and the gateway
refuses the frame with ``INVALID_FIELD`` before it reaches the journal. The bounds are static sanity
limits, wide enough for any rule in config: the market's own rules (the band, the size of an order,
the configured length of a client order id) are the engine's, with their own reject codes.

Why static: a command in the journal must decode and apply on every later version, so the bound a
field has on the wire is part of the format. Widening one is compatible; narrowing one is not (an
old journal may hold a value the new bound refuses): ``unchecked_decoder`` reads such a record anyway.

Commands built in Python (the node's scheduler, tools reading registry files) are checked with
``command_problem`` before they are journaled: the constructors of msgspec structs do not check.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Union

import msgspec

MAX_ID_LENGTH = 64  # account, member and instrument identifiers (config ids are checked against it)
MAX_CLIENT_ORDER_ID_LENGTH = 64  # the configured maximum (36 by default) may not exceed it
MAX_TEXT_LENGTH = 256  # free text: a halt's reason, a file name
MAX_PRICE_FEN = 1_000_000_000  # fen per tonne: 10 million CNY/t, far above any band
MAX_QUANTITY_T = 1_000_000_000_000  # tonnes: more than every allowance ever issued
MAX_AMOUNT_FEN = 1_000_000_000_000_000  # fen: 10 trillion CNY in one command
MAX_ORDER_ID = 2**62  # order ids the engine hands out never come near it
MIN_TRADING_DAY, MAX_TRADING_DAY = 1970_01_01, 9999_12_31  # YYYYMMDD
MIN_YEAR, MAX_YEAR = 1970, 9999
MAX_SPLIT_PARTS = 100  # accounts a split may create
MAX_UNITS = 256  # instruments in one list of units
MAX_REQUEST_ID = 2**63 - 1  # chosen by clients; int64 keeps it readable in every language

AccountId = Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)]
MemberId = Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)]
InstrumentCode = Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)]
ClientOrderId = Annotated[str, msgspec.Meta(max_length=MAX_CLIENT_ORDER_ID_LENGTH)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_LENGTH)]
Price = Annotated[int, msgspec.Meta(ge=0, le=MAX_PRICE_FEN)]
Quantity = Annotated[int, msgspec.Meta(ge=0, le=MAX_QUANTITY_T)]
Amount = Annotated[int, msgspec.Meta(ge=0, le=MAX_AMOUNT_FEN)]
OrderId = Annotated[int, msgspec.Meta(ge=0, le=MAX_ORDER_ID)]
TradingDay = Annotated[int, msgspec.Meta(ge=MIN_TRADING_DAY, le=MAX_TRADING_DAY)]
Year = Annotated[int, msgspec.Meta(ge=MIN_YEAR, le=MAX_YEAR)]
RequestId = Annotated[int, msgspec.Meta(ge=0, le=MAX_REQUEST_ID)]
ReportSeq = Annotated[int, msgspec.Meta(ge=0, le=2**62)]


def is_bound_violation(error: str) -> bool:
    """Whether msgspec's message says a value broke a bound (not a wrong type or a missing field)."""
    head = error.split(" - at ", 1)[0]
    return head.startswith("Expected `") and any(op in head for op in ("` >= ", "` <= ", "` > ", "` < ", " of length "))


def error_field(error: str) -> str:
    """The path msgspec names in a validation message (``$.command.price``), or ``$``."""
    _, _, path = error.rpartition(" - at `")
    return path.rstrip("`") if path else "$"


# ------------------------------------------------------------------------------------------------
# Reading records written before a bound existed


def unchecked_decoder(target: Any) -> UncheckedDecoder:
    """A decoder of ``target`` that does not check the bounds of its fields.

    It decodes into twins of the structs that have no bounds, then rebuilds the real structs
    (whose constructors do not check either). The journal falls back on it for a record that the
    checked decoder refuses with a bound violation: a record an older version journaled and applied.
    """
    twins: dict[type, type] = {}
    twin_type = _unchecked(target, twins)
    return UncheckedDecoder(msgspec.msgpack.Decoder(twin_type), {twin: real for real, twin in twins.items()})


class UncheckedDecoder:
    def __init__(self, decoder: msgspec.msgpack.Decoder[Any], reals: dict[type, type]) -> None:
        self._decoder = decoder
        self._reals = reals

    def decode(self, buf: bytes) -> Any:
        return self._rebuild(self._decoder.decode(buf))

    def _rebuild(self, value: Any) -> Any:
        real = self._reals.get(type(value))
        if real is not None:
            return real(**{f: self._rebuild(getattr(value, f)) for f in value.__struct_fields__})
        if isinstance(value, list):
            return [self._rebuild(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._rebuild(v) for v in value)
        return value


def _unchecked(tp: Any, twins: dict[type, type]) -> Any:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _unchecked(typing.get_args(tp)[0], twins)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return _twin(tp, twins)
    if origin in (Union, types.UnionType):
        return Union[tuple(_unchecked(arg, twins) for arg in typing.get_args(tp))]  # noqa: UP007
    if origin in (list, tuple) and typing.get_args(tp):
        args = tuple(_unchecked(arg, twins) for arg in typing.get_args(tp))
        return list[args[0]] if origin is list else tuple[args]  # type: ignore[valid-type]
    return tp


def _twin(struct: type[msgspec.Struct], twins: dict[type, type]) -> type:
    twin = twins.get(struct)
    if twin is not None:
        return twin
    config = struct.__struct_config__
    fields: list[Any] = []
    for info in msgspec.structs.fields(struct):
        field_type = _unchecked(info.type, twins)
        if info.default is not msgspec.NODEFAULT:
            fields.append((info.name, field_type, info.default))
        elif info.default_factory is not msgspec.NODEFAULT:
            fields.append((info.name, field_type, msgspec.field(default_factory=info.default_factory)))
        else:
            fields.append((info.name, field_type))
    twin = msgspec.defstruct(
        struct.__name__,
        fields,
        kw_only=True,
        tag=config.tag,
        tag_field=config.tag_field,
        array_like=config.array_like,
        forbid_unknown_fields=config.forbid_unknown_fields,
    )
    twins[struct] = twin
    return twin


def command_problem(command: msgspec.Struct) -> str | None:
    """Why a command built in Python breaks a bound (msgspec's message naming the field), or None.

    The wire decoder checks every command it reads; this checks the others (the node's own, those a
    tool built from a file) the same way: encoded and decoded again, about a microsecond each.
    """
    from engine.messages import command_decoder, command_encoder  # the package imports this module

    try:
        encoded = command_encoder.encode(command)
    except (OverflowError, TypeError, msgspec.EncodeError) as exc:  # an int beyond 64 bits, a foreign type
        return f"{exc} - at `$`"
    try:
        command_decoder.decode(encoded)
    except msgspec.ValidationError as exc:
        return str(exc)
    return None
