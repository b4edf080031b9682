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
import pytest

from engine.batch import BULK_FROM, EventLists
from engine.exchange import Exchange
from engine.listing.fast.bulk import BULK, bulk_source
from engine.listing.fast.event_records import RECORD_KINDS
from engine.messages import DepositCash, OrderAccepted, OrderRejected, RequestRejected, TradeExecuted
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
