"""``surveil watch``: follow the drop copy live and report each alert as it fires.

The drop copy says, event by event, what the exchange just did and the journal seq that caused it.
The store is still written only from the journal (the complete and authoritative record, which the
node appends before it applies a command, so before any drop copy of it leaves): each time the drop
copy shows seqs the store has not reached, watch ingests up to them and runs the rules over the day
they touched, then reports the alerts that are new. A drop-copy message lost to a slow link loses
nothing: the journal holds it, and the next message brings the store past it.

Rules run at most every ``interval_ms``, so a burst of thousands of events costs one ingest and one
run of the rules, not thousands. The store is open only while watch ingests, so the analyst's other
commands (``alerts``, ``assign`` ...) get in between: DuckDB lets one process open a file at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from gateway.drop_copy import DropCopyClient
from surveillance.alerts import Alert
from surveillance.detect import raise_alerts
from surveillance.ingest import Ingestor
from surveillance.settings import SurveillanceSettings
from surveillance.store import Store


class WatchSummary(msgspec.Struct, kw_only=True):
    drop_copies: int = 0  # drop-copy events received
    missed: int = 0  # drop-copy events lost on the way (the journal had them)
    ingests: int = 0  # catch-ups run
    records: int = 0  # journal records stored
    alerts: int = 0  # new alerts reported
    last_seq: int = 0


def watch(
    data_dir: Path,
    store_dir: Path,
    settings: SurveillanceSettings,
    drop_copy: DropCopyClient,
    on_alert: Callable[[int, Alert], None],
    *,
    stop: Callable[[WatchSummary], bool],
    interval_ms: int = 500,
    clock: Callable[[], float] = time.monotonic,
) -> WatchSummary:
    """Run until ``stop(summary)`` says so (checked after each wait); the alerts go to ``on_alert``."""
    summary = WatchSummary()
    with Store.open(store_dir) as store:
        ingestor = Ingestor(data_dir, store, store_dir)
        _catch_up(ingestor, store, settings, on_alert, summary)  # what happened before watch started
    wanted, last_run = 0, clock()
    try:
        while not stop(summary):
            copies = drop_copy.receive(timeout_ms=interval_ms)
            summary.drop_copies += len(copies)
            summary.missed = drop_copy.missed
            if copies:
                wanted = max(wanted, max(copy.journal_seq for copy in copies))
            if wanted > ingestor.stored_seq and clock() - last_run >= interval_ms / 1_000:
                with Store.open(store_dir) as store:
                    ingestor.store = store
                    _catch_up(ingestor, store, settings, on_alert, summary)
                last_run = clock()
    finally:
        ingestor.save()
    return summary


def _catch_up(
    ingestor: Ingestor,
    store: Store,
    settings: SurveillanceSettings,
    on_alert: Callable[[int, Alert], None],
    summary: WatchSummary,
) -> None:
    result = ingestor.catch_up()
    summary.ingests += 1
    summary.records += result.stored_records
    summary.last_seq = result.last_seq
    for alert_id, alert in raise_alerts(store, result.days, settings):
        summary.alerts += 1
        on_alert(alert_id, alert)
