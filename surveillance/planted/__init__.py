"""The planted-manipulation generator: seeded trading days of honest flow, with manipulations planted and labelled.

Issue 17's measure of surveillance quality. ``planted_config(seed)`` is the market (60 members, 200+
trading accounts, two instruments); ``run_planted`` journals three trading days of honest flow on it
with one or more instances of every rule's pattern injected, and returns their ground-truth labels
(``PlantedCase``), which ``write_labels`` keeps as JSON beside the journal. The rules must catch every
case and stay quiet on the honest flow; surveillance itself never reads this package.
"""

from surveillance.planted.config import planted_cast, planted_config
from surveillance.planted.desk import PlantedError
from surveillance.planted.labels import LABELS_FILE, RULE_IDS, PlantedCase, read_labels, write_labels
from surveillance.planted.run import ORDERS_PER_DAY, PlantedRun, run_planted

__all__ = [
    "LABELS_FILE",
    "ORDERS_PER_DAY",
    "RULE_IDS",
    "PlantedCase",
    "PlantedError",
    "PlantedRun",
    "planted_cast",
    "planted_config",
    "read_labels",
    "run_planted",
    "write_labels",
]
