"""What the public website reads beyond the live feed (``web.server.Records``): past bulletins from
the end-of-day database, read-only, and cleared auctions' results files.

The database is opened for each request and closed after it: the node keeps writing it (an end of
day adds a day), nothing is held between requests, and a database not there yet (a node that has
not ended a day) is simply no days.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import structlog

from carbonx.auction_results import feed_results_document, to_json
from carbonx.statements_db import DB_FILE, StatementStore, StatementStoreError
from market_data.messages import AuctionBid, AuctionNotice, AuctionResults

_log = structlog.get_logger("carbonx.web")
_SKIP = frozenset({"version", "ts_event"})


class WebRecords:
    def __init__(self, data_dir: Path) -> None:
        self.database = data_dir / DB_FILE

    def _open(self) -> StatementStore | None:
        if not self.database.is_file():
            return None
        try:
            return StatementStore.open_read_only(self.database)
        except StatementStoreError as exc:
            _log.warning("web.database_unreadable", error=str(exc))
            return None

    def trading_days(self) -> list[int]:
        store = self._open()
        if store is None:
            return []
        with store:
            return sorted(store.trading_days(), reverse=True)

    def bulletins(self, trading_day: int) -> list[dict[str, Any]]:
        store = self._open()
        if store is None:
            return []
        with store:
            return [
                {k: v for k, v in msgspec.structs.asdict(b).items() if k not in _SKIP}
                for b in store.bulletins(trading_day)
            ]

    def results_file(self, notice: AuctionNotice, results: AuctionResults, bids: list[AuctionBid]) -> str:
        return to_json(feed_results_document(notice, results, bids))
