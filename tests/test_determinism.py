"""The engine's state transitions read no clock, draw no random numbers, do no I/O and log nothing.

Checked on the source: the modules that hold state transitions may not import the modules that
would let them. (engine/journal.py, engine/recovery.py and engine/config_record.py do I/O by
design: they sit around the state machine, not inside it.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every module of engine/ and settlement/ except the three that sit around the state machine.
AROUND_THE_STATE_MACHINE = {"engine/journal.py", "engine/recovery.py", "engine/config_record.py"}
STATE_TRANSITION_MODULES = sorted(
    str(path.relative_to(ROOT))
    for package in ("engine", "settlement")
    for path in (ROOT / package).rglob("*.py")
    if str(path.relative_to(ROOT)) not in AROUND_THE_STATE_MACHINE
)
FORBIDDEN = {"time", "random", "secrets", "os", "io", "socket", "logging", "structlog", "uuid", "threading", "zmq"}
FORBIDDEN_CALLS = {"print", "open", "input"}
# File and process I/O reached without importing ``os`` or ``io``: a ``Path`` handed in, a method call.
FORBIDDEN_IMPORTS_OF_FILES = {"pathlib", "shutil", "tempfile", "subprocess", "glob", "mmap", "sqlite3", "duckdb"}
FORBIDDEN_METHODS = {
    "read_bytes",
    "read_text",
    "write_bytes",
    "write_text",
    "open",
    "mkdir",
    "rmdir",
    "touch",
    "iterdir",
}
FORBIDDEN_METHODS |= {"glob", "rglob", "exists", "is_file", "is_dir", "stat", "readline", "readlines", "fsync", "flush"}
# engine/listing/fast modules that touch files outside any transition: the kernel cache's stamp
# (jit.py), the check for a warm cache at start (warm.py) and the generator of event_columns.py,
# run by hand (event_records.py).
AROUND_THE_KERNELS = {
    "engine/listing/fast/jit.py",
    "engine/listing/fast/warm.py",
    "engine/listing/fast/event_records.py",
}


def imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def called_names(tree: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


@pytest.mark.parametrize("module", STATE_TRANSITION_MODULES)
def test_no_clock_randomness_io_or_logging_in_state_transitions(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    assert imported_roots(tree) & FORBIDDEN == set()
    assert called_names(tree) & FORBIDDEN_CALLS == set()
    # datetime is allowed for calendar arithmetic only: no reading of the current time.
    source = (ROOT / module).read_text(encoding="utf-8")
    for clock_read in (r"\bnow\(", r"\btoday\(", r"\butcnow\(", r"time\.time", "perf_counter", "monotonic"):
        assert re.search(clock_read, source) is None, clock_read  # \b: ``fees_today(`` is no clock


def called_methods(tree: ast.AST) -> set[str]:
    return {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}


@pytest.mark.parametrize("module", [m for m in STATE_TRANSITION_MODULES if m not in AROUND_THE_KERNELS])
def test_no_file_io_by_a_path_or_a_method_in_state_transitions(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    assert imported_roots(tree) & FORBIDDEN_IMPORTS_OF_FILES == set()
    assert called_methods(tree) & FORBIDDEN_METHODS == set()


def test_the_checker_notices_file_io_through_a_path() -> None:
    tree = ast.parse("from pathlib import Path\ndef load(p: Path) -> bytes:\n    return p.read_bytes()\n")
    assert imported_roots(tree) & FORBIDDEN_IMPORTS_OF_FILES == {"pathlib"}
    assert called_methods(tree) & FORBIDDEN_METHODS == {"read_bytes"}


def test_the_checker_notices_a_clock_read() -> None:
    tree = ast.parse("import time\nfrom random import random\nprint(time.time())\n")
    assert imported_roots(tree) & FORBIDDEN == {"time", "random"}
    assert called_names(tree) & FORBIDDEN_CALLS == {"print"}


def test_engine_never_imports_upper_layers() -> None:
    for path in [*(ROOT / "engine").rglob("*.py"), *(ROOT / "settlement").rglob("*.py")]:
        roots = imported_roots(ast.parse(path.read_text(encoding="utf-8")))
        assert roots & {"carbonx", "gateway", "market_data", "surveillance", "bench"} == set(), path


def test_settlement_does_not_import_the_engine() -> None:
    for path in (ROOT / "settlement").glob("*.py"):
        assert "engine" not in imported_roots(ast.parse(path.read_text(encoding="utf-8"))), path


def test_gateway_and_market_data_never_import_the_layers_above() -> None:
    # docs/ARCHITECTURE.md "Packages and what each may import": gateway and market_data may import engine,
    # msgspec, pyzmq and structlog, never carbonx, surveillance or bench.
    for package in ("gateway", "market_data"):
        for path in (ROOT / package).rglob("*.py"):
            roots = imported_roots(ast.parse(path.read_text(encoding="utf-8")))
            assert roots & {"carbonx", "surveillance", "bench"} == set(), path


def imported_modules(tree: ast.AST) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_surveillance_reads_only_the_engine_and_the_drop_copy_client() -> None:
    # docs/ARCHITECTURE.md: surveillance may import engine (replay and the read view), the drop-copy
    # client of gateway, duckdb and matplotlib; it never reaches inside the gateway, market data or the node.
    for path in (ROOT / "surveillance").rglob("*.py"):
        modules = imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        roots = {module.split(".")[0] for module in modules}
        assert roots & {"carbonx", "market_data", "bench", "zmq"} == set(), path
        assert {m for m in modules if m.split(".")[0] == "gateway"} <= {"gateway.drop_copy"}, path


def test_the_website_reads_only_market_data_and_the_engines_messages() -> None:
    # docs/ARCHITECTURE.md: web may import market_data, engine.messages, aiohttp, msgspec and structlog;
    # it never reaches the engine's state, the gateway (orders), surveillance or the node.
    for path in (ROOT / "web").rglob("*.py"):
        modules = imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        roots = {module.split(".")[0] for module in modules}
        assert roots & {"carbonx", "gateway", "surveillance", "bench"} == set(), path
        engine_modules = {m for m in modules if m.split(".")[0] == "engine"}
        assert engine_modules <= {"engine.messages"}, path


def test_nothing_below_the_command_line_imports_the_website() -> None:
    for package in ("engine", "settlement", "gateway", "market_data", "surveillance"):
        for path in (ROOT / package).rglob("*.py"):
            assert "web" not in imported_roots(ast.parse(path.read_text(encoding="utf-8"))), path
