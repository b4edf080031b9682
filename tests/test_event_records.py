"""The event records have one declaration (``engine.listing.fast.event_records``), and one decoder reads it.

The differential tests hold the kernels' records to the reference's events; these hold the pieces
in between: the generated column constants are the declaration's, every kind decodes back to the
event it stands for, every listing reject's context reads the same from a record as the reference
words it, and no writer or reader counts columns by hand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from engine.listing.fast import event_records
from engine.listing.fast.event_columns import (
    E_KIND,
    EV_ORDER_REJECTED,
    EV_REQUEST_REJECTED,
    EVENT_FIELDS,
    REJECT_CODE,
    REJECT_CONTEXT_1,
    REJECT_CONTEXT_WIDTH,
    TRADE_BUY_ACCOUNT,
    TRADE_BUY_LEAVES,
)
from engine.listing.fast.event_records import GENERATED, RECORD_KINDS, Held, RecordKind, generated_source, record_fields
from engine.listing.fast.events import Names, decode, decoder_source
from engine.messages import (
    CancelAllOrders,
    CancelOrder,
    Command,
    Event,
    NewOrder,
    OrderType,
    Reject,
    Session,
    Side,
    TradeExecuted,
    reject_text,
)
from engine.messages.reject import CARRIED, LISTING_CONTEXT, Source, refused

pytestmark = pytest.mark.not_per_book

ROOT = Path(__file__).resolve().parent.parent
NAMES = Names(["A1", "A2", "FEES"], ["SHEA2024", "SHEA2025"], ["member", "member", "fees"])
NEW_ORDER = NewOrder(
    account="A2", instrument="SHEA2025", client_order_id="b 1", side=Side.BUY, order_type=OrderType.LIMIT, quantity=5
)
CANCEL = CancelOrder(account="A2", order_id=77)
MASS_CANCEL = CancelAllOrders(account="A2", instrument="SHEA2025")


def test_the_generated_columns_are_the_declarations() -> None:
    """If this fails, run ``python -m engine.listing.fast.event_records`` and review the diff."""
    assert GENERATED.read_text() == generated_source()


def test_a_field_added_to_an_event_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    class Widened(TradeExecuted, frozen=True, kw_only=True, tag=True):
        buy_fee_rate: int = 0

    trade = next(kind for kind in RECORD_KINDS if kind.event is TradeExecuted)
    kinds = tuple(kind._replace(event=Widened) if kind is trade else kind for kind in RECORD_KINDS)
    monkeypatch.setattr(event_records, "RECORD_KINDS", kinds)

    assert "TRADE_BUY_FEE_RATE = 16" in generated_source()
    assert generated_source() != GENERATED.read_text()


def test_a_text_field_must_say_how_it_is_held() -> None:
    class Renamed(Event, frozen=True, kw_only=True, tag=True):
        order_id: int
        account: str

    with pytest.raises(TypeError, match=r"Renamed\.account"):
        record_fields(RecordKind(99, "RENAMED", Renamed, {}))


def test_columns_follow_the_struct_and_fit_the_record() -> None:
    for kind in RECORD_KINDS:
        fields = record_fields(kind)
        columns = [c for f in fields for c in f.columns]
        assert [f.name for f in fields] == list(kind.event.__struct_fields__)
        assert columns == list(range(event_records.FIRST_FIELD, event_records.FIRST_FIELD + len(columns)))
        assert max(columns, default=0) < EVENT_FIELDS, kind.name


def _command_for(kind: RecordKind) -> Command:
    """A command with every field the kind takes from its command."""
    wanted = {f.name for f in record_fields(kind) if f.held in (Held.COMMAND, Held.CLIENT_ORDER_ID)}
    return next(c for c in (MASS_CANCEL, CANCEL, NEW_ORDER) if wanted <= set(type(c).__struct_fields__))


def _sample(kind: RecordKind, cmd: Command) -> tuple[Event, list[int]]:
    """An event of the kind with a distinct value in each field, and the record that holds it."""
    row = [0] * EVENT_FIELDS
    row[E_KIND] = kind.code
    values: dict[str, Any] = {}
    for n, field in enumerate(record_fields(kind), start=1000):
        column = field.columns[0] if field.columns else -1
        if field.held is Held.NUMBER:
            values[field.name] = row[column] = n
        elif field.held is Held.FLAG:
            values[field.name], row[column] = True, 1
        elif field.held is Held.MEMBER:
            assert field.member is not None
            member = Reject.MARKET_HALTED if field.member is Reject else list(field.member)[-1]
            values[field.name], row[column] = member, member.value
        elif field.held is Held.ACCOUNT:
            values[field.name], row[column] = "A2", 1
        elif field.held is Held.INSTRUMENT:
            values[field.name], row[column] = "SHEA2025", 1
        elif field.held is Held.CLIENT_ORDER_ID:
            values[field.name] = getattr(cmd, field.name)
        elif field.held is Held.REJECT_TEXT:
            values[field.name] = "MARKET_HALTED"  # the code's; a code with context: the next test
        elif field.held is Held.COMMAND:
            values[field.name] = getattr(cmd, field.name)
        elif field.held is Held.REQUEST:
            values[field.name] = type(cmd).__name__
    return kind.event(ts_event=7, **values), row


@pytest.mark.parametrize("kind", RECORD_KINDS, ids=lambda kind: kind.name)
def test_every_kind_decodes_to_the_event_it_holds(kind: RecordKind) -> None:
    cmd = _command_for(kind)
    event, row = _sample(kind, cmd)

    assert decode([row], 7, cmd, NAMES) == [event]


def test_a_decoder_reads_each_field_from_the_column_the_kernels_write() -> None:
    trade = next(kind for kind in RECORD_KINDS if kind.event is TradeExecuted)
    source = decoder_source(trade)

    assert f"buy_leaves=row[{TRADE_BUY_LEAVES}]," in source
    assert f"buy_account=names.accounts[row[{TRADE_BUY_ACCOUNT}]]," in source
    assert "version" not in source  # left to the event's default


def test_an_expiry_without_a_command_names_the_client_order_id_by_its_interned_key() -> None:
    accepted = next(kind for kind in RECORD_KINDS if kind.name == "ACCEPTED")
    event, row = _sample(accepted, NEW_ORDER)
    (column,) = next(f.columns for f in record_fields(accepted) if f.held is Held.CLIENT_ORDER_ID)
    names = Names(NAMES.accounts, NAMES.instruments, NAMES.kinds)
    names.client_order_ids = [("A1", "other"), ("A2", "b 1")]
    row[column] = 1

    assert decode([row], 7, None, names) == [event]


def _context_record(code: Reject, cmd: Command, absent_optional: bool) -> tuple[list[object], list[int]]:
    """The context values as the reference gives them (to ``refused``), and the record the kernels write."""
    shown: list[object] = []
    row = [0] * EVENT_FIELDS
    row[E_KIND] = EV_ORDER_REJECTED if isinstance(cmd, NewOrder) else EV_REQUEST_REJECTED
    row[REJECT_CODE] = code
    column = REJECT_CONTEXT_1
    for n, (key, context) in enumerate(LISTING_CONTEXT[code].items(), start=501):
        if context.optional and absent_optional:
            break
        if context.source is Source.NUMBER:
            shown.append(n)
            row[column] = n
        elif context.source is Source.INSTRUMENT:
            shown.append("SHEA2025")
            row[column] = 1
        elif context.source is Source.NAME:
            assert context.names is not None
            member = list(context.names)[-1]
            shown.append(member.name)
            row[column] = member.value
        elif context.source is Source.COMMAND:
            shown.append(getattr(cmd, key))
        elif context.source is Source.ACCOUNT_KIND:
            shown.append(NAMES.kinds[NAMES.accounts.index(cmd.account)])  # type: ignore[attr-defined]
        column += context.source in CARRIED
    return shown, row


def _text(code: Reject, *values: object) -> str:
    """The reject text the reference words for ``code`` with these context values."""
    code, context = refused(code, *values)
    return reject_text(code, **context)


CONTEXT_CASES = [
    (code, absent)
    for code in LISTING_CONTEXT
    for absent in (False, True)
    if not absent or any(c.optional for c in LISTING_CONTEXT[code].values())
]


@pytest.mark.parametrize(("code", "absent_optional"), CONTEXT_CASES, ids=lambda case: str(case))
def test_a_reject_record_words_its_context_as_the_reference_does(code: Reject, absent_optional: bool) -> None:
    cmd = CANCEL if "order_id" in LISTING_CONTEXT[code] else NEW_ORDER
    shown, row = _context_record(code, cmd, absent_optional)

    (event,) = decode([row], 7, cmd, NAMES)

    assert event.text == _text(code, *shown)  # type: ignore[attr-defined]
    assert event.text.startswith(code.name)  # type: ignore[attr-defined]


def test_the_invalid_price_of_a_market_order_names_its_type_and_a_limit_price_does_not() -> None:
    market = OrderType.MARKET_FIVE_CANCEL.name
    assert _text(Reject.INVALID_PRICE, 5, market) == "INVALID_PRICE: price=5 order_type=MARKET_FIVE_CANCEL"
    assert _text(Reject.INVALID_PRICE, 0) == "INVALID_PRICE: price=0"
    assert _text(Reject.MARKET_CLOSED, Session.CLOSED.name) == "MARKET_CLOSED: session=CLOSED"


def test_a_reject_carries_no_more_context_than_its_record_holds() -> None:
    assert REJECT_CONTEXT_WIDTH == 3
    for code, context in LISTING_CONTEXT.items():
        assert sum(c.source in CARRIED for c in context.values()) <= REJECT_CONTEXT_WIDTH, code.name
        optional = [c.optional for c in context.values()]
        assert optional == sorted(optional), f"{code.name}: only keys at the end may be optional"


def test_refused_takes_the_declared_values_in_order() -> None:
    assert refused(Reject.PRICE_OUT_OF_BAND, 8900, 7200, 8800) == (
        Reject.PRICE_OUT_OF_BAND,
        {"price": 8900, "lower": 7200, "upper": 8800},
    )
    assert refused(Reject.MARKET_HALTED) == (Reject.MARKET_HALTED, {})
    with pytest.raises(TypeError, match="INVALID_TICK"):
        refused(Reject.INVALID_TICK, 8900)
    with pytest.raises(TypeError, match="MARKET_HALTED"):
        refused(Reject.MARKET_HALTED, 1)


POSITIONAL = re.compile(r"\bE_F\b|events\[\s*\w+\s*,\s*\d|\b(?:row|f|r)\[\d+\]|E_KIND\s*\+")


@pytest.mark.parametrize(
    "path",
    [
        "engine/listing/fast/kernels.py",
        "engine/listing/fast/commands.py",
        "engine/listing/fast/events.py",
        "engine/batch.py",
        "bench/__main__.py",
    ],
)
def test_no_writer_or_reader_counts_columns_by_hand(path: str) -> None:
    source = (ROOT / path).read_text()

    assert not POSITIONAL.findall(source)
