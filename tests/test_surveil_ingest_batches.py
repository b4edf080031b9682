"""Surveillance's ingest of a journal of batch records (engine.journal_format), stopped inside one.

The store keeps the journal position of the last record it stored. Inside a batch record that is
the batch's start and the seq reached in it (engine.journal.follow_journal), so an ingest stopped
after a chunk that ends inside a batch goes on with the batch's next command: every record stored
once, the same tables as one ingest of the whole journal.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import bench.surveil
import surveillance.ingest
from bench.surveil import write_journal
from engine.journal import JOURNAL_FILE
from engine.journal_format import is_batch
from surveillance.ingest import ingest
from surveillance.store import Store
from tests.test_surveil_ingest import stopped_then_resumed, tables

BATCH = 37  # commands a write: none of the chunk sizes below divides into it


@pytest.mark.per_book
def test_an_ingest_stopped_inside_a_batch_record_is_completed_exactly_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench.surveil, "_BATCH", BATCH)
    data_dir = tmp_path / "data"
    written = write_journal(data_dir, 600, seed=5)
    with Store.open(tmp_path / "whole") as store:
        whole = ingest(data_dir, store, tmp_path / "whole")
        expected = tables(store)
    assert whole.records == written
    data = (data_dir / JOURNAL_FILE).read_bytes()
    assert is_batch(data[16:])  # the first record, past the file header and its own: a batch

    monkeypatch.setattr(surveillance.ingest, "REPLAY_BATCH", 16)
    monkeypatch.setattr(surveillance.ingest, "CHUNK_RECORDS", 48)
    with Store.open(tmp_path / "store") as store:
        stopped_at, resumed = stopped_then_resumed(data_dir, store, tmp_path / "store", monkeypatch)
        after = tables(store)

    assert 0 < stopped_at < written and stopped_at % BATCH != 0  # inside a batch record
    assert resumed.stored_records == written - stopped_at
    assert after == expected
