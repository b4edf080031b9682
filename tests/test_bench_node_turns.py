"""``python -m bench.node_turns`` at a tiny size: every order is sequenced, and both figures print."""

from __future__ import annotations

import pytest

from bench.node_turns import main, measure


@pytest.mark.per_book
def test_every_order_sent_is_sequenced_and_timed() -> None:
    figures = measure(orders=60, batch=7, turn=8, seed=3)  # 9 requests of 7 orders: the last one short

    assert figures["ns_per_order"] > 0
    assert figures["ns_per_request"] > figures["ns_per_order"]


@pytest.mark.per_book
def test_the_command_prints_a_line_per_request_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--orders", "40", "--batch", "1", "5", "--repeat", "1"]) == 0

    out = capsys.readouterr().out
    assert "4 traders x 40 orders" in out
    assert "single orders" in out and "batches of 5" in out
