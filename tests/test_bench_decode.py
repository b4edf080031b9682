"""``python -m bench.decode`` at a tiny size: both ways are timed, and ``BULK_FROM`` is left as it was."""

from __future__ import annotations

import pytest

from bench.decode import main, measure
from engine import batch

pytestmark = pytest.mark.not_per_book


def test_both_ways_are_timed_and_the_threshold_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    all_events = batch.EventBatch.all_events

    def watching(self: batch.EventBatch) -> object:
        seen.append(batch.BULK_FROM)
        return all_events(self)

    monkeypatch.setattr(batch.EventBatch, "all_events", watching)
    before = batch.BULK_FROM

    at_once, one_by_one = measure(commands=300, size=40, rounds=2, seed=2)

    assert at_once > 0 and one_by_one > 0
    assert set(seen) == {1, 301}  # at once from the first command; command by command always
    assert len(seen) == 2 * 2 * 8  # two ways, two rounds, the flow's eight batches of 40
    assert before == batch.BULK_FROM  # put back after the runs


def test_the_command_prints_a_line_per_batch_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--commands", "200", "--batch", "3", "50", "--rounds", "1"]) == 0

    out = capsys.readouterr().out
    assert f"BULK_FROM = {batch.BULK_FROM}" in out
    assert "batches of      3" in out and "batches of     50" in out
    with pytest.raises(SystemExit) as refused:
        main(["--batch", "0"])
    assert refused.value.code == 2
