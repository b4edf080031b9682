"""A batch's records decoded at once (``engine.listing.fast.bulk``) give the one-record decoder's events.

``EventBatch.all_events`` decodes kind by kind, column-wise; ``EventBatch.events(i)`` decodes one
command's records with the one-record decoder (``engine.listing.fast.events``). Both must give the
same events, byte for byte, for every kind a flow reaches; the differential tests then hold the
bulk path to the reference book as well. Batches under ``BULK_FROM`` commands are decoded command
by command (faster there), so the flows here are cut into batches of both kinds.
"""

from __future__ import annotations

import random

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.batch import BULK_FROM, EventLists
from engine.exchange import Exchange
from engine.listing.fast.bulk import _HELD, BULK, MIRRORS, bulk_source
from engine.listing.fast.event_columns import E_KIND, EV_TRADE, EVENT_FIELDS
from engine.listing.fast.event_records import RECORD_KINDS
from engine.listing.fast.events import DECODERS
from engine.listing.fast.regroup import group_records
from engine.messages import DepositCash, OrderAccepted, OrderRejected, RequestRejected, TradeExecuted
from tests.conftest import InjectedDefect
from tests.flows import differential_config, seeded_flow

pytestmark = pytest.mark.not_per_book

_encode = msgspec.msgpack.Encoder().encode


@pytest.mark.parametrize("seed", [3, 4])
def test_all_events_equal_each_commands_events_decoded_alone(seed: int) -> None:
    commands, _ = seeded_flow(seed, 12_000)
    exchange = Exchange(differential_config(), "fast")
    rng, ts, start, seen = random.Random(seed), 1, 0, set()
    while start < len(commands):
        chunk = commands[start : start + rng.choice((1, 5, 300, 2_500))]
        batch = exchange.apply_batch(exchange.command_batch(chunk, range(ts, ts + len(chunk))))
        every = batch.all_events()
        alone = [batch.events(i) for i in range(len(chunk))]
        assert isinstance(every, EventLists) == (len(chunk) >= BULK_FROM) and len(every) == len(chunk)
        assert [[_encode(e) for e in es] for es in every] == [[_encode(e) for e in es] for es in alone]
        seen |= {type(e) for es in alone for e in es}
        ts, start = ts + len(chunk), start + len(chunk)
    # the flow reached the bulk decoders and the record-by-record ones (rejects)
    assert {OrderAccepted, TradeExecuted, OrderRejected, RequestRejected} <= seen


def test_every_kind_without_a_reject_text_has_a_bulk_decoder() -> None:
    rejects = {"ORDER_REJECTED", "REQUEST_REJECTED"}
    assert {k.name for k in RECORD_KINDS if k.code in BULK} == {k.name for k in RECORD_KINDS} - rejects
    source = bulk_source(next(k for k in RECORD_KINDS if k.name == "TRADE"), {})
    assert source is not None and "for owner, r2, r3" in source[0] and "row" not in source[0]


def test_event_lists_read_like_a_list_of_lists() -> None:
    a, b, c = (DepositCash(account=f"A{i}", amount=i) for i in range(3))  # any messages will do
    python = [c]
    lists = EventLists([a, b], [0, 1, 1, 1, 2], {2: python})
    assert len(lists) == 4
    assert list(lists) == [[a], [], python, [b]]
    assert lists == [[a], [], [c], [b]] and lists != [[a]] and lists != "abcd"
    assert lists[0] == [a] and lists[-1] == [b] and lists[2] is python
    assert lists[1:3] == [[], [c]] and lists[::-2] == [[b], []]
    with pytest.raises(IndexError):
        lists[4]
    with pytest.raises(IndexError):
        lists[-5]
    assert lists[0] is not lists[0]  # cut when read: each reader gets its own list
    assert EventLists([], [0], {}) == [] and list(EventLists([], [0], {})) == []


def test_a_decoder_standing_in_for_a_bulk_decoders_mirror_decodes_every_kind_from_whole_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a decoder of its own for one kind (a test's), the batch is grouped with whole records and
    every kind decoded record by record: the events are the same as the bulk decoders give."""
    commands, _ = seeded_flow(5, 3_000)
    exchange = Exchange(differential_config(), "fast")
    kept = exchange.apply_batch(exchange.command_batch(commands, range(1, len(commands) + 1))).keep()
    bulk = [[_encode(e) for e in es] for es in kept.all_events()]
    mirror, calls = MIRRORS[EV_TRADE], []

    def stand_in(*args: object) -> object:
        calls.append(1)
        return mirror(*args)  # type: ignore[arg-type]

    monkeypatch.setitem(DECODERS, EV_TRADE, stand_in)
    every = kept.all_events()
    whole = [[_encode(e) for e in es] for es in every]

    assert isinstance(every, EventLists)  # decoded at once: not the fallback command by command
    assert whole == bulk and calls  # the stand-in decoded the trades, the others decoded alike
    assert {OrderAccepted, TradeExecuted} <= {type(e) for es in kept.all_events() for e in es}


def _grouped_by_numpy(records: np.ndarray, first: np.ndarray) -> tuple[list[int], list[list[int]], list[int]]:
    """What ``group_records`` gives, from numpy's stable sort: (bounds, packed rows of each record, where)."""
    owner = np.repeat(np.arange(first.shape[0] - 1), np.diff(first))
    order = np.argsort(records[:, E_KIND], kind="stable")
    counts = np.bincount(records[:, E_KIND], minlength=_HELD.shape[0])
    bounds = [0, *np.cumsum(counts).tolist()]
    rows = []
    for r in order.tolist():
        width, columns = _HELD[records[r, E_KIND], 0], _HELD[records[r, E_KIND], 1:]
        rows.append([int(owner[r]), *records[r, columns[:width]].tolist()])
    where = np.empty_like(order)
    where[order] = np.arange(order.shape[0])
    return bounds, rows, where.tolist()


@given(
    st.lists(st.integers(1, len(RECORD_KINDS)), max_size=60),
    st.lists(st.integers(0, 4), min_size=1, max_size=30),
    st.integers(0, 2**31),
)
def test_records_are_grouped_by_kind_in_record_order_with_the_columns_each_kind_reads(
    kinds: list[int], per_command: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    records = rng.integers(-(2**40), 2**40, size=(len(kinds), EVENT_FIELDS))
    records[:, E_KIND] = kinds
    cuts = sorted(rng.integers(0, len(kinds) + 1, size=len(per_command) - 1).tolist())
    first = np.array([0, *cuts, len(kinds)], dtype=np.int64)  # commands with no records among them
    packed = np.full((2 + EVENT_FIELDS, len(kinds)), -7, dtype=np.int64)
    bounds = np.empty(_HELD.shape[0] + 1, dtype=np.int64)

    group_records(records, first, _HELD, packed, bounds)

    want_bounds, want_rows, want_where = _grouped_by_numpy(records, first)
    assert bounds.tolist() == want_bounds
    assert packed[-1].tolist() == want_where
    for at, row in enumerate(want_rows):
        assert packed[: len(row), at].tolist() == row


def _group(records: np.ndarray, first: list[int]) -> None:
    packed = np.empty((2 + EVENT_FIELDS, records.shape[0]), dtype=np.int64)
    group_records(records, np.array(first, dtype=np.int64), _HELD, packed, np.empty(_HELD.shape[0] + 1, np.int64))


@pytest.mark.parametrize("kind", [0, -1, len(RECORD_KINDS) + 1, 2**40])
def test_a_record_of_no_known_kind_is_refused_before_anything_is_read(kind: int) -> None:
    records = np.zeros((3, EVENT_FIELDS), dtype=np.int64)
    records[:, E_KIND] = [EV_TRADE, kind, EV_TRADE]
    with pytest.raises(ValueError, match="no decoder"):
        _group(records, [0, 3])


@pytest.mark.parametrize("first", [[0, 2], [0, 4], [1, 3], [], [0, 1, 2]])
def test_bounds_that_do_not_cover_the_records_are_refused(first: list[int]) -> None:
    records = np.zeros((3, EVENT_FIELDS), dtype=np.int64)
    records[:, E_KIND] = EV_TRADE
    with pytest.raises(ValueError, match="bounds"):
        _group(records, first)


def test_a_batch_holding_a_record_of_no_known_kind_is_decoded_command_by_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kernel's refusal sends ``all_events`` to the one-record path, which reports the record."""

    def unknown(*args: object) -> object:
        raise InjectedDefect("a record of kind 99")

    monkeypatch.setitem(DECODERS, 99, unknown)  # what the one-record path meets (the kernel's table has no 99)
    commands, _ = seeded_flow(6, 200)
    exchange = Exchange(differential_config(), "fast")
    batch = exchange.apply_batch(exchange.command_batch(commands, range(1, len(commands) + 1))).keep()
    sound = [[_encode(e) for e in es] for es in batch.all_events()]
    assert batch.records is not None and len(batch) >= BULK_FROM
    broken = next(i for i in range(len(batch) // 2, len(batch)) if batch.first[i + 1] - batch.first[i] == 1)
    batch.records[int(batch.first[broken]), E_KIND] = 99

    every = batch.all_events()

    assert not isinstance(every, EventLists)  # decoded command by command
    assert len(every[broken]) == 1 and "INTERNAL_ERROR" in every[broken][0].text  # type: ignore[attr-defined]
    assert [[_encode(e) for e in es] for i, es in enumerate(every) if i != broken] == sound[:broken] + sound[
        broken + 1 :
    ]


def test_a_column_table_that_does_not_fit_is_refused() -> None:
    records = np.zeros((2, EVENT_FIELDS), dtype=np.int64)
    records[:, E_KIND] = EV_TRADE
    first, bounds = np.array([0, 2], dtype=np.int64), np.empty(_HELD.shape[0] + 1, np.int64)
    packed = np.empty((2 + EVENT_FIELDS, 2), dtype=np.int64)
    too_wide = _HELD.copy()
    too_wide[EV_TRADE, 0] = EVENT_FIELDS + 1
    beyond = _HELD.copy()
    beyond[EV_TRADE, 1] = EVENT_FIELDS
    for table, problem in ((too_wide, "more columns"), (beyond, "names a column")):
        with pytest.raises(ValueError, match=problem):
            group_records(records, first, table, packed, bounds)
    with pytest.raises(ValueError, match="output"):
        group_records(records, first, _HELD, np.empty((2 + EVENT_FIELDS, 1), dtype=np.int64), bounds)
    with pytest.raises(ValueError, match="bounds do not fit"):
        group_records(records, first, _HELD, packed, bounds[:-1])
