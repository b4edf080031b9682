"""docs/RULES_COVERAGE.md names, for each market rule, the tests that prove it: they must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "RULES_COVERAGE.md"
REFERENCE = re.compile(r"`(test_[a-z0-9_]+\.py)::(test_[a-z0-9_]+)`")


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def test_every_rule_names_tests_that_exist() -> None:
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    rule_rows = [r for r in rows if not r.startswith("| rule") and not r.startswith("|---")]
    assert len(rule_rows) >= 35
    missing = []
    for row in rule_rows:
        references = REFERENCE.findall(row)
        assert references, f"a rule without tests: {row}"
        missing += [f"{f}::{t}" for f, t in references if t not in defined_tests(ROOT / "tests" / f)]
    assert missing == []


def test_a_renamed_test_is_noticed(tmp_path: Path) -> None:
    module = tmp_path / "test_x.py"
    module.write_text("def test_kept():\n    assert True\n", encoding="utf-8")
    assert defined_tests(module) == {"test_kept"}
    assert "test_renamed" not in defined_tests(module)


def test_every_interpretation_names_tests_that_exist() -> None:
    text = (ROOT / "docs" / "INTERPRETATIONS.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| question")]
    assert len(rows) >= 20
    missing = [
        f"{f}::{t}" for row in rows for f, t in REFERENCE.findall(row) if t not in defined_tests(ROOT / "tests" / f)
    ]
    assert all(REFERENCE.search(row) for row in rows)
    assert missing == []
