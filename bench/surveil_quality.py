"""The rules' precision and recall over planted-manipulation seeds (``python -m bench.surveil --quality``)."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from surveillance.planted.scoring import RuleScore, plant_and_detect, score

RECALL_TARGET_BP, PRECISION_TARGET_BP = 9_500, 9_000


def _percent(bp: int) -> str:
    return f"{bp // 100}.{bp % 100:02d}%"


def run_quality(seeds: int, first_seed: int = 1) -> int:
    """Plant, ingest and detect ``seeds`` seeds; print the table; 1 when a rule misses a target."""
    root = Path(tempfile.mkdtemp(prefix="bench-surveil-quality-"))
    scores: dict[str, RuleScore] | None = None
    commands = 0
    started = time.perf_counter()
    try:
        for seed in range(first_seed, first_seed + seeds):
            outcome = plant_and_detect(root, seed)
            scores = score(outcome.cases, outcome.alerts, scores)
            commands += outcome.commands
            shutil.rmtree(root / f"planted-{seed}", ignore_errors=True)
            shutil.rmtree(root / f"planted-{seed}-surveillance", ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    seconds = time.perf_counter() - started
    assert scores is not None
    print(
        f"quality: {seeds} seeds ({first_seed}-{first_seed + seeds - 1}), "
        f"{commands:,} journal commands, {seconds:.1f} s"
    )
    print(f"{'rule':<28} {'planted':>7} {'caught':>6} {'recall':>8} {'alerts':>6} {'true':>5} {'precision':>9}")
    missed = False
    for entry in scores.values():
        short = entry.recall_bp < RECALL_TARGET_BP or entry.precision_bp < PRECISION_TARGET_BP
        missed |= short
        print(
            f"{entry.rule:<28} {entry.planted:>7} {entry.caught:>6} {_percent(entry.recall_bp):>8} "
            f"{entry.alerts:>6} {entry.true_alerts:>5} {_percent(entry.precision_bp):>9}"
            + ("  below target" if short else "")
        )
    print(
        f"targets: recall >= {_percent(RECALL_TARGET_BP)}, precision >= {_percent(PRECISION_TARGET_BP)} for every rule"
    )
    return 1 if missed else 0
