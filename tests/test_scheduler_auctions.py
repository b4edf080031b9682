"""The node's scheduler opens and closes auctions at their announced times (docs/AUCTIONS.md "Lifecycle").

Pure functions of the auctions' times and a clock reading: no node, no clock.
"""

from __future__ import annotations

from carbonx.config import SchedulerOptions
from carbonx.scheduler import due_auction_commands, next_auction_wakeup
from engine.messages import AuctionStatus, CloseAuction, OpenAuction

CALENDAR = SchedulerOptions()
MANUAL = SchedulerOptions(mode="manual")
OPENS, CLOSES = 1_000, 2_000
ANNOUNCED = AuctionStatus.ANNOUNCED
OPEN = AuctionStatus.OPEN


def test_nothing_is_due_before_the_window_opens() -> None:
    assert due_auction_commands([(1, ANNOUNCED, OPENS, CLOSES)], OPENS - 1, CALENDAR) == []


def test_an_announced_auction_opens_when_its_window_opens() -> None:
    assert due_auction_commands([(1, ANNOUNCED, OPENS, CLOSES)], OPENS, CALENDAR) == [OpenAuction(auction_id=1)]


def test_an_open_auction_closes_when_its_window_closes() -> None:
    assert due_auction_commands([(1, OPEN, OPENS, CLOSES)], CLOSES - 1, CALENDAR) == []
    assert due_auction_commands([(1, OPEN, OPENS, CLOSES)], CLOSES, CALENDAR) == [CloseAuction(auction_id=1)]


def test_a_window_passed_while_the_node_was_down_opens_and_closes_in_order() -> None:
    due = due_auction_commands([(1, ANNOUNCED, OPENS, CLOSES), (2, OPEN, OPENS, CLOSES)], CLOSES + 5, CALENDAR)
    assert due == [OpenAuction(auction_id=1), CloseAuction(auction_id=1), CloseAuction(auction_id=2)]


def test_manual_mode_leaves_every_auction_to_the_regulator() -> None:
    assert due_auction_commands([(1, ANNOUNCED, OPENS, CLOSES)], CLOSES, MANUAL) == []
    assert next_auction_wakeup([(1, ANNOUNCED, OPENS, CLOSES)], 0, MANUAL) is None


def test_the_next_wakeup_is_the_nearest_opening_or_closing_still_ahead() -> None:
    auctions = [(1, ANNOUNCED, OPENS, CLOSES), (2, OPEN, 0, 1_500)]
    assert next_auction_wakeup(auctions, 0, CALENDAR) == OPENS
    assert next_auction_wakeup(auctions, OPENS, CALENDAR) == 1_500
    assert next_auction_wakeup(auctions, 1_500, CALENDAR) == CLOSES
    assert next_auction_wakeup(auctions, CLOSES, CALENDAR) is None
