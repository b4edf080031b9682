"""docs/PROTOCOL.md is the contract for clients written in other languages, so it must stay true:
every worked example decodes with our decoders to the type it claims, re-encodes to the same bytes,
and shows the map a plain msgpack decoder gives; every message type and field of the code, and
every enum value, is documented; and docs/CONFIG.md lists the options that shape the protocol."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import msgspec
import pytest

from carbonx.config import MarketDataOptions, SchedulerOptions, _MemberEntry
from engine.messages import (
    COMMAND_TYPES,
    EVENT_TYPES,
    CancelReason,
    CashStatement,
    ConservationMismatch,
    HoldingStatement,
    OrderType,
    Session,
    Side,
    SplitPart,
    StatementTrade,
    StpMode,
    Units,
)
from gateway import protocol
from gateway.access import GatewayOptions
from gateway.protocol import (
    PROTOCOL_VERSION,
    AccountBalance,
    BatchRejection,
    ClientMessage,
    DropCopy,
    Fill,
    HoldingBalance,
    OpenOrder,
    ServerMessage,
)
from market_data import messages as md
from market_data.messages import Level, Published, SnapshotReply, SnapshotRequest, TopicSnapshot

DOC = Path(__file__).resolve().parent.parent / "docs" / "PROTOCOL.md"

Decode = Callable[[bytes], msgspec.Struct]
Encode = Callable[[msgspec.Struct], bytes]

# (socket, direction) of an example -> how our code reads and writes that payload
CODECS: dict[tuple[str, str], tuple[Decode, Encode]] = {
    ("order-entry", "client→gateway"): (protocol.client_decoder.decode, protocol.encoder.encode),
    ("order-entry", "gateway→client"): (protocol.server_decoder.decode, protocol.encoder.encode),
    ("drop-copy", "gateway→surveillance"): (protocol.drop_copy_decoder.decode, protocol.encoder.encode),
    ("market-data", "publisher→subscriber"): (md.decode_channel_message, md.encode),
    ("snapshot", "client→service"): (md.decode_snapshot_request, md.encode),
    ("snapshot", "service→client"): (md.decode_snapshot_reply, md.encode),
}

# The examples the document promises (docs/PROTOCOL.md §7), as "Type" or "Type(inner)".
REQUIRED_EXAMPLES = {
    "Logon",
    "LogonAccepted",
    "Submit(NewOrder)",
    "Ack",
    "ExecutionReport(OrderAccepted)",
    "ExecutionReport(Fill)",
    "Refused(THROTTLED)",
    "ResendRequest",
    "SubmitBatch",
    "Heartbeat",
    "Quote",
    "Depth",
    "Trade",
    "BulkTrade",
    "SnapshotRequest",
    "Snapshot",
    "BarsRequest",
    "BarsReply",
    "DropCopy",
    "Reports",
}

_BLOCK = re.compile(
    r"^```hex (?P<info>[^\n]+)\n(?P<hex>.*?)^```\s*\n\s*```json\n(?P<json>.*?)^```",
    re.MULTILINE | re.DOTALL,
)
_LABEL = re.compile(r"^(?P<type>\w+)(?:\((?P<inner>[\w,]+)\))?$")
_HEX_LINE = re.compile(r"^(?:[0-9a-f]{2} ){0,31}[0-9a-f]{2}$")
_HEADING = re.compile(r"^#{2,6} .*$", re.MULTILINE)


@dataclass(frozen=True)
class Example:
    socket: str
    direction: str
    type_name: str
    inner: str
    topic: str
    payload: bytes
    shown: object  # the JSON block's value

    @property
    def label(self) -> str:
        return f"{self.type_name}({self.inner})" if self.inner else self.type_name


def parse_examples(text: str) -> list[Example]:
    examples = []
    for block in _BLOCK.finditer(text):
        socket, direction, label, *rest = block["info"].split()
        found = _LABEL.match(label)
        assert found, f"example label {label!r} is not Type or Type(Inner)"
        topics = [word.removeprefix("topic=") for word in rest if word.startswith("topic=")]
        lines = block["hex"].strip().splitlines()
        assert all(_HEX_LINE.match(line) for line in lines), f"{label}: hex lines must be lowercase byte pairs"
        examples.append(
            Example(
                socket=socket,
                direction=direction,
                type_name=found["type"],
                inner=found["inner"] or "",
                topic=topics[0] if topics else "",
                payload=bytes.fromhex(" ".join(lines)),
                shown=json.loads(block["json"]),
            )
        )
    return examples


TEXT = DOC.read_text(encoding="utf-8")
EXAMPLES = parse_examples(TEXT)


def inner_name(message: msgspec.Struct) -> str:
    """What an example's parentheses name: the command, the event or the reject code inside."""
    if isinstance(message, protocol.Submit):
        return type(message.command).__name__
    if isinstance(message, protocol.SubmitBatch):
        return ",".join(type(c).__name__ for c in message.commands)
    if isinstance(message, protocol.ExecutionReport | DropCopy):
        return type(message.event).__name__
    if isinstance(message, protocol.Refused):
        return message.code.name
    return ""


def expected_topic(message: msgspec.Struct) -> str:
    if isinstance(message, md.MarketDataHeartbeat):
        return md.HEARTBEAT_TOPIC
    if isinstance(message, md.MarketStatus):
        return md.topic("status", md.MARKET)
    channels = {
        md.Quote: "quote",
        md.Depth: "depth",
        md.Trade: "trade",
        md.BulkTrade: "bulk",
        md.InstrumentStatus: "status",
    }
    if isinstance(message, md.AuctionNotice | md.AuctionState | md.AuctionResults):
        return md.auction_topic(message.auction_id)
    channel = channels.get(type(message), "bulletin")
    return md.topic(channel, getattr(message, "instrument", ""))


def strict_json(value: object) -> bytes:
    """JSON of a decoded value, key order and bool-vs-int included (``True == 1`` in Python)."""
    return msgspec.json.encode(value)


def test_the_document_has_examples() -> None:
    assert len(EXAMPLES) >= len(REQUIRED_EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"{i}-{e.label}" for i, e in enumerate(EXAMPLES)])
def test_example_decodes_to_its_type_and_back(example: Example) -> None:
    codec = CODECS.get((example.socket, example.direction))
    assert codec is not None, f"unknown socket/direction {example.socket} {example.direction}"
    decode, encode = codec

    message = decode(example.payload)

    assert type(message).__name__ == example.type_name
    assert inner_name(message) == example.inner
    assert encode(message) == example.payload
    plain = msgspec.msgpack.decode(example.payload)
    assert plain == example.shown
    assert strict_json(plain) == strict_json(example.shown)


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.socket in ("market-data", "drop-copy")])
def test_published_examples_name_their_topic(example: Example) -> None:
    decode, _ = CODECS[(example.socket, example.direction)]
    message = decode(example.payload)
    expected = "dropcopy" if example.socket == "drop-copy" else expected_topic(message)
    assert example.topic == expected


def test_every_promised_example_is_there() -> None:
    shown = {e.label for e in EXAMPLES} | {e.type_name for e in EXAMPLES}
    assert REQUIRED_EXAMPLES - shown == set()


# ------------------------------------------------------------------------------- message reference


def union_types(union: object) -> list[type[msgspec.Struct]]:
    return list(getattr(union, "__args__", (union,)))


DOCUMENTED_TYPES: list[type[msgspec.Struct]] = list(
    dict.fromkeys(
        [
            *union_types(ClientMessage),
            *union_types(ServerMessage),
            DropCopy,
            BatchRejection,
            OpenOrder,
            AccountBalance,
            HoldingBalance,
            *COMMAND_TYPES,
            SplitPart,
            Units,
            *EVENT_TYPES,
            Fill,
            CashStatement,
            HoldingStatement,
            StatementTrade,
            ConservationMismatch,
            *union_types(Published),
            Level,
            SnapshotRequest,
            md.BarsRequest,
            md.InstrumentBars,
            md.Bar,
            *union_types(SnapshotReply),
            TopicSnapshot,
        ]
    )
)


def section(text: str, name: str) -> str:
    """The text under the heading that names ``name`` in backticks, up to the next heading."""
    headings = list(_HEADING.finditer(text))
    for index, heading in enumerate(headings):
        if re.search(rf"`{re.escape(name)}`", heading.group()):
            end = headings[index + 1].start() if index + 1 < len(headings) else len(text)
            return text[heading.end() : end]
    raise AssertionError(f"docs/PROTOCOL.md has no heading naming `{name}`")


def table_fields(body: str) -> set[str]:
    """The field names in the first column of the tables of a section."""
    return set(re.findall(r"^\| `(\w+)` \|", body, re.MULTILINE))


@pytest.mark.parametrize("kind", DOCUMENTED_TYPES, ids=lambda kind: kind.__name__)
def test_every_message_type_and_field_is_documented(kind: type[msgspec.Struct]) -> None:
    fields = set(kind.__struct_fields__)
    if kind.__struct_config__.tag is not None:
        fields.add(kind.__struct_config__.tag_field or "type")

    documented = table_fields(section(TEXT, kind.__name__))

    assert fields - documented == set(), f"{kind.__name__}: fields missing from its table"
    assert documented - fields == set(), f"{kind.__name__}: the table lists fields the code does not have"


@pytest.mark.parametrize("enum", [Side, OrderType, StpMode, Session, CancelReason], ids=lambda e: e.__name__)
def test_every_enum_value_is_in_its_table(enum: type[IntEnum]) -> None:
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", section(TEXT, enum.__name__), re.MULTILINE)
    assert {(int(value), name) for value, name in rows} == {(int(m), m.name) for m in enum}


def test_the_document_states_the_protocol_version() -> None:
    assert f"(protocol version {PROTOCOL_VERSION})" in TEXT.splitlines()[0]


def test_a_stale_document_is_detected() -> None:
    renamed = TEXT.replace("| `resend_from` |", "| `resend_after` |")
    assert "resend_from" not in table_fields(section(renamed, "Logon"))
    edited = parse_examples(TEXT.replace('"heartbeat_ms": 1000', '"heartbeat_ms": 2000', 1))
    assert any(e.shown != msgspec.msgpack.decode(e.payload) for e in edited)


# ------------------------------------------------------------------------------- docs/CONFIG.md


def test_config_doc_lists_the_options_that_shape_the_protocol() -> None:
    config_doc = (DOC.parent / "CONFIG.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([\w.]+)` \|", config_doc, re.MULTILINE))
    node_keys = {
        f"{table}.{name}"
        for table, options in (
            ("gateway", GatewayOptions),
            ("market_data", MarketDataOptions),
            ("scheduler", SchedulerOptions),
        )
        for name in options.__struct_fields__
    }
    member_keys = set(_MemberEntry.__struct_fields__)

    assert node_keys - rows == set()
    assert member_keys - rows == set()
