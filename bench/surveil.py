"""``python -m bench.surveil``: surveillance ingest speed, and the rules' precision and recall.

Ingest: the standard flow (bench/flow.py) journaled into a data directory, then ``surveil ingest``
into a new store, timed from the first journal read to the last row committed (the replay through
the engine, the rows, the DuckDB inserts and the saved state), and an incremental ingest of the last
``--tail`` commands appended afterwards. Target (issue 17): at least 50,000 journal commands/s,
counting the events they cause.

Quality (``--quality``): for each of ``--seeds`` seeds, a planted-manipulation run
(``surveillance.planted``: honest flow on 200+ accounts with every pattern injected and labelled),
ingested and run through the rules; per rule, recall = planted cases caught (an alert of the rule
names one of the case's accounts and holds its key evidence) and precision = alerts naming a
planted account. Targets: recall >= 95%, precision >= 90% for every rule.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.__main__ import machine
from bench.flow import standard_flow
from engine.exchange import Exchange
from engine.journal import Journal
from engine.recovery import record_config
from surveillance.ingest import ingest
from surveillance.store import Store

_BATCH = 4_096


def write_journal(data_dir: Path, commands: int, seed: int, tail: int = 0) -> int:
    """Journal the standard flow's setup and ``commands`` measured commands; the records written.

    The last ``tail`` commands start a write of their own, so the journal can be cut before them
    (a batch record is read whole or not at all)."""
    flow = standard_flow(commands, seed)
    record_config(data_dir, flow.config)
    everything = [*flow.setup, *flow.commands]
    cut = max(0, len(everything) - tail)
    starts = sorted({*range(0, len(everything), _BATCH), cut} - {len(everything)})
    with Journal.open(data_dir, fsync=False) as journal:
        for start, stop in zip(starts, [*starts[1:], len(everything)], strict=True):
            chunk = everything[start:stop]
            journal.append_commands(start + 1, chunk, [("", 0)] * len(chunk))  # type: ignore[arg-type]
    return len(everything)


def time_ingest(data_dir: Path, store_dir: Path) -> tuple[int, int, float]:
    """One ingest into ``store_dir``: records, events, seconds."""
    with Store.open(store_dir) as store:
        started = time.perf_counter()
        result = ingest(data_dir, store, store_dir)
        seconds = time.perf_counter() - started
    return result.records, result.events, seconds


def run_ingest(commands: int, tail: int, seed: int) -> None:
    Exchange(standard_flow(0, seed).config)  # load the fast book's kernels before timing (once per process)
    root = Path(tempfile.mkdtemp(prefix="bench-surveil-"))
    try:
        data_dir, store_dir = root / "data", root / "store"
        full = root / "full"
        written = write_journal(full, commands, seed, tail)
        print(f"journal: {written:,} records (standard flow, seed {seed})")
        # The first ingest reads the journal without its last ``tail`` commands; the second the rest.
        shutil.copytree(full, data_dir)
        _truncate_to(data_dir, written - tail)
        records, events, seconds = time_ingest(data_dir, store_dir)
        print(
            f"ingest         {records:>10,} commands {events:>10,} events {seconds:8.2f} s "
            f"{records / seconds:>10,.0f} commands/s {events / seconds:>10,.0f} events/s"
        )
        shutil.copy(full / "journal.cxj", data_dir / "journal.cxj")
        records, events, seconds = time_ingest(data_dir, store_dir)
        print(
            f"incremental    {records:>10,} commands {events:>10,} events {seconds:8.2f} s "
            f"{records / seconds:>10,.0f} commands/s"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _truncate_to(data_dir: Path, records: int) -> None:
    from engine.journal import follow_journal

    end = 0
    for record, offset in follow_journal(data_dir):
        if record.seq > records:
            break
        end = offset
    with (data_dir / "journal.cxj").open("r+b") as f:
        f.truncate(end)
    last = max((record.seq for record, _ in follow_journal(data_dir)), default=0)
    if last != records:  # seq ``records`` is inside a batch record: ``write_journal`` splits the write there
        raise ValueError(f"the journal cut after seq {records} ends at seq {last}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.surveil", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--commands", type=int, default=500_000, help="standard-flow commands (default 500,000)")
    parser.add_argument("--tail", type=int, default=10_000, help="commands left for the incremental ingest")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quality", action="store_true", help="also precision and recall over planted seeds")
    parser.add_argument("--seeds", type=int, default=20, help="planted seeds for --quality (default 20)")
    parser.add_argument("--first-seed", type=int, default=1, help="the first planted seed (default 1)")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest timing")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    if not args.no_ingest:
        run_ingest(args.commands, args.tail, args.seed)
    if args.quality:
        from bench.surveil_quality import run_quality

        return run_quality(args.seeds, args.first_seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
